//! S3-compatible storage: every bucket must exist and have versioning enabled
//! (the platform's backups and restores rely on object versions).

use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::BucketVersioningStatus;
use nfops_core::config::Storage;
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};

use super::backend::display_url;

/// Summary: "2 buckets, versioning on".
///
/// Errors: `service.unreachable` when the endpoint does not answer;
/// `service.unhealthy` when the access key is refused (hint names the two
/// credentials), a bucket is missing, or versioning is off or suspended on a
/// bucket ("versioning is off on bucket X").
pub(super) async fn probe(
    s: &Storage,
    creds: &dyn CredentialSource,
    timeout: Duration,
) -> Result<String> {
    let client = s3_client(s, creds, timeout)?;
    let buckets = s.buckets.get_ref();
    let answers = futures::future::join_all(buckets.iter().map(|b| {
        let client = &client;
        async move {
            (
                b.as_str(),
                client.get_bucket_versioning().bucket(b).send().await,
            )
        }
    }))
    .await;
    let mut off = Vec::new();
    let mut suspended = Vec::new();
    for (bucket, answer) in answers {
        let status = match answer {
            Ok(out) => out.status().cloned(),
            Err(e) => match lenient_status(&e) {
                Some(status) => status,
                None => return Err(sdk_error(s, bucket, e)),
            },
        };
        match status {
            Some(BucketVersioningStatus::Enabled) => {}
            Some(BucketVersioningStatus::Suspended) => suspended.push(bucket),
            _ => off.push(bucket),
        }
    }
    if !off.is_empty() || !suspended.is_empty() {
        let mut what = Vec::new();
        if !off.is_empty() {
            what.push(format!("versioning is off on {}", bucket_list(&off)));
        }
        if !suspended.is_empty() {
            what.push(format!(
                "versioning is suspended on {}",
                bucket_list(&suspended)
            ));
        }
        return Err(Error::new(ErrorCode::Unhealthy, what.join("; "))
            .hint("The platform requires versioned buckets (backups and restores use object versions): enable versioning on each bucket."));
    }
    let n = buckets.len();
    Ok(format!(
        "{n} bucket{}, versioning on",
        if n == 1 { "" } else { "s" }
    ))
}

/// The versioning status of a 200 answer the SDK could not decode.
///
/// Some S3-compatible servers (moto, which the local stack runs) wrap the
/// answer in `<GetBucketVersioningResponse>` instead of S3's
/// `<VersioningConfiguration>`; the SDK rejects the root element although the
/// content is the same. `None` when `e` is anything else.
pub fn lenient_status<E>(
    e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<Option<BucketVersioningStatus>> {
    let SdkError::ServiceError(se) = e else {
        return None;
    };
    let raw = se.raw();
    if raw.status().as_u16() != 200 {
        return None;
    }
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    status_from_xml(body)
}

/// `<Status>` of a versioning document with either root element; `Some(None)`
/// when the document has no status (versioning never enabled).
pub(crate) fn status_from_xml(body: &str) -> Option<Option<BucketVersioningStatus>> {
    if !(body.contains("<VersioningConfiguration") || body.contains("<GetBucketVersioningResponse"))
    {
        return None;
    }
    let status = body
        .split_once("<Status>")
        .and_then(|(_, rest)| rest.split_once("</Status>"))
        .map(|(s, _)| BucketVersioningStatus::from(s.trim()));
    Some(status)
}

fn bucket_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    format!(
        "bucket{} {}",
        if names.len() == 1 { "" } else { "s" },
        quoted.join(", ")
    )
}

/// An S3 client for `s` built by hand (no environment, profile or IMDS
/// lookups): static keys from the two credentials, rustls on ring, checksums
/// only when required (S3-compatible servers refuse the newer defaults), no
/// retries (a probe reports what it sees, promptly).
pub(crate) fn s3_client(
    s: &Storage,
    creds: &dyn CredentialSource,
    timeout: Duration,
) -> Result<aws_sdk_s3::Client> {
    let access = creds.get(&s.access_key_credential)?;
    let secret = creds.get(&s.secret_key_credential)?;
    let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(timeout)
        .operation_timeout(timeout)
        .build();
    Ok(crate::s3::client(
        crate::s3::Endpoint {
            url: &s.endpoint,
            region: &s.region,
            path_style: s.path_style,
        },
        &access,
        &secret,
        aws_sdk_s3::config::retry::RetryConfig::disabled(),
        timeouts,
    ))
}

/// A user-facing error for a failed S3 call on `bucket`: unreachable endpoint,
/// refused key (the hint names both credentials), missing bucket, or the
/// server's error code, bounded. The raw SDK error stays as the source (logs).
pub fn sdk_error<E>(
    s: &Storage,
    bucket: &str,
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let endpoint = display_url(&s.endpoint);
    let creds_hint = format!(
        "Check the access key pair stored as credentials '{}' and '{}' (`nfops credentials set …`), and that the key may read bucket settings.",
        s.access_key_credential, s.secret_key_credential
    );
    match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            let reason = if matches!(e, SdkError::TimeoutError(_)) { "timed out" } else { "cannot connect" };
            Error::new(ErrorCode::Unreachable, format!("S3 endpoint {endpoint} is unreachable: {reason}"))
                .hint("Check storage.endpoint in environments.toml and that the server runs.")
                .source(e)
        }
        SdkError::ServiceError(_) => {
            let code = e.code().unwrap_or("").to_owned();
            match code.as_str() {
                "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" | "InvalidToken" | "AuthorizationHeaderMalformed"
                | "ExpiredToken" => Error::new(
                    ErrorCode::Unhealthy,
                    format!("S3 at {endpoint} refused the access key for bucket {bucket} ({code})"),
                )
                .hint(creds_hint)
                .source(e),
                "NoSuchBucket" => Error::new(ErrorCode::Unhealthy, format!("bucket {bucket} does not exist at {endpoint}"))
                    .hint("Check storage.buckets in environments.toml, or create the bucket with versioning enabled.")
                    .source(e),
                "" => Error::new(ErrorCode::Unhealthy, format!("S3 at {endpoint} refused the request for bucket {bucket}"))
                    .hint(creds_hint)
                    .source(e),
                other => Error::new(
                    ErrorCode::Unhealthy,
                    format!("S3 at {endpoint} answered {} for bucket {bucket}", super::bounded(other, 60)),
                )
                .hint("Check the storage settings in environments.toml; the log has the full answer.")
                .source(e),
            }
        }
        _ => Error::new(ErrorCode::Unhealthy, format!("S3 at {endpoint} gave an unusable answer for bucket {bucket}"))
            .hint("Check that storage.endpoint is an S3-compatible API and path_style matches the server.")
            .source(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioning_documents_are_read_whatever_their_root() {
        let moto = r#"<?xml version="1.0" encoding="utf-8"?>
<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></GetBucketVersioningResponse>"#;
        assert_eq!(
            status_from_xml(moto),
            Some(Some(BucketVersioningStatus::Enabled))
        );
        let s3 = r#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Suspended</Status></VersioningConfiguration>"#;
        assert_eq!(
            status_from_xml(s3),
            Some(Some(BucketVersioningStatus::Suspended))
        );
        let never = r#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#;
        assert_eq!(
            status_from_xml(never),
            Some(None),
            "no Status means versioning was never enabled"
        );
        assert_eq!(
            status_from_xml("<Error><Code>AccessDenied</Code></Error>"),
            None,
            "errors are not versioning documents"
        );
    }

    #[test]
    fn bucket_lists_read_naturally() {
        assert_eq!(bucket_list(&["a-b"]), "bucket a-b");
        assert_eq!(bucket_list(&["a-b", "c-d"]), "buckets a-b, c-d");
    }
}

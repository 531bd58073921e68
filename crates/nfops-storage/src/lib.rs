//! The platform's S3-compatible storage as the console sees it for backups
//! and restores: versioned buckets whose state at a moment can be recorded
//! ([`BucketSnapshot`]) and later brought back.
//!
//! A snapshot records, for every key of a bucket (or of a prefix in it), the
//! version that was current when it was captured: version id, ETag and size.
//! Keys that did not exist (or were deleted) then are absent. Because the
//! bucket is versioned, those versions stay readable after later writes, so a
//! restore can copy them back on top; the snapshot itself holds no data.
//!
//! Depends on `nfops-core` and `nfops-fleet` (the one S3 client); must never
//! depend on the database crates, `nfops-ops` or `tauri`.

pub mod restore;
mod snapshot;

pub use snapshot::{capture, BucketSnapshot, ObjectVersion, SnapshotHeader, FORMAT};

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::types::BucketVersioningStatus;
use nfops_core::config::Storage;
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};

/// An environment's storage: the S3 client and the settings it was built
/// from (kept to name the endpoint and the credentials in errors).
pub struct StorageClient {
    client: aws_sdk_s3::Client,
    settings: Storage,
}

impl StorageClient {
    /// A client for `settings` with its keys from `creds`: up to 4 attempts
    /// with backoff per call, 10 s to connect, 120 s per call.
    ///
    /// Errors: `credential.missing` (or a keyring error) for either key.
    pub fn connect(settings: &Storage, creds: &dyn CredentialSource) -> Result<Self> {
        let access = creds.get(&settings.access_key_credential)?;
        let secret = creds.get(&settings.secret_key_credential)?;
        let client = nfops_fleet::s3::client(
            nfops_fleet::s3::Endpoint {
                url: &settings.endpoint,
                region: &settings.region,
                path_style: settings.path_style,
            },
            &access,
            &secret,
            RetryConfig::standard().with_max_attempts(4),
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        );
        Ok(Self {
            client,
            settings: settings.clone(),
        })
    }

    /// The SDK client, for operations this crate does not wrap.
    pub fn sdk(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// The buckets the environment's config names.
    pub fn buckets(&self) -> &[String] {
        self.settings.buckets.get_ref()
    }

    /// Whether versioning is enabled on `bucket`.
    ///
    /// Errors: `service.unhealthy` when it is off or suspended (a snapshot of
    /// such a bucket could not bring anything back), or the S3 call's error.
    pub async fn require_versioning(&self, bucket: &str) -> Result<()> {
        let status = match self
            .client
            .get_bucket_versioning()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(out) => out.status().cloned(),
            Err(e) => match nfops_fleet::probe::storage::lenient_status(&e) {
                Some(status) => status,
                None => return Err(self.error(bucket, e)),
            },
        };
        match status {
            Some(BucketVersioningStatus::Enabled) => Ok(()),
            other => {
                let state = if matches!(other, Some(BucketVersioningStatus::Suspended)) {
                    "suspended"
                } else {
                    "off"
                };
                Err(Error::new(
                    ErrorCode::Unhealthy,
                    format!("versioning is {state} on bucket {bucket}: its objects cannot be brought back to an earlier moment"),
                )
                .hint("Enable versioning on the bucket (the platform requires it), then take a new backup."))
            }
        }
    }

    /// The user-facing error for a failed call on `bucket`.
    pub(crate) fn error<E>(
        &self,
        bucket: &str,
        e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> Error
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        nfops_fleet::probe::storage::sdk_error(&self.settings, bucket, e)
    }
}

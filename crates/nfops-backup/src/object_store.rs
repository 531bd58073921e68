//! An S3-compatible bucket holding backup copies under
//! `<prefix>/<env>/<backup-id>/<file>`: uploads with retries and backoff,
//! multipart for big files, and a check of every object after upload (size,
//! and the ETag against the MD5 computed while reading the local file).
//! Memory stays bounded: one part in memory at a time.

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use md5::{Digest as _, Md5};
use nfops_core::config::ObjectDestination;
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use sha2::Sha256;
use tokio::io::AsyncReadExt;

/// Files larger than this go up in parts.
pub const MULTIPART_THRESHOLD: u64 = 16 << 20;
/// Size of each part (S3's minimum is 5 MiB).
pub const PART_SIZE: usize = 8 << 20;

/// A bucket (and key prefix) of backup copies.
#[derive(Clone, Debug)]
pub struct ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    endpoint: String,
    /// Longest wait for the next byte of an object being downloaded.
    read_idle: Duration,
}

/// Default bound on a download that stops sending: generous for a slow
/// link, far from "forever".
pub const READ_IDLE: Duration = Duration::from_secs(60);

impl ObjectStore {
    /// A client for `d` with keys from `creds`: standard retries (5 attempts,
    /// exponential backoff with jitter), timeouts, checksums only when
    /// required (S3-compatible servers refuse the newer defaults; we check
    /// MD5/ETag and SHA-256 ourselves).
    ///
    /// Errors: the credential source's (`credential.missing`, keyring).
    pub fn connect(d: &ObjectDestination, creds: &dyn CredentialSource) -> Result<Self> {
        let access = creds.get(&d.access_key_credential)?;
        let secret = creds.get(&d.secret_key_credential)?;
        // The attempt timeout ends when the answer's headers arrive; the first
        // byte must come within READ_IDLE too. A body that then stalls is
        // bounded by `next_chunk`.
        let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(READ_IDLE)
            .operation_attempt_timeout(Duration::from_secs(120))
            .build();
        let retry = aws_sdk_s3::config::retry::RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(10));
        let client = nfops_fleet::s3::client(
            nfops_fleet::s3::Endpoint {
                url: d.endpoint.get_ref(),
                region: &d.region,
                path_style: d.path_style,
            },
            &access,
            &secret,
            retry,
            timeouts,
        );
        Ok(Self {
            client,
            bucket: d.bucket.get_ref().clone(),
            prefix: d.prefix.trim_matches('/').to_owned(),
            endpoint: d.endpoint.get_ref().clone(),
            read_idle: READ_IDLE,
        })
    }

    /// The same store with another bound on a stalled download (tests use a
    /// short one; the default is [`READ_IDLE`]).
    #[must_use]
    pub fn with_read_idle(mut self, idle: Duration) -> Self {
        self.read_idle = idle;
        self
    }

    /// The next piece of a downloaded object's body, or `None` at its end.
    ///
    /// Errors: `service.unreachable` when the body breaks off, or when no
    /// byte arrives for `read_idle` (a server or proxy that sent the headers
    /// and then went silent would otherwise hold the job forever: the SDK's
    /// timeouts end once the headers are in).
    async fn next_chunk(
        &self,
        body: &mut ByteStream,
        key: &str,
    ) -> Result<Option<impl AsRef<[u8]>>> {
        match tokio::time::timeout(self.read_idle, body.try_next()).await {
            Ok(r) => r.map_err(|e| {
                Error::new(
                    ErrorCode::Unreachable,
                    format!("reading {key} from {} broke off", self.describe()),
                )
                .hint("Check the S3 server and try again.")
                .source(e)
            }),
            Err(_) => Err(Error::new(
                ErrorCode::Unreachable,
                format!(
                    "reading {key} from {} stalled: no data for {} s",
                    self.describe(),
                    self.read_idle.as_secs()
                ),
            )
            .hint("The S3 server (or a proxy before it) stopped sending mid-object; check it and try again. Nothing was marked as read.")),
        }
    }

    /// `s3://bucket/prefix` for messages.
    pub fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The key of file `rel` (a `/`-separated path) of backup `id` of `env`.
    pub fn key(&self, env: &str, id: &str, rel: &str) -> String {
        if self.prefix.is_empty() {
            format!("{env}/{id}/{rel}")
        } else {
            format!("{}/{env}/{id}/{rel}", self.prefix)
        }
    }

    /// Uploads `path` to `key` (multipart above [`MULTIPART_THRESHOLD`]) and
    /// checks the stored object: its size equals the file's and its ETag the
    /// MD5 (or multipart MD5-of-MD5s) computed from the bytes sent. Reports
    /// bytes sent through `sent`. Returns the size.
    ///
    /// Errors: `io.error` reading the file; `service.unreachable` /
    /// `service.unhealthy` from S3 after retries; `job.check_failed` when the
    /// stored object's size or ETag differs (the object is then deleted).
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        sent: &(dyn Fn(u64) + Sync),
    ) -> Result<u64> {
        let io = |e| Error::io(format!("reading {}", path.display()), e);
        let len = tokio::fs::metadata(path).await.map_err(io)?.len();
        let expected_etag = if len <= MULTIPART_THRESHOLD {
            let body = tokio::fs::read(path).await.map_err(io)?;
            let md5 = hex::encode(Md5::digest(&body));
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| self.sdk_error("uploading", key, e))?;
            sent(len);
            md5
        } else {
            self.put_multipart(key, path, sent).await?
        };
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.sdk_error("checking", key, e))?;
        let size = head.content_length().and_then(|n| u64::try_from(n).ok());
        let etag = head.e_tag().unwrap_or("").trim_matches('"').to_owned();
        if size != Some(len) || etag != expected_etag {
            let _ = self.delete(key).await;
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "{key} at {} differs after upload: {} bytes, ETag {etag} (sent {len} bytes, MD5 {expected_etag})",
                    self.describe(),
                    size.map_or("unknown".into(), |s| s.to_string()),
                ),
            )
            .hint("The copy was removed; run the copy again, and check the S3 server if it repeats."));
        }
        Ok(len)
    }

    async fn put_multipart(
        &self,
        key: &str,
        path: &Path,
        sent: &(dyn Fn(u64) + Sync),
    ) -> Result<String> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.sdk_error("starting the upload of", key, e))?;
        let upload_id = upload
            .upload_id()
            .ok_or_else(|| Error::internal("S3 started a multipart upload without an id"))?
            .to_owned();
        let result = self.send_parts(key, path, &upload_id, sent).await;
        if result.is_err() {
            // Leave no half-stored object (or billed parts) behind.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn send_parts(
        &self,
        key: &str,
        path: &Path,
        upload_id: &str,
        sent: &(dyn Fn(u64) + Sync),
    ) -> Result<String> {
        let io = |e| Error::io(format!("reading {}", path.display()), e);
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let mut parts = Vec::new();
        let mut md5s = Vec::new();
        let mut sent_bytes = 0u64;
        loop {
            let mut buf = Vec::with_capacity(PART_SIZE);
            while buf.len() < PART_SIZE {
                let n = (&mut file)
                    .take((PART_SIZE - buf.len()) as u64)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(io)?;
                if n == 0 {
                    break;
                }
            }
            if buf.is_empty() {
                break;
            }
            let number =
                i32::try_from(parts.len() + 1).map_err(|_| Error::internal("too many parts"))?;
            let n = buf.len() as u64;
            md5s.extend_from_slice(&Md5::digest(&buf));
            let out = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(buf))
                .send()
                .await
                .map_err(|e| self.sdk_error("uploading a part of", key, e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .build(),
            );
            sent_bytes += n;
            sent(sent_bytes);
        }
        let count = parts.len();
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        match done_or_quirk(done) {
            Ok(()) => {}
            Err(e) => return Err(self.sdk_error("completing the upload of", key, *e)),
        }
        Ok(format!("{}-{count}", hex::encode(Md5::digest(&md5s))))
    }
}

/// Success, or a 200 answer the SDK could not decode because the server
/// names its root element `CompleteMultipartUploadResponse` (moto, which the
/// local stack runs; same quirk as its GetBucketVersioning). Either way the
/// caller then checks the stored object's size and ETag itself.
fn done_or_quirk<T, E>(
    r: std::result::Result<T, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> std::result::Result<(), Box<SdkError<E, aws_sdk_s3::config::http::HttpResponse>>> {
    match r {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(se))
            if se.raw().status().as_u16() == 200
                && se
                    .raw()
                    .body()
                    .bytes()
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .is_some_and(|b| b.contains("<CompleteMultipartUploadResponse")) =>
        {
            Ok(())
        }
        Err(e) => Err(Box::new(e)),
    }
}

impl ObjectStore {
    /// `<prefix>/<env>/`: where the backups of `env` live in the bucket.
    fn env_prefix(&self, env: &str) -> String {
        if self.prefix.is_empty() {
            format!("{env}/")
        } else {
            format!("{}/{env}/", self.prefix)
        }
    }

    /// Every key under `prefix` (paginated).
    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.sdk_error("listing", prefix, e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(keys)
    }

    /// The bytes of `key`, or `None` when there is no such object.
    ///
    /// Errors: as [`ObjectStore::sha256`] for anything but a missing key.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(SdkError::ServiceError(se)) if se.err().is_no_such_key() => return Ok(None),
            Err(e) => return Err(self.sdk_error("reading", key, e)),
        };
        let mut body = out.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = self.next_chunk(&mut body, key).await? {
            bytes.extend_from_slice(chunk.as_ref());
        }
        Ok(Some(bytes))
    }

    /// The backups of `env` in the bucket, newest first: a folder whose
    /// `manifest.json` object is missing or unreadable (an interrupted copy)
    /// is listed `incomplete`, never as a backup.
    ///
    /// Errors: S3 errors as in [`ObjectStore::put_file`].
    pub async fn list_backups(&self, env: &str) -> Result<Vec<crate::store::Listing>> {
        use crate::manifest::{Manifest, MANIFEST};
        let base = self.env_prefix(env);
        let mut ids: Vec<String> = self
            .keys_under(&base)
            .await?
            .iter()
            .filter_map(|k| k.strip_prefix(&base)?.split('/').next().map(str::to_owned))
            .filter(|id| !id.is_empty())
            .collect();
        ids.sort();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            let path = std::path::PathBuf::from(self.key(env, &id, ""));
            let parsed = match self.get_bytes(&self.key(env, &id, MANIFEST)).await? {
                None => Err("no manifest object: an interrupted copy".to_owned()),
                Some(b) => serde_json::from_slice::<Manifest>(&b)
                    .map_err(|_| "its manifest object is damaged".to_owned())
                    .and_then(|m| {
                        if m.backup_id == id {
                            Ok(m)
                        } else {
                            Err(format!("its manifest names backup {}", m.backup_id))
                        }
                    }),
            };
            out.push(match parsed {
                Ok(m) => crate::store::Listing {
                    id,
                    state: "complete",
                    path,
                    started_at: Some(m.started_at.to_rfc3339()),
                    finished_at: Some(m.finished_at.to_rfc3339()),
                    tables: Some(m.tables.len()),
                    rows: Some(m.rows()),
                    stored_bytes: Some(m.stored_bytes()),
                    storage_objects: m.storage_objects(),
                    problem: None,
                },
                Err(problem) => crate::store::Listing {
                    id,
                    state: "incomplete",
                    path,
                    started_at: None,
                    finished_at: None,
                    tables: None,
                    rows: None,
                    stored_bytes: None,
                    storage_objects: None,
                    problem: Some(problem),
                },
            });
        }
        out.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(out)
    }

    /// Downloads every object of backup `id` of `env` into `dir` (created),
    /// streamed to disk (bounded memory). Returns the number of files.
    ///
    /// Errors: `input.invalid` when the bucket holds no complete backup `id`
    /// (no manifest object); S3 and `io.error` errors.
    pub async fn download_backup(
        &self,
        env: &str,
        id: &str,
        dir: &std::path::Path,
    ) -> Result<usize> {
        use tokio::io::AsyncWriteExt;
        let base = self.key(env, id, "");
        let keys = self.keys_under(&base).await?;
        let manifest = self.key(env, id, crate::manifest::MANIFEST);
        if id.is_empty() || id.contains(['/', '\\']) || !keys.contains(&manifest) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "no complete backup '{id}' of environment '{env}' at {}",
                    self.describe()
                ),
            )
            .hint(format!("List them with `nfops backup list --env {env}`.")));
        }
        for key in &keys {
            let Some(rel) = key.strip_prefix(&base) else {
                continue;
            };
            if rel
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
            {
                continue;
            }
            let path = dir.join(rel);
            let io = |e| Error::io(format!("writing {}", path.display()), e);
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(io)?;
            }
            let mut out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| self.sdk_error("reading", key, e))?;
            let mut file = tokio::fs::File::create(&path).await.map_err(io)?;
            while let Some(chunk) = self.next_chunk(&mut out.body, key).await? {
                file.write_all(chunk.as_ref()).await.map_err(io)?;
            }
            file.flush().await.map_err(io)?;
        }
        Ok(keys.len())
    }

    /// Deletes backup `id` of `env` from the bucket: the manifest object
    /// first (from then on it is listed incomplete, never as a backup), then
    /// every other object under it. In a versioned bucket this leaves delete
    /// markers; the bucket's lifecycle rules expire the old versions.
    ///
    /// Errors: S3 errors; what was deleted before stays deleted.
    pub async fn remove_backup(&self, env: &str, id: &str) -> Result<()> {
        self.delete(&self.key(env, id, crate::manifest::MANIFEST))
            .await?;
        for k in self.keys_under(&self.key(env, id, "")).await? {
            self.delete(&k).await?;
        }
        Ok(())
    }
}

impl ObjectStore {
    /// Downloads `key` and returns its size and SHA-256 (streamed, bounded memory).
    pub async fn sha256(&self, key: &str) -> Result<(u64, String)> {
        let mut out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.sdk_error("reading", key, e))?;
        let mut h = Sha256::new();
        let mut n = 0u64;
        while let Some(chunk) = self.next_chunk(&mut out.body, key).await? {
            h.update(chunk.as_ref());
            n += chunk.as_ref().len() as u64;
        }
        Ok((n, hex::encode(h.finalize())))
    }

    /// Deletes `key` (a missing key is fine).
    pub async fn delete(&self, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.sdk_error("deleting", key, e))?;
        Ok(())
    }

    fn sdk_error<E>(
        &self,
        doing: &str,
        key: &str,
        e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let at = format!("{} ({})", self.describe(), self.endpoint);
        match &e {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Error::new(
                ErrorCode::Unreachable,
                format!("{doing} {key}: the S3 server at {at} is unreachable after retries"),
            )
            .hint("Check backup.offsite.endpoint and that the server runs; nothing was marked as copied.")
            .source(e),
            SdkError::ServiceError(_) => {
                let code = e.code().unwrap_or("an error").to_owned();
                let hint = match code.as_str() {
                    "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" => {
                        "Check the access key pair named in backup.offsite (`nfops credentials set …`) and that it may write the bucket."
                    }
                    "NoSuchBucket" => "Create the bucket, or fix backup.offsite.bucket.",
                    _ => "The log has the full answer; nothing was marked as copied.",
                };
                Error::new(
                    ErrorCode::Unhealthy,
                    format!("{doing} {key}: S3 at {at} answered {code}"),
                )
                .hint(hint)
                .source(e)
            }
            _ => Error::new(
                ErrorCode::Unhealthy,
                format!("{doing} {key}: S3 at {at} gave an unusable answer"),
            )
            .hint("Check that the endpoint is an S3-compatible API and path_style matches the server.")
            .source(e),
        }
    }
}

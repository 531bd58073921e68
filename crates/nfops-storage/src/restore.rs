//! Bringing a versioned bucket (or a prefix of it) back to a [`BucketSnapshot`].
//!
//! The plan compares the bucket now with the snapshot:
//! - a key whose current object differs from the snapshot's version (or that
//!   was deleted since) is *rolled back*: its snapshot version is copied on
//!   top (`CopyObject` with `versionId`), so the change is itself a new
//!   version and can be undone the same way;
//! - a key created after the snapshot is *hidden* behind a delete marker
//!   (`DeleteObject` without a version id), its versions kept;
//! - anything else is left alone.
//!
//! Nothing is deleted for good. A bucket without versioning is refused (its
//! snapshot could not bring anything back). After applying, the bucket is
//! listed again and every key checked against the snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

use nfops_core::{Error, ErrorCode, Result};
use serde::Serialize;

use crate::snapshot::{capture, BucketSnapshot};
use crate::StorageClient;

/// Something that says whether to stop (a job's cancel token).
pub trait CancelFlag: Sync {
    fn is_cancelled(&self) -> bool;
}

/// Never cancelled.
pub struct NeverCancel;

impl CancelFlag for NeverCancel {
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// A key brought back to its snapshot version.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    pub key: String,
    /// The version copied on top.
    pub version_id: String,
    pub etag: String,
    pub size: u64,
    /// Whether the key exists now (false: deleted after the snapshot).
    pub exists_now: bool,
}

/// What a storage restore will change in one bucket.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoragePlan {
    pub bucket: String,
    pub prefix: Option<String>,
    pub roll_back: Vec<Rollback>,
    /// Keys created after the snapshot, to hide behind delete markers.
    pub hide: Vec<String>,
    pub unchanged: usize,
}

impl StoragePlan {
    pub fn is_empty(&self) -> bool {
        self.roll_back.is_empty() && self.hide.is_empty()
    }
}

fn same(a_etag: &str, a_size: u64, b_etag: &str, b_size: u64) -> bool {
    // Multipart ETags ("…-N") change when copied; compare sizes then.
    if a_etag.contains('-') || b_etag.contains('-') {
        a_size == b_size
    } else {
        a_etag == b_etag && a_size == b_size
    }
}

/// Compares the bucket now with `snapshot`.
///
/// Errors: `service.unhealthy` when versioning is off or suspended; S3 errors.
pub async fn plan(storage: &StorageClient, snapshot: &BucketSnapshot) -> Result<StoragePlan> {
    let now = capture(storage, &snapshot.bucket, snapshot.prefix.as_deref()).await?;
    let mut roll_back = Vec::new();
    let mut unchanged = 0;
    for o in &snapshot.objects {
        match now.get(&o.key) {
            Some(cur)
                if cur.version_id == o.version_id || same(&cur.etag, cur.size, &o.etag, o.size) =>
            {
                unchanged += 1
            }
            cur => roll_back.push(Rollback {
                key: o.key.clone(),
                version_id: o.version_id.clone(),
                etag: o.etag.clone(),
                size: o.size,
                exists_now: cur.is_some(),
            }),
        }
    }
    let hide = now
        .objects
        .iter()
        .filter(|o| snapshot.get(&o.key).is_none())
        .map(|o| o.key.clone())
        .collect();
    Ok(StoragePlan {
        bucket: snapshot.bucket.clone(),
        prefix: snapshot.prefix.clone(),
        roll_back,
        hide,
        unchanged,
    })
}

/// `CopySource` value: `bucket/key?versionId=v`, the key percent-encoded.
fn copy_source(bucket: &str, key: &str, version: &str) -> String {
    let mut enc = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{bucket}/{enc}?versionId={version}")
}

/// What applying a plan did, checked.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageOutcome {
    pub bucket: String,
    pub rolled_back: usize,
    pub hidden: usize,
    /// Keys checked against the snapshot after applying.
    pub checked: usize,
}

/// Applies `plan` and checks the bucket against `snapshot` afterwards.
///
/// `done` counts changed keys (progress). Errors: `job.cancelled`; S3 errors
/// (the keys changed so far are new versions: running the restore again
/// finishes it); `job.check_failed` when a key differs from the snapshot after.
pub async fn apply(
    storage: &StorageClient,
    snapshot: &BucketSnapshot,
    plan: &StoragePlan,
    done: &AtomicU64,
    cancel: &dyn CancelFlag,
) -> Result<StorageOutcome> {
    let bucket = &plan.bucket;
    for r in &plan.roll_back {
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        storage
            .sdk()
            .copy_object()
            .bucket(bucket)
            .key(&r.key)
            .copy_source(copy_source(bucket, &r.key, &r.version_id))
            .send()
            .await
            .map_err(|e| storage.error(bucket, e))?;
        done.fetch_add(1, Ordering::Relaxed);
    }
    for k in &plan.hide {
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        storage
            .sdk()
            .delete_object()
            .bucket(bucket)
            .key(k)
            .send()
            .await
            .map_err(|e| storage.error(bucket, e))?;
        done.fetch_add(1, Ordering::Relaxed);
    }
    // Check: the bucket now holds exactly the snapshot's keys with its content.
    let after = capture(storage, bucket, snapshot.prefix.as_deref()).await?;
    let mut problems = Vec::new();
    for o in &snapshot.objects {
        match after.get(&o.key) {
            Some(cur)
                if cur.version_id == o.version_id || same(&cur.etag, cur.size, &o.etag, o.size) => {
            }
            Some(cur) => problems.push(format!(
                "{} has ETag {} ({} bytes), the snapshot {} ({} bytes)",
                o.key, cur.etag, cur.size, o.etag, o.size
            )),
            None => problems.push(format!("{} is missing", o.key)),
        }
    }
    for o in &after.objects {
        if snapshot.get(&o.key).is_none() {
            problems.push(format!("{} exists but was not in the snapshot", o.key));
        }
    }
    if !problems.is_empty() {
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "bucket {bucket} differs from its snapshot after the restore: {}",
                problems
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
        .hint("Someone may be writing to the bucket; run the restore again once writes stopped."));
    }
    Ok(StorageOutcome {
        bucket: bucket.clone(),
        rolled_back: plan.roll_back.len(),
        hidden: plan.hide.len(),
        checked: snapshot.objects.len(),
    })
}

fn cancelled() -> Error {
    Error::new(ErrorCode::Cancelled, "the storage restore was cancelled")
        .hint("Keys changed so far are new versions; running the restore again finishes it, and the snapshot of before can undo it.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_encodes_the_key_and_names_the_version() {
        assert_eq!(
            copy_source("b", "uploads/a b/ü?.txt", "v1"),
            "b/uploads/a%20b/%C3%BC%3F.txt?versionId=v1"
        );
    }

    #[test]
    fn multipart_etags_compare_by_size() {
        assert!(same("\"abc-2\"", 10, "\"def-2\"", 10));
        assert!(!same("\"abc\"", 10, "\"def\"", 10));
        assert!(same("\"abc\"", 10, "\"abc\"", 10));
    }
}

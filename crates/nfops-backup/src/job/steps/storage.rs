//! Step "storage": records the current version of every key of the
//! environment's buckets (ListObjectVersions) into encrypted snapshot files,
//! so a restore can bring storage back to the moment of the backup.

use std::sync::Arc;

use async_trait::async_trait;
use nfops_core::config::UnversionedBuckets;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};

use crate::job::plan::unversioned;
use crate::job::{Shared, StorageTaken};
use crate::manifest::StorageSnapshotEntry;
use crate::sink::LocalSink;

/// Snapshots every bucket of the environment's storage into
/// `storage/<bucket>.jsonl.zst.age` (JSON lines → zstd → age).
pub(crate) struct StorageStep(pub(crate) Arc<Shared>);

#[async_trait]
impl Step for StorageStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let s = &self.0;
        let settings = s
            .req
            .env
            .storage
            .as_ref()
            .ok_or_else(|| Error::internal("storage step without storage settings"))?;
        let client = nfops_storage::StorageClient::connect(settings, s.req.creds.as_ref())?;
        let mode = unversioned(&s.req);
        let sink = LocalSink::new(&s.dir, s.req.recipients.clone());
        let mut taken = StorageTaken::default();
        for bucket in client.buckets() {
            cx.check_cancelled()?;
            cx.message(format!("listing the versions of bucket {bucket}"));
            if let Err(e) = client.require_versioning(bucket).await {
                // require_versioning's own refusal starts so; S3 errors do not.
                let off = e.message().starts_with("versioning is ");
                if !off || mode == UnversionedBuckets::Refuse {
                    return Err(if off {
                        e.hint(format!(
                            "Enable versioning on {bucket}, or set unversioned_buckets = \"warn\" under [environments.{}.backup] to back up without its snapshot.",
                            s.req.environment
                        ))
                    } else {
                        e
                    });
                }
                let warning = format!(
                    "WARNING: bucket {bucket} has no snapshot in this backup: {}",
                    e.message()
                );
                tracing::warn!(category = "worker", environment = %s.req.environment, bucket = %bucket, "backup without a storage snapshot: versioning is off");
                cx.message(warning.clone());
                taken.warnings.push(warning);
                continue;
            }
            let snap = nfops_storage::capture(&client, bucket, None).await?;
            let name = format!("storage/{bucket}.jsonl");
            let mut file = nfops_mysql::DumpSink::create(&sink, &name)?;
            snap.write_jsonl(&mut file)
                .map_err(|e| Error::io(format!("writing the snapshot of bucket {bucket}"), e))?;
            let entry = file.finish()?;
            let on_disk = std::fs::metadata(s.dir.join(&entry.name))
                .map_err(|e| Error::io(format!("checking {}", entry.name), e))?
                .len();
            if on_disk != entry.bytes {
                return Err(Error::new(
                    ErrorCode::CheckFailed,
                    format!(
                        "{} has {on_disk} bytes on disk, {} were written",
                        entry.name, entry.bytes
                    ),
                ));
            }
            taken.snapshots.push(StorageSnapshotEntry {
                bucket: bucket.clone(),
                file: entry.name.clone(),
                objects: snap.objects.len() as u64,
                object_bytes: snap.total_bytes(),
                taken_at: snap.taken_at,
                finished_at: snap.finished_at,
            });
            taken.files.push(entry);
        }
        let evidence = format!(
            "{}{}",
            taken
                .snapshots
                .iter()
                .map(|t| format!(
                    "bucket {}: {} objects ({} bytes) recorded in {}",
                    t.bucket, t.objects, t.object_bytes, t.file
                ))
                .collect::<Vec<_>>()
                .join("; "),
            if taken.warnings.is_empty() {
                String::new()
            } else {
                format!("; {}", taken.warnings.join("; "))
            }
        );
        *s.storage.lock().unwrap_or_else(|p| p.into_inner()) = taken;
        Ok(Verified::by(evidence))
    }
}

//! The storage step: every bucket in scope back to the backup's snapshot
//! (see `nfops_storage::restore`), with the state before kept so a failed
//! job can put the bucket back as it was.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::config::Storage;
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{CancellationToken, Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use nfops_storage::restore::{apply, plan, CancelFlag, NeverCancel, StoragePlan};
use nfops_storage::{capture, BucketSnapshot, StorageClient};

struct Token<'a>(&'a CancellationToken);

impl CancelFlag for Token<'_> {
    fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// The plans of every snapshot (what would change now).
pub async fn plans(
    storage: &Storage,
    creds: &dyn CredentialSource,
    snapshots: &[BucketSnapshot],
) -> Result<Vec<StoragePlan>> {
    let client = StorageClient::connect(storage, creds)?;
    let mut out = Vec::new();
    for s in snapshots {
        out.push(plan(&client, s).await?);
    }
    Ok(out)
}

/// The storage step when the operator left storage out (`--without-storage`)
/// of a backup that carries snapshots: it changes nothing and is reported
/// skipped with its reason, never completed.
pub struct StorageLeftAlone {
    /// Said by the plan's `storage` line and by the skipped step.
    pub reason: String,
}

impl StorageLeftAlone {
    /// The step for `req`, when storage is left out of a backup with snapshots.
    pub fn of(req: &crate::RestoreRequest) -> Option<Self> {
        let buckets: Vec<&str> = req
            .source
            .manifest
            .storage
            .iter()
            .map(|s| s.bucket.as_str())
            .collect();
        (req.without_storage && !buckets.is_empty()).then(|| Self {
            reason: left_alone(&buckets),
        })
    }
}

/// Storage is left as it is, and why.
fn left_alone(buckets: &[&str]) -> String {
    format!(
        "left as it is: the operator chose to restore without storage; the backup's snapshot(s) of bucket(s) {} are not applied and the environment's buckets are not touched",
        buckets.join(", ")
    )
}

#[async_trait]
impl Step for StorageLeftAlone {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        Ok(Verified::skipped(self.reason.clone()))
    }
}

/// The storage step of a restore.
pub struct StorageStep {
    pub storage: Storage,
    pub creds: Arc<dyn CredentialSource>,
    pub snapshots: Vec<BucketSnapshot>,
    /// The buckets as they were before this step changed them.
    pub before: Arc<Mutex<Vec<BucketSnapshot>>>,
}

#[async_trait]
impl Step for StorageStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let client = StorageClient::connect(&self.storage, self.creds.as_ref())?;
        let mut evidence = Vec::new();
        for s in &self.snapshots {
            cx.check_cancelled()?;
            let p = plan(&client, s).await?;
            let before = capture(&client, &s.bucket, s.prefix.as_deref()).await?;
            self.before
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(before);
            let total = (p.roll_back.len() + p.hide.len()) as u64;
            let done = AtomicU64::new(0);
            cx.message(format!(
                "bucket {}: {} key(s) to roll back, {} to hide",
                s.bucket,
                p.roll_back.len(),
                p.hide.len()
            ));
            let token = Token(cx.cancel_token());
            let fut = apply(&client, s, &p, &done, &token);
            tokio::pin!(fut);
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let o = loop {
                tokio::select! {
                    r = &mut fut => break r?,
                    _ = tick.tick() => cx.advance(done.load(Ordering::Relaxed), Some(total.max(1)), "keys"),
                }
            };
            evidence.push(format!(
                "{}: {} rolled back, {} hidden, {} key(s) equal the snapshot",
                o.bucket, o.rolled_back, o.hidden, o.checked
            ));
        }
        Ok(Verified::by(evidence.join("; ")))
    }
}

/// Puts buckets back to the `before` snapshots (after a failed job).
///
/// Errors: S3 errors; `job.check_failed` when a bucket still differs.
pub async fn put_back(
    storage: &Storage,
    creds: &dyn CredentialSource,
    before: &[BucketSnapshot],
) -> Result<usize> {
    let client = StorageClient::connect(storage, creds)?;
    let mut n = 0;
    for s in before {
        let p = plan(&client, s).await?;
        let done = AtomicU64::new(0);
        apply(&client, s, &p, &done, &NeverCancel).await?;
        n += p.roll_back.len() + p.hide.len();
    }
    Ok(n)
}

/// The storage snapshots a backup carries: one per bucket, named in its
/// manifest (`storage`), each file age-encrypted zstd JSON lines
/// (`storage/<bucket>.jsonl.zst.age`, listed with its SHA-256 in `files`).
///
/// Errors: `backup.key_mismatch` when `identity` is not a recipient;
/// `job.check_failed` naming the file when it is missing, damaged, or holds
/// another bucket or another object count than the manifest says.
pub fn snapshots_of(
    source: &crate::BackupSource,
    identity: &age::x25519::Identity,
) -> Result<Vec<BucketSnapshot>> {
    let mut out = Vec::new();
    for entry in &source.manifest.storage {
        let reader = source.preview_reader(&entry.file, identity)?;
        let snap = BucketSnapshot::read_jsonl(reader, &entry.file)?;
        if snap.bucket != entry.bucket || snap.objects.len() as u64 != entry.objects {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "storage snapshot {} holds bucket {} with {} objects, the manifest says {} with {}",
                    entry.file,
                    snap.bucket,
                    snap.objects.len(),
                    entry.bucket,
                    entry.objects
                ),
            )
            .hint("The backup is damaged or was altered: restore another backup."));
        }
        out.push(snap);
    }
    Ok(out)
}

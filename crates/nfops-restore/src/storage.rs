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

/// The snapshots stored with a backup: `storage/*.jsonl` in its folder.
///
/// Errors: `job.check_failed` for a damaged snapshot file.
pub fn snapshots_in(dir: &std::path::Path) -> Result<Vec<BucketSnapshot>> {
    let sdir = dir.join("storage");
    let Ok(rd) = std::fs::read_dir(&sdir) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    let mut paths: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.extension().and_then(|x| x.to_str()) != Some("jsonl") {
            continue;
        }
        let f = std::fs::File::open(&p).map_err(|e| {
            Error::new(
                ErrorCode::CheckFailed,
                format!("storage snapshot {} cannot be opened", p.display()),
            )
            .source(e)
        })?;
        out.push(BucketSnapshot::read_jsonl(
            std::io::BufReader::new(f),
            &p.display().to_string(),
        )?);
    }
    Ok(out)
}

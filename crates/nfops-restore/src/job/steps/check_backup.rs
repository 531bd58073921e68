//! Step "check backup": the operator's key against the backup's recipients
//! and every file's size and SHA-256 against the manifest, then the route to
//! the target; nothing on the server is touched before this passes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, Result};

use crate::job::RestoreRun;

pub(crate) struct CheckBackupStep(pub(crate) Arc<RestoreRun>);

#[async_trait]
impl Step for CheckBackupStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        r.req.source.check_key(&r.req.identity)?;
        let total: u64 = r.req.source.manifest.files.iter().map(|f| f.bytes).sum();
        let src = r.req.source.clone();
        let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let d2 = done.clone();
        let check = tokio::task::spawn_blocking(move || {
            src.check_files(&|n| d2.store(n, Ordering::Relaxed))
        });
        tokio::pin!(check);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let bytes = loop {
            tokio::select! {
                res = &mut check => break res.map_err(|e| Error::internal(format!("file check stopped: {e}")))??,
                _ = tick.tick() => {
                    cx.check_cancelled()?;
                    cx.advance(done.load(Ordering::Relaxed), Some(total), "bytes");
                }
            }
        };
        cx.check_cancelled()?;
        // Connect now: an unreachable target fails here, before any write.
        let route = nfops_fleet::route::database(
            &r.req.environment,
            &r.req.env,
            r.req.creds.as_ref(),
            &r.req.known_hosts,
            r.req.database.as_deref(),
            "to restore into",
        )
        .await?;
        // Replicas must be able to follow before anything is written.
        let replicas = super::replicas::ensure_ready(&r.req).await?;
        // One restore of this database at a time, from any process: the lock
        // is taken before the shadow exists and held until the job settles.
        let mut claim = super::claim::DatabaseClaim::take(&route.target).await?;
        let orphans = claim.sweep_orphan_shadows(&r.shadow).await;
        *r.claim.lock().await = Some(claim);
        *r.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(route.target.clone());
        *r.route.lock().await = Some(route);
        Ok(Verified::by(format!(
            "{} files, {bytes} bytes: sizes and SHA-256 equal the manifest; your key is a recipient; the restore lock of the database is held{}{}",
            r.req.source.manifest.files.len(),
            if replicas == 0 { String::new() } else { format!("; {replicas} replica(s) replicating within their lag bound") },
            if orphans.is_empty() { String::new() } else { format!(" ({} orphan shadow schema(s) of killed restores dropped)", orphans.len()) }
        )))
    }
}

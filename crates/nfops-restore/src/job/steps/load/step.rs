//! The job step of the load: [`load_shadow`] with progress in SQL bytes,
//! checked by the count of data files loaded to their end.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};

use super::{load_shadow, LoadCounters};
use crate::job::RestoreRun;

/// Step "load shadow": the backup's tables loaded into the shadow schema;
/// its evidence is every data file loaded up to its end-of-file line.
pub(crate) struct LoadStep(pub(crate) Arc<RestoreRun>);

#[async_trait]
impl Step for LoadStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        let target = r.target()?;
        let shadow = r.shadow.clone();
        let counters = Arc::new(LoadCounters::default());
        let total: u64 = r
            .req
            .source
            .manifest
            .tables
            .iter()
            .filter(|t| r.tables.contains(&t.name))
            .flat_map(|t| t.files.iter())
            .map(|f| {
                r.req
                    .source
                    .manifest
                    .files
                    .iter()
                    .find(|x| &x.name == f)
                    .map_or(0, |x| x.sql_bytes)
            })
            .sum();
        r.ensure_lock("creating the shadow schema").await?;
        let lock = r.lock_guard().await;
        cx.message(format!("loading into schema {shadow}"));
        let fut = load_shadow(
            &r.req.source,
            &r.req.identity,
            &target,
            &shadow,
            &r.tables,
            r.req.connections,
            counters.clone(),
            cx.cancel_token(),
        );
        tokio::pin!(fut);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                res = &mut fut => { res?; break; }
                _ = tick.tick() => {
                    // The pinger found the lock lost: stop before more DDL in the shadow.
                    if let Some(e) = lock.as_ref().and_then(|l| l.lost_error("the rest of the load")) {
                        return Err(e);
                    }
                    cx.advance(counters.sql_bytes.load(Ordering::Relaxed), Some(total.max(1)), "bytes");
                }
            }
        }
        let files = counters.files_done.load(Ordering::Relaxed);
        let expected = counters.files_total.load(Ordering::Relaxed);
        if files != expected {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("{files} of {expected} data files were loaded"),
            ));
        }
        cx.advance(total, Some(total.max(1)), "bytes");
        Ok(Verified::by(format!(
            "{files} data files loaded completely (each up to its end-of-file line), {} MB of SQL in {} statements, each checked against what its file may hold before it was sent, into {shadow}",
            counters.sql_bytes.load(Ordering::Relaxed) / 1_000_000,
            counters.statements_checked.load(Ordering::Relaxed)
        )))
    }
}

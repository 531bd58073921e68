//! Staging: the exact artifact onto one target host, checked there, before
//! any host switches.

use std::sync::Arc;

use async_trait::async_trait;
use nfops_core::jobs::{PlannedStep, Step, StepContext, Verified};
use nfops_core::{Error, Result};

use super::{JobStep, Run};
use crate::host::{stage_release, Staged};
use crate::plan::HostChange;
use crate::transfer::Ends;

/// The staging step of `h`, with what the plan says it will do.
pub(crate) fn step(run: &Arc<Run>, h: &HostChange) -> JobStep {
    (
        PlannedStep {
            name: format!("stage {}", h.host),
            description: format!(
                "{} on {}: {}",
                h.to,
                h.host,
                match (&h.from, h.artifact_present) {
                    (_, true) => "already there; check every file".to_owned(),
                    (Some(from), false) => format!(
                        "stream from staging (files unchanged since {from} linked, not sent), check on arrival"
                    ),
                    (None, false) => "stream from staging, check on arrival".to_owned(),
                }
            ),
        },
        Box::new(StageStep {
            run: Arc::clone(run),
            host: h.host.clone(),
        }),
    )
}

/// Brings the artifact to one target host and checks it there.
pub struct StageStep {
    pub run: Arc<Run>,
    pub host: String,
}

#[async_trait]
impl Step for StageStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let release = run
            .plan
            .release
            .clone()
            .ok_or_else(|| Error::internal("a promotion without a release reached apply"))?;
        let src_name = run.plan.source_host.clone().unwrap_or_default();
        let src_host = run.host(&run.from_env, &src_name)?;
        let dst_host = run.host(&run.to_env, &self.host)?;
        let running = run
            .plan
            .hosts
            .iter()
            .find(|h| h.host == self.host)
            .and_then(|h| h.from.clone())
            .unwrap_or_default();
        cx.message(format!("checking {} on {}", release.id, self.host));
        let src = run.connect(&src_host).await?;
        let dst = run.connect(&dst_host).await?;
        let ends = Ends {
            source: &src,
            source_host: &src_host,
            target: &dst,
            target_host: &dst_host,
        };
        let progress = |done: u64, total: u64| cx.advance(done, Some(total), "bytes");
        // A cancelled job (a lost lease) drops the copy, which kills both
        // remote tars; the incoming folder is swept by the next attempt.
        let staged = tokio::select! {
            s = stage_release(&ends, &release, &running, &progress) => s,
            () = cx.cancel_token().cancelled() => Err(Error::new(
                nfops_core::ErrorCode::Cancelled,
                format!("staging {} on {} was cancelled; nothing was switched", release.id, self.host),
            )),
        };
        src.disconnect().await;
        dst.disconnect().await;
        Ok(Verified::by(match staged? {
            Staged::AlreadyThere(r) => format!(
                "{} already on {} with digest {:.12}… (every file checked)",
                r.id, self.host, r.digest
            ),
            Staged::Copied(r, t) => format!(
                "{} copied from {src_name}: {} files ({}) sent{}; digest {:.12}… == staging's, every sent file's sha256 and the whole tree's listing checked on arrival",
                r.id,
                t.files_sent,
                mib(t.bytes_sent),
                match &t.base {
                    Some(b) if t.linked > 0 => format!(", {} unchanged files linked from {b}", t.linked),
                    _ => String::new(),
                },
                r.digest
            ),
        }))
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

//! Staging: the exact artifact onto one target host, checked there, before
//! any host switches.

use std::sync::Arc;

use async_trait::async_trait;
use nfops_core::jobs::{PlannedStep, Step, StepContext, Verified};
use nfops_core::{Error, Result};

use super::{JobStep, Run};
use crate::host::{stage_release, Staged};
use crate::plan::HostChange;

/// The staging step of `h`, with what the plan says it will do.
pub(crate) fn step(run: &Arc<Run>, h: &HostChange) -> JobStep {
    (
        PlannedStep {
            name: format!("stage {}", h.host),
            description: format!(
                "{} on {}: {}",
                h.to,
                h.host,
                if h.artifact_present {
                    "already there; check every file"
                } else {
                    "copy from staging, check on arrival"
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
        let staged = stage_release(&src, &src_host, &dst, &dst_host, &release, &running).await;
        src.disconnect().await;
        dst.disconnect().await;
        Ok(Verified::by(match staged? {
            Staged::AlreadyThere(r) => format!(
                "{} already on {} with digest {:.12}… (every file checked)",
                r.id, self.host, r.digest
            ),
            Staged::Copied(r) => format!(
                "{} copied from {src_name}, digest {:.12}… == staging's, sha256sum -c passed on arrival",
                r.id, r.digest
            ),
        }))
    }
}

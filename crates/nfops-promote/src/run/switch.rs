//! The switch: one target host's `current` symlink and `pm2 reload`, then
//! health through the entry point; and the frontend deploy. Each records
//! what it changes before changing it, so the rollback knows.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::jobs::{PlannedStep, Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};

use super::{JobStep, Run};
use crate::health::wait_release_healthy;
use crate::host::{reload_apps, switch_current};
use crate::plan::HostChange;

/// The switch step of `h`, with what the plan says it will do.
pub(crate) fn host_step(run: &Arc<Run>, h: &HostChange) -> JobStep {
    (
        PlannedStep {
            name: format!("switch {}", h.host),
            description: format!(
                "{}: current {} → {}, pm2 reload, wait healthy through the entry point",
                h.host,
                h.from.as_deref().unwrap_or("?"),
                h.to
            ),
        },
        Box::new(SwitchStep {
            run: Arc::clone(run),
            host: h.host.clone(),
        }),
    )
}

/// The frontend step (only when the target has a frontend driver).
pub(crate) fn frontend_step(run: &Arc<Run>) -> JobStep {
    (
        PlannedStep {
            name: "frontend".into(),
            description: "promote the frontend deploy".into(),
        },
        Box::new(FrontendStep {
            run: Arc::clone(run),
        }),
    )
}

/// Switches one target host and waits until the new release answers healthy.
pub struct SwitchStep {
    pub run: Arc<Run>,
    pub host: String,
}

#[async_trait]
impl Step for SwitchStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let to = run.release_id().to_owned();
        let host = run.host(&run.to_env, &self.host)?;
        let from = run
            .plan
            .hosts
            .iter()
            .find(|h| h.host == self.host)
            .and_then(|h| h.from.clone())
            .ok_or_else(|| {
                Error::internal(format!("no previous release known for {}", self.host))
            })?;
        let url = run.health_url(&run.to_env, &run.plan.to_env)?;
        let session = run.session(&host).await?;
        cx.message(format!("{}: current → releases/{to}", self.host));
        run.with_record(|r| r.switched.push((self.host.clone(), from.clone())));
        switch_current(&session, &host, &to).await?;
        cx.check_cancelled()?;
        cx.message(format!("{}: pm2 reload", self.host));
        let reloaded = reload_apps(&session, &host).await?;
        cx.message(format!(
            "{}: waiting for {to} to answer healthy through {url}",
            self.host
        ));
        let health = wait_release_healthy(&run.http, &url, &to, 5, Duration::from_secs(45)).await?;
        Ok(Verified::by(format!(
            "current → releases/{to} (read back); {reloaded}; {health}"
        )))
    }
}

/// Promotes the frontend through its provider.
pub struct FrontendStep {
    pub run: Arc<Run>,
}

#[async_trait]
impl Step for FrontendStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let driver = self
            .run
            .frontend
            .clone()
            .ok_or_else(|| Error::internal("frontend step without a driver"))?;
        let live = driver.live_deploy().await?;
        let target = driver.candidate_deploy().await?;
        cx.message(format!("frontend: {live} → {target}"));
        self.run.with_record(|r| {
            r.frontend_switched_from = Some(live.clone());
            r.frontend_to = Some(target.clone());
        });
        driver.promote(&target).await?;
        let now = driver.live_deploy().await?;
        if now != target {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("the frontend serves deploy {now} after promoting {target}"),
            ));
        }
        Ok(Verified::by(format!(
            "frontend live deploy {live} → {now} (read back)"
        )))
    }
}

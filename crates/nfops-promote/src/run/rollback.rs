//! The rollback job (`promote.rollback`): every switched host back on its
//! previous release (last switched first), the frontend back, then checked.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::jobs::{
    CancellationToken, JobReport, JobRunner, Plan, PlannedStep, Progress, Step, StepContext,
    Verified,
};
use nfops_core::{Error, ErrorCode, Result};
use tokio::time::Instant;

use super::verify::watch;
use super::{Run, RECONNECT_FOR};
use crate::health::wait_release_healthy;
use crate::host::{reload_apps, switch_current};

/// Runs the rollback job of `run`: what its record says changed, put back.
/// Not cancellable: stopping a rollback halfway is the worst state.
///
/// Errors: the state database's (the job's own failure is in the report).
pub async fn run(
    run: &Arc<Run>,
    runner: &JobRunner,
    progress: Arc<dyn Progress>,
) -> Result<JobReport> {
    let rec = run.record();
    let mut planned = Vec::new();
    let mut steps: Vec<Box<dyn Step>> = Vec::new();
    for (host, from) in rec.switched.iter().rev() {
        planned.push(PlannedStep {
            name: format!("roll back {host}"),
            description: format!("{host}: current → {from}, pm2 reload, wait healthy"),
        });
        steps.push(Box::new(RollbackHostStep {
            run: Arc::clone(run),
            host: host.clone(),
            release: from.clone(),
        }));
    }
    if let Some(d) = &rec.frontend_switched_from {
        planned.push(PlannedStep {
            name: "roll back frontend".into(),
            description: format!("frontend back to deploy {d}"),
        });
        steps.push(Box::new(FrontendRollbackStep {
            run: Arc::clone(run),
            deploy: d.clone(),
        }));
    }
    planned.push(PlannedStep {
        name: "verify rollback".into(),
        description:
            "every host reads back its old release; health and metrics through the entry point"
                .into(),
    });
    steps.push(Box::new(VerifyRollbackStep {
        run: Arc::clone(run),
    }));
    let to = &run.plan.to_env;
    runner
        .run(
            Plan {
                kind: "promote.rollback".into(),
                environment: Some(to.clone()),
                summary: format!("put {to} back on its previous release"),
                steps: planned,
            },
            steps,
            progress,
            CancellationToken::new(),
        )
        .await
}

/// Puts one host back on its previous release.
pub struct RollbackHostStep {
    pub run: Arc<Run>,
    pub host: String,
    pub release: String,
}

#[async_trait]
impl Step for RollbackHostStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let host = run.host(&run.to_env, &self.host)?;
        let deadline = Instant::now() + RECONNECT_FOR;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let r = async {
                let s = run.session(&host).await?;
                switch_current(&s, &host, &self.release).await?;
                reload_apps(&s, &host).await
            }
            .await;
            match r {
                Ok(reloaded) => {
                    let url = run.health_url(&run.to_env, &run.plan.to_env)?;
                    let health = wait_release_healthy(
                        &run.http,
                        &url,
                        &self.release,
                        3,
                        Duration::from_secs(45),
                    )
                    .await?;
                    return Ok(Verified::by(format!(
                        "current → releases/{} (read back); {reloaded}; {health}",
                        self.release
                    )));
                }
                Err(e)
                    if matches!(e.code(), ErrorCode::SshConnect | ErrorCode::SshCommand)
                        && Instant::now() < deadline =>
                {
                    run.forget_session(&self.host).await;
                    cx.message(format!(
                        "{}: {} — retrying (attempt {attempt})",
                        self.host,
                        e.message()
                    ));
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Puts the frontend back on the deploy that was live before.
pub struct FrontendRollbackStep {
    pub run: Arc<Run>,
    pub deploy: String,
}

#[async_trait]
impl Step for FrontendRollbackStep {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        let driver = self
            .run
            .frontend
            .clone()
            .ok_or_else(|| Error::internal("frontend rollback without a driver"))?;
        driver.rollback(&self.deploy).await?;
        let now = driver.live_deploy().await?;
        if now != self.deploy {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "the frontend serves {now} after rolling back to {}",
                    self.deploy
                ),
            ));
        }
        Ok(Verified::by(format!(
            "frontend live deploy back on {now} (read back)"
        )))
    }
}

/// Verifies the rollback: every target host reads back its old release and
/// the entry point answers healthy from it; metrics are measured the same
/// way as for the promotion and reported (a rollback is not undone when
/// they cannot be read, but the evidence says so).
pub struct VerifyRollbackStep {
    pub run: Arc<Run>,
}

#[async_trait]
impl Step for VerifyRollbackStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let mut wrong = Vec::new();
        let mut releases = Vec::new();
        // A host that cannot be reached is retried (SSH may come back); a
        // host on the wrong release fails at once.
        let deadline = Instant::now() + RECONNECT_FOR;
        let mut found = run.target_releases().await;
        while found.iter().any(|(_, r)| r.is_err()) && Instant::now() < deadline {
            cx.message("some hosts cannot be read yet; retrying");
            tokio::time::sleep(Duration::from_secs(2)).await;
            found = run.target_releases().await;
        }
        for (host, r) in found {
            let want = run
                .plan
                .hosts
                .iter()
                .find(|h| h.host == host)
                .and_then(|h| h.from.clone())
                .unwrap_or_default();
            match r {
                Ok(id) if id == want => releases.push(format!("{host} on {id}")),
                Ok(id) => wrong.push(format!("{host} on {id} (expected {want})")),
                Err(e) => wrong.push(format!("{host}: {e}")),
            }
        }
        if !wrong.is_empty() {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("after the rollback: {}", wrong.join("; ")),
            )
            .hint("Put those hosts back by hand (ln -sfn releases/<old> current.tmp && mv -T current.tmp current; pm2 reload)."));
        }
        let old = run
            .plan
            .hosts
            .first()
            .and_then(|h| h.from.clone())
            .unwrap_or_default();
        let metrics = match watch(run, cx, &old, run.plan.options.verify_secs.min(10), true).await {
            Ok(m) => format!(
                "{:.1} req/s, errors {:.2}%, p95 {:.0} ms",
                m.requests_per_sec,
                m.error_ratio * 100.0,
                m.p95_seconds * 1000.0
            ),
            Err(e) if e.code() == ErrorCode::Unhealthy => return Err(e),
            Err(e) => format!("metrics not verified: {}", e.message()),
        };
        Ok(Verified::by(format!(
            "{}; healthy through the entry point; {metrics}",
            releases.join(", ")
        )))
    }
}

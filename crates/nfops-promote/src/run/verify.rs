//! Verification: the new release watched through the entry point and
//! Prometheus for the window, judged against the pre-promotion baseline.
//! The same watch checks a rollback.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::jobs::{PlannedStep, Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use tokio::time::Instant;

use super::{JobStep, Run, VerifySample};
use crate::health::all_healthy;
use crate::verify::{judge, measure, Measurement};

/// The verification step, with what the plan says it will do.
pub(crate) fn step(run: &Arc<Run>) -> JobStep {
    (
        PlannedStep {
            name: "verify".into(),
            description: format!(
                "health and Prometheus (error rate, p95) for {}s against the baseline",
                run.plan.options.verify_secs
            ),
        },
        Box::new(VerifyStep {
            run: Arc::clone(run),
        }),
    )
}

/// Watches the new release for the verification window.
pub struct VerifyStep {
    pub run: Arc<Run>,
}

/// Health every second and Prometheus every other second for `secs`;
/// any failure stops at once. Returns the last measurement.
pub(super) async fn watch(
    run: &Run,
    cx: &StepContext<'_>,
    release: &str,
    secs: u64,
    rollback: bool,
) -> Result<Measurement> {
    let url = run.health_url(&run.to_env, &run.plan.to_env)?;
    let (prom, selector) = run.prometheus()?;
    let started = Instant::now();
    let until = started + Duration::from_secs(secs.max(4));
    // Past the window, at most this long more for the first data to show up.
    let grace = until + Duration::from_secs(20);
    let window = secs.max(10);
    let mut last: Option<Measurement> = None;
    let mut tick = 0u64;
    loop {
        cx.check_cancelled()?;
        let health = all_healthy(&run.http, &url, Some(release), 2).await;
        let metrics = if tick.is_multiple_of(2) || Instant::now() >= until || last.is_none() {
            Some(measure(&prom, selector.as_deref(), release, window).await)
        } else {
            None
        };
        let problem = match (&health, &metrics) {
            (Err(e), _) | (_, Some(Err(e))) => Some(e.message().to_owned()),
            _ => None,
        };
        let sample = VerifySample {
            at_secs: started.elapsed().as_secs_f64(),
            release: release.to_owned(),
            health_ok: health.is_ok(),
            metrics: metrics.as_ref().and_then(|m| m.as_ref().ok().copied()),
            problem: problem.clone(),
        };
        run.with_record(|r| {
            if rollback {
                r.rollback_verification.push(sample)
            } else {
                r.verification.push(sample)
            }
        });
        health?;
        // Prometheus down or refusing fails at once; no data yet is allowed
        // while the new processes' first scrapes come in, but not at the end.
        let metrics = match metrics {
            Some(Err(e)) if e.code() == ErrorCode::CheckFailed && Instant::now() < grace => {
                cx.message(format!("{release}: waiting for metrics ({})", e.message()));
                None
            }
            other => other,
        };
        if let Some(m) = metrics {
            let m = m?;
            cx.message(format!(
                "{release}: {:.1} req/s, errors {:.2}%, p95 {:.0} ms",
                m.requests_per_sec,
                m.error_ratio * 100.0,
                m.p95_seconds * 1000.0
            ));
            last = Some(m);
        }
        if Instant::now() >= until && last.is_some() {
            break;
        }
        tick += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    last.ok_or_else(|| {
        Error::new(
            ErrorCode::CheckFailed,
            "no metrics were measured during verification",
        )
    })
}

#[async_trait]
impl Step for VerifyStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let release = run.release_id().to_owned();
        let baseline = run.record().baseline.ok_or_else(|| {
            Error::new(
                ErrorCode::CheckFailed,
                "no pre-promotion baseline was measured",
            )
        })?;
        let last = watch(run, cx, &release, run.plan.options.verify_secs, false).await?;
        let summary = judge(&baseline, &last, &run.plan.options.tolerance)?;
        Ok(Verified::by(format!(
            "healthy through the entry point for {}s; {summary}",
            run.plan.options.verify_secs.max(4)
        )))
    }
}

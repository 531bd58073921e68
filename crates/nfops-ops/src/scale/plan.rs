//! The plan of a scale (from the counts PM2 reports now) and its job: one
//! step per backend host, in turn, so the environment keeps serving.

use std::sync::Arc;

use futures::future::join_all;
use nfops_core::audit::{Action, Outcome};
use nfops_core::jobs::{CancellationToken, JobState, Plan, PlannedStep, Progress, Step};
use nfops_core::lease::LeaseAction;
use nfops_core::{Error, ErrorCode, Result};

use super::steps::ScaleHost;
use super::{online, HostScale, ScaleOutcome, ScalePlan, BACKEND_APP, MAX_INSTANCES_PER_HOST};
use crate::Console;

impl Console {
    /// The plan to run `per_host` instances of the backend on every backend
    /// host of `env`, from the counts PM2 reports now.
    ///
    /// Errors: `input.invalid` for a count outside 1..=16 or an environment
    /// without backend hosts; SSH and PM2 errors of any host (a plan is only
    /// made when every host answered).
    pub async fn scale_plan(&self, env: &str, per_host: u32) -> Result<ScalePlan> {
        if !(1..=MAX_INSTANCES_PER_HOST).contains(&per_host) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("{per_host} instances per host is outside 1..={MAX_INSTANCES_PER_HOST}"),
            )
            .hint("Give the number of nf-api instances each backend host should run."));
        }
        let hosts = self.backend_hosts(env)?;
        let listed = join_all(hosts.iter().map(|h| self.list_host(h))).await;
        let mut plan = Vec::new();
        for (host, result) in hosts.iter().zip(listed) {
            plan.push(HostScale {
                host: host.name.clone(),
                current: online(&result?),
                target: per_host,
            });
        }
        Ok(ScalePlan {
            environment: env.to_owned(),
            app: BACKEND_APP.to_owned(),
            instances_per_host: per_host,
            hosts: plan,
        })
    }

    /// Applies `plan` as a job with one step per host, in turn (so the
    /// environment keeps serving): `pm2 scale`, then a step is completed only
    /// when `pm2 jlist` shows exactly the target count online. Audited as
    /// `scale.backend` (started, then succeeded or failed). Progress and
    /// cancel go through the job engine; hosts already scaled stay scaled.
    ///
    /// PM2 picks which instances a scale-down stops: the survivors may be
    /// numbered (`NODE_APP_INSTANCE`) 1 and 2 rather than 0 and 1, so a
    /// monitoring setup with one metrics port per instance number sees them
    /// move (the local stack's Prometheus scrapes instances 0 and 1 only).
    ///
    /// Errors: SSH/PM2 errors; `job.check_failed` when a host does not
    /// reach its count; `job.cancelled`.
    ///
    /// Scaling down on a production or region tier needs `confirm` = the
    /// environment's name; every scale holds the environment's lease.
    pub async fn scale_apply(
        &self,
        plan: &ScalePlan,
        confirm: Option<&str>,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<ScaleOutcome> {
        let env = plan.environment.as_str();
        // Whether this scales down is judged from the counts PM2 reports now,
        // not from the caller's plan (an IPC caller could forge `current`).
        let now = self.scale_plan(env, plan.instances_per_host).await?;
        let down = now.hosts.iter().any(|h| h.target < h.current);
        let lease = if down {
            self.begin_destructive(
                env,
                LeaseAction::Scale,
                "scale.backend",
                Some(&plan.app),
                confirm,
            )
            .await?
        } else {
            self.take_lease(env, LeaseAction::Scale).await?
        };
        let result = self
            .holding(&lease)
            .scale_apply_held(plan, !down, progress, cancel)
            .await;
        self.release(lease).await;
        result
    }

    async fn scale_apply_held(
        &self,
        plan: &ScalePlan,
        write_started: bool,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<ScaleOutcome> {
        let details = serde_json::json!({
            "app": plan.app,
            "instancesPerHost": plan.instances_per_host,
            "hosts": plan.hosts.iter().map(|h| serde_json::json!({"host": h.host, "from": h.current, "to": h.target})).collect::<Vec<_>>(),
        });
        let audit = |outcome, details| Action {
            action: "scale.backend",
            environment: Some(&plan.environment),
            target: Some(&plan.app),
            outcome,
            details,
        };
        if write_started {
            self.audit()
                .record(audit(Outcome::Started, details.clone()))
                .await?;
        }
        let result = self.scale_job(plan, progress, cancel).await;
        let (outcome, mut d) = match &result {
            Ok(_) => (Outcome::Succeeded, details),
            Err(e) if e.code() == ErrorCode::Cancelled => (Outcome::Cancelled, details),
            Err(_) => (Outcome::Failed, details),
        };
        if let (Err(e), Some(obj)) = (&result, d.as_object_mut()) {
            obj.insert("error".into(), serde_json::json!(e.code().as_str()));
        }
        self.audit().record(audit(outcome, d)).await?;
        result
    }

    async fn scale_job(
        &self,
        plan: &ScalePlan,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<ScaleOutcome> {
        let hosts = self.backend_hosts(&plan.environment)?;
        let mut planned = Vec::new();
        let mut steps: Vec<Box<dyn Step>> = Vec::new();
        for step in &plan.hosts {
            let host = hosts.iter().find(|h| h.name == step.host).ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!(
                        "host {} is no longer a backend host of {}",
                        step.host, plan.environment
                    ),
                )
                .hint("environments.toml changed since the plan was made: plan again.")
            })?;
            planned.push(PlannedStep {
                name: format!("scale {} on {}", plan.app, host.name),
                description: format!(
                    "pm2 scale {} {} ({} online now), then check pm2 jlist",
                    plan.app, step.target, step.current
                ),
            });
            steps.push(Box::new(ScaleHost {
                console: self.clone(),
                environment: plan.environment.clone(),
                host: host.clone(),
                app: plan.app.clone(),
                target: step.target,
            }));
        }
        let job_plan = Plan {
            kind: "scale.backend".into(),
            environment: Some(plan.environment.clone()),
            summary: format!(
                "scale {} in {} to {} per backend host",
                plan.app, plan.environment, plan.instances_per_host
            ),
            steps: planned,
        };
        let report = self
            .job_runner()
            .run(job_plan, steps, progress, cancel)
            .await?;
        if report.state != JobState::Succeeded {
            return Err(report.error.map(Error::from).unwrap_or_else(|| {
                Error::internal(format!("scale job ended {}", report.state.as_str()))
            }));
        }
        tracing::info!(category = "application", environment = %plan.environment, per_host = plan.instances_per_host, "backend scaled");
        Ok(ScaleOutcome {
            plan: plan.clone(),
            after: plan
                .hosts
                .iter()
                .map(|h| HostScale {
                    host: h.host.clone(),
                    current: h.current,
                    target: h.target,
                })
                .collect(),
            job_id: report.job_id,
        })
    }
}

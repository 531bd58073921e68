//! Promotion of what one environment runs (staging) to another (production):
//! the use case wiring and its audit. The job itself (gates, stage, switch,
//! migrations, verify, rollback) and the history live in `nfops-promote`.
//!
//! Plan first ([`Console::promotion_plan`], never changes anything). Then
//! [`Console::promote`]: refuses a blocked plan before any host changes;
//! runs the `promote.apply` job; when that job does not succeed after
//! something changed, runs the `promote.rollback` job. Every attempt is a
//! row in `promotions` (history) and audit entries: `promote.plan`,
//! `promote.approve`, `promote.apply`, `promote.verify`, `promote.rollback`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nfops_core::audit::{current_actor, Action, Outcome};
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{CancellationToken, JobReport, JobState, NoProgress, Progress};
use nfops_core::lease::LeaseAction;
use nfops_core::Result;
use nfops_promote::frontend::driver_for;
use nfops_promote::gates::no_other_job_gate;
use nfops_promote::{
    history, plan, run, Backups, PromotionOptions, PromotionPlan, Run, TakenBackup,
};
pub use nfops_promote::{FinalHost, PromotionOutcome, PromotionRecord, PromotionState};

use crate::Console;
use nfops_vault::KeyringSource;

impl Console {
    /// The dry run: reads both environments' hosts and says what a promotion
    /// would do. Changes nothing. Blockers (a damaged artifact, a missing
    /// secret key, nothing to promote) are in `blockers`.
    ///
    /// # Errors
    /// `config.*` for unknown environments; `input.invalid` when `from == to`
    /// or an environment has no backend host.
    pub async fn promotion_plan(
        &self,
        from: &str,
        to: &str,
        options: &PromotionOptions,
    ) -> Result<PromotionPlan> {
        plan::ensure_distinct(from, to)?;
        let config = self.config()?;
        let (fe, te) = (config.environment(from)?, config.environment(to)?);
        let creds = KeyringSource(self.keyring().clone());
        let known_hosts = self.known_hosts();
        let mut plan = plan::make(
            (from, fe),
            (to, te),
            &creds,
            &known_hosts,
            options,
            config.providers(),
        )
        .await?;
        // Expected duration: the median of recent successful promotions
        // between the same environments, when there are some.
        if let Some(secs) = history::median_secs(self.state(), from, to).await? {
            plan.expected_secs = secs;
        }
        Ok(plan)
    }

    /// Promotes `from`'s release to `to` (see the module docs). Returns the
    /// outcome whatever happened after the plan; `Err` only when no plan
    /// could be made or the state database failed.
    ///
    /// On production and region tiers `confirm` must be `to`'s name
    /// (`confirmation.required` otherwise, nothing changed); the target's
    /// lease is held throughout (`environment.busy` when another operator has it).
    pub async fn promote(
        &self,
        from: &str,
        to: &str,
        options: &PromotionOptions,
        confirm: Option<&str>,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<PromotionOutcome> {
        let lease = self
            .begin_destructive(
                to,
                LeaseAction::Promote,
                "promote.apply",
                Some(from),
                confirm,
            )
            .await?;
        let result = self
            .holding(&lease)
            .promote_held(from, to, options, progress, cancel)
            .await;
        self.release(lease).await;
        result
    }

    async fn promote_held(
        &self,
        from: &str,
        to: &str,
        options: &PromotionOptions,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<PromotionOutcome> {
        let started = Instant::now();
        let plan = self.promotion_plan(from, to, options).await?;
        let mut outcome = PromotionOutcome::start(&plan);
        let actor = current_actor();
        let planned = if plan.is_blocked() {
            Outcome::Refused
        } else {
            Outcome::Succeeded
        };
        let hosts: Vec<_> = plan
            .hosts
            .iter()
            .map(|h| (h.host.clone(), h.from.clone(), h.to.clone()))
            .collect();
        let details = serde_json::json!({
            "promotion": outcome.id, "from": from, "hosts": hosts,
            "pendingMigrations": plan.pending_migrations, "blockers": plan.blockers,
        });
        self.audit_promotion("promote.plan", &outcome, planned, details)
            .await?;
        history::start(self.state(), &outcome, &actor).await?;
        if plan.is_blocked() {
            outcome.refuse_blocked();
            return self.finish_promotion(outcome, started).await;
        }
        if let Some(a) = options.approver.as_deref().filter(|a| !a.trim().is_empty()) {
            self.audit()
                .record_as(
                    a.trim(),
                    Action {
                        action: "promote.approve",
                        environment: Some(to),
                        target: outcome.release(),
                        outcome: Outcome::Succeeded,
                        details: serde_json::json!({ "promotion": outcome.id, "operator": actor }),
                    },
                )
                .await?;
        }

        let run = Arc::new(self.promotion_run(&plan)?);
        // Evaluated before the promotion's own job exists, so it does not see itself.
        let jobs_gate = no_other_job_gate(self.jobs(), to).await;
        let backups = Arc::new(ConsoleBackups(self.clone()));
        let applied = run::apply(
            &run,
            &self.job_runner(),
            jobs_gate,
            backups,
            Arc::clone(&progress),
            cancel,
        )
        .await;
        let apply = &applied.report;
        if applied.verify_ran() {
            let ok = if apply.state == JobState::Succeeded {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            };
            self.audit_promotion(
                "promote.verify",
                &outcome,
                ok,
                serde_json::json!({
                    "promotion": outcome.id, "baseline": run.record().baseline,
                    "error": apply.error.as_ref().map(|e| e.message.clone()),
                }),
            )
            .await?;
        }
        let rollback = if applied.needs_rollback(&run) {
            Some(self.roll_back(&run, progress).await)
        } else {
            None
        };
        outcome.conclude(&applied, rollback);
        outcome.read_final_hosts(&run).await;
        let apply_outcome = match outcome.state {
            PromotionState::Succeeded => Outcome::Succeeded,
            PromotionState::Refused => Outcome::Refused,
            _ if apply.state == JobState::Cancelled => Outcome::Cancelled,
            _ => Outcome::Failed,
        };
        let gates: Vec<_> = outcome
            .gates
            .iter()
            .map(|g| (g.name.clone(), g.passed))
            .collect();
        let details = serde_json::json!({
            "promotion": outcome.id, "job": apply.job_id, "state": outcome.state.as_str(),
            "gates": gates, "error": apply.error.as_ref().map(|e| e.code.clone()),
        });
        self.audit_promotion("promote.apply", &outcome, apply_outcome, details)
            .await?;
        self.finish_promotion(outcome, started).await
    }

    /// Promotions, newest first; one cut off by a crash shows as `interrupted`.
    pub async fn promotion_history(&self, limit: u32) -> Result<Vec<PromotionRecord>> {
        history::list(self.state(), self.jobs(), limit).await
    }

    /// The run of `plan`: both environments from the config, the keyring,
    /// and the target's frontend driver when it has a frontend.
    fn promotion_run(&self, plan: &PromotionPlan) -> Result<Run> {
        let config = self.config()?;
        let creds: Arc<dyn CredentialSource> = Arc::new(KeyringSource(self.keyring().clone()));
        let to_env = config.environment(&plan.to_env)?;
        let frontend = match to_env.frontend.as_ref() {
            Some(f) => Some(driver_for(f, creds.as_ref())?),
            None => None,
        };
        Run::new(
            plan.clone(),
            config.environment(&plan.from_env)?.clone(),
            to_env.clone(),
            creds,
            self.known_hosts(),
            frontend,
            config.providers().to_vec(),
        )
    }

    /// The rollback job, audited as `promote.rollback`.
    async fn roll_back(&self, run: &Arc<Run>, progress: Arc<dyn Progress>) -> Result<JobReport> {
        let report = run::rollback::run(run, &self.job_runner(), progress).await?;
        let ok = if report.state == JobState::Succeeded {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        };
        self.audit()
            .record(Action {
                action: "promote.rollback",
                environment: Some(&run.plan.to_env),
                target: Some(run.release_id()),
                outcome: ok,
                details: serde_json::json!({
                    "job": report.job_id,
                    "hosts": run.record().switched,
                    "error": report.error.as_ref().map(|e| e.code.clone()),
                }),
            })
            .await?;
        Ok(report)
    }

    async fn audit_promotion(
        &self,
        action: &'static str,
        o: &PromotionOutcome,
        outcome: Outcome,
        details: serde_json::Value,
    ) -> Result<()> {
        self.audit()
            .record(Action {
                action,
                environment: Some(&o.plan.to_env),
                target: o.release(),
                outcome,
                details,
            })
            .await?;
        Ok(())
    }

    async fn finish_promotion(
        &self,
        mut outcome: PromotionOutcome,
        started: Instant,
    ) -> Result<PromotionOutcome> {
        outcome.duration_ms = started.elapsed().as_millis() as u64;
        history::finish(self.state(), &outcome).await?;
        Ok(outcome)
    }
}

/// The backup gate's view of the console's catalog and backup job.
struct ConsoleBackups(Console);

#[async_trait]
impl Backups for ConsoleBackups {
    async fn verified(&self, env: &str, now: DateTime<Utc>) -> Result<Vec<(String, f64)>> {
        Ok(self
            .0
            .backup_catalog(env)
            .await?
            .iter()
            .filter(|e| e.is_verified())
            .filter_map(|e| e.age_hours(now).map(|a| (e.id.clone(), a)))
            .collect())
    }

    async fn take(&self, env: &str, cancel: CancellationToken) -> Result<TakenBackup> {
        let (_, o) = self
            .0
            .backup_run_held(env, Arc::new(NoProgress), cancel)
            .await?;
        Ok(if o.job.state == JobState::Succeeded {
            TakenBackup::Verified(o.backup_id)
        } else {
            TakenBackup::NotSucceeded(
                o.job
                    .error
                    .map(|e| e.message)
                    .unwrap_or_else(|| o.job.state.as_str().to_owned()),
            )
        })
    }
}

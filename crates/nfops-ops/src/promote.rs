//! Promotion of what one environment runs (staging) to another (production).
//!
//! Plan first ([`Console::promotion_plan`], never changes anything). Then
//! [`Console::promote`]: refuses a blocked plan before any host changes;
//! runs the `promote.apply` job (gates, staging the artifact on every host,
//! one host switch at a time, frontend, verification); when that job does not
//! succeed after something changed, runs the `promote.rollback` job (every
//! switched host back, frontend back, rollback verified). Every attempt is a
//! row in `promotions` (history) and audit entries: `promote.plan`,
//! `promote.approve`, `promote.apply`, `promote.verify`, `promote.rollback`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nfops_core::audit::{current_actor, Action, Outcome};
use nfops_core::jobs::{
    CancellationToken, JobReport, JobState, NoProgress, Plan, PlannedStep, Progress, Step,
    StepContext, Verified,
};
use nfops_core::{Error, ErrorCode, Result, WireError};
use nfops_promote::engine::{
    FrontendRollbackStep, FrontendStep, RollbackHostStep, Run, StageStep, SwitchStep,
    VerifyRollbackStep, VerifyStep,
};
use nfops_promote::frontend::driver_for;
use nfops_promote::gates::{approver_gate, window_gate};
use nfops_promote::health::{all_healthy, client};
use nfops_promote::plan::{survey, GateSpec};
use nfops_promote::release::verify_release;
use nfops_promote::verify::measure;
use nfops_promote::{GateResult, PromotionOptions, PromotionPlan, RunRecord};
use serde::Serialize;
use sqlx::Row;

use crate::backup::KeyringSource;
use crate::Console;

/// How a promotion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionState {
    Running,
    /// Every host runs the new release and it passed verification.
    Succeeded,
    /// Refused before any host changed (blocked plan or a failed gate).
    Refused,
    /// Something failed after a change; everything was put back and checked.
    RolledBack,
    /// The rollback did not finish: hosts may be on different releases.
    RollbackFailed,
    /// Failed before any host changed (e.g. the artifact did not arrive intact).
    Failed,
    /// The process running it went away (crash, kill): hosts may differ.
    Interrupted,
}

impl PromotionState {
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionState::Running => "running",
            PromotionState::Succeeded => "succeeded",
            PromotionState::Refused => "refused",
            PromotionState::RolledBack => "rolled_back",
            PromotionState::RollbackFailed => "rollback_failed",
            PromotionState::Failed => "failed",
            PromotionState::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "refused" => Self::Refused,
            "rolled_back" => Self::RolledBack,
            "rollback_failed" => Self::RollbackFailed,
            "interrupted" => Self::Interrupted,
            _ => Self::Failed,
        }
    }
}

/// A target host's release at the end, or why it could not be read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FinalHost {
    pub host: String,
    pub release: Option<String>,
    pub problem: Option<String>,
}

/// The result of [`Console::promote`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionOutcome {
    pub id: String,
    pub state: PromotionState,
    /// What happened, in one or two plain sentences.
    pub summary: String,
    pub plan: PromotionPlan,
    pub gates: Vec<GateResult>,
    pub record: RunRecord,
    pub apply: Option<JobReport>,
    pub rollback: Option<JobReport>,
    pub final_hosts: Vec<FinalHost>,
    pub error: Option<WireError>,
    pub duration_ms: u64,
}

/// One row of the promotion history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionRecord {
    pub id: String,
    pub from_env: String,
    pub to_env: String,
    pub release: Option<String>,
    pub previous: Vec<(String, String)>,
    pub state: PromotionState,
    pub summary: Option<String>,
    pub actor: String,
    pub approver: Option<String>,
    pub gates: Vec<GateResult>,
    pub final_hosts: Vec<FinalHost>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

/// The gates every promotion passes, in the order they run.
fn gate_specs(plan_opts: &PromotionOptions, from: &str, to: &str) -> Vec<GateSpec> {
    let g = |n: &str, d: String| GateSpec {
        name: n.to_owned(),
        description: d,
    };
    vec![
        g(
            "artifact",
            format!("the release {from} runs passes `sha256sum -c CHECKSUM` on its host"),
        ),
        g(
            "source healthy",
            format!("{from}'s entry point answers HTTP 200"),
        ),
        g(
            "target healthy",
            format!(
                "{to}'s entry point answers HTTP 200 and its hosts still run what the plan says"
            ),
        ),
        g("no other job", format!("no other job is running on {to}")),
        g(
            "change window",
            match &plan_opts.change_window {
                Some(w) => format!("now is inside {w} UTC"),
                None => "no change window set".to_owned(),
            },
        ),
        g(
            "second approver",
            if plan_opts.require_approver {
                "a second approver must be named (recorded in the audit log)".to_owned()
            } else {
                "optional; recorded in the audit log when named".to_owned()
            },
        ),
        g(
            "metrics baseline",
            format!("Prometheus has error rate and p95 of {to}'s current release (no data fails)"),
        ),
        g(
            "backup",
            if plan_opts.skip_backup {
                "skipped by the operator".to_owned()
            } else {
                format!(
                    "a verified {to} backup newer than {}h, else one is taken now",
                    plan_opts.backup_max_age_hours
                )
            },
        ),
    ]
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

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
        if from == to {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("cannot promote '{from}' onto itself"),
            )
            .hint("Use --from staging --to production."));
        }
        let config = self.config()?;
        let (fe, te) = (config.environment(from)?, config.environment(to)?);
        let creds = KeyringSource(self.keyring().clone());
        let mut plan = survey(
            from,
            fe,
            to,
            te,
            &creds,
            &self.known_hosts(),
            options,
            gate_specs(options, from, to),
        )
        .await?;
        // Pending migrations: what the release ships minus what the target's
        // database recorded (the release files are only the fallback).
        if let Some(r) = plan.release.clone() {
            match applied_migrations(to, te, &creds, &self.known_hosts()).await {
                Ok(Some(applied)) => {
                    plan.pending_migrations = r
                        .migrations
                        .iter()
                        .filter(|m| !applied.contains(m))
                        .cloned()
                        .collect();
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(category = "application", code = %e.code(), "pending migrations from the release files only: {}", e.message())
                }
            }
            if plan.pending_migrations.is_empty() {
                plan.rollback_manual
                    .retain(|l| !l.starts_with("database migrations"));
            }
        }
        // Expected duration: the median of recent successful promotions
        // between the same environments, when there are some.
        let mut past: Vec<i64> = sqlx::query_scalar(
            "SELECT duration_ms FROM promotions WHERE from_env = ? AND to_env = ? AND state = 'succeeded'
             AND duration_ms IS NOT NULL ORDER BY started_at DESC LIMIT 9",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.state().pool())
        .await?;
        if !past.is_empty() {
            past.sort_unstable();
            plan.expected_secs = u64::try_from(past[past.len() / 2] / 1000).unwrap_or(0);
        }
        if let Some(f) = te.frontend.as_ref() {
            let deploys = async {
                let d = driver_for(f, &creds)?;
                Ok::<_, Error>((d.live_deploy().await?, d.candidate_deploy().await?))
            }
            .await;
            match (deploys, plan.frontend.as_mut()) {
                (Ok((live, cand)), Some(fp)) => {
                    fp.from_deploy = Some(live);
                    fp.to_deploy = Some(cand);
                }
                (Err(e), _) => plan.blockers.push(format!("frontend: {}", e.message())),
                _ => {}
            }
        }
        Ok(plan)
    }

    /// Promotes `from`'s release to `to` (see the module docs). Returns the
    /// outcome whatever happened after the plan; `Err` only when no plan
    /// could be made or the state database failed.
    pub async fn promote(
        &self,
        from: &str,
        to: &str,
        options: &PromotionOptions,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<PromotionOutcome> {
        let started = Instant::now();
        let plan = self.promotion_plan(from, to, options).await?;
        let id = uuid_like();
        let actor = current_actor();
        let release = plan.release.as_ref().map(|r| r.id.clone());
        self.audit()
            .record(Action {
                action: "promote.plan",
                environment: Some(to),
                target: release.as_deref(),
                outcome: if plan.is_blocked() { Outcome::Refused } else { Outcome::Succeeded },
                details: serde_json::json!({
                    "promotion": id, "from": from,
                    "hosts": plan.hosts.iter().map(|h| (h.host.clone(), h.from.clone(), h.to.clone())).collect::<Vec<_>>(),
                    "pendingMigrations": plan.pending_migrations, "blockers": plan.blockers,
                }),
            })
            .await?;
        self.history_start(&id, &plan, &actor).await?;

        let mut outcome = PromotionOutcome {
            id: id.clone(),
            state: PromotionState::Running,
            summary: String::new(),
            plan: plan.clone(),
            gates: Vec::new(),
            record: RunRecord::default(),
            apply: None,
            rollback: None,
            final_hosts: Vec::new(),
            error: None,
            duration_ms: 0,
        };
        if plan.is_blocked() {
            outcome.state = PromotionState::Refused;
            outcome.summary = format!(
                "Refused before any host changed: {}",
                plan.blockers.join("; ")
            );
            outcome.error = Some(
                Error::new(ErrorCode::CheckFailed, plan.blockers.join("; "))
                    .hint("Nothing was changed. Fix what the plan reports and plan again.")
                    .to_wire(),
            );
            return self.finish(outcome, started, None).await;
        }
        if let Some(a) = options.approver.as_deref().filter(|a| !a.trim().is_empty()) {
            self.audit()
                .record_as(
                    a.trim(),
                    Action {
                        action: "promote.approve",
                        environment: Some(to),
                        target: release.as_deref(),
                        outcome: Outcome::Succeeded,
                        details: serde_json::json!({ "promotion": id, "operator": actor }),
                    },
                )
                .await?;
        }

        let config = self.config()?;
        let creds: Arc<dyn nfops_core::credentials::CredentialSource> =
            Arc::new(KeyringSource(self.keyring().clone()));
        let frontend = match config.environment(to)?.frontend.as_ref() {
            Some(f) => Some(driver_for(f, creds.as_ref())?),
            None => None,
        };
        let run = Arc::new(Run::new(
            plan.clone(),
            config.environment(from)?.clone(),
            config.environment(to)?.clone(),
            creds,
            self.known_hosts(),
            frontend,
        )?);
        // Evaluated before the promotion's own job exists, so it does not see itself.
        let jobs_gate = self.no_other_job_gate(to).await;
        let gates = Arc::new(std::sync::Mutex::new(Vec::<GateResult>::new()));

        let mut planned = vec![PlannedStep {
            name: "gates".into(),
            description: plan
                .gates
                .iter()
                .map(|g| format!("{}: {}", g.name, g.description))
                .collect::<Vec<_>>()
                .join("; "),
        }];
        let mut steps: Vec<Box<dyn Step>> = vec![Box::new(GatesStep {
            console: self.clone(),
            run: Arc::clone(&run),
            jobs_gate,
            results: Arc::clone(&gates),
        })];
        for h in &plan.hosts {
            planned.push(PlannedStep {
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
            });
            steps.push(Box::new(StageStep {
                run: Arc::clone(&run),
                host: h.host.clone(),
            }));
        }
        for (i, h) in plan.hosts.iter().enumerate() {
            planned.push(PlannedStep {
                name: format!("switch {}", h.host),
                description: format!(
                    "{}: current {} → {}, pm2 reload, wait healthy through the entry point",
                    h.host,
                    h.from.as_deref().unwrap_or("?"),
                    h.to
                ),
            });
            steps.push(Box::new(SwitchStep {
                run: Arc::clone(&run),
                host: h.host.clone(),
            }));
            if i == 0 && !plan.pending_migrations.is_empty() {
                planned.push(PlannedStep {
                    name: "migrations".into(),
                    description: format!(
                        "{} applied by {} at start on {}: check schema_migrations",
                        plan.pending_migrations.join(", "),
                        release.as_deref().unwrap_or("?"),
                        plan.hosts[0].host
                    ),
                });
                steps.push(Box::new(MigrationsStep {
                    run: Arc::clone(&run),
                }));
            }
        }
        if run.frontend.is_some() {
            planned.push(PlannedStep {
                name: "frontend".into(),
                description: "promote the frontend deploy".into(),
            });
            steps.push(Box::new(FrontendStep {
                run: Arc::clone(&run),
            }));
        }
        planned.push(PlannedStep {
            name: "verify".into(),
            description: format!(
                "health and Prometheus (error rate, p95) for {}s against the baseline",
                options.verify_secs
            ),
        });
        steps.push(Box::new(VerifyStep {
            run: Arc::clone(&run),
        }));
        let job_plan = Plan {
            kind: "promote.apply".into(),
            environment: Some(to.to_owned()),
            summary: format!(
                "promote {} from {from} to {to} ({} hosts)",
                release.as_deref().unwrap_or("?"),
                plan.hosts.len()
            ),
            steps: planned,
        };
        let apply = self
            .job_runner()
            .run(job_plan, steps, Arc::clone(&progress), cancel.clone())
            .await;
        outcome.gates = gates.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let apply = match apply {
            Ok(r) => r,
            Err(e) => {
                // The state database failed mid-job: still try to put hosts back.
                outcome.error = Some(e.to_wire());
                JobReport {
                    job_id: String::new(),
                    state: JobState::Failed,
                    error: Some(e.to_wire()),
                    steps: Vec::new(),
                }
            }
        };
        let failed_step = apply
            .steps
            .iter()
            .find(|(_, s, _)| !matches!(s, nfops_core::jobs::StepState::Completed))
            .map(|(n, _, _)| n.clone());
        outcome.error = apply.error.clone().or(outcome.error);
        outcome.apply = Some(apply.clone());
        let changed = {
            let rec = run.record();
            !rec.switched.is_empty() || rec.frontend_switched_from.is_some()
        };
        let verify_ran = apply
            .steps
            .iter()
            .any(|(n, s, _)| n == "verify" && !matches!(s, nfops_core::jobs::StepState::Skipped));
        if verify_ran {
            let ok = apply.state == JobState::Succeeded;
            self.audit()
                .record(Action {
                    action: "promote.verify",
                    environment: Some(to),
                    target: release.as_deref(),
                    outcome: if ok { Outcome::Succeeded } else { Outcome::Failed },
                    details: serde_json::json!({ "promotion": id, "baseline": run.record().baseline, "error": apply.error.as_ref().map(|e| e.message.clone()) }),
                })
                .await?;
        }

        if apply.state == JobState::Succeeded {
            outcome.state = PromotionState::Succeeded;
            outcome.summary = format!(
                "{to} runs {} on every host and passed verification.",
                release.as_deref().unwrap_or("?")
            );
        } else if !changed {
            let gates_failed = failed_step.as_deref() == Some("gates");
            outcome.state = if gates_failed {
                PromotionState::Refused
            } else {
                PromotionState::Failed
            };
            outcome.summary = format!(
                "{} at step '{}' before any host changed: {}",
                if gates_failed { "Refused" } else { "Failed" },
                failed_step.as_deref().unwrap_or("?"),
                apply
                    .error
                    .as_ref()
                    .map(|e| e.message.as_str())
                    .unwrap_or("")
            );
        } else {
            let rollback = self.roll_back(&run, to, Arc::clone(&progress)).await;
            match rollback {
                Ok(r) => {
                    let ok = r.state == JobState::Succeeded;
                    outcome.state = if ok {
                        PromotionState::RolledBack
                    } else {
                        PromotionState::RollbackFailed
                    };
                    outcome.rollback = Some(r);
                }
                Err(e) => {
                    outcome.state = PromotionState::RollbackFailed;
                    outcome.error = Some(e.to_wire());
                }
            }
            let why = apply
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            outcome.summary = if outcome.state == PromotionState::RolledBack {
                format!(
                    "Rolled back automatically after step '{}' failed ({why}); every {to} host is back on its previous release and healthy.",
                    failed_step.as_deref().unwrap_or("?")
                )
            } else {
                format!(
                    "Step '{}' failed ({why}) and the rollback did not finish: check the hosts below and fix them by hand.",
                    failed_step.as_deref().unwrap_or("?")
                )
            };
        }
        outcome.record = run.record();
        let finals = run.target_releases().await;
        run.close().await;
        outcome.final_hosts = finals
            .into_iter()
            .map(|(host, r)| match r {
                Ok(id) => FinalHost {
                    host,
                    release: Some(id),
                    problem: None,
                },
                Err(e) => FinalHost {
                    host,
                    release: None,
                    problem: Some(e),
                },
            })
            .collect();
        let apply_outcome = match outcome.state {
            PromotionState::Succeeded => Outcome::Succeeded,
            PromotionState::Refused => Outcome::Refused,
            _ if apply.state == JobState::Cancelled => Outcome::Cancelled,
            _ => Outcome::Failed,
        };
        self.audit()
            .record(Action {
                action: "promote.apply",
                environment: Some(to),
                target: release.as_deref(),
                outcome: apply_outcome,
                details: serde_json::json!({
                    "promotion": id, "job": apply.job_id, "state": outcome.state.as_str(),
                    "gates": outcome.gates.iter().map(|g| (g.name.clone(), g.passed)).collect::<Vec<_>>(),
                    "error": apply.error.as_ref().map(|e| e.code.clone()),
                }),
            })
            .await?;
        self.finish(outcome, started, Some(&run)).await
    }

    async fn roll_back(
        &self,
        run: &Arc<Run>,
        to: &str,
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
        // A rollback is not cancellable: stopping it halfway is the worst state.
        let report = self
            .job_runner()
            .run(
                Plan {
                    kind: "promote.rollback".into(),
                    environment: Some(to.to_owned()),
                    summary: format!("put {to} back on its previous release"),
                    steps: planned,
                },
                steps,
                progress,
                CancellationToken::new(),
            )
            .await?;
        self.audit()
            .record(Action {
                action: "promote.rollback",
                environment: Some(to),
                target: Some(run.release_id()),
                outcome: if report.state == JobState::Succeeded {
                    Outcome::Succeeded
                } else {
                    Outcome::Failed
                },
                details: serde_json::json!({
                    "job": report.job_id,
                    "hosts": rec.switched,
                    "error": report.error.as_ref().map(|e| e.code.clone()),
                }),
            })
            .await?;
        Ok(report)
    }

    async fn no_other_job_gate(&self, env: &str) -> GateResult {
        const NAME: &str = "no other job";
        match self.jobs().list(200).await {
            Err(e) => GateResult::fail(NAME, e.message().to_owned()),
            Ok(jobs) => {
                let busy: Vec<String> = jobs
                    .iter()
                    .filter(|j| {
                        j.state == JobState::Running && j.environment.as_deref() == Some(env)
                    })
                    .map(|j| format!("{} ({})", j.kind, j.id))
                    .collect();
                if busy.is_empty() {
                    GateResult::pass(NAME, format!("no job is running on {env}"))
                } else {
                    GateResult::fail(NAME, format!("running on {env}: {}", busy.join(", ")))
                }
            }
        }
    }

    async fn backup_gate(
        &self,
        env: &str,
        opts: &PromotionOptions,
        cx: &StepContext<'_>,
    ) -> GateResult {
        const NAME: &str = "backup";
        if opts.skip_backup {
            return GateResult::pass(NAME, "skipped by the operator (recorded in the audit log)");
        }
        let now = chrono::Utc::now();
        match self.backup_catalog(env).await {
            Err(e) => return GateResult::fail(NAME, e.message().to_owned()),
            Ok(entries) => {
                let fresh = entries
                    .iter()
                    .filter(|e| e.is_verified())
                    .filter_map(|e| e.age_hours(now).map(|a| (e, a)))
                    .filter(|(_, a)| *a <= opts.backup_max_age_hours)
                    .min_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((e, age)) = fresh {
                    return GateResult::pass(
                        NAME,
                        format!(
                            "verified backup {} is {:.1}h old (max {}h)",
                            e.id, age, opts.backup_max_age_hours
                        ),
                    );
                }
            }
        }
        cx.message(format!(
            "no verified {env} backup newer than {}h: taking one now",
            opts.backup_max_age_hours
        ));
        match self
            .backup_run(env, Arc::new(NoProgress), cx.cancel_token().clone())
            .await
        {
            Ok((_, o)) if o.job.state == JobState::Succeeded => GateResult::pass(
                NAME,
                format!(
                    "pre-promotion backup {} taken and verified now",
                    o.backup_id
                ),
            ),
            Ok((_, o)) => GateResult::fail(
                NAME,
                format!(
                    "the pre-promotion backup did not succeed: {}",
                    o.job.error.map(|e| e.message).unwrap_or_else(|| o
                        .job
                        .state
                        .as_str()
                        .to_owned())
                ),
            ),
            Err(e) => GateResult::fail(
                NAME,
                format!("the pre-promotion backup failed: {}", e.message()),
            ),
        }
    }

    async fn history_start(&self, id: &str, plan: &PromotionPlan, actor: &str) -> Result<()> {
        let previous: Vec<(String, String)> = plan
            .hosts
            .iter()
            .map(|h| (h.host.clone(), h.from.clone().unwrap_or_default()))
            .collect();
        sqlx::query(
            "INSERT INTO promotions (id, from_env, to_env, release, previous, state, actor, approver, plan, started_at)
             VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&plan.from_env)
        .bind(&plan.to_env)
        .bind(plan.release.as_ref().map(|r| r.id.clone()))
        .bind(json(&previous))
        .bind(actor)
        .bind(plan.options.approver.clone())
        .bind(json(plan))
        .bind(now())
        .execute(self.state().pool())
        .await?;
        Ok(())
    }

    async fn finish(
        &self,
        mut o: PromotionOutcome,
        started: Instant,
        _run: Option<&Arc<Run>>,
    ) -> Result<PromotionOutcome> {
        o.duration_ms = started.elapsed().as_millis() as u64;
        sqlx::query(
            "UPDATE promotions SET state = ?, summary = ?, apply_job = ?, rollback_job = ?, gates = ?, record = ?,
             final_hosts = ?, error = ?, finished_at = ?, duration_ms = ? WHERE id = ?",
        )
        .bind(o.state.as_str())
        .bind(&o.summary)
        .bind(o.apply.as_ref().map(|j| j.job_id.clone()))
        .bind(o.rollback.as_ref().map(|j| j.job_id.clone()))
        .bind(json(&o.gates))
        .bind(json(&o.record))
        .bind(json(&o.final_hosts))
        .bind(o.error.as_ref().map(json))
        .bind(now())
        .bind(o.duration_ms as i64)
        .bind(&o.id)
        .execute(self.state().pool())
        .await?;
        Ok(o)
    }

    /// Promotions, newest first. A promotion still `running` after two
    /// minutes without a running promotion job was cut off by a crash or a
    /// kill: it is marked `interrupted` here (its hosts may differ; plan again).
    pub async fn promotion_history(&self, limit: u32) -> Result<Vec<PromotionRecord>> {
        let jobs = self.jobs().list(200).await?;
        let busy = jobs
            .iter()
            .any(|j| j.state == JobState::Running && j.kind.starts_with("promote."));
        if !busy {
            let cutoff = (chrono::Utc::now() - chrono::Duration::minutes(2))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            sqlx::query(
                "UPDATE promotions SET state = 'interrupted', summary = 'Interrupted: the process running it went away. Hosts may run different releases: plan again to see them.'
                 WHERE state = 'running' AND started_at < ?",
            )
            .bind(cutoff)
            .execute(self.state().pool())
            .await?;
        }
        let rows = sqlx::query(
            "SELECT id, from_env, to_env, release, previous, state, summary, actor, approver, gates, final_hosts,
                    started_at, finished_at, duration_ms
             FROM promotions ORDER BY started_at DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(self.state().pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| PromotionRecord {
                id: r.get("id"),
                from_env: r.get("from_env"),
                to_env: r.get("to_env"),
                release: r.get("release"),
                previous: parse_json(r.get("previous")),
                state: PromotionState::parse(r.get::<String, _>("state").as_str()),
                summary: r.get("summary"),
                actor: r.get("actor"),
                approver: r.get("approver"),
                gates: parse_json(r.get("gates")),
                final_hosts: parse_final(r.get("final_hosts")),
                started_at: r.get("started_at"),
                finished_at: r.get("finished_at"),
                duration_ms: r.get("duration_ms"),
            })
            .collect())
    }
}

fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(s: Option<String>) -> T {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn parse_final(s: Option<String>) -> Vec<FinalHost> {
    let v: Vec<serde_json::Value> = parse_json(s);
    v.iter()
        .map(|h| FinalHost {
            host: h["host"].as_str().unwrap_or("").to_owned(),
            release: h["release"].as_str().map(str::to_owned),
            problem: h["problem"].as_str().map(str::to_owned),
        })
        .collect()
}

fn uuid_like() -> String {
    format!(
        "{}-{:08x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand_u32()
    )
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u32
}

/// Versions recorded in `schema_migrations` of `env`'s database (through the
/// `via` host's SSH tunnel when configured). `Ok(None)` when the environment
/// has no database or the table does not exist yet.
///
/// Errors: credential, SSH and database errors.
async fn applied_migrations(
    env_name: &str,
    env: &nfops_core::config::Environment,
    creds: &dyn nfops_core::credentials::CredentialSource,
    known_hosts: &std::path::Path,
) -> Result<Option<Vec<String>>> {
    use sqlx::Connection;
    let Some(db) = env.database.as_ref() else {
        return Ok(None);
    };
    let password = creds.get(&db.password_credential)?;
    let mut _keep = None;
    let (host, port) = match db.via.as_ref().map(|v| v.get_ref().clone()) {
        None => (db.host.clone(), db.port),
        Some(via) => {
            let h = env
                .hosts
                .iter()
                .map(|h| h.get_ref())
                .find(|h| h.name == via)
                .ok_or_else(|| Error::internal(format!("via host '{via}' is not in the config")))?;
            let session = nfops_fleet::SshSession::connect(h, creds, known_hosts).await?;
            let tunnel = session.forward(&db.host, db.port).await?;
            let local = tunnel.local_addr();
            _keep = Some((session, tunnel));
            (local.ip().to_string(), local.port())
        }
    };
    let target = nfops_mysql::Target {
        host,
        port,
        user: db.user.clone(),
        password,
        database: db.name.clone(),
        label: format!("{env_name} database"),
    };
    let mut conn = target.connect().await?;
    let rows: std::result::Result<Vec<(String,)>, sqlx::Error> =
        sqlx::query_as("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await;
    let _ = conn.close().await;
    if let Some((session, _tunnel)) = _keep {
        session.disconnect().await;
    }
    match rows {
        Ok(r) => Ok(Some(r.into_iter().map(|(v,)| v).collect())),
        Err(sqlx::Error::Database(e)) if e.message().contains("doesn't exist") => Ok(None),
        Err(e) => Err(target.error("could not read schema_migrations of", e)),
    }
}

/// Checks, after the first host runs the new release (the app applies its
/// migrations at start, under a lock), that every migration the release
/// ships is recorded in the target's `schema_migrations`.
struct MigrationsStep {
    run: Arc<Run>,
}

#[async_trait]
impl Step for MigrationsStep {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let want = run
            .plan
            .release
            .as_ref()
            .map(|r| r.migrations.clone())
            .unwrap_or_default();
        let applied = applied_migrations(
            &run.plan.to_env,
            &run.to_env,
            run.creds.as_ref(),
            &run.known_hosts,
        )
        .await?
        .unwrap_or_default();
        let missing: Vec<&String> = want.iter().filter(|m| !applied.contains(m)).collect();
        if !missing.is_empty() {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "migrations {} of {} are not recorded in {}'s schema_migrations after the switch",
                    missing.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "),
                    run.release_id(),
                    run.plan.to_env
                ),
            )
            .hint("Look at the app's error log on the first host: a migration failed at start."));
        }
        Ok(Verified::by(format!(
            "{} recorded in schema_migrations ({} versions in all)",
            run.plan.pending_migrations.join(", "),
            applied.len()
        )))
    }
}

/// The gates, all evaluated (every finding, not only the first); the backup
/// is taken only when every other gate passed.
struct GatesStep {
    console: Console,
    run: Arc<Run>,
    jobs_gate: GateResult,
    results: Arc<std::sync::Mutex<Vec<GateResult>>>,
}

impl GatesStep {
    fn push(&self, g: GateResult, cx: &StepContext<'_>) {
        cx.message(format!(
            "gate {}: {} — {}",
            g.name,
            if g.passed { "passed" } else { "FAILED" },
            g.detail
        ));
        self.results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(g);
    }

    async fn artifact(&self) -> Result<String> {
        let run = &self.run;
        let release = run
            .plan
            .release
            .clone()
            .ok_or_else(|| Error::internal("no release in plan"))?;
        let src = run.plan.source_host.clone().unwrap_or_default();
        let host = nfops_promote::plan::backend_hosts(&run.from_env)
            .into_iter()
            .find(|h| h.name == src)
            .ok_or_else(|| Error::internal("source host vanished"))?;
        let s =
            nfops_fleet::SshSession::connect(&host, run.creds.as_ref(), &run.known_hosts).await?;
        let r = verify_release(&s, &host, &release.id).await;
        s.disconnect().await;
        let r = r?;
        if r.digest != release.digest {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "release {} on {src} changed since the plan (digest {:.12}… vs {:.12}…)",
                    r.id, r.digest, release.digest
                ),
            ));
        }
        Ok(format!(
            "{} on {src}: every file matches CHECKSUM, digest {:.12}…",
            r.id, r.digest
        ))
    }

    async fn target_healthy(&self, http: &reqwest::Client) -> Result<String> {
        let run = &self.run;
        let url = run.health_url(&run.to_env, &run.plan.to_env)?;
        let seen = all_healthy(http, &url, None, 4).await?;
        let mut drift = Vec::new();
        for (host, r) in run.target_releases().await {
            let want = run
                .plan
                .hosts
                .iter()
                .find(|h| h.host == host)
                .and_then(|h| h.from.clone());
            match r {
                Ok(id) if Some(&id) == want.as_ref() => {}
                Ok(id) => drift.push(format!(
                    "{host} runs {id}, the plan said {}",
                    want.unwrap_or_default()
                )),
                Err(e) => drift.push(format!("{host}: {e}")),
            }
        }
        if !drift.is_empty() {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("hosts changed since the plan: {}", drift.join("; ")),
            ));
        }
        Ok(format!(
            "4 × HTTP 200 via {url} (releases {})",
            seen.join(", ")
        ))
    }

    async fn baseline(&self, http: &reqwest::Client) -> Result<String> {
        let run = &self.run;
        let (prom, selector) = run.prometheus()?;
        let url = run.health_url(&run.to_env, &run.plan.to_env)?;
        let old = run
            .plan
            .hosts
            .first()
            .and_then(|h| h.from.clone())
            .unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Some traffic of our own, so a quiet environment still has data.
            let _ = all_healthy(http, &url, None, 3).await;
            match measure(&prom, selector.as_deref(), &old, 300).await {
                Ok(m) => {
                    run.record
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .baseline = Some(m);
                    return Ok(format!(
                        "{old}: {:.1} req/s, errors {:.2}%, p95 {:.0} ms over 5 min",
                        m.requests_per_sec,
                        m.error_ratio * 100.0,
                        m.p95_seconds * 1000.0
                    ));
                }
                Err(e) if e.code() == ErrorCode::CheckFailed && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[async_trait]
impl Step for GatesStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let http = client()?;
        self.push(
            GateResult::from_result("artifact", self.artifact().await),
            cx,
        );
        let src_url = run.health_url(&run.from_env, &run.plan.from_env);
        // Healthy means the environment answers 200. Processes still running
        // an older release than `current` (switched, not reloaded) are said,
        // not refused: the artifact gate is what pins the release promoted.
        let src = match src_url {
            Ok(u) => all_healthy(&http, &u, None, 3).await.map(|seen| {
                let rid = run.release_id();
                if seen.iter().all(|r| r == rid) {
                    format!("3 × HTTP 200 from {rid} via {u}")
                } else {
                    format!(
                        "3 × HTTP 200 via {u}, answered by {} while current → {rid} (not reloaded since the switch)",
                        seen.join(", ")
                    )
                }
            }),
            Err(e) => Err(e),
        };
        self.push(GateResult::from_result("source healthy", src), cx);
        self.push(
            GateResult::from_result("target healthy", self.target_healthy(&http).await),
            cx,
        );
        self.push(self.jobs_gate.clone(), cx);
        let opts = &run.plan.options;
        self.push(
            window_gate(opts.change_window.as_deref(), chrono::Utc::now()),
            cx,
        );
        self.push(
            approver_gate(
                opts.require_approver,
                opts.approver.as_deref(),
                &current_actor(),
            ),
            cx,
        );
        self.push(
            GateResult::from_result("metrics baseline", self.baseline(&http).await),
            cx,
        );
        cx.check_cancelled()?;
        let all_passed = |s: &Self| {
            s.results
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .all(|g| g.passed)
        };
        if all_passed(self) {
            let g = self.console.backup_gate(&run.plan.to_env, opts, cx).await;
            self.push(g, cx);
        } else {
            self.push(
                GateResult::fail("backup", "not taken: an earlier gate failed"),
                cx,
            );
        }
        let results = self
            .results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let failed: Vec<String> = results
            .iter()
            .filter(|g| !g.passed)
            .map(|g| format!("{}: {}", g.name, g.detail))
            .collect();
        if !failed.is_empty() {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("gates failed: {}", failed.join("; ")),
            )
            .hint("Nothing was changed. Fix what the failed gates report and promote again."));
        }
        Ok(Verified::by(
            results
                .iter()
                .map(|g| format!("{}: {}", g.name, g.detail))
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }
}

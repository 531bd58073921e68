//! How a promotion ended: its state, a summary in plain words, the job
//! reports and what every target host runs at the end. Written to the
//! history and the audit log by the console.

use std::sync::Arc;

use nfops_core::jobs::{JobReport, JobState};
use nfops_core::{Error, ErrorCode, Result, WireError};
use serde::Serialize;

use super::gates::GateResult;
use super::{Applied, Run, RunRecord};
use crate::plan::PromotionPlan;

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

    /// The state stored as `as_str`; anything unknown reads as `Failed`.
    pub fn parse(s: &str) -> Self {
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

/// The result of a promotion, whatever happened after the plan.
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

impl PromotionOutcome {
    /// A promotion of `plan` that starts now, under a new id (a UUID, like jobs).
    pub fn start(plan: &PromotionPlan) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
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
        }
    }

    /// The release promoted, as the plan found it.
    pub fn release(&self) -> Option<&str> {
        self.plan.release.as_ref().map(|r| r.id.as_str())
    }

    /// Refused because the plan is blocked: nothing was changed.
    pub fn refuse_blocked(&mut self) {
        let blockers = self.plan.blockers.join("; ");
        self.state = PromotionState::Refused;
        self.summary = format!("Refused before any host changed: {blockers}");
        self.error = Some(
            Error::new(ErrorCode::CheckFailed, blockers)
                .hint("Nothing was changed. Fix what the plan reports and plan again.")
                .to_wire(),
        );
    }

    /// Concludes from the apply job and the rollback job: `Some` when it
    /// ran (see [`Applied::needs_rollback`]), `Err` when it could not run or
    /// be recorded. `None` after a failure means nothing had changed.
    pub fn conclude(&mut self, applied: &Applied, rollback: Option<Result<JobReport>>) {
        let apply = &applied.report;
        self.gates = applied.gates.clone();
        self.error = apply.error.clone().or(self.error.take());
        self.apply = Some(apply.clone());
        let to = self.plan.to_env.clone();
        let release = self.release().unwrap_or("?").to_owned();
        let failed_step = applied.failed_step();
        let step = failed_step.as_deref().unwrap_or("?");
        let why = apply
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        if apply.state == JobState::Succeeded {
            self.state = PromotionState::Succeeded;
            self.summary = format!("{to} runs {release} on every host and passed verification.");
            return;
        }
        let Some(rollback) = rollback else {
            let gates_failed = failed_step.as_deref() == Some("gates");
            self.state = if gates_failed {
                PromotionState::Refused
            } else {
                PromotionState::Failed
            };
            self.summary = format!(
                "{} at step '{step}' before any host changed: {why}",
                if gates_failed { "Refused" } else { "Failed" },
            );
            return;
        };
        match rollback {
            Ok(r) => {
                self.state = if r.state == JobState::Succeeded {
                    PromotionState::RolledBack
                } else {
                    PromotionState::RollbackFailed
                };
                self.rollback = Some(r);
            }
            Err(e) => {
                self.state = PromotionState::RollbackFailed;
                self.error = Some(e.to_wire());
            }
        }
        self.summary = if self.state == PromotionState::RolledBack {
            format!(
                "Rolled back automatically after step '{step}' failed ({why}); every {to} host is back on its previous release and healthy."
            )
        } else {
            format!(
                "Step '{step}' failed ({why}) and the rollback did not finish: check the hosts below and fix them by hand."
            )
        };
    }

    /// Keeps the run's record and reads what every target host runs now;
    /// closes the run's SSH sessions.
    pub async fn read_final_hosts(&mut self, run: &Arc<Run>) {
        self.record = run.record();
        let finals = run.target_releases().await;
        run.close().await;
        self.final_hosts = finals
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
    }
}

#[cfg(test)]
mod tests {
    use nfops_core::jobs::StepState;

    use super::*;
    use crate::plan::PromotionOptions;

    fn plan() -> PromotionPlan {
        PromotionPlan {
            from_env: "staging".into(),
            to_env: "production".into(),
            release: None,
            source_host: None,
            source_hosts: Vec::new(),
            hosts: Vec::new(),
            frontend: None,
            config_diff: Vec::new(),
            secret_parity: Default::default(),
            providers: Default::default(),
            pending_migrations: Vec::new(),
            gates: Vec::new(),
            expected_secs: 0,
            rollback_automatic: Vec::new(),
            rollback_manual: Vec::new(),
            blockers: vec!["staging host app-1: refused".into()],
            noop: false,
            options: PromotionOptions::default(),
        }
    }

    fn applied(state: JobState, failed: &str) -> Applied {
        Applied {
            report: JobReport {
                job_id: "j1".into(),
                state,
                error: (state != JobState::Succeeded)
                    .then(|| Error::new(ErrorCode::CheckFailed, "boom").to_wire()),
                steps: vec![(failed.into(), StepState::Failed, None)],
            },
            gates: vec![GateResult::fail("artifact", "changed")],
        }
    }

    #[test]
    fn a_blocked_plan_is_refused_with_its_blockers() {
        let mut o = PromotionOutcome::start(&plan());
        o.refuse_blocked();
        assert_eq!(o.state, PromotionState::Refused);
        assert!(
            o.summary.contains("app-1: refused"),
            "the summary names the blocker: {}",
            o.summary
        );
        assert_eq!(
            o.error.map(|e| e.code),
            Some("job.check_failed".into()),
            "a refusal is a failed check, so the UI can branch on it"
        );
    }

    #[test]
    fn a_failure_before_any_change_is_refused_at_gates_else_failed() {
        let mut o = PromotionOutcome::start(&plan());
        o.conclude(&applied(JobState::Failed, "gates"), None);
        assert_eq!(o.state, PromotionState::Refused, "failed gates refuse");
        assert_eq!(o.gates.len(), 1, "the gate results are kept");
        let mut o = PromotionOutcome::start(&plan());
        o.conclude(&applied(JobState::Failed, "stage app-1"), None);
        assert_eq!(o.state, PromotionState::Failed);
        assert!(
            o.summary.contains("'stage app-1'") && o.summary.contains("boom"),
            "the summary names the step and why: {}",
            o.summary
        );
    }

    #[test]
    fn a_failure_after_a_change_ends_by_how_the_rollback_went() {
        let rollback = |state| JobReport {
            job_id: "r1".into(),
            state,
            error: None,
            steps: Vec::new(),
        };
        let mut o = PromotionOutcome::start(&plan());
        o.conclude(
            &applied(JobState::Failed, "verify"),
            Some(Ok(rollback(JobState::Succeeded))),
        );
        assert_eq!(o.state, PromotionState::RolledBack);
        assert!(o
            .summary
            .starts_with("Rolled back automatically after step 'verify'"));
        let mut o = PromotionOutcome::start(&plan());
        o.conclude(
            &applied(JobState::Failed, "verify"),
            Some(Ok(rollback(JobState::Failed))),
        );
        assert_eq!(o.state, PromotionState::RollbackFailed);
        let mut o = PromotionOutcome::start(&plan());
        o.conclude(
            &applied(JobState::Failed, "verify"),
            Some(Err(Error::internal("state database gone"))),
        );
        assert_eq!(
            o.state,
            PromotionState::RollbackFailed,
            "a rollback that could not run did not finish"
        );
    }

    #[test]
    fn every_promotion_gets_its_own_id() {
        let p = plan();
        assert_ne!(
            PromotionOutcome::start(&p).id,
            PromotionOutcome::start(&p).id,
            "ids key the history rows"
        );
    }

    #[test]
    fn states_round_trip_through_their_stored_names() {
        use PromotionState::*;
        for s in [
            Running,
            Succeeded,
            Refused,
            RolledBack,
            RollbackFailed,
            Failed,
            Interrupted,
        ] {
            assert_eq!(
                PromotionState::parse(s.as_str()),
                s,
                "history rows read back"
            );
        }
        assert_eq!(
            PromotionState::parse("???"),
            Failed,
            "unknown reads as failed"
        );
    }
}

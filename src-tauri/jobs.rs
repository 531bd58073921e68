//! Running jobs in the shell: one slot per environment and job kind (so a
//! second "Back up now" is refused, and Cancel finds the token), the channel
//! that carries a job's live progress to the page, and the job summary DTO.
//!
//! A slot is held by a guard: it is freed when the guard drops, so a job that
//! ends, fails, panics or whose call is dropped never leaves its environment
//! "already running" until restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nfops_core::jobs::{CancellationToken, JobReport, Progress, ProgressEvent, Throttled};
use nfops_core::{Error, ErrorCode};
use serde::Serialize;
use specta::Type;
use tauri::ipc::Channel;

use crate::failure::Failure;

/// What a slot is for: at most one of each runs at a time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobKey {
    Backup(String),
    Restore(String),
    /// A restore drill of the environment (into its scratch database).
    Drill(String),
    /// One promotion at a time in this app, whatever the environments.
    Promotion,
}

impl JobKey {
    fn describe(&self) -> String {
        match self {
            JobKey::Backup(env) => format!("a backup of {env}"),
            JobKey::Restore(env) => format!("a restore of {env}"),
            JobKey::Drill(env) => format!("a restore drill of {env}"),
            JobKey::Promotion => "a promotion".to_owned(),
        }
    }

    fn busy(&self) -> Error {
        match self {
            JobKey::Backup(env) => Error::new(
                ErrorCode::InvalidInput,
                format!("a backup of {env} is already running"),
            )
            .hint("Wait for it to finish, or cancel it."),
            JobKey::Restore(env) => Error::new(
                ErrorCode::InvalidInput,
                format!("a restore of {env} is already running"),
            )
            .hint("Wait for it to finish, or cancel it."),
            JobKey::Drill(env) => Error::new(
                ErrorCode::InvalidInput,
                format!("a restore drill of {env} is already running"),
            )
            .hint("Wait for it to finish, or cancel it."),
            JobKey::Promotion => {
                Error::new(ErrorCode::InvalidInput, "a promotion is already running")
                    .hint("Wait for it to finish.")
            }
        }
    }
}

/// The cancel tokens of the jobs running now (managed Tauri state).
#[derive(Default)]
pub struct RunningJobs(Mutex<HashMap<JobKey, CancellationToken>>);

impl RunningJobs {
    // A poisoned lock only means a panic elsewhere; the map is still sound.
    fn lock(&self) -> MutexGuard<'_, HashMap<JobKey, CancellationToken>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the slot of `key`, or refuses (`input.invalid`) when it is taken.
    pub fn claim(&self, key: JobKey) -> Result<JobSlot<'_>, Failure> {
        let mut running = self.lock();
        if running.contains_key(&key) {
            return Err(key.busy().into());
        }
        let cancel = CancellationToken::new();
        running.insert(key.clone(), cancel.clone());
        Ok(JobSlot {
            jobs: self,
            key,
            cancel,
        })
    }

    /// The running jobs, named for a message ("a backup of staging").
    pub fn running(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock().keys().map(JobKey::describe).collect();
        names.sort();
        names
    }

    /// Asks the job of `key` to stop; false when none runs.
    pub fn cancel(&self, key: &JobKey) -> bool {
        match self.lock().get(key) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }
}

/// A taken slot; dropping it frees the slot.
pub struct JobSlot<'a> {
    jobs: &'a RunningJobs,
    key: JobKey,
    cancel: CancellationToken,
}

impl JobSlot<'_> {
    /// The token the job watches; `RunningJobs::cancel` triggers it.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

impl Drop for JobSlot<'_> {
    fn drop(&mut self) {
        self.jobs.lock().remove(&self.key);
    }
}

/// A job's progress sent to the page over `channel`, at most ~5 events/s
/// (first and last of each step always kept).
pub fn channel_progress(channel: Channel<JobEvent>) -> Arc<dyn Progress> {
    Arc::new(Throttled::new(
        ChannelProgress(channel),
        Duration::from_millis(200),
    ))
}

struct ChannelProgress(Channel<JobEvent>);

impl Progress for ChannelProgress {
    fn event(&self, event: &ProgressEvent) {
        // A closed page drops events; the job goes on and is recorded.
        let _ = self.0.send(JobEvent::from(event));
    }
}

/// A job's lifecycle, as `nfops_core::jobs::JobState` names it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl From<nfops_core::jobs::JobState> for JobState {
    fn from(s: nfops_core::jobs::JobState) -> Self {
        use nfops_core::jobs::JobState as D;
        match s {
            D::Running => JobState::Running,
            D::Succeeded => JobState::Succeeded,
            D::Failed => JobState::Failed,
            D::Cancelled => JobState::Cancelled,
            D::Interrupted => JobState::Interrupted,
        }
    }
}

/// A step's lifecycle; `completed` only when its result was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
    Skipped,
    Interrupted,
}

impl From<nfops_core::jobs::StepState> for StepState {
    fn from(s: nfops_core::jobs::StepState) -> Self {
        use nfops_core::jobs::StepState as D;
        match s {
            D::Pending => StepState::Pending,
            D::Running => StepState::Running,
            D::Completed => StepState::Completed,
            D::Failed => StepState::Failed,
            D::Cancelled => StepState::Cancelled,
            D::Skipped => StepState::Skipped,
            D::Interrupted => StepState::Interrupted,
        }
    }
}

/// One step of a finished job.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct JobStep {
    pub name: String,
    pub state: StepState,
    pub evidence: Option<String>,
}

/// The steps of a job report, in order.
pub fn job_steps(
    steps: Vec<(String, nfops_core::jobs::StepState, Option<String>)>,
) -> Vec<JobStep> {
    steps
        .into_iter()
        .map(|(name, state, evidence)| JobStep {
            name,
            state: state.into(),
            evidence,
        })
        .collect()
}

/// How a job ended: its state, each step, and the error naming the step
/// that failed. Results of job commands carry these fields at top level.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    pub job_id: String,
    pub state: JobState,
    pub error: Option<Failure>,
    /// The step that failed, when one did.
    pub failed_step: Option<String>,
    pub steps: Vec<JobStep>,
}

impl From<JobReport> for JobSummary {
    fn from(j: JobReport) -> Self {
        let steps = job_steps(j.steps);
        Self {
            job_id: j.job_id,
            state: j.state.into(),
            error: j.error.map(Into::into),
            failed_step: steps
                .iter()
                .find(|s| s.state == StepState::Failed)
                .map(|s| s.name.clone()),
            steps,
        }
    }
}

/// A job's live progress, as sent over the command's channel (throttled).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum JobEvent {
    #[serde(rename_all = "camelCase")]
    JobStarted { job_id: String, steps: Vec<String> },
    #[serde(rename_all = "camelCase")]
    StepStarted { index: u32, name: String },
    #[serde(rename_all = "camelCase")]
    StepProgress {
        index: u32,
        done: f64,
        total: Option<f64>,
        unit: String,
    },
    #[serde(rename_all = "camelCase")]
    StepMessage { index: u32, message: String },
    #[serde(rename_all = "camelCase")]
    StepFinished {
        index: u32,
        state: StepState,
        evidence: Option<String>,
        error: Option<Failure>,
    },
    #[serde(rename_all = "camelCase")]
    JobFinished {
        job_id: String,
        state: JobState,
        error: Option<Failure>,
    },
}

impl From<&ProgressEvent> for JobEvent {
    fn from(e: &ProgressEvent) -> Self {
        use ProgressEvent as P;
        let idx = |i: &usize| u32::try_from(*i).unwrap_or(u32::MAX);
        match e {
            P::JobStarted { job_id, steps, .. } => Self::JobStarted {
                job_id: job_id.clone(),
                steps: steps.clone(),
            },
            P::StepStarted { index, name } => Self::StepStarted {
                index: idx(index),
                name: name.clone(),
            },
            P::StepProgress {
                index,
                done,
                total,
                unit,
            } => Self::StepProgress {
                index: idx(index),
                done: *done as f64,
                total: total.map(|t| t as f64),
                unit: unit.clone(),
            },
            P::StepMessage { index, message } => Self::StepMessage {
                index: idx(index),
                message: message.clone(),
            },
            P::StepFinished {
                index,
                state,
                evidence,
                error,
            } => Self::StepFinished {
                index: idx(index),
                state: (*state).into(),
                evidence: evidence.clone(),
                error: error.clone().map(Into::into),
            },
            P::JobFinished {
                job_id,
                state,
                error,
            } => Self::JobFinished {
                job_id: job_id.clone(),
                state: (*state).into(),
                error: error.clone().map(Into::into),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{JobKey, JobState, RunningJobs, StepState};

    #[tokio::test]
    async fn a_panicking_job_frees_its_slot() {
        let jobs = Arc::new(RunningJobs::default());
        let held = Arc::clone(&jobs);
        let job = tokio::spawn(async move {
            let _slot = held
                .claim(JobKey::Backup("prod".into()))
                .expect("the slot is free");
            panic!("the backup blew up");
        });
        assert!(job.await.is_err(), "the job panicked");
        assert!(
            jobs.claim(JobKey::Backup("prod".into())).is_ok(),
            "a panic must free the slot, or prod stays 'already running' until restart"
        );
    }

    #[test]
    fn a_slot_is_refused_while_taken_and_cancel_reaches_its_token() {
        let jobs = RunningJobs::default();
        let slot = jobs
            .claim(JobKey::Restore("prod".into()))
            .expect("the slot is free");
        let refused = jobs
            .claim(JobKey::Restore("prod".into()))
            .err()
            .expect("one restore of an environment at a time");
        assert_eq!(refused.code, "input.invalid");
        assert!(
            jobs.claim(JobKey::Restore("staging".into())).is_ok(),
            "slots are per environment"
        );
        assert!(
            jobs.claim(JobKey::Backup("prod".into())).is_ok(),
            "and per job kind"
        );
        assert!(jobs.cancel(&JobKey::Restore("prod".into())));
        assert!(slot.cancel_token().is_cancelled());
        drop(slot);
        assert!(
            !jobs.cancel(&JobKey::Restore("prod".into())),
            "a finished job has nothing to cancel"
        );
    }

    #[test]
    fn typed_states_cross_the_wire_as_the_strings_the_ui_compares() {
        use nfops_core::jobs::{JobState as J, StepState as S};
        for s in [
            J::Running,
            J::Succeeded,
            J::Failed,
            J::Cancelled,
            J::Interrupted,
        ] {
            let wire = serde_json::to_value(JobState::from(s)).expect("serializes");
            assert_eq!(wire, s.as_str(), "job state strings are the UI contract");
        }
        for s in [
            S::Pending,
            S::Running,
            S::Completed,
            S::Failed,
            S::Cancelled,
            S::Skipped,
            S::Interrupted,
        ] {
            let wire = serde_json::to_value(StepState::from(s)).expect("serializes");
            assert_eq!(wire, s.as_str(), "step state strings are the UI contract");
        }
    }
}

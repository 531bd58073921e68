//! The job engine: a plan the user can read, then steps that prove their work.
//!
//! Invariants:
//! - A job is created from a [`Plan`] (the dry run) and persisted before its
//!   first step runs, so a crash leaves a record that shows as `interrupted`.
//! - A step is `Completed` only with [`Verified`] evidence of what was checked
//!   (rows, bytes, hashes); there is no way to complete a step without it.
//! - Every job can be cancelled; a step sees cancellation through its
//!   [`StepContext`] and the job ends `Cancelled`, never `Succeeded`.

mod progress;
mod store;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
pub use tokio_util::sync::CancellationToken;

pub use progress::{NoProgress, Progress, ProgressEvent, Throttled};
pub use store::{JobRecord, JobStore, StepRecord};

use crate::error::{Error, ErrorCode, Result, WireError};

/// A job's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// The process running it went away (crash, kill, power loss).
    Interrupted,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "cancelled" => JobState::Cancelled,
            "interrupted" => JobState::Interrupted,
            _ => JobState::Failed,
        }
    }
}

/// A step's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Pending,
    Running,
    /// Done, and its result was checked.
    Completed,
    Failed,
    Cancelled,
    /// Not run because an earlier step failed or the job was cancelled.
    Skipped,
    Interrupted,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Completed => "completed",
            StepState::Failed => "failed",
            StepState::Cancelled => "cancelled",
            StepState::Skipped => "skipped",
            StepState::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "pending" => StepState::Pending,
            "running" => StepState::Running,
            "completed" => StepState::Completed,
            "cancelled" => StepState::Cancelled,
            "skipped" => StepState::Skipped,
            "interrupted" => StepState::Interrupted,
            _ => StepState::Failed,
        }
    }
}

/// The dry run: what a job will do, readable before anything changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub kind: String,
    pub environment: Option<String>,
    pub summary: String,
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedStep {
    pub name: String,
    /// What will change, in words an operator can check.
    pub description: String,
}

/// Evidence that a step's result was checked. The only way to complete a step.
#[derive(Debug, Clone)]
pub struct Verified {
    evidence: String,
    /// The step chose to change nothing (the operator left it out): it is
    /// recorded `skipped` with `evidence` as the reason, never `completed`.
    skipped: bool,
}

impl Verified {
    /// `evidence` says what was compared, e.g. "1,204 rows == manifest 1,204".
    pub fn by(evidence: impl Into<String>) -> Self {
        Self {
            evidence: evidence.into(),
            skipped: false,
        }
    }

    /// A step that deliberately did nothing, and `reason` why.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self {
            evidence: reason.into(),
            skipped: true,
        }
    }

    pub fn evidence(&self) -> &str {
        &self.evidence
    }
}

/// What a running step can use: progress reporting and the cancel signal.
pub struct StepContext<'a> {
    index: usize,
    progress: &'a dyn Progress,
    cancel: &'a CancellationToken,
}

impl StepContext<'_> {
    /// Reports `done` of `total` units.
    pub fn advance(&self, done: u64, total: Option<u64>, unit: &str) {
        self.progress.event(&ProgressEvent::StepProgress {
            index: self.index,
            done,
            total,
            unit: unit.to_owned(),
        });
    }

    pub fn message(&self, message: impl Into<String>) {
        self.progress.event(&ProgressEvent::StepMessage {
            index: self.index,
            message: message.into(),
        });
    }

    /// `Err(job.cancelled)` once the user asked to cancel; call between units of work.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.cancel.is_cancelled() {
            Err(cancelled())
        } else {
            Ok(())
        }
    }

    /// The cancel token, for `select!` against long awaits.
    pub fn cancel_token(&self) -> &CancellationToken {
        self.cancel
    }
}

/// A user's cancel ends the job `cancelled`; a lost lease ends it `failed`.
fn stopped_state(e: &Error) -> JobState {
    if e.code() == ErrorCode::Cancelled {
        JobState::Cancelled
    } else {
        JobState::Failed
    }
}

fn cancelled() -> Error {
    Error::new(ErrorCode::Cancelled, "the job was cancelled")
        .hint("Nothing more was changed after the step that was running.")
}

/// One step of a job.
#[async_trait]
pub trait Step: Send + Sync {
    /// Does the work and checks its result; returns what was checked.
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified>;
}

/// How a job ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobReport {
    pub job_id: String,
    pub state: JobState,
    pub error: Option<WireError>,
    pub steps: Vec<(String, StepState, Option<String>)>,
}

/// Runs jobs and persists their state.
#[derive(Clone, Debug)]
pub struct JobRunner {
    store: JobStore,
    heartbeat: Duration,
    /// The environment lease the job runs under: once it is lost, the job
    /// stops as if cancelled, with `environment.busy` naming the new holder.
    lease: Option<crate::lease::LeaseWatch>,
}

impl JobRunner {
    pub fn new(store: JobStore) -> Self {
        Self {
            store,
            heartbeat: Duration::from_secs(5),
            lease: None,
        }
    }

    /// The same runner, stopping its jobs when `lease` is lost.
    #[must_use]
    pub fn watching(mut self, lease: Option<crate::lease::LeaseWatch>) -> Self {
        self.lease = lease;
        self
    }

    /// Whether the lease this runner watches was lost: the caller must then
    /// write nothing more (another operator may be at work), not even undo.
    pub fn lease_lost(&self) -> bool {
        self.lease
            .as_ref()
            .is_some_and(crate::lease::LeaseWatch::is_lost)
    }

    /// Why a cancelled job stopped: the lost lease if it was lost, else the user.
    fn stop_error(&self) -> Error {
        self.lease
            .as_ref()
            .and_then(crate::lease::LeaseWatch::lost_error)
            .unwrap_or_else(cancelled)
    }

    /// Runs `steps` (one per planned step, in order) under `plan`.
    ///
    /// Stops at the first failing step; later steps are `Skipped`. The job
    /// record is written before the first step and after each one.
    pub async fn run(
        &self,
        plan: Plan,
        steps: Vec<Box<dyn Step>>,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<JobReport> {
        if steps.len() != plan.steps.len() {
            return Err(Error::internal(format!(
                "job '{}' has {} planned steps but {} runnable ones",
                plan.kind,
                plan.steps.len(),
                steps.len()
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.store.create(&id, &plan).await?;
        progress.event(&ProgressEvent::JobStarted {
            job_id: id.clone(),
            kind: plan.kind.clone(),
            steps: plan.steps.iter().map(|s| s.name.clone()).collect(),
        });

        // The heartbeat stops with this function, however it ends (error,
        // panic, or the future being dropped), so a dead job never looks alive.
        let _beat = AbortOnDrop(tokio::spawn(heartbeat(
            self.store.clone(),
            id.clone(),
            self.heartbeat,
        )));
        // A lost lease cancels the steps' token like the user would, so every
        // step's existing cancellation checks stop it too.
        let cancel = cancel.child_token();
        let _lost = self.lease.clone().map(|w| {
            let c = cancel.clone();
            AbortOnDrop(tokio::spawn(async move {
                w.token().cancelled().await;
                c.cancel();
            }))
        });
        match self
            .run_steps(&id, &plan, &steps, progress.as_ref(), &cancel)
            .await
        {
            Ok(report) => Ok(report),
            Err(e) => {
                // The state database failed mid-job: record that if it still can.
                let _ = self
                    .store
                    .finish(&id, JobState::Failed, Some(&e.to_wire()))
                    .await;
                Err(e)
            }
        }
    }

    async fn run_steps(
        &self,
        id: &str,
        plan: &Plan,
        steps: &[Box<dyn Step>],
        progress: &dyn Progress,
        cancel: &CancellationToken,
    ) -> Result<JobReport> {
        let id = id.to_owned();
        let cancel = cancel.clone();
        let mut report = JobReport {
            job_id: id.clone(),
            state: JobState::Running,
            error: None,
            steps: Vec::new(),
        };
        let mut failure: Option<(JobState, Error)> = None;
        for (index, (step, planned)) in steps.iter().zip(&plan.steps).enumerate() {
            if failure.is_some() {
                self.store
                    .step(&id, index, StepState::Skipped, None, None)
                    .await?;
                report
                    .steps
                    .push((planned.name.clone(), StepState::Skipped, None));
                continue;
            }
            if cancel.is_cancelled() {
                let e = self.stop_error();
                failure = Some((stopped_state(&e), e));
                self.store
                    .step(&id, index, StepState::Skipped, None, None)
                    .await?;
                report
                    .steps
                    .push((planned.name.clone(), StepState::Skipped, None));
                continue;
            }
            self.store
                .step(&id, index, StepState::Running, None, None)
                .await?;
            progress.event(&ProgressEvent::StepStarted {
                index,
                name: planned.name.clone(),
            });
            let cx = StepContext {
                index,
                progress,
                cancel: &cancel,
            };
            let outcome = tokio::select! {
                r = step.run(&cx) => r,
                _ = cancel.cancelled() => Err(self.stop_error()),
            };
            match outcome {
                Ok(v) => {
                    let state = if v.skipped {
                        StepState::Skipped
                    } else {
                        StepState::Completed
                    };
                    self.store
                        .step(&id, index, state, Some(v.evidence()), None)
                        .await?;
                    progress.event(&ProgressEvent::StepFinished {
                        index,
                        state,
                        evidence: Some(v.evidence().to_owned()),
                        error: None,
                    });
                    report
                        .steps
                        .push((planned.name.clone(), state, Some(v.evidence)));
                }
                Err(e) => {
                    // A step's own cancellation error under a lost lease
                    // says who took the environment over.
                    let e = if e.code() == ErrorCode::Cancelled {
                        self.lease
                            .as_ref()
                            .and_then(crate::lease::LeaseWatch::lost_error)
                            .unwrap_or(e)
                    } else {
                        e
                    };
                    let (job_state, step_state) = if e.code() == ErrorCode::Cancelled {
                        (JobState::Cancelled, StepState::Cancelled)
                    } else {
                        (JobState::Failed, StepState::Failed)
                    };
                    let wire = e.to_wire();
                    // The message carries the other side's answer (a server's
                    // error, the SSH reason); the causes add the driver's words.
                    tracing::warn!(category = "worker", job = %id, step = %planned.name, code = %e.code(), causes = ?e.causes(), hint = e.hint_text().unwrap_or(""), "job step failed: {}", e.message());
                    self.store
                        .step(&id, index, step_state, None, Some(&wire))
                        .await?;
                    progress.event(&ProgressEvent::StepFinished {
                        index,
                        state: step_state,
                        evidence: None,
                        error: Some(wire),
                    });
                    report.steps.push((planned.name.clone(), step_state, None));
                    failure = Some((job_state, e));
                }
            }
        }
        let (state, error) = match failure {
            None => (JobState::Succeeded, None),
            Some((s, e)) => (s, Some(e.to_wire())),
        };
        self.store.finish(&id, state, error.as_ref()).await?;
        progress.event(&ProgressEvent::JobFinished {
            job_id: id.clone(),
            state,
            error: error.clone(),
        });
        report.state = state;
        report.error = error;
        Ok(report)
    }
}

/// Keeps the job's heartbeat fresh while it runs.
async fn heartbeat(store: JobStore, id: String, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if store.heartbeat(&id).await.is_err() {
            tracing::warn!(category = "worker", job = %id, "job heartbeat could not be written");
        }
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests;

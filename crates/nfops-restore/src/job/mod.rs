//! The restore job, as a folder: [`plan`] (the dry run and its preflight
//! checks), then [`steps`], each checking its own result: check backup →
//! load shadow → verify shadow → swap (`steps/swap/`) → storage → the extra
//! steps the caller adds (cache, workers, integrity checks), run by
//! nfops-core's `JobRunner` (progress, cancel, crash-safe records). When any
//! step fails or the job is cancelled after the swap, the swap is rolled back
//! to the safety schema; before it, the shadow is dropped and the target was
//! never touched. [`RestoreOutcome::database_state`] says which.

mod outcome;
pub mod plan;
mod plan_objects;
pub mod steps;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use age::x25519;
use nfops_core::config::Environment;
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{
    CancellationToken, JobReport, JobRunner, JobState, PlannedStep, Progress, Step,
};
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::route::Route;
use nfops_mysql::Target;
use serde::Serialize;

use crate::source::BackupSource;
use steps::check_backup::CheckBackupStep;
use steps::load::step::LoadStep;
use steps::load::{self as load, TableCheck};
use steps::objects::ObjectsStep;
use steps::swap;
use steps::swap::step::SwapStep;
use steps::verify::VerifyStep;

pub use plan::{plan_restore, PlannedTable, PreflightCheck, RestorePlan};

/// Everything a restore of one environment's database needs, resolved by the
/// caller (config, keyring, backup folder).
#[derive(Clone)]
pub struct RestoreRequest {
    pub environment: String,
    pub env: Environment,
    pub creds: Arc<dyn CredentialSource>,
    pub known_hosts: PathBuf,
    pub source: BackupSource,
    pub identity: x25519::Identity,
    /// Only these tables (None: the whole database, views and routines included).
    pub tables: Option<Vec<String>>,
    /// Restore into this database instead of the configured one (drills).
    pub database: Option<String>,
    /// Parallel loading sessions.
    pub connections: usize,
    /// How long safety schemas are kept after a successful restore.
    pub safety_retention: chrono::Duration,
    /// Buckets to bring back to these snapshots (empty: storage not in scope).
    pub snapshots: Vec<nfops_storage::BucketSnapshot>,
    /// The operator chose to restore a backup taken of another environment
    /// (shown in the plan); without it such a backup is refused.
    pub allow_other_environment: bool,
    /// The operator chose to leave the environment's buckets as they are:
    /// `snapshots` is empty, the plan says "left as it is" and the storage
    /// step is reported skipped with that reason.
    pub without_storage: bool,
}

/// Where the target database ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DatabaseState {
    /// The target is as it was: the run stopped before the swap moved
    /// anything, or a blocked swap gave up (checked on the server, never assumed).
    Untouched,
    /// The backup's tables are live; the previous ones are in the safety schema.
    Restored,
    /// The swap happened, a later step failed, and the previous tables are live again.
    RolledBack,
    /// Neither untouched nor cleanly restored or rolled back (a roll back
    /// failed, or triggers could not be put back): the detail names what is
    /// live, and the shadow and safety schemas are kept.
    NeedsAttention,
}

/// How a restore ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreOutcome {
    pub job: JobReport,
    pub backup_id: String,
    pub database: String,
    pub database_state: DatabaseState,
    /// Words for the operator: where the data is now.
    pub state_detail: String,
    pub safety_schema: Option<String>,
    pub tables: Vec<TableCheck>,
    pub seconds: f64,
}

/// Shared between the steps of one run.
pub struct RestoreRun {
    pub req: RestoreRequest,
    pub tables: Vec<String>,
    pub route: tokio::sync::Mutex<Option<Route>>,
    pub target: Mutex<Option<Target>>,
    /// What the swap got to (record, RENAME done), for settling after a failure.
    pub ledger: swap::Ledger,
    /// The server lock on the database, held from before the shadow is
    /// created until the job has settled.
    pub claim: tokio::sync::Mutex<Option<steps::claim::DatabaseClaim>>,
    pub checks: Mutex<Vec<TableCheck>>,
    /// This job's shadow and safety schemas (names unique to the job).
    pub shadow: String,
    pub safety: String,
    /// Buckets as they were before the storage step changed them.
    pub storage_before: Arc<Mutex<Vec<nfops_storage::BucketSnapshot>>>,
}

impl RestoreRun {
    pub(crate) fn target(&self) -> Result<Target> {
        self.target
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::internal("restore step ran before the target was connected"))
    }
}

/// Runs the restore under `plan` (from [`plan_restore`]), with `extra` steps
/// (and their planned descriptions) after the swap.
///
/// A failed or cancelled run leaves the target untouched or rolled back;
/// the outcome says which. Errors: only when the job could not be recorded.
pub async fn run_restore(
    req: RestoreRequest,
    plan: &RestorePlan,
    extra: Vec<(PlannedStep, Box<dyn Step>)>,
    runner: &JobRunner,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
) -> Result<RestoreOutcome> {
    let started = Instant::now();
    let tables = load::scope_tables(&req.source, req.tables.as_deref())?;
    let db = req
        .database
        .clone()
        .or_else(|| req.env.database.as_ref().map(|d| d.name.clone()))
        .unwrap_or_default();
    let tag = steps::session::job_tag();
    let run = Arc::new(RestoreRun {
        shadow: load::shadow_schema(&db, &tag),
        safety: load::safety_schema(&db, chrono::Utc::now(), &tag),
        req,
        tables,
        route: tokio::sync::Mutex::new(None),
        target: Mutex::new(None),
        ledger: swap::Ledger::default(),
        claim: tokio::sync::Mutex::new(None),
        checks: Mutex::new(vec![]),
        storage_before: Arc::new(Mutex::new(vec![])),
    });
    let mut job_plan = plan.plan.clone();
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(CheckBackupStep(run.clone())),
        Box::new(LoadStep(run.clone())),
        Box::new(VerifyStep(run.clone())),
        Box::new(SwapStep(run.clone())),
        Box::new(ObjectsStep(run.clone())),
    ];
    if steps::replicas::configured(&run.req) {
        steps.push(Box::new(steps::replicas::ReplicasStep(run.clone())));
    }
    if !run.req.snapshots.is_empty() {
        let storage = run.req.env.storage.clone().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "environment '{}' has no storage to restore into",
                    run.req.environment
                ),
            )
        })?;
        steps.push(Box::new(crate::storage::StorageStep {
            storage,
            creds: run.req.creds.clone(),
            snapshots: run.req.snapshots.clone(),
            before: run.storage_before.clone(),
        }));
    }
    if let Some(skip) = crate::storage::StorageLeftAlone::of(&run.req) {
        steps.push(Box::new(skip));
    }
    for (p, s) in extra {
        job_plan.steps.push(p);
        steps.push(s);
    }
    let job = runner.run(job_plan, steps, progress, cancel).await;
    let target = run.target.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let job = match job {
        Ok(j) => j,
        Err(e) => {
            if let Some(t) = &target {
                if run.ledger.record().is_none() {
                    let _ = load::drop_shadow(t, &run.shadow).await;
                }
            }
            release(&run).await;
            return Err(e);
        }
    };
    let (state, mut detail, safety) = outcome::settle(&run, plan, &db, &job, target).await;
    // Only now may another restore of this database start.
    release(&run).await;
    if job.state != JobState::Succeeded && runner.lease_lost() {
        detail.push_str("; storage was left as the restore left it: this process lost the environment's lease to another operator, so it writes nothing more (put it back from the buckets' versions once they are done)");
    } else if job.state != JobState::Succeeded {
        outcome::put_storage_back(&run, &mut detail).await;
    }
    let tables = run.checks.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(RestoreOutcome {
        job,
        backup_id: plan.backup_id.clone(),
        database: db,
        database_state: state,
        state_detail: detail,
        safety_schema: safety,
        tables,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Releases the database lock and closes the route (tunnel) of the run.
async fn release(run: &RestoreRun) {
    if let Some(c) = run.claim.lock().await.take() {
        c.release().await;
    }
    *run.route.lock().await = None;
}

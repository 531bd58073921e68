//! The restore job, as a folder: [`plan`] (the dry run and its preflight
//! checks), then [`steps`], each checking its own result: check backup →
//! load shadow → verify shadow → swap (`steps/swap/`) → storage → the extra
//! steps the caller adds (cache, workers, integrity checks), run by
//! nfops-core's `JobRunner` (progress, cancel, crash-safe records). When any
//! step fails or the job is cancelled after the swap, the swap is rolled back
//! to the safety schema; before it, the shadow is dropped and the target was
//! never touched. [`RestoreOutcome::database_state`] says which.

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
    CancellationToken, JobReport, JobRunner, JobState, PlannedStep, Progress, Step, StepState,
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
use steps::swap::step::SwapStep;
use steps::swap::{self as swap, SwapRecord};
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
}

/// Where the target database ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DatabaseState {
    /// The target was never touched (failed or cancelled before the swap).
    Untouched,
    /// The backup's tables are live; the previous ones are in the safety schema.
    Restored,
    /// The swap happened, a later step failed, and the previous tables are live again.
    RolledBack,
    /// The swap happened and rolling it back failed: the previous tables are
    /// in the safety schema (named in the outcome).
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
    pub swap: Mutex<Option<SwapRecord>>,
    pub checks: Mutex<Vec<TableCheck>>,
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
    let run = Arc::new(RestoreRun {
        safety: load::safety_schema(&db, chrono::Utc::now()),
        req,
        tables,
        route: tokio::sync::Mutex::new(None),
        target: Mutex::new(None),
        swap: Mutex::new(None),
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
    for (p, s) in extra {
        job_plan.steps.push(p);
        steps.push(s);
    }
    let job = runner.run(job_plan, steps, progress, cancel).await;
    let target = run.target.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let record = run.swap.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let job = match job {
        Ok(j) => j,
        Err(e) => {
            if let Some(t) = &target {
                if record.is_none() {
                    load::drop_shadow(t, &load::shadow_schema(&t.database)).await;
                }
            }
            *run.route.lock().await = None;
            return Err(e);
        }
    };
    let (state, mut detail, safety) = settle(&run, plan, &db, &job, target, record).await;
    *run.route.lock().await = None;
    if job.state != JobState::Succeeded {
        put_storage_back(&run, &mut detail).await;
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

/// Where the run left the database, in the operator's words: restored (and
/// old safety schemas pruned), rolled back, needing attention, or untouched
/// (the shadow dropped).
async fn settle(
    run: &RestoreRun,
    plan: &RestorePlan,
    db: &str,
    job: &JobReport,
    target: Option<Target>,
    record: Option<SwapRecord>,
) -> (DatabaseState, String, Option<String>) {
    // The step that stopped the run, named in the operator's words below.
    let stopped_at = job
        .steps
        .iter()
        .find(|s| matches!(s.1, StepState::Failed | StepState::Cancelled))
        .map_or_else(
            || "a step after the swap".to_owned(),
            |s| format!("the {} step", s.0),
        );
    match (&target, record, job.state) {
        (Some(t), Some(r), JobState::Succeeded) => {
            if let Ok(dropped) = swap::prune_safety(t, run.req.safety_retention).await {
                for d in dropped {
                    tracing::info!(category = "worker", schema = %d, "old safety schema dropped (retention)");
                }
            }
            (
                DatabaseState::Restored,
                format!(
                    "backup {} is live in database '{}'; the previous tables are kept in schema {} for {} day(s)",
                    plan.backup_id,
                    t.database,
                    r.safety,
                    run.req.safety_retention.num_days()
                ),
                Some(r.safety),
            )
        }
        (Some(t), Some(r), _) => match swap::roll_back(t, &r).await {
            Ok(()) => (
                DatabaseState::RolledBack,
                format!(
                    "{stopped_at} did not complete after the swap: database '{}' was rolled back to its previous tables",
                    t.database
                ),
                None,
            ),
            Err(e) => (
                DatabaseState::NeedsAttention,
                format!(
                    "{stopped_at} did not complete after the swap and rolling back failed ({}): the previous tables are in schema {}; run `nfops restore --roll-back` when the server is back",
                    e.message(),
                    r.safety
                ),
                Some(r.safety),
            ),
        },
        (t, _, _) => {
            if let Some(t) = t {
                load::drop_shadow(t, &load::shadow_schema(&t.database)).await;
            }
            (
                DatabaseState::Untouched,
                format!(
                    "database '{db}' was not touched: the restore stopped before the swap{}",
                    if job.state == JobState::Succeeded { "" } else { " (the shadow schema was dropped)" }
                ),
                None,
            )
        }
    }
}

/// After a failed run: buckets the storage step changed go back to how they
/// were; `detail` says whether that worked.
async fn put_storage_back(run: &RestoreRun, detail: &mut String) {
    let before = run
        .storage_before
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if !before.is_empty() {
        if let Some(st) = run.req.env.storage.as_ref() {
            match crate::storage::put_back(st, run.req.creds.as_ref(), &before).await {
                Ok(n) => detail.push_str(&format!("; storage was put back as it was before the restore ({n} key(s) changed back)")),
                Err(e) => detail.push_str(&format!(
                    "; storage may be partly restored: putting it back as it was failed ({}); run the restore again or restore the buckets from their versions",
                    e.message()
                )),
            }
        }
    }
}

//! The Restore wizard and the Integrity page: plan (with preflight), run with
//! live progress over a channel and cancel, integrity checks and reports,
//! drills.

use tauri::ipc::Channel;
use tauri::State;

use super::dto::{
    DrillRecord, DrillStaleness, IntegrityReport, ReportListing, RestoreOptions, RestorePlanView,
    RestoreResult,
};
use crate::failure::Failure;
use crate::jobs::{channel_progress, JobEvent, JobKey, RunningJobs};
use crate::AppState;

/// The plan of restoring `backup` into `env` (all tables, or `tables`);
/// `other_environment`: the user allows a backup of another environment;
/// `without_storage`: the environment's buckets are left as they are.
#[tauri::command]
#[specta::specta]
pub async fn restore_plan(
    state: State<'_, AppState>,
    env: String,
    backup: String,
    tables: Option<Vec<String>>,
    other_environment: bool,
    without_storage: bool,
) -> Result<RestorePlanView, Failure> {
    let console = state.console()?;
    let plan = console
        .restore_plan_for(&env, &backup, tables, other_environment, without_storage)
        .await?;
    let e = console.config()?.environment(&env)?.clone();
    Ok(RestorePlanView::new(plan, &e))
}

/// Runs the restore; `confirm` is the environment's name typed by the user;
/// `options`: another environment's backup allowed, storage left as it is.
/// (The app handle gives both states: tauri-specta takes at most 10 arguments.)
#[tauri::command]
#[specta::specta]
#[allow(clippy::too_many_arguments)] // one argument per wizard choice; the UI names them
pub async fn restore_run(
    app: tauri::AppHandle,
    env: String,
    backup: String,
    tables: Option<Vec<String>>,
    cache: bool,
    workers: bool,
    checks: bool,
    options: RestoreOptions,
    confirm: Option<String>,
    on_event: Channel<JobEvent>,
) -> Result<RestoreResult, Failure> {
    use tauri::Manager;
    let state = app.state::<AppState>();
    let running = app.state::<RunningJobs>();
    let console = state.console()?;
    let slot = running.claim(JobKey::Restore(env.clone()))?;
    let scope = nfops_ops::RestoreScope {
        cache,
        workers,
        checks,
        other_environment: options.other_environment,
        without_storage: options.without_storage,
    };
    let run = console
        .restore_run(
            &env,
            &backup,
            tables,
            scope,
            confirm.as_deref(),
            channel_progress(on_event),
            slot.cancel_token(),
        )
        .await?;
    Ok(run.into())
}

/// Asks the running restore of `env` to stop; false when none runs.
#[tauri::command]
#[specta::specta]
pub async fn restore_cancel(running: State<'_, RunningJobs>, env: String) -> Result<bool, Failure> {
    Ok(running.cancel(&JobKey::Restore(env)))
}

/// Runs the integrity checks of `env` (against `backup` when given); the report is saved.
#[tauri::command]
#[specta::specta]
pub async fn integrity_check(
    state: State<'_, AppState>,
    env: String,
    backup: Option<String>,
) -> Result<IntegrityReport, Failure> {
    let (report, _saved) = state.console()?.check(&env, backup.as_deref()).await?;
    Ok(report.into())
}

/// Saved integrity reports, newest first.
#[tauri::command]
#[specta::specta]
pub async fn integrity_reports(state: State<'_, AppState>) -> Result<Vec<ReportListing>, Failure> {
    Ok(state
        .console()?
        .check_reports()?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Restore drills of `env` (all when None), newest first.
#[tauri::command]
#[specta::specta]
pub async fn drills_list(
    state: State<'_, AppState>,
    env: Option<String>,
) -> Result<Vec<DrillRecord>, Failure> {
    Ok(state
        .console()?
        .drills(env.as_deref())
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Runs a restore drill of `env`: its newest good backup restored into a
/// scratch database, checked and timed, the scratch dropped; the record
/// says whether it passed. Production is never written: the drill's only
/// target is the scratch database.
#[tauri::command]
#[specta::specta]
pub async fn drill_run(
    state: State<'_, AppState>,
    running: State<'_, RunningJobs>,
    env: String,
    on_event: Channel<JobEvent>,
) -> Result<DrillRecord, Failure> {
    let console = state.console()?;
    let slot = running.claim(JobKey::Drill(env.clone()))?;
    let (drill, _outcome, _report) = console
        .drill(&env, channel_progress(on_event), slot.cancel_token())
        .await?;
    Ok(drill.into())
}

/// Asks the running drill of `env` to stop; false when none runs.
#[tauri::command]
#[specta::specta]
pub async fn drill_cancel(running: State<'_, RunningJobs>, env: String) -> Result<bool, Failure> {
    Ok(running.cancel(&JobKey::Drill(env)))
}

/// Whether each environment's last successful restore drill is older than
/// its `backup.drill_max_age_days` (or there is none), for the Overview.
#[tauri::command]
#[specta::specta]
pub async fn drills_staleness(state: State<'_, AppState>) -> Result<Vec<DrillStaleness>, Failure> {
    Ok(state
        .console()?
        .drill_staleness_all()
        .await?
        .into_iter()
        .map(|(environment, s)| DrillStaleness::new(environment, s))
        .collect())
}

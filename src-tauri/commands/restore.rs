//! The Restore wizard and the Integrity page: plan (with preflight), run with
//! live progress over a channel and cancel, integrity checks and reports,
//! drills.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nfops_core::jobs::{CancellationToken, Progress, ProgressEvent, Throttled};
use nfops_core::{Error, ErrorCode};
use tauri::ipc::Channel;
use tauri::State;

use crate::wire::{Failure, JobEvent};
use crate::wire_restore::{
    DrillRecord, DrillStaleness, IntegrityReport, ReportListing, RestorePlanView, RestoreResult,
};
use crate::AppState;

/// Cancel tokens of the restores running now, by environment.
#[derive(Default)]
pub struct RunningRestores(Mutex<HashMap<String, CancellationToken>>);

impl RunningRestores {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct ChannelProgress(Channel<JobEvent>);

impl Progress for ChannelProgress {
    fn event(&self, event: &ProgressEvent) {
        let _ = self.0.send(JobEvent::from(event));
    }
}

/// The plan of restoring `backup` into `env` (all tables, or `tables`).
#[tauri::command]
#[specta::specta]
pub async fn restore_plan(
    state: State<'_, AppState>,
    env: String,
    backup: String,
    tables: Option<Vec<String>>,
) -> Result<RestorePlanView, Failure> {
    let console = state.console()?;
    let plan = console.restore_plan(&env, &backup, tables).await?;
    let e = console.config()?.environment(&env)?.clone();
    Ok(RestorePlanView::new(plan, &e))
}

/// Runs the restore; `confirm` is the environment's name typed by the user.
#[tauri::command]
#[specta::specta]
#[allow(clippy::too_many_arguments)]
pub async fn restore_run(
    state: State<'_, AppState>,
    running: State<'_, RunningRestores>,
    env: String,
    backup: String,
    tables: Option<Vec<String>>,
    cache: bool,
    workers: bool,
    checks: bool,
    confirm: Option<String>,
    on_event: Channel<JobEvent>,
) -> Result<RestoreResult, Failure> {
    let console = state.console()?;
    let cancel = CancellationToken::new();
    {
        let mut r = running.lock();
        if r.contains_key(&env) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("a restore of {env} is already running"),
            )
            .hint("Wait for it to finish, or cancel it.")
            .into());
        }
        r.insert(env.clone(), cancel.clone());
    }
    let progress = Arc::new(Throttled::new(
        ChannelProgress(on_event),
        Duration::from_millis(200),
    ));
    let scope = nfops_ops::RestoreScope {
        cache,
        workers,
        checks,
    };
    let result = console
        .restore_run(
            &env,
            &backup,
            tables,
            scope,
            confirm.as_deref(),
            progress,
            cancel,
        )
        .await;
    running.lock().remove(&env);
    Ok(result?.into())
}

/// Asks the running restore of `env` to stop; false when none runs.
#[tauri::command]
#[specta::specta]
pub async fn restore_cancel(
    running: State<'_, RunningRestores>,
    env: String,
) -> Result<bool, Failure> {
    Ok(match running.lock().get(&env) {
        Some(t) => {
            t.cancel();
            true
        }
        None => false,
    })
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

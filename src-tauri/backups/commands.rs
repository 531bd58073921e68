//! The Backups page: the catalog per environment, "Back up now" with live
//! progress over a channel, and cancel.

use tauri::ipc::Channel;
use tauri::State;

use super::dto::{BackupCatalog, BackupRunResult, BackupStaleness, ForgetView};
use crate::failure::Failure;
use crate::jobs::{channel_progress, JobEvent, JobKey, RunningJobs};
use crate::AppState;

/// The catalog of `env` (refreshed from its destination) and its staleness.
#[tauri::command]
#[specta::specta]
pub async fn backups_list(
    state: State<'_, AppState>,
    env: String,
) -> Result<BackupCatalog, Failure> {
    let console = state.console()?;
    let staleness = console.backup_staleness(&env).await?;
    let entries = console.catalog().cached(&env).await?;
    Ok(BackupCatalog::new(env, entries, staleness))
}

/// Takes a backup of `env` now; progress goes to `on_event` (at most ~5/s).
#[tauri::command]
#[specta::specta]
pub async fn backup_run(
    state: State<'_, AppState>,
    running: State<'_, RunningJobs>,
    env: String,
    on_event: Channel<JobEvent>,
) -> Result<BackupRunResult, Failure> {
    let console = state.console()?;
    let slot = running.claim(JobKey::Backup(env.clone()))?;
    let (_plan, outcome) = console
        .backup_run(&env, channel_progress(on_event), slot.cancel_token())
        .await?;
    Ok(outcome.into())
}

/// Asks the running backup of `env` to stop; false when none runs.
#[tauri::command]
#[specta::specta]
pub async fn backup_cancel(running: State<'_, RunningJobs>, env: String) -> Result<bool, Failure> {
    Ok(running.cancel(&JobKey::Backup(env)))
}

/// Staleness of every environment's backups, for the Overview's warning.
#[tauri::command]
#[specta::specta]
pub async fn backups_staleness(
    state: State<'_, AppState>,
) -> Result<Vec<BackupStaleness>, Failure> {
    Ok(state
        .console()?
        .backup_staleness_all()
        .await?
        .into_iter()
        .map(|(environment, s)| BackupStaleness::new(environment, s))
        .collect())
}

/// The retention plan of `env` (local backups and offsite copies): what
/// `forget` would delete and why. Deletes nothing.
#[tauri::command]
#[specta::specta]
pub async fn backup_forget_plan(
    state: State<'_, AppState>,
    env: String,
) -> Result<ForgetView, Failure> {
    let o = state.console()?.backup_forget(&env, false, None).await?;
    Ok(ForgetView::new(env, o))
}

/// Applies the plan the user reviewed: deletes only when a fresh plan
/// forgets exactly `forget_ids` (else `input.invalid`, nothing deleted).
#[tauri::command]
#[specta::specta]
pub async fn backup_forget_apply(
    state: State<'_, AppState>,
    env: String,
    forget_ids: Vec<String>,
    confirm: Option<String>,
) -> Result<ForgetView, Failure> {
    let o = state
        .console()?
        .backup_forget_reviewed(&env, &forget_ids, confirm.as_deref())
        .await?;
    Ok(ForgetView::new(env, o))
}

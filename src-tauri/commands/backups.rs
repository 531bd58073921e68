//! The Backups page: the catalog per environment, "Back up now" with live
//! progress over a channel, and cancel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nfops_core::jobs::{CancellationToken, Progress, ProgressEvent, Throttled};
use nfops_core::{Error, ErrorCode};
use tauri::ipc::Channel;
use tauri::State;

use crate::wire::{BackupCatalog, BackupRunResult, BackupStaleness, Failure, ForgetView, JobEvent};
use crate::AppState;

/// Cancel tokens of the backups running now, by environment (one at a time each).
#[derive(Default)]
pub struct RunningBackups(Mutex<HashMap<String, CancellationToken>>);

impl RunningBackups {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Forwards job progress to the page.
struct ChannelProgress(Channel<JobEvent>);

impl Progress for ChannelProgress {
    fn event(&self, event: &ProgressEvent) {
        // A closed page drops events; the job goes on and is recorded.
        let _ = self.0.send(JobEvent::from(event));
    }
}

/// The catalog of `env` (refreshed from its destination) and its staleness.
#[tauri::command]
#[specta::specta]
pub async fn backups_list(
    state: State<'_, AppState>,
    env: String,
) -> Result<BackupCatalog, Failure> {
    let console = state.console()?;
    let s = console.backup_staleness(&env).await?;
    let entries = console.catalog().cached(&env).await?;
    Ok(BackupCatalog {
        environment: env,
        entries: entries.into_iter().map(Into::into).collect(),
        stale: s.stale,
        max_staleness_hours: s.max_staleness_hours,
        newest_good: s.newest_good,
        newest_good_age_hours: s.age_hours,
    })
}

/// Takes a backup of `env` now; progress goes to `on_event` (at most ~5/s).
#[tauri::command]
#[specta::specta]
pub async fn backup_run(
    state: State<'_, AppState>,
    running: State<'_, RunningBackups>,
    env: String,
    on_event: Channel<JobEvent>,
) -> Result<BackupRunResult, Failure> {
    let console = state.console()?;
    let cancel = CancellationToken::new();
    {
        let mut r = running.lock();
        if r.contains_key(&env) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("a backup of {env} is already running"),
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
    let result = console.backup_run(&env, progress, cancel).await;
    running.lock().remove(&env);
    Ok(result?.1.into())
}

/// Asks the running backup of `env` to stop; false when none runs.
#[tauri::command]
#[specta::specta]
pub async fn backup_cancel(
    running: State<'_, RunningBackups>,
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

/// Staleness of every environment's backups, for the Overview's warning.
#[tauri::command]
#[specta::specta]
pub async fn backups_staleness(
    state: State<'_, AppState>,
) -> Result<Vec<BackupStaleness>, Failure> {
    let console = state.console()?;
    Ok(console
        .backup_staleness_all()
        .await?
        .into_iter()
        .map(|(environment, s)| match s {
            Ok(s) => BackupStaleness {
                environment,
                stale: s.stale,
                max_staleness_hours: s.max_staleness_hours,
                newest_good: s.newest_good,
                age_hours: s.age_hours,
                error: None,
            },
            Err(e) => BackupStaleness {
                environment,
                stale: true,
                max_staleness_hours: 0,
                newest_good: None,
                age_hours: None,
                error: Some(e.into()),
            },
        })
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
    let o = state.console()?.backup_forget(&env, false).await?;
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
) -> Result<ForgetView, Failure> {
    let o = state
        .console()?
        .backup_forget_reviewed(&env, &forget_ids)
        .await?;
    Ok(ForgetView::new(env, o))
}

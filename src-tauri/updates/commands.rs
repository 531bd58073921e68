//! Settings → Updates: status, check, download (progress over a channel),
//! install (refused while jobs run, or for a copy not installed from a
//! package), relaunch, and the daily-check switch.

use std::time::{Duration, Instant};

use nfops_core::{Error, ErrorCode};
use tauri::ipc::Channel;
use tauri::{AppHandle, State, Url};

use super::dto::{DownloadEvent, UpdateInfo, UpdateStatus};
use super::engine::{self, Found, Source};
use super::state::{self, Prefs, UpdateState};
use crate::failure::Failure;
use crate::jobs::RunningJobs;
use crate::AppState;

/// Status of this copy and of the last check.
#[tauri::command]
#[specta::specta]
pub async fn update_status(
    app: AppHandle,
    state: State<'_, AppState>,
    updates: State<'_, UpdateState>,
) -> Result<UpdateStatus, Failure> {
    let prefs = prefs_of(&state);
    let endpoints = match endpoints_of(&state)? {
        e if e.is_empty() => builtin_endpoints(&app),
        e => e.iter().map(|u| u.to_string()).collect(),
    };
    let session = updates.inner.lock().await;
    Ok(UpdateStatus {
        current_version: app.package_info().version.to_string(),
        package_kind: state::package_kind(),
        install_blocked: state::install_blocked(),
        endpoints,
        daily_check: prefs.daily_check,
        daily_check_off: super::daily::off_for_this_run().map(str::to_owned),
        last_check: prefs.last_check,
        available: session.found.as_ref().map(info_of),
        downloaded: session.bytes.is_some(),
        installed: session.installed,
    })
}

/// Asks the update server; None when this is the newest version.
#[tauri::command]
#[specta::specta]
pub async fn update_check(
    app: AppHandle,
    state: State<'_, AppState>,
    updates: State<'_, UpdateState>,
) -> Result<Option<UpdateInfo>, Failure> {
    Ok(check_now(&app, &state, &updates).await?)
}

/// The check the button and the daily check share: remembers what it found
/// and when it ran.
pub async fn check_now(
    app: &AppHandle,
    state: &AppState,
    updates: &UpdateState,
) -> Result<Option<UpdateInfo>, Error> {
    let source = Source::new(endpoints_of(state)?);
    let result = engine::check(app, &source).await;
    // Only an answered check counts: an offline laptop retries within the hour.
    if let (Ok(console), Ok(_)) = (state.console(), &result) {
        let mut prefs = prefs_of(state);
        prefs.last_check = Some(chrono::Utc::now().to_rfc3339());
        if let Err(e) = prefs.save(&console.paths().state_dir) {
            tracing::warn!(category = "error", code = %e.code(), "could not save the update check time: {e}");
        }
    }
    let found = result?;
    let info = found.as_ref().map(info_of);
    let mut session = updates.inner.lock().await;
    let same = match (&session.found, &found) {
        (Some(a), Some(b)) => a.update.version == b.update.version,
        _ => false,
    };
    if !same {
        // A different (or no) release: the old download no longer applies.
        session.bytes = None;
        session.installed = false;
        session.found = found;
    }
    tracing::info!(category = "application", available = ?info.as_ref().map(|i| &i.version), "update check done");
    Ok(info)
}

/// Downloads the found update and verifies its signature; keeps the bytes
/// in memory for Install. Allowed while jobs run (nothing is replaced).
#[tauri::command]
#[specta::specta]
pub async fn update_download(
    updates: State<'_, UpdateState>,
    on_event: Channel<DownloadEvent>,
) -> Result<(), Failure> {
    let found = {
        let mut session = updates.inner.lock().await;
        if session.downloading {
            return Err(
                Error::new(ErrorCode::InvalidInput, "the update is already downloading")
                    .hint("Wait for it to finish.")
                    .into(),
            );
        }
        let Some(found) = session.found.clone() else {
            return Err(no_update().into());
        };
        session.downloading = true;
        found
    };
    let result = download_throttled(&found, &on_event).await;
    let mut session = updates.inner.lock().await;
    session.downloading = false;
    let bytes = result?;
    let still_offered = session
        .found
        .as_ref()
        .is_some_and(|f| f.update.version == found.update.version);
    if still_offered {
        session.bytes = Some(bytes);
    }
    Ok(())
}

/// Progress at most every 200 ms, like job progress; the last always goes.
async fn download_throttled(
    found: &Found,
    channel: &Channel<DownloadEvent>,
) -> Result<Vec<u8>, Error> {
    let mut last_sent: Option<Instant> = None;
    let mut last = (0u64, None);
    let bytes = engine::download(found, |done, total| {
        last = (done, total);
        if last_sent.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) {
            last_sent = Some(Instant::now());
            let _ = channel.send(event(done, total));
        }
    })
    .await?;
    let _ = channel.send(event(last.0.max(bytes.len() as u64), last.1));
    Ok(bytes)
}

fn event(done: u64, total: Option<u64>) -> DownloadEvent {
    DownloadEvent {
        downloaded_bytes: done as f64,
        total_bytes: total.map(|t| t as f64),
    }
}

/// Installs the downloaded update. Refused for a copy not installed from a
/// package, and while jobs of this app run (named in the error).
#[tauri::command]
#[specta::specta]
pub async fn update_install(
    state: State<'_, AppState>,
    jobs: State<'_, RunningJobs>,
    updates: State<'_, UpdateState>,
) -> Result<(), Failure> {
    state::ensure_packaged()?;
    state::ensure_idle(&jobs, &state).await?;
    let (found, bytes) = {
        let session = updates.inner.lock().await;
        match (&session.found, &session.bytes) {
            (Some(f), Some(b)) => (f.clone(), b.clone()),
            (None, _) => return Err(no_update().into()),
            (Some(_), None) => {
                return Err(
                    Error::new(ErrorCode::InvalidInput, "the update is not downloaded yet")
                        .hint("Click Download first.")
                        .into(),
                )
            }
        }
    };
    let version = found.update.version.clone();
    // pkexec/sudo dpkg -i takes seconds and may wait for a password dialog.
    tauri::async_runtime::spawn_blocking(move || engine::install(&found, &bytes))
        .await
        .map_err(|e| Error::internal(format!("the install task failed: {e}")))??;
    updates.inner.lock().await.installed = true;
    tracing::info!(category = "application", version = %version, "update installed; relaunch to run it");
    Ok(())
}

/// Restarts the app (after Install): the new version starts.
#[tauri::command]
#[specta::specta]
pub fn update_relaunch(app: AppHandle) {
    app.restart();
}

/// Turns the daily background check on or off for this user.
#[tauri::command]
#[specta::specta]
pub fn update_set_daily_check(state: State<'_, AppState>, on: bool) -> Result<(), Failure> {
    let console = state.console()?;
    let mut prefs = Prefs::load(&console.paths().state_dir);
    prefs.daily_check = on;
    Ok(prefs.save(&console.paths().state_dir)?)
}

/// The user's switches (defaults when the console did not start).
pub fn prefs_of(state: &AppState) -> Prefs {
    state
        .console()
        .map(|c| Prefs::load(&c.paths().state_dir))
        .unwrap_or_default()
}

/// `NFOPS_UPDATE_ENDPOINT` (tests; comma-separated), else `[updates]
/// endpoints` of environments.toml (a company mirror), else empty: the
/// `plugins.updater.endpoints` built into the app.
fn endpoints_of(state: &AppState) -> Result<Vec<Url>, Error> {
    let listed: Vec<String> = match std::env::var("NFOPS_UPDATE_ENDPOINT") {
        Ok(v) if !v.trim().is_empty() => v.split(',').map(|s| s.trim().to_owned()).collect(),
        _ => match state.console().ok().and_then(|c| c.config().ok()) {
            Some(config) => config.update_endpoints().to_vec(),
            None => Vec::new(),
        },
    };
    listed
        .iter()
        .map(|s| {
            Url::parse(s).map_err(|e| {
                Error::new(
                    ErrorCode::ConfigInvalid,
                    format!("update endpoint {s} is not a URL: {e}"),
                )
                .hint("Fix [updates] endpoints in environments.toml (or NFOPS_UPDATE_ENDPOINT).")
            })
        })
        .collect()
}

fn builtin_endpoints(app: &AppHandle) -> Vec<String> {
    app.config()
        .plugins
        .0
        .get("updater")
        .and_then(|u| u.get("endpoints"))
        .and_then(|e| e.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn info_of(found: &Found) -> UpdateInfo {
    let u = &found.update;
    UpdateInfo {
        version: u.version.clone(),
        current_version: u.current_version.clone(),
        notes: u.body.clone(),
        date: u
            .raw_json
            .get("pub_date")
            .and_then(|d| d.as_str())
            .map(str::to_owned),
        size_bytes: found.size.map(|s| s as f64),
    }
}

fn no_update() -> Error {
    Error::new(
        ErrorCode::InvalidInput,
        "no update was found to download or install",
    )
    .hint("Click Check now first.")
}

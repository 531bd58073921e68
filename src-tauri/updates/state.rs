//! What the Updates section remembers: the found update and its verified
//! bytes for the life of the app, and per user (a small file next to
//! state.db) whether the daily check runs and when it last ran.
//!
//! Also the two refusals of Install: not installed from a package, and jobs
//! of this app still running.

use std::path::{Path, PathBuf};

use nfops_core::{Error, ErrorCode};
use serde::{Deserialize, Serialize};

use super::engine::Found;
use crate::jobs::RunningJobs;
use crate::AppState;

/// The Updates state of this app run (managed Tauri state).
#[derive(Default)]
pub struct UpdateState {
    pub inner: tokio::sync::Mutex<Session>,
}

/// The found update, its downloaded bytes, whether it was installed.
#[derive(Default)]
pub struct Session {
    pub found: Option<Found>,
    pub bytes: Option<Vec<u8>>,
    pub installed: bool,
    pub downloading: bool,
}

/// The per-user switches, in `<state dir>/updates.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prefs {
    pub daily_check: bool,
    /// RFC 3339.
    #[serde(default)]
    pub last_check: Option<String>,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            daily_check: true,
            last_check: None,
        }
    }
}

impl Prefs {
    fn file(state_dir: &Path) -> PathBuf {
        state_dir.join("updates.json")
    }

    /// The saved switches; defaults when none were saved (or the file is
    /// unreadable: a lost preference is not worth refusing updates over).
    pub fn load(state_dir: &Path) -> Self {
        std::fs::read(Self::file(state_dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Saves through a temporary file and a rename: never half-written.
    pub fn save(&self, state_dir: &Path) -> Result<(), Error> {
        let path = Self::file(state_dir);
        let tmp = state_dir.join("updates.json.tmp");
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::internal(format!("encoding update settings: {e}")))?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io(format!("saving {}", path.display()), e))
    }
}

/// The package this copy was installed from (`deb`, `rpm`, `appimage`,
/// `app`, `msi`, `nsis`), or None for a dev or cargo build.
///
/// The updater replaces an unmarked binary in place: for `target/debug/…`
/// that would overwrite a developer's build. On macOS every binary reads as
/// `app`, so there it also has to sit inside an `.app` bundle.
pub fn package_kind() -> Option<String> {
    let kind = tauri::utils::platform::bundle_type()?;
    if cfg!(target_os = "macos") {
        let exe = std::env::current_exe().ok()?;
        let in_app = exe
            .ancestors()
            .any(|p| p.extension().is_some_and(|e| e == "app"));
        if !in_app {
            return None;
        }
    }
    Some(kind.to_string())
}

/// Why Install is off for this copy, or None.
pub fn install_blocked() -> Option<String> {
    match package_kind() {
        Some(_) => None,
        None => Some(
            "This copy was not installed from a package (a development or cargo build): \
             installing would overwrite the build in place. Install a release package instead."
                .to_owned(),
        ),
    }
}

/// `update.not_packaged` when this copy may not install updates.
pub fn ensure_packaged() -> Result<(), Error> {
    match install_blocked() {
        None => Ok(()),
        Some(reason) => Err(Error::new(ErrorCode::UpdateNotPackaged, reason).hint(
            "Check and download still work; install the package of the new version by hand.",
        )),
    }
}

/// `update.busy` naming the jobs of this app that are running: its job
/// slots and the environment leases held by this process. Installing
/// replaces the app (a deb/rpm install may stop it) under a running job.
pub async fn ensure_idle(jobs: &RunningJobs, app: &AppState) -> Result<(), Error> {
    let mut running = jobs.running();
    if let Ok(console) = app.console() {
        let names: Vec<String> = console
            .config()
            .map(|c| c.environments().map(|(n, _)| n.to_owned()).collect())
            .unwrap_or_default();
        let me = i64::from(std::process::id());
        let host = nfops_core::lease::host_name();
        for env in names {
            if let Ok(Some(h)) = console.lease_holder(&env).await {
                if h.pid == me && h.host == host && h.process_kind == "app" {
                    let what = h.describe();
                    if !running.iter().any(|r| r.contains(&env)) {
                        running.push(what);
                    }
                }
            }
        }
    }
    if running.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::UpdateBusy,
        format!(
            "cannot install the update while jobs run: {}",
            running.join("; ")
        ),
    )
    .hint("Wait for them to finish (or cancel them), then click Install again."))
}

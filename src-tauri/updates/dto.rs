//! Wire types of Settings → Updates.

use serde::Serialize;
use specta::Type;

/// What the Updates section shows before any click.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStatus {
    pub current_version: String,
    /// `deb`, `rpm`, `appimage`, `app`, `msi`, `nsis`, or None for a copy
    /// not installed from a package (a dev or cargo build).
    pub package_kind: Option<String>,
    /// Why Install is off whatever the server offers (not installed from a
    /// package), or None.
    pub install_blocked: Option<String>,
    /// The manifest URLs asked, or the built-in ones.
    pub endpoints: Vec<String>,
    /// The user's switch (saved per user).
    pub daily_check: bool,
    /// Why the daily check does not run in this process whatever the switch
    /// says (started with `NFOPS_UPDATE_CHECK=0`), or None.
    pub daily_check_off: Option<String>,
    /// RFC 3339 of the last check (by hand or daily), if any.
    pub last_check: Option<String>,
    /// The update found by the last check, if any.
    pub available: Option<UpdateInfo>,
    /// The found update's package is downloaded and verified.
    pub downloaded: bool,
    /// The found update is installed: relaunch to run it.
    pub installed: bool,
}

/// A newer release offered by the server.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInfo {
    pub version: String,
    pub current_version: String,
    /// Release notes (plain text or Markdown as published).
    pub notes: Option<String>,
    /// RFC 3339, as published.
    pub date: Option<String>,
    /// Package size in bytes (f64: JSON numbers), when the manifest says.
    pub size_bytes: Option<f64>,
}

/// Download progress, at most ~5 per second plus the last.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DownloadEvent {
    pub downloaded_bytes: f64,
    pub total_bytes: Option<f64>,
}

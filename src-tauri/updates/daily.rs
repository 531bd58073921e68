//! The daily background check: once a day (counted from the last check,
//! saved per user) while the user leaves it on, a newer release becomes a
//! desktop notification and shows in Settings → Updates. It never downloads
//! or installs by itself. `NFOPS_UPDATE_CHECK=0` turns it off for a run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

use super::commands::{check_now, prefs_of};
use super::state::UpdateState;
use crate::AppState;

/// Not at once: the first minute of a start belongs to the pages.
const FIRST_DELAY: Duration = Duration::from_secs(60);
/// How often it looks whether a day has passed (a laptop sleeps through timers).
const TICK: Duration = Duration::from_secs(3600);

/// Why the daily check does not run in this process whatever the user's
/// switch says, or None.
pub fn off_for_this_run() -> Option<&'static str> {
    (std::env::var("NFOPS_UPDATE_CHECK").as_deref() == Ok("0"))
        .then_some("off for this run: the app was started with NFOPS_UPDATE_CHECK=0")
}

/// Spawns the check loop; it ends with the app's runtime.
pub fn start(app: &AppHandle) {
    if let Some(why) = off_for_this_run() {
        tracing::info!(category = "application", "daily update check is {why}");
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(FIRST_DELAY).await;
        loop {
            tick(&app).await;
            tokio::time::sleep(TICK).await;
        }
    });
}

async fn tick(app: &AppHandle) {
    let state = app.state::<AppState>();
    let prefs = prefs_of(&state);
    if !prefs.daily_check || !is_due(prefs.last_check.as_deref(), Utc::now()) {
        return;
    }
    match check_now(app, &state, &app.state::<UpdateState>()).await {
        Ok(Some(info)) => {
            let shown = app
                .notification()
                .builder()
                .title(format!("NewFinity Ops {} is available", info.version))
                .body("Open Settings → Updates to download and install it.")
                .show();
            if let Err(e) = shown {
                tracing::warn!(category = "error", "update notification failed: {e}");
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(category = "error", code = %e.code(), "daily update check failed: {e}")
        }
    }
}

/// Whether a day has passed since `last` (RFC 3339; never or unreadable: due).
fn is_due(last: Option<&str>, now: DateTime<Utc>) -> bool {
    match last.and_then(|l| DateTime::parse_from_rfc3339(l).ok()) {
        Some(l) => now.signed_duration_since(l) >= chrono::Duration::hours(24),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::is_due;

    #[test]
    fn a_check_is_due_a_day_after_the_last_one() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T08:00:00Z")
            .expect("time")
            .to_utc();
        assert!(is_due(None, now));
        assert!(is_due(Some("garbage"), now));
        assert!(!is_due(Some("2026-12-06T09:00:00Z"), now));
        assert!(is_due(Some("2026-12-06T08:00:00Z"), now));
    }
}

//! The Uptime page: probes of an environment over a range, and "Check now".

use tauri::State;

use super::dto::UptimeReport;
use crate::failure::Failure;
use crate::metrics::dto::drawing;
use crate::AppState;

/// The uptime probes of `environment` over `range` (`15m` .. `7d`): status,
/// uptime percentage, latency, and both charts in `theme`.
#[tauri::command]
#[specta::specta]
pub async fn uptime_report(
    state: State<'_, AppState>,
    environment: String,
    range: String,
    theme: String,
) -> Result<UptimeReport, Failure> {
    Ok(state
        .console()?
        .uptime_report(&environment, drawing(&range, &theme)?)
        .await?
        .into())
}

/// Runs every probe of `environment` once now (the "Check now" button).
#[tauri::command]
#[specta::specta]
pub async fn uptime_check(state: State<'_, AppState>, environment: String) -> Result<(), Failure> {
    state.console()?.uptime_check(Some(&environment)).await?;
    Ok(())
}

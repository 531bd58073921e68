use tauri::State;

use crate::wire::Failure;
use crate::wire_monitoring::UptimeReport;
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
    let drawing = nfops_metrics::Drawing {
        range: nfops_metrics::TimeRange::parse(&range)?,
        theme: nfops_metrics::Theme::parse(&theme),
        size: (640, 260),
    };
    Ok(state
        .console()?
        .uptime_report(&environment, drawing)
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

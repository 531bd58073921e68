//! The Overview: the configured environments and their live state.

use tauri::State;

use super::dto::{Cockpit, EnvProviderModesView, EnvironmentStatus, EnvironmentSummary, Pulse};
use crate::failure::Failure;
use crate::AppState;

/// The configured environments, without probing them.
#[tauri::command]
#[specta::specta]
pub fn environments(state: State<'_, AppState>) -> Result<Vec<EnvironmentSummary>, Failure> {
    let config = state.console()?.config()?;
    Ok(config
        .environments()
        .map(|(n, e)| EnvironmentSummary::new(n, e))
        .collect())
}

/// Live state of every environment.
#[tauri::command]
#[specta::specta]
pub async fn overview(state: State<'_, AppState>) -> Result<Vec<EnvironmentStatus>, Failure> {
    Ok(state
        .console()?
        .overview()
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Live state of one environment.
#[tauri::command]
#[specta::specta]
pub async fn probe_environment(
    state: State<'_, AppState>,
    name: String,
) -> Result<EnvironmentStatus, Failure> {
    Ok(state.console()?.probe(&name).await?.into())
}

/// The cockpit facts of every environment: newest good backup, last drill,
/// last promotion, uptime over 24 h and the last day's changes.
#[tauri::command]
#[specta::specta]
pub async fn cockpit(state: State<'_, AppState>) -> Result<Vec<Cockpit>, Failure> {
    Ok(state
        .console()?
        .cockpit()
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The last hour of `name` (request rate, 5xx share, p95, CPU) as
/// sparklines drawn for `theme` (`light`/`dark`), and its open alerts.
#[tauri::command]
#[specta::specta]
pub async fn pulse(
    state: State<'_, AppState>,
    name: String,
    theme: String,
) -> Result<Pulse, Failure> {
    let theme = nfops_metrics::Theme::parse(&theme);
    let pulse = state.console()?.pulse(&name, theme).await?;
    Ok(Pulse::new(name, pulse))
}

/// Which mode (mock, test, live) each outside provider runs in on every
/// environment's hosts, read from their `.env` by the `[providers.*]`
/// rules; empty when none is declared.
#[tauri::command]
#[specta::specta]
pub async fn provider_modes(
    state: State<'_, AppState>,
) -> Result<Vec<EnvProviderModesView>, Failure> {
    Ok(state
        .console()?
        .provider_modes(None)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

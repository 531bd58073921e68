//! The Scaling page: PM2 instances per host, scale plan and apply, capacity forecast.

use tauri::State;

use super::dto::{CapacityForecast, ScalePlan, ScalingView};
use crate::failure::Failure;
use crate::metrics::dto::drawing;
use crate::AppState;

/// PM2 processes of every host of `environment` and the instances chart over `range`.
#[tauri::command]
#[specta::specta]
pub async fn scaling_instances(
    state: State<'_, AppState>,
    environment: String,
    range: String,
    theme: String,
) -> Result<ScalingView, Failure> {
    let console = state.console()?;
    let instances = console.instances(&environment).await?;
    let chart = console
        .instances_chart(&environment, drawing(&range, &theme)?)
        .await?;
    Ok(ScalingView::new(instances, chart))
}

/// The plan to run `instances` backend instances on every backend host.
#[tauri::command]
#[specta::specta]
pub async fn scale_plan(
    state: State<'_, AppState>,
    environment: String,
    instances: u32,
) -> Result<ScalePlan, Failure> {
    Ok(state
        .console()?
        .scale_plan(&environment, instances)
        .await?
        .into())
}

/// Applies the plan for `instances` (made again now, so it acts on the
/// current counts) after the user confirmed it; audited, checked per host.
#[tauri::command]
#[specta::specta]
pub async fn scale_apply(
    state: State<'_, AppState>,
    environment: String,
    instances: u32,
    confirm: Option<String>,
) -> Result<ScalePlan, Failure> {
    let console = state.console()?;
    let plan = console.scale_plan(&environment, instances).await?;
    let outcome = console
        .scale_apply(
            &plan,
            confirm.as_deref(),
            std::sync::Arc::new(nfops_core::jobs::NoProgress),
            nfops_core::jobs::CancellationToken::new(),
        )
        .await?;
    Ok(outcome.into())
}

/// CPU and request-rate trends with a band, and when capacity runs out.
#[tauri::command]
#[specta::specta]
pub async fn capacity_forecast(
    state: State<'_, AppState>,
    environment: String,
    range: String,
    theme: String,
) -> Result<CapacityForecast, Failure> {
    Ok(state
        .console()?
        .capacity_forecast(&environment, drawing(&range, &theme)?)
        .await?
        .into())
}

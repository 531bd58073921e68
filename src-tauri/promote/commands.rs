//! The Promote page: the plan (dry run), the promotion with live progress
//! per host and gate over a channel, and the history of promotions.

use tauri::ipc::Channel;
use tauri::State;

use super::dto::{PromotionChoices, PromotionHistoryItem, PromotionPlanView, PromotionResult};
use crate::failure::Failure;
use crate::jobs::{channel_progress, JobEvent, JobKey, RunningJobs};
use crate::AppState;

/// The dry run of promoting `from` to `to`.
#[tauri::command]
#[specta::specta]
pub async fn promotion_plan(
    state: State<'_, AppState>,
    from: String,
    to: String,
    choices: PromotionChoices,
) -> Result<PromotionPlanView, Failure> {
    let console = state.console()?;
    Ok(console
        .promotion_plan(&from, &to, &choices.into())
        .await?
        .into())
}

/// Promotes `from` to `to`; `confirm` is `to`'s name as typed (the
/// console refuses production and region tiers without it).
#[tauri::command]
#[specta::specta]
pub async fn promote(
    state: State<'_, AppState>,
    running: State<'_, RunningJobs>,
    from: String,
    to: String,
    confirm: String,
    choices: PromotionChoices,
    on_event: Channel<JobEvent>,
) -> Result<PromotionResult, Failure> {
    let console = state.console()?;
    let slot = running.claim(JobKey::Promotion)?;
    let outcome = console
        .promote(
            &from,
            &to,
            &choices.into(),
            Some(&confirm),
            channel_progress(on_event),
            slot.cancel_token(),
        )
        .await?;
    Ok(outcome.into())
}

/// Asks the running promotion to stop; what already changed is rolled back.
/// False when none runs.
#[tauri::command]
#[specta::specta]
pub async fn promote_cancel(running: State<'_, RunningJobs>) -> Result<bool, Failure> {
    Ok(running.cancel(&JobKey::Promotion))
}

/// Past promotions, newest first.
#[tauri::command]
#[specta::specta]
pub async fn promotion_history(
    state: State<'_, AppState>,
) -> Result<Vec<PromotionHistoryItem>, Failure> {
    let console = state.console()?;
    Ok(console
        .promotion_history(50)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

//! The Metrics page: every chart of an environment or of this machine.

use tauri::State;

use super::dto::{drawing, MetricsBoard};
use crate::failure::Failure;
use crate::AppState;

/// Every chart of `environment` (narrowed to `host`), or of this machine when
/// `environment` is null or has no Prometheus. `range`: `15m` .. `7d`;
/// `theme`: `light` or `dark`.
#[tauri::command]
#[specta::specta]
pub async fn metrics_board(
    state: State<'_, AppState>,
    environment: Option<String>,
    host: Option<String>,
    range: String,
    theme: String,
) -> Result<MetricsBoard, Failure> {
    let board = state
        .console()?
        .metrics_board(
            environment.as_deref(),
            host.as_deref(),
            drawing(&range, &theme)?,
            None,
        )
        .await?;
    Ok(board.into())
}

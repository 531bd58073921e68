use tauri::State;

use crate::wire::{Failure, MetricsBoard};
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
    let drawing = nfops_metrics::Drawing {
        range: nfops_metrics::TimeRange::parse(&range)?,
        theme: nfops_metrics::Theme::parse(&theme),
        size: (640, 260),
    };
    let board = state
        .console()?
        .metrics_board(environment.as_deref(), host.as_deref(), drawing, None)
        .await?;
    Ok(board.into())
}

//! The Logs page: the newest structured lines of an environment's hosts.

use tauri::State;

use super::dto::LogTail;
use crate::failure::Failure;
use crate::AppState;

/// The newest `lines` log lines of `environment` kept by the filters
/// (minimum `level`, `category`, `host`; null for any). The page's follow
/// mode calls it again every few seconds.
#[tauri::command]
#[specta::specta]
pub async fn logs_tail(
    state: State<'_, AppState>,
    environment: String,
    level: Option<String>,
    category: Option<String>,
    host: Option<String>,
    lines: u32,
) -> Result<LogTail, Failure> {
    let filter = nfops_metrics::logs::LogFilter {
        level,
        category,
        host,
    };
    Ok(state
        .console()?
        .logs_tail(&environment, &filter, lines as usize)
        .await?
        .into())
}

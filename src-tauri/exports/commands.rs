//! Chart exports (SVG, PNG) saved in the exports folder.

use tauri::State;

use crate::failure::Failure;
use crate::AppState;

/// Saves a chart the UI has (SVG as drawn, or a PNG the webview rasterised)
/// as `<name>.<format>` in the exports folder; returns the file's path.
#[tauri::command]
#[specta::specta]
pub fn chart_export(
    state: State<'_, AppState>,
    name: String,
    format: String,
    data: Vec<u8>,
) -> Result<String, Failure> {
    let file = state.console()?.save_chart_export(&name, &format, &data)?;
    Ok(file.display().to_string())
}

//! The app itself: version, file locations, whether the config loads.

use tauri::State;

use super::dto::AppInfo;
use crate::failure::Failure;
use crate::AppState;

/// Version, file locations and whether the config loads (with its error).
#[tauri::command]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> Result<AppInfo, Failure> {
    Ok(AppInfo::new(state.console()?))
}

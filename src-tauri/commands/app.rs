use tauri::State;

use crate::wire::{AppInfo, Failure};
use crate::AppState;

/// Version, file locations and whether the config loads (with its error).
#[tauri::command]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> Result<AppInfo, Failure> {
    let console = state.console()?;
    let paths = console.paths();
    let (config_error, environment_count) = match console.config() {
        Ok(c) => (None, c.environments().count() as u32),
        Err(e) => (Some(Failure::from(e)), 0),
    };
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        config_path: paths.config_file.display().to_string(),
        config_error,
        state_dir: paths.state_dir.display().to_string(),
        log_dir: paths.log_dir.display().to_string(),
        environment_count,
    })
}

//! Wire types of the app itself (About, first-run checks).

use serde::Serialize;
use specta::Type;

use crate::failure::Failure;

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub config_path: String,
    pub config_error: Option<Failure>,
    pub state_dir: String,
    pub log_dir: String,
    pub environment_count: u32,
}

impl AppInfo {
    pub fn new(console: &nfops_ops::Console) -> Self {
        let paths = console.paths();
        let (config_error, environment_count) = match console.config() {
            Ok(c) => (None, c.environments().count() as u32),
            Err(e) => (Some(Failure::from(e)), 0),
        };
        Self {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            config_path: paths.config_file.display().to_string(),
            config_error,
            state_dir: paths.state_dir.display().to_string(),
            log_dir: paths.log_dir.display().to_string(),
            environment_count,
        }
    }
}

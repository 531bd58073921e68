//! Where the console keeps its files, per OS.
//!
//! `NFOPS_HOME` puts everything (state, logs, default config) under one folder:
//! tests and the local stack use it. Otherwise the OS conventions apply
//! (XDG on Linux, ~/Library on macOS, %APPDATA% on Windows).

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};

/// Resolved locations.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_file: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
}

impl Paths {
    /// Resolves the locations. `config_override` (a `--config` flag) wins over
    /// `NFOPS_CONFIG`, which wins over the default.
    pub fn resolve(config_override: Option<&Path>) -> Result<Self> {
        let env_config = std::env::var_os("NFOPS_CONFIG").map(PathBuf::from);
        let (state_dir, log_dir, default_config) =
            if let Some(home) = std::env::var_os("NFOPS_HOME") {
                let home = PathBuf::from(home);
                (
                    home.join("state"),
                    home.join("logs"),
                    home.join("environments.toml"),
                )
            } else {
                let dirs = directories::ProjectDirs::from("org", "OGC NewFinity", "nfops")
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::Io,
                            "cannot find the home folder for the console's files",
                        )
                        .hint("Set NFOPS_HOME to a folder the console may write to.")
                    })?;
                let state = dirs.data_local_dir().to_path_buf();
                let logs = dirs
                    .state_dir()
                    .map(|d| d.join("logs"))
                    .unwrap_or_else(|| state.join("logs"));
                (state, logs, dirs.config_dir().join("environments.toml"))
            };
        let config_file = config_override
            .map(Path::to_path_buf)
            .or(env_config)
            .unwrap_or(default_config);
        Ok(Self {
            config_file,
            state_dir,
            log_dir,
        })
    }
}

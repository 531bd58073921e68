//! Where the console keeps its files, per OS.
//!
//! `NFOPS_HOME` puts everything (state, logs, default config) under one folder:
//! tests and the local stack use it. Otherwise the OS conventions apply
//! (XDG on Linux, ~/Library on macOS, %APPDATA% on Windows).

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};

/// Creates `dir` (and its missing parents) readable by this user only:
/// 0700 on Unix whatever the umask, and tightened to 0700 when it already
/// exists looser (a folder made by an older version). The state folder holds
/// the job history, the audit log and the known hosts: other local users must
/// not read or replace them.
///
/// Errors: `io.error` naming `what` and the folder.
pub fn private_dir(dir: &Path, what: &str) -> Result<()> {
    let fail = |e| Error::io(format!("creating the {what} {}", dir.display()), e);
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(fail)?;
    restrict(dir, 0o700).map_err(fail)
}

/// Creates `file` empty if missing, then makes it readable and writable by
/// this user only (0600 on Unix whatever the umask; an existing file is
/// tightened too). SQLite gives its `-wal` and `-shm` files the mode of the
/// database file, so this covers them from the first open.
///
/// Errors: `io.error` naming `what` and the file.
pub fn private_file(file: &Path, what: &str) -> Result<()> {
    let fail = |e| Error::io(format!("creating the {what} {}", file.display()), e);
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(file).map_err(fail)?;
    restrict(file, 0o600).map_err(fail)
}

/// Sets Unix permission bits `mode` on `path` (a no-op elsewhere: Windows
/// user folders are private by their ACLs).
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let now = std::fs::metadata(path)?.permissions().mode() & 0o7777;
        if now != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

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

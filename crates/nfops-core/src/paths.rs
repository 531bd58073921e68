//! Where the console keeps its files, per OS.
//!
//! `NFOPS_HOME` puts everything (state, logs, default config) under one folder:
//! tests and the local stack use it. Otherwise the OS conventions apply
//! (XDG on Linux, ~/Library on macOS, %APPDATA% on Windows), in folders named
//! after the app identifier [`APP_IDENTIFIER`] as the Tauri runtime names
//! its own, so the CLI and the app share one data folder:
//!
//! | OS      | state (state.db, known_hosts, reports…)       | logs                                | config (environments.toml)        |
//! |---------|-----------------------------------------------|-------------------------------------|-----------------------------------|
//! | Linux   | `$XDG_DATA_HOME/org.ogcnewfinity.ops`         | `<state>/logs`                      | `$XDG_CONFIG_HOME/org.ogcnewfinity.ops` |
//! | macOS   | `~/Library/Application Support/org.ogcnewfinity.ops` | `~/Library/Logs/org.ogcnewfinity.ops` | the state folder           |
//! | Windows | `%LOCALAPPDATA%\org.ogcnewfinity.ops`         | `<state>\logs`                      | `%APPDATA%\org.ogcnewfinity.ops`  |
//!
//! Folders of versions before 0.2 (named "OGC NewFinity"/"nfops") are moved
//! there once ([`relocate`]).

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};

mod relocate;
pub use relocate::record_pending_move;

/// The app identifier: the Tauri bundle identifier (`tauri.conf.json`
/// `identifier`, checked equal by a test) and the name of the data folders.
pub const APP_IDENTIFIER: &str = "org.ogcnewfinity.ops";

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

/// Tightens `file` to 0600 (Unix) if it exists; a missing file is left
/// missing. For SQLite's `-wal`/`-shm` files left looser by an older version:
/// SQLite deletes the `-wal` when the last connection to the database closes,
/// so another console closing at the same moment must not make this fail,
/// and creating the file here would race with that deletion. The mode is set
/// through the opened handle, so a file replaced meanwhile is never touched
/// by path.
///
/// Errors: `io.error` naming `what` and the file, for anything but absence.
pub fn tighten_if_present(file: &Path, what: &str) -> Result<()> {
    let fail = |e| Error::io(format!("restricting the {what} {}", file.display()), e);
    let handle = match std::fs::OpenOptions::new().read(true).open(file) {
        Ok(h) => h,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fail(e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let now = handle.metadata().map_err(fail)?.permissions().mode() & 0o7777;
        if now != 0o600 {
            handle
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(fail)?;
        }
    }
    #[cfg(not(unix))]
    drop(handle);
    Ok(())
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
    /// What resolving did with the folders of an older version (moved them,
    /// or left them beside existing new ones), each said once: the CLI
    /// prints these on stderr and both front ends log them.
    pub notices: Vec<String>,
}

/// Where one version keeps its three folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    pub config_dir: PathBuf,
}

impl Layout {
    /// Today's layout under the OS folders of `base`.
    fn current(base: &directories::BaseDirs) -> Self {
        let state_dir = base.data_local_dir().join(APP_IDENTIFIER);
        // Where the Tauri runtime puts an app's logs (`app_log_dir`).
        let log_dir = if cfg!(target_os = "macos") {
            base.home_dir()
                .join("Library")
                .join("Logs")
                .join(APP_IDENTIFIER)
        } else {
            state_dir.join("logs")
        };
        Self {
            log_dir,
            config_dir: base.config_dir().join(APP_IDENTIFIER),
            state_dir,
        }
    }

    /// The layout of versions before the app identifier named the folders.
    fn legacy() -> Option<Self> {
        let dirs = directories::ProjectDirs::from("org", "OGC NewFinity", "nfops")?;
        let state_dir = dirs.data_local_dir().to_path_buf();
        let log_dir = dirs
            .state_dir()
            .map(|d| d.join("logs"))
            .unwrap_or_else(|| state_dir.join("logs"));
        Some(Self {
            state_dir,
            log_dir,
            config_dir: dirs.config_dir().to_path_buf(),
        })
    }
}

impl Paths {
    /// Resolves the locations. `config_override` (a `--config` flag) wins over
    /// `NFOPS_CONFIG`, which wins over the default.
    ///
    /// Without `NFOPS_HOME`, first moves an older version's folders to
    /// today's once (see [`relocate`]).
    ///
    /// Errors: `io.error` when there is no home folder, or when an older
    /// version's folder exists and cannot be moved (it is left unchanged).
    pub fn resolve(config_override: Option<&Path>) -> Result<Self> {
        let env_config = std::env::var_os("NFOPS_CONFIG").map(PathBuf::from);
        let (layout, notices) = if let Some(home) = std::env::var_os("NFOPS_HOME") {
            let home = PathBuf::from(home);
            let layout = Layout {
                state_dir: home.join("state"),
                log_dir: home.join("logs"),
                config_dir: home,
            };
            (layout, Vec::new())
        } else {
            let base = directories::BaseDirs::new().ok_or_else(|| {
                Error::new(
                    ErrorCode::Io,
                    "cannot find the home folder for the console's files",
                )
                .hint("Set NFOPS_HOME to a folder the console may write to.")
            })?;
            let layout = Layout::current(&base);
            let notices = match Layout::legacy() {
                Some(old) => relocate::relocate(&old, &layout, base.data_local_dir())?,
                None => Vec::new(),
            };
            (layout, notices)
        };
        let config_file = config_override
            .map(Path::to_path_buf)
            .or(env_config)
            .unwrap_or_else(|| layout.config_dir.join("environments.toml"));
        Ok(Self {
            config_file,
            state_dir: layout.state_dir,
            log_dir: layout.log_dir,
            notices,
        })
    }
}

#[cfg(test)]
mod tests;

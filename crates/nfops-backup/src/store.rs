//! The local backup folder: `<root>/<env>/<backup-id>/`, written as
//! `<backup-id>.partial/` and renamed only once its manifest is written and
//! verified. (Object-store destinations slot in beside this in part 2.)

use std::path::{Path, PathBuf};

use nfops_core::{Error, Result};
use serde::Serialize;

use crate::manifest::Manifest;

/// Suffix of a folder still being written (or left by a crash).
pub const PARTIAL: &str = ".partial";

/// A backup folder as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub id: String,
    /// `complete` (valid manifest) or `incomplete`.
    pub state: &'static str,
    pub path: PathBuf,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub tables: Option<usize>,
    pub rows: Option<u64>,
    pub stored_bytes: Option<u64>,
    /// Objects named by the backup's storage snapshots (none: no snapshot).
    pub storage_objects: Option<u64>,
    /// Why it is incomplete.
    pub problem: Option<String>,
}

/// Backups of all environments under one root folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<env>`.
    pub fn env_dir(&self, env: &str) -> PathBuf {
        self.root.join(env)
    }

    /// The final folder of backup `id`.
    pub fn backup_dir(&self, env: &str, id: &str) -> PathBuf {
        self.env_dir(env).join(id)
    }

    /// The folder written while backup `id` runs.
    pub fn partial_dir(&self, env: &str, id: &str) -> PathBuf {
        self.env_dir(env).join(format!("{id}{PARTIAL}"))
    }

    /// Renames the partial folder to its final name.
    pub fn publish(&self, env: &str, id: &str) -> Result<PathBuf> {
        let to = self.backup_dir(env, id);
        std::fs::rename(self.partial_dir(env, id), &to)
            .map_err(|e| Error::io(format!("publishing backup {id}"), e))?;
        if let Ok(d) = std::fs::File::open(self.env_dir(env)) {
            let _ = d.sync_all();
        }
        Ok(to)
    }

    /// Deletes backup `id` of `env`: the manifest first (from then on the
    /// folder is listed as incomplete, never as a backup), then the folder.
    ///
    /// Errors: `io.error` when either cannot be removed.
    pub fn remove(&self, env: &str, id: &str) -> Result<()> {
        let dir = self.backup_dir(env, id);
        match std::fs::remove_file(dir.join(crate::manifest::MANIFEST)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::io(
                    format!("removing the manifest of backup {id}"),
                    e,
                ))
            }
        }
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(format!("removing backup {id}"), e))
    }

    /// Every backup folder of `env`, newest first; folders without a valid
    /// manifest (and partial ones) are listed as `incomplete`.
    pub fn list(&self, env: &str) -> Result<Vec<Listing>> {
        let dir = self.env_dir(env);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let id = entry.file_name().to_string_lossy().into_owned();
            if let Some(base) = id.strip_suffix(PARTIAL) {
                out.push(Listing {
                    id: base.to_owned(),
                    state: "incomplete",
                    path,
                    started_at: None,
                    finished_at: None,
                    tables: None,
                    rows: None,
                    stored_bytes: None,
                    storage_objects: None,
                    problem: Some("still being written, or left by an interrupted run".into()),
                });
                continue;
            }
            match Manifest::read(&path) {
                Ok(m) if m.backup_id == id => out.push(Listing {
                    id,
                    state: "complete",
                    path,
                    started_at: Some(m.started_at.to_rfc3339()),
                    finished_at: Some(m.finished_at.to_rfc3339()),
                    tables: Some(m.tables.len()),
                    rows: Some(m.rows()),
                    stored_bytes: Some(m.stored_bytes()),
                    storage_objects: m.storage_objects(),
                    problem: None,
                }),
                Ok(m) => out.push(incomplete(
                    id,
                    path,
                    format!("its manifest names backup {}", m.backup_id),
                )),
                Err(e) => out.push(incomplete(id, path, e.message().to_owned())),
            }
        }
        out.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(out)
    }
}

fn incomplete(id: String, path: PathBuf, problem: String) -> Listing {
    Listing {
        id,
        state: "incomplete",
        path,
        started_at: None,
        finished_at: None,
        tables: None,
        rows: None,
        stored_bytes: None,
        storage_objects: None,
        problem: Some(problem),
    }
}

/// A new backup id: UTC time plus 4 random hex digits, sortable by time.
pub fn new_backup_id() -> String {
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        &r[..4]
    )
}

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

    /// [`LocalStore::backup_dir`] for an id that came from outside (CLI, UI,
    /// a bucket listing): checked as a plain path segment first.
    ///
    /// Errors: `input.invalid` for an id such as `../x`.
    pub fn checked_backup_dir(&self, env: &str, id: &str) -> Result<PathBuf> {
        check_backup_id(id)?;
        Ok(self.backup_dir(env, id))
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
    /// Errors: `input.invalid` for an id that is not a plain name;
    /// `io.error` when either cannot be removed.
    pub fn remove(&self, env: &str, id: &str) -> Result<()> {
        let dir = self.checked_backup_dir(env, id)?;
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

/// Checks that `id` is a backup id that can be joined to a folder or key
/// safely: one plain path segment (no `/`, `\\`, `..`, NUL, drive letter,
/// leading dot), at most 128 characters.
///
/// Errors: `input.invalid` naming the id.
pub fn check_backup_id(id: &str) -> Result<()> {
    if plain_segment(id) && !id.starts_with('.') && !id.ends_with(PARTIAL) {
        return Ok(());
    }
    Err(Error::new(
        nfops_core::ErrorCode::InvalidInput,
        format!("'{}' is not a backup id", id.escape_debug()),
    )
    .hint("A backup id is one name like 20260101T023000Z-ab12, as `nfops backup list` prints it."))
}

/// Checks that a file name from a manifest is a relative path of plain
/// segments (`data/0001-t.00001.sql.zst.age`), so joining it to the backup
/// folder or key prefix cannot leave it.
///
/// Errors: `backup.untrusted` naming the file: a manifest that names such a
/// file was not written by this console.
pub fn check_file_name(backup: &str, name: &str) -> Result<()> {
    if !name.is_empty() && name.len() <= 512 && name.split('/').all(plain_segment) {
        return Ok(());
    }
    Err(Error::new(
        nfops_core::ErrorCode::BackupUntrusted,
        format!(
            "the manifest of backup {backup} names the file '{}', which is not a plain relative path: nothing was restored or changed",
            name.escape_debug()
        ),
    )
    .hint("Treat this backup as forged or damaged; restore another one."))
}

/// One path segment that stays where it is joined: not empty, not `.` or
/// `..`, no separator, NUL, control character or drive-letter colon.
fn plain_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s != "."
        && s != ".."
        && !s
            .chars()
            .any(|c| matches!(c, '/' | '\\' | ':' | '\0') || c.is_control())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_file_names_must_be_plain_segments() {
        assert!(check_backup_id(&new_backup_id()).is_ok());
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "C:x",
            "a\0b",
            ".hidden",
            "x.partial",
        ] {
            assert!(check_backup_id(bad).is_err(), "id {bad:?} must be refused");
        }
        assert!(check_file_name("b", "data/0001-t.00001.sql.zst.age").is_ok());
        assert!(check_file_name("b", "00-schema.sql.zst.age").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "data/../../x",
            "data//x",
            "C:\\x",
            "a\\b",
            "x\0",
        ] {
            assert!(
                check_file_name("b", bad).is_err(),
                "file {bad:?} must be refused"
            );
        }
    }
}

//! `manifest.json`: the commit marker of a backup, written last (temp file,
//! fsync, rename). A folder without a valid one is incomplete, never a backup.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::{FileEntry, TableResult};
use serde::{Deserialize, Serialize};

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// Format version written by this build.
pub const FORMAT: u32 = 1;

/// Everything needed to check and restore a backup, and to compare it with a
/// live database later.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub backup_id: String,
    pub environment: String,
    pub database: String,
    /// `nfops <version>`.
    pub tool: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// When the consistent snapshot was taken.
    pub snapshot_at: DateTime<Utc>,
    pub server_version: String,
    pub binlog_file: Option<String>,
    pub binlog_position: Option<u64>,
    pub gtid: Option<String>,
    /// Name of the content-hash definition (see `nfops_mysql::hash`).
    pub hash_definition: String,
    /// `zstd` then `age` (X25519).
    pub compression: String,
    pub encryption: String,
    /// Public keys the files are encrypted to.
    pub recipients: Vec<String>,
    /// Files in restore order: schema, data (any order among them), post.
    pub restore_order: Vec<String>,
    pub tables: Vec<TableResult>,
    pub views: Vec<String>,
    pub triggers: Vec<String>,
    pub routines: Vec<String>,
    pub events: Vec<String>,
    /// Every file of the backup but the manifest, with size and SHA-256.
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// Total stored bytes.
    pub fn stored_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Total rows.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Writes `dir/manifest.json` atomically (temp, fsync, rename, fsync dir).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::internal(format!("manifest not serializable: {e}")))?;
        let io = |e| Error::io(format!("writing the manifest in {}", dir.display()), e);
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&text).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, dir.join(MANIFEST)).map_err(io)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads and checks `dir/manifest.json`.
    ///
    /// Errors: `job.check_failed` when it is missing or not a valid manifest
    /// (the folder is then an incomplete backup).
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read(&path).map_err(|e| {
            Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "{} has no manifest: it is an incomplete backup",
                    dir.display()
                ),
            )
            .hint("An interrupted backup leaves such a folder; take a new backup.")
            .source(e)
        })?;
        let m: Manifest = serde_json::from_slice(&text).map_err(|e| {
            Error::new(
                ErrorCode::CheckFailed,
                format!("the manifest of {} is damaged", dir.display()),
            )
            .hint("Treat this backup as unusable and take a new one.")
            .source(e)
        })?;
        if m.format != FORMAT {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "the manifest of {} has format {} (this console reads {FORMAT})",
                    dir.display(),
                    m.format
                ),
            )
            .hint("Use the NewFinity Ops version that wrote it."));
        }
        Ok(m)
    }
}

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
    /// Storage snapshots taken with the backup, one per versioned bucket of
    /// the environment (files `storage/<bucket>.jsonl.zst.age`, also in `files`).
    #[serde(default)]
    pub storage: Vec<StorageSnapshotEntry>,
    /// Buckets left out and why (versioning off with `unversioned_buckets = "warn"`).
    #[serde(default)]
    pub storage_warnings: Vec<String>,
    /// Every object of the database at backup time (kind, name, owner,
    /// security, rows, sequence state). `None` in manifests written before
    /// inventories existed: their restore plan says "no inventory recorded".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<nfops_mysql::Inventory>,
}

/// One bucket's snapshot in a backup: which version of every key it held
/// (format `nfops-bucket-snapshot-v1`, see `nfops_storage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSnapshotEntry {
    pub bucket: String,
    /// The file in `files` holding it (JSON lines → zstd → age).
    pub file: String,
    pub objects: u64,
    /// Total size of the objects it names.
    pub object_bytes: u64,
    pub taken_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl Manifest {
    /// Total stored bytes.
    pub fn stored_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Objects named by the storage snapshots, `None` when there are none.
    pub fn storage_objects(&self) -> Option<u64> {
        (!self.storage.is_empty()).then(|| self.storage.iter().map(|s| s.objects).sum())
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
        Self::read_with_bytes(dir).map(|(m, _)| m)
    }

    /// [`Manifest::read`], with the exact bytes it parsed: the signature is
    /// checked against these, never against a second read of the file
    /// (which could have been swapped in between).
    pub fn read_with_bytes(dir: &Path) -> Result<(Manifest, Vec<u8>)> {
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
        Ok((m, text))
    }
}

//! Where dump files go. The engine writes plain SQL text; a sink decides how
//! it is stored (compressed, encrypted, local folder or object store).

use std::io::Write;

use nfops_core::Result;
use serde::{Deserialize, Serialize};

/// A finished file as stored at the destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the backup folder, `/`-separated.
    pub name: String,
    /// Size at the destination (after compression and encryption).
    pub bytes: u64,
    /// SHA-256 of the stored bytes, lowercase hex.
    pub sha256: String,
    /// Size of the SQL text before compression.
    pub sql_bytes: u64,
}

/// Creates the files of one dump. Called from blocking threads.
pub trait DumpSink: Send + Sync {
    /// A new file `name` (relative, `/`-separated, unique within the dump).
    fn create(&self, name: &str) -> Result<Box<dyn DumpFile>>;
}

/// One file being written. Dropping it without [`DumpFile::finish`] leaves an
/// unusable file behind (the caller then discards the whole dump).
pub trait DumpFile: Write + Send {
    /// Flushes every layer, makes the file durable and says what was stored.
    fn finish(self: Box<Self>) -> Result<FileEntry>;
}

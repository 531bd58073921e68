//! A backup as the restore reads it: its manifest (and the bytes it was
//! parsed from), the check of every file against the manifest (size and
//! SHA-256) into a private copy before anything else, and the plaintext SQL
//! of a file of that copy (age, then zstd).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use age::x25519;
use nfops_backup::Manifest;
use nfops_core::{Error, ErrorCode, Result};

use crate::private_copy::CheckedCopy;

/// A backup folder and its manifest.
#[derive(Debug, Clone)]
pub struct BackupSource {
    /// Where the backup lives. Its files are read once from here, by
    /// [`BackupSource::check_files`] into the private copy; never again.
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// The exact bytes `manifest` was parsed from: the signature is
    /// checked against these (a second read could see a swapped file).
    manifest_bytes: Arc<Vec<u8>>,
    /// Where the backup came from, for the plan and the report: the local
    /// folder, or the bucket it was downloaded from.
    pub origin: String,
    /// The folder under which the private copy is made (state folder, or
    /// the system's temporary folder).
    scratch: PathBuf,
    /// The checked private copy, shared by every clone (the run's steps
    /// hold clones of the request): set once by the check, read by all.
    checked: Arc<OnceLock<CheckedCopy>>,
    /// A downloaded copy's folder, removed when the last clone is dropped.
    _download: Option<Arc<DownloadedCopy>>,
}

/// A temporary folder holding a downloaded backup; removed on drop.
#[derive(Debug)]
pub struct DownloadedCopy(pub PathBuf);

impl Drop for DownloadedCopy {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(category = "worker", path = %self.0.display(), error = %e, "could not remove a downloaded backup copy");
            }
        }
    }
}

impl BackupSource {
    /// Reads the manifest of the backup in `dir` (a local folder).
    ///
    /// Errors: `job.check_failed` when it is missing or damaged, or its hash
    /// definition is not the one this build computes; `backup.untrusted`
    /// when it names a file (or an id) that is not a plain relative path.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_from(dir, format!("local folder {}", dir.display()), None)
    }

    /// [`BackupSource::open`] of a copy downloaded into `copy` from `origin`
    /// (the folder is removed when the source and its clones are dropped).
    pub fn open_downloaded(dir: &Path, origin: String, copy: DownloadedCopy) -> Result<Self> {
        Self::open_from(dir, origin, Some(Arc::new(copy)))
    }

    fn open_from(
        dir: &Path,
        origin: String,
        download: Option<Arc<DownloadedCopy>>,
    ) -> Result<Self> {
        let (manifest, bytes) = Manifest::read_with_bytes(dir)?;
        check_names(&manifest)?;
        if manifest.hash_definition != nfops_mysql::hash::HASH_DEFINITION {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "backup {} uses content hash '{}', this console computes '{}'",
                    manifest.backup_id,
                    manifest.hash_definition,
                    nfops_mysql::hash::HASH_DEFINITION
                ),
            )
            .hint("Restore it with the NewFinity Ops version that wrote it."));
        }
        Ok(Self {
            dir: dir.to_owned(),
            manifest,
            manifest_bytes: Arc::new(bytes),
            origin,
            scratch: std::env::temp_dir().join("nfops-restore-copies"),
            checked: Arc::new(OnceLock::new()),
            _download: download,
        })
    }

    /// Makes the private copy under `scratch` instead of the system's
    /// temporary folder (the console uses its state folder).
    pub fn with_scratch(mut self, scratch: PathBuf) -> Self {
        self.scratch = scratch;
        self
    }

    /// The exact bytes the manifest was parsed from (for the signature).
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    /// The folder of the checked private copy, once [`BackupSource::check_files`] passed.
    pub fn checked_dir(&self) -> Option<&Path> {
        self.checked.get().map(|c| c.dir.as_path())
    }

    /// Checks that `identity` is one of the backup's recipients.
    ///
    /// Errors: `backup.key_mismatch` naming both keys.
    pub fn check_key(&self, identity: &x25519::Identity) -> Result<()> {
        let mine = identity.to_public().to_string();
        if self.manifest.recipients.iter().any(|r| r == &mine) {
            return Ok(());
        }
        Err(Error::new(
            ErrorCode::BackupKeyMismatch,
            format!(
                "backup {} is not encrypted to your age key: nothing was restored",
                self.manifest.backup_id
            ),
        )
        .hint(format!(
            "Your key is {mine}; the backup's recipients are {}. Use an identity of one of them (credential nfops/age-identity).",
            self.manifest.recipients.join(", ")
        )))
    }

    /// Checks every file the manifest lists (size and SHA-256 of the stored
    /// bytes), reading each ONCE from the backup folder while copying it
    /// into a private folder ([`crate::private_copy`]; a download is hashed
    /// in place, it is already ours), collecting every problem. From then
    /// on every read of the backup's files (statement scan, load, storage)
    /// is of that copy. `on_bytes` reports progress.
    ///
    /// Errors: `job.check_failed` listing the damaged files ("nothing was
    /// restored": call this before touching the server); `io.error` when the
    /// copy cannot be made (the message names the folder and the space needed).
    pub fn check_files(&self, on_bytes: &(dyn Fn(u64) + Sync)) -> Result<u64> {
        if self.checked.get().is_some() {
            return Ok(self.manifest.files.iter().map(|f| f.bytes).sum());
        }
        let (copy, total, problems) = crate::private_copy::check_into(
            &self.dir,
            &self.manifest.files,
            &self.scratch,
            self._download.is_some(),
            on_bytes,
        )?;
        if problems.is_empty() {
            // A concurrent check of a clone may have won: its copy is as good.
            let _ = self.checked.set(copy);
            return Ok(total);
        }
        Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "backup {} is damaged, nothing was restored: {}",
                self.manifest.backup_id,
                problems.join("; ")
            ),
        )
        .hint("Restore another backup (the catalog lists verified ones), or copy this one again from its offsite copy."))
    }

    /// The plaintext SQL of file `name` (decrypted with `identity`, then
    /// decompressed), streamed. Read errors later on (a damaged age chunk)
    /// come back as `io::Error`s from the reader.
    ///
    /// Errors: `job.check_failed` when the file cannot be opened or its age
    /// header does not accept the identity.
    pub fn sql_reader(
        &self,
        name: &str,
        identity: &x25519::Identity,
    ) -> Result<Box<dyn BufRead + Send>> {
        let base = self.checked_dir().ok_or_else(|| {
            Error::internal(format!(
                "backup file {name} was to be read before the backup was checked (no private copy yet)"
            ))
        })?;
        self.reader_in(base, name, identity)
    }

    /// [`BackupSource::sql_reader`] for a preview before the check (the
    /// plan's storage snapshots): from the private copy when there is one,
    /// else from the backup folder. The check step reads them again from
    /// the copy and refuses a difference.
    pub fn preview_reader(
        &self,
        name: &str,
        identity: &x25519::Identity,
    ) -> Result<Box<dyn BufRead + Send>> {
        self.reader_in(self.checked_dir().unwrap_or(&self.dir), name, identity)
    }

    fn reader_in(
        &self,
        base: &Path,
        name: &str,
        identity: &x25519::Identity,
    ) -> Result<Box<dyn BufRead + Send>> {
        let path = base.join(name);
        let file = File::open(&path).map_err(|e| {
            Error::new(
                ErrorCode::CheckFailed,
                format!("backup file {name} cannot be opened"),
            )
            .source(e)
        })?;
        let damaged = |what: String| {
            Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "backup file {name} of backup {} {what}",
                    self.manifest.backup_id
                ),
            )
            .hint("Restore another backup; this one is damaged.")
        };
        let dec = age::Decryptor::new_buffered(BufReader::with_capacity(1 << 20, file))
            .map_err(|e| damaged(format!("is not a readable age file ({e})")))?;
        let plain = dec
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => Error::new(
                    ErrorCode::BackupKeyMismatch,
                    format!("backup file {name} cannot be decrypted with your key"),
                )
                .hint("Use the identity of one of the backup's recipients (credential nfops/age-identity)."),
                e => damaged(format!("cannot be decrypted ({e})")),
            })?;
        let z = zstd::Decoder::new(plain)
            .map_err(|e| damaged(format!("cannot be decompressed ({e})")))?;
        Ok(Box::new(BufReader::with_capacity(1 << 20, z)))
    }

    /// The whole plaintext of a (small) file: schema and post files.
    pub fn sql_text(&self, name: &str, identity: &x25519::Identity) -> Result<String> {
        let mut r = self.sql_reader(name, identity)?;
        let mut s = String::new();
        r.read_to_string(&mut s).map_err(|e| {
            Error::new(
                ErrorCode::CheckFailed,
                format!("backup file {name} cannot be read to its end (damaged)"),
            )
            .hint("Restore another backup; this one is damaged.")
            .source(e)
        })?;
        let last = s.lines().rev().find(|l| !l.trim().is_empty());
        if last.map(str::trim) != Some(nfops_mysql::dump::END_MARKER) {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("backup file {name} is cut off (no end-of-file line)"),
            )
            .hint("Restore another backup; this one is damaged."));
        }
        Ok(s)
    }

    /// The schema file's name (`00-schema…`).
    pub fn schema_file(&self) -> Option<&str> {
        self.manifest
            .restore_order
            .iter()
            .find(|f| f.starts_with("00-schema"))
            .map(String::as_str)
    }

    /// The post file's name (`99-post…`).
    pub fn post_file(&self) -> Option<&str> {
        self.manifest
            .restore_order
            .iter()
            .find(|f| f.starts_with("99-post"))
            .map(String::as_str)
    }

    /// Stored bytes of file `name` (0 when unknown).
    pub fn file_bytes(&self, name: &str) -> u64 {
        self.manifest
            .files
            .iter()
            .find(|f| f.name == name)
            .map_or(0, |f| f.bytes)
    }
}

/// Every id and file name the manifest gives, checked as plain relative
/// paths before any of them is joined to a folder.
fn check_names(m: &Manifest) -> Result<()> {
    use nfops_backup::store::{check_backup_id, check_file_name};
    check_backup_id(&m.backup_id).map_err(|_| {
        Error::new(
            ErrorCode::BackupUntrusted,
            format!(
                "the manifest names the backup '{}', which is not a plain backup id: nothing was restored or changed",
                m.backup_id.escape_debug()
            ),
        )
        .hint("Treat this backup as forged or damaged; restore another one.")
    })?;
    let id = &m.backup_id;
    m.files
        .iter()
        .map(|f| f.name.as_str())
        .chain(m.restore_order.iter().map(String::as_str))
        .chain(
            m.tables
                .iter()
                .flat_map(|t| t.files.iter().map(String::as_str)),
        )
        .chain(m.storage.iter().map(|s| s.file.as_str()))
        .try_for_each(|n| check_file_name(id, n))
}

//! Backups changed after they were taken, as someone holding the backup
//! folder and a trusted signing key could: a data file rewritten with the
//! engine's own writer (zstd, age), the manifest's size and hash updated and
//! the manifest signed again, so only the content check or the server
//! itself can tell.

use std::io::Write;
use std::path::Path;

use age::x25519;
use nfops_backup::sink::{LocalSink, SUFFIX};
use nfops_backup::Manifest;
use nfops_mysql::DumpSink;
use nfops_restore::BackupSource;

/// Rewrites file `name` (as the manifest lists it, `….zst.age`) of the
/// backup in `dir`: its plaintext, decrypted with `identity`, goes through
/// `change`, is written back encrypted to `identity`, and the manifest is
/// updated and signed with `signer`.
///
/// # Panics
/// When the backup cannot be read or written.
pub fn rewrite_file(
    dir: &Path,
    name: &str,
    identity: &x25519::Identity,
    signer: &nfops_vault::BackupSigningKey,
    change: impl FnOnce(String) -> String,
) {
    let source = BackupSource::open(dir).expect("backup opens");
    // Files are read only from the checked private copy.
    source.check_files(&|_| {}).expect("backup files check");
    let plain = source.sql_text(name, identity).expect("file decrypts");
    let changed = change(plain);
    let stem = name.strip_suffix(SUFFIX).expect("an encrypted backup file");
    let sink = LocalSink::new(dir, vec![identity.to_public()]);
    let mut file = sink.create(stem).expect("file opens for writing");
    file.write_all(changed.as_bytes()).expect("file written");
    let entry = file.finish().expect("file finished");
    let mut m = Manifest::read(dir).expect("manifest");
    let listed = m
        .files
        .iter_mut()
        .find(|f| f.name == name)
        .expect("the file is in the manifest");
    listed.bytes = entry.bytes;
    listed.sha256 = entry.sha256;
    m.write(dir).expect("manifest written");
    nfops_backup::signature::sign_manifest(dir, signer).expect("manifest signed");
}

/// The first data file of `table` in the backup in `dir`.
///
/// # Panics
/// When the backup has no data file for `table`.
pub fn data_file_of(dir: &Path, table: &str) -> String {
    Manifest::read(dir)
        .expect("manifest")
        .tables
        .iter()
        .find(|t| t.name == table)
        .and_then(|t| t.files.first().cloned())
        .unwrap_or_else(|| panic!("the backup has a data file of {table}"))
}

/// [`rewrite_file`] with the stack operator's keys: the age identity the
/// console holds (credential `nfops/age-identity`) and the trusted signing
/// key, as a `nfops backup run` on the stack uses them.
pub fn rewrite_with_stack_keys(
    stack: &crate::Stack,
    dir: &Path,
    name: &str,
    change: impl FnOnce(String) -> String,
) {
    let identity: x25519::Identity = stack
        .files
        .credential("nfops/age-identity")
        .trim()
        .parse()
        .expect("the stack's age identity parses");
    rewrite_file(dir, name, &identity, &stack.signing_key(), change);
}

/// Puts `snap` in the backup in `dir` as the storage snapshot a backup run
/// writes (`storage/<bucket>.jsonl`, zstd, age to `identity`), listed in the
/// manifest's `files` and `storage`, and signs the manifest again with the
/// stack's trusted key: a restore applies only the snapshots its signed
/// backup carries.
///
/// # Panics
/// When the backup cannot be read or written.
pub fn add_storage_snapshot(
    stack: &crate::Stack,
    dir: &Path,
    identity: &x25519::Identity,
    snap: &nfops_storage::BucketSnapshot,
) {
    let stem = format!("storage/{}.jsonl", snap.bucket);
    let sink = LocalSink::new(dir, vec![identity.to_public()]);
    let mut file = sink.create(&stem).expect("snapshot file opens for writing");
    snap.write_jsonl(&mut file).expect("snapshot written");
    let entry = file.finish().expect("snapshot file finished");
    let mut m = Manifest::read(dir).expect("manifest");
    // It replaces the snapshot the backup took of that bucket, if any.
    m.storage.retain(|s| s.bucket != snap.bucket);
    m.files.retain(|f| f.name != entry.name);
    m.storage
        .push(nfops_backup::manifest::StorageSnapshotEntry {
            bucket: snap.bucket.clone(),
            file: entry.name.clone(),
            objects: snap.objects.len() as u64,
            object_bytes: snap.total_bytes(),
            taken_at: snap.taken_at,
            finished_at: snap.finished_at,
        });
    m.files.push(entry);
    m.write(dir).expect("manifest written");
    nfops_backup::signature::sign_manifest(dir, &stack.signing_key()).expect("manifest signed");
}

//! Verifying a backup: every file's size and SHA-256, then decrypt with the
//! operator's identity, decompress, parse, and compare row counts and content
//! hashes with the manifest. Every finding is collected; nothing stops at the
//! first.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use age::x25519;
use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::allowed::check_data_line;
use nfops_mysql::reader::{read_dump_checked, ReadError};
use nfops_mysql::TableDigest;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::manifest::Manifest;

/// One problem found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub file: Option<String>,
    pub table: Option<String>,
    pub problem: String,
}

/// What a verification checked and found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub backup_id: String,
    pub files_checked: usize,
    pub tables_checked: usize,
    pub rows_checked: u64,
    /// True when only a sample of tables was read.
    pub sampled: bool,
    /// Storage snapshots read back (always all of them) and the objects they name.
    pub snapshots_checked: usize,
    pub objects_checked: u64,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Which tables to read.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Full,
    /// About this many tables, chosen at random (schema and post files are always read).
    Sample(usize),
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Verifies the backup in `dir` (blocking: run it on a blocking thread).
///
/// `on_rows(rows)` reports progress. Errors (not findings): `backup.key_mismatch`
/// when the identity is not a recipient of the backup; `job.check_failed` when
/// the manifest is missing or damaged.
// Long on purpose: one pass over the backup that collects every finding in order (files, then tables); its stages share the findings list and the manifest.
pub fn verify_dir(
    dir: &Path,
    identity: &x25519::Identity,
    scope: Scope,
    on_rows: &(dyn Fn(u64) + Sync),
) -> Result<VerifyReport> {
    verify_dir_against(dir, Manifest::read(dir)?, identity, scope, on_rows)
}

/// [`verify_dir`] against `m`, a manifest the caller already read (and
/// whose signature it checked on those very bytes): the folder's
/// `manifest.json` is not read again. Each file is read once, hashed and
/// decoded in the same pass.
// Long on purpose: see verify_dir.
pub fn verify_dir_against(
    dir: &Path,
    m: Manifest,
    identity: &x25519::Identity,
    scope: Scope,
    on_rows: &(dyn Fn(u64) + Sync),
) -> Result<VerifyReport> {
    let mine = identity.to_public().to_string();
    if !m.recipients.iter().any(|r| r == &mine) {
        return Err(Error::new(
            ErrorCode::BackupKeyMismatch,
            format!("backup {} is not encrypted to your age key", m.backup_id),
        )
        .hint(format!(
            "Your key is {mine}; the backup's recipients are {}. Use an identity of one of them (credential nfops/age-identity).",
            m.recipients.join(", ")
        )));
    }
    let tables: Vec<&str> = match scope {
        Scope::Full => m.tables.iter().map(|t| t.name.as_str()).collect(),
        Scope::Sample(n) => sample(&m, n),
    };
    let wanted: BTreeSet<&str> = tables.iter().copied().collect();
    let mut files: Vec<&str> = vec![];
    for f in &m.files {
        let is_data = f.name.starts_with("data/");
        let in_sample = m
            .tables
            .iter()
            .any(|t| wanted.contains(t.name.as_str()) && t.files.iter().any(|n| n == &f.name));
        if !is_data || in_sample {
            files.push(&f.name);
        }
    }
    let mut report = VerifyReport {
        backup_id: m.backup_id.clone(),
        files_checked: 0,
        tables_checked: wanted.len(),
        rows_checked: 0,
        sampled: matches!(scope, Scope::Sample(_)),
        snapshots_checked: 0,
        objects_checked: 0,
        findings: Vec::new(),
    };
    let mut seen: BTreeMap<String, TableDigest> = BTreeMap::new();
    let mut rows_total = 0u64;
    for name in files {
        let Some(entry) = m.files.iter().find(|f| f.name == name) else {
            continue;
        };
        report.files_checked += 1;
        let finding = |problem: String| Finding {
            file: Some(name.to_owned()),
            table: None,
            problem,
        };
        let path = dir.join(name);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                report
                    .findings
                    .push(finding(format!("cannot be opened: {e}")));
                continue;
            }
        };
        let mut hr = HashingReader {
            inner: file,
            hasher: Sha256::new(),
            bytes: 0,
        };
        if let Some(snap) = m.storage.iter().find(|t| t.file == name) {
            match read_snapshot(&mut hr, identity, name) {
                Ok(got) => {
                    if got.bucket != snap.bucket || got.objects.len() as u64 != snap.objects {
                        report.findings.push(finding(format!(
                            "holds {} objects of bucket {}, the manifest says {} of {}",
                            got.objects.len(),
                            got.bucket,
                            snap.objects,
                            snap.bucket
                        )));
                    }
                    if got.total_bytes() != snap.object_bytes {
                        report.findings.push(finding(format!(
                            "names {} bytes of objects, the manifest says {}",
                            got.total_bytes(),
                            snap.object_bytes
                        )));
                    }
                    report.snapshots_checked += 1;
                    report.objects_checked += got.objects.len() as u64;
                }
                Err(p) => report.findings.push(finding(p)),
            }
        } else if name.ends_with(crate::sink::SUFFIX) {
            // A data file's lines are held to its table's allow-list.
            let table = m
                .tables
                .iter()
                .find(|t| t.files.iter().any(|f| f == name))
                .map(|t| t.name.as_str());
            let outcome = read_encrypted(&mut hr, identity, table, &|r| on_rows(rows_total + r));
            match outcome {
                Ok(d) => {
                    if !d.complete {
                        report.findings.push(finding(
                            "is cut off: its SQL does not reach the end-of-file line".into(),
                        ));
                    }
                    for (t, dg) in d.tables {
                        rows_total += dg.rows;
                        seen.entry(t).or_default().merge(dg);
                    }
                }
                Err(p) => report.findings.push(finding(p)),
            }
        }
        // Hash whatever was not read (a failed decrypt stops early).
        let _ = io::copy(&mut hr, &mut io::sink());
        if hr.bytes != entry.bytes {
            report.findings.push(finding(format!(
                "has {} bytes, the manifest says {}",
                hr.bytes, entry.bytes
            )));
        }
        let sha = hex::encode(hr.hasher.finalize());
        if sha != entry.sha256 {
            report.findings.push(finding(
                "SHA-256 differs from the manifest: the file was changed or damaged".into(),
            ));
        }
    }
    report
        .findings
        .extend(crate::verify_inventory::check(&m, dir, identity));
    report
        .findings
        .extend(crate::verify_statements::check(&m, dir, identity));
    for t in m.tables.iter().filter(|t| wanted.contains(t.name.as_str())) {
        let got = seen.get(&t.name).copied().unwrap_or_default();
        report.rows_checked += got.rows;
        let finding = |problem: String| Finding {
            file: None,
            table: Some(t.name.clone()),
            problem,
        };
        if got.rows != t.rows {
            report.findings.push(finding(format!(
                "{} rows read, the manifest says {}",
                got.rows, t.rows
            )));
        }
        if got.hex() != t.content_hash {
            report.findings.push(finding(format!(
                "content hash {} differs from the manifest's {}",
                got.hex(),
                t.content_hash
            )));
        }
    }
    Ok(report)
}

fn read_encrypted(
    hr: &mut HashingReader<File>,
    identity: &x25519::Identity,
    table: Option<&str>,
    on_rows: &dyn Fn(u64),
) -> std::result::Result<nfops_mysql::FileDigest, String> {
    let dec = age::Decryptor::new_buffered(BufReader::with_capacity(1 << 20, hr))
        .map_err(|e| format!("is not a readable age file ({e})"))?;
    let plain = dec
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => {
                "cannot be decrypted: its age header is damaged (the manifest lists your key as a recipient)".to_owned()
            }
            e => format!("cannot be decrypted ({e})"),
        })?;
    let z = zstd::Decoder::new(plain).map_err(|e| format!("cannot be decompressed ({e})"))?;
    let mut last = 0u64;
    let check = |line: &str| match table {
        Some(t) => check_data_line(t, line).map(|_| ()),
        None => Ok(()),
    };
    read_dump_checked(
        BufReader::with_capacity(1 << 20, z),
        |r| {
            if r - last >= 50_000 {
                last = r;
                on_rows(r);
            }
        },
        check,
    )
    .map_err(|e| match e {
        ReadError::Io(e) => {
            format!("cannot be read to its end: decryption or decompression failed ({e})")
        }
        ReadError::Refused(line, why) => crate::verify_statements::refused(line, &why),
        ReadError::Syntax(line) => {
            format!("has a statement this tool did not write, at SQL line {line}")
        }
    })
}

/// Decrypts, decompresses and parses a storage snapshot file.
fn read_snapshot(
    hr: &mut HashingReader<File>,
    identity: &x25519::Identity,
    name: &str,
) -> std::result::Result<nfops_storage::BucketSnapshot, String> {
    let dec = age::Decryptor::new_buffered(BufReader::with_capacity(1 << 16, hr))
        .map_err(|e| format!("is not a readable age file ({e})"))?;
    let plain = dec
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| format!("cannot be decrypted ({e})"))?;
    let z = zstd::Decoder::new(plain).map_err(|e| format!("cannot be decompressed ({e})"))?;
    nfops_storage::BucketSnapshot::read_jsonl(BufReader::new(z), name)
        .map_err(|e| format!("is not a valid storage snapshot: {}", e.message()))
}

/// About `n` table names chosen at random (at least one when any exist).
fn sample(m: &Manifest, n: usize) -> Vec<&str> {
    let mut names: Vec<&str> = m.tables.iter().map(|t| t.name.as_str()).collect();
    let n = n.max(1).min(names.len());
    let mut seed = u64::from_le_bytes(
        uuid::Uuid::new_v4().as_bytes()[..8]
            .try_into()
            .unwrap_or([7; 8]),
    );
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let i = (seed >> 33) as usize % names.len();
        out.push(names.swap_remove(i));
    }
    out
}

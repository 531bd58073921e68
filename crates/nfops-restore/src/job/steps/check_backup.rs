//! Step "check backup": nothing on the server is touched before this passes.
//! In order: the manifest's signature against the environment's trusted
//! signers, the backup's environment and buckets against the target, the
//! operator's key against the recipients, every file's size and SHA-256
//! against the (signed) manifest while copying it into a private folder
//! (everything after reads only that copy), every statement against what its file may
//! hold ([`crate::allowed`]), and only then the route to the target.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use nfops_backup::signature::{verify_manifest, TrustedSigners};
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};

use crate::job::plan::PreflightCheck;
use crate::job::{RestoreRequest, RestoreRun};
use crate::source::BackupSource;
use nfops_mysql::allowed::{check_data_line, check_sql_file, FileKind, Scope};

pub(crate) struct CheckBackupStep(pub(crate) Arc<RestoreRun>);

#[async_trait]
impl Step for CheckBackupStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        let trust = trust(&r.req)?;
        r.req.source.check_key(&r.req.identity)?;
        let total: u64 = r.req.source.manifest.files.iter().map(|f| f.bytes).sum();
        let src = r.req.source.clone();
        let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let d2 = done.clone();
        let check = tokio::task::spawn_blocking(move || {
            src.check_files(&|n| d2.store(n, Ordering::Relaxed))
        });
        tokio::pin!(check);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let bytes = loop {
            tokio::select! {
                res = &mut check => break res.map_err(|e| Error::internal(format!("file check stopped: {e}")))??,
                _ = tick.tick() => {
                    cx.check_cancelled()?;
                    cx.advance(done.load(Ordering::Relaxed), Some(total), "bytes");
                }
            }
        };
        cx.check_cancelled()?;
        // The storage snapshots the run will apply were read for the plan,
        // before the check: they must be what the checked copy holds.
        if !r.req.snapshots.is_empty() {
            let (src, id) = (r.req.source.clone(), r.req.identity.clone());
            let checked =
                tokio::task::spawn_blocking(move || crate::storage::snapshots_of(&src, &id))
                    .await
                    .map_err(|e| Error::internal(format!("snapshot check stopped: {e}")))??;
            if checked != r.req.snapshots {
                return Err(Error::new(
                    ErrorCode::BackupUntrusted,
                    format!("the storage snapshots of backup {} changed between the plan and the check: nothing was restored or changed", r.req.source.manifest.backup_id),
                )
                .hint("Someone is writing the backup folder: treat this backup as forged and restore another one."));
            }
        }
        // The files are now the signed ones, in our private copy: read every
        // statement (of that copy, as the load will) before any runs.
        let (src, id) = (r.req.source.clone(), r.req.identity.clone());
        let statements = tokio::task::spawn_blocking(move || scan_statements(&src, &id))
            .await
            .map_err(|e| Error::internal(format!("statement check stopped: {e}")))??;
        cx.check_cancelled()?;
        // Connect now: an unreachable target fails here, before any write.
        let route = nfops_fleet::route::database(
            &r.req.environment,
            &r.req.env,
            r.req.creds.as_ref(),
            &r.req.known_hosts,
            r.req.database.as_deref(),
            "to restore into",
        )
        .await?;
        // Replicas must be able to follow before anything is written.
        let replicas = super::replicas::ensure_ready(&r.req).await?;
        // One restore of this database at a time, from any process: the lock
        // is taken before the shadow exists and held until the job settles.
        let mut claim = super::claim::DatabaseClaim::take(&route.target, &r.shadow).await?;
        let orphans = claim.sweep_orphan_shadows(&r.shadow).await?;
        *r.claim.lock().await = Some(claim);
        *r.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(route.target.clone());
        *r.route.lock().await = Some(route);
        let said: Vec<String> = trust.iter().map(|c| c.detail.clone()).collect();
        Ok(Verified::by(format!(
            "{}; {} files, {bytes} bytes: sizes and SHA-256 equal the manifest; {statements} statements all of the kinds their files may hold; your key is a recipient; the restore lock of the database is held{}{}",
            said.join("; "),
            r.req.source.manifest.files.len(),
            if replicas == 0 { String::new() } else { format!("; {replicas} replica(s) replicating within their lag bound") },
            if orphans.is_empty() { String::new() } else { format!(" ({} orphan shadow schema(s) of killed restores dropped)", orphans.len()) }
        )))
    }
}

/// The checks that decide whether a backup may be restored into the
/// request's target at all, as plan lines: signature, environment, buckets,
/// where the backup came from.
///
/// Errors: `backup.untrusted` (unsigned, untrusted or altered backup; a
/// bucket the environment does not have; another environment's backup
/// without `allow_other_environment`), naming what failed.
pub fn trust(req: &RestoreRequest) -> Result<Vec<PreflightCheck>> {
    let m = &req.source.manifest;
    let signers = TrustedSigners::of(&req.environment, &req.env)?;
    let signer = verify_manifest(
        req.source.manifest_bytes(),
        &req.source.dir,
        &signers,
        &m.backup_id,
    )?;
    let mut out = vec![PreflightCheck {
        name: "signature".into(),
        ok: true,
        detail: format!(
            "signed by {signer}, a trusted signer of '{}'; the manifest is unchanged",
            req.environment
        ),
    }];
    let env_detail = if m.environment == req.environment {
        format!("a backup of '{}' itself", m.environment)
    } else if req.allow_other_environment {
        format!(
            "a backup of ANOTHER environment, '{}', restored into '{}' (allowed by the operator)",
            m.environment, req.environment
        )
    } else {
        return Err(Error::new(
            ErrorCode::BackupUntrusted,
            format!(
                "backup {} was taken of environment '{}', not '{}': nothing was restored or changed",
                m.backup_id, m.environment, req.environment
            ),
        )
        .hint("To restore another environment's backup on purpose, pass --allow-other-environment (CLI) or tick \"Restore another environment's backup\" (Restore page)."));
    };
    out.push(PreflightCheck {
        name: "environment".into(),
        ok: true,
        detail: env_detail,
    });
    let configured: Vec<String> = req
        .env
        .storage
        .as_ref()
        .map(|s| s.buckets.get_ref().clone())
        .unwrap_or_default();
    let foreign: Vec<&str> = req
        .snapshots
        .iter()
        .map(|s| s.bucket.as_str())
        .chain(
            m.storage
                .iter()
                .map(|s| s.bucket.as_str())
                .filter(|_| !req.snapshots.is_empty()),
        )
        .filter(|b| !configured.iter().any(|c| c == b))
        .collect();
    if let Some(b) = foreign.first() {
        return Err(Error::new(
            ErrorCode::BackupUntrusted,
            format!(
                "backup {} holds a snapshot of bucket '{b}', which is not a bucket of environment '{}' (its buckets: {}): nothing was restored or changed",
                m.backup_id,
                req.environment,
                if configured.is_empty() { "none".to_owned() } else { configured.join(", ") }
            ),
        )
        .hint("A restore only writes the environment's own buckets. To restore the database and leave the buckets as they are, pass --without-storage (CLI) or tick \"Leave storage as it is\" (Restore page); otherwise check where this backup came from."));
    }
    out.push(PreflightCheck {
        name: "source".into(),
        ok: true,
        detail: format!("backup read from {}", req.source.origin),
    });
    Ok(out)
}

/// Reads every file of the backup (decrypted) and checks each statement
/// against what that file may hold; returns how many were checked.
///
/// Errors: `backup.untrusted` naming the file, the statement or line
/// number and what is not allowed; `job.check_failed` for a damaged file.
pub fn scan_statements(source: &BackupSource, identity: &age::x25519::Identity) -> Result<u64> {
    let m = &source.manifest;
    let refuse = |file: &str, at: String, why: String| refusal(&m.backup_id, file, &at, &why);
    let scope = Scope::of(&m.database, m.inventory.as_ref());
    let mut n = 0u64;
    for (file, kind) in [
        (source.schema_file(), FileKind::Schema),
        (source.post_file(), FileKind::Post),
    ] {
        let Some(file) = file else { continue };
        let text = source.sql_text(file, identity)?;
        n += check_sql_file(kind, &text, &scope)
            .map_err(|r| refuse(file, format!("line {}", r.line), r.why))?;
    }
    // The data files the loader runs: each table's own files, largest
    // first, on SCAN_THREADS threads (decrypting, decompressing and reading
    // every statement is CPU work; the files are independent).
    let mut files: Vec<(&str, &str, u64)> = m
        .tables
        .iter()
        .flat_map(|t| t.files.iter().map(move |f| (t.name.as_str(), f.as_str())))
        .map(|(t, f)| {
            let size = m
                .files
                .iter()
                .find(|e| e.name == f)
                .map_or(0, |e| e.sql_bytes);
            (t, f, size)
        })
        .collect();
    files.sort_by_key(|x| std::cmp::Reverse(x.2));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let checked = AtomicU64::new(0);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..SCAN_THREADS.min(files.len()) {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let Some(&(table, f, _)) = files.get(next.fetch_add(1, Ordering::Relaxed))
                    else {
                        break;
                    };
                    match scan_data_file(source, identity, table, f, &stop) {
                        Ok(k) => {
                            checked.fetch_add(k, Ordering::Relaxed);
                        }
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            first_error
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    n += checked.into_inner();
    Ok(n)
}

/// A statement a backup file may not hold, named with where it is.
fn refusal(backup_id: &str, file: &str, at: &str, why: &str) -> Error {
    Error::new(
        ErrorCode::BackupUntrusted,
        format!("backup {backup_id}: {file} {at}: {why}; nothing was restored or changed"),
    )
    .hint("A backup file may only hold the statements the dump writes for it. Treat this backup as forged; restore another one.")
}

/// Threads reading data files in [`scan_statements`].
const SCAN_THREADS: usize = 2;

/// Checks every line of data file `f` of `table`; stops early (with 0)
/// once `stop` is set by another thread's refusal.
fn scan_data_file(
    source: &BackupSource,
    identity: &age::x25519::Identity,
    table: &str,
    f: &str,
    stop: &AtomicBool,
) -> Result<u64> {
    let m = &source.manifest;
    let mut r = source.sql_reader(f, identity)?;
    let mut line = String::new();
    let (mut no, mut n) = (0usize, 0u64);
    loop {
        line.clear();
        let read = r.read_line(&mut line).map_err(|e| {
            Error::new(
                ErrorCode::CheckFailed,
                format!("backup file {f} cannot be read to its end (damaged)"),
            )
            .hint("Restore another backup; this one is damaged.")
            .source(e)
        })?;
        if read == 0 {
            break;
        }
        no += 1;
        if no % 4096 == 0 && stop.load(Ordering::Relaxed) {
            return Ok(0);
        }
        match check_data_line(table, &line) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(why) => return Err(refusal(&m.backup_id, f, &format!("line {no}"), &why)),
        }
        n += 1;
    }
    Ok(n)
}

//! Step "check backup": nothing on the server is touched before this passes.
//! In order: the manifest's signature against the environment's trusted
//! signers, the backup's environment and buckets against the target, the
//! operator's key against the recipients, every file's size and SHA-256
//! against the (signed) manifest while copying it into a private folder
//! (everything after reads only that copy), every schema and post statement
//! against what its file may hold ([`nfops_mysql::allowed`]), and only then
//! the route to the target. Data statements are checked by the load, each
//! right before it is sent (one pass over the largest files).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nfops_backup::signature::{verify_manifest, TrustedSigners};
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};

use crate::job::plan::PreflightCheck;
use crate::job::{RestoreRequest, RestoreRun};
use crate::source::BackupSource;
use nfops_mysql::allowed::{check_sql_file, FileKind, Scope};

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
        // schema and post statement (of that copy, as the load will) before
        // any runs; data statements are checked by the load as it sends them.
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
            "{}; {} files, {bytes} bytes: sizes and SHA-256 equal the manifest; {statements} schema and post statements all of the kinds their files may hold (data statements are each checked right before they are sent); your key is a recipient; the restore lock of the database is held{}{}",
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

/// Reads the schema and post files of the backup (decrypted) and checks each
/// statement against what that file may hold; returns how many were checked.
/// Data files are checked statement by statement as the load reads them
/// (`load::load_file`), each right before it is sent: one pass over their
/// bytes, and a refused statement never reaches the server.
///
/// Errors: `backup.untrusted` naming the file, the statement or line
/// number and what is not allowed; `job.check_failed` for a damaged file.
pub fn scan_statements(source: &BackupSource, identity: &age::x25519::Identity) -> Result<u64> {
    let m = &source.manifest;
    let scope = Scope::of(&m.database, m.inventory.as_ref());
    let mut n = 0u64;
    for (file, kind) in [
        (source.schema_file(), FileKind::Schema),
        (source.post_file(), FileKind::Post),
    ] {
        let Some(file) = file else { continue };
        let text = source.sql_text(file, identity)?;
        n += check_sql_file(kind, &text, &scope)
            .map_err(|r| refusal(&m.backup_id, file, &format!("line {}", r.line), &r.why))?;
    }
    Ok(n)
}

/// A statement a backup file may not hold, named with where it is.
pub(crate) fn refusal(backup_id: &str, file: &str, at: &str, why: &str) -> Error {
    Error::new(
        ErrorCode::BackupUntrusted,
        format!("backup {backup_id}: {file} {at}: {why}; nothing was restored or changed"),
    )
    .hint("A backup file may only hold the statements the dump writes for it. Treat this backup as forged; restore another one.")
}

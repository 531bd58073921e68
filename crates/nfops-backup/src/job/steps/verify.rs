//! Step "verify": re-reads the new backup before it is published (decrypt,
//! decompress, parse, compare with the manifest), and the findings-to-result
//! rule the standalone verify job shares.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use age::x25519;
use async_trait::async_trait;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};

use crate::job::Shared;
use crate::sink::sha256_file;
use crate::verify::{verify_dir, Scope, VerifyReport};

pub(crate) struct VerifyStep(pub(crate) Arc<Shared>);

#[async_trait]
impl Step for VerifyStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let s = self.0.clone();
        let mine = s.req.identity.to_public().to_string();
        let is_recipient = s.req.recipients.iter().any(|r| r.to_string() == mine);
        if !is_recipient {
            // Only the recipients can decrypt: check sizes and SHA-256.
            let m = s
                .manifest
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .ok_or_else(|| Error::internal("verify without a manifest"))?;
            for f in &m.files {
                let (bytes, sha) = sha256_file(&s.dir.join(&f.name))
                    .map_err(|e| Error::io(format!("reading {}", f.name), e))?;
                if bytes != f.bytes || sha != f.sha256 {
                    return Err(Error::new(
                        ErrorCode::CheckFailed,
                        format!(
                            "backup file {} differs from the manifest right after writing",
                            f.name
                        ),
                    ));
                }
            }
            return Ok(Verified::by(format!("{} files' size and SHA-256 == manifest (content not decrypted: your key is not a recipient)", m.files.len())));
        }
        let report = verify_with_progress(
            s.dir.clone(),
            None,
            s.req.identity.clone(),
            Scope::Full,
            s.est_rows,
            cx,
        )
        .await?;
        findings_to_result(&report)
    }
}

/// `Ok(evidence)` when `report` has no finding, else `job.check_failed` naming the first ones.
pub fn findings_to_result(report: &VerifyReport) -> Result<Verified> {
    if report.ok() {
        return Ok(Verified::by(format!(
            "{} files: size and SHA-256 == manifest; {} tables, {} rows: counts and content hashes == manifest",
            report.files_checked, report.tables_checked, report.rows_checked
        )));
    }
    let first: Vec<String> = report
        .findings
        .iter()
        .take(3)
        .map(|f| {
            format!(
                "{} {}",
                f.file.as_deref().or(f.table.as_deref()).unwrap_or(""),
                f.problem
            )
        })
        .collect();
    Err(Error::new(
        ErrorCode::CheckFailed,
        format!(
            "backup {} failed verification with {} finding(s): {}",
            report.backup_id,
            report.findings.len(),
            first.join("; ")
        ),
    )
    .hint("Do not rely on this backup; take a new one and check the storage it was read from."))
}

/// Runs [`verify_dir`] off the runtime, reporting rows read against
/// `est_rows` every 250 ms.
///
/// Errors: the report's own (a backup that cannot be opened at all), or
/// `internal` when the verify task stopped.
pub(crate) async fn verify_with_progress(
    dir: PathBuf,
    manifest: Option<crate::Manifest>,
    identity: x25519::Identity,
    scope: Scope,
    est_rows: u64,
    cx: &StepContext<'_>,
) -> Result<VerifyReport> {
    let rows = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let r2 = rows.clone();
    let task = tokio::task::spawn_blocking(move || {
        let on_rows = |n| r2.store(n, Ordering::Relaxed);
        match manifest {
            Some(m) => crate::verify::verify_dir_against(&dir, m, &identity, scope, &on_rows),
            None => verify_dir(&dir, &identity, scope, &on_rows),
        }
    });
    tokio::pin!(task);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            r = &mut task => break r.map_err(|e| Error::internal(format!("verify task failed: {e}")))?,
            _ = tick.tick() => cx.advance(rows.load(Ordering::Relaxed), Some(est_rows.max(1)), "rows"),
        }
    }
}

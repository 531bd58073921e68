//! The standalone verify job (`nfops backup verify`): one step that checks a
//! published backup and keeps every finding.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use age::x25519;
use async_trait::async_trait;
use nfops_core::jobs::{
    CancellationToken, JobReport, JobRunner, Plan, PlannedStep, Progress, Step, StepContext,
    Verified,
};
use nfops_core::{Error, ErrorCode, Result};

use super::steps::verify::{findings_to_result, verify_with_progress};
use crate::manifest::Manifest;
use crate::signature::{verify_manifest, TrustedSigners};
use crate::store::{check_file_name, LocalStore};
use crate::verify::{Scope, VerifyReport};

/// A verify job's result: the job and every finding.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOutcome {
    pub job: JobReport,
    pub report: Option<VerifyReport>,
}

struct VerifyJobStep {
    dir: PathBuf,
    id: String,
    signers: TrustedSigners,
    identity: x25519::Identity,
    scope: Scope,
    est_rows: u64,
    report: Arc<Mutex<Option<VerifyReport>>>,
}

#[async_trait]
impl Step for VerifyJobStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        // Authenticity first: the hashes below prove nothing unless the
        // manifest holding them is signed by a trusted key.
        // One read of the manifest: the bytes whose signature is checked are
        // the ones parsed and used below.
        let (manifest, bytes) = Manifest::read_with_bytes(&self.dir)?;
        let signer = verify_manifest(&bytes, &self.dir, &self.signers, &self.id)?;
        for f in &manifest.files {
            check_file_name(&self.id, &f.name)?;
        }
        let report = verify_with_progress(
            self.dir.clone(),
            Some(manifest),
            self.identity.clone(),
            self.scope,
            self.est_rows,
            cx,
        )
        .await?;
        let result = findings_to_result(&report)
            .map(|v| Verified::by(format!("signed by {signer} (trusted); {}", v.evidence())));
        *self.report.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        result
    }
}

/// Which backup to verify, with what key, how much of it.
pub struct VerifyRequest {
    pub store: LocalStore,
    pub environment: String,
    pub id: String,
    pub identity: x25519::Identity,
    /// Who may sign the environment's backups (`backup.signers`).
    pub signers: TrustedSigners,
    /// A random sample of this many tables; None: every table.
    pub sample: Option<usize>,
}

/// Verifies backup `id` of `environment` in `store` as a job.
///
/// Errors: `input.invalid` when no such backup folder exists; a failed check
/// is a failed job with every finding in [`VerifyOutcome::report`].
pub async fn verify_backup(
    req: VerifyRequest,
    runner: &JobRunner,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
) -> Result<VerifyOutcome> {
    let VerifyRequest {
        store,
        environment,
        id,
        identity,
        signers,
        sample,
    } = req;
    let (environment, id) = (environment.as_str(), id.as_str());
    let dir = store.checked_backup_dir(environment, id)?;
    if !dir.is_dir() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("no backup '{id}' of environment '{environment}'"),
        )
        .hint(format!(
            "List them with `nfops backup list --env {environment}`."
        )));
    }
    let est_rows = Manifest::read(&dir).map(|m| m.rows()).unwrap_or(0);
    let scope = sample.map(Scope::Sample).unwrap_or(Scope::Full);
    let plan = Plan {
        kind: "backup.verify".into(),
        environment: Some(environment.to_owned()),
        summary: format!(
            "Verify backup {id} of {environment}: {}",
            match scope {
                Scope::Full => "every table".to_owned(),
                Scope::Sample(n) => format!("a random sample of {n} table(s)"),
            }
        ),
        steps: vec![PlannedStep {
            name: "verify".into(),
            description: "Check the manifest's signature against the environment's trusted signers, then every file's size and SHA-256, decrypt with your key, decompress, parse, and compare row counts and content hashes with the manifest".into(),
        }],
    };
    let report = Arc::new(Mutex::new(None));
    let step = VerifyJobStep {
        dir,
        id: id.to_owned(),
        signers,
        identity,
        scope,
        est_rows,
        report: report.clone(),
    };
    let job = runner
        .run(plan, vec![Box::new(step)], progress, cancel)
        .await?;
    let report = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(VerifyOutcome { job, report })
}

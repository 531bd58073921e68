//! The backup job: a plan first ([`plan`]), then steps whose evidence is a
//! real check ([`steps`]: dump → storage → manifest → verify → publish), run
//! by nfops-core's `JobRunner` (progress, cancel, crash-safe records). The
//! standalone verify job of a published backup is [`verify_job`].

pub mod plan;
pub(crate) mod steps;
pub mod verify_job;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use age::x25519;
use chrono::{DateTime, Utc};
use nfops_core::config::Environment;
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{CancellationToken, JobReport, JobRunner, JobState, Progress, Step};
use nfops_core::{Error, Result};
use nfops_fleet::route::Route;
use nfops_mysql::{DumpOptions, DumpOutcome, FileEntry};

use crate::manifest::{Manifest, StorageSnapshotEntry};
use crate::store::{new_backup_id, LocalStore};
use steps::dump::DumpStep;
use steps::manifest::ManifestStep;
use steps::publish::PublishStep;
use steps::storage::StorageStep;
use steps::verify::VerifyStep;

pub use plan::{plan_backup, BackupPlan, PlannedTable};
pub use steps::dump::DumpRate;
pub use steps::verify::findings_to_result;
pub use verify_job::{verify_backup, VerifyOutcome, VerifyRequest};

/// Everything a backup of one environment needs, resolved by the caller
/// (config, keyring, destination).
#[derive(Clone)]
pub struct BackupRequest {
    pub environment: String,
    pub env: Environment,
    pub creds: Arc<dyn CredentialSource>,
    /// Trusted SSH host keys, for databases reached through a host.
    pub known_hosts: PathBuf,
    pub store: LocalStore,
    /// Public keys the files are encrypted to (at least one).
    pub recipients: Vec<x25519::Recipient>,
    /// The operator's identity: checks the new backup before it is published.
    pub identity: x25519::Identity,
    /// The operator's signing key: signs the manifest (see [`crate::signature`]).
    pub signer: nfops_vault::BackupSigningKey,
    pub options: DumpOptions,
}

/// The route to the request's database (see [`nfops_fleet::route::database`]).
pub(crate) async fn database_route(req: &BackupRequest) -> Result<Route> {
    nfops_fleet::route::database(
        &req.environment,
        &req.env,
        req.creds.as_ref(),
        &req.known_hosts,
        None,
        "to back up",
    )
    .await
}

/// How a backup run ended.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupOutcome {
    pub backup_id: String,
    pub job: JobReport,
    /// The published folder, when the job succeeded.
    pub path: Option<PathBuf>,
    pub manifest: Option<Manifest>,
    /// The automatic offsite copy made after a successful run, when the
    /// environment has an offsite destination (filled by the caller).
    pub offsite: Option<crate::offsite::OffsiteCopy>,
    /// With an S3 destination: the upload of the staged backup there (filled
    /// by the caller). Without a verified upload there is no backup.
    pub upload: Option<crate::offsite::OffsiteCopy>,
}

impl BackupOutcome {
    /// The run succeeded and, when an offsite copy was due, it was made and
    /// read back. Only then is a run reported fully good.
    pub fn fully_good(&self) -> bool {
        self.job.state == JobState::Succeeded
            && self.upload.as_ref().is_none_or(|o| o.state == "copied")
            && self.offsite.as_ref().is_none_or(|o| o.state == "copied")
    }
}

/// What the steps of one run share.
pub(crate) struct Shared {
    pub(crate) req: BackupRequest,
    pub(crate) id: String,
    pub(crate) dir: PathBuf,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) est_rows: u64,
    pub(crate) route: tokio::sync::Mutex<Option<Route>>,
    pub(crate) dump: Mutex<Option<DumpOutcome>>,
    pub(crate) storage: Mutex<StorageTaken>,
    pub(crate) manifest: Mutex<Option<Manifest>>,
}

/// What the storage step recorded.
#[derive(Default)]
pub(crate) struct StorageTaken {
    pub(crate) files: Vec<FileEntry>,
    pub(crate) snapshots: Vec<StorageSnapshotEntry>,
    pub(crate) warnings: Vec<String>,
}

/// Removes the partial folder unless disarmed (also when the run is dropped).
struct PartialGuard(Option<PathBuf>);

impl Drop for PartialGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            if let Err(e) = std::fs::remove_dir_all(&p) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(category = "worker", path = %p.display(), error = %e, "could not remove a partial backup folder");
                }
            }
        }
    }
}

/// Runs a backup as a job under `plan` (from [`plan_backup`]).
///
/// A failed or cancelled run removes its `.partial` folder; only a run whose
/// manifest was written and verified is renamed to its final name.
pub async fn run_backup(
    req: BackupRequest,
    plan: &BackupPlan,
    runner: &JobRunner,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
) -> Result<BackupOutcome> {
    let id = new_backup_id();
    let dir = req.store.partial_dir(&req.environment, &id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut guard = PartialGuard(Some(dir.clone()));
    let shared = Arc::new(Shared {
        req,
        id: id.clone(),
        dir,
        started_at: Utc::now(),
        est_rows: plan.est_rows,
        route: tokio::sync::Mutex::new(None),
        dump: Mutex::new(None),
        storage: Mutex::new(StorageTaken::default()),
        manifest: Mutex::new(None),
    });
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(DumpStep(shared.clone()))];
    if plan.plan.steps.iter().any(|s| s.name == "storage") {
        steps.push(Box::new(StorageStep(shared.clone())));
    }
    steps.extend::<Vec<Box<dyn Step>>>(vec![
        Box::new(ManifestStep(shared.clone())),
        Box::new(VerifyStep(shared.clone())),
        Box::new(PublishStep(shared.clone())),
    ]);
    let job = runner.run(plan.plan.clone(), steps, progress, cancel).await;
    *shared.route.lock().await = None;
    let job = job?;
    let (path, manifest) = if job.state == JobState::Succeeded {
        guard.0 = None;
        (
            Some(shared.req.store.backup_dir(&shared.req.environment, &id)),
            shared
                .manifest
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    } else {
        (None, None)
    };
    drop(guard);
    Ok(BackupOutcome {
        backup_id: id,
        job,
        path,
        manifest,
        offsite: None,
        upload: None,
    })
}

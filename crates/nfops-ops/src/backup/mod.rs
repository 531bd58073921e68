//! Backups of an environment's database: plan, run, list, verify; each run
//! and verification is audited (ids, counts and outcome; never a key).
//!
//! Recipients come from `backup.recipients` in environments.toml, else the
//! operator's own public key; the operator's identity is the keyring
//! credential `nfops/age-identity` (generated on first use, shared with the
//! secrets store).

use std::path::PathBuf;
use std::sync::Arc;

use nfops_backup::crypto::{parse_identity, parse_recipients};
use nfops_backup::object_store::ObjectStore;
use nfops_backup::offsite::OffsiteCopy;
use nfops_backup::{
    BackupOutcome, BackupPlan, BackupRequest, Listing, LocalStore, VerifyOutcome, VerifyRequest,
};
use nfops_core::audit::{Action, Outcome};
use nfops_core::config::ObjectDestination;
use nfops_core::jobs::{CancellationToken, JobReport, JobState, Progress};
use nfops_core::{Error, Result};
use nfops_mysql::DumpOptions;

use crate::Console;

mod catalog;
mod copy;
mod source;

pub use catalog::{forget_ids, ForgetOutcome, OffsitePlan, Staleness};

/// The one blocking-aware keyring lookup, at the path promote.rs imports it from.
use nfops_vault::KeyringSource;

impl Console {
    /// The folder holding every environment's backups: `backup.destination`
    /// of `env`, else `$NFOPS_HOME/backups`, else `backups` in the data folder.
    /// With an S3 destination (`backup.s3`, see [`Console::primary_bucket`])
    /// it is only the staging area of a running backup: list with
    /// [`Console::backup_listing`], and get a local copy of a backup from the
    /// bucket with `ObjectStore::download_backup`.
    pub fn backup_store(&self, env: &str) -> Result<LocalStore> {
        let config = self.config()?;
        let e = config.environment(env)?;
        let root = e
            .backup
            .as_ref()
            .and_then(|b| b.destination.as_ref())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("NFOPS_HOME").map(|h| PathBuf::from(h).join("backups")))
            .unwrap_or_else(|| self.paths().state_dir.join("backups"));
        Ok(LocalStore::new(&root))
    }

    async fn backup_identity(&self) -> Result<age::x25519::Identity> {
        let id = self.age_identity().await?;
        parse_identity(&id.to_secret())
    }

    async fn backup_request(&self, env: &str) -> Result<BackupRequest> {
        let config = self.config()?;
        let e = config.environment(env)?.clone();
        let identity = self.backup_identity().await?;
        // Made on the first backup when the operator has none yet.
        let (signer, _) = self.backup_signing_key(true).await?;
        let recipients = match e.backup.as_ref().and_then(|b| b.recipients.as_ref()) {
            Some(r) => parse_recipients(r.get_ref())?,
            None => vec![identity.to_public()],
        };
        Ok(BackupRequest {
            environment: env.to_owned(),
            env: e,
            creds: Arc::new(KeyringSource(self.keyring().clone())),
            known_hosts: self.known_hosts(),
            store: self.backup_store(env)?,
            recipients,
            identity,
            signer,
            options: DumpOptions::default(),
        })
    }

    /// The dry run of a backup of `env`: tables, estimated rows and bytes.
    pub async fn backup_plan(&self, env: &str) -> Result<BackupPlan> {
        let req = self.backup_request(env).await?;
        nfops_backup::plan_backup(&req).await
    }

    /// Takes a backup of `env` as a job.
    pub async fn backup_run(
        &self,
        env: &str,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<(BackupPlan, BackupOutcome)> {
        // One operator per environment: no backup while another process
        // restores, promotes or pushes (held through upload and copy).
        let lease = self
            .take_lease(env, nfops_core::lease::LeaseAction::Backup)
            .await?;
        let result = self
            .holding(&lease)
            .backup_run_held(env, progress, cancel)
            .await;
        self.release(lease).await;
        result
    }

    /// [`Console::backup_run`] for a caller that already holds `env`'s lease
    /// (a promotion's pre-promotion backup).
    pub(crate) async fn backup_run_held(
        &self,
        env: &str,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<(BackupPlan, BackupOutcome)> {
        let req = self.backup_request(env).await?;
        let plan = nfops_backup::plan_backup(&req).await?;
        let result = nfops_backup::run_backup(
            req,
            &plan,
            &self.job_runner(),
            progress.clone(),
            cancel.clone(),
        )
        .await;
        let (outcome, details) = job_audit(
            &result,
            |o| &o.job,
            |o| {
                serde_json::json!({
                    "tables": o.manifest.as_ref().map(|m| m.tables.len()),
                    "rows": o.manifest.as_ref().map(|m| m.rows()),
                    "bytes": o.manifest.as_ref().map(|m| m.stored_bytes()),
                })
            },
        );
        let target = result.as_ref().ok().map(|o| o.backup_id.clone());
        if let Ok(o) = &result {
            if o.job.state == JobState::Succeeded {
                // The run's verify step re-read every file before publishing.
                self.catalog()
                    .record_verify(env, &o.backup_id, true, "verified by the backup run")
                    .await?;
            }
        }
        self.audit()
            .record(Action {
                action: "backup.run",
                environment: Some(env),
                target: target.as_deref(),
                outcome,
                details,
            })
            .await?;
        let mut outcome = result?;
        if outcome.job.state != JobState::Succeeded {
            return Ok((plan, outcome));
        }
        let id = outcome.backup_id.clone();
        if let Some(primary) = self.primary_bucket(env)? {
            // The bucket is the destination: the local folder was only the
            // staging area. Upload (manifest last) and read back, or no backup.
            let upload = self
                .copy_to(
                    env,
                    &id,
                    &self.backup_store(env)?,
                    primary,
                    "backup.upload",
                    progress.clone(),
                    cancel.clone(),
                )
                .await;
            let up = OffsiteCopy::from_result(&upload);
            let uploaded = up.state == "copied";
            if !uploaded {
                self.catalog()
                    .record_verify(env, &id, false, "the upload to the S3 destination failed")
                    .await?;
            }
            outcome.upload = Some(up);
            if uploaded && self.offsite_destination(env)?.is_some() {
                let copy = self
                    .backup_copy(env, &id, progress.clone(), cancel.clone())
                    .await;
                outcome.offsite = Some(OffsiteCopy::from_result(&copy));
            }
            self.drop_staging(env, &id)?;
            outcome.path = None;
            return Ok((plan, outcome));
        }
        if self.offsite_destination(env)?.is_some() {
            // Every run of an environment with an offsite destination ends
            // with a verified copy there, or says clearly that it has none.
            let copy = self.backup_copy(env, &id, progress, cancel).await;
            outcome.offsite = Some(OffsiteCopy::from_result(&copy));
        }
        Ok((plan, outcome))
    }

    /// `backup.s3` of `env`: the bucket that is its backup destination, when
    /// it is not a local folder.
    ///
    /// Errors: the config's; keyring errors for the S3 keys.
    pub fn primary_bucket(&self, env: &str) -> Result<Option<ObjectStore>> {
        let config = self.config()?;
        let dest = config
            .environment(env)?
            .backup
            .as_ref()
            .and_then(|b| b.s3.clone());
        dest.map(|d| ObjectStore::connect(&d, &KeyringSource(self.keyring().clone())))
            .transpose()
    }

    /// Removes the local staging folder of backup `id` (S3 destination only).
    fn drop_staging(&self, env: &str, id: &str) -> Result<()> {
        let dir = self.backup_store(env)?.backup_dir(env, id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(
                format!("removing the staging folder {}", dir.display()),
                e,
            )),
        }
    }

    /// A local folder holding backup `id`: the destination itself, or, for an
    /// S3 destination, a fresh download under the data folder (removed when
    /// the returned guard drops).
    async fn local_copy(
        &self,
        env: &str,
        id: &str,
    ) -> Result<(LocalStore, Option<nfops_restore::source::DownloadedCopy>)> {
        nfops_backup::store::check_backup_id(id)?;
        let Some(bucket) = self.primary_bucket(env)? else {
            return Ok((self.backup_store(env)?, None));
        };
        let copy = self.download_folder()?;
        let store = LocalStore::new(&copy.0);
        bucket
            .download_backup(env, id, &store.backup_dir(env, id))
            .await?;
        Ok((store, Some(copy)))
    }

    /// Backups of `env` at its destination (local folder or S3 bucket),
    /// newest first, incomplete ones included and marked.
    ///
    /// Errors: `io.error` for a folder; S3 errors for a bucket.
    pub async fn backup_listing(&self, env: &str) -> Result<Vec<Listing>> {
        match self.primary_bucket(env)? {
            Some(bucket) => bucket.list_backups(env).await,
            None => self.backup_list(env),
        }
    }

    /// `backup.offsite` of `env`, when it has one.
    pub fn offsite_destination(&self, env: &str) -> Result<Option<ObjectDestination>> {
        let config = self.config()?;
        Ok(config
            .environment(env)?
            .backup
            .as_ref()
            .and_then(|b| b.offsite.clone()))
    }

    /// Backups of `env`, newest first, incomplete folders included and marked.
    pub fn backup_list(&self, env: &str) -> Result<Vec<Listing>> {
        self.backup_store(env)?.list(env)
    }

    /// Verifies backup `id` of `env` (every table, or a random sample of `sample`).
    pub async fn backup_verify(
        &self,
        env: &str,
        id: &str,
        sample: Option<usize>,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<VerifyOutcome> {
        let identity = self.backup_identity().await?;
        let signers =
            nfops_backup::signature::TrustedSigners::of(env, self.config()?.environment(env)?)?;
        let (store, _download) = self.local_copy(env, id).await?;
        let result = nfops_backup::verify_backup(
            VerifyRequest {
                store,
                environment: env.to_owned(),
                id: id.to_owned(),
                identity,
                signers,
                sample,
            },
            &self.job_runner(),
            progress,
            cancel,
        )
        .await;
        let (outcome, details) = job_audit(
            &result,
            |v| &v.job,
            |v| {
                serde_json::json!({
                    "sample": sample,
                    "findings": v.report.as_ref().map(|r| r.findings.len()),
                })
            },
        );
        if let Ok(v) = &result {
            let note = match (&v.report, &v.job.error) {
                (Some(r), _) if r.ok() => format!(
                    "{} tables, {} rows checked{}",
                    r.tables_checked,
                    r.rows_checked,
                    if r.sampled { " (sample)" } else { "" }
                ),
                (Some(r), _) => format!("{} finding(s)", r.findings.len()),
                (None, Some(e)) => e.message.clone(),
                (None, None) => "not completed".into(),
            };
            if v.job.state != JobState::Cancelled {
                self.catalog()
                    .record_verify(env, id, v.job.state == JobState::Succeeded, &note)
                    .await?;
            }
        }
        self.audit()
            .record(Action {
                action: "backup.verify",
                environment: Some(env),
                target: Some(id),
                outcome,
                details,
            })
            .await?;
        result
    }
}

/// A folder removed (with everything in it) when this drops.
/// The audit outcome and details of a job's result, one rule for every job
/// the console audits: the job's state and id, its error code, and `details`
/// of the finished job; or only the error code when the job could not start.
pub(crate) fn job_audit<T>(
    result: &Result<T>,
    job: impl Fn(&T) -> &JobReport,
    details: impl Fn(&T) -> serde_json::Value,
) -> (Outcome, serde_json::Value) {
    match result {
        Ok(t) => {
            let report = job(t);
            let mut d = details(t);
            if let Some(map) = d.as_object_mut() {
                map.insert("job".into(), serde_json::json!(report.job_id));
                map.insert(
                    "error".into(),
                    serde_json::json!(report.error.as_ref().map(|e| e.code.clone())),
                );
            }
            (job_outcome(report.state), d)
        }
        Err(e) => (
            Outcome::Failed,
            serde_json::json!({ "error": e.code().as_str() }),
        ),
    }
}

/// A job's end state as the audit log records it.
pub(crate) fn job_outcome(s: JobState) -> Outcome {
    match s {
        JobState::Succeeded => Outcome::Succeeded,
        JobState::Cancelled => Outcome::Cancelled,
        _ => Outcome::Failed,
    }
}

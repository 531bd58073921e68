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
use nfops_backup::{
    BackupOutcome, BackupPlan, BackupRequest, Listing, LocalStore, VerifyOutcome, VerifyRequest,
};
use nfops_core::audit::{Action, Outcome};
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{CancellationToken, JobState, Progress};
use nfops_core::{Result, SecretString};
use nfops_mysql::DumpOptions;

use crate::Console;

/// Lets backup steps read database and SSH credentials from the keyring.
struct KeyringSource(Arc<nfops_vault::Keyring>);

impl CredentialSource for KeyringSource {
    fn get(&self, name: &str) -> Result<SecretString> {
        // Keyring calls block briefly (a backup reads two or three); keep the
        // runtime's other tasks going where the runtime allows it.
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(|| self.0.get(name))
        } else {
            self.0.get(name)
        }
    }
}

impl Console {
    /// The folder holding every environment's backups: `backup.destination`
    /// of `env`, else `$NFOPS_HOME/backups`, else `backups` in the data folder.
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
        let req = self.backup_request(env).await?;
        let plan = nfops_backup::plan_backup(&req).await?;
        let result =
            nfops_backup::run_backup(req, &plan, &self.job_runner(), progress, cancel).await;
        let (outcome, details, target) = match &result {
            Ok(o) => (
                job_outcome(o.job.state),
                serde_json::json!({
                    "job": o.job.job_id,
                    "tables": o.manifest.as_ref().map(|m| m.tables.len()),
                    "rows": o.manifest.as_ref().map(|m| m.rows()),
                    "bytes": o.manifest.as_ref().map(|m| m.stored_bytes()),
                    "error": o.job.error.as_ref().map(|e| e.code.clone()),
                }),
                Some(o.backup_id.clone()),
            ),
            Err(e) => (
                Outcome::Failed,
                serde_json::json!({ "error": e.code().as_str() }),
                None,
            ),
        };
        self.audit()
            .record(Action {
                action: "backup.run",
                environment: Some(env),
                target: target.as_deref(),
                outcome,
                details,
            })
            .await?;
        Ok((plan, result?))
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
        let store = self.backup_store(env)?;
        let identity = self.backup_identity().await?;
        let result = nfops_backup::verify_backup(
            VerifyRequest {
                store,
                environment: env.to_owned(),
                id: id.to_owned(),
                identity,
                sample,
            },
            &self.job_runner(),
            progress,
            cancel,
        )
        .await;
        let (outcome, details) = match &result {
            Ok(v) => (
                job_outcome(v.job.state),
                serde_json::json!({
                    "job": v.job.job_id,
                    "sample": sample,
                    "findings": v.report.as_ref().map(|r| r.findings.len()),
                    "error": v.job.error.as_ref().map(|e| e.code.clone()),
                }),
            ),
            Err(e) => (
                Outcome::Failed,
                serde_json::json!({ "error": e.code().as_str() }),
            ),
        };
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

fn job_outcome(s: JobState) -> Outcome {
    match s {
        JobState::Succeeded => Outcome::Succeeded,
        JobState::Cancelled => Outcome::Cancelled,
        _ => Outcome::Failed,
    }
}

//! Backups of an environment's database: plan, run, list, verify; each run
//! and verification is audited (ids, counts and outcome; never a key).
//!
//! Recipients come from `backup.recipients` in environments.toml, else the
//! operator's own public key; the operator's identity is the keyring
//! credential `nfops/age-identity` (generated on first use, shared with the
//! secrets store).

use std::path::PathBuf;
use std::sync::Arc;

use nfops_backup::catalog::{newest_good, Catalog, CatalogEntry};
use nfops_backup::crypto::{parse_identity, parse_recipients};
use nfops_backup::object_store::ObjectStore;
use nfops_backup::offsite::{CopyOutcome, CopyRequest};
use nfops_backup::retention::{plan_retention, Candidate, RetentionPlan, RetentionPolicy};
use nfops_backup::{
    BackupOutcome, BackupPlan, BackupRequest, Listing, LocalStore, VerifyOutcome, VerifyRequest,
};
use nfops_core::audit::{Action, Outcome};
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{CancellationToken, JobState, Progress};
use nfops_core::{Error, ErrorCode, Result, SecretString};
use nfops_mysql::DumpOptions;

use crate::Console;

/// Lets backup steps read database and SSH credentials from the keyring.
pub(crate) struct KeyringSource(pub(crate) Arc<nfops_vault::Keyring>);

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

impl Console {
    /// The catalog cache (SQLite).
    pub fn catalog(&self) -> Catalog {
        Catalog::new(self.state())
    }

    /// The catalog of `env`, refreshed from its destination (the source of
    /// truth), newest first; incomplete folders are listed as such.
    pub async fn backup_catalog(&self, env: &str) -> Result<Vec<CatalogEntry>> {
        let listing = self.backup_list(env)?;
        self.catalog().refresh(env, &listing).await
    }

    /// Whether the newest good backup of `env` is older than
    /// `backup.max_staleness_hours` (or there is none).
    pub async fn backup_staleness(&self, env: &str) -> Result<Staleness> {
        let config = self.config()?;
        let max_hours = config
            .environment(env)?
            .backup
            .as_ref()
            .map_or(26, |b| b.max_staleness_hours);
        let entries = self.backup_catalog(env).await?;
        let newest = newest_good(&entries).cloned();
        let age_hours = newest
            .as_ref()
            .and_then(|e| e.age_hours(chrono::Utc::now()));
        Ok(Staleness {
            stale: age_hours.is_none_or(|h| h > f64::from(max_hours)),
            max_staleness_hours: max_hours,
            newest_good: newest.map(|e| e.id),
            age_hours,
        })
    }

    /// The retention plan of `env` under its `backup` policy: one decision
    /// (keep or forget, with reasons) per complete backup, newest first.
    pub async fn backup_forget_plan(&self, env: &str) -> Result<RetentionPlan> {
        let config = self.config()?;
        let policy = config
            .environment(env)?
            .backup
            .as_ref()
            .map(RetentionPolicy::from)
            .unwrap_or(RetentionPolicy {
                keep_daily: 7,
                keep_weekly: 4,
                keep_monthly: 6,
                min_age_days: 30,
                max_age_days: 180,
            });
        let entries = self.backup_catalog(env).await?;
        let candidates: Vec<Candidate> = entries
            .iter()
            .filter(|e| e.is_complete())
            .filter_map(|e| {
                Some(Candidate {
                    id: e.id.clone(),
                    at: e.finished_at?,
                    verified: e.is_verified(),
                })
            })
            .collect();
        Ok(plan_retention(&candidates, &policy, chrono::Utc::now()))
    }

    /// Plans retention of `env` and, with `apply`, deletes what the plan
    /// forgets (manifest first, so a half-deleted folder is never listed as a
    /// backup). Audited as `backup.forget` (plan only or applied).
    ///
    /// Errors: the catalog's; `io.error` when a folder cannot be removed (the
    /// ones removed before stay removed and are audited).
    pub async fn backup_forget(&self, env: &str, apply: bool) -> Result<ForgetOutcome> {
        let plan = self.backup_forget_plan(env).await?;
        let mut removed = Vec::new();
        let mut failure = None;
        if apply {
            let store = self.backup_store(env)?;
            for d in plan.forgotten() {
                match store.remove(env, &d.id) {
                    Ok(()) => {
                        self.catalog().remove(env, &d.id).await?;
                        removed.push(d.id.clone());
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        let forgotten: Vec<&str> = plan.forgotten().map(|d| d.id.as_str()).collect();
        self.audit()
            .record(Action {
                action: "backup.forget",
                environment: Some(env),
                target: None,
                outcome: if failure.is_some() {
                    Outcome::Failed
                } else {
                    Outcome::Succeeded
                },
                details: serde_json::json!({
                    "applied": apply,
                    "kept": plan.kept().count(),
                    "forgotten": forgotten,
                    "removed": removed,
                    "error": failure.as_ref().map(|e| e.code().as_str()),
                }),
            })
            .await?;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(ForgetOutcome {
            applied: apply,
            plan,
            removed,
        })
    }
}

impl Console {
    /// Copies backup `id` of `env` to its `backup.offsite` bucket as a job
    /// (upload with per-object checks, then a full read-back), records the
    /// copy state in the catalog and audits `backup.copy`.
    ///
    /// Errors: `input.invalid` when `env` has no `backup.offsite` or no such
    /// backup; keyring errors for the S3 keys. S3 and check failures end the
    /// job failed (see the outcome's job report).
    pub async fn backup_copy(
        &self,
        env: &str,
        id: &str,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<CopyOutcome> {
        let config = self.config()?;
        let dest = config
            .environment(env)?
            .backup
            .as_ref()
            .and_then(|b| b.offsite.clone())
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!("environment '{env}' has no offsite destination"),
                )
                .hint(format!(
                    "Add [environments.{env}.backup.offsite] to environments.toml (see README, Backups)."
                ))
            })?;
        let to = ObjectStore::connect(&dest, &KeyringSource(self.keyring().clone()))?;
        let result = nfops_backup::offsite::copy_backup(
            CopyRequest {
                store: self.backup_store(env)?,
                environment: env.to_owned(),
                id: id.to_owned(),
                to,
            },
            &self.job_runner(),
            progress,
            cancel,
        )
        .await;
        let (outcome, details) = match &result {
            Ok(o) => (
                job_outcome(o.job.state),
                serde_json::json!({
                    "job": o.job.job_id,
                    "to": o.location,
                    "files": o.files,
                    "bytes": o.bytes,
                    "error": o.job.error.as_ref().map(|e| e.code.clone()),
                }),
            ),
            Err(e) => (
                Outcome::Failed,
                serde_json::json!({ "error": e.code().as_str() }),
            ),
        };
        if let Ok(o) = &result {
            match o.job.state {
                JobState::Succeeded => self.catalog().record_offsite(env, id, "copied").await?,
                JobState::Cancelled => {}
                _ => self.catalog().record_offsite(env, id, "failed").await?,
            }
        }
        self.audit()
            .record(Action {
                action: "backup.copy",
                environment: Some(env),
                target: Some(id),
                outcome,
                details,
            })
            .await?;
        result
    }
}

/// Whether an environment's backups are too old.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Staleness {
    /// No good backup, or the newest is older than `max_staleness_hours`.
    pub stale: bool,
    pub max_staleness_hours: u32,
    pub newest_good: Option<String>,
    pub age_hours: Option<f64>,
}

/// What `forget` planned and, when applied, removed.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForgetOutcome {
    pub applied: bool,
    pub plan: RetentionPlan,
    pub removed: Vec<String>,
}

fn job_outcome(s: JobState) -> Outcome {
    match s {
        JobState::Succeeded => Outcome::Succeeded,
        JobState::Cancelled => Outcome::Cancelled,
        _ => Outcome::Failed,
    }
}

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
use nfops_backup::offsite::{CopyOutcome, CopyRequest, OffsiteCopy};
use nfops_backup::retention::{plan_retention, Candidate, RetentionPlan, RetentionPolicy};
use nfops_backup::{
    BackupOutcome, BackupPlan, BackupRequest, Listing, LocalStore, VerifyOutcome, VerifyRequest,
};
use nfops_core::audit::{Action, Outcome};
use nfops_core::config::ObjectDestination;
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
        let result = nfops_backup::run_backup(
            req,
            &plan,
            &self.job_runner(),
            progress.clone(),
            cancel.clone(),
        )
        .await;
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
    async fn local_copy(&self, env: &str, id: &str) -> Result<(LocalStore, Option<TempTree>)> {
        let Some(bucket) = self.primary_bucket(env)? else {
            return Ok((self.backup_store(env)?, None));
        };
        let root = self
            .paths()
            .state_dir
            .join("backup-downloads")
            .join(format!(
                "{}-{}",
                std::process::id(),
                nfops_backup::store::new_backup_id()
            ));
        let guard = TempTree(root.clone());
        let store = LocalStore::new(&root);
        bucket
            .download_backup(env, id, &store.backup_dir(env, id))
            .await?;
        Ok((store, Some(guard)))
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
        let (store, _download) = self.local_copy(env, id).await?;
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
        let listing = self.backup_listing(env).await?;
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

    /// [`Console::backup_staleness`] of every environment with a database,
    /// in config order; each failure (destination unreadable) stays its own.
    ///
    /// Errors: the config's.
    pub async fn backup_staleness_all(&self) -> Result<Vec<(String, Result<Staleness>)>> {
        let config = self.config()?;
        let mut out = Vec::new();
        for (name, env) in config.environments() {
            if env.database.is_none() {
                continue;
            }
            let s = self.backup_staleness(name).await;
            out.push((name.to_owned(), s));
        }
        Ok(out)
    }

    /// The retention policy of `env` (`backup` in environments.toml, else
    /// 7 daily, 4 weekly, 6 monthly, 30–180 days).
    fn retention_policy(&self, env: &str) -> Result<RetentionPolicy> {
        let config = self.config()?;
        Ok(config
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
            }))
    }

    /// The retention plan of `env` under its `backup` policy: one decision
    /// (keep or forget, with reasons) per complete backup, newest first.
    pub async fn backup_forget_plan(&self, env: &str) -> Result<RetentionPlan> {
        let policy = self.retention_policy(env)?;
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

    /// The retention plan of the offsite copies of `env` (same policy and
    /// invariants: never the newest verified copy, never every copy), listed
    /// from the bucket; `None` without an offsite destination.
    ///
    /// A copy is complete only with its manifest object, which the copy job
    /// uploads last and removes when the read-back fails: every complete copy
    /// is a verified one.
    ///
    /// Errors: keyring errors for the S3 keys; S3 errors (`service.unreachable` …).
    pub async fn backup_forget_offsite_plan(&self, env: &str) -> Result<Option<OffsitePlan>> {
        let Some(dest) = self.offsite_destination(env)? else {
            return Ok(None);
        };
        let policy = self.retention_policy(env)?;
        let store = ObjectStore::connect(&dest, &KeyringSource(self.keyring().clone()))?;
        let listing = store.list_backups(env).await?;
        let candidates: Vec<Candidate> = listing
            .iter()
            .filter(|l| l.state == "complete")
            .filter_map(|l| {
                let at = chrono::DateTime::parse_from_rfc3339(l.finished_at.as_deref()?).ok()?;
                Some(Candidate {
                    id: l.id.clone(),
                    at: at.with_timezone(&chrono::Utc),
                    verified: true,
                })
            })
            .collect();
        Ok(Some(OffsitePlan {
            location: store.describe(),
            plan: plan_retention(&candidates, &policy, chrono::Utc::now()),
            incomplete: listing
                .iter()
                .filter(|l| l.state != "complete")
                .map(|l| l.id.clone())
                .collect(),
            removed: Vec::new(),
        }))
    }

    /// Plans retention of `env` (local backups and, when configured, the
    /// offsite copies) and, with `apply`, deletes what the plans forget
    /// (manifest first, so a half-deleted backup is never listed as one).
    /// Both plans are made before anything is deleted: an unreachable
    /// offsite bucket stops `forget` before it removes anything. Audited as
    /// `backup.forget` (plan only or applied).
    ///
    /// Errors: the catalog's; S3 errors listing the offsite copies;
    /// `io.error` / S3 errors when a backup cannot be removed (the ones
    /// removed before stay removed and are audited).
    pub async fn backup_forget(&self, env: &str, apply: bool) -> Result<ForgetOutcome> {
        self.backup_forget_checked(env, apply, None).await
    }

    /// As [`Console::backup_forget`] with `apply`, but only when the fresh
    /// plan forgets exactly `expected` (local ids, then `offsite:`-prefixed
    /// offsite ids): what the user reviewed is what goes.
    ///
    /// Errors: `input.invalid` when the plan changed since it was shown
    /// (nothing is deleted); otherwise as [`Console::backup_forget`].
    pub async fn backup_forget_reviewed(
        &self,
        env: &str,
        expected: &[String],
    ) -> Result<ForgetOutcome> {
        self.backup_forget_checked(env, true, Some(expected)).await
    }

    async fn backup_forget_checked(
        &self,
        env: &str,
        apply: bool,
        expected: Option<&[String]>,
    ) -> Result<ForgetOutcome> {
        let plan = self.backup_forget_plan(env).await?;
        let mut offsite = self.backup_forget_offsite_plan(env).await?;
        if let Some(expected) = expected {
            let mut now = forget_ids(&plan, offsite.as_ref());
            let mut want = expected.to_vec();
            now.sort();
            want.sort();
            if now != want {
                return Err(Error::new(
                    ErrorCode::InvalidInput,
                    format!("the retention plan of {env} changed since it was shown; nothing was deleted"),
                )
                .hint("Review the new plan and apply it again."));
            }
        }
        let mut removed = Vec::new();
        let mut failure = None;
        if apply {
            let store = self.backup_store(env)?;
            let bucket = self.primary_bucket(env)?;
            for d in plan.forgotten() {
                let gone = match &bucket {
                    Some(b) => b.remove_backup(env, &d.id).await,
                    None => store.remove(env, &d.id),
                };
                match gone {
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
            if let (Some(o), None) = (offsite.as_mut(), &failure) {
                let dest = self
                    .offsite_destination(env)?
                    .ok_or_else(|| Error::internal("the offsite destination vanished"))?;
                let bucket = ObjectStore::connect(&dest, &KeyringSource(self.keyring().clone()))?;
                let gone: Vec<String> = o.plan.forgotten().map(|d| d.id.clone()).collect();
                for id in gone {
                    match bucket.remove_backup(env, &id).await {
                        Ok(()) => {
                            if !removed.contains(&id) {
                                self.catalog().record_offsite(env, &id, "forgotten").await?;
                            }
                            o.removed.push(id);
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            }
        }
        let forgotten: Vec<&str> = plan.forgotten().map(|d| d.id.as_str()).collect();
        let offsite_forgotten: Option<Vec<&str>> = offsite
            .as_ref()
            .map(|o| o.plan.forgotten().map(|d| d.id.as_str()).collect());
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
                    "offsite": offsite.as_ref().map(|o| serde_json::json!({
                        "location": o.location,
                        "kept": o.plan.kept().count(),
                        "forgotten": offsite_forgotten,
                        "removed": o.removed,
                    })),
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
            offsite,
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
        let dest = self.offsite_destination(env)?.ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("environment '{env}' has no offsite destination"),
            )
            .hint(format!(
                "Add [environments.{env}.backup.offsite] to environments.toml (see README, Backups)."
            ))
        })?;
        let to = ObjectStore::connect(&dest, &KeyringSource(self.keyring().clone()))?;
        // From the local folder; for an S3 destination, a download of it
        // (the run's own copy goes before its staging folder is removed).
        let staged = self.backup_store(env)?;
        let (store, _download) = if staged.backup_dir(env, id).is_dir() {
            (staged, None)
        } else {
            self.local_copy(env, id).await?
        };
        let result = self
            .copy_to(env, id, &store, to, "backup.copy", progress, cancel)
            .await;
        if let Ok(o) = &result {
            match o.job.state {
                JobState::Succeeded => self.catalog().record_offsite(env, id, "copied").await?,
                JobState::Cancelled => {}
                _ => self.catalog().record_offsite(env, id, "failed").await?,
            }
        }
        result
    }

    /// Copies backup `id` from `store` to the bucket `to` as a job and
    /// audits it as `action`.
    #[allow(clippy::too_many_arguments)]
    async fn copy_to(
        &self,
        env: &str,
        id: &str,
        store: &LocalStore,
        to: ObjectStore,
        action: &'static str,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<CopyOutcome> {
        let result = nfops_backup::offsite::copy_backup(
            CopyRequest {
                store: store.clone(),
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
        self.audit()
            .record(Action {
                action,
                environment: Some(env),
                target: Some(id),
                outcome,
                details,
            })
            .await?;
        result
    }
}

/// What a forget plan deletes: local backup ids, then offsite copy ids
/// prefixed `offsite:`.
pub fn forget_ids(plan: &RetentionPlan, offsite: Option<&OffsitePlan>) -> Vec<String> {
    let mut ids: Vec<String> = plan.forgotten().map(|d| d.id.clone()).collect();
    if let Some(o) = offsite {
        ids.extend(o.plan.forgotten().map(|d| format!("offsite:{}", d.id)));
    }
    ids
}

/// A folder removed (with everything in it) when this drops.
struct TempTree(PathBuf);

impl Drop for TempTree {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(category = "worker", path = %self.0.display(), error = %e, "could not remove a downloaded backup");
            }
        }
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
    /// The offsite copies' plan, when the environment has an offsite destination.
    pub offsite: Option<OffsitePlan>,
}

/// What `forget` plans (and removed) among the offsite copies.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OffsitePlan {
    /// `s3://bucket/prefix`.
    pub location: String,
    pub plan: RetentionPlan,
    /// Copies without a manifest object (interrupted): not backups, left alone.
    pub incomplete: Vec<String>,
    pub removed: Vec<String>,
}

fn job_outcome(s: JobState) -> Outcome {
    match s {
        JobState::Succeeded => Outcome::Succeeded,
        JobState::Cancelled => Outcome::Cancelled,
        _ => Outcome::Failed,
    }
}

//! Restores, integrity checks and restore drills of an environment; each is
//! audited with its outcome (ids, counts, states; never a key).
//!
//! A restore is one job: check backup → load shadow → verify shadow → swap →
//! cache → workers → integrity checks (the last three when in scope). When a
//! step after the swap fails, the database is rolled back to its previous
//! tables and the outcome says so.

use std::sync::{Arc, Mutex};

use nfops_backup::crypto::parse_identity;
use nfops_core::audit::{Action, Outcome};
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{CancellationToken, PlannedStep, Progress, Step};
use nfops_core::lease::LeaseAction;
use nfops_core::{Error, ErrorCode, Result};
use nfops_restore::cache::CacheStep;
use nfops_restore::checks::{CheckReport, CheckRequest, ChecksStep};
use nfops_restore::workers::WorkersStep;
use nfops_restore::{BackupSource, RestoreOutcome, RestorePlan, RestoreRequest};
use serde::Serialize;

use crate::Console;

mod drill;
mod reports;

pub use drill::{drill_staleness, Drill, DrillStaleness, DEFAULT_DRILL_MAX_AGE_DAYS};
pub use reports::SavedReport;

/// What a restore covers besides the database.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreScope {
    /// Flush the environment's cache keys and warm the app up.
    pub cache: bool,
    /// Reload the PM2 processes on every host and wait until online.
    pub workers: bool,
    /// Run the integrity checks against the backup at the end.
    pub checks: bool,
    /// Restore a backup taken of another environment (refused otherwise;
    /// the plan says so).
    #[serde(default)]
    pub other_environment: bool,
    /// Leave the environment's buckets as they are (the backup's storage
    /// snapshots are not applied; the plan and the storage step say so).
    #[serde(default)]
    pub without_storage: bool,
}

impl Default for RestoreScope {
    fn default() -> Self {
        Self {
            cache: true,
            workers: true,
            checks: true,
            other_environment: false,
            without_storage: false,
        }
    }
}

/// A restore run with its integrity report (when checks were in scope).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRun {
    pub outcome: RestoreOutcome,
    pub report: Option<CheckReport>,
}

impl Console {
    pub(super) fn creds(&self) -> Arc<dyn CredentialSource> {
        Arc::new(nfops_vault::KeyringSource(self.keyring().clone()))
    }

    pub(super) async fn restore_request(
        &self,
        env: &str,
        backup: &str,
        tables: Option<Vec<String>>,
        database: Option<String>,
        allow_other_environment: bool,
        without_storage: bool,
    ) -> Result<RestoreRequest> {
        let config = self.config()?;
        let e = config.environment(env)?.clone();
        let source = self.restore_source(env, backup).await?;
        let identity = parse_identity(&self.age_identity().await?.to_secret())?;
        // Left out on purpose: not even read (the plan says storage stays as it is).
        let snapshots = if without_storage {
            vec![]
        } else {
            nfops_restore::storage::snapshots_of(&source, &identity)?
        };
        Ok(RestoreRequest {
            environment: env.to_owned(),
            env: e,
            creds: self.creds(),
            known_hosts: self.known_hosts(),
            source,
            identity,
            tables,
            database,
            connections: 2,
            safety_retention: chrono::Duration::days(7),
            snapshots,
            allow_other_environment,
            without_storage,
        })
    }

    pub(super) fn check_request(
        &self,
        env: &str,
        source: Option<BackupSource>,
        database: Option<String>,
        live: bool,
    ) -> Result<CheckRequest> {
        let config = self.config()?;
        Ok(CheckRequest {
            environment: env.to_owned(),
            env: config.environment(env)?.clone(),
            creds: self.creds(),
            known_hosts: self.known_hosts(),
            source,
            database,
            live_service: live,
        })
    }

    /// The dry run of restoring backup `backup` into `env` (whole database,
    /// or only `tables`): what changes, and the preflight checks.
    pub async fn restore_plan(
        &self,
        env: &str,
        backup: &str,
        tables: Option<Vec<String>>,
    ) -> Result<RestorePlan> {
        self.restore_plan_for(env, backup, tables, false, false)
            .await
    }

    /// [`Console::restore_plan`], with `other_environment`: the operator
    /// allows restoring a backup taken of another environment; and
    /// `without_storage`: the environment's buckets are left as they are.
    pub async fn restore_plan_for(
        &self,
        env: &str,
        backup: &str,
        tables: Option<Vec<String>>,
        other_environment: bool,
        without_storage: bool,
    ) -> Result<RestorePlan> {
        let req = self
            .restore_request(
                env,
                backup,
                tables,
                None,
                other_environment,
                without_storage,
            )
            .await?;
        self.plan_of(&req, env, backup).await
    }

    /// The plan of `req` (backup `backup` into `env`), with the catalog's
    /// verification result as a preflight line. The run plans and runs the
    /// same request: one download of a bucket's backup, one private copy.
    async fn plan_of(&self, req: &RestoreRequest, env: &str, backup: &str) -> Result<RestorePlan> {
        let mut plan = nfops_restore::plan_restore(req).await?;
        let verified = self
            .backup_catalog(env)
            .await
            .ok()
            .and_then(|c| c.into_iter().find(|b| b.id == backup))
            .and_then(|b| b.verify_ok);
        plan.preflight.push(nfops_restore::job::PreflightCheck {
            name: "backup verified".into(),
            ok: verified != Some(false),
            detail: match verified {
                Some(true) => "the backup passed its last verification".into(),
                Some(false) => "the backup FAILED its last verification".into(),
                None => "not verified yet: the restore checks every file's SHA-256 and every table's content hash before the swap".into(),
            },
        });
        Ok(plan)
    }

    /// Restores backup `backup` into `env` as one job. For a production
    /// tier, `confirm` must be the environment's name.
    ///
    /// Errors: `input.invalid` without the confirmation or when the
    /// preflight fails (nothing was touched); job failures are in the outcome.
    #[allow(clippy::too_many_arguments)]
    // Long on purpose: the production confirmation, the preflight audit and the run's audit are one use case.
    pub async fn restore_run(
        &self,
        env: &str,
        backup: &str,
        tables: Option<Vec<String>>,
        scope: RestoreScope,
        confirm: Option<&str>,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<RestoreRun> {
        // Confirmation (production, region), the environment's lease and a
        // `started` entry before anything is read or touched.
        let lease = self
            .begin_destructive(
                env,
                LeaseAction::Restore,
                "restore.run",
                Some(backup),
                confirm,
            )
            .await?;
        // Released here on every path, errors included: the CLI may exit
        // before a `Drop`'s spawned release would run.
        let result = self
            .holding(&lease)
            .restore_run_held(env, backup, tables, scope, progress, cancel)
            .await;
        self.release(lease).await;
        result
    }

    /// [`Console::restore_run`] once the lease is held and `started` written.
    async fn restore_run_held(
        &self,
        env: &str,
        backup: &str,
        tables: Option<Vec<String>>,
        scope: RestoreScope,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<RestoreRun> {
        let config = self.config()?;
        // One request for the plan and the run: a backup in a bucket is
        // downloaded once, and the run uses exactly what it checks.
        let req = self
            .restore_request(
                env,
                backup,
                tables,
                None,
                scope.other_environment,
                scope.without_storage,
            )
            .await?;
        let plan = self.plan_of(&req, env, backup).await?;
        if !plan.ready() {
            let failed: Vec<String> = plan
                .preflight
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect();
            self.audit_restore(
                "restore.run",
                env,
                backup,
                Outcome::Failed,
                serde_json::json!({ "preflight": failed }),
            )
            .await?;
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "preflight failed, nothing was touched: {}",
                    failed.join("; ")
                ),
            )
            .hint("Fix what the preflight names, or choose another backup."));
        }
        let report = Arc::new(Mutex::new(None));
        let e = config.environment(env)?.clone();
        let mut extra: Vec<(PlannedStep, Box<dyn Step>)> = Vec::new();
        if scope.cache {
            let step = CacheStep {
                environment: env.into(),
                env: e.clone(),
                creds: self.creds(),
                known_hosts: self.known_hosts(),
            };
            extra.push((step.planned(), Box::new(step)));
        }
        if scope.workers {
            let step = WorkersStep {
                environment: env.into(),
                env: e.clone(),
                creds: self.creds(),
                known_hosts: self.known_hosts(),
                timeout: std::time::Duration::from_secs(90),
            };
            extra.push((step.planned(), Box::new(step)));
        }
        if scope.checks {
            extra.push((
                ChecksStep::planned("Row counts and content hashes against the backup, orphaned foreign-key rows, storage objects of `files`, app health and smoke requests, worker queue".into()),
                Box::new(ChecksStep { req: self.check_request(env, Some(req.source.clone()), None, true)?, report: report.clone() }),
            ));
        }
        let outcome =
            nfops_restore::run_restore(req, &plan, extra, &self.job_runner(), progress, cancel)
                .await?;
        let report = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(r) = &report {
            self.save_report(r)?;
        }
        let outcome_kind = crate::backup::job_outcome(outcome.job.state);
        self.audit_restore(
            "restore.run",
            env,
            backup,
            outcome_kind,
            serde_json::json!({
                "job": outcome.job.job_id,
                "tables": outcome.tables.len(),
                "databaseState": outcome.database_state,
                "safety": outcome.safety_schema,
                "report": report.as_ref().map(|r| r.id.clone()),
                "error": outcome.job.error.as_ref().map(|e| e.code.clone()),
            }),
        )
        .await?;
        Ok(RestoreRun { outcome, report })
    }

    pub(super) async fn audit_restore(
        &self,
        action: &'static str,
        env: &str,
        target: &str,
        outcome: Outcome,
        details: serde_json::Value,
    ) -> Result<()> {
        self.audit()
            .record(Action {
                action,
                environment: Some(env),
                target: Some(target),
                outcome,
                details,
            })
            .await
            .map(|_| ())
    }

    /// Rolls back the newest restore of `env` (or the one kept in schema
    /// `safety`) from the record in its safety schema: the previous tables
    /// and objects come back. For a restore interrupted by a crash, or one to undo.
    pub async fn restore_roll_back(
        &self,
        env: &str,
        safety: Option<&str>,
    ) -> Result<nfops_restore::swap::SwapRecord> {
        let config = self.config()?;
        let e = config.environment(env)?.clone();
        let route = nfops_fleet::route::database(
            env,
            &e,
            self.creds().as_ref(),
            &self.known_hosts(),
            None,
            "to restore into",
        )
        .await?;
        let result = nfops_restore::swap::roll_back_latest(&route.target, safety).await;
        let (outcome, details) = match &result {
            Ok(r) => (
                Outcome::Succeeded,
                serde_json::json!({ "safety": r.safety, "tables": r.moved_out.len() }),
            ),
            Err(e) => (
                Outcome::Failed,
                serde_json::json!({ "error": e.code().as_str() }),
            ),
        };
        self.audit_restore(
            "restore.roll_back",
            env,
            safety.unwrap_or("newest"),
            outcome,
            details,
        )
        .await?;
        result
    }
}

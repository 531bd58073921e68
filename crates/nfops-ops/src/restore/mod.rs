//! Restores, integrity checks and restore drills of an environment; each is
//! audited with its outcome (ids, counts, states; never a key).
//!
//! A restore is one job: check backup → load shadow → verify shadow → swap →
//! cache → workers → integrity checks (the last three when in scope). When a
//! step after the swap fails, the database is rolled back to its previous
//! tables and the outcome says so.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use nfops_backup::catalog::newest_good;
use nfops_backup::crypto::parse_identity;
use nfops_core::audit::{Action, Outcome};
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{
    CancellationToken, JobState, PlannedStep, Progress, Step, StepContext, Verified,
};
use nfops_core::{Error, ErrorCode, Result, SecretString};
use nfops_restore::cache::CacheStep;
use nfops_restore::checks::{run_checks, CheckReport, CheckRequest};
use nfops_restore::job::DatabaseState;
use nfops_restore::workers::WorkersStep;
use nfops_restore::{BackupSource, RestoreOutcome, RestorePlan, RestoreRequest};
use serde::Serialize;
use sqlx::Row;

use crate::Console;

struct Keyring(Arc<nfops_vault::Keyring>);

impl CredentialSource for Keyring {
    fn get(&self, name: &str) -> Result<SecretString> {
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(|| self.0.get(name))
        } else {
            self.0.get(name)
        }
    }
}

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
}

impl Default for RestoreScope {
    fn default() -> Self {
        Self {
            cache: true,
            workers: true,
            checks: true,
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

/// One drill as recorded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drill {
    pub id: String,
    pub environment: String,
    pub backup_id: String,
    pub started_at: String,
    /// Measured recovery time (restore of the database and checks).
    pub seconds: f64,
    pub ok: bool,
    pub report_id: Option<String>,
    pub note: String,
}

/// Whether an environment's last successful restore drill is too old (for
/// the Overview's warning).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrillStaleness {
    /// No successful drill yet, or the last one is older than `max_age_days`.
    pub stale: bool,
    /// `backup.drill_max_age_days` of the environment (default 30).
    pub max_age_days: u32,
    /// The last successful drill's id; None: no drill has succeeded yet.
    pub last_ok: Option<String>,
    /// When that drill started (RFC 3339).
    pub last_ok_at: Option<String>,
    pub age_days: Option<f64>,
}

/// Default of `backup.drill_max_age_days` when an environment has no
/// `backup` section.
pub const DEFAULT_DRILL_MAX_AGE_DAYS: u32 = 30;

/// The staleness rule over one environment's `drills` at `now`: only drills
/// that restored and passed every check count; the newest of them must be at
/// most `max_age_days` old. Failed drills, and records whose start cannot be
/// read, never make an environment fresh.
pub fn drill_staleness(
    drills: &[Drill],
    max_age_days: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> DrillStaleness {
    let last = drills
        .iter()
        .filter(|d| d.ok)
        .filter_map(|d| {
            chrono::DateTime::parse_from_rfc3339(&d.started_at)
                .ok()
                .map(|at| (at.with_timezone(&chrono::Utc), d))
        })
        .max_by_key(|(at, _)| *at);
    let age_days = last.map(|(at, _)| (now - at).num_seconds().max(0) as f64 / 86_400.0);
    DrillStaleness {
        stale: age_days.is_none_or(|d| d > f64::from(max_age_days)),
        max_age_days,
        last_ok: last.map(|(_, d)| d.id.clone()),
        last_ok_at: last.map(|(_, d)| d.started_at.clone()),
        age_days,
    }
}

/// A saved integrity report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedReport {
    pub id: String,
    pub environment: String,
    pub ok: bool,
    pub findings: usize,
    pub json: PathBuf,
    pub html: PathBuf,
}

struct ChecksStep {
    req: CheckRequest,
    report: Arc<Mutex<Option<CheckReport>>>,
}

#[async_trait]
impl Step for ChecksStep {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        let r = run_checks(&self.req).await?;
        let ok = r.ok();
        let summary = format!(
            "{} check(s), {} finding(s): {}",
            r.checks.len(),
            r.findings.len(),
            r.checks
                .iter()
                .map(|c| format!("{} {}", c.name, if c.ok { "ok" } else { "FAILED" }))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let first = r
            .findings
            .first()
            .map(|f| format!("{}: {}", f.subject, f.problem));
        *self.report.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        if ok {
            Ok(Verified::by(summary))
        } else {
            Err(Error::new(
                ErrorCode::CheckFailed,
                format!("integrity checks found problems ({summary}); first: {}", first.unwrap_or_default()),
            )
            .hint("The report lists every finding; the database was rolled back to its previous tables."))
        }
    }
}

impl Console {
    fn creds(&self) -> Arc<dyn CredentialSource> {
        Arc::new(Keyring(self.keyring().clone()))
    }

    async fn restore_request(
        &self,
        env: &str,
        backup: &str,
        tables: Option<Vec<String>>,
        database: Option<String>,
    ) -> Result<RestoreRequest> {
        let config = self.config()?;
        let e = config.environment(env)?.clone();
        let dir = self.backup_store(env)?.backup_dir(env, backup);
        if !dir.is_dir() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("environment '{env}' has no backup '{backup}'"),
            )
            .hint(format!(
                "`nfops backup list --env {env}` lists its backups."
            )));
        }
        let source = BackupSource::open(&dir)?;
        let identity = parse_identity(&self.age_identity().await?.to_secret())?;
        let snapshots = nfops_restore::storage::snapshots_of(&source, &identity)?;
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
        })
    }

    fn check_request(
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
        let req = self.restore_request(env, backup, tables, None).await?;
        let mut plan = nfops_restore::plan_restore(&req).await?;
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
        let config = self.config()?;
        let is_production = config.environment(env)?.tier == nfops_core::config::Tier::Production;
        if is_production && confirm != Some(env) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("restoring into '{env}' (production) needs its name typed as confirmation"),
            )
            .hint(format!(
                "Pass --yes after reading the plan (CLI), or type '{env}' (app)."
            )));
        }
        let plan = self.restore_plan(env, backup, tables.clone()).await?;
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
        let req = self.restore_request(env, backup, tables, None).await?;
        let report = Arc::new(Mutex::new(None));
        let e = config.environment(env)?.clone();
        let mut extra: Vec<(PlannedStep, Box<dyn Step>)> = Vec::new();
        if scope.cache {
            extra.push((
                PlannedStep { name: "cache".into(), description: format!("Remove every Redis key under '{}' (db {}), then warm-up requests to the app", e.cache.as_ref().and_then(|c| c.key_prefix.clone()).unwrap_or_default(), e.cache.as_ref().map_or(0, |c| c.db)) },
                Box::new(CacheStep { environment: env.into(), env: e.clone(), creds: self.creds(), known_hosts: self.known_hosts() }),
            ));
        }
        if scope.workers {
            extra.push((
                PlannedStep { name: "workers".into(), description: format!("pm2 reload on {} host(s) over SSH; wait until every process is online again", e.hosts.len()) },
                Box::new(WorkersStep { environment: env.into(), env: e.clone(), creds: self.creds(), known_hosts: self.known_hosts(), timeout: std::time::Duration::from_secs(90) }),
            ));
        }
        if scope.checks {
            extra.push((
                PlannedStep { name: "integrity checks".into(), description: "Row counts and content hashes against the backup, orphaned foreign-key rows, storage objects of `files`, app health and smoke requests, worker queue".into() },
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
        let outcome_kind = match outcome.job.state {
            JobState::Succeeded => Outcome::Succeeded,
            JobState::Cancelled => Outcome::Cancelled,
            _ => Outcome::Failed,
        };
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

    async fn audit_restore(
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
        let route =
            nfops_restore::route::route(env, &e, self.creds().as_ref(), &self.known_hosts(), None)
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

    /// Where integrity reports are kept.
    pub fn reports_dir(&self) -> PathBuf {
        self.paths().state_dir.join("reports")
    }

    fn save_report(&self, r: &CheckReport) -> Result<SavedReport> {
        let dir = self.reports_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let base = format!("{}-{}", r.environment, r.id);
        let json = dir.join(format!("{base}.json"));
        let html = dir.join(format!("{base}.html"));
        let text = serde_json::to_vec_pretty(r)
            .map_err(|e| Error::internal(format!("report not serializable: {e}")))?;
        std::fs::write(&json, text)
            .map_err(|e| Error::io(format!("writing {}", json.display()), e))?;
        std::fs::write(&html, r.html())
            .map_err(|e| Error::io(format!("writing {}", html.display()), e))?;
        Ok(SavedReport {
            id: r.id.clone(),
            environment: r.environment.clone(),
            ok: r.ok(),
            findings: r.findings.len(),
            json,
            html,
        })
    }

    /// Runs the integrity checks of `env` (against backup `backup` when given),
    /// saves the report as JSON and HTML, and audits it.
    pub async fn check(
        &self,
        env: &str,
        backup: Option<&str>,
    ) -> Result<(CheckReport, SavedReport)> {
        let source = match backup {
            Some(b) => Some(BackupSource::open(
                &self.backup_store(env)?.backup_dir(env, b),
            )?),
            None => None,
        };
        let report = run_checks(&self.check_request(env, source, None, true)?).await?;
        let saved = self.save_report(&report)?;
        self.audit_restore(
            "check.run",
            env,
            &report.id,
            if report.ok() { Outcome::Succeeded } else { Outcome::Failed },
            serde_json::json!({ "backup": backup, "findings": report.findings.len(), "checks": report.checks.len() }),
        )
        .await?;
        Ok((report, saved))
    }

    /// Saved integrity reports, newest first.
    pub fn check_reports(&self) -> Result<Vec<SavedReport>> {
        let dir = self.reports_dir();
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Ok(out);
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let Ok(text) = std::fs::read(&p) else {
                continue;
            };
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
                continue;
            };
            let findings = v["findings"].as_array().map_or(0, |a| a.len());
            let ok = findings == 0
                && v["checks"]
                    .as_array()
                    .is_some_and(|a| a.iter().all(|c| c["ok"].as_bool() == Some(true)));
            out.push(SavedReport {
                id: v["id"].as_str().unwrap_or_default().to_owned(),
                environment: v["environment"].as_str().unwrap_or_default().to_owned(),
                ok,
                findings,
                html: p.with_extension("html"),
                json: p,
            });
        }
        out.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(out)
    }

    /// A restore drill: the newest good backup of `env` restored into a
    /// scratch database (`<db>_drill`), checked against the backup, timed,
    /// recorded, and the scratch database dropped.
    pub async fn drill(
        &self,
        env: &str,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<(Drill, RestoreOutcome, Option<CheckReport>)> {
        let catalog = self.backup_catalog(env).await?;
        let newest = newest_good(&catalog).cloned().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("environment '{env}' has no complete backup to drill with"),
            )
            .hint(format!("Take one first: `nfops backup run --env {env}`."))
        })?;
        let config = self.config()?;
        let db = config
            .environment(env)?
            .database
            .as_ref()
            .map(|d| d.name.clone())
            .unwrap_or_default();
        let scratch = format!("{}_drill", db.chars().take(40).collect::<String>());
        let req = self
            .restore_request(env, &newest.id, None, Some(scratch.clone()))
            .await?;
        let started = chrono::Utc::now();
        let clock = std::time::Instant::now();
        let plan = nfops_restore::plan_restore(&req).await?;
        let report = Arc::new(Mutex::new(None));
        let checks = ChecksStep {
            req: self.check_request(env, Some(req.source.clone()), Some(scratch.clone()), false)?,
            report: report.clone(),
        };
        let extra: Vec<(PlannedStep, Box<dyn Step>)> = vec![(
            PlannedStep {
                name: "integrity checks".into(),
                description: format!("Check the scratch database {scratch} against the backup"),
            },
            Box::new(checks),
        )];
        let target_for_cleanup = req.clone();
        let outcome =
            nfops_restore::run_restore(req, &plan, extra, &self.job_runner(), progress, cancel)
                .await?;
        let seconds = clock.elapsed().as_secs_f64();
        // The scratch database and its safety schemas go; the drill keeps only its record and report.
        if let Ok(route) = nfops_restore::route::route(
            env,
            &target_for_cleanup.env,
            target_for_cleanup.creds.as_ref(),
            &target_for_cleanup.known_hosts,
            Some(&scratch),
        )
        .await
        {
            let t = route.target.clone();
            if let Ok(mut c) = nfops_restore::load::server_session(&t).await {
                let _ = nfops_restore::load::exec(
                    &mut c,
                    &t,
                    "could not drop the drill database on",
                    &format!("DROP DATABASE IF EXISTS `{scratch}`"),
                )
                .await;
                if let Ok(list) = nfops_restore::swap::safety_schemas(&t).await {
                    for (n, _) in list {
                        let _ = nfops_restore::load::exec(
                            &mut c,
                            &t,
                            "could not drop a drill safety schema on",
                            &format!("DROP DATABASE IF EXISTS `{n}`"),
                        )
                        .await;
                    }
                }
            }
        }
        let report = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let saved = match &report {
            Some(r) => Some(self.save_report(r)?),
            None => None,
        };
        let ok = outcome.job.state == JobState::Succeeded
            && outcome.database_state == DatabaseState::Restored;
        let note = match &outcome.job.error {
            None => format!(
                "backup {} restored into {scratch} and checked in {seconds:.1}s",
                newest.id
            ),
            Some(e) => format!("[{}] {}", e.code, e.message),
        };
        let drill = Drill {
            id: outcome.job.job_id.clone(),
            environment: env.to_owned(),
            backup_id: newest.id.clone(),
            started_at: started.to_rfc3339(),
            seconds,
            ok,
            report_id: saved.as_ref().map(|s| s.id.clone()),
            note,
        };
        sqlx::query("INSERT INTO restore_drills (id, environment, backup_id, started_at, seconds, ok, report_id, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(&drill.id).bind(&drill.environment).bind(&drill.backup_id).bind(&drill.started_at)
            .bind(drill.seconds).bind(i64::from(drill.ok)).bind(&drill.report_id).bind(&drill.note)
            .execute(self.state().pool())
            .await
            .map_err(|e| Error::new(ErrorCode::State, "could not record the drill in the state database").source(e))?;
        self.audit_restore(
            "drill.run",
            env,
            &newest.id,
            if ok {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            },
            serde_json::json!({ "job": drill.id, "seconds": seconds, "report": drill.report_id }),
        )
        .await?;
        Ok((drill, outcome, report))
    }

    /// [`drill_staleness`] of every environment with a database, in config
    /// order, against its `backup.drill_max_age_days`.
    ///
    /// Errors: the config's; the state database's.
    pub async fn drill_staleness_all(&self) -> Result<Vec<(String, DrillStaleness)>> {
        let config = self.config()?;
        let drills = self.drills(None).await?;
        let now = chrono::Utc::now();
        let mut out = Vec::new();
        for (name, env) in config.environments() {
            if env.database.is_none() {
                continue;
            }
            let max = env
                .backup
                .as_ref()
                .map_or(DEFAULT_DRILL_MAX_AGE_DAYS, |b| b.drill_max_age_days);
            let mine: Vec<Drill> = drills
                .iter()
                .filter(|d| d.environment == name)
                .cloned()
                .collect();
            out.push((name.to_owned(), drill_staleness(&mine, max, now)));
        }
        Ok(out)
    }

    /// Drills of `env` (all when None), newest first.
    pub async fn drills(&self, env: Option<&str>) -> Result<Vec<Drill>> {
        let rows = sqlx::query("SELECT id, environment, backup_id, started_at, seconds, ok, report_id, note FROM restore_drills WHERE (? IS NULL OR environment = ?) ORDER BY started_at DESC")
            .bind(env).bind(env)
            .fetch_all(self.state().pool())
            .await
            .map_err(|e| Error::new(ErrorCode::State, "could not read the drills from the state database").source(e))?;
        Ok(rows
            .iter()
            .map(|r| Drill {
                id: r.get(0),
                environment: r.get(1),
                backup_id: r.get(2),
                started_at: r.get(3),
                seconds: r.get(4),
                ok: r.get::<i64, _>(5) == 1,
                report_id: r.get(6),
                note: r.get(7),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drill(id: &str, days_ago: i64, ok: bool, now: chrono::DateTime<chrono::Utc>) -> Drill {
        Drill {
            id: id.into(),
            environment: "production".into(),
            backup_id: "b1".into(),
            started_at: (now - chrono::Duration::days(days_ago)).to_rfc3339(),
            seconds: 12.0,
            ok,
            report_id: None,
            note: String::new(),
        }
    }

    #[test]
    fn no_drill_yet_is_stale() {
        let s = drill_staleness(&[], 30, chrono::Utc::now());
        assert!(s.stale);
        assert_eq!((s.last_ok, s.age_days), (None, None));
        assert_eq!(s.max_age_days, 30);
    }

    #[test]
    fn only_successful_drills_count() {
        let now = chrono::Utc::now();
        let s = drill_staleness(&[drill("failed", 1, false, now)], 30, now);
        assert!(s.stale, "a failed drill yesterday does not make it fresh");
        assert_eq!(s.last_ok, None);

        let s = drill_staleness(
            &[drill("failed", 1, false, now), drill("good", 10, true, now)],
            30,
            now,
        );
        assert!(!s.stale);
        assert_eq!(s.last_ok.as_deref(), Some("good"));
        assert!((s.age_days.expect("age") - 10.0).abs() < 0.01);
    }

    #[test]
    fn the_newest_successful_drill_is_held_against_the_limit() {
        let now = chrono::Utc::now();
        let drills = [drill("old", 40, true, now), drill("newer", 31, true, now)];
        let s = drill_staleness(&drills, 30, now);
        assert!(s.stale, "31 days is more than 30");
        assert_eq!(s.last_ok.as_deref(), Some("newer"));
        assert!(
            !drill_staleness(&drills, 31, now).stale,
            "31 days is within 31"
        );
    }

    #[test]
    fn an_unreadable_start_never_makes_it_fresh() {
        let now = chrono::Utc::now();
        let mut d = drill("odd", 0, true, now);
        d.started_at = "yesterday".into();
        assert!(drill_staleness(&[d], 30, now).stale);
    }
}

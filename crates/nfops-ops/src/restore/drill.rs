//! Restore drills: the newest good backup restored into a scratch database,
//! checked, timed and recorded; and the staleness rule the Overview warns by.

use std::sync::{Arc, Mutex};

use nfops_backup::catalog::newest_good;
use nfops_core::audit::Outcome;
use nfops_core::jobs::{CancellationToken, JobState, PlannedStep, Progress, Step};
use nfops_core::{Error, ErrorCode, Result};
use nfops_restore::checks::{CheckReport, ChecksStep};
use nfops_restore::job::DatabaseState;
use nfops_restore::RestoreOutcome;
use serde::Serialize;
use sqlx::Row;

use crate::Console;
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

impl Console {
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
        let scratch = nfops_restore::drill::scratch_database(&db);
        let req = self
            .restore_request(env, &newest.id, None, Some(scratch.clone()), false, false)
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
            ChecksStep::planned(format!(
                "Check the scratch database {scratch} against the backup"
            )),
            Box::new(checks),
        )];
        let target_for_cleanup = req.clone();
        let outcome =
            nfops_restore::run_restore(req, &plan, extra, &self.job_runner(), progress, cancel)
                .await?;
        let seconds = clock.elapsed().as_secs_f64();
        // The scratch database and its safety schemas go; the drill keeps only its record and report.
        nfops_restore::drill::drop_scratch(
            env,
            &target_for_cleanup.env,
            target_for_cleanup.creds.as_ref(),
            &target_for_cleanup.known_hosts,
            &scratch,
        )
        .await;
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

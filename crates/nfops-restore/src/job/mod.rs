//! The restore job: a plan first (what will change, preflight), then steps
//! that each check their result, run by nfops-core's `JobRunner` (progress,
//! cancel, crash-safe records).
//!
//! Steps: check the backup (key, every file's size and SHA-256) → load the
//! shadow schema → verify the shadow against the manifest → swap it in →
//! the optional extra steps the caller adds (cache, workers, integrity
//! checks). When any step fails or the job is cancelled after the swap, the
//! swap is rolled back to the safety schema; before it, the shadow is dropped
//! and the target was never touched. [`RestoreOutcome::database_state`] says
//! which.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use age::x25519;
use async_trait::async_trait;
use nfops_core::config::Environment;
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{
    CancellationToken, JobReport, JobRunner, JobState, Plan, PlannedStep, Progress, Step,
    StepContext, StepState, Verified,
};
use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::Target;
use serde::Serialize;

use crate::load::{self, LoadCounters, TableCheck};
use crate::route::{route, Route};
use crate::source::BackupSource;
use crate::swap::{self, SwapRecord};

/// Everything a restore of one environment's database needs, resolved by the
/// caller (config, keyring, backup folder).
#[derive(Clone)]
pub struct RestoreRequest {
    pub environment: String,
    pub env: Environment,
    pub creds: Arc<dyn CredentialSource>,
    pub known_hosts: PathBuf,
    pub source: BackupSource,
    pub identity: x25519::Identity,
    /// Only these tables (None: the whole database, views and routines included).
    pub tables: Option<Vec<String>>,
    /// Restore into this database instead of the configured one (drills).
    pub database: Option<String>,
    /// Parallel loading sessions.
    pub connections: usize,
    /// How long safety schemas are kept after a successful restore.
    pub safety_retention: chrono::Duration,
    /// Buckets to bring back to these snapshots (empty: storage not in scope).
    pub snapshots: Vec<nfops_storage::BucketSnapshot>,
}

/// One table as planned.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedTable {
    pub name: String,
    /// Rows in the backup (what the table will hold).
    pub backup_rows: u64,
    /// Rows now, estimated (None: the table does not exist now).
    pub current_rows: Option<u64>,
}

/// One preflight check.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightCheck {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// The dry run of a restore: exactly what will change.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestorePlan {
    pub plan: Plan,
    pub backup_id: String,
    pub environment: String,
    pub database: String,
    pub tables: Vec<PlannedTable>,
    /// Tables that exist now and are not in the backup (a whole restore
    /// moves them to the safety schema).
    pub tables_removed: Vec<String>,
    pub whole: bool,
    pub views: Vec<String>,
    pub triggers: Vec<String>,
    pub routines: Vec<String>,
    pub events: Vec<String>,
    pub preflight: Vec<PreflightCheck>,
    /// Per bucket in scope: keys rolled back and hidden.
    pub storage: Vec<nfops_storage::restore::StoragePlan>,
    pub server_version: String,
    pub backup_server_version: String,
    pub estimated_seconds: u64,
}

impl RestorePlan {
    /// Whether every preflight check passed.
    pub fn ready(&self) -> bool {
        self.preflight.iter().all(|c| c.ok)
    }
}

fn step(name: &str, description: String) -> PlannedStep {
    PlannedStep {
        name: name.into(),
        description,
    }
}

/// Connects to the target, reads what is there and builds the plan with its
/// preflight checks (key, files present, server reachable and compatible,
/// space).
///
/// Errors: `input.invalid` for unknown tables; connection errors (the
/// target is unreachable).
pub async fn plan_restore(req: &RestoreRequest) -> Result<RestorePlan> {
    let m = &req.source.manifest;
    let tables = load::scope_tables(&req.source, req.tables.as_deref())?;
    let whole = req.tables.is_none();
    let mut preflight = Vec::new();
    let key = req.source.check_key(&req.identity);
    preflight.push(PreflightCheck {
        name: "key".into(),
        ok: key.is_ok(),
        detail: match &key {
            Ok(()) => "your age key is a recipient of the backup".into(),
            Err(e) => e.message().to_owned(),
        },
    });
    let missing: Vec<&str> = m
        .files
        .iter()
        .filter(|f| {
            std::fs::metadata(req.source.dir.join(&f.name))
                .map(|x| x.len())
                .ok()
                != Some(f.bytes)
        })
        .map(|f| f.name.as_str())
        .collect();
    preflight.push(PreflightCheck {
        name: "files".into(),
        ok: missing.is_empty(),
        detail: if missing.is_empty() {
            format!("{} files present with the manifest's sizes", m.files.len())
        } else {
            format!("missing or wrong size: {}", missing.join(", "))
        },
    });
    let route = route(
        &req.environment,
        &req.env,
        req.creds.as_ref(),
        &req.known_hosts,
        req.database.as_deref(),
    )
    .await?;
    let target = route.target.clone();
    let mut conn = load::server_session(&target).await?;
    preflight.push(PreflightCheck {
        name: "reachable".into(),
        ok: true,
        detail: format!("connected to {} as {}", target.label, target.user),
    });
    let version: String = sqlx::Executor::fetch_one(&mut conn, "SELECT VERSION()")
        .await
        .map_err(|e| target.error("could not read the version of", e))
        .map(|r| nfops_mysql::schema::text_at(&r, 0).unwrap_or_default())?;
    let compatible = same_family(&version, &m.server_version);
    preflight.push(PreflightCheck {
        name: "server version".into(),
        ok: compatible,
        detail: format!(
            "server {version}, backup taken from {}{}",
            m.server_version,
            if compatible {
                ""
            } else {
                ": a different server family or an older major version"
            }
        ),
    });
    let current = sqlx::Executor::fetch_all(
        &mut conn,
        format!(
            "SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE = 'BASE TABLE'",
            nfops_mysql::literal::quote_str(&target.database)
        )
        .as_str(),
    )
    .await
    .map_err(|e| target.error("could not read the tables of", e))?;
    let current: Vec<(String, u64)> = current
        .iter()
        .filter_map(|r| {
            Some((
                nfops_mysql::schema::text_at(r, 0)?,
                nfops_mysql::schema::text_at(r, 1)?.parse().unwrap_or(0),
            ))
        })
        .collect();
    // Space: the shadow needs about the SQL size again on the server's disk.
    let need: u64 = m.files.iter().map(|f| f.sql_bytes).sum();
    let space = free_space(&mut conn).await;
    preflight.push(PreflightCheck {
        name: "space".into(),
        ok: space.is_none_or(|free| free > need.saturating_mul(2)),
        detail: match space {
            Some(free) => format!(
                "{} MB free on the server's data disk, the shadow needs about {} MB",
                free / 1_000_000,
                need / 1_000_000
            ),
            None => format!(
                "the server does not report its free space; the shadow needs about {} MB",
                need / 1_000_000
            ),
        },
    });
    if !whole {
        let crossing =
            swap::crossing_foreign_keys(&mut conn, &Target { ..target.clone() }, &tables)
                .await
                .unwrap_or_default();
        preflight.push(PreflightCheck {
            name: "foreign keys".into(),
            ok: crossing.is_empty(),
            detail: if crossing.is_empty() {
                "no foreign key crosses the chosen tables".into()
            } else {
                format!(
                    "foreign keys cross the chosen tables: {}",
                    crossing.join(", ")
                )
            },
        });
    }
    let _ = sqlx::Connection::close(conn).await;
    drop(route);
    let mut storage = Vec::new();
    if !req.snapshots.is_empty() {
        match req.env.storage.as_ref() {
            None => preflight.push(PreflightCheck {
                name: "storage".into(),
                ok: false,
                detail:
                    "the backup has storage snapshots but the environment has no storage configured"
                        .into(),
            }),
            Some(st) => match crate::storage::plans(st, req.creds.as_ref(), &req.snapshots).await {
                Ok(p) => {
                    preflight.push(PreflightCheck {
                        name: "storage".into(),
                        ok: true,
                        detail: format!("{} bucket(s) versioned and reachable", p.len()),
                    });
                    storage = p;
                }
                Err(e) => preflight.push(PreflightCheck {
                    name: "storage".into(),
                    ok: false,
                    detail: e.message().to_owned(),
                }),
            },
        }
    }

    let planned: Vec<PlannedTable> = tables
        .iter()
        .map(|t| PlannedTable {
            name: t.clone(),
            backup_rows: m.tables.iter().find(|x| &x.name == t).map_or(0, |x| x.rows),
            current_rows: current.iter().find(|(n, _)| n == t).map(|(_, r)| *r),
        })
        .collect();
    let tables_removed: Vec<String> = if whole {
        current
            .iter()
            .filter(|(n, _)| !tables.contains(n))
            .map(|(n, _)| n.clone())
            .collect()
    } else {
        vec![]
    };
    let rows: u64 = planned.iter().map(|t| t.backup_rows).sum();
    // About 40 MB of SQL a second on two sessions, plus hashing; at least a few seconds.
    let estimated_seconds = 3 + need / 20_000_000 + rows / 200_000;
    let safety = load::safety_schema(&target.database, chrono::Utc::now());
    let plan = Plan {
        kind: "restore".into(),
        environment: Some(req.environment.clone()),
        summary: format!(
            "Restore backup {} into database '{}' of {}: {} table(s), {} rows{}; the current tables are kept in schema {safety}",
            m.backup_id,
            target.database,
            req.environment,
            planned.len(),
            rows,
            if whole { ", with views, triggers, routines and events" } else { ", with their triggers" }
        ),
        steps: vec![
            step("check backup", "Check your key against the backup's recipients and every file's size and SHA-256 against the manifest; nothing on the server is touched before this passes".into()),
            step("load shadow", format!("Decrypt, decompress and load the tables into schema {} on {} parallel sessions (foreign key and unique checks off)", load::shadow_schema(&target.database), req.connections.max(1))),
            step("verify shadow", "Recompute every table's row count and content hash in the shadow and compare them with the manifest".into()),
            step("swap", format!("Exchange the tables with one RENAME TABLE statement; the current ones move to {safety}; recreate views, triggers, routines and events")),
        ],
    };
    let mut plan = plan;
    if !req.snapshots.is_empty() {
        plan.steps.push(step(
            "storage",
            format!(
                "Bring {} bucket(s) back to the backup's snapshot: copy old versions on top, hide newer keys behind delete markers",
                req.snapshots.len()
            ),
        ));
    }
    Ok(RestorePlan {
        plan,
        backup_id: m.backup_id.clone(),
        environment: req.environment.clone(),
        database: target.database.clone(),
        tables: planned,
        tables_removed,
        whole,
        views: if whole { m.views.clone() } else { vec![] },
        triggers: m.triggers.clone(),
        routines: if whole { m.routines.clone() } else { vec![] },
        events: if whole { m.events.clone() } else { vec![] },
        preflight,
        storage,
        server_version: version,
        backup_server_version: m.server_version.clone(),
        estimated_seconds,
    })
}

/// Whether a backup from `from` loads into `to`: same family (MariaDB or
/// MySQL) and a major.minor not older.
fn same_family(to: &str, from: &str) -> bool {
    let maria = |v: &str| v.to_ascii_lowercase().contains("mariadb");
    let mm = |v: &str| -> (u32, u32) {
        let mut it = v
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        (
            it.next().and_then(|x| x.parse().ok()).unwrap_or(0),
            it.next().and_then(|x| x.parse().ok()).unwrap_or(0),
        )
    };
    maria(to) == maria(from) && mm(to) >= mm(from)
}

async fn free_space(conn: &mut nfops_mysql::sqlx_reexport::MySqlConnection) -> Option<u64> {
    // MariaDB ≥ 10.6 with the DISKS plugin reports it; otherwise unknown.
    let r = sqlx::Executor::fetch_one(
        &mut *conn,
        "SELECT CAST(MIN(Available) * 1024 AS CHAR) FROM information_schema.DISKS",
    )
    .await
    .ok()?;
    nfops_mysql::schema::text_at(&r, 0)?.parse().ok()
}

/// Where the target database ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DatabaseState {
    /// The target was never touched (failed or cancelled before the swap).
    Untouched,
    /// The backup's tables are live; the previous ones are in the safety schema.
    Restored,
    /// The swap happened, a later step failed, and the previous tables are live again.
    RolledBack,
    /// The swap happened and rolling it back failed: the previous tables are
    /// in the safety schema (named in the outcome).
    NeedsAttention,
}

/// How a restore ended.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreOutcome {
    pub job: JobReport,
    pub backup_id: String,
    pub database: String,
    pub database_state: DatabaseState,
    /// Words for the operator: where the data is now.
    pub state_detail: String,
    pub safety_schema: Option<String>,
    pub tables: Vec<TableCheck>,
    pub seconds: f64,
}

/// Shared between the steps of one run.
pub struct RestoreRun {
    pub req: RestoreRequest,
    pub tables: Vec<String>,
    pub route: tokio::sync::Mutex<Option<Route>>,
    pub target: Mutex<Option<Target>>,
    pub swap: Mutex<Option<SwapRecord>>,
    pub checks: Mutex<Vec<TableCheck>>,
    pub safety: String,
    /// Buckets as they were before the storage step changed them.
    pub storage_before: Arc<Mutex<Vec<nfops_storage::BucketSnapshot>>>,
}

impl RestoreRun {
    fn target(&self) -> Result<Target> {
        self.target
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::internal("restore step ran before the target was connected"))
    }
}

/// Runs the restore under `plan` (from [`plan_restore`]), with `extra` steps
/// (and their planned descriptions) after the swap.
///
/// A failed or cancelled run leaves the target untouched or rolled back;
/// the outcome says which. Errors: only when the job could not be recorded.
pub async fn run_restore(
    req: RestoreRequest,
    plan: &RestorePlan,
    extra: Vec<(PlannedStep, Box<dyn Step>)>,
    runner: &JobRunner,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
) -> Result<RestoreOutcome> {
    let started = Instant::now();
    let tables = load::scope_tables(&req.source, req.tables.as_deref())?;
    let db = req
        .database
        .clone()
        .or_else(|| req.env.database.as_ref().map(|d| d.name.clone()))
        .unwrap_or_default();
    let run = Arc::new(RestoreRun {
        safety: load::safety_schema(&db, chrono::Utc::now()),
        req,
        tables,
        route: tokio::sync::Mutex::new(None),
        target: Mutex::new(None),
        swap: Mutex::new(None),
        checks: Mutex::new(vec![]),
        storage_before: Arc::new(Mutex::new(vec![])),
    });
    let mut job_plan = plan.plan.clone();
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(CheckBackupStep(run.clone())),
        Box::new(LoadStep(run.clone())),
        Box::new(VerifyStep(run.clone())),
        Box::new(SwapStep(run.clone())),
    ];
    if !run.req.snapshots.is_empty() {
        let storage = run.req.env.storage.clone().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "environment '{}' has no storage to restore into",
                    run.req.environment
                ),
            )
        })?;
        steps.push(Box::new(crate::storage::StorageStep {
            storage,
            creds: run.req.creds.clone(),
            snapshots: run.req.snapshots.clone(),
            before: run.storage_before.clone(),
        }));
    }
    for (p, s) in extra {
        job_plan.steps.push(p);
        steps.push(s);
    }
    let job = runner.run(job_plan, steps, progress, cancel).await;
    let target = run.target.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let record = run.swap.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let job = match job {
        Ok(j) => j,
        Err(e) => {
            if let Some(t) = &target {
                if record.is_none() {
                    load::drop_shadow(t, &load::shadow_schema(&t.database)).await;
                }
            }
            *run.route.lock().await = None;
            return Err(e);
        }
    };
    // The step that stopped the run, named in the operator's words below.
    let stopped_at = job
        .steps
        .iter()
        .find(|s| matches!(s.1, StepState::Failed | StepState::Cancelled))
        .map_or_else(
            || "a step after the swap".to_owned(),
            |s| format!("the {} step", s.0),
        );
    let (state, detail, safety) = match (&target, record, job.state) {
        (Some(t), Some(r), JobState::Succeeded) => {
            if let Ok(dropped) = swap::prune_safety(t, run.req.safety_retention).await {
                for d in dropped {
                    tracing::info!(category = "worker", schema = %d, "old safety schema dropped (retention)");
                }
            }
            (
                DatabaseState::Restored,
                format!(
                    "backup {} is live in database '{}'; the previous tables are kept in schema {} for {} day(s)",
                    plan.backup_id,
                    t.database,
                    r.safety,
                    run.req.safety_retention.num_days()
                ),
                Some(r.safety),
            )
        }
        (Some(t), Some(r), _) => match swap::roll_back(t, &r).await {
            Ok(()) => (
                DatabaseState::RolledBack,
                format!(
                    "{stopped_at} did not complete after the swap: database '{}' was rolled back to its previous tables",
                    t.database
                ),
                None,
            ),
            Err(e) => (
                DatabaseState::NeedsAttention,
                format!(
                    "{stopped_at} did not complete after the swap and rolling back failed ({}): the previous tables are in schema {}; run `nfops restore --roll-back` when the server is back",
                    e.message(),
                    r.safety
                ),
                Some(r.safety),
            ),
        },
        (t, _, _) => {
            if let Some(t) = t {
                load::drop_shadow(t, &load::shadow_schema(&t.database)).await;
            }
            (
                DatabaseState::Untouched,
                format!(
                    "database '{db}' was not touched: the restore stopped before the swap{}",
                    if job.state == JobState::Succeeded { "" } else { " (the shadow schema was dropped)" }
                ),
                None,
            )
        }
    };
    *run.route.lock().await = None;
    let before = run
        .storage_before
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut detail = detail;
    if job.state != JobState::Succeeded && !before.is_empty() {
        if let Some(st) = run.req.env.storage.as_ref() {
            match crate::storage::put_back(st, run.req.creds.as_ref(), &before).await {
                Ok(n) => detail.push_str(&format!("; storage was put back as it was before the restore ({n} key(s) changed back)")),
                Err(e) => detail.push_str(&format!(
                    "; storage may be partly restored: putting it back as it was failed ({}); run the restore again or restore the buckets from their versions",
                    e.message()
                )),
            }
        }
    }
    let tables = run.checks.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(RestoreOutcome {
        job,
        backup_id: plan.backup_id.clone(),
        database: db,
        database_state: state,
        state_detail: detail,
        safety_schema: safety,
        tables,
        seconds: started.elapsed().as_secs_f64(),
    })
}

struct CheckBackupStep(Arc<RestoreRun>);

#[async_trait]
impl Step for CheckBackupStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        r.req.source.check_key(&r.req.identity)?;
        let total: u64 = r.req.source.manifest.files.iter().map(|f| f.bytes).sum();
        let src = r.req.source.clone();
        let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let d2 = done.clone();
        let check = tokio::task::spawn_blocking(move || {
            src.check_files(&|n| d2.store(n, Ordering::Relaxed))
        });
        tokio::pin!(check);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let bytes = loop {
            tokio::select! {
                res = &mut check => break res.map_err(|e| Error::internal(format!("file check stopped: {e}")))??,
                _ = tick.tick() => {
                    cx.check_cancelled()?;
                    cx.advance(done.load(Ordering::Relaxed), Some(total), "bytes");
                }
            }
        };
        cx.check_cancelled()?;
        // Connect now: an unreachable target fails here, before any write.
        let route = route(
            &r.req.environment,
            &r.req.env,
            r.req.creds.as_ref(),
            &r.req.known_hosts,
            r.req.database.as_deref(),
        )
        .await?;
        *r.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(route.target.clone());
        *r.route.lock().await = Some(route);
        Ok(Verified::by(format!(
            "{} files, {bytes} bytes: sizes and SHA-256 equal the manifest; your key is a recipient",
            r.req.source.manifest.files.len()
        )))
    }
}

struct LoadStep(Arc<RestoreRun>);

#[async_trait]
impl Step for LoadStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        let target = r.target()?;
        let shadow = load::shadow_schema(&target.database);
        let counters = Arc::new(LoadCounters::default());
        let total: u64 = r
            .req
            .source
            .manifest
            .tables
            .iter()
            .filter(|t| r.tables.contains(&t.name))
            .flat_map(|t| t.files.iter())
            .map(|f| {
                r.req
                    .source
                    .manifest
                    .files
                    .iter()
                    .find(|x| &x.name == f)
                    .map_or(0, |x| x.sql_bytes)
            })
            .sum();
        cx.message(format!("loading into schema {shadow}"));
        let fut = load::load_shadow(
            &r.req.source,
            &r.req.identity,
            &target,
            &shadow,
            &r.tables,
            r.req.connections,
            counters.clone(),
            cx.cancel_token(),
        );
        tokio::pin!(fut);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                res = &mut fut => { res?; break; }
                _ = tick.tick() => {
                    cx.advance(counters.sql_bytes.load(Ordering::Relaxed), Some(total.max(1)), "bytes");
                }
            }
        }
        let files = counters.files_done.load(Ordering::Relaxed);
        let expected = counters.files_total.load(Ordering::Relaxed);
        if files != expected {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("{files} of {expected} data files were loaded"),
            ));
        }
        cx.advance(total, Some(total.max(1)), "bytes");
        Ok(Verified::by(format!(
            "{files} data files loaded completely (each up to its end-of-file line), {} MB of SQL, into {shadow}",
            counters.sql_bytes.load(Ordering::Relaxed) / 1_000_000
        )))
    }
}

struct VerifyStep(Arc<RestoreRun>);

#[async_trait]
impl Step for VerifyStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        let target = r.target()?;
        let shadow = load::shadow_schema(&target.database);
        let checks = load::verify_shadow(&r.req.source, &target, &shadow, &r.tables).await?;
        cx.check_cancelled()?;
        let rows: u64 = checks.iter().map(|c| c.rows).sum();
        let n = checks.len();
        *r.checks.lock().unwrap_or_else(|p| p.into_inner()) = checks;
        Ok(Verified::by(format!(
            "{n} tables, {rows} rows: row counts and content hashes ({}) equal the manifest",
            nfops_mysql::hash::HASH_DEFINITION
        )))
    }
}

struct SwapStep(Arc<RestoreRun>);

#[async_trait]
impl Step for SwapStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        cx.check_cancelled()?;
        let target = r.target()?;
        let shadow = load::shadow_schema(&target.database);
        let post = match r.req.source.post_file() {
            Some(p) => {
                let src = r.req.source.clone();
                let id = r.req.identity.clone();
                let p = p.to_owned();
                tokio::task::spawn_blocking(move || src.sql_text(&p, &id))
                    .await
                    .map_err(|e| Error::internal(format!("post reader stopped: {e}")))??
            }
            None => String::new(),
        };
        // A drill's scratch database may not exist yet.
        {
            let mut c = load::server_session(&target).await?;
            load::exec(
                &mut c,
                &target,
                "could not create the database on",
                &format!(
                    "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                    nfops_mysql::literal::quote_ident(&target.database)
                ),
            )
            .await?;
            let _ = sqlx::Connection::close(c).await;
        }
        cx.message(format!("previous tables go to schema {}", r.safety));
        let record = swap::swap_in(
            &target,
            &shadow,
            &r.safety,
            &r.tables,
            r.req.tables.is_none(),
            &post,
        )
        .await?;
        *r.swap.lock().unwrap_or_else(|p| p.into_inner()) = Some(record.clone());
        // Check: every restored table is in the target, the shadow is empty.
        let mut c = load::server_session(&target).await?;
        let q = |db: &str| {
            format!(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE = 'BASE TABLE'",
                nfops_mysql::literal::quote_str(db)
            )
        };
        let live: Vec<String> = sqlx::Executor::fetch_all(&mut c, q(&target.database).as_str())
            .await
            .map_err(|e| target.error("could not list the tables of", e))?
            .iter()
            .filter_map(|x| nfops_mysql::schema::text_at(x, 0))
            .collect();
        let left: usize = sqlx::Executor::fetch_all(&mut c, q(&shadow).as_str())
            .await
            .map_err(|e| target.error("could not list the tables of", e))?
            .len();
        let missing: Vec<&String> = r.tables.iter().filter(|t| !live.contains(t)).collect();
        if !missing.is_empty() || left != 0 {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "after the swap, {} restored table(s) are missing and {left} remain in the shadow",
                    missing.len()
                ),
            ));
        }
        let _ = load::exec(
            &mut c,
            &target,
            "could not drop the empty shadow schema on",
            &format!(
                "DROP DATABASE IF EXISTS {}",
                nfops_mysql::literal::quote_ident(&shadow)
            ),
        )
        .await;
        let _ = sqlx::Connection::close(c).await;
        Ok(Verified::by(format!(
            "{} tables live in '{}' after one RENAME TABLE; previous {} table(s) kept in {}",
            r.tables.len(),
            target.database,
            record.moved_out.len(),
            record.safety
        )))
    }
}

//! The restore plan: the dry run an operator reads before anything changes
//! (tables before and after, objects, storage) and the preflight checks that
//! must all pass (key, files, server reachable and compatible, space, foreign
//! keys, storage).

use nfops_core::jobs::{Plan, PlannedStep};
use nfops_core::Result;
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::Target;
use serde::Serialize;

use super::steps::{load, swap};
use super::RestoreRequest;

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
    /// The backup's objects in scope, one line each (kind, name, owner,
    /// security, rows or state); or the single line "no inventory recorded".
    pub inventory: Vec<String>,
    /// Objects that would be created owned by the restoring account instead
    /// of their recorded owner (it may not set definers). Empty: every owner
    /// is kept.
    pub owner_changes: Vec<String>,
    /// Objects the restore would lose: existing now and not in the backup,
    /// or not restorable on this server; and owners without an account here.
    pub objects_lost: Vec<String>,
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

fn check(name: &str, ok: bool, detail: String) -> PreflightCheck {
    PreflightCheck {
        name: name.into(),
        ok,
        detail,
    }
}

/// What the target server holds now, as the plan needs it.
struct ServerView {
    target: Target,
    version: String,
    /// Base tables of the target database with their estimated rows.
    current: Vec<(String, u64)>,
    objects: super::plan_objects::ObjectLines,
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
    // Signature, environment, buckets, origin: an untrusted backup stops here.
    let mut preflight = super::steps::check_backup::trust(req)?;
    preflight.extend(backup_preflight(req));
    // Space: the shadow needs about the SQL size again on the server's disk.
    let need: u64 = m.files.iter().map(|f| f.sql_bytes).sum();
    let server = server_preflight(req, &tables, need, &mut preflight).await?;
    let storage = storage_preflight(req, &mut preflight).await;
    preflight.extend(super::steps::replicas::preflight(req).await);
    let planned: Vec<PlannedTable> = tables
        .iter()
        .map(|t| PlannedTable {
            name: t.clone(),
            backup_rows: m.tables.iter().find(|x| &x.name == t).map_or(0, |x| x.rows),
            current_rows: server.current.iter().find(|(n, _)| n == t).map(|(_, r)| *r),
        })
        .collect();
    let tables_removed: Vec<String> = if whole {
        server
            .current
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
    Ok(RestorePlan {
        plan: job_plan(req, &server.target, planned.len(), rows),
        backup_id: m.backup_id.clone(),
        environment: req.environment.clone(),
        database: server.target.database.clone(),
        tables: planned,
        tables_removed,
        whole,
        views: if whole { m.views.clone() } else { vec![] },
        triggers: m.triggers.clone(),
        routines: if whole { m.routines.clone() } else { vec![] },
        events: if whole { m.events.clone() } else { vec![] },
        inventory: server.objects.inventory,
        owner_changes: server.objects.owner_changes,
        objects_lost: server.objects.lost,
        preflight,
        storage,
        server_version: server.version,
        backup_server_version: m.server_version.clone(),
        estimated_seconds,
    })
}

/// The checks that need no server: the operator's key and the files' sizes.
fn backup_preflight(req: &RestoreRequest) -> Vec<PreflightCheck> {
    let m = &req.source.manifest;
    let key = req.source.check_key(&req.identity);
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
    vec![
        check(
            "key",
            key.is_ok(),
            match &key {
                Ok(()) => "your age key is a recipient of the backup".into(),
                Err(e) => e.message().to_owned(),
            },
        ),
        check(
            "files",
            missing.is_empty(),
            if missing.is_empty() {
                format!("{} files present with the manifest's sizes", m.files.len())
            } else {
                format!("missing or wrong size: {}", missing.join(", "))
            },
        ),
    ]
}

/// Connects to the target and adds the server's checks (reachable, version,
/// space for a shadow of `need` SQL bytes, foreign keys crossing a partial
/// scope); the connection and its route are closed before it returns.
///
/// Errors: the route's and the connection's (the target is unreachable).
async fn server_preflight(
    req: &RestoreRequest,
    tables: &[String],
    need: u64,
    preflight: &mut Vec<PreflightCheck>,
) -> Result<ServerView> {
    let m = &req.source.manifest;
    let route = nfops_fleet::route::database(
        &req.environment,
        &req.env,
        req.creds.as_ref(),
        &req.known_hosts,
        req.database.as_deref(),
        "to restore into",
    )
    .await?;
    let target = route.target.clone();
    let mut conn = load::server_session(&target).await?;
    preflight.push(check(
        "reachable",
        true,
        format!("connected to {} as {}", target.label, target.user),
    ));
    let version: String = sqlx::Executor::fetch_one(&mut conn, "SELECT VERSION()")
        .await
        .map_err(|e| target.error("could not read the version of", e))
        .map(|r| nfops_mysql::schema::text_at(&r, 0).unwrap_or_default())?;
    let compatible = same_family(&version, &m.server_version);
    preflight.push(check(
        "server version",
        compatible,
        format!(
            "server {version}, backup taken from {}{}",
            m.server_version,
            if compatible {
                ""
            } else {
                ": a different server family or an older major version"
            }
        ),
    ));
    let current = current_tables(&mut conn, &target).await?;
    let objects = super::plan_objects::object_lines(
        &mut conn,
        &target,
        m,
        tables,
        req.tables.is_none(),
        preflight,
    )
    .await?;
    let space = free_space(&mut conn).await;
    preflight.push(check(
        "space",
        space.is_none_or(|free| free > need.saturating_mul(2)),
        match space {
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
    ));
    if req.tables.is_some() {
        let crossing = swap::crossing_foreign_keys(&mut conn, &target, tables)
            .await
            .unwrap_or_default();
        preflight.push(check(
            "foreign keys",
            crossing.is_empty(),
            if crossing.is_empty() {
                "no foreign key crosses the chosen tables".into()
            } else {
                format!(
                    "foreign keys cross the chosen tables: {}",
                    crossing.join(", ")
                )
            },
        ));
    }
    let _ = sqlx::Connection::close(conn).await;
    drop(route);
    Ok(ServerView {
        target,
        version,
        current,
        objects,
    })
}

/// The base tables of `target`'s database with their estimated rows.
async fn current_tables(conn: &mut MySqlConnection, target: &Target) -> Result<Vec<(String, u64)>> {
    let rows = sqlx::Executor::fetch_all(
        &mut *conn,
        format!(
            "SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE <> 'VIEW'",
            nfops_mysql::literal::quote_str(&target.database)
        )
        .as_str(),
    )
    .await
    .map_err(|e| target.error("could not read the tables of", e))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some((
                nfops_mysql::schema::text_at(r, 0)?,
                nfops_mysql::schema::text_at(r, 1)?.parse().unwrap_or(0),
            ))
        })
        .collect())
}

/// The storage check and plans, when the backup carries bucket snapshots.
async fn storage_preflight(
    req: &RestoreRequest,
    preflight: &mut Vec<PreflightCheck>,
) -> Vec<nfops_storage::restore::StoragePlan> {
    if let Some(skip) = super::steps::storage::StorageLeftAlone::of(req) {
        preflight.push(check("storage", true, skip.reason));
        return Vec::new();
    }
    if req.snapshots.is_empty() {
        return Vec::new();
    }
    let Some(st) = req.env.storage.as_ref() else {
        preflight.push(check(
            "storage",
            false,
            "the backup has storage snapshots but the environment has no storage configured".into(),
        ));
        return Vec::new();
    };
    match super::steps::storage::plans(st, req.creds.as_ref(), &req.snapshots).await {
        Ok(p) => {
            preflight.push(check(
                "storage",
                true,
                format!("{} bucket(s) versioned and reachable", p.len()),
            ));
            p
        }
        Err(e) => {
            preflight.push(check("storage", false, e.message().to_owned()));
            Vec::new()
        }
    }
}

/// The job's plan: summary and the steps in order (storage when in scope).
fn job_plan(req: &RestoreRequest, target: &Target, tables: usize, rows: u64) -> Plan {
    let m = &req.source.manifest;
    let whole = req.tables.is_none();
    // Both schema names end with an id the job draws when it starts.
    let safety = format!(
        "{}…",
        load::safety_schema(&target.database, chrono::Utc::now(), "")
    );
    let shadow = format!("{}…", load::shadow_schema(&target.database, ""));
    let mut plan = Plan {
        kind: "restore".into(),
        environment: Some(req.environment.clone()),
        summary: format!(
            "Restore backup {} into database '{}' of {}: {} table(s), {} rows{}; the current tables are kept in schema {safety}",
            m.backup_id,
            target.database,
            req.environment,
            tables,
            rows,
            if whole { ", with views, triggers, routines and events" } else { ", with their triggers" }
        ),
        steps: vec![
            step("check backup", "Check your key against the backup's recipients, every file's size and SHA-256 against the manifest, and every schema and post statement against what its file may hold; nothing on the server is touched before this passes".into()),
            step("load shadow", format!("Decrypt, decompress and load the tables into schema {shadow} on {} parallel sessions (foreign key and unique checks off), each statement checked against what its file may hold right before it is sent (a refused one fails the load and the shadow is dropped), under a server lock that keeps any other restore of this database out until the job has settled", req.connections.max(1))),
            step("verify shadow", "Recompute every table's row count and content hash in the shadow and compare them with the manifest".into()),
            step("swap", format!("Exchange the tables with one RENAME TABLE statement (each DDL waits at most {} s for locks, so the application is never held longer; a blocked swap is retried, then refused untouched); the current ones move to {safety}; recreate views, triggers, routines and events", swap::LockBound::default().wait.as_secs())),
            step("check objects", "Compare every object of the backup's inventory with the database (kind, partitioning, sequence state, owner, SQL SECURITY); a difference rolls the swap back".into()),
        ],
    };
    if super::steps::replicas::configured(req) {
        plan.steps.push(step(
            "replicas",
            format!(
                "Wait for every replica to reach the primary's GTID position (the restore is binlogged; each for its max_lag_seconds, at least {} s, while it advances), then compare CHECKSUM TABLE of every restored table on both at one GTID position (the tables are read-locked for one checksum pass, so the application's writes wait but cannot fail the check); a difference rolls the swap back",
                super::steps::replicas::CATCH_UP_FLOOR.as_secs()
            ),
        ));
    }
    if req.without_storage && !m.storage.is_empty() {
        plan.steps.push(step(
            "storage",
            "Left as it is (restore without storage): the backup's bucket snapshots are not applied; this step is reported skipped".into(),
        ));
    } else if !req.snapshots.is_empty() {
        plan.steps.push(step(
            "storage",
            format!(
                "Bring {} bucket(s) back to the backup's snapshot: copy old versions on top, hide newer keys behind delete markers",
                req.snapshots.len()
            ),
        ));
    }
    plan
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

//! The swap itself: ONE `RENAME TABLE` exchanges the verified shadow tables
//! with the live ones, after the swap record is stored in the safety schema;
//! every DDL bounded ([`super::bounded`]), a blocked swap retried and then
//! refused with the triggers put back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::literal::{quote_ident, quote_str};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};

use super::bounded::{self, DdlFailure, LockBound};
use super::objects::{apply_objects, drop_objects, keep_triggers_of};
use super::{crossing_foreign_keys, q, rows, SwapRecord, RECORD_TABLE};
use crate::job::steps::claim::LockGuard;
use crate::job::steps::session;
use crate::load::exec;
use crate::sql::{self, PostKind};

/// What to swap: the verified shadow, the safety schema of this job, the tables.
pub struct SwapSpec<'a> {
    pub shadow: &'a str,
    pub safety: &'a str,
    pub tables: &'a [String],
    /// Every current table of the target moves to safety and all post
    /// objects are replaced; otherwise only `tables` and their triggers.
    pub whole: bool,
    /// The backup's views, triggers, routines and events.
    pub post_sql: &'a str,
    /// The job's server lock, checked before each DDL phase (None: the
    /// caller holds no lock, e.g. a test of the swap alone).
    pub lock: Option<&'a LockGuard>,
}

/// Fails when `lock` was lost; `next` names the DDL about to run.
async fn still_ours(lock: Option<&LockGuard>, next: &str) -> Result<()> {
    match lock {
        Some(l) => l.ensure_held(next).await,
        None => Ok(()),
    }
}

/// What a swap got to, for whoever settles the job after a failure: the
/// record (once it is stored in the safety schema) and whether the RENAME
/// went through.
#[derive(Debug, Default)]
pub struct Ledger {
    record: Mutex<Option<SwapRecord>>,
    renamed: AtomicBool,
}

impl Ledger {
    /// The swap record, once stored (before anything moved).
    pub fn record(&self) -> Option<SwapRecord> {
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    /// Whether the RENAME is known to have happened.
    pub fn renamed(&self) -> bool {
        self.renamed.load(Ordering::SeqCst)
    }
}

/// Swaps the verified shadow tables into `target.database`, every DDL
/// bounded by `bound`.
///
/// Does NOT roll back on failure: the caller settles from `ledger` (roll
/// back, then check on the server where the tables and triggers really are).
///
/// Errors: `input.invalid` when a table-scoped restore would cut foreign
/// keys; `db.busy` naming the sessions that kept the swap blocked (nothing
/// moved, the triggers are back); server errors.
pub async fn swap_in(
    target: &Target,
    spec: &SwapSpec<'_>,
    ledger: &Ledger,
    bound: &LockBound,
) -> Result<SwapRecord> {
    let db = target.database.clone();
    let mut conn = session::open(target).await?;
    let conn_id = bounded::prepare(&mut conn, target, bound).await?;
    let (record, triggers) = record_for(
        &mut conn,
        target,
        spec.shadow,
        spec.safety,
        spec.tables,
        spec.whole,
    )
    .await?;
    exec(
        &mut conn,
        target,
        "could not create the safety schema on",
        &format!(
            "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            quote_ident(spec.safety)
        ),
    )
    .await?;
    // The record goes into the safety schema before anything moves, so a
    // crash at any later point can still be rolled back (`roll_back_latest`).
    let json = serde_json::to_string(&record)
        .map_err(|e| Error::internal(format!("swap record not serializable: {e}")))?;
    exec(
        &mut conn,
        target,
        "could not write the swap record on",
        &format!(
            "CREATE TABLE {} (record LONGTEXT NOT NULL) ENGINE=InnoDB; INSERT INTO {} VALUES ({})",
            q(spec.safety, RECORD_TABLE),
            q(spec.safety, RECORD_TABLE),
            quote_str(&json)
        ),
    )
    .await?;
    *ledger.record.lock().unwrap_or_else(|p| p.into_inner()) = Some(record.clone());
    exchange(
        &mut conn, conn_id, target, &record, &triggers, bound, spec.lock,
    )
    .await?;
    ledger.renamed.store(true, Ordering::SeqCst);
    tracing::info!(category = "worker", database = %db, safety = %spec.safety, tables = spec.tables.len(), "swapped restored tables in");

    let new_objects = if spec.whole {
        spec.post_sql.to_owned()
    } else {
        keep_triggers_of(spec.post_sql, spec.tables)
    };
    let result: Result<()> = async {
        still_ours(
            spec.lock,
            "recreating the views, triggers, routines and events",
        )
        .await?;
        if spec.whole {
            drop_objects(&mut conn, target, &db).await?;
        }
        apply_objects(&mut conn, target, &new_objects).await
    }
    .await;
    let _ = sqlx::Connection::close(conn).await;
    result.map_err(|e| {
        Error::new(
            e.code(),
            format!(
                "{} (after the swap: the restored tables are live, their views, triggers, routines or events are not all there)",
                e.message()
            ),
        )
        .hint(
            e.hint_text()
                .unwrap_or("See the log for the server's answer.")
                .to_owned(),
        )
    })?;
    Ok(record)
}

/// Drops the triggers of the moved tables and runs the one RENAME, each
/// bounded; a lock wait puts the dropped triggers back and tries again
/// after a pause, up to `bound.attempts` times, each time only when no
/// other session holds a lock on the target's tables.
async fn exchange(
    conn: &mut MySqlConnection,
    conn_id: u64,
    target: &Target,
    record: &SwapRecord,
    triggers: &[String],
    bound: &LockBound,
    lock: Option<&LockGuard>,
) -> Result<()> {
    let db = record.database.as_str();
    let mut pairs: Vec<String> = record
        .moved_out
        .iter()
        .map(|t| format!("{} TO {}", q(db, t), q(&record.safety, t)))
        .collect();
    pairs.extend(
        record
            .moved_in
            .iter()
            .map(|t| format!("{} TO {}", q(&record.shadow, t), q(db, t))),
    );
    let rename = format!("RENAME TABLE {}", pairs.join(", "));
    let mut last = Vec::new();
    for attempt in 1..=bound.attempts.max(1) {
        if attempt > 1 {
            tokio::time::sleep(bound.pause).await;
        }
        still_ours(lock, "the swap (dropping triggers, RENAME TABLE)").await?;
        let who = bounded::blockers(conn, target, &[db]).await?;
        if !who.is_empty() {
            tracing::warn!(category = "worker", database = %db, attempt, blockers = %who.iter().map(|b| b.to_string()).collect::<Vec<_>>().join("; "), "swap waits: other sessions hold locks on the tables");
            last = who;
            continue;
        }
        let mut dropped: Vec<String> = Vec::new();
        let mut failure = None;
        for t in triggers {
            match bounded::ddl(
                conn,
                conn_id,
                target,
                bound,
                "could not drop a trigger before the swap on",
                &format!("DROP TRIGGER IF EXISTS {}", q(db, t)),
            )
            .await
            {
                Ok(()) => dropped.push(t.clone()),
                Err(f) => {
                    failure = Some(f);
                    break;
                }
            }
        }
        if failure.is_none() {
            match bounded::ddl(
                conn,
                conn_id,
                target,
                bound,
                "the atomic swap (RENAME TABLE) failed on",
                &rename,
            )
            .await
            {
                Ok(()) => return Ok(()),
                Err(f) => failure = Some(f),
            }
        }
        match failure {
            // Whether it ran is unknown here: the settling inspects the server.
            Some(DdlFailure::Lost(e)) => return Err(e),
            Some(DdlFailure::Refused(e)) => {
                put_back_triggers(conn, conn_id, target, record, &dropped, bound).await?;
                return Err(e);
            }
            Some(DdlFailure::LockWait(e)) => {
                tracing::warn!(category = "worker", database = %db, attempt, error = %e, "swap DDL hit its lock wait bound");
                put_back_triggers(conn, conn_id, target, record, &dropped, bound).await?;
                last = bounded::blockers(conn, target, &[db, &record.shadow]).await?;
            }
            None => {}
        }
    }
    Err(bounded::blocked(target, bound, &last))
}

/// Recreates, from the record, the triggers dropped before a RENAME that
/// did not happen; each bounded and retried like the swap.
///
/// Errors: `job.check_failed` naming the triggers still missing.
async fn put_back_triggers(
    conn: &mut MySqlConnection,
    conn_id: u64,
    target: &Target,
    record: &SwapRecord,
    dropped: &[String],
    bound: &LockBound,
) -> Result<()> {
    if dropped.is_empty() {
        return Ok(());
    }
    let stmts = previous_triggers(record, dropped);
    let mut missing: Vec<String> = dropped.to_vec();
    let mut why = String::new();
    for attempt in 1..=bound.attempts.max(1) {
        if attempt > 1 {
            tokio::time::sleep(bound.pause).await;
        }
        let mut progress = Vec::new();
        for (name, sql) in &stmts {
            if !missing.contains(name) {
                continue;
            }
            let mut ok = true;
            for st in sql {
                match bounded::ddl(
                    conn,
                    conn_id,
                    target,
                    bound,
                    "could not put a trigger back on",
                    st,
                )
                .await
                {
                    Ok(()) => {}
                    Err(DdlFailure::Lost(e)) => {
                        return Err(triggers_missing(target, record, &missing, e.message()))
                    }
                    Err(f) => {
                        why = f.into_error().message().to_owned();
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                progress.push(name.clone());
            }
        }
        missing.retain(|m| !progress.contains(m));
        // The trigger SQL sets its own sql_mode: pin ours again for what
        // follows (the next attempt's statements are quoted for it).
        session::pin_sql_mode(conn, target).await?;
        if missing.is_empty() {
            return Ok(());
        }
    }
    Err(triggers_missing(target, record, &missing, &why))
}

fn triggers_missing(target: &Target, record: &SwapRecord, missing: &[String], why: &str) -> Error {
    Error::new(
        ErrorCode::CheckFailed,
        format!(
            "the swap into the {} did not happen and putting back trigger(s) {} failed ({why})",
            target.label,
            missing.join(", ")
        ),
    )
    .hint(format!(
        "Their SQL is in the swap record in schema {}; `nfops restore --roll-back` puts them back.",
        record.safety
    ))
}

/// Per trigger named in `names`: its statements from the record's previous
/// objects (its own sql_mode settings around it).
pub(super) fn previous_triggers(
    record: &SwapRecord,
    names: &[String],
) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for st in sql::statements(&record.previous_objects) {
        match sql::post_kind(&st) {
            PostKind::Trigger(_) => {
                let name = super::state::trigger_name(&st).unwrap_or_default();
                let mut group = std::mem::take(&mut pending);
                group.push(st);
                if names.contains(&name) {
                    out.push((name, group));
                }
            }
            PostKind::Other => pending.push(st),
            _ => pending.clear(),
        }
    }
    out
}

/// Reads what the swap will move (and refuses a table-scoped one that would
/// cut foreign keys): the record to roll back by, and the triggers that must
/// be dropped before the RENAME.
async fn record_for(
    conn: &mut MySqlConnection,
    target: &Target,
    shadow: &str,
    safety: &str,
    tables: &[String],
    whole: bool,
) -> Result<(SwapRecord, Vec<String>)> {
    let db = target.database.clone();
    let live: Vec<String> = rows(
        &mut *conn,
        target,
        "the tables",
        &format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME",
            quote_str(&db)
        ),
    )
    .await?;
    if !whole {
        let crossing = crossing_foreign_keys(&mut *conn, target, tables).await?;
        if !crossing.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!(
                    "restoring only {} would cut foreign keys: {}",
                    tables.join(", "),
                    crossing.join(", ")
                ),
            )
            .hint("Add the related tables to --tables, or restore the whole database."));
        }
    }
    let previous = schema::post_objects(&mut *conn, target).await?;
    let moved_out: Vec<String> = if whole {
        live.clone()
    } else {
        live.iter()
            .filter(|t| tables.contains(t))
            .cloned()
            .collect()
    };
    let triggers: Vec<String> = rows(
        &mut *conn,
        target,
        "the triggers",
        &format!(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {} {}",
            quote_str(&db),
            if whole {
                String::new()
            } else {
                format!(
                    "AND EVENT_OBJECT_TABLE IN ({})",
                    if moved_out.is_empty() {
                        "''".to_owned()
                    } else {
                        moved_out
                            .iter()
                            .map(|t| quote_str(t))
                            .collect::<Vec<_>>()
                            .join(",")
                    }
                )
            }
        ),
    )
    .await?;
    let record = SwapRecord {
        database: db.clone(),
        shadow: shadow.to_owned(),
        safety: safety.to_owned(),
        moved_out: moved_out.clone(),
        moved_in: tables.to_vec(),
        previous_objects: if whole {
            previous.sql.clone()
        } else {
            // Only the triggers of the moved tables are replaced.
            keep_triggers_of(&previous.sql, &moved_out)
        },
        whole,
    };

    Ok((record, triggers))
}

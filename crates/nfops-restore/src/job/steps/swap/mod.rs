//! The atomic swap of the shadow tables into the target database, and its
//! roll back.
//!
//! Sequence (only after the shadow was verified):
//! 1. the target's current views, triggers, routines and events are read
//!    (kept as SQL, to put them back on roll back);
//! 2. a safety schema is created; triggers of the tables to move are dropped
//!    (MariaDB/MySQL refuse to move a table with triggers to another schema);
//! 3. ONE `RENAME TABLE db.a TO safety.a, …, shadow.a TO db.a, …` statement
//!    exchanges every table at once (foreign keys follow the tables they
//!    reference, so the old tables keep pointing at each other in the safety
//!    schema and the new ones at each other in the target);
//! 4. the backup's views, routines, events and triggers are created (a whole
//!    restore replaces all of them; a table-scoped one only the triggers of
//!    its tables).
//!
//! When step 4 fails, [`roll_back`] runs at once: the safety tables come
//! back with the same single RENAME and the old objects are recreated.

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::literal::{quote_ident, quote_str};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};
use serde::{Deserialize, Serialize};

use crate::load::{exec, server_session};
use crate::sql::{self, PostKind};

/// What a swap did: enough to roll it back (also after a crash: it is
/// stored with the job's step messages).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapRecord {
    pub database: String,
    pub shadow: String,
    pub safety: String,
    /// Tables moved from the target into the safety schema.
    pub moved_out: Vec<String>,
    /// Tables moved from the shadow into the target.
    pub moved_in: Vec<String>,
    /// SQL recreating the target's previous views, triggers, routines and events.
    pub previous_objects: String,
    /// Whether the swap replaced every table (not a table-scoped restore).
    pub whole: bool,
}

/// The table in a safety schema holding its [`SwapRecord`] as JSON.
pub const RECORD_TABLE: &str = "nfops_swap_record";

fn q(db: &str, t: &str) -> String {
    format!("{}.{}", quote_ident(db), quote_ident(t))
}

async fn rows(
    conn: &mut MySqlConnection,
    target: &Target,
    what: &str,
    sql: &str,
) -> Result<Vec<String>> {
    let r = sqlx::Executor::fetch_all(&mut *conn, sql)
        .await
        .map_err(|e| target.error(&format!("could not read {what} of"), e))?;
    Ok(r.iter().filter_map(|r| schema::text_at(r, 0)).collect())
}

/// Foreign keys between a table inside `scope` and one outside it (a
/// table-scoped swap would leave them pointing into the safety schema).
pub async fn crossing_foreign_keys(
    conn: &mut MySqlConnection,
    target: &Target,
    scope: &[String],
) -> Result<Vec<String>> {
    let r = sqlx::Executor::fetch_all(
        &mut *conn,
        format!(
            "SELECT TABLE_NAME, REFERENCED_TABLE_NAME, CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {}",
            quote_str(&target.database)
        )
        .as_str(),
    )
    .await
    .map_err(|e| target.error("could not read the foreign keys of", e))?;
    let mut out = Vec::new();
    for row in &r {
        let (Some(t), Some(p), Some(c)) = (
            schema::text_at(row, 0),
            schema::text_at(row, 1),
            schema::text_at(row, 2),
        ) else {
            continue;
        };
        if scope.contains(&t) != scope.contains(&p) {
            out.push(format!("`{t}` → `{p}` ({c})"));
        }
    }
    Ok(out)
}

/// Swaps the verified shadow tables `tables` into `target.database`.
///
/// `whole`: every current table of the target moves to safety and all
/// post objects are replaced; otherwise only `tables` and their triggers.
///
/// Errors: `input.invalid` when a table-scoped restore would cut foreign
/// keys; server errors. When the post objects fail after the RENAME, the
/// swap is rolled back before returning the error (its message says so).
pub async fn swap_in(
    target: &Target,
    shadow: &str,
    safety: &str,
    tables: &[String],
    whole: bool,
    post_sql: &str,
) -> Result<SwapRecord> {
    let db = target.database.clone();
    let mut conn = target.connect().await?;
    let live: Vec<String> = rows(
        &mut conn,
        target,
        "the tables",
        &format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
            quote_str(&db)
        ),
    )
    .await?;
    if !whole {
        let crossing = crossing_foreign_keys(&mut conn, target, tables).await?;
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
    let previous = schema::post_objects(&mut conn, target).await?;
    let moved_out: Vec<String> = if whole {
        live.clone()
    } else {
        live.iter()
            .filter(|t| tables.contains(t))
            .cloned()
            .collect()
    };
    let triggers: Vec<String> = rows(
        &mut conn,
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

    exec(
        &mut conn,
        target,
        "could not create the safety schema on",
        &format!(
            "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            quote_ident(safety)
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
            q(safety, RECORD_TABLE),
            q(safety, RECORD_TABLE),
            quote_str(&json)
        ),
    )
    .await?;
    for t in &triggers {
        exec(
            &mut conn,
            target,
            "could not drop a trigger before the swap on",
            &format!("DROP TRIGGER IF EXISTS {}", q(&db, t)),
        )
        .await?;
    }
    let mut pairs: Vec<String> = moved_out
        .iter()
        .map(|t| format!("{} TO {}", q(&db, t), q(safety, t)))
        .collect();
    pairs.extend(
        tables
            .iter()
            .map(|t| format!("{} TO {}", q(shadow, t), q(&db, t))),
    );
    let rename = format!("RENAME TABLE {}", pairs.join(", "));
    if let Err(e) = exec(
        &mut conn,
        target,
        "the atomic swap (RENAME TABLE) failed on",
        &rename,
    )
    .await
    {
        // RENAME TABLE is all or nothing: the tables are where they were. Put the triggers back.
        let _ = apply_objects(&mut conn, target, &record.previous_objects).await;
        return Err(e);
    }
    tracing::info!(category = "worker", database = %db, safety = %safety, tables = tables.len(), "swapped restored tables in");

    let new_objects = if whole {
        post_sql.to_owned()
    } else {
        keep_triggers_of(post_sql, tables)
    };
    let result: Result<()> = async {
        if whole {
            drop_objects(&mut conn, target, &db).await?;
        }
        apply_objects(&mut conn, target, &new_objects).await
    }
    .await;
    let _ = sqlx::Connection::close(conn).await;
    if let Err(e) = result {
        let rb = roll_back(target, &record).await;
        let state = match &rb {
            Ok(()) => "the swap was rolled back: the previous tables are live again".to_owned(),
            Err(r) => format!(
                "rolling back failed too ({}): the previous tables are in schema {safety}",
                r.message()
            ),
        };
        return Err(
            Error::new(e.code(), format!("{}; {state}", e.message())).hint(
                e.hint_text()
                    .unwrap_or("See the log for the server's answer.")
                    .to_owned(),
            ),
        );
    }
    Ok(record)
}

/// Keeps, from post-file SQL, the session settings and the triggers on `tables`.
fn keep_triggers_of(post_sql: &str, tables: &[String]) -> String {
    let mut out = String::new();
    for stmt in sql::statements(post_sql) {
        match sql::post_kind(&stmt) {
            PostKind::Trigger(t) if tables.contains(&t) => {
                out.push_str(&format!("DELIMITER ;;\n{stmt} ;;\nDELIMITER ;\n"))
            }
            PostKind::Other => out.push_str(&format!("{stmt};\n")),
            _ => {}
        }
    }
    out
}

/// Runs post-file SQL (views, triggers, routines, events) on `conn`.
async fn apply_objects(conn: &mut MySqlConnection, target: &Target, text: &str) -> Result<()> {
    exec(
        conn,
        target,
        "could not prepare the session on",
        "SET SESSION foreign_key_checks = 0",
    )
    .await?;
    for stmt in sql::statements(text) {
        exec(
            conn,
            target,
            "could not recreate a view, trigger, routine or event on",
            &stmt,
        )
        .await?;
    }
    Ok(())
}

/// Drops every view, routine, event and trigger of `db`.
async fn drop_objects(conn: &mut MySqlConnection, target: &Target, db: &str) -> Result<()> {
    let d = quote_str(db);
    for (what, select, kind, failed) in [
        (
            "the views",
            "TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA",
            "VIEW",
            "could not drop a view on",
        ),
        (
            "the triggers",
            "TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA",
            "TRIGGER",
            "could not drop a trigger on",
        ),
    ] {
        drop_named(conn, target, db, what, select, kind, failed).await?;
    }
    let routines = sqlx::Executor::fetch_all(
        &mut *conn,
        format!("SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {d}").as_str(),
    )
    .await
    .map_err(|e| target.error("could not read the routines of", e))?;
    for r in &routines {
        if let (Some(kind), Some(name)) = (schema::text_at(r, 0), schema::text_at(r, 1)) {
            let kind = if kind.eq_ignore_ascii_case("FUNCTION") {
                "FUNCTION"
            } else {
                "PROCEDURE"
            };
            exec(
                conn,
                target,
                "could not drop a routine on",
                &format!("DROP {kind} IF EXISTS {}", q(db, &name)),
            )
            .await?;
        }
    }
    drop_named(
        conn,
        target,
        db,
        "the events",
        "EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA",
        "EVENT",
        "could not drop an event on",
    )
    .await?;
    Ok(())
}

/// Drops every object `SELECT {select} = db` names, as `DROP {kind} IF EXISTS`.
async fn drop_named(
    conn: &mut MySqlConnection,
    target: &Target,
    db: &str,
    what: &str,
    select: &str,
    kind: &str,
    failed: &str,
) -> Result<()> {
    let sql = format!("SELECT {select} = {}", quote_str(db));
    for name in rows(conn, target, what, &sql).await? {
        exec(
            conn,
            target,
            failed,
            &format!("DROP {kind} IF EXISTS {}", q(db, &name)),
        )
        .await?;
    }
    Ok(())
}

/// Puts the tables of a swap back: the restored tables return to the shadow
/// schema and the safety tables to the target, in one RENAME; the previous
/// views, triggers, routines and events are recreated; the shadow is dropped.
///
/// Errors: server errors (the message names the safety schema, where the
/// previous tables then still are).
pub async fn roll_back(target: &Target, record: &SwapRecord) -> Result<()> {
    let db = &record.database;
    let mut conn = server_session(target).await?;
    let t = Target {
        database: db.clone(),
        ..target.clone()
    };
    // Did the RENAME happen? It is all or nothing: either every moved-out
    // table is in the safety schema, or none is.
    let in_safety: Vec<String> = rows(
        &mut conn,
        target,
        "the tables",
        &format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
            quote_str(&record.safety)
        ),
    )
    .await?;
    let in_shadow: Vec<String> = rows(
        &mut conn,
        target,
        "the tables",
        &format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
            quote_str(&record.shadow)
        ),
    )
    .await?;
    let swapped = if record.moved_out.is_empty() {
        record.moved_in.iter().any(|x| !in_shadow.contains(x))
    } else {
        record.moved_out.iter().any(|x| in_safety.contains(x))
    };
    if !swapped {
        // Only triggers were dropped before the RENAME: put them back.
        let mut tc = t.connect().await?;
        let existing: Vec<String> = rows(
            &mut tc,
            &t,
            "the triggers",
            &format!(
                "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {}",
                quote_str(db)
            ),
        )
        .await?;
        let only_triggers: String = sql::statements(&record.previous_objects)
            .into_iter()
            .filter(|st| match sql::post_kind(st) {
                PostKind::Trigger(_) => !existing.iter().any(|e| st.contains(&quote_ident(e))),
                PostKind::Other => true,
                _ => false,
            })
            .map(|st| {
                if matches!(sql::post_kind(&st), PostKind::Trigger(_)) {
                    format!("DELIMITER ;;\n{st} ;;\nDELIMITER ;\n")
                } else {
                    format!("{st};\n")
                }
            })
            .collect();
        apply_objects(&mut tc, &t, &only_triggers).await?;
        let _ = sqlx::Connection::close(tc).await;
        exec(
            &mut conn,
            target,
            "could not drop the shadow and safety schemas on",
            &format!(
                "DROP DATABASE IF EXISTS {}; DROP DATABASE IF EXISTS {}",
                quote_ident(&record.shadow),
                quote_ident(&record.safety)
            ),
        )
        .await?;
        return Ok(());
    }
    // Triggers of the restored tables must go before they can leave the schema.
    let in_target: Vec<String> = rows(
        &mut conn,
        target,
        "the triggers",
        &format!(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {}",
            quote_str(db)
        ),
    )
    .await?;
    let mut tc = t.connect().await?;
    if record.whole {
        drop_objects(&mut tc, &t, db).await?;
    } else {
        for tr in in_target {
            exec(
                &mut tc,
                &t,
                "could not drop a trigger on",
                &format!("DROP TRIGGER IF EXISTS {}", q(db, &tr)),
            )
            .await?;
        }
    }
    exec(
        &mut conn,
        target,
        "could not recreate the shadow schema on",
        &format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            quote_ident(&record.shadow)
        ),
    )
    .await?;
    let present: Vec<String> = rows(
        &mut conn,
        target,
        "the tables",
        &format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
            quote_str(db)
        ),
    )
    .await?;
    let mut pairs: Vec<String> = record
        .moved_in
        .iter()
        .filter(|x| present.contains(x))
        .map(|x| format!("{} TO {}", q(db, x), q(&record.shadow, x)))
        .collect();
    pairs.extend(
        record
            .moved_out
            .iter()
            .map(|x| format!("{} TO {}", q(&record.safety, x), q(db, x))),
    );
    if !pairs.is_empty() {
        exec(
            &mut conn,
            target,
            &format!(
                "rolling back (RENAME TABLE) failed; the previous tables are in schema {} on",
                record.safety
            ),
            &format!("RENAME TABLE {}", pairs.join(", ")),
        )
        .await?;
    }
    apply_objects(&mut tc, &t, &record.previous_objects).await?;
    let _ = sqlx::Connection::close(tc).await;
    exec(
        &mut conn,
        target,
        "could not drop the shadow and safety schemas on",
        &format!(
            "DROP DATABASE IF EXISTS {}; DROP DATABASE IF EXISTS {}",
            quote_ident(&record.shadow),
            quote_ident(&record.safety)
        ),
    )
    .await?;
    let _ = sqlx::Connection::close(conn).await;
    tracing::warn!(category = "worker", database = %db, "restore rolled back to the previous tables");
    Ok(())
}

/// Safety schemas of `db` on the server, oldest first, with their time.
pub async fn safety_schemas(
    target: &Target,
) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
    let mut conn = server_session(target).await?;
    let prefix = crate::load::safety_schema(&target.database, chrono::DateTime::UNIX_EPOCH);
    let prefix = prefix.trim_end_matches(|c: char| c.is_ascii_digit());
    let names = rows(
        &mut conn,
        target,
        "the schemas",
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME",
    )
    .await?;
    let _ = sqlx::Connection::close(conn).await;
    let mut out = Vec::new();
    for n in names {
        if let Some(ts) = n.strip_prefix(prefix) {
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(ts, "%Y%m%d%H%M%S") {
                out.push((n.clone(), t.and_utc()));
            }
        }
    }
    Ok(out)
}

/// Drops safety schemas of `target.database` older than `keep`; returns their names.
pub async fn prune_safety(target: &Target, keep: chrono::Duration) -> Result<Vec<String>> {
    let now = chrono::Utc::now();
    let mut dropped = Vec::new();
    let old: Vec<String> = safety_schemas(target)
        .await?
        .into_iter()
        .filter(|(_, at)| now - *at > keep)
        .map(|(n, _)| n)
        .collect();
    if old.is_empty() {
        return Ok(dropped);
    }
    let mut conn = server_session(target).await?;
    for n in old {
        exec(
            &mut conn,
            target,
            "could not drop an old safety schema on",
            &format!("DROP DATABASE IF EXISTS {}", quote_ident(&n)),
        )
        .await?;
        dropped.push(n);
    }
    let _ = sqlx::Connection::close(conn).await;
    Ok(dropped)
}

/// Rolls back the newest swap into `target.database` (or the one kept in
/// schema `safety`), from the record stored in its safety schema: for a
/// restore that was interrupted (crash) or that the operator wants undone.
///
/// Errors: `input.invalid` when there is no safety schema (nothing to roll
/// back to) or it has no readable record; server errors.
pub async fn roll_back_latest(target: &Target, safety: Option<&str>) -> Result<SwapRecord> {
    let mut list = safety_schemas(target).await?;
    if let Some(s) = safety {
        list.retain(|(n, _)| n == s);
    }
    let Some((name, _)) = list.pop() else {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "database '{}' has no safety schema{}: there is nothing to roll back to",
                target.database,
                safety.map(|s| format!(" named {s}")).unwrap_or_default()
            ),
        )
        .hint("Safety schemas are kept for 7 days after a restore, then dropped."));
    };
    let mut conn = server_session(target).await?;
    let rec = sqlx::Executor::fetch_optional(
        &mut conn,
        format!("SELECT record FROM {}", q(&name, RECORD_TABLE)).as_str(),
    )
    .await
    .ok()
    .flatten()
    .and_then(|r| schema::text_at(&r, 0))
    .and_then(|t| serde_json::from_str::<SwapRecord>(&t).ok())
    .ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("safety schema {name} has no readable swap record"),
        )
        .hint("Move its tables back by hand with RENAME TABLE if you need them.")
    })?;
    let _ = sqlx::Connection::close(conn).await;
    roll_back(target, &rec).await?;
    Ok(rec)
}

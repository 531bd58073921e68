//! The swap itself: ONE `RENAME TABLE` exchanges the verified shadow tables
//! with the live ones, after the swap record is stored in the safety schema.

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::literal::{quote_ident, quote_str};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};

use super::objects::{apply_objects, drop_objects, keep_triggers_of};
use super::{crossing_foreign_keys, q, roll_back, rows, SwapRecord, RECORD_TABLE};
use crate::load::exec;

/// Swaps the verified shadow tables `tables` into `target.database`.
///
/// `whole`: every current table of the target moves to safety and all
/// post objects are replaced; otherwise only `tables` and their triggers.
///
/// Errors: `input.invalid` when a table-scoped restore would cut foreign
/// keys; server errors. When the post objects fail after the RENAME, the
/// swap is rolled back before returning the error (its message says so).
// Long on purpose: the record, the trigger drops and the one RENAME must happen in this order on one connection.
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
    let (record, triggers) = record_for(&mut conn, target, shadow, safety, tables, whole).await?;
    let moved_out = record.moved_out.clone();
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

//! Rolling a swap back: the safety tables return with the same single RENAME
//! and the previous objects are recreated; also from the record a crashed
//! restore left in its safety schema.

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::literal::quote_ident;
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};

use super::bounded::{self, LockBound};
use super::objects::{apply_objects, drop_objects};
use super::{q, safety_schemas, tables_in, triggers_in, SwapRecord, RECORD_TABLE};
use crate::job::steps::session::{self, server_session};
use crate::load::exec;
use crate::sql::{self, PostKind};

/// Puts the tables of a swap back: the restored tables return to the shadow
/// schema and the safety tables to the target, in one RENAME; the previous
/// views, triggers, routines and events are recreated; the shadow is dropped.
///
/// Errors: server errors (the message names the safety schema, where the
/// previous tables then still are).
pub async fn roll_back(target: &Target, record: &SwapRecord) -> Result<()> {
    let db = &record.database;
    let bound = LockBound::default();
    let mut conn = server_session(target).await?;
    // Its DDL is bounded like the swap's: a roll back must not freeze the application either.
    bounded::prepare(&mut conn, target, &bound).await?;
    let t = Target {
        database: db.clone(),
        ..target.clone()
    };
    // Did the RENAME happen? It is all or nothing: either every moved-out
    // table is in the safety schema, or none is.
    let in_safety = tables_in(&mut conn, target, &record.safety).await?;
    let in_shadow = tables_in(&mut conn, target, &record.shadow).await?;
    let swapped = if record.moved_out.is_empty() {
        record.moved_in.iter().any(|x| !in_shadow.contains(x))
    } else {
        record.moved_out.iter().any(|x| in_safety.contains(x))
    };
    if !swapped {
        return undo_before_rename(&mut conn, target, &t, record).await;
    }
    // Triggers of the restored tables must go before they can leave the schema.
    let in_target = triggers_in(&mut conn, target, db).await?;
    let mut tc = session::open(&t).await?;
    bounded::prepare(&mut tc, &t, &bound).await?;
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
    let present = tables_in(&mut conn, target, db).await?;
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

/// The RENAME never happened: only the triggers dropped before it come back,
/// and the shadow and safety schemas go.
async fn undo_before_rename(
    conn: &mut MySqlConnection,
    target: &Target,
    t: &Target,
    record: &SwapRecord,
) -> Result<()> {
    let db = &record.database;
    // Only triggers were dropped before the RENAME: put them back.
    let mut tc = session::open(t).await?;
    bounded::prepare(&mut tc, t, &LockBound::default()).await?;
    let existing = triggers_in(&mut tc, t, db).await?;
    let only_triggers: String = sql::statements(&record.previous_objects)
        .into_iter()
        .filter(|st| match sql::post_kind(st) {
            PostKind::Trigger(_) => super::trigger_name(st).is_some_and(|n| !existing.contains(&n)),
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
    apply_objects(&mut tc, t, &only_triggers).await?;
    let _ = sqlx::Connection::close(tc).await;
    exec(
        &mut *conn,
        target,
        "could not drop the shadow and safety schemas on",
        &format!(
            "DROP DATABASE IF EXISTS {}; DROP DATABASE IF EXISTS {}",
            quote_ident(&record.shadow),
            quote_ident(&record.safety)
        ),
    )
    .await?;
    Ok(())
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
    if rec.database != target.database || rec.safety != name {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "safety schema {name} holds the record of a swap into '{}', not into '{}'; nothing was changed",
                rec.database, target.database
            ),
        )
        .hint("Name the safety schema of this database with --safety."));
    }
    roll_back(target, &rec).await?;
    Ok(rec)
}

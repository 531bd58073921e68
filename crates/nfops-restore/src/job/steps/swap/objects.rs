//! The views, triggers, routines and events around a swap: kept, dropped and
//! recreated from post-file SQL.

use nfops_core::Result;
use nfops_mysql::literal::quote_str;
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};

use super::{q, rows};
use crate::load::exec;
use crate::load::inventory::restoring_account;
use crate::sql::{self, PostKind};
use nfops_mysql::inventory::definer_of;

/// Keeps, from post-file SQL, the session settings and the triggers on `tables`.
pub(super) fn keep_triggers_of(post_sql: &str, tables: &[String]) -> String {
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

/// Runs post-file SQL (views, triggers, routines, events) on `conn`, each
/// object with its recorded `DEFINER` when the restoring account may set
/// it; otherwise owned by the restoring account (the restore plan listed
/// every such object: `load::inventory::owner_changes`).
pub(super) async fn apply_objects(
    conn: &mut MySqlConnection,
    target: &Target,
    text: &str,
) -> Result<()> {
    exec(
        conn,
        target,
        "could not prepare the session on",
        "SET SESSION foreign_key_checks = 0",
    )
    .await?;
    let account = restoring_account(conn, target).await?;
    for stmt in sql::statements(text) {
        let stmt = match definer_of(&stmt) {
            Some(d) if !account.may_set_definer && d != account.name => {
                schema::strip_definer(&stmt)
            }
            _ => stmt,
        };
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
pub(super) async fn drop_objects(
    conn: &mut MySqlConnection,
    target: &Target,
    db: &str,
) -> Result<()> {
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

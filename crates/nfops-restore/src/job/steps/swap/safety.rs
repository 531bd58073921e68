//! Safety schemas: the previous tables of each restore, kept for a while,
//! then pruned.

use nfops_core::Result;
use nfops_mysql::literal::quote_ident;
use nfops_mysql::Target;

use super::rows;
use crate::load::{exec, server_session};

/// Safety schemas of `db` on the server, oldest first, with their time.
pub async fn safety_schemas(
    target: &Target,
) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
    let mut conn = server_session(target).await?;
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
        // Only this database's schemas: the name carries a digest of the whole name.
        if let Some(at) = crate::job::steps::session::safety_time_of(&n, &target.database) {
            out.push((n, at));
        }
    }
    out.sort_by_key(|(_, at)| *at);
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

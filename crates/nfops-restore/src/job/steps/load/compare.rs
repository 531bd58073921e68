//! The shadow (or a live database) compared with the backup's manifest:
//! row counts and content hashes of every table, recomputed on the server's
//! rows and hashed here as the dump hashed them.

use std::collections::VecDeque;
use std::sync::Mutex;

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};
use serde::Serialize;

use crate::job::steps::session;
use crate::source::BackupSource;

/// One table of the shadow compared with the manifest.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableCheck {
    pub table: String,
    pub rows: u64,
    pub expected_rows: u64,
    pub content_hash: String,
    pub expected_hash: String,
}

impl TableCheck {
    pub fn ok(&self) -> bool {
        self.rows == self.expected_rows && self.content_hash == self.expected_hash
    }
}

/// Sessions a table comparison uses: the server scans and sends on one
/// core while this process hashes on another; more only queue on 2 cores.
const COMPARE_SESSIONS: usize = 2;

/// Recomputes row counts and content hashes of `tables` in database
/// `target.database` and compares them with the manifest. Every table is
/// checked (not stop-at-first), largest first, on up to two sessions, each
/// table read by one plain SELECT (a consistent read of that table; no table
/// lock) and hashed here as the dump hashed it
/// ([`nfops_mysql::hash::streamed_table_hash_of`]). On a live database the
/// tables are read at slightly different moments: a table written to during
/// the check differs from any backup anyway.
pub async fn compare_with_manifest(
    source: &BackupSource,
    target: &Target,
    tables: &[String],
) -> Result<Vec<TableCheck>> {
    let mut conn = session::open(target).await?;
    let live = schema::tables(&mut conn, target).await?;
    let size_of = |name: &str| -> u64 {
        source
            .manifest
            .tables
            .iter()
            .find(|t| t.name == name)
            .map(|t| {
                t.files
                    .iter()
                    .filter_map(|f| source.manifest.files.iter().find(|e| &e.name == f))
                    .map(|e| e.sql_bytes)
                    .sum()
            })
            .unwrap_or(0)
    };
    let mut work: Vec<(usize, &String, u64)> = tables
        .iter()
        .enumerate()
        .map(|(i, n)| (i, n, size_of(n)))
        .collect();
    work.sort_by_key(|w| std::cmp::Reverse(w.2));
    let queue = Mutex::new(
        work.into_iter()
            .map(|(i, n, _)| (i, n))
            .collect::<VecDeque<_>>(),
    );
    let results: Mutex<Vec<Option<TableCheck>>> = Mutex::new(vec![None; tables.len()]);
    let worker = |mut conn: MySqlConnection| {
        let (queue, results, live) = (&queue, &results, &live);
        async move {
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some((i, name)) = next else { break };
                let Some(expected) = source.manifest.tables.iter().find(|t| &t.name == name) else {
                    continue;
                };
                let (rows, hash) = match live.iter().find(|t| &t.name == name) {
                    Some(t) => {
                        let d =
                            nfops_mysql::hash::streamed_table_hash_of(&mut conn, target, t).await?;
                        (d.rows, d.hex())
                    }
                    None => (0, "missing".to_owned()),
                };
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(TableCheck {
                    table: name.clone(),
                    rows,
                    expected_rows: expected.rows,
                    content_hash: hash,
                    expected_hash: expected.content_hash.clone(),
                });
            }
            let _ = sqlx::Connection::close(conn).await;
            Ok::<(), Error>(())
        }
    };
    let mut conns = vec![conn];
    for _ in 1..COMPARE_SESSIONS.min(tables.len()) {
        conns.push(session::open(target).await?);
    }
    futures::future::try_join_all(conns.into_iter().map(worker)).await?;
    Ok(results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect())
}

/// [`compare_with_manifest`] on the shadow; any difference is an error.
///
/// Errors: `job.check_failed` naming every table that differs.
pub async fn verify_shadow(
    source: &BackupSource,
    target: &Target,
    shadow: &str,
    tables: &[String],
) -> Result<Vec<TableCheck>> {
    let st = Target {
        database: shadow.to_owned(),
        ..target.clone()
    };
    let checks = compare_with_manifest(source, &st, tables).await?;
    let bad: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok())
        .map(|c| {
            format!(
                "`{}`: {} rows (manifest {}), hash {} (manifest {})",
                c.table, c.rows, c.expected_rows, c.content_hash, c.expected_hash
            )
        })
        .collect();
    if !bad.is_empty() {
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "the loaded copy differs from backup {}: {}; the live tables were not touched",
                source.manifest.backup_id,
                bad.join("; ")
            ),
        )
        .hint("The backup's content does not match its manifest; restore another backup."));
    }
    Ok(checks)
}

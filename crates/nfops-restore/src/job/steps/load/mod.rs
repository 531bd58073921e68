//! Loading a backup into a shadow schema on the target server, and checking
//! the shadow against the manifest.
//!
//! The schema file runs first (tables only), then the data files on
//! `connections` parallel sessions, largest first (a table split into
//! several files on several sessions at once, in row-lock mode; see
//! `load_shadow`), each session with `foreign_key_checks = 0`,
//! `unique_checks = 0` and the pinned `sql_mode`;
//! everything goes to the binlog, so replicas replay the shadow and the swap
//! alike. Rows go in
//! as the dump wrote them: multi-row INSERT statements of about 1 MB inside
//! one transaction per file. Nothing outside the shadow schema is written.

mod compare;
pub mod inventory;
pub(crate) mod step;

pub use compare::{compare_with_manifest, verify_shadow, TableCheck};

use std::collections::{BTreeSet, VecDeque};
use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use age::x25519;
use futures::future::BoxFuture;
use nfops_core::jobs::CancellationToken;
use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::literal::{quote_ident, quote_str};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};
use tokio::sync::mpsc;

use crate::job::steps::check_backup::refusal;
use crate::job::steps::session;
use crate::source::BackupSource;
use crate::sql;
use nfops_mysql::allowed::check_data_line;

// Session setup and schema names live in `steps/session.rs`; re-exported
// here at the paths the app and the tests use.
pub use crate::job::steps::session::{job_tag, safety_schema, server_session, shadow_schema};

/// Live counters for progress.
#[derive(Debug, Default)]
pub struct LoadCounters {
    /// SQL text executed.
    pub sql_bytes: AtomicU64,
    pub files_done: AtomicU64,
    pub files_total: AtomicU64,
    /// Data statements checked against the allow-list (each right before it was sent).
    pub statements_checked: AtomicU64,
}

/// Runs one statement; `what` names it for the operator.
pub async fn exec(
    conn: &mut MySqlConnection,
    target: &Target,
    what: &str,
    stmt: &str,
) -> Result<()> {
    sqlx::Executor::execute(&mut *conn, stmt)
        .await
        .map(|_| ())
        .map_err(|e| target.error(what, e))
}

/// The tables of the backup a restore of `only` (None: all) covers, in
/// manifest order, then its sequences (they move with the same RENAME).
///
/// Errors: `input.invalid` naming a table the backup does not have.
pub fn scope_tables(source: &BackupSource, only: Option<&[String]>) -> Result<Vec<String>> {
    let mut all: Vec<String> = source
        .manifest
        .tables
        .iter()
        .map(|t| t.name.clone())
        .collect();
    if let Some(inv) = &source.manifest.inventory {
        all.extend(inv.names(nfops_mysql::ObjectKind::Sequence));
    }
    let Some(only) = only else { return Ok(all) };
    let mut out = Vec::new();
    for t in only {
        if !all.contains(t) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("backup {} has no table '{t}'", source.manifest.backup_id),
            )
            .hint(format!("Its tables are: {}.", all.join(", "))));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

/// Creates (anew) the shadow schema (unique to the job) and loads the backup's tables in
/// `tables` into it.
///
/// Errors: `backup.untrusted` naming the file and line of a data statement
/// the allow-list refuses (it is never sent); `job.check_failed` for a
/// damaged file (cut off, undecryptable, unreadable);
/// `service.unreachable`/`service.unhealthy` from the server;
/// `job.cancelled`. The shadow schema is left for the caller to drop.
#[allow(clippy::too_many_arguments)]
pub async fn load_shadow(
    source: &BackupSource,
    identity: &x25519::Identity,
    target: &Target,
    shadow: &str,
    tables: &[String],
    connections: usize,
    counters: Arc<LoadCounters>,
    cancel: &CancellationToken,
) -> Result<()> {
    let mut admin = server_session(target).await?;
    let q = quote_ident(shadow);
    exec(
        &mut admin,
        target,
        "could not create the shadow schema on",
        &format!("DROP DATABASE IF EXISTS {q}; CREATE DATABASE {q} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
    )
    .await?;
    let _ = sqlx::Connection::close(admin).await;
    let shadow_target = Target {
        database: shadow.to_owned(),
        ..target.clone()
    };
    let wanted: BTreeSet<&str> = tables.iter().map(String::as_str).collect();

    // Tables first.
    let schema_file = source.schema_file().ok_or_else(|| {
        Error::new(
            ErrorCode::CheckFailed,
            "the backup's manifest lists no schema file",
        )
    })?;
    let id = identity.clone();
    let src = source.clone();
    let name = schema_file.to_owned();
    let text = tokio::task::spawn_blocking(move || src.sql_text(&name, &id))
        .await
        .map_err(|e| Error::internal(format!("schema reader stopped: {e}")))??;
    let mut conn = session::open(&shadow_target).await?;
    for stmt in sql::statements(&text) {
        if let Some(t) = created_table(&stmt) {
            if !wanted.contains(t.as_str()) {
                continue;
            }
        }
        exec(
            &mut conn,
            &shadow_target,
            "could not create a table in the shadow schema on",
            &stmt,
        )
        .await?;
    }
    let _ = sqlx::Connection::close(conn).await;

    // Then rows, on parallel sessions, largest first. A table with one file
    // loads as MariaDB's bulk insert (an empty table with unique and foreign
    // key checks off: sorted, but the whole table locked until the file's
    // transaction ends). A table the dump split into several files loads
    // them on any session at once in row-lock mode: those files run with
    // `unique_checks = 1` (stricter than the file asks; see
    // `ROW_LOCK_HEADER`), so two sessions share one big table instead of the
    // second waiting for the first's table lock (it waited past
    // innodb_lock_wait_timeout through a slow link: ERROR 1205).
    let mut items: Vec<(Load, u64)> = Vec::new();
    for t in source
        .manifest
        .tables
        .iter()
        .filter(|t| wanted.contains(t.name.as_str()))
    {
        let row_locks = t.files.len() > 1;
        for f in &t.files {
            items.push((
                Load {
                    table: t.name.clone(),
                    file: f.clone(),
                    row_locks,
                },
                source.file_bytes(f),
            ));
        }
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.1));
    counters
        .files_total
        .store(items.len() as u64, Ordering::Relaxed);
    let queue = Arc::new(Mutex::new(
        items.into_iter().map(|i| i.0).collect::<VecDeque<_>>(),
    ));
    let mut workers: Vec<BoxFuture<'_, Result<()>>> = Vec::new();
    for _ in 0..connections.max(1) {
        workers.push(Box::pin(load_worker(
            source,
            identity,
            &shadow_target,
            queue.clone(),
            counters.clone(),
            cancel,
        )));
    }
    futures::future::try_join_all(workers).await?;
    Ok(())
}

/// The table a `CREATE TABLE` statement creates.
fn created_table(stmt: &str) -> Option<String> {
    let rest = stmt.strip_prefix("CREATE TABLE ")?;
    let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
    let r = rest.strip_prefix('`')?;
    let mut name = String::new();
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            if chars.peek() == Some(&'`') {
                chars.next();
                name.push('`');
                continue;
            }
            return Some(name);
        }
        name.push(c);
    }
    None
}

async fn load_worker(
    source: &BackupSource,
    identity: &x25519::Identity,
    target: &Target,
    queue: Arc<Mutex<VecDeque<Load>>>,
    counters: Arc<LoadCounters>,
    cancel: &CancellationToken,
) -> Result<()> {
    let mut conn = session::open(target).await?;
    // Rows are written to the binlog on purpose (no `sql_log_bin = 0`): a
    // replica must hold the shadow's rows when the RENAME reaches it, or its
    // tables would be swapped for empty ones (README, Restores: replicas).
    exec(
        &mut conn,
        target,
        "could not prepare a loading session on",
        "SET SESSION foreign_key_checks = 0; SET SESSION unique_checks = 0",
    )
    .await?;
    // MariaDB writes each INSERT's text into the binlog again beside its row
    // events (annotations, informational only): about the backup's size once
    // more. Row events, GTIDs and transactions are unchanged, so replicas
    // follow as before. Best effort: MySQL has no such variable, and a server
    // may refuse it.
    if let Err(e) =
        sqlx::Executor::execute(&mut conn, "SET SESSION binlog_annotate_row_events = 0").await
    {
        tracing::debug!(error = %e, "binlog annotations stay on for this loading session");
    }
    loop {
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        let Some(load) = next else { break };
        load_file(
            &mut conn, source, identity, target, &load, &counters, cancel,
        )
        .await?;
        counters.files_done.fetch_add(1, Ordering::Relaxed);
    }
    let _ = sqlx::Connection::close(conn).await;
    Ok(())
}

fn cancelled() -> Error {
    Error::new(
        ErrorCode::Cancelled,
        "the restore was cancelled while loading",
    )
    .hint("The live tables were not touched; the shadow schema is dropped.")
}

enum Line {
    Sql(String),
    End,
}

/// One data file of `table` to load, and whether in row-lock mode (see `load_shadow`).
struct Load {
    table: String,
    file: String,
    row_locks: bool,
}

/// The data files' header line that turns unique checks off, and what a
/// row-lock load sends instead: with unique checks on, MariaDB does not take
/// its bulk-insert table lock.
const BULK_HEADER: &str = "SET SESSION unique_checks = 0;";
const ROW_LOCK_HEADER: &str = "SET SESSION unique_checks = 1;";

async fn load_file(
    conn: &mut MySqlConnection,
    source: &BackupSource,
    identity: &x25519::Identity,
    target: &Target,
    load: &Load,
    counters: &LoadCounters,
    cancel: &CancellationToken,
) -> Result<()> {
    let name = load.file.as_str();
    let (tx, mut rx) = mpsc::channel::<Result<Line>>(8);
    let src = source.clone();
    let id = identity.clone();
    let file = name.to_owned();
    let table = load.table.clone();
    let backup_id = source.manifest.backup_id.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut line_no = 0usize;
        let mut r = match src.sql_reader(&file, &id) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let mut buf = Vec::with_capacity(1 << 20);
        loop {
            buf.clear();
            line_no += 1;
            match r.read_until(b'\n', &mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(Error::new(
                        ErrorCode::CheckFailed,
                        format!("backup file {file} cannot be read to its end: decryption or decompression failed (damaged)"),
                    )
                    .hint("Restore another backup; this one is damaged.")
                    .source(e)));
                    return;
                }
            }
            let line = match std::str::from_utf8(buf.trim_ascii_end()) {
                Ok(l) => l,
                Err(_) => {
                    let _ = tx.blocking_send(Err(Error::new(
                        ErrorCode::CheckFailed,
                        format!("backup file {file} has a line that is not UTF-8 text (damaged)"),
                    )));
                    return;
                }
            };
            // Every statement is checked against what a data file of this
            // table may hold right before it is handed to the session: what
            // is checked is what is sent, and a refused one is never sent
            // (the load fails, the shadow is dropped, nothing live changed).
            let item = if line == nfops_mysql::dump::END_MARKER {
                Line::End
            } else {
                match check_data_line(&table, line) {
                    Ok(false) => continue,
                    Ok(true) => Line::Sql(line.to_owned()),
                    Err(why) => {
                        let _ = tx.blocking_send(Err(refusal(
                            &backup_id,
                            &file,
                            &format!("line {line_no}"),
                            &why,
                        )));
                        return;
                    }
                }
            };
            if tx.blocking_send(Ok(item)).is_err() {
                return;
            }
        }
    });
    let mut complete = false;
    let result: Result<()> = async {
        while let Some(item) = rx.recv().await {
            if cancel.is_cancelled() {
                return Err(cancelled());
            }
            match item? {
                Line::End => complete = true,
                Line::Sql(stmt) => {
                    complete = false;
                    let stmt = if load.row_locks && stmt == BULK_HEADER {
                        ROW_LOCK_HEADER.to_owned()
                    } else {
                        stmt
                    };
                    exec(
                        conn,
                        target,
                        &format!("loading rows from {name} failed on"),
                        &stmt,
                    )
                    .await?;
                    counters
                        .sql_bytes
                        .fetch_add(stmt.len() as u64 + 1, Ordering::Relaxed);
                    counters.statements_checked.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }
    .await;
    drop(rx);
    let _ = reader.await;
    result?;
    if !complete {
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!("backup file {name} is cut off (no end-of-file line)"),
        )
        .hint("Restore another backup; this one is damaged. The live tables were not touched."));
    }
    Ok(())
}

/// Drops the shadow schema (best effort; logs when it cannot); whether it is gone.
pub async fn drop_shadow(target: &Target, shadow: &str) -> bool {
    match server_session(target).await {
        Ok(mut c) => {
            if let Err(e) = exec(
                &mut c,
                target,
                "could not drop the shadow schema on",
                &format!("DROP DATABASE IF EXISTS {}", quote_ident(shadow)),
            )
            .await
            {
                tracing::warn!(category = "worker", schema = %shadow, error = %e, "shadow schema left behind");
                let _ = sqlx::Connection::close(c).await;
                return false;
            }
            let _ = sqlx::Connection::close(c).await;
            true
        }
        Err(e) => {
            tracing::warn!(category = "worker", schema = %shadow, error = %e, "shadow schema left behind");
            false
        }
    }
}

/// Free space check helper: bytes of the live tables of `target.database`.
pub async fn database_bytes(conn: &mut MySqlConnection, target: &Target) -> Result<u64> {
    let r = sqlx::Executor::fetch_one(
        &mut *conn,
        format!(
            "SELECT CAST(COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
            quote_str(&target.database)
        )
        .as_str(),
    )
    .await
    .map_err(|e| target.error("could not read the size of", e))?;
    Ok(schema::text_at(&r, 0)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bulk_header_is_a_line_the_dump_writes() {
        // Row-lock mode swaps this exact line; if the dump wrote it
        // differently, split tables would wait on each other's table lock.
        assert!(nfops_mysql::dump::FILE_HEADER
            .lines()
            .any(|l| l == BULK_HEADER));
    }
}

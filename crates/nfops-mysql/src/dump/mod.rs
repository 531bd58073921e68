//! The dump engine: one consistent snapshot shared by N parallel connections.
//!
//! Sequence (as mydumper): on a control connection `FLUSH TABLES WITH READ
//! LOCK`; every worker `START TRANSACTION WITH CONSISTENT SNAPSHOT` (REPEATABLE
//! READ); the control connection reads the binlog position and GTID, then
//! `UNLOCK TABLES`: writes are blocked only for those few statements. Workers
//! then take work items (a table, a primary-key range of a large one, or a
//! hash part of a large one without such a key, see [`hash_split`]) from
//! one queue, largest first; the control connection writes the schema and the
//! post-data objects meanwhile.
//!
//! Each item becomes one file: rows are streamed (`fetch`, never a whole
//! table in memory) into multi-row INSERT statements of bounded size, handed
//! through a small bounded channel to a blocking thread that writes them into
//! the [`DumpSink`]'s file (compression and encryption happen there). Memory is
//! bounded by workers × (channel depth + 1) × statement size.
//!
//! Files (names relative to the dump folder):
//! - `00-schema.sql…`: `CREATE SEQUENCE` of every sequence with the `SETVAL`
//!   of its state, then `CREATE TABLE` of every table (partitions and
//!   `WITH SYSTEM VERSIONING` included, as the server prints them);
//! - `data/<nnnn>-<table>.<chunk>.sql…`: rows, one file per work item;
//! - `99-post.sql…`: views, triggers, routines, events, with their `DEFINER`.
//!
//! Before anything is written, the [`Inventory`] of the database is read
//! inside the snapshot; an object it cannot capture fails the dump, naming
//! it. A system-versioned table's files hold its history too (`FOR
//! SYSTEM_TIME ALL`, period columns included, replayed with
//! `system_versioning_insert_history`).
//!
//! Every file starts with the session settings it needs (utf8mb4, UTC, no
//! strict mode so zero dates load, no FK/unique checks) and ends with the line
//! [`END_MARKER`], so a cut-off file is recognised even after decompression.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use nfops_core::{Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::mysql::MySqlConnection;

use crate::hash::TableDigest;
use crate::inventory::{self, Inventory, ObjectKind, SequenceState};
use crate::schema::{self, text_at, Table};
use crate::sink::{DumpSink, FileEntry};
use crate::Target;

mod item;
mod split;

use item::{dump_item, write_whole};
pub use split::hash_split;
use split::key_ranges;

/// The last line of every dump file.
pub const END_MARKER: &str = "-- nfops: end of file";

/// Session settings at the top of every file.
pub const FILE_HEADER: &str = "/*!40101 SET NAMES utf8mb4 */;\nSET SESSION time_zone = '+00:00';\nSET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\nSET SESSION foreign_key_checks = 0;\nSET SESSION unique_checks = 0;\n";

/// How to dump.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// Parallel connections reading rows (at least 1).
    pub workers: usize,
    /// Tables with a single integer primary key and more (estimated) rows
    /// than this are split into key ranges of about this many rows.
    pub chunk_rows: u64,
    /// An INSERT statement is closed once it reaches this many bytes.
    pub statement_bytes: usize,
    /// Only these tables (None: all).
    pub only_tables: Option<Vec<String>>,
    /// Split large tables without an integer primary key across the workers
    /// ([`hash_split`]); each part costs the server a full scan of the table.
    pub split_keyless: bool,
}

impl Default for DumpOptions {
    fn default() -> Self {
        Self {
            workers: 2,
            chunk_rows: 250_000,
            statement_bytes: 1 << 20,
            only_tables: None,
            split_keyless: true,
        }
    }
}

/// Live counters for progress (read them from another task).
#[derive(Debug, Default)]
pub struct DumpCounters {
    pub rows: AtomicU64,
    /// SQL text produced.
    pub sql_bytes: AtomicU64,
    pub items_done: AtomicU64,
    pub items_total: AtomicU64,
}

/// One table of a finished dump.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableResult {
    pub name: String,
    pub rows: u64,
    /// [`TableDigest::hex`].
    pub content_hash: String,
    /// Columns in the INSERT lists (generated ones excluded).
    pub columns: Vec<String>,
    /// Its data files, in chunk order.
    pub files: Vec<String>,
}

/// What a finished dump contains; everything a manifest needs.
#[derive(Debug, Clone)]
pub struct DumpOutcome {
    pub server_version: String,
    pub binlog_file: Option<String>,
    pub binlog_position: Option<u64>,
    pub gtid: Option<String>,
    /// When the snapshot was taken.
    pub snapshot_at: DateTime<Utc>,
    pub tables: Vec<TableResult>,
    pub schema_file: FileEntry,
    pub post_file: FileEntry,
    pub data_files: Vec<FileEntry>,
    pub views: Vec<String>,
    pub triggers: Vec<String>,
    pub routines: Vec<String>,
    pub events: Vec<String>,
    /// Every object of the database, with owners and row counts.
    pub inventory: Inventory,
}

struct WorkItem {
    table: usize,
    chunk: usize,
    /// `WHERE` clause, when a key range.
    range: Option<String>,
    weight: u64,
}

/// Dumps the target's database into `sink`.
///
/// Errors: `service.unreachable` / `service.unhealthy` naming what failed
/// (connect, lock, a table's rows), `io.error` from the sink. On error, files
/// already created are left to the caller to discard.
pub fn dump<'a>(
    target: &'a Target,
    sink: Arc<dyn DumpSink>,
    opts: &'a DumpOptions,
    counters: Arc<DumpCounters>,
) -> BoxFuture<'a, Result<DumpOutcome>> {
    Box::pin(dump_inner(target, sink, opts, counters))
}

// Long on purpose: the snapshot sequence (lock, start workers, read the position, unlock) must read top to bottom in one place to be checked for consistency.

async fn dump_inner(
    target: &Target,
    sink: Arc<dyn DumpSink>,
    opts: &DumpOptions,
    counters: Arc<DumpCounters>,
) -> Result<DumpOutcome> {
    let workers = opts.workers.max(1);
    let mut control = target.connect().await?;
    let server_version: String = sqlx::Executor::fetch_one(&mut control, "SELECT VERSION()")
        .await
        .map_err(|e| target.error("could not read the version of", e))
        .map(|r| text_at(&r, 0).unwrap_or_default())?;

    let mut conns = Vec::with_capacity(workers);
    for _ in 0..workers {
        conns.push(target.connect().await?);
    }

    // --- the consistent snapshot -------------------------------------------
    sqlx::Executor::execute(
        &mut control,
        "SET SESSION lock_wait_timeout = 60; FLUSH TABLES WITH READ LOCK",
    )
    .await
    .map_err(|e| target.error("could not briefly lock (FLUSH TABLES WITH READ LOCK)", e))?;
    let mut starts: Vec<BoxFuture<'_, Result<()>>> = Vec::new();
    for c in conns.iter_mut() {
        starts.push(Box::pin(start_snapshot(c, target)));
    }
    let started = futures::future::try_join_all(starts).await;
    let snapshot_at = Utc::now();
    let (binlog_file, binlog_position) = binlog_position(&mut control).await;
    let gtid = crate::schema::gtid_position(&mut control).await;
    sqlx::Executor::execute(&mut control, "UNLOCK TABLES")
        .await
        .map_err(|e| target.error("could not release the lock on", e))?;
    started?;
    tracing::info!(category = "worker", database = %target.database, binlog = ?binlog_file, "consistent snapshot taken");

    // --- what to dump (inside the snapshot) --------------------------------
    let first = conns
        .first_mut()
        .ok_or_else(|| Error::internal("dump started without a worker connection"))?;
    let (mut inventory, uncapturable) = inventory::read(first, target, &target.database).await?;
    if !uncapturable.is_empty() {
        return Err(inventory::refuse(&target.database, &uncapturable));
    }
    let mut tables = schema::tables(first, target).await?;
    if let Some(only) = &opts.only_tables {
        tables.retain(|t| only.contains(&t.name));
        inventory
            .objects
            .retain(|o| !o.kind.is_table_like() || only.contains(&o.name));
    }
    let current_rows = versioned_current_rows(first, target, &tables).await?;
    let sequences: Vec<(String, SequenceState)> = inventory
        .objects
        .iter()
        .filter_map(|o| Some((o.name.clone(), o.sequence.clone()?)))
        .collect();
    let mut items = Vec::new();
    for (ti, t) in tables.iter().enumerate() {
        let ranges = match &t.int_pk {
            Some(pk) if t.est_rows > opts.chunk_rows => {
                key_ranges(first, target, t, pk, opts.chunk_rows).await?
            }
            None if opts.split_keyless && t.est_rows > opts.chunk_rows => {
                hash_split(t, workers, opts.chunk_rows)
            }
            _ => vec![None],
        };
        let n = ranges.len() as u64;
        for (ci, r) in ranges.into_iter().enumerate() {
            items.push(WorkItem {
                table: ti,
                chunk: ci,
                range: r,
                weight: t.est_bytes.max(t.est_rows) / n.max(1),
            });
        }
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.weight));
    counters
        .items_total
        .store(items.len() as u64, Ordering::Relaxed);
    let queue = Arc::new(Mutex::new(items.into_iter().collect::<VecDeque<_>>()));
    let tables = Arc::new(tables);

    // --- schema and post objects on the control connection, rows on workers --
    let control_job: BoxFuture<'_, Result<(FileEntry, FileEntry, schema::PostObjects)>> =
        Box::pin(schema_and_post(
            &mut control,
            target,
            sink.clone(),
            tables.clone(),
            &sequences,
        ));
    let mut workers_f: Vec<BoxFuture<'_, Result<Vec<Done>>>> = Vec::new();
    for conn in conns.iter_mut() {
        workers_f.push(Box::pin(worker_loop(
            conn,
            target,
            queue.clone(),
            tables.clone(),
            sink.clone(),
            opts,
            counters.clone(),
        )));
    }
    let worker_jobs = futures::future::try_join_all(workers_f);
    let ((schema_file, post_file, post), per_worker) =
        futures::try_join!(control_job, worker_jobs)?;
    for c in conns {
        let _ = sqlx::Connection::close(c).await;
    }
    let _ = sqlx::Connection::close(control).await;

    let mut by_table: BTreeMap<usize, Vec<(usize, FileEntry, TableDigest)>> = BTreeMap::new();
    for (ti, ci, e, d) in per_worker.into_iter().flatten() {
        by_table.entry(ti).or_default().push((ci, e, d));
    }
    let mut results = Vec::new();
    let mut data_files = Vec::new();
    for (ti, t) in tables.iter().enumerate() {
        let mut parts = by_table.remove(&ti).unwrap_or_default();
        parts.sort_by_key(|p| p.0);
        let mut digest = TableDigest::default();
        let mut files = Vec::new();
        for (_, e, d) in parts {
            digest.merge(d);
            files.push(e.name.clone());
            data_files.push(e);
        }
        if let Some(o) = inventory.objects.iter_mut().find(|o| {
            o.name == t.name && matches!(o.kind, ObjectKind::Table | ObjectKind::VersionedTable)
        }) {
            let current = current_rows.get(&t.name).copied().unwrap_or(digest.rows);
            o.rows = Some(current);
            o.history_rows = t.versioned.then(|| digest.rows.saturating_sub(current));
        }
        results.push(TableResult {
            name: t.name.clone(),
            rows: digest.rows,
            content_hash: digest.hex(),
            columns: t.stored_columns().map(|c| c.name.clone()).collect(),
            files,
        });
    }
    Ok(DumpOutcome {
        server_version,
        binlog_file,
        binlog_position,
        gtid,
        snapshot_at,
        tables: results,
        schema_file,
        post_file,
        data_files,
        views: post.views,
        triggers: post.triggers,
        routines: post.routines,
        events: post.events,
        inventory,
    })
}

/// Current rows of every system-versioned table (its files hold history
/// too), read inside the snapshot.
async fn versioned_current_rows(
    conn: &mut MySqlConnection,
    target: &Target,
    tables: &[Table],
) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for t in tables.iter().filter(|t| t.versioned) {
        let r = sqlx::Executor::fetch_one(
            &mut *conn,
            format!(
                "SELECT COUNT(*) FROM {}",
                crate::literal::quote_ident(&t.name)
            )
            .as_str(),
        )
        .await
        .map_err(|e| {
            target.error(
                &format!("could not count the rows of table `{}` in", t.name),
                e,
            )
        })?;
        out.insert(
            t.name.clone(),
            text_at(&r, 0).and_then(|v| v.parse().ok()).unwrap_or(0),
        );
    }
    Ok(out)
}

type Done = (usize, usize, FileEntry, TableDigest);

async fn start_snapshot(c: &mut MySqlConnection, target: &Target) -> Result<()> {
    sqlx::Executor::execute(&mut *c, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .await
        .map(|_| ())
        .map_err(|e| target.error("could not start a snapshot transaction on", e))
}

async fn schema_and_post(
    control: &mut MySqlConnection,
    target: &Target,
    sink: Arc<dyn DumpSink>,
    tables: Arc<Vec<Table>>,
    sequences: &[(String, SequenceState)],
) -> Result<(FileEntry, FileEntry, schema::PostObjects)> {
    let mut text = String::from(FILE_HEADER);
    // Sequences first: a table's DEFAULT NEXTVAL(s) needs its sequence.
    for (name, state) in sequences {
        let create = schema::create_sequence(control, target, name).await?;
        text.push_str(&format!(
            "\n{create};\n{};\n",
            inventory::sequence_restore_sql(name, state)
        ));
    }
    for t in tables.iter() {
        let create = schema::create_table(control, target, &t.name).await?;
        text.push_str(&format!("\n{create};\n"));
    }
    text.push_str(&format!("\n{END_MARKER}\n"));
    let schema_file = write_whole(sink.clone(), "00-schema.sql", text.into_bytes()).await?;
    let post = schema::post_objects(control, target).await?;
    let post_text = format!("{FILE_HEADER}\n{}\n{END_MARKER}\n", post.sql);
    let post_file = write_whole(sink, "99-post.sql", post_text.into_bytes()).await?;
    Ok((schema_file, post_file, post))
}

async fn worker_loop(
    conn: &mut MySqlConnection,
    target: &Target,
    queue: Arc<Mutex<VecDeque<WorkItem>>>,
    tables: Arc<Vec<Table>>,
    sink: Arc<dyn DumpSink>,
    opts: &DumpOptions,
    counters: Arc<DumpCounters>,
) -> Result<Vec<Done>> {
    let mut done = Vec::new();
    loop {
        let item = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        let Some(item) = item else { break };
        let t = &tables[item.table];
        let (entry, digest) =
            dump_item(conn, target, sink.clone(), t, &item, opts, &counters).await?;
        counters.items_done.fetch_add(1, Ordering::Relaxed);
        done.push((item.table, item.chunk, entry, digest));
    }
    Ok(done)
}

async fn binlog_position(conn: &mut MySqlConnection) -> (Option<String>, Option<u64>) {
    for q in ["SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"] {
        if let Some(r) = sqlx::Executor::fetch_all(&mut *conn, q)
            .await
            .ok()
            .and_then(|mut v| (!v.is_empty()).then(|| v.swap_remove(0)))
        {
            return (text_at(&r, 0), text_at(&r, 1).and_then(|p| p.parse().ok()));
        }
    }
    (None, None)
}

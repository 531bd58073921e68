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
//! - `00-schema.sql…`: `CREATE TABLE` of every table;
//! - `data/<nnnn>-<table>.<chunk>.sql…`: rows, one file per work item;
//! - `99-post.sql…`: views, triggers, routines, events.
//!
//! Every file starts with the session settings it needs (utf8mb4, UTC, no
//! strict mode so zero dates load, no FK/unique checks) and ends with the line
//! [`END_MARKER`], so a cut-off file is recognised even after decompression.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::TryStreamExt;
use nfops_core::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use sqlx::mysql::MySqlConnection;
use tokio::sync::mpsc;

use crate::hash::{RowHasher, TableDigest};
use crate::literal::{quote_ident, write_value};
use crate::schema::{self, bytes_at, text_at, Table};
use crate::sink::{DumpSink, FileEntry};
use crate::Target;

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
    let gtid = gtid(&mut control).await;
    sqlx::Executor::execute(&mut control, "UNLOCK TABLES")
        .await
        .map_err(|e| target.error("could not release the lock on", e))?;
    started?;
    tracing::info!(category = "worker", database = %target.database, binlog = ?binlog_file, "consistent snapshot taken");

    // --- what to dump (inside the snapshot) --------------------------------
    let first = conns
        .first_mut()
        .ok_or_else(|| Error::internal("dump started without a worker connection"))?;
    let mut tables = schema::tables(first, target).await?;
    if let Some(only) = &opts.only_tables {
        tables.retain(|t| only.contains(&t.name));
    }
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
    let control_job: BoxFuture<'_, Result<(FileEntry, FileEntry, schema::PostObjects)>> = Box::pin(
        schema_and_post(&mut control, target, sink.clone(), tables.clone()),
    );
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
    })
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
) -> Result<(FileEntry, FileEntry, schema::PostObjects)> {
    let mut text = String::from(FILE_HEADER);
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

async fn gtid(conn: &mut MySqlConnection) -> Option<String> {
    for q in [
        "SELECT @@GLOBAL.gtid_binlog_pos",
        "SELECT @@GLOBAL.gtid_executed",
    ] {
        if let Ok(r) = sqlx::Executor::fetch_one(&mut *conn, q).await {
            return text_at(&r, 0).filter(|g| !g.is_empty());
        }
    }
    None
}

/// Splits `t` by its integer key into ranges of about `chunk_rows` rows. The
/// first and last ranges are open-ended, so every row is covered whatever the
/// estimate.
async fn key_ranges(
    conn: &mut MySqlConnection,
    target: &Target,
    t: &Table,
    pk: &str,
    chunk_rows: u64,
) -> Result<Vec<Option<String>>> {
    let q = quote_ident(pk);
    let r = sqlx::Executor::fetch_one(
        &mut *conn,
        format!("SELECT MIN({q}), MAX({q}) FROM {}", quote_ident(&t.name)).as_str(),
    )
    .await
    .map_err(|e| {
        target.error(
            &format!("could not read the key range of table `{}` in", t.name),
            e,
        )
    })?;
    let (Some(min), Some(max)) = (
        text_at(&r, 0).and_then(|v| v.parse::<i128>().ok()),
        text_at(&r, 1).and_then(|v| v.parse::<i128>().ok()),
    ) else {
        return Ok(vec![None]);
    };
    let n = t.est_rows.div_ceil(chunk_rows.max(1)).clamp(1, 10_000) as i128;
    let step = ((max - min + 1) / n).max(1);
    let mut bounds = Vec::new();
    let mut b = min + step;
    while b <= max {
        bounds.push(b);
        b += step;
    }
    if bounds.is_empty() {
        return Ok(vec![None]);
    }
    let mut out = Vec::with_capacity(bounds.len() + 1);
    out.push(Some(format!("{q} < {}", bounds[0])));
    for w in bounds.windows(2) {
        out.push(Some(format!("{q} >= {} AND {q} < {}", w[0], w[1])));
    }
    out.push(Some(format!("{q} >= {}", bounds[bounds.len() - 1])));
    Ok(out)
}

/// Splits a large table without an integer primary key into one part per
/// worker by a hash of one of its columns: part `k` holds the rows whose
/// `CRC32(col) % n = k` (part 0 also those where `col` is NULL). Every row
/// falls in exactly one part, whatever the column's values, and all parts are
/// read inside the same consistent snapshot, so together they are the table.
/// Each part costs the server a full scan; the rows' formatting, compression
/// and encryption (the bulk of the work) then run on every worker.
///
/// The column is the best of the stored ones for spreading rows: a date-time,
/// then an integer, a date or time, a decimal, a short string. Tables with
/// only BLOB/JSON/TEXT-like columns are not split (`[None]`).
pub fn hash_split(t: &Table, workers: usize, chunk_rows: u64) -> Vec<Option<String>> {
    let n = (workers as u64).min(t.est_rows.div_ceil(chunk_rows.max(1)));
    if n < 2 {
        return vec![None];
    }
    let rank = |data_type: &str| match data_type.to_ascii_lowercase().as_str() {
        "datetime" | "timestamp" => Some(0),
        "bigint" | "int" | "integer" | "mediumint" => Some(1),
        "smallint" | "tinyint" | "date" | "time" | "year" => Some(2),
        "decimal" | "numeric" | "float" | "double" | "real" => Some(3),
        "varchar" | "char" | "enum" => Some(4),
        _ => None,
    };
    let Some(col) = t
        .stored_columns()
        .filter_map(|c| rank(&c.data_type).map(|r| (r, c)))
        .min_by_key(|(r, _)| *r)
        .map(|(_, c)| quote_ident(&c.name))
    else {
        return vec![None];
    };
    (0..n)
        .map(|k| {
            Some(if k == 0 {
                format!("(CRC32({col}) % {n} = 0 OR {col} IS NULL)")
            } else {
                format!("CRC32({col}) % {n} = {k}")
            })
        })
        .collect()
}

/// A file name part safe on every OS: letters, digits, `_`, `-`.
fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

enum Chunk {
    Data(Vec<u8>),
    End,
}

/// Runs the blocking writer of one file: creates it, writes what arrives,
/// finishes it on `End`. A closed channel without `End` abandons the file.
fn spawn_writer(
    sink: Arc<dyn DumpSink>,
    name: String,
    mut rx: mpsc::Receiver<Chunk>,
) -> tokio::task::JoinHandle<Result<FileEntry>> {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut file = sink.create(&name)?;
        let mut sql_bytes = 0u64;
        while let Some(c) = rx.blocking_recv() {
            match c {
                Chunk::Data(buf) => {
                    sql_bytes += buf.len() as u64;
                    file.write_all(&buf)
                        .map_err(|e| Error::io(format!("writing backup file {name}"), e))?;
                }
                Chunk::End => {
                    let mut entry = file.finish()?;
                    entry.sql_bytes = sql_bytes;
                    return Ok(entry);
                }
            }
        }
        Err(Error::new(
            ErrorCode::Cancelled,
            format!("writing backup file {name} was abandoned"),
        ))
    })
}

async fn join_writer(h: tokio::task::JoinHandle<Result<FileEntry>>) -> Result<FileEntry> {
    h.await
        .map_err(|e| Error::internal(format!("a backup file writer stopped: {e}")))?
}

async fn write_whole(sink: Arc<dyn DumpSink>, name: &str, bytes: Vec<u8>) -> Result<FileEntry> {
    let (tx, rx) = mpsc::channel(2);
    let h = spawn_writer(sink, name.to_owned(), rx);
    let _ = tx.send(Chunk::Data(bytes)).await;
    let _ = tx.send(Chunk::End).await;
    drop(tx);
    join_writer(h).await
}

async fn dump_item(
    conn: &mut MySqlConnection,
    target: &Target,
    sink: Arc<dyn DumpSink>,
    t: &Table,
    item: &WorkItem,
    opts: &DumpOptions,
    counters: &DumpCounters,
) -> Result<(FileEntry, TableDigest)> {
    let name = format!(
        "data/{:04}-{}.{:05}.sql",
        item.table,
        safe_name(&t.name),
        item.chunk
    );
    let cols: Vec<_> = t.stored_columns().collect();
    let col_list = cols
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(",");
    let select = format!(
        "SELECT {col_list} FROM {}{}",
        quote_ident(&t.name),
        item.range
            .as_ref()
            .map(|r| format!(" WHERE {r}"))
            .unwrap_or_default()
    );
    let insert_head = format!("INSERT INTO {} ({col_list}) VALUES ", quote_ident(&t.name));

    let (tx, rx) = mpsc::channel::<Chunk>(4);
    let writer = spawn_writer(sink, name.clone(), rx);
    let send = |buf: Vec<u8>| {
        let tx = tx.clone();
        async move {
            tx.send(Chunk::Data(buf))
                .await
                .map_err(|_| Error::new(ErrorCode::Io, "a backup file writer stopped early"))
        }
    };

    let mut buf = Vec::with_capacity(opts.statement_bytes + 64 * 1024);
    buf.extend_from_slice(FILE_HEADER.as_bytes());
    buf.extend_from_slice(b"SET autocommit = 0;\n");
    let mut in_statement = false;
    let mut hasher = RowHasher::new();
    let mut digest = TableDigest::default();
    let mut rows_since = 0u64;
    let mut bytes_since = 0usize;
    let result: Result<()> = async {
        let mut stream = sqlx::Executor::fetch(&mut *conn, select.as_str());
        while let Some(row) = stream.try_next().await.map_err(|e| {
            target.error(
                &format!("reading the rows of table `{}` failed on", t.name),
                e,
            )
        })? {
            let before = buf.len();
            if in_statement {
                buf.extend_from_slice(b",(");
            } else {
                buf.extend_from_slice(insert_head.as_bytes());
                buf.push(b'(');
                in_statement = true;
            }
            for (i, c) in cols.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                let v = bytes_at(&row, i);
                match v {
                    None => hasher.null(),
                    Some(b) => hasher.value(b),
                }
                write_value(&mut buf, c.class, v);
            }
            buf.push(b')');
            digest.add_row(hasher.finish_row());
            rows_since += 1;
            bytes_since += buf.len() - before;
            if buf.len() >= opts.statement_bytes {
                buf.extend_from_slice(b";\n");
                in_statement = false;
                let full = std::mem::replace(
                    &mut buf,
                    Vec::with_capacity(opts.statement_bytes + 64 * 1024),
                );
                send(full).await?;
            }
            if rows_since >= 1024 {
                counters.rows.fetch_add(rows_since, Ordering::Relaxed);
                counters
                    .sql_bytes
                    .fetch_add(bytes_since as u64, Ordering::Relaxed);
                rows_since = 0;
                bytes_since = 0;
            }
        }
        Ok(())
    }
    .await;
    let finished: Result<()> = async {
        result?;
        counters.rows.fetch_add(rows_since, Ordering::Relaxed);
        counters
            .sql_bytes
            .fetch_add(bytes_since as u64, Ordering::Relaxed);
        if in_statement {
            buf.extend_from_slice(b";\n");
        }
        buf.extend_from_slice(format!("COMMIT;\n{END_MARKER}\n").as_bytes());
        send(buf).await?;
        tx.send(Chunk::End)
            .await
            .map_err(|_| Error::new(ErrorCode::Io, "a backup file writer stopped early"))
    }
    .await;
    drop(tx);
    if let Err(e) = finished {
        // A writer that failed first (disk full, permissions) says why; report that.
        return Err(match join_writer(writer).await {
            Err(we) if e.code() == ErrorCode::Io && we.code() != ErrorCode::Cancelled => we,
            _ => e,
        });
    }
    let entry = join_writer(writer).await?;
    Ok((entry, digest))
}

#[cfg(test)]
mod split_tests {
    use super::*;
    use crate::literal::ColumnClass;
    use crate::schema::Column;

    fn table(cols: &[(&str, &str, bool)], est_rows: u64) -> Table {
        Table {
            name: "t".into(),
            columns: cols
                .iter()
                .map(|(n, ty, generated)| Column {
                    name: (*n).into(),
                    data_type: (*ty).into(),
                    class: ColumnClass::of(ty),
                    generated: *generated,
                })
                .collect(),
            int_pk: None,
            est_rows,
            est_bytes: 0,
        }
    }

    #[test]
    fn a_big_table_without_a_key_is_split_one_part_per_worker_by_its_best_column() {
        let t = table(
            &[
                ("payload", "json", false),
                ("actor_id", "bigint", false),
                ("occurred_at", "datetime", false),
                ("at_copy", "datetime", true),
            ],
            10_000,
        );
        assert_eq!(
            hash_split(&t, 2, 1000),
            vec![
                Some("(CRC32(`occurred_at`) % 2 = 0 OR `occurred_at` IS NULL)".into()),
                Some("CRC32(`occurred_at`) % 2 = 1".into()),
            ]
        );
        assert_eq!(hash_split(&t, 3, 1000).len(), 3);
    }

    #[test]
    fn small_tables_one_worker_and_blob_only_tables_stay_whole() {
        let t = table(&[("occurred_at", "datetime", false)], 900);
        assert_eq!(hash_split(&t, 2, 1000), vec![None], "fits one chunk");
        let t = table(&[("occurred_at", "datetime", false)], 1500);
        assert_eq!(hash_split(&t, 1, 1000), vec![None], "one worker");
        assert_eq!(
            hash_split(&t, 4, 1000).len(),
            2,
            "no more parts than chunks"
        );
        let t = table(&[("raw", "blob", false), ("doc", "json", false)], 10_000);
        assert_eq!(hash_split(&t, 2, 1000), vec![None], "nothing cheap to hash");
    }
}

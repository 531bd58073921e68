//! One work item dumped: rows streamed into bounded INSERT statements,
//! written to the sink's file by a blocking writer thread.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::TryStreamExt;
use nfops_core::{Error, ErrorCode, Result};
use sqlx::mysql::MySqlConnection;
use tokio::sync::mpsc;

use crate::hash::{RowHasher, TableDigest};
use crate::literal::{quote_ident, write_value};
use crate::schema::{bytes_at, Table, INSERT_HISTORY};
use crate::sink::{DumpSink, FileEntry};
use crate::Target;

use super::split::safe_name;
use super::{DumpCounters, DumpOptions, WorkItem, END_MARKER, FILE_HEADER};

pub(super) enum Chunk {
    Data(Vec<u8>),
    End,
}

/// Runs the blocking writer of one file: creates it, writes what arrives,
/// finishes it on `End`. A closed channel without `End` abandons the file.
pub(super) fn spawn_writer(
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

pub(super) async fn join_writer(
    h: tokio::task::JoinHandle<Result<FileEntry>>,
) -> Result<FileEntry> {
    h.await
        .map_err(|e| Error::internal(format!("a backup file writer stopped: {e}")))?
}

pub(super) async fn write_whole(
    sink: Arc<dyn DumpSink>,
    name: &str,
    bytes: Vec<u8>,
) -> Result<FileEntry> {
    let (tx, rx) = mpsc::channel(2);
    let h = spawn_writer(sink, name.to_owned(), rx);
    let _ = tx.send(Chunk::Data(bytes)).await;
    let _ = tx.send(Chunk::End).await;
    drop(tx);
    join_writer(h).await
}

// Long on purpose: one streaming loop (rows -> statements -> writer) whose counters, hasher and channel live for the whole item.

pub(super) async fn dump_item(
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
        t.from_clause(),
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
    if t.versioned {
        // History rows keep their own period (MariaDB 10.11+; an older server refuses the line).
        buf.extend_from_slice(INSERT_HISTORY.as_bytes());
        buf.push(b'\n');
    }
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

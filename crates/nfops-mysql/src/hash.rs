//! The content hash of a table.
//!
//! Definition (version 1, `nfops-rowsum-md5-v1`):
//!
//! 1. Each value is taken in its *text form*: what the server sends for it in
//!    the text protocol on a session with `SET NAMES utf8mb4` and
//!    `time_zone = '+00:00'` (numbers and dates as the server prints them,
//!    character columns as UTF-8, binary columns as their raw bytes).
//! 2. A row's canonical form is the concatenation, over its stored (not
//!    generated) columns in ordinal order, of `N` for NULL, or
//!    `V<decimal byte length>:<bytes>` for a value.
//! 3. A row's hash is the first 8 bytes of MD5(canonical form), read as a
//!    big-endian unsigned 64-bit integer.
//! 4. The table's hash is the sum of its rows' hashes modulo 2^64, written as
//!    16 lowercase hex digits, together with the row count.
//!
//! The sum makes it independent of row order (so chunks dumped in parallel
//! combine by addition) while still counting duplicate rows. The same number
//! comes from the rows while dumping, from the INSERT literals while reading a
//! dump back, and from one SQL query on a live database ([`live_hash_sql`]).
//! It detects accidental change, not tampering: the files' SHA-256 and age's
//! authentication do that.

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::literal::{quote_ident, ColumnClass};
use crate::schema::Column;

/// Threads hashing one table's streamed rows.
const HASHERS: usize = 2;

/// Name of the hash definition, stored in manifests.
pub const HASH_DEFINITION: &str = "nfops-rowsum-md5-v1";

/// Row count and hash sum of a table (or of a part of it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDigest {
    pub rows: u64,
    pub sum: u64,
}

impl TableDigest {
    /// Adds one row's hash.
    pub fn add_row(&mut self, row_hash: u64) {
        self.rows += 1;
        self.sum = self.sum.wrapping_add(row_hash);
    }

    /// Adds another part of the same table.
    pub fn merge(&mut self, other: TableDigest) {
        self.rows += other.rows;
        self.sum = self.sum.wrapping_add(other.sum);
    }

    /// The hash as written in manifests: 16 lowercase hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.sum)
    }
}

/// Hashes rows column by column; reuse one per stream.
#[derive(Default, Clone)]
pub struct RowHasher {
    md5: Md5,
}

impl RowHasher {
    pub fn new() -> Self {
        Self::default()
    }

    /// A NULL column.
    pub fn null(&mut self) {
        self.md5.update(b"N");
    }

    /// A column's value in its text form.
    pub fn value(&mut self, bytes: &[u8]) {
        let mut len = [0u8; 20];
        let n = write_decimal(&mut len, bytes.len() as u64);
        self.md5.update(b"V");
        self.md5.update(&len[..n]);
        self.md5.update(b":");
        self.md5.update(bytes);
    }

    /// Ends the row and returns its hash; the hasher is ready for the next row.
    pub fn finish_row(&mut self) -> u64 {
        let d = self.md5.finalize_reset();
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        u64::from_be_bytes(first)
    }
}

fn write_decimal(buf: &mut [u8; 20], mut v: u64) -> usize {
    let mut tmp = [0u8; 20];
    let mut i = 0;
    loop {
        tmp[i] = b'0' + (v % 10) as u8;
        i += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for j in 0..i {
        buf[j] = tmp[i - 1 - j];
    }
    i
}

/// The SQL query computing `(row count, hash sum as decimal)` of `table` on a
/// live database. Run it on a session prepared like the dump's
/// (`SET NAMES utf8mb4`, `time_zone = '+00:00'`).
pub fn live_hash_sql(table: &str, columns: &[Column]) -> String {
    live_hash_sql_from(&quote_ident(table), columns)
}

/// [`live_hash_sql`] over a FROM clause (a versioned table's history:
/// [`crate::schema::Table::from_clause`]).
pub fn live_hash_sql_from(from: &str, columns: &[Column]) -> String {
    let parts: Vec<String> = columns
        .iter()
        .filter(|c| !c.generated)
        .map(|c| {
            let q = quote_ident(&c.name);
            let text = match c.class {
                ColumnClass::Binary => q.clone(),
                ColumnClass::Numeric | ColumnClass::Text => {
                    format!("CAST(CONVERT({q} USING utf8mb4) AS BINARY)")
                }
            };
            format!("IF({q} IS NULL, 'N', CONCAT('V', LENGTH({text}), ':', {text}))")
        })
        .collect();
    format!(
        "SELECT COUNT(*), CAST(COALESCE(SUM(CAST(CONV(LEFT(MD5(CONCAT({})), 16), 16, 10) AS UNSIGNED)), 0) MOD 18446744073709551616 AS CHAR) FROM {}",
        parts.join(", "),
        from
    )
}

/// [`live_table_hash`] of every row the dump writes for `table`: its history
/// too when it is system-versioned.
pub async fn live_table_hash_of(
    conn: &mut sqlx::MySqlConnection,
    target: &crate::Target,
    table: &crate::schema::Table,
) -> nfops_core::Result<TableDigest> {
    digest_of(
        conn,
        target,
        &table.name,
        live_hash_sql_from(&table.from_clause(), &table.columns),
    )
    .await
}

/// The digest of every row the dump writes for `table` (its history too
/// when it is system-versioned), hashed here from the rows the server sends:
/// the same text form and the same code as the dump's hashing, so it is the
/// definition itself rather than an SQL rendering of it. The server only
/// scans and sends (as for a dump); the hashing runs on a blocking thread
/// while the next rows arrive. Run it on a session prepared like the dump's.
///
/// Errors: `service.unreachable` / `service.unhealthy` from the query.
pub async fn streamed_table_hash_of(
    conn: &mut sqlx::MySqlConnection,
    target: &crate::Target,
    table: &crate::schema::Table,
) -> nfops_core::Result<TableDigest> {
    use futures::TryStreamExt;
    let cols: Vec<String> = table
        .stored_columns()
        .map(|c| crate::literal::quote_ident(&c.name))
        .collect();
    let n = cols.len();
    let select = format!("SELECT {} FROM {}", cols.join(","), table.from_clause());
    // Batches go round-robin to HASHERS threads: the sum does not depend
    // on order, and one thread hashing MD5 falls behind the server's scan.
    let mut senders = Vec::with_capacity(HASHERS);
    let mut hashers = Vec::with_capacity(HASHERS);
    for _ in 0..HASHERS {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<sqlx::mysql::MySqlRow>>(2);
        senders.push(tx);
        hashers.push(tokio::task::spawn_blocking(move || {
            let mut h = RowHasher::new();
            let mut d = TableDigest::default();
            while let Some(batch) = rx.blocking_recv() {
                for row in &batch {
                    for i in 0..n {
                        match crate::schema::bytes_at(row, i) {
                            None => h.null(),
                            Some(b) => h.value(b),
                        }
                    }
                    d.add_row(h.finish_row());
                }
            }
            d
        }));
    }
    let read: nfops_core::Result<()> = async {
        let mut stream = sqlx::Executor::fetch(&mut *conn, select.as_str());
        let (mut batch, mut bytes, mut next) = (Vec::with_capacity(1024), 0usize, 0usize);
        while let Some(row) = stream.try_next().await.map_err(|e| {
            target.error(
                &format!("could not read the rows of table `{}` of", table.name),
                e,
            )
        })? {
            bytes += (0..n)
                .map(|i| crate::schema::bytes_at(&row, i).map_or(0, <[u8]>::len))
                .sum::<usize>();
            batch.push(row);
            if batch.len() >= 4096 || bytes >= 2 << 20 {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(1024));
                bytes = 0;
                next = (next + 1) % HASHERS;
                if senders[next].send(full).await.is_err() {
                    break;
                }
            }
        }
        if !batch.is_empty() {
            let _ = senders[0].send(batch).await;
        }
        Ok(())
    }
    .await;
    drop(senders);
    let mut digest = TableDigest::default();
    for h in hashers {
        digest.merge(
            h.await
                .map_err(|e| nfops_core::Error::internal(format!("a row hasher stopped: {e}")))?,
        );
    }
    read?;
    Ok(digest)
}

/// Computes a table's digest on a live database with [`live_hash_sql`].
///
/// Errors: `service.unreachable` / `service.unhealthy` from the query.
pub async fn live_table_hash(
    conn: &mut sqlx::MySqlConnection,
    target: &crate::Target,
    table: &str,
    columns: &[Column],
) -> nfops_core::Result<TableDigest> {
    digest_of(conn, target, table, live_hash_sql(table, columns)).await
}

async fn digest_of(
    conn: &mut sqlx::MySqlConnection,
    target: &crate::Target,
    table: &str,
    sql: String,
) -> nfops_core::Result<TableDigest> {
    let row = sqlx::Executor::fetch_one(&mut *conn, sql.as_str())
        .await
        .map_err(|e| target.error(&format!("could not hash table `{table}` of"), e))?;
    let rows = crate::schema::text_at(&row, 0).unwrap_or_default();
    let sum = crate::schema::text_at(&row, 1).unwrap_or_default();
    Ok(TableDigest {
        rows: rows.parse().unwrap_or(0),
        sum: sum.parse().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter_but_duplicates_do() {
        let mut h = RowHasher::new();
        let mut rows = Vec::new();
        for v in [&b"a"[..], b"b", b"a"] {
            h.value(v);
            h.null();
            rows.push(h.finish_row());
        }
        let mut forward = TableDigest::default();
        rows.iter().for_each(|r| forward.add_row(*r));
        let mut backward = TableDigest::default();
        rows.iter().rev().for_each(|r| backward.add_row(*r));
        assert_eq!(forward, backward, "row order must not change the hash");
        let mut once = TableDigest::default();
        once.add_row(rows[0]);
        once.add_row(rows[1]);
        assert_ne!(
            forward.sum, once.sum,
            "a duplicated row must change the hash"
        );
    }

    #[test]
    fn null_differs_from_empty_and_from_text_n() {
        let mut h = RowHasher::new();
        h.null();
        let null = h.finish_row();
        h.value(b"");
        let empty = h.finish_row();
        h.value(b"N");
        let n = h.finish_row();
        assert!(
            null != empty && empty != n && null != n,
            "NULL, '' and 'N' are different values"
        );
    }

    #[test]
    fn lengths_keep_column_boundaries() {
        let mut h = RowHasher::new();
        h.value(b"ab");
        h.value(b"c");
        let a = h.finish_row();
        h.value(b"a");
        h.value(b"bc");
        let b = h.finish_row();
        assert_ne!(a, b, "moving a byte between columns must change the hash");
    }

    #[test]
    fn canonical_form_is_documented_md5() {
        // MD5("V1:1N") computed independently: 2c1d2c2a... is not needed; check the structure instead.
        let mut h = RowHasher::new();
        h.value(b"1");
        h.null();
        let got = h.finish_row();
        let d = Md5::digest(b"V1:1N");
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        assert_eq!(
            got,
            u64::from_be_bytes(first),
            "row hash = first 8 bytes of MD5 of the canonical form"
        );
    }
}

//! How a table becomes work items: primary-key ranges, hash parts of a
//! table without an integer key, and file-safe names.

use nfops_core::Result;
use sqlx::mysql::MySqlConnection;

use crate::literal::quote_ident;
use crate::schema::{text_at, Table};
use crate::Target;

/// Splits `t` by its integer key into ranges of about `chunk_rows` rows. The
/// first and last ranges are open-ended, so every row is covered whatever the
/// estimate.
pub(super) async fn key_ranges(
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
pub(super) fn safe_name(name: &str) -> String {
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

#[cfg(test)]
#[cfg(test)]
mod tests {
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
            versioned: false,
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

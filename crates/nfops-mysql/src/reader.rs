//! Reading a dump file back: every INSERT's rows are parsed and hashed with
//! the same definition as while dumping ([`crate::hash`]).

use std::collections::BTreeMap;
use std::io::BufRead;

use crate::dump::END_MARKER;
use crate::hash::{RowHasher, TableDigest};
use crate::literal::parse_value;
use crate::sqltext::lex::backticked;

/// What one dump file holds.
#[derive(Debug, Default, Clone)]
pub struct FileDigest {
    /// Rows and hash per table name.
    pub tables: BTreeMap<String, TableDigest>,
    /// Whether the file ends with [`END_MARKER`] (false: cut off).
    pub complete: bool,
    /// Bytes of SQL text read.
    pub sql_bytes: u64,
}

/// Why a dump file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The underlying stream failed (decryption, decompression, I/O).
    Io(std::io::Error),
    /// A statement is not in the form this engine writes (line number, 1-based).
    Syntax(u64),
    /// A line the check of [`read_dump_checked`] refused (line number, why).
    Refused(u64, String),
}

/// Parses a plaintext dump stream to its end.
///
/// `on_rows` is called now and then with the rows read so far (progress).
pub fn read_dump(input: impl BufRead, on_rows: impl FnMut(u64)) -> Result<FileDigest, ReadError> {
    read_dump_checked(input, on_rows, |_| Ok(()))
}

/// [`read_dump`], with `check` shown every line as text (`backup verify`
/// runs the restore's allow-list there, [`crate::allowed::check_data_line`]).
pub fn read_dump_checked(
    mut input: impl BufRead,
    mut on_rows: impl FnMut(u64),
    mut check: impl FnMut(&str) -> Result<(), String>,
) -> Result<FileDigest, ReadError> {
    let mut out = FileDigest::default();
    let mut line = Vec::with_capacity(1 << 20);
    let mut hasher = RowHasher::new();
    let mut lineno = 0u64;
    let mut rows = 0u64;
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line).map_err(ReadError::Io)?;
        if n == 0 {
            break;
        }
        lineno += 1;
        out.sql_bytes += n as u64;
        out.complete = false;
        check(&String::from_utf8_lossy(&line)).map_err(|why| ReadError::Refused(lineno, why))?;
        if line.starts_with(b"INSERT INTO ") {
            let (table, digest) =
                parse_insert(&line, &mut hasher).ok_or(ReadError::Syntax(lineno))?;
            rows += digest.rows;
            out.tables.entry(table).or_default().merge(digest);
            on_rows(rows);
        } else if line.trim_ascii_end() == END_MARKER.as_bytes() {
            out.complete = true;
        }
    }
    Ok(out)
}

fn parse_insert(line: &[u8], hasher: &mut RowHasher) -> Option<(String, TableDigest)> {
    let mut i = "INSERT INTO ".len();
    let (table, used) = backticked(&line[i..])?;
    i += used;
    let values_at = find(&line[i..], b") VALUES ")? + i + b") VALUES ".len();
    i = values_at;
    let mut digest = TableDigest::default();
    loop {
        if line.get(i) != Some(&b'(') {
            return None;
        }
        i += 1;
        loop {
            let (v, used) = parse_value(&line[i..])?;
            match &v {
                None => hasher.null(),
                Some(b) => hasher.value(b),
            }
            i += used;
            match line.get(i)? {
                b',' => i += 1,
                b')' => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
        digest.add_row(hasher.finish_row());
        match line.get(i)? {
            b',' => i += 1,
            b';' => return Some((table, digest)),
            _ => return None,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::literal::{write_value, ColumnClass};

    #[test]
    fn reads_back_what_the_writer_hashes() {
        let rows: Vec<Vec<Option<&[u8]>>> = vec![
            vec![
                Some(b"1"),
                Some("a'b\n😀".as_bytes()),
                None,
                Some(&[0u8, 255][..]),
            ],
            vec![Some(b"2"), Some(b""), Some(b"0000-00-00"), Some(b"")],
        ];
        let classes = [
            ColumnClass::Numeric,
            ColumnClass::Text,
            ColumnClass::Text,
            ColumnClass::Binary,
        ];
        let mut expected = TableDigest::default();
        let mut h = RowHasher::new();
        let mut sql =
            b"SET NAMES utf8mb4;\nINSERT INTO `we``ird` (`a`,`b`,`c`,`d`) VALUES ".to_vec();
        for (ri, r) in rows.iter().enumerate() {
            if ri > 0 {
                sql.push(b',');
            }
            sql.push(b'(');
            for (ci, v) in r.iter().enumerate() {
                if ci > 0 {
                    sql.push(b',');
                }
                match v {
                    None => h.null(),
                    Some(b) => h.value(b),
                }
                write_value(&mut sql, classes[ci], *v);
            }
            sql.push(b')');
            expected.add_row(h.finish_row());
        }
        sql.extend_from_slice(b";\n");
        let cut = read_dump(&sql[..], |_| {}).expect("parses");
        assert!(!cut.complete, "no end marker: the file counts as cut off");
        sql.extend_from_slice(format!("{END_MARKER}\n").as_bytes());
        let got = read_dump(&sql[..], |_| {}).expect("parses");
        assert!(got.complete);
        assert_eq!(
            got.tables.get("we`ird"),
            Some(&expected),
            "same rows and hash as while writing"
        );
    }
}

//! Data-file lines and sequence states: literal values only.

use crate::literal::{quote_ident, value_len};
use crate::sqltext::lex::backticked;

use super::first_words;

/// A sequence's state as the dump writes it: `DO SETVAL(`name`, N, 0, N)`
/// (one unqualified name and integers: nothing that reads or calls).
pub(super) fn check_setval(s: &str) -> Option<String> {
    let refused = || Some("a SETVAL that is not `DO SETVAL(`name`, N, 0, N)`".to_owned());
    let Some(r) = s.strip_prefix("DO SETVAL(") else {
        return refused();
    };
    let Some((_, used)) = backticked(r.as_bytes()) else {
        return refused();
    };
    let Some(args) = r[used..]
        .strip_prefix(", ")
        .and_then(|a| a.strip_suffix(')'))
    else {
        return refused();
    };
    let parts: Vec<&str> = args.split(", ").collect();
    let int = |p: &str| {
        let d = p.strip_prefix('-').unwrap_or(p);
        !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
    };
    match parts.as_slice() {
        [n, "0", c] if int(n) && int(c) => None,
        _ => refused(),
    }
}

/// One data line: `INSERT INTO `table` (`a`,`b`) VALUES (lit,lit),(…);`.
pub(super) fn check_insert(table: &str, line: &str) -> Option<String> {
    let head = format!("INSERT INTO {} (", quote_ident(table));
    let Some(mut rest) = line.strip_prefix(head.as_str()) else {
        return Some(if line.starts_with("INSERT") {
            format!("an INSERT into another table than `{table}`")
        } else {
            format!("'{}' is not allowed in a data file", first_words(line))
        });
    };
    // Column list: backticked names separated by commas.
    loop {
        let Some((_, used)) = backticked(rest.as_bytes()) else {
            return Some("a column list that is not plain names".into());
        };
        rest = &rest[used..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if let Some(r) = rest.strip_prefix(") VALUES ") {
            rest = r;
            break;
        } else {
            return Some("a column list that is not plain names".into());
        }
    }
    // Rows: literals only.
    let mut b = rest.as_bytes();
    loop {
        let Some(r) = b.strip_prefix(b"(") else {
            return Some("VALUES that are not rows of literals".into());
        };
        b = r;
        loop {
            let Some(used) = value_len(b) else {
                return Some("a value that is not a literal".into());
            };
            let lit = &b[..used];
            if !matches!(lit.first(), Some(b'\'' | b'X' | b'x')) && lit != b"NULL" && !numeric(lit)
            {
                return Some(format!(
                    "a value that is not a literal ({})",
                    String::from_utf8_lossy(&lit[..lit.len().min(40)])
                ));
            }
            b = &b[used..];
            match b.first() {
                Some(b',') => b = &b[1..],
                Some(b')') => {
                    b = &b[1..];
                    break;
                }
                _ => return Some("a row that is not a list of literals".into()),
            }
        }
        match b {
            [b',', r @ ..] => b = r,
            b";" => return None,
            _ => return Some("text after the last row (a second statement?)".into()),
        }
    }
}

/// A number as the server prints one: `-12`, `3.5`, `1.5e-07`.
fn numeric(s: &[u8]) -> bool {
    let s = s.strip_prefix(b"-").unwrap_or(s);
    !s.is_empty()
        && s[0].is_ascii_digit()
        && s.iter()
            .all(|&c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'))
}

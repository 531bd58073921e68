//! SQL literals: how a value in its text form is written into a dump, and
//! read back. The written form is what the `mysql` client replays as-is.

/// How a column's values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnClass {
    /// Integers, decimals, floats: unquoted text.
    Numeric,
    /// Binary strings, BLOBs, BIT, spatial: `X'hex'`, byte-exact.
    Binary,
    /// Everything else (character strings, JSON, dates, ENUM, SET): a quoted,
    /// escaped string in utf8mb4.
    Text,
}

impl ColumnClass {
    /// The class of an `information_schema.COLUMNS.DATA_TYPE`.
    pub fn of(data_type: &str) -> Self {
        match data_type.to_ascii_lowercase().as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal"
            | "numeric" | "float" | "double" | "real" => ColumnClass::Numeric,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit"
            | "geometry" | "point" | "linestring" | "polygon" | "multipoint"
            | "multilinestring" | "multipolygon" | "geometrycollection" => ColumnClass::Binary,
            _ => ColumnClass::Text,
        }
    }
}

/// `` `name` `` with backticks doubled.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `'text'` escaped like `mysql_real_escape_string`, for SQL we generate.
pub fn quote_str(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 2);
    write_value(&mut out, ColumnClass::Text, Some(text.as_bytes()));
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends the literal for `value` (None = NULL) to `out`. Never writes a raw
/// newline, so one statement stays on one line.
pub fn write_value(out: &mut Vec<u8>, class: ColumnClass, value: Option<&[u8]>) {
    let Some(v) = value else {
        out.extend_from_slice(b"NULL");
        return;
    };
    match class {
        ColumnClass::Numeric if !v.is_empty() => out.extend_from_slice(v),
        ColumnClass::Binary | ColumnClass::Numeric => {
            out.extend_from_slice(b"X'");
            let start = out.len();
            out.resize(start + v.len() * 2, 0);
            // The buffer is exactly twice the input, so this cannot fail.
            let _ = hex::encode_to_slice(v, &mut out[start..]);
            out.push(b'\'');
        }
        ColumnClass::Text => {
            out.reserve(v.len() + 2);
            out.push(b'\'');
            let mut run = 0;
            for (i, &b) in v.iter().enumerate() {
                let esc: Option<&[u8]> = match b {
                    0 => Some(b"\\0"),
                    b'\n' => Some(b"\\n"),
                    b'\r' => Some(b"\\r"),
                    b'\\' => Some(b"\\\\"),
                    b'\'' => Some(b"\\'"),
                    0x1a => Some(b"\\Z"),
                    _ => None,
                };
                if let Some(e) = esc {
                    out.extend_from_slice(&v[run..i]);
                    out.extend_from_slice(e);
                    run = i + 1;
                }
            }
            out.extend_from_slice(&v[run..]);
            out.push(b'\'');
        }
    }
}

/// A parsed literal: NULL or the value's text-form bytes.
pub type Parsed = Option<Vec<u8>>;

/// Parses one literal at the start of `s`; returns it and the bytes consumed.
/// Accepts what [`write_value`] writes (and `''` doubled quotes).
pub fn parse_value(s: &[u8]) -> Option<(Parsed, usize)> {
    match s.first()? {
        b'N' if s.starts_with(b"NULL") => Some((None, 4)),
        b'X' | b'x' if s.get(1) == Some(&b'\'') => {
            let end = s[2..].iter().position(|&b| b == b'\'')? + 2;
            let bytes = hex::decode(&s[2..end]).ok()?;
            Some((Some(bytes), end + 1))
        }
        b'\'' => {
            let mut out = Vec::new();
            let mut i = 1;
            loop {
                let b = *s.get(i)?;
                match b {
                    b'\\' => {
                        let n = *s.get(i + 1)?;
                        out.push(match n {
                            b'0' => 0,
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b'Z' => 0x1a,
                            b't' => b'\t',
                            b'b' => 8,
                            other => other,
                        });
                        i += 2;
                    }
                    b'\'' if s.get(i + 1) == Some(&b'\'') => {
                        out.push(b'\'');
                        i += 2;
                    }
                    b'\'' => return Some((Some(out), i + 1)),
                    _ => {
                        let run_end = s[i..]
                            .iter()
                            .position(|&c| c == b'\\' || c == b'\'')
                            .map(|p| p + i)?;
                        out.extend_from_slice(&s[i..run_end]);
                        i = run_end;
                    }
                }
            }
        }
        _ => {
            let end = s.iter().position(|&b| b == b',' || b == b')')?;
            Some((Some(s[..end].to_vec()), end))
        }
    }
}

/// The length of the literal at the start of `s`, checked against the same
/// grammar as [`parse_value`] but without decoding it: the restore's
/// statement check reads every value of every data line, and decoding (hex
/// above all) cost it most of its time on a 1 GiB backup.
pub fn value_len(s: &[u8]) -> Option<usize> {
    match s.first()? {
        b'N' if s.starts_with(b"NULL") => Some(4),
        b'X' | b'x' if s.get(1) == Some(&b'\'') => {
            let digits = s[2..].iter().position(|&b| !b.is_ascii_hexdigit())?;
            (s.get(2 + digits) == Some(&b'\'') && digits % 2 == 0).then_some(digits + 3)
        }
        b'\'' => {
            let mut i = 1;
            loop {
                let run = s.get(i..)?.iter().position(|&c| c == b'\\' || c == b'\'')?;
                i += run;
                match (s[i], s.get(i + 1)) {
                    (b'\\', Some(_)) => i += 2,
                    (b'\'', Some(b'\'')) => i += 2,
                    (b'\'', _) => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        _ => s.iter().position(|&b| b == b',' || b == b')'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(class: ColumnClass, v: Option<&[u8]>) {
        let mut out = Vec::new();
        write_value(&mut out, class, v);
        assert!(!out.contains(&b'\n'), "a literal never spans lines");
        out.push(b')');
        let (parsed, used) = parse_value(&out).expect("parses what was written");
        assert_eq!(
            parsed.as_deref(),
            v,
            "round trip of {:?}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(out[used], b')', "consumes exactly the literal");
    }

    #[test]
    fn value_len_agrees_with_parse_value() {
        let cases: &[&[u8]] = &[
            b"NULL,",
            b"X'00ff',",
            b"x'',",
            b"X'0f0',",
            b"X'0g',",
            b"X'00",
            br"'a''b\'c\\',",
            b"'unterminated",
            br"'ends in escape\",
            b"12.5e-3)",
            b"-1,",
            b"'',",
            b"''''",
            br"'\'')",
            b"",
        ];
        for c in cases {
            assert_eq!(
                value_len(c),
                parse_value(c).map(|(_, n)| n),
                "{}",
                String::from_utf8_lossy(c)
            );
        }
    }

    #[test]
    fn literals_round_trip() {
        round(
            ColumnClass::Text,
            Some("it's a \\ test\n\r\0\x1a 😀 中文 עברית".as_bytes()),
        );
        round(ColumnClass::Text, Some(b""));
        round(ColumnClass::Text, None);
        round(ColumnClass::Binary, Some(&[0, 1, 0xff, b'\'', b'\n']));
        round(ColumnClass::Binary, Some(b""));
        round(ColumnClass::Numeric, Some(b"-12.50"));
        round(ColumnClass::Text, Some(b"0000-00-00 00:00:00"));
        round(ColumnClass::Text, Some(br#"{"a": [1, "x,y)"]}"#));
    }

    #[test]
    fn classes() {
        assert_eq!(ColumnClass::of("BIGINT"), ColumnClass::Numeric);
        assert_eq!(ColumnClass::of("longblob"), ColumnClass::Binary);
        assert_eq!(ColumnClass::of("json"), ColumnClass::Text);
        assert_eq!(ColumnClass::of("datetime"), ColumnClass::Text);
        assert_eq!(quote_ident("we`ird"), "`we``ird`");
    }
}

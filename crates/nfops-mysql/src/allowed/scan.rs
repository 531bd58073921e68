//! Whole files: the statements of a schema or post file, split and read
//! under the mode the server will be in, and the lines of a data file as
//! the loader sends them. Restore's check and `backup verify` both run these.

use crate::sqltext::split::statements_at;

use super::{refusal, FileKind, Scope};

/// A statement a file may not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// 1-based line of the file where the statement starts.
    pub line: usize,
    pub why: String,
}

/// Checks every statement of a schema or post file's text; returns how many
/// there are.
pub fn check_sql_file(kind: FileKind<'_>, text: &str, scope: &Scope) -> Result<u64, Refused> {
    let mut n = 0;
    for s in statements_at(text) {
        if let Some(why) = refusal(kind, &s.text, s.mode, scope) {
            return Err(Refused { line: s.line, why });
        }
        n += 1;
    }
    Ok(n)
}

/// Checks one line of a data file of `table` as the loader reads it:
/// `Ok(false)` for a line it skips (empty, `-- ` comment, end marker),
/// `Ok(true)` for an allowed statement.
pub fn check_data_line(table: &str, line: &str) -> Result<bool, String> {
    // Trimmed as the loader trims it: what is checked is what is sent.
    let l = line.trim_end_matches(|c: char| c.is_ascii_whitespace());
    if l.is_empty() || l.starts_with("-- ") || l == crate::dump::END_MARKER {
        return Ok(false);
    }
    // Data files may not change the mode, so they are read under the dump's.
    match refusal(
        FileKind::Data(table),
        l,
        Default::default(),
        &Scope::default(),
    ) {
        Some(why) => Err(why),
        None => Ok(true),
    }
}

//! Where a swap really left the target, read from the server (never
//! assumed from which statement failed): which side of the RENAME the
//! tables are on, and which of the previous triggers are missing.

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::Target;

use super::{tables_in, triggers_in, SwapRecord};
use crate::job::steps::session::server_session;
use crate::sql::{self, PostKind};

/// What the server shows for one swap.
#[derive(Debug, Clone)]
pub struct SwapState {
    /// Some(true): the backup's tables are live; Some(false): the previous
    /// ones are; None: split (should never happen with one RENAME).
    pub renamed: Option<bool>,
    /// Previous triggers that are not in the target (meaningful when not renamed).
    pub missing_triggers: Vec<String>,
    pub in_safety: Vec<String>,
    pub in_shadow: Vec<String>,
}

impl SwapState {
    /// The target is exactly as before the swap.
    pub fn untouched(&self) -> bool {
        self.renamed == Some(false) && self.missing_triggers.is_empty()
    }

    /// What is live, in the operator's words.
    pub fn describe(&self, record: &SwapRecord) -> String {
        let db = &record.database;
        match self.renamed {
            Some(false) if self.missing_triggers.is_empty() => {
                format!("the previous tables of '{db}' are live with their triggers")
            }
            Some(false) => format!(
                "the previous tables of '{db}' are live (no row changed) but trigger(s) {} are missing; their SQL is in the swap record in schema {} (kept)",
                self.missing_triggers.join(", "),
                record.safety
            ),
            Some(true) => format!(
                "the backup's tables are live in '{db}' (its views, triggers, routines and events may be incomplete); the previous tables are in schema {} (kept)",
                record.safety
            ),
            None => format!(
                "the tables of '{db}' are split: {} previous table(s) in schema {}, {} restored table(s) still in schema {} (both kept)",
                self.in_safety.len(),
                record.safety,
                self.in_shadow.len(),
                record.shadow
            ),
        }
    }
}

/// Reads where the tables of `record` are and which previous triggers exist.
///
/// Errors: the server cannot be reached or read.
pub async fn inspect(target: &Target, record: &SwapRecord) -> Result<SwapState> {
    let mut conn = server_session(target).await?;
    let db = &record.database;
    let in_safety = tables_in(&mut conn, target, &record.safety).await?;
    let in_shadow = tables_in(&mut conn, target, &record.shadow).await?;
    let in_db = tables_in(&mut conn, target, db).await?;
    // An account that lost its privileges sees no table at all: that is
    // not "nothing moved", it is "cannot tell".
    let visible = |t: &String| in_db.contains(t) || in_safety.contains(t) || in_shadow.contains(t);
    let none_visible = {
        let mut named = record.moved_in.iter().chain(&record.moved_out).peekable();
        named.peek().is_some() && !named.any(visible)
    };
    if none_visible {
        let _ = sqlx::Connection::close(conn).await;
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "none of the swap's tables is visible in '{db}', {} or {} to the restore account of the {} (did it lose its privileges?)",
                record.safety, record.shadow, target.label
            ),
        ));
    }
    let renamed = if record.moved_out.is_empty() {
        let live = record.moved_in.iter().filter(|t| in_db.contains(t)).count();
        if live == 0 {
            Some(false)
        } else if live == record.moved_in.len()
            && !record.moved_in.iter().any(|t| in_shadow.contains(t))
        {
            Some(true)
        } else {
            None
        }
    } else {
        // Moved-out tables have the same names as moved-in ones: only the
        // safety schema tells the two sides apart.
        let out = record
            .moved_out
            .iter()
            .filter(|t| in_safety.contains(t))
            .count();
        if out == 0 {
            Some(false)
        } else if out == record.moved_out.len() {
            Some(true)
        } else {
            None
        }
    };
    let existing = triggers_in(&mut conn, target, db).await?;
    let _ = sqlx::Connection::close(conn).await;
    let wanted: Vec<String> = sql::statements(&record.previous_objects)
        .iter()
        .filter(|s| matches!(sql::post_kind(s), PostKind::Trigger(_)))
        .filter_map(|s| trigger_name(s))
        .collect();
    let missing_triggers = wanted
        .into_iter()
        .filter(|t| !existing.contains(t))
        .collect();
    Ok(SwapState {
        renamed,
        missing_triggers,
        in_safety,
        in_shadow,
    })
}

/// The name a `CREATE … TRIGGER name …` statement creates.
pub fn trigger_name(stmt: &str) -> Option<String> {
    let upper = stmt.to_ascii_uppercase();
    let at = upper.find(" TRIGGER ")? + " TRIGGER ".len();
    let rest = stmt[at..].trim_start();
    // `IF NOT EXISTS` in any letter case and spacing.
    let words: Vec<&str> = rest.split_whitespace().take(3).collect();
    let rest = if words.len() == 3
        && words[0].eq_ignore_ascii_case("IF")
        && words[1].eq_ignore_ascii_case("NOT")
        && words[2].eq_ignore_ascii_case("EXISTS")
    {
        let after = rest
            .find(words[2])
            .map_or(rest, |i| &rest[i + words[2].len()..]);
        after.trim_start()
    } else {
        rest
    };
    if rest.starts_with('`') {
        let (first, used) = quoted_ident(rest)?;
        // `db`.`name`: the part after the dot is the name.
        match rest[used..].strip_prefix('.') {
            Some(tail) if tail.starts_with('`') => quoted_ident(tail).map(|(n, _)| n),
            Some(tail) => tail.split_whitespace().next().map(str::to_owned),
            None => Some(first),
        }
    } else {
        let word = rest.split_whitespace().next()?;
        match word.split_once('.') {
            Some((_, n)) if n.starts_with('`') => quoted_ident(n).map(|(n, _)| n),
            Some((_, n)) => Some(n.to_owned()),
            None => Some(word.to_owned()),
        }
    }
}

/// The identifier a backquoted `s` starts with (doubled backquotes read as
/// one) and how many bytes of `s` it spans, quotes included.
fn quoted_ident(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix('`')?;
    let mut name = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '`' {
            if matches!(chars.peek(), Some((_, '`'))) {
                chars.next();
                name.push('`');
                continue;
            }
            return Some((name, 1 + i + 1));
        }
        name.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_names_are_read_from_their_statement() {
        assert_eq!(
            trigger_name("CREATE DEFINER=`root`@`localhost` TRIGGER `nf_rs_legacy_note` BEFORE INSERT ON `legacy_imports` FOR EACH ROW SET x = 1").as_deref(),
            Some("nf_rs_legacy_note")
        );
        assert_eq!(
            trigger_name("CREATE TRIGGER `db`.`a``b` AFTER UPDATE ON t FOR EACH ROW SET x = 1")
                .as_deref(),
            Some("a`b")
        );
        assert_eq!(
            trigger_name("CREATE TRIGGER plain BEFORE INSERT ON t FOR EACH ROW SET x = 1")
                .as_deref(),
            Some("plain")
        );
    }

    #[test]
    fn a_database_name_with_a_backquote_does_not_shift_the_trigger_name() {
        // The database part holds an escaped backquote: sliced by the
        // unescaped length, the name came out as "`nf_note" or worse.
        assert_eq!(
            trigger_name(
                "CREATE TRIGGER `we``ird`.`nf_note` BEFORE INSERT ON t FOR EACH ROW SET x = 1"
            )
            .as_deref(),
            Some("nf_note")
        );
        assert_eq!(
            trigger_name("CREATE TRIGGER `a````b`.`c``d` AFTER UPDATE ON t FOR EACH ROW SET x = 1")
                .as_deref(),
            Some("c`d")
        );
        assert_eq!(
            trigger_name("CREATE TRIGGER db.plain BEFORE INSERT ON t FOR EACH ROW SET x = 1")
                .as_deref(),
            Some("plain")
        );
    }

    #[test]
    fn if_not_exists_is_skipped_in_any_letter_case() {
        for stmt in [
            "CREATE TRIGGER IF NOT EXISTS `t1` BEFORE INSERT ON t FOR EACH ROW SET x = 1",
            "create trigger if not exists `t1` before insert on t for each row set x = 1",
            "CREATE TRIGGER If Not  Exists t1 BEFORE INSERT ON t FOR EACH ROW SET x = 1",
        ] {
            assert_eq!(trigger_name(stmt).as_deref(), Some("t1"), "{stmt}");
        }
    }
}

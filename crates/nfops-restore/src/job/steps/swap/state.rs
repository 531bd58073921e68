//! Where a swap really left the target, read from the server (never
//! assumed from which statement failed): which side of the RENAME the
//! tables are on, and which of the previous triggers are missing.

use nfops_core::Result;
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
    let rest = rest
        .strip_prefix("IF NOT EXISTS ")
        .or_else(|| rest.strip_prefix("if not exists "))
        .unwrap_or(rest);
    if let Some(r) = rest.strip_prefix('`') {
        let mut name = String::new();
        let mut chars = r.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '`' {
                if chars.peek() == Some(&'`') {
                    chars.next();
                    name.push('`');
                    continue;
                }
                // `db`.`name`: the part after the dot is the name.
                if chars.peek() == Some(&'.') {
                    return trigger_name(&format!(" TRIGGER {}", &r[name.len() + 2..]));
                }
                return Some(name);
            }
            name.push(c);
        }
        None
    } else {
        rest.split_whitespace()
            .next()
            .map(|n| n.rsplit('.').next().unwrap_or(n).to_owned())
    }
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
}

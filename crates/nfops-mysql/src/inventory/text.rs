//! Reading objects out of SQL text: the owner a `DEFINER=` clause names and
//! the objects a dump file's `CREATE` lines create.

use super::ObjectKind;
use crate::sqltext::lex::{quoted_end, Mode};

/// The account a statement's `DEFINER=` clause names, as `user@host`.
pub fn definer_of(stmt: &str) -> Option<String> {
    let start = stmt.find("DEFINER=")? + "DEFINER=".len();
    let rest = &stmt[start..];
    let (user, used) = unquote(rest)?;
    let rest = rest[used..].strip_prefix('@')?;
    let (host, _) = unquote(rest)?;
    Some(format!("{user}@{host}"))
}

/// A `` `quoted` ``, `'quoted'` or bare identifier at the start of `s`, and
/// the bytes it used.
fn unquote(s: &str) -> Option<(String, usize)> {
    let first = s.chars().next()?;
    if first == '`' || first == '\'' || first == '"' {
        // As SHOW CREATE quotes: a doubled quote is one, `\` is plain.
        let end = quoted_end(s.as_bytes(), 0, NAMES)?;
        let q = first.to_string();
        Some((s[1..end - 1].replace(&q.repeat(2), &q), end))
    } else {
        let end = s
            .find(|c: char| c == '@' || c.is_whitespace())
            .unwrap_or(s.len());
        (end > 0).then(|| (s[..end].to_owned(), end))
    }
}

/// How names are quoted in SHOW CREATE output.
const NAMES: Mode = Mode {
    no_backslash_escapes: true,
    ansi_quotes: false,
};

/// The objects SQL text creates, as (kind, name): every line that starts a
/// `CREATE` statement (how the dump writes them). Used to check the files
/// of a backup hold every object of its inventory.
pub fn created_objects(sql: &str) -> Vec<(ObjectKind, String)> {
    let mut out = Vec::new();
    for line in sql.lines() {
        let Some(rest) = line.strip_prefix("CREATE ") else {
            continue;
        };
        let words = tokens(rest);
        let Some(i) = words.iter().position(|w| {
            matches!(
                w.to_ascii_uppercase().as_str(),
                "TABLE" | "SEQUENCE" | "VIEW" | "TRIGGER" | "PROCEDURE" | "FUNCTION" | "EVENT"
            )
        }) else {
            continue;
        };
        let kind = match words[i].to_ascii_uppercase().as_str() {
            "TABLE" => ObjectKind::Table,
            "SEQUENCE" => ObjectKind::Sequence,
            "VIEW" => ObjectKind::View,
            "TRIGGER" => ObjectKind::Trigger,
            "PROCEDURE" => ObjectKind::Procedure,
            "FUNCTION" => ObjectKind::Function,
            _ => ObjectKind::Event,
        };
        let mut j = i + 1;
        if words.get(j).is_some_and(|w| w.eq_ignore_ascii_case("IF")) {
            j += 3; // IF NOT EXISTS
        }
        if let Some(name) = words.get(j).and_then(|w| unquote(w)).map(|(n, _)| n) {
            // `name(` of a routine: the name ends at the parenthesis.
            let name = if words[j].starts_with('`') {
                name
            } else {
                name.split('(').next().unwrap_or_default().to_owned()
            };
            out.push((kind, name));
        }
    }
    out
}

/// Whitespace-separated words, keeping quoted parts (a definer's host may hold spaces) whole.
fn tokens(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            if let Some(st) = start.take() {
                out.push(s[st..i].to_owned());
            }
            i += 1;
            continue;
        }
        start.get_or_insert(i);
        i = match b[i] {
            b'`' | b'\'' | b'"' => quoted_end(b, i, NAMES).unwrap_or(b.len()),
            _ => i + 1,
        };
    }
    if let Some(st) = start {
        out.push(s[st..].to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definer_is_read_from_a_statement() {
        assert_eq!(
            definer_of("CREATE ALGORITHM=UNDEFINED DEFINER=`nf owner`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1").as_deref(),
            Some("nf owner@%")
        );
        assert_eq!(
            definer_of("CREATE DEFINER=`a``b`@`localhost` TRIGGER t").as_deref(),
            Some("a`b@localhost")
        );
        assert_eq!(definer_of("CREATE VIEW v AS select 1"), None);
    }

    #[test]
    fn created_objects_are_found_in_dump_text() {
        let sql = "SET x = 1;\nCREATE TABLE `orders` (\n  id int\n);\nCREATE SEQUENCE `s` start with 1;\nDO SETVAL(`s`, 4, 0, 0);\nDELIMITER ;;\nCREATE DEFINER=`a b`@`%` PROCEDURE `p`()\nBEGIN\nSELECT 1;\nEND ;;\nCREATE ALGORITHM=UNDEFINED DEFINER=`x`@`%` SQL SECURITY INVOKER VIEW `v w` AS select 1;\nCREATE DEFINER=`x`@`%` TRIGGER `t` BEFORE INSERT ON `orders` FOR EACH ROW SET NEW.id = 1 ;;\nCREATE DEFINER=`x`@`%` EVENT `e` ON SCHEDULE EVERY 1 DAY DO SELECT 1 ;;\n";
        assert_eq!(
            created_objects(sql),
            vec![
                (ObjectKind::Table, "orders".to_owned()),
                (ObjectKind::Sequence, "s".into()),
                (ObjectKind::Procedure, "p".into()),
                (ObjectKind::View, "v w".into()),
                (ObjectKind::Trigger, "t".into()),
                (ObjectKind::Event, "e".into()),
            ]
        );
    }
}

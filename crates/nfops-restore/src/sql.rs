//! Splitting SQL text into statements as the `mysql` client does: `;` ends a
//! statement outside quotes and comments, and `DELIMITER x` lines change the
//! terminator (routine and trigger bodies are written between `DELIMITER ;;`).

/// The statements of `text`, trimmed, without `--` comment lines and without
/// empty ones. Conditional comments (`/*!40101 … */`) stay part of their
/// statement (the server runs them).
pub fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut delimiter = ";".to_owned();
    let mut cur = String::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if cur.trim().is_empty() {
            if let Some(rest) = trimmed
                .strip_prefix("DELIMITER ")
                .or_else(|| trimmed.strip_prefix("delimiter "))
            {
                delimiter = rest.trim().to_owned();
                cur.clear();
                continue;
            }
            if trimmed.starts_with("-- ") || trimmed == "--" || trimmed.is_empty() {
                continue;
            }
        }
        cur.push_str(line);
        // Emit every complete statement in `cur`.
        while let Some(end) = find_terminator(&cur, &delimiter) {
            let stmt = cur[..end].trim().to_owned();
            let rest = cur[end + delimiter.len()..].to_owned();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            cur = rest;
        }
    }
    let tail = cur.trim();
    if !tail.is_empty() && !tail.starts_with("-- ") {
        out.push(tail.to_owned());
    }
    out
}

/// Byte index of the first `delimiter` outside quotes and comments.
fn find_terminator(s: &str, delimiter: &str) -> Option<usize> {
    let b = s.as_bytes();
    let d = delimiter.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q != b'`' {
                    i += 2;
                    continue;
                }
                if c == q {
                    if b.get(i + 1) == Some(&q) {
                        i += 2;
                        continue;
                    }
                    quote = None;
                }
            }
            None => {
                if c == b'\'' || c == b'"' || c == b'`' {
                    quote = Some(c);
                } else if c == b'/' && b.get(i + 1) == Some(&b'*') && b.get(i + 2) != Some(&b'!') {
                    match s[i + 2..].find("*/") {
                        Some(e) => {
                            i += 2 + e + 2;
                            continue;
                        }
                        None => return None,
                    }
                } else if b[i..].starts_with(d) {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

/// What a post-data statement creates, for restoring part of a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostKind {
    View,
    /// A trigger on this table.
    Trigger(String),
    Routine,
    Event,
    /// Session settings and anything else.
    Other,
}

/// Classifies a statement of a post file.
pub fn post_kind(stmt: &str) -> PostKind {
    let upper: String = stmt
        .chars()
        .take(400)
        .collect::<String>()
        .to_ascii_uppercase();
    if !upper.starts_with("CREATE") {
        return PostKind::Other;
    }
    if upper.contains(" TRIGGER ") {
        // `... TRIGGER name {BEFORE|AFTER} {INSERT|UPDATE|DELETE} ON `table` ...`
        if let Some(at) = upper.find(" ON ") {
            let rest = stmt[at + 4..].trim_start();
            let name = if let Some(r) = rest.strip_prefix('`') {
                r.split('`').next().unwrap_or_default().to_owned()
            } else {
                rest.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            };
            return PostKind::Trigger(name);
        }
        return PostKind::Trigger(String::new());
    }
    if upper.contains(" VIEW ") {
        PostKind::View
    } else if upper.contains(" PROCEDURE ") || upper.contains(" FUNCTION ") {
        PostKind::Routine
    } else if upper.contains(" EVENT ") {
        PostKind::Event
    } else {
        PostKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_inside_quotes_and_bodies_do_not_split() {
        let text = "/*!40101 SET NAMES utf8mb4 */;\nSET a = 'x;y';\n-- comment;\nCREATE TABLE `t;` (c int COMMENT 'it''s; fine');\nDELIMITER ;;\nCREATE TRIGGER tr BEFORE INSERT ON `t;` FOR EACH ROW BEGIN SET NEW.c = 1; SET NEW.c = 2; END ;;\nDELIMITER ;\nSET b = 1;\n";
        let s = statements(text);
        assert_eq!(
            s,
            vec![
                "/*!40101 SET NAMES utf8mb4 */".to_owned(),
                "SET a = 'x;y'".into(),
                "CREATE TABLE `t;` (c int COMMENT 'it''s; fine')".into(),
                "CREATE TRIGGER tr BEFORE INSERT ON `t;` FOR EACH ROW BEGIN SET NEW.c = 1; SET NEW.c = 2; END".into(),
                "SET b = 1".into(),
            ]
        );
        assert_eq!(post_kind(&s[3]), PostKind::Trigger("t;".into()));
        assert_eq!(post_kind(&s[1]), PostKind::Other);
    }

    #[test]
    fn backslash_escapes_and_block_comments() {
        let s = statements("INSERT INTO t VALUES ('a\\';b');\n/* x; y */ SELECT 1;\n");
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].ends_with("'a\\';b')"));
    }
}

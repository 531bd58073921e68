//! Splitting SQL text into statements as the `mysql` client does: the
//! delimiter ends a statement outside quotes and comments, `DELIMITER x`
//! lines change it (routine and trigger bodies are written between
//! `DELIMITER ;;`), and a `SET SESSION sql_mode` changes how the text after
//! it is read (a post file carries each object's own mode).

use super::lex::{find_terminator, Mode};

/// One statement of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Trimmed, without its delimiter: exactly what a loader sends.
    pub text: String,
    /// 1-based line of the file where it starts.
    pub line: usize,
    /// The mode the server reads it under.
    pub mode: Mode,
}

/// The statements of `text`, trimmed, without `--` comment lines and without
/// empty ones. Executable comments (`/*!40101 … */`) stay part of their
/// statement (the server runs them).
pub fn statements(text: &str) -> Vec<String> {
    statements_at(text).into_iter().map(|s| s.text).collect()
}

/// [`statements`] with where each starts and the mode it is read under.
pub fn statements_at(text: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut delimiter = ";".to_owned();
    let mut cur = String::new();
    let mut start = 0usize;
    let mut mode = Mode::default();
    // What the server holds in `@nfops_saved_sql_mode`: it changes only at
    // `SET @nfops_saved_sql_mode = @@SESSION.sql_mode`, exactly as on the
    // server. (Saving at every `SET SESSION sql_mode = '…'` instead would let
    // a file that reorders the dump's statements leave the server reading
    // under one mode while the check reads under another.)
    let mut saved = Mode::default();
    let mut push = |stmt: &str, line: usize, mode: &mut Mode, saved: &mut Mode| {
        let stmt = stmt.trim();
        if stmt.is_empty() {
            return;
        }
        out.push(Statement {
            text: stmt.to_owned(),
            line,
            mode: *mode,
        });
        if let Some(v) = stmt
            .strip_prefix("SET SESSION sql_mode = '")
            .and_then(|r| r.strip_suffix('\''))
        {
            *mode = Mode::of_sql_mode(v);
        } else if stmt == "SET @nfops_saved_sql_mode = @@SESSION.sql_mode" {
            *saved = *mode;
        } else if stmt == "SET SESSION sql_mode = @nfops_saved_sql_mode" {
            *mode = *saved;
        }
    };
    for (no, line) in text.split_inclusive('\n').enumerate() {
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
            if cur.is_empty() || cur.trim().is_empty() {
                cur.clear();
                start = no + 1;
            }
        }
        cur.push_str(line);
        // Emit every complete statement in `cur`.
        while let Some(end) = find_terminator(&cur, &delimiter, mode) {
            let stmt = cur[..end].to_owned();
            let rest = cur[end + delimiter.len()..].to_owned();
            push(&stmt, start, &mut mode, &mut saved);
            cur = rest;
        }
    }
    let tail = cur.trim();
    if !tail.is_empty() && !tail.starts_with("-- ") {
        push(tail, start, &mut mode, &mut saved);
    }
    out
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
        let lines: Vec<usize> = statements_at(text).iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![1, 2, 4, 6, 8]);
    }

    #[test]
    fn backslash_escapes_and_block_comments() {
        let s = statements("INSERT INTO t VALUES ('a\\';b');\n/* x; y */ SELECT 1;\n");
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].ends_with("'a\\';b')"));
    }

    #[test]
    fn a_per_object_mode_changes_where_statements_end() {
        let text = "SET @nfops_saved_sql_mode = @@SESSION.sql_mode;\nSET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';\nDELIMITER ;;\nCREATE VIEW `v` AS SELECT '\\';; GRANT ALL ON *.* TO x;; SELECT 1 ;;\nDELIMITER ;\nSET SESSION sql_mode = @nfops_saved_sql_mode;\nSELECT 'a\\';b';\n";
        let s = statements_at(text);
        let texts: Vec<&str> = s.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "SET @nfops_saved_sql_mode = @@SESSION.sql_mode",
                "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'",
                "CREATE VIEW `v` AS SELECT '\\'",
                "GRANT ALL ON *.* TO x",
                "SELECT 1",
                "SET SESSION sql_mode = @nfops_saved_sql_mode",
                "SELECT 'a\\';b'",
            ],
            "under NO_BACKSLASH_ESCAPES the server ends the string at \\'; afterwards \\ escapes again"
        );
        assert!(s[3].mode.no_backslash_escapes && !s[6].mode.no_backslash_escapes);
    }

    #[test]
    fn the_saved_mode_follows_the_server_whatever_the_order() {
        // Reordered: the mode is saved after NO_BACKSLASH_ESCAPES is set, so
        // putting it "back" keeps NO_BACKSLASH_ESCAPES on the server too.
        let text = "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';\nSET @nfops_saved_sql_mode = @@SESSION.sql_mode;\nSET SESSION sql_mode = @nfops_saved_sql_mode;\nCREATE VIEW `v` AS SELECT 'a\\'; GRANT ALL ON *.* TO evil; SELECT 1 -- \\'';\n";
        let s = statements_at(text);
        assert!(s[3].mode.no_backslash_escapes, "{s:?}");
        assert!(
            s.iter().any(|st| st.text.starts_with("GRANT")),
            "the hidden GRANT is a statement of its own, so the check sees it: {s:?}"
        );
    }
}

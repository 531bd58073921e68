//! What each file of a backup may hold, checked statement by statement
//! before anything of the backup runs on a server.
//!
//! A restore executes the backup's SQL as the restore account, so a forged
//! statement (`GRANT`, `CREATE USER`, `SET GLOBAL`, `USE other`, `DROP
//! DATABASE`, a second statement hidden after a `;` or in a comment) would
//! run with its rights. The signature proves who wrote a backup; this check
//! also bounds what even a trusted writer's files can do:
//! - every file: the session settings the dump writes at its top;
//! - schema file: `CREATE TABLE`/`CREATE SEQUENCE`/`CREATE VIEW` of an
//!   unqualified name (so: in the target database), nothing that reads or
//!   writes elsewhere (`SELECT`, `DATA/INDEX DIRECTORY`, other databases);
//! - data files (checked line by line, as the loader runs them): `SET
//!   autocommit = 0`, `COMMIT`, and `INSERT INTO` the file's own table with
//!   literal values only (no expressions, no subqueries);
//! - post file: `CREATE` of a view, trigger, procedure, function or event of
//!   an unqualified name, with nothing after the object's own body, and the
//!   `sql_mode` save/restore around each body.
//!
//! Extend [`HEADER`] and the `check_*` functions here when the dump writes
//! a new kind of statement; nothing else decides what may run.

use nfops_mysql::literal::{parse_value, quote_ident};

/// Session settings any file may carry (exact statements, as the dump writes them).
const HEADER: &[&str] = &[
    "/*!40101 SET NAMES utf8mb4 */",
    "SET SESSION time_zone = '+00:00'",
    "SET SESSION foreign_key_checks = 0",
    "SET SESSION unique_checks = 0",
];

/// Which file a statement comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind<'a> {
    Schema,
    /// A data file of this table.
    Data(&'a str),
    Post,
}

/// Why a statement is refused (`None`: allowed).
pub fn refusal(kind: FileKind<'_>, stmt: &str) -> Option<String> {
    let s = stmt.trim().trim_end_matches(';').trim_end();
    // Another sql_mode (NO_BACKSLASH_ESCAPES above all) would make the
    // server read the literals below differently from this check, so only
    // the post file's per-object modes (restored after each body) may differ
    // from the mode the dump pins in its header.
    let dump_header = nfops_mysql::dump::FILE_HEADER
        .lines()
        .any(|l| l.trim_end_matches(';') == s);
    if HEADER.contains(&s) || dump_header || (kind == FileKind::Post && sql_mode_literal(s)) {
        return None;
    }
    match kind {
        FileKind::Data(table) => {
            if s == "SET autocommit = 0"
                || s == "COMMIT"
                || s == nfops_mysql::schema::INSERT_HISTORY.trim_end_matches(';')
            {
                return None;
            }
            check_insert(table, stmt.trim())
        }
        FileKind::Schema if s.starts_with("DO SETVAL(") => check_setval(s),
        FileKind::Schema => check_create(stmt, &["TABLE", "SEQUENCE", "VIEW"]),
        FileKind::Post => {
            if s == "SET @nfops_saved_sql_mode = @@SESSION.sql_mode"
                || s == "SET SESSION sql_mode = @nfops_saved_sql_mode"
            {
                return None;
            }
            check_create(stmt, &["VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"])
        }
    }
}

/// `SET SESSION sql_mode = '<MODE,MODE…>'`.
fn sql_mode_literal(s: &str) -> bool {
    s.strip_prefix("SET SESSION sql_mode = '")
        .and_then(|r| r.strip_suffix('\''))
        .is_some_and(|m| {
            m.chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c == ',')
        })
}

/// A sequence's state as the dump writes it: `DO SETVAL(`name`, N, 0, N)`
/// (one unqualified name and integers: nothing that reads or calls).
fn check_setval(s: &str) -> Option<String> {
    let refused = || Some("a SETVAL that is not `DO SETVAL(`name`, N, 0, N)`".to_owned());
    let Some(r) = s.strip_prefix("DO SETVAL(`") else {
        return refused();
    };
    let b = r.as_bytes();
    let mut i = 0;
    loop {
        match b.get(i) {
            None => return refused(),
            Some(b'`') if b.get(i + 1) == Some(&b'`') => i += 2,
            Some(b'`') => break,
            Some(_) => i += 1,
        }
    }
    let Some(args) = r[i + 1..]
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
fn check_insert(table: &str, line: &str) -> Option<String> {
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
        let Some(r) = rest.strip_prefix('`') else {
            return Some("a column list that is not plain names".into());
        };
        let mut i = 0;
        let b = r.as_bytes();
        loop {
            match b.get(i) {
                None => return Some("an unterminated column name".into()),
                Some(b'`') if b.get(i + 1) == Some(&b'`') => i += 2,
                Some(b'`') => break,
                Some(_) => i += 1,
            }
        }
        rest = &r[i + 1..];
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
            let Some((_, used)) = parse_value(b) else {
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

/// A token of a statement, for the schema and post files.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare word, upper-cased.
    Word(String),
    /// A backticked name.
    Name,
    Str,
    Punct(char),
}

/// Splits `s` into tokens. Conditional comments (`/*!NNNNN … */`) are code
/// to the server, so their content is tokenized too; plain comments are
/// counted (a routine body may hold them; nothing else may).
fn lex(s: &str) -> Result<(Vec<Tok>, usize), String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut comments = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'#' => {
                comments += 1;
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p);
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && matches!(b.get(i + 2), None | Some(b' ' | b'\t' | b'\n' | b'\r')) =>
            {
                comments += 1;
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if b.get(i + 2) == Some(&b'!') {
                    // `/*!` + optional version digits: the rest is code up to `*/`.
                    i += 3;
                    while b.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                    // The closing `*/` of a conditional comment is skipped as punctuation below.
                } else {
                    comments += 1;
                    let end = s[i + 2..].find("*/").ok_or("an unterminated comment")?;
                    i += 2 + end + 2;
                }
            }
            b'*' if b.get(i + 1) == Some(&b'/') => i += 2,
            b'`' | b'\'' | b'"' => {
                let q = c;
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("an unterminated quoted text".into()),
                        Some(&x) if x == b'\\' && q != b'`' => i += 2,
                        Some(&x) if x == q && b.get(i + 1) == Some(&q) => i += 2,
                        Some(&x) if x == q => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                out.push(if q == b'`' { Tok::Name } else { Tok::Str });
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 => {
                let start = i;
                while b.get(i).is_some_and(|&x| {
                    x.is_ascii_alphanumeric() || x == b'_' || x == b'$' || x >= 0x80
                }) {
                    i += 1;
                }
                out.push(Tok::Word(s[start..i].to_ascii_uppercase()));
            }
            _ => {
                out.push(Tok::Punct(c as char));
                i += 1;
            }
        }
    }
    Ok((out, comments))
}

/// `CREATE [OR REPLACE] [ALGORITHM=…] [DEFINER=…] [SQL SECURITY …] KIND
/// [IF NOT EXISTS] name …` with an unqualified name, one statement only.
fn check_create(stmt: &str, kinds: &[&str]) -> Option<String> {
    let (toks, comments) = match lex(stmt) {
        Ok(t) => t,
        Err(e) => return Some(e),
    };
    let word = |i: usize| match toks.get(i) {
        Some(Tok::Word(w)) => w.as_str(),
        _ => "",
    };
    if word(0) != "CREATE" {
        return Some(format!(
            "'{}' is not allowed in this file",
            first_words(stmt)
        ));
    }
    // Skip the optional clauses before the object kind.
    let mut i = 1;
    while i < toks.len() && !kinds.contains(&word(i)) {
        match word(i) {
            "OR" | "REPLACE" | "ALGORITHM" | "DEFINER" | "SQL" | "SECURITY" | "UNDEFINED"
            | "MERGE" | "TEMPTABLE" | "INVOKER" | "CURRENT_USER" | "AGGREGATE" => i += 1,
            // The definer's user@host: names, strings, `@`, `=`, `(`, `)`.
            _ if matches!(
                toks[i],
                Tok::Name | Tok::Str | Tok::Punct('@' | '=' | '(' | ')')
            ) =>
            {
                i += 1
            }
            w => return Some(format!("CREATE {w} is not allowed in this file")),
        }
    }
    let kind = word(i).to_owned();
    if kind.is_empty() {
        return Some("a CREATE of no allowed object kind".into());
    }
    i += 1;
    if word(i) == "IF" {
        i += 3;
    }
    if !matches!(toks.get(i), Some(Tok::Name | Tok::Word(_))) {
        return Some(format!("CREATE {kind} without a plain name"));
    }
    if toks.get(i + 1) == Some(&Tok::Punct('.')) {
        return Some(format!("CREATE {kind} of an object in another database"));
    }
    let body = &toks[i + 1..];
    match kind.as_str() {
        "TABLE" | "SEQUENCE" => {
            if comments > 0 {
                return Some(format!("a comment inside CREATE {kind}"));
            }
            if body.iter().any(|t| matches!(t, Tok::Word(w) if w == "SELECT" || w == "DIRECTORY" || w == "CONNECTION")) {
                return Some(format!("CREATE {kind} that reads or writes outside the database (SELECT/DIRECTORY/CONNECTION)"));
            }
            if body.contains(&Tok::Punct(';')) {
                return Some(format!("a second statement after CREATE {kind}"));
            }
            None
        }
        "VIEW" => {
            if comments > 0 {
                return Some("a comment inside CREATE VIEW".into());
            }
            body.contains(&Tok::Punct(';'))
                .then(|| "a second statement after CREATE VIEW".into())
        }
        _ => second_statement(body)
            .then(|| format!("a second statement after the body of CREATE {kind}")),
    }
}

/// Whether a `;` ends the routine/trigger/event body and something follows:
/// `;` is only allowed inside `BEGIN … END` (and `CASE … END [CASE]`).
fn second_statement(body: &[Tok]) -> bool {
    let mut depth = 0i32;
    let mut i = 0;
    while i < body.len() {
        match &body[i] {
            Tok::Word(w) if w == "BEGIN" || w == "CASE" => depth += 1,
            Tok::Word(w) if w == "END" => match body.get(i + 1) {
                Some(Tok::Word(n))
                    if matches!(n.as_str(), "IF" | "LOOP" | "WHILE" | "REPEAT" | "FOR") =>
                {
                    i += 1
                }
                Some(Tok::Word(n)) if n == "CASE" => {
                    depth -= 1;
                    i += 1;
                }
                _ => depth -= 1,
            },
            Tok::Punct(';') if depth <= 0 => return true,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
        i += 1;
    }
    false
}

/// The first words of a statement, for messages (never a whole row of data).
fn first_words(s: &str) -> String {
    let w: Vec<&str> = s.split_whitespace().take(3).collect();
    let mut out = w.join(" ");
    if out.len() > 40 {
        out = out.chars().take(40).collect::<String>() + "…";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_dump_writes_is_allowed() {
        for h in nfops_mysql::dump::FILE_HEADER.lines() {
            assert_eq!(refusal(FileKind::Data("t"), h), None, "{h}");
            assert_eq!(refusal(FileKind::Post, h), None, "{h}");
        }
        let d = FileKind::Data("orders");
        assert_eq!(refusal(d, "SET autocommit = 0;"), None);
        assert_eq!(refusal(d, "INSERT INTO `orders` (`id`,`a``b`) VALUES (1,'x\\'),;'),(-2.5e-07,NULL),(3,X'00ff');"), None);
        assert_eq!(refusal(d, "COMMIT;"), None);
        // A data or schema file cannot change how the server reads its literals.
        let nbe = "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES';";
        assert!(refusal(d, nbe).is_some());
        assert!(refusal(FileKind::Schema, nbe).is_some());
        assert_eq!(
            refusal(
                FileKind::Post,
                "SET SESSION sql_mode = 'STRICT_TRANS_TABLES';"
            ),
            None
        );
        assert_eq!(refusal(d, nfops_mysql::schema::INSERT_HISTORY), None);
        assert_eq!(
            refusal(FileKind::Schema, "DO SETVAL(`s``q`, 115, 0, 0);"),
            None
        );
        assert!(refusal(FileKind::Schema, "DO SETVAL(`s`, (SELECT 1), 0, 0)").is_some());
        assert!(refusal(
            FileKind::Schema,
            "DO SETVAL(`s`, 1, 0, 0); GRANT ALL ON *.* TO x"
        )
        .is_some());
        assert!(refusal(FileKind::Schema, "DO SETVAL(`other`.`s`, 1, 0, 0)").is_some());
        assert!(refusal(FileKind::Schema, nfops_mysql::schema::INSERT_HISTORY).is_some());
        assert_eq!(refusal(FileKind::Schema, "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `c` varchar(3) DEFAULT 'a;b' COMMENT 'x'\n) ENGINE=InnoDB WITH SYSTEM VERSIONING"), None);
        assert_eq!(refusal(FileKind::Schema, "CREATE SEQUENCE `s` start with 1 minvalue 1 maxvalue 9 increment by 1 cache 1000 nocycle ENGINE=InnoDB"), None);
        let p = FileKind::Post;
        assert_eq!(refusal(p, "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select `newfinity`.`t`.`id` AS `id` from `newfinity`.`t`"), None);
        assert_eq!(refusal(p, "CREATE DEFINER=`app`@`%` TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW BEGIN IF NEW.a = 1 THEN SET NEW.b = 2; END IF; SET NEW.c = CASE WHEN 1 THEN 2 END; END"), None);
        assert_eq!(refusal(p, "CREATE PROCEDURE `p`(IN x INT)\nBEGIN\n -- a note; with a semicolon\n l: LOOP LEAVE l; END LOOP l;\n CASE x WHEN 1 THEN SELECT 1; END CASE;\nEND"), None);
        assert_eq!(refusal(p, "CREATE EVENT `e` ON SCHEDULE EVERY 1 DAY STARTS '2026-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE DO DELETE FROM t WHERE 1=0"), None);
        assert_eq!(
            refusal(
                p,
                "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'"
            ),
            None
        );
        assert_eq!(
            refusal(p, "SET @nfops_saved_sql_mode = @@SESSION.sql_mode"),
            None
        );
    }

    #[test]
    fn anything_else_is_refused() {
        let d = FileKind::Data("orders");
        for bad in [
            "GRANT ALL ON *.* TO 'x'@'%';",
            "CREATE USER 'x'@'%' IDENTIFIED BY 'p';",
            "INSERT INTO `users` (`id`) VALUES (1);",
            "INSERT INTO `orders` (`id`) VALUES (1); GRANT ALL ON *.* TO x;",
            "INSERT INTO `orders` (`id`) VALUES (1) /*!50000 ; DROP DATABASE x */;",
            "INSERT INTO `orders` (`id`) VALUES (sleep(5));",
            "INSERT INTO `orders` (`id`) VALUES ((SELECT 1));",
            "SET GLOBAL read_only = 0;",
            "SET SESSION sql_mode = 'X'; GRANT ALL ON *.* TO x;",
            "USE mysql;",
        ] {
            assert!(
                refusal(d, bad).is_some(),
                "data line {bad:?} must be refused"
            );
        }
        for bad in [
            "DROP DATABASE newfinity",
            "CREATE USER 'x'@'%'",
            "CREATE TABLE `mysql`.`t` (id int)",
            "CREATE TABLE `t` (id int); GRANT ALL ON *.* TO x",
            "CREATE TABLE `t` (id int) /* x */",
            "CREATE TABLE `t` SELECT * FROM mysql.user",
            "CREATE TABLE `t` (id int) DATA DIRECTORY='/tmp'",
            "/*!50000 GRANT ALL ON *.* TO x */",
        ] {
            assert!(
                refusal(FileKind::Schema, bad).is_some(),
                "schema {bad:?} must be refused"
            );
        }
        for bad in [
            "CREATE VIEW `v` AS SELECT 1; GRANT ALL ON *.* TO x",
            "CREATE PROCEDURE `p`() BEGIN SELECT 1; END; CREATE USER x",
            "CREATE TRIGGER `tr` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.a = 1; GRANT ALL ON *.* TO x",
            "CREATE FUNCTION `other`.`f`() RETURNS INT RETURN 1",
            "CREATE DATABASE x",
            "SET GLOBAL event_scheduler = ON",
        ] {
            assert!(refusal(FileKind::Post, bad).is_some(), "post {bad:?} must be refused");
        }
    }
}

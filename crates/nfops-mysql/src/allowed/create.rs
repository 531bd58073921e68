//! `CREATE` statements of the schema and post files: the clauses before the
//! object kind (owner included), the name, and what the rest may reach.

use crate::sqltext::lex::{tokens, Mode, Tok};

use super::{body, first_words, Scope};

/// Engines that keep rows in the server's own files. Any other (CONNECT
/// reads files and remote tables, FEDERATED/FederatedX and SPIDER remote
/// servers, MERGE other tables, OQGRAPH a data table named in options) is
/// refused: a table of ours reads only itself.
const ENGINES: &[&str] = &[
    "INNODB",
    "XTRADB",
    "ARIA",
    "MYISAM",
    "MEMORY",
    "HEAP",
    "ARCHIVE",
    "ROCKSDB",
    "BLACKHOLE",
    "SEQUENCE",
];

/// Words that make a table read or write outside the database.
const TABLE_OUTSIDE: &[&str] = &[
    "SELECT",
    "DIRECTORY",
    "CONNECTION",
    "FILE_NAME",
    "UNION",
    "TABLE_TYPE",
    "SOCKET",
];

/// Schemas a backup's objects never read, whatever the manifest says.
const SYSTEM_SCHEMAS: &[&str] = &["INFORMATION_SCHEMA", "MYSQL", "PERFORMANCE_SCHEMA", "SYS"];

/// `CREATE [OR REPLACE] [ALGORITHM=…] [DEFINER=…] [SQL SECURITY …] KIND
/// [IF NOT EXISTS] name …` with an unqualified name, one statement only.
// Long on purpose: one pass over the statement's clauses in the order the server reads them.
pub(super) fn check_create(
    stmt: &str,
    mode: Mode,
    scope: &Scope,
    kinds: &[&str],
) -> Option<String> {
    let (toks, comments) = match tokens(stmt, mode) {
        Ok(t) => t,
        Err(e) => return Some(e),
    };
    if let Some(Tok::Exec(e)) = toks.iter().find(|t| matches!(t, Tok::Exec(_))) {
        return Some(format!(
            "an executable comment ({e} … */): the server runs its content, and the dump writes none there"
        ));
    }
    let word = |i: usize| toks.get(i).map_or("", Tok::word);
    if word(0) != "CREATE" {
        return Some(format!(
            "'{}' is not allowed in this file",
            first_words(stmt)
        ));
    }
    let mut i = 1;
    while i < toks.len() && !kinds.contains(&word(i)) {
        match word(i) {
            "OR" | "REPLACE" | "SQL" | "SECURITY" | "UNDEFINED" | "MERGE" | "TEMPTABLE"
            | "INVOKER" | "AGGREGATE" => i += 1,
            "ALGORITHM" if toks.get(i + 1) == Some(&Tok::Punct('=')) => i += 3,
            "DEFINER" if toks.get(i + 1) == Some(&Tok::Punct('=')) => match definer(&toks[i..]) {
                Some((account, used)) => {
                    if !scope.owners.contains(&account) {
                        return Some(format!(
                            "DEFINER={account}: not an owner the backup's inventory records{}; the object would run with that account's rights",
                            if scope.owners.is_empty() {
                                " (it records none)".to_owned()
                            } else {
                                format!(" ({})", scope.owners.iter().cloned().collect::<Vec<_>>().join(", "))
                            }
                        ));
                    }
                    i += used;
                }
                None => return Some("a DEFINER that is not `user`@`host`".into()),
            },
            // SQL SECURITY DEFINER.
            "DEFINER" => i += 1,
            w if !w.is_empty() => return Some(format!("CREATE {w} is not allowed in this file")),
            _ => return Some("CREATE of no allowed object kind".into()),
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
    if toks.get(i).and_then(Tok::name).is_none() {
        return Some(format!("CREATE {kind} without a plain name"));
    }
    if toks.get(i + 1) == Some(&Tok::Punct('.')) {
        return Some(format!("CREATE {kind} of an object in another database"));
    }
    let rest = &toks[i + 1..];
    if let Some(why) = foreign_schema(rest, scope) {
        return Some(format!("CREATE {kind} {why}"));
    }
    let words = |list: &[&str]| {
        rest.iter()
            .find(|t| list.contains(&t.word()))
            .map(|t| t.word().to_owned())
    };
    if let Some(w) = words(&["OUTFILE", "DUMPFILE", "LOAD_FILE"]) {
        return Some(format!(
            "CREATE {kind} that reads or writes server files ({w})"
        ));
    }
    match kind.as_str() {
        "TABLE" | "SEQUENCE" | "VIEW" => {
            if comments > 0 {
                return Some(format!("a comment inside CREATE {kind}"));
            }
            if rest.contains(&Tok::Punct(';')) {
                return Some(format!("a second statement after CREATE {kind}"));
            }
            if kind == "VIEW" {
                return None;
            }
            if let Some(e) = engine(rest) {
                return Some(format!("CREATE {kind} with ENGINE={e}: only engines that store rows in the server itself ({}) are allowed", ENGINES.join(", ")));
            }
            words(TABLE_OUTSIDE)
                .map(|w| format!("CREATE {kind} that reads or writes outside the database ({w})"))
        }
        _ => body::check(&kind, rest)
            .err()
            .map(|e| format!("CREATE {kind}: {e}")),
    }
}

/// `DEFINER = `user`@`host`` at the start of `t`: the account and the
/// tokens used. Only the form the dump writes (SHOW CREATE's backticks).
fn definer(t: &[Tok]) -> Option<(String, usize)> {
    match t {
        [Tok::Word(d), Tok::Punct('='), Tok::Name(u), Tok::Punct('@'), Tok::Name(h), ..]
            if d == "DEFINER" =>
        {
            Some((format!("{u}@{h}"), 5))
        }
        _ => None,
    }
}

/// The first engine named that is not in [`ENGINES`].
fn engine(t: &[Tok]) -> Option<String> {
    (0..t.len()).find_map(|i| {
        if !matches!(t[i].word(), "ENGINE" | "TYPE") {
            return None;
        }
        let at = if t.get(i + 1) == Some(&Tok::Punct('=')) {
            i + 2
        } else {
            i + 1
        };
        let e = t.get(at)?.name()?.to_ascii_uppercase();
        (!ENGINES.contains(&e.as_str())).then_some(e)
    })
}

/// Why a qualified name reads another database than `scope.database`:
/// the first part of `a.b.c`, of `a.f(…)`, of a system schema's `a.b`, or
/// of an `a.b` where a table goes (after FROM, JOIN, INTO, UPDATE, CALL,
/// TABLE, REFERENCES, INSERT/REPLACE/DELETE, or in a FROM list). Any other
/// `a.b` must qualify by something the statement itself names (a table,
/// an alias, a variable, `NEW`/`OLD`): the position rules are an
/// approximation (a FROM list continued after `ON …,` or after a derived
/// table is not followed), so an `a.b` they do not place is refused unless
/// `a` is declared — failing closed, not open.
pub(super) fn foreign_schema(t: &[Tok], scope: &Scope) -> Option<String> {
    let in_from = from_lists(t);
    let declared = declared_names(t);
    for i in 0..t.len() {
        let Some(q) = t[i].name() else { continue };
        if t.get(i + 1) != Some(&Tok::Punct('.')) || t.get(i + 2).and_then(Tok::name).is_none() {
            continue;
        }
        if i > 0 && matches!(t[i - 1], Tok::Punct('.' | '@')) {
            continue;
        }
        // A number such as `1.5` reads as two words around a dot.
        if matches!(t[i], Tok::Word(_)) && q.bytes().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let ours = match &t[i] {
            Tok::Name(n) => *n == scope.database,
            _ => q.eq_ignore_ascii_case(&scope.database),
        };
        if ours {
            continue;
        }
        let three = t.get(i + 3) == Some(&Tok::Punct('.'));
        let call = t.get(i + 3) == Some(&Tok::Punct('('));
        let system = SYSTEM_SCHEMAS.contains(&q.to_ascii_uppercase().as_str());
        let undeclared = !declared.contains(&q.to_ascii_uppercase());
        if three || call || system || undeclared || table_position(t, i, &in_from) {
            return Some(format!(
                "reads or writes database `{q}`, not the restored database `{}`",
                scope.database
            ));
        }
    }
    None
}

/// Upper-cased names the statement declares or uses on their own: a name
/// not followed by a dot and not the last part of a three-part name, plus a
/// trigger's `NEW` and `OLD`.
fn declared_names(t: &[Tok]) -> std::collections::HashSet<String> {
    let mut out: std::collections::HashSet<String> =
        ["NEW", "OLD"].into_iter().map(str::to_owned).collect();
    for (i, tok) in t.iter().enumerate() {
        let Some(n) = tok.name() else { continue };
        if t.get(i + 1) == Some(&Tok::Punct('.')) {
            continue;
        }
        let third = i >= 4 && t[i - 1] == Tok::Punct('.') && t[i - 3] == Tok::Punct('.');
        if !third {
            out.insert(n.to_ascii_uppercase());
        }
    }
    out
}

/// Whether `t[i]` stands where a table name goes.
fn table_position(t: &[Tok], i: usize, in_from: &[bool]) -> bool {
    let Some(prev) = i.checked_sub(1).map(|p| &t[p]) else {
        return false;
    };
    match prev {
        Tok::Word(w) => matches!(
            w.as_str(),
            "FROM"
                | "JOIN"
                | "STRAIGHT_JOIN"
                | "INTO"
                | "UPDATE"
                | "CALL"
                | "TABLE"
                | "REFERENCES"
                | "INSERT"
                | "REPLACE"
                | "DELETE"
                | "IGNORE"
                | "LOW_PRIORITY"
                | "DELAYED"
                | "HIGH_PRIORITY"
                | "QUICK"
        ),
        Tok::Punct(',') => in_from[i],
        Tok::Punct('(') => table_position(t, i - 1, in_from),
        _ => false,
    }
}

/// For each token, whether it sits in a FROM list (after FROM, before the
/// clause that ends the list). Parentheses are not followed: a comma list
/// inside a subquery that has a WHERE ends early (a known approximation,
/// on the refusing side only for the outer list).
fn from_lists(t: &[Tok]) -> Vec<bool> {
    let mut on = false;
    t.iter()
        .map(|tok| {
            match tok.word() {
                "FROM" | "JOIN" | "UPDATE" => on = true,
                "WHERE" | "GROUP" | "HAVING" | "ORDER" | "LIMIT" | "ON" | "USING" | "SET"
                | "SELECT" | "UNION" | "INTO" | "WINDOW" | "VALUES" | "RETURN" => on = false,
                _ if *tok == Tok::Punct(';') => on = false,
                _ => {}
            }
            on
        })
        .collect()
}

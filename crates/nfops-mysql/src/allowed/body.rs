//! Routine, trigger and event bodies: which statements they may hold.
//!
//! A body runs later, with its owner's rights, so it is held to an
//! allow-list of statement kinds: queries and changes of rows, variables
//! and flow control. Anything else (GRANT, CREATE USER, SET GLOBAL, SET
//! PASSWORD, INSTALL, LOAD DATA, PREPARE/EXECUTE of dynamic SQL…) is
//! refused, with or without a `;` after it (`CREATE EVENT … DO GRANT …`).

use crate::sqltext::lex::Tok;

/// Words a statement inside a body may start with.
const STARTS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "REPLACE",
    "WITH",
    "SET",
    "DECLARE",
    "BEGIN",
    "END",
    "IF",
    "ELSEIF",
    "ELSE",
    "CASE",
    "WHEN",
    "LOOP",
    "WHILE",
    "REPEAT",
    "UNTIL",
    "FOR",
    "LEAVE",
    "ITERATE",
    "RETURN",
    "CALL",
    "OPEN",
    "FETCH",
    "CLOSE",
    "SIGNAL",
    "RESIGNAL",
    "GET",
    "DO",
    "START",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
];

/// A block a body opens, closed by `END [kind]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Begin,
    /// IF or CASE as a statement: THEN and ELSE start statements.
    Flow,
    /// CASE inside an expression: THEN and ELSE start values.
    CaseExpr,
    /// WHILE or FOR: DO starts statements.
    Loop,
    /// LOOP or REPEAT: statements follow at once.
    Bare,
}

/// Checks what follows the object's name in `CREATE TRIGGER|EVENT|
/// PROCEDURE|FUNCTION name …`: the header up to the body, then the body.
pub(super) fn check(kind: &str, rest: &[Tok]) -> Result<(), String> {
    let start = body_start(kind, rest).ok_or("a header this tool does not write")?;
    statements(&rest[start..])
}

/// Where the body starts in `rest` (the tokens after the name).
fn body_start(kind: &str, t: &[Tok]) -> Option<usize> {
    let w = |i: usize| t.get(i).map_or("", Tok::word);
    match kind {
        "TRIGGER" => {
            let row =
                (0..t.len()).find(|&i| w(i) == "FOR" && w(i + 1) == "EACH" && w(i + 2) == "ROW")?;
            let mut i = row + 3;
            if matches!(w(i), "FOLLOWS" | "PRECEDES") {
                i += 2;
            }
            Some(i)
        }
        // ON SCHEDULE … [COMMENT '…'] DO body: the first DO.
        "EVENT" => (0..t.len()).find(|&i| w(i) == "DO").map(|i| i + 1),
        "PROCEDURE" | "FUNCTION" => {
            if t.first() != Some(&Tok::Punct('(')) {
                return None;
            }
            let mut depth = 0;
            let mut i = 0;
            loop {
                match t.get(i)? {
                    Tok::Punct('(') => depth += 1,
                    Tok::Punct(')') => depth -= 1,
                    _ => {}
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
            if kind == "FUNCTION" {
                if w(i) != "RETURNS" {
                    return None;
                }
                i += 2;
                if t.get(i) == Some(&Tok::Punct('(')) {
                    i += t[i..].iter().position(|x| *x == Tok::Punct(')'))? + 1;
                }
                loop {
                    match w(i) {
                        "UNSIGNED" | "SIGNED" | "ZEROFILL" | "BINARY" | "ASCII" | "UNICODE" => {
                            i += 1
                        }
                        "CHARSET" | "COLLATE" => i += 2,
                        "CHARACTER" => i += 3,
                        _ => break,
                    }
                }
            }
            // Characteristics.
            loop {
                match t.get(i)? {
                    Tok::Str => i += 1,
                    x if matches!(
                        x.word(),
                        "COMMENT"
                            | "LANGUAGE"
                            | "NOT"
                            | "DETERMINISTIC"
                            | "CONTAINS"
                            | "NO"
                            | "READS"
                            | "MODIFIES"
                            | "SQL"
                            | "DATA"
                            | "SECURITY"
                            | "DEFINER"
                            | "INVOKER"
                    ) =>
                    {
                        i += 1
                    }
                    _ => return Some(i),
                }
            }
        }
        _ => None,
    }
}

/// Walks a body: every statement start is checked against [`STARTS`] and
/// [`start_refusal`]; after the body's one top-level statement ends, nothing
/// may follow.
// Long on purpose: one state machine over the body's blocks; splitting it would spread its state.
fn statements(t: &[Tok]) -> Result<(), String> {
    let w = |i: usize| t.get(i).map_or("", Tok::word);
    let mut open: Vec<Open> = Vec::new();
    let mut at_start = true;
    let mut ended = false;
    let mut i = 0;
    if t.is_empty() {
        return Err("an empty body".into());
    }
    while i < t.len() {
        if ended {
            return Err("a second statement after the body".into());
        }
        let start = std::mem::take(&mut at_start);
        if start {
            // `label:` before a block.
            if t[i].name().is_some() && t.get(i + 1) == Some(&Tok::Punct(':')) {
                i += 2;
                at_start = true;
                continue;
            }
            let first = w(i);
            if !STARTS.contains(&first) {
                return Err(format!(
                    "a body statement of a kind a backup may not run ({})",
                    if first.is_empty() {
                        "not a statement".to_owned()
                    } else {
                        first.to_owned()
                    }
                ));
            }
            if let Some(why) = start_refusal(&t[i..]) {
                return Err(why);
            }
        }
        match (w(i), start) {
            ("BEGIN", true) => {
                open.push(Open::Begin);
                at_start = true;
                if w(i + 1) == "NOT" && w(i + 2) == "ATOMIC" {
                    i += 2;
                }
            }
            ("IF" | "CASE", true) => open.push(Open::Flow),
            ("CASE", false) => open.push(Open::CaseExpr),
            ("WHILE" | "FOR", true) => open.push(Open::Loop),
            ("LOOP" | "REPEAT", true) => {
                open.push(Open::Bare);
                at_start = true;
            }
            ("ELSE", true) => at_start = true,
            ("THEN" | "ELSE", false) => at_start = open.last() == Some(&Open::Flow),
            ("DO", false) => at_start = open.last() == Some(&Open::Loop),
            ("DECLARE", true) => {
                // DECLARE … HANDLER FOR condition[, …] statement.
                let end = t[i..]
                    .iter()
                    .position(|x| *x == Tok::Punct(';'))
                    .map_or(t.len(), |p| i + p);
                if let Some(h) = (i..end).find(|&j| w(j) == "HANDLER") {
                    let mut j = h + 2;
                    loop {
                        match w(j) {
                            "SQLSTATE" => j += if w(j + 1) == "VALUE" { 3 } else { 2 },
                            "NOT" => j += 2,
                            _ => j += 1,
                        }
                        if t.get(j) == Some(&Tok::Punct(',')) {
                            j += 1;
                        } else {
                            break;
                        }
                    }
                    i = j;
                    at_start = true;
                    continue;
                }
            }
            ("END", _) => {
                if open.pop().is_none() {
                    return Err("an END that closes nothing".into());
                }
                if matches!(
                    w(i + 1),
                    "IF" | "CASE" | "LOOP" | "WHILE" | "REPEAT" | "FOR"
                ) {
                    i += 1;
                }
            }
            _ if t[i] == Tok::Punct(';') => {
                if open.is_empty() {
                    ended = true;
                } else {
                    at_start = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if !open.is_empty() {
        return Err("a body whose blocks are not closed".into());
    }
    Ok(())
}

/// What a statement of an allowed kind still may not do.
fn start_refusal(t: &[Tok]) -> Option<String> {
    let end = t
        .iter()
        .position(|x| *x == Tok::Punct(';'))
        .unwrap_or(t.len());
    let stmt = &t[..end];
    let has = |list: &[&str]| {
        stmt.iter()
            .find(|x| list.contains(&x.word()))
            .map(|x| x.word().to_owned())
    };
    match t[0].word() {
        "SET" => {
            if matches!(
                t.get(1).map_or("", Tok::word),
                "PASSWORD" | "ROLE" | "DEFAULT" | "STATEMENT"
            ) {
                return Some(format!("SET {} in a body", t[1].word()));
            }
            has(&["GLOBAL", "PERSIST", "PERSIST_ONLY"]).map(|w| format!("SET {w} in a body"))
        }
        "START" if t.get(1).map_or("", Tok::word) != "TRANSACTION" => {
            Some("START other than START TRANSACTION in a body".into())
        }
        "GET"
            if t.get(1).map_or("", Tok::word) != "DIAGNOSTICS"
                && t.get(2).map_or("", Tok::word) != "DIAGNOSTICS" =>
        {
            Some("GET other than GET DIAGNOSTICS in a body".into())
        }
        _ => has(&["OUTFILE", "DUMPFILE", "LOAD_FILE"])
            .map(|w| format!("{w} in a body (reads or writes server files)")),
    }
}

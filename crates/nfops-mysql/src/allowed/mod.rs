//! What each file of a backup may hold, checked statement by statement
//! before anything of the backup runs on a server (restore's "check backup"
//! step) and by `backup verify`, with the same rules.
//!
//! A restore executes the backup's SQL as the restore account, so a forged
//! statement (`GRANT`, `CREATE USER`, `SET GLOBAL`, `USE other`, `DROP
//! DATABASE`, a second statement hidden after a `;`, in an executable
//! comment or in a body) would run with its rights. The signature proves who
//! wrote a backup; this check also bounds what even a stolen trusted key's
//! files can do:
//! - every file: the session settings the dump writes at its top (the only
//!   executable comment allowed anywhere is its `/*!40101 SET NAMES … */`);
//! - schema file: `CREATE TABLE`/`CREATE SEQUENCE` of an unqualified name,
//!   with an engine that stores rows in the server itself (no CONNECT,
//!   FEDERATED, SPIDER…), nothing that reads or writes elsewhere (`SELECT`,
//!   `DATA/INDEX DIRECTORY`, `FILE_NAME`, `CONNECTION`, other databases);
//! - data files (checked line by line, as the loader runs them): `SET
//!   autocommit = 0`, `COMMIT`, and `INSERT INTO` the file's own table with
//!   literal values only (no expressions, no subqueries);
//! - post file: `CREATE` of a view, trigger, procedure, function or event of
//!   an unqualified name, owned by an account the manifest's inventory
//!   records, reading only the restored database, whose body holds only the
//!   statement kinds of [`body`] (no GRANT, no dynamic SQL, no SET GLOBAL…),
//!   with nothing after it; and the `sql_mode` save/restore around each body
//!   (the statements after it are read under that mode: [`crate::sqltext`]).
//!
//! Every statement a loader sends is one [`crate::sqltext::Statement`]
//! checked whole here: sqlx enables `CLIENT_MULTI_STATEMENTS`, so anything
//! after a terminator the server sees would run; it is refused instead.
//!
//! Extend [`HEADER`] and the `check_*` functions here when the dump writes
//! a new kind of statement; nothing else decides what may run.

mod body;
mod create;
mod data;
mod scan;

use std::collections::BTreeSet;

pub use scan::{check_data_line, check_sql_file, Refused};

use crate::inventory::Inventory;
use crate::sqltext::Mode;

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

/// What a backup's statements may refer to: its own database and the
/// owners its manifest records.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The database the backup was taken of (the dump qualifies names with it).
    pub database: String,
    /// `user@host` of every owner (`DEFINER`) the inventory records.
    pub owners: BTreeSet<String>,
}

impl Scope {
    /// The scope of a backup of `database` with this inventory (none: no
    /// owner may be named, as such a backup wrote no `DEFINER`).
    pub fn of(database: &str, inventory: Option<&Inventory>) -> Self {
        Self {
            database: database.to_owned(),
            owners: inventory
                .map(|i| i.objects.iter().filter_map(|o| o.definer.clone()).collect())
                .unwrap_or_default(),
        }
    }
}

/// Why a statement read under `mode` is refused (`None`: allowed).
pub fn refusal(kind: FileKind<'_>, stmt: &str, mode: Mode, scope: &Scope) -> Option<String> {
    let s = stmt.trim().trim_end_matches(';').trim_end();
    // Another sql_mode (NO_BACKSLASH_ESCAPES above all) makes the server
    // read literals differently; only the post file's per-object modes may
    // differ from the dump's header, and the splitter reads the statements
    // after them under that mode.
    let dump_header = crate::dump::FILE_HEADER
        .lines()
        .any(|l| l.trim_end_matches(';') == s);
    if HEADER.contains(&s) || dump_header || (kind == FileKind::Post && sql_mode_literal(s)) {
        return None;
    }
    match kind {
        FileKind::Data(table) => {
            if s == "SET autocommit = 0"
                || s == "COMMIT"
                || s == crate::schema::INSERT_HISTORY.trim_end_matches(';')
            {
                return None;
            }
            data::check_insert(table, stmt.trim())
        }
        FileKind::Schema if s.starts_with("DO SETVAL(") => data::check_setval(s),
        FileKind::Schema => create::check_create(stmt, mode, scope, &["TABLE", "SEQUENCE"]),
        FileKind::Post => {
            if s == "SET @nfops_saved_sql_mode = @@SESSION.sql_mode"
                || s == "SET SESSION sql_mode = @nfops_saved_sql_mode"
            {
                return None;
            }
            create::check_create(
                stmt,
                mode,
                scope,
                &["VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT"],
            )
        }
    }
}

/// `SET SESSION sql_mode = '<MODE,MODE…>'`, without the modes that make
/// the server parse another dialect (ORACLE's PL/SQL bodies and the like),
/// which this check does not read.
fn sql_mode_literal(s: &str) -> bool {
    const DIALECTS: &[&str] = &["ORACLE", "MSSQL", "DB2", "POSTGRESQL", "MAXDB"];
    s.strip_prefix("SET SESSION sql_mode = '")
        .and_then(|r| r.strip_suffix('\''))
        .is_some_and(|m| {
            m.chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c == ',')
                && !m.split(',').any(|p| DIALECTS.contains(&p))
        })
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
mod tests;

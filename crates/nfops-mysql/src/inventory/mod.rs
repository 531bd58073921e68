//! The inventory of a database: every object the server reports for it
//! (tables of every `TABLE_TYPE`, sequences with their state, views,
//! triggers, routines, events) with its owner (`DEFINER`) and `SQL SECURITY`.
//!
//! A backup records it in its manifest and refuses to run when the server
//! holds an object it cannot capture ([`Uncapturable`]); verify and restore
//! compare what they find against it ([`compare`]), so an object is never
//! lost without a word.

use std::collections::BTreeSet;

use nfops_core::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use sqlx::mysql::MySqlConnection;

use crate::literal::{quote_ident, quote_str};
use crate::schema::text_at;
use crate::Target;

mod text;
pub use text::{created_objects, definer_of};

/// What an inventory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ObjectKind {
    Table,
    /// `WITH SYSTEM VERSIONING`: current rows and their history.
    VersionedTable,
    Sequence,
    View,
    Trigger,
    Procedure,
    Function,
    Event,
}

impl ObjectKind {
    /// The operator's word for it.
    pub fn label(self) -> &'static str {
        match self {
            ObjectKind::Table => "table",
            ObjectKind::VersionedTable => "system-versioned table",
            ObjectKind::Sequence => "sequence",
            ObjectKind::View => "view",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Procedure => "procedure",
            ObjectKind::Function => "function",
            ObjectKind::Event => "event",
        }
    }

    /// Whether it lives in `information_schema.TABLES` and moves with a RENAME.
    pub fn is_table_like(self) -> bool {
        matches!(
            self,
            ObjectKind::Table | ObjectKind::VersionedTable | ObjectKind::Sequence
        )
    }

    /// Whether it carries a `DEFINER` (an owner whose rights it may run with).
    pub fn has_owner(self) -> bool {
        !self.is_table_like()
    }
}

/// A sequence's state: what `NEXTVAL` hands out next (the first value not
/// cached by the server, so a restored sequence never repeats a value the
/// original may already have handed out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SequenceState {
    pub next_value: i64,
    pub cycle_count: i64,
}

/// One object of the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryObject {
    pub kind: ObjectKind,
    pub name: String,
    /// `user@host` of views, triggers, routines and events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definer: Option<String>,
    /// `DEFINER` or `INVOKER` for views and routines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<String>,
    /// The table a trigger fires on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_table: Option<String>,
    /// The table is partitioned (its `CREATE TABLE` carries the partitions).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partitioned: bool,
    /// Current rows of a table, as dumped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// History rows of a system-versioned table, as dumped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<SequenceState>,
}

impl InventoryObject {
    fn new(kind: ObjectKind, name: String) -> Self {
        Self {
            kind,
            name,
            definer: None,
            security: None,
            on_table: None,
            partitioned: false,
            rows: None,
            history_rows: None,
            sequence: None,
        }
    }

    /// `view `v``, for messages.
    pub fn describe(&self) -> String {
        format!("{} `{}`", self.kind.label(), self.name)
    }
}

/// Every object of one database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    pub objects: Vec<InventoryObject>,
}

impl Inventory {
    pub fn find(&self, kind: ObjectKind, name: &str) -> Option<&InventoryObject> {
        self.objects
            .iter()
            .find(|o| o.kind == kind && o.name == name)
    }

    /// The object named `name` among tables, versioned tables and sequences.
    pub fn table_like(&self, name: &str) -> Option<&InventoryObject> {
        self.objects
            .iter()
            .find(|o| o.kind.is_table_like() && o.name == name)
    }

    pub fn names(&self, kind: ObjectKind) -> Vec<String> {
        self.objects
            .iter()
            .filter(|o| o.kind == kind)
            .map(|o| o.name.clone())
            .collect()
    }
}

/// An object the backup cannot capture, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncapturable {
    pub object: String,
    pub why: String,
}

/// The error a backup fails with when `found` is not empty.
pub fn refuse(database: &str, found: &[Uncapturable]) -> Error {
    let list: Vec<String> = found
        .iter()
        .map(|u| format!("{} ({})", u.object, u.why))
        .collect();
    Error::new(
        ErrorCode::CheckFailed,
        format!(
            "database '{database}' holds {} object(s) this backup cannot capture: {}; nothing was backed up",
            found.len(),
            list.join("; ")
        ),
    )
    .hint("Change or drop the object named (or back it up another way); a backup never skips an object silently.")
}

async fn rows(
    conn: &mut MySqlConnection,
    target: &Target,
    what: &str,
    sql: &str,
) -> Result<Vec<sqlx::mysql::MySqlRow>> {
    sqlx::Executor::fetch_all(&mut *conn, sql)
        .await
        .map_err(|e| target.error(&format!("could not read {what} of"), e))
}

/// Reads every object of database `db` (names, kinds, owners, security,
/// partitioning, sequence state). Row counts are left to the dump.
///
/// Returns the inventory and what a backup could not capture: a
/// `TABLE_TYPE` this engine does not know, a system-versioned table whose
/// period is a transaction id (its history cannot be inserted back).
// Long on purpose: one query per information_schema table, in the order a restore recreates them.
pub async fn read(
    conn: &mut MySqlConnection,
    target: &Target,
    db: &str,
) -> Result<(Inventory, Vec<Uncapturable>)> {
    let d = quote_str(db);
    let mut inv = Inventory::default();
    let mut bad = Vec::new();
    let periods = rows(conn, target, "the system-versioning periods", &format!(
        "SELECT TABLE_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {d} AND GENERATION_EXPRESSION = 'ROW START'"
    ))
    .await?;
    let trx_precise: BTreeSet<String> = periods
        .iter()
        .filter(|r| text_at(r, 1).is_some_and(|t| t.eq_ignore_ascii_case("bigint")))
        .filter_map(|r| text_at(r, 0))
        .collect();
    for r in rows(conn, target, "the table list", &format!(
        "SELECT TABLE_NAME, TABLE_TYPE, COALESCE(CREATE_OPTIONS, '') FROM information_schema.TABLES WHERE TABLE_SCHEMA = {d} ORDER BY TABLE_NAME"
    ))
    .await?
    {
        let name = text_at(&r, 0).unwrap_or_default();
        let ty = text_at(&r, 1).unwrap_or_default();
        let kind = match ty.as_str() {
            "BASE TABLE" => ObjectKind::Table,
            "SYSTEM VERSIONED" => ObjectKind::VersionedTable,
            "SEQUENCE" => ObjectKind::Sequence,
            // Views come from information_schema.VIEWS below, with their owner.
            "VIEW" => continue,
            other => {
                bad.push(Uncapturable {
                    object: format!("`{name}`"),
                    why: format!("its TABLE_TYPE '{other}' is not one this backup knows how to capture"),
                });
                continue;
            }
        };
        if kind == ObjectKind::VersionedTable && trx_precise.contains(&name) {
            bad.push(Uncapturable {
                object: format!("system-versioned table `{name}`"),
                why: "it is versioned by transaction id (ROW START is BIGINT), so its history cannot be inserted back (system_versioning_insert_history takes timestamp periods only)".into(),
            });
        }
        let mut o = InventoryObject::new(kind, name);
        o.partitioned = text_at(&r, 2)
            .unwrap_or_default()
            .to_ascii_lowercase()
            .contains("partitioned");
        inv.objects.push(o);
    }
    for o in inv
        .objects
        .iter_mut()
        .filter(|o| o.kind == ObjectKind::Sequence)
    {
        o.sequence = Some(sequence_state(conn, target, db, &o.name).await?);
    }
    for r in rows(conn, target, "the views", &format!(
        "SELECT TABLE_NAME, DEFINER, SECURITY_TYPE FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {d} ORDER BY TABLE_NAME"
    ))
    .await?
    {
        let mut o = InventoryObject::new(ObjectKind::View, text_at(&r, 0).unwrap_or_default());
        o.definer = text_at(&r, 1);
        o.security = text_at(&r, 2);
        inv.objects.push(o);
    }
    for r in rows(conn, target, "the triggers", &format!(
        "SELECT TRIGGER_NAME, DEFINER, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {d} ORDER BY TRIGGER_NAME"
    ))
    .await?
    {
        let mut o = InventoryObject::new(ObjectKind::Trigger, text_at(&r, 0).unwrap_or_default());
        o.definer = text_at(&r, 1);
        o.on_table = text_at(&r, 2);
        inv.objects.push(o);
    }
    for r in rows(conn, target, "the routines", &format!(
        "SELECT ROUTINE_NAME, ROUTINE_TYPE, DEFINER, SECURITY_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {d} ORDER BY ROUTINE_TYPE, ROUTINE_NAME"
    ))
    .await?
    {
        let name = text_at(&r, 0).unwrap_or_default();
        let kind = match text_at(&r, 1).unwrap_or_default().as_str() {
            "PROCEDURE" => ObjectKind::Procedure,
            "FUNCTION" => ObjectKind::Function,
            other => {
                bad.push(Uncapturable {
                    object: format!("routine `{name}`"),
                    why: format!("its ROUTINE_TYPE '{other}' is not one this backup knows how to capture"),
                });
                continue;
            }
        };
        let mut o = InventoryObject::new(kind, name);
        o.definer = text_at(&r, 2);
        o.security = text_at(&r, 3);
        inv.objects.push(o);
    }
    for r in rows(conn, target, "the events", &format!(
        "SELECT EVENT_NAME, DEFINER FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {d} ORDER BY EVENT_NAME"
    ))
    .await?
    {
        let mut o = InventoryObject::new(ObjectKind::Event, text_at(&r, 0).unwrap_or_default());
        o.definer = text_at(&r, 1);
        inv.objects.push(o);
    }
    Ok((inv, bad))
}

/// The state of sequence `db`.`name`.
pub async fn sequence_state(
    conn: &mut MySqlConnection,
    target: &Target,
    db: &str,
    name: &str,
) -> Result<SequenceState> {
    let r = rows(
        conn,
        target,
        &format!("the state of sequence `{name}`"),
        &format!(
            "SELECT next_not_cached_value, cycle_count FROM {}.{}",
            quote_ident(db),
            quote_ident(name)
        ),
    )
    .await?;
    let at = |i| {
        r.first()
            .and_then(|r| text_at(r, i))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(SequenceState {
        next_value: at(0),
        cycle_count: at(1),
    })
}

/// The SQL that brings a created sequence `name` to `state` (replayable by
/// the `mariadb` client: `DO` prints nothing).
pub fn sequence_restore_sql(name: &str, state: &SequenceState) -> String {
    format!(
        "DO SETVAL({}, {}, 0, {})",
        quote_ident(name),
        state.next_value,
        state.cycle_count
    )
}

/// What [`compare`] looks at.
#[derive(Debug, Clone, Default)]
pub struct CompareScope {
    /// Only tables, versioned tables and sequences (a shadow schema holds no other objects).
    pub tables_only: bool,
    /// Only these table-like names (a table-scoped restore); None: all.
    pub tables: Option<Vec<String>>,
    /// Objects whose owner the restore plan said would change: their
    /// definer is not compared.
    pub owner_changes: BTreeSet<(ObjectKind, String)>,
    /// Report objects that exist but are not expected.
    pub extras: bool,
}

/// Differences between the `expected` inventory (a backup's) and `actual`
/// (what a database holds now), in the operator's words; empty when equal.
/// Row counts are not compared here (content hashes compare tables).
pub fn compare(expected: &Inventory, actual: &Inventory, scope: &CompareScope) -> Vec<String> {
    let in_scope = |o: &InventoryObject| {
        if scope.tables_only && !o.kind.is_table_like() {
            return false;
        }
        match (&scope.tables, o.kind.is_table_like()) {
            (Some(t), true) => t.contains(&o.name),
            (Some(_), false) => false,
            (None, _) => true,
        }
    };
    let mut out = Vec::new();
    for e in expected.objects.iter().filter(|o| in_scope(o)) {
        let Some(a) = actual.find(e.kind, &e.name) else {
            match actual
                .objects
                .iter()
                .find(|a| a.name == e.name && a.kind.is_table_like() == e.kind.is_table_like())
            {
                Some(a) => out.push(format!("{} is a {} here", e.describe(), a.kind.label())),
                None => out.push(format!("{} is missing", e.describe())),
            }
            continue;
        };
        if e.partitioned != a.partitioned {
            out.push(format!(
                "{} is {}partitioned here, it was {}partitioned",
                e.describe(),
                if a.partitioned { "" } else { "not " },
                if e.partitioned { "" } else { "not " }
            ));
        }
        if e.definer != a.definer && !scope.owner_changes.contains(&(e.kind, e.name.clone())) {
            out.push(format!(
                "{} is owned by {}, it was owned by {}",
                e.describe(),
                a.definer.as_deref().unwrap_or("nobody"),
                e.definer.as_deref().unwrap_or("nobody")
            ));
        }
        if e.security != a.security {
            out.push(format!(
                "{} runs with SQL SECURITY {}, it ran with {}",
                e.describe(),
                a.security.as_deref().unwrap_or("-"),
                e.security.as_deref().unwrap_or("-")
            ));
        }
        if let (Some(es), Some(asq)) = (&e.sequence, &a.sequence) {
            if es != asq {
                out.push(format!(
                    "{} hands out {} next (cycle {}), it handed out {} (cycle {})",
                    e.describe(),
                    asq.next_value,
                    asq.cycle_count,
                    es.next_value,
                    es.cycle_count
                ));
            }
        }
    }
    if scope.extras {
        for a in actual.objects.iter().filter(|o| in_scope(o)) {
            if expected.find(a.kind, &a.name).is_none()
                && !expected
                    .objects
                    .iter()
                    .any(|e| e.name == a.name && e.kind.is_table_like() == a.kind.is_table_like())
            {
                out.push(format!("{} exists but is not in the backup", a.describe()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(kind: ObjectKind, name: &str, definer: Option<&str>) -> InventoryObject {
        let mut o = InventoryObject::new(kind, name.into());
        o.definer = definer.map(str::to_owned);
        o
    }

    #[test]
    fn compare_names_missing_owner_changed_and_extra_objects() {
        let mut expected = Inventory::default();
        expected.objects.push(obj(ObjectKind::Sequence, "s", None));
        expected
            .objects
            .push(obj(ObjectKind::View, "v", Some("owner@%")));
        expected
            .objects
            .push(obj(ObjectKind::Procedure, "p", Some("owner@%")));
        let mut actual = Inventory::default();
        actual
            .objects
            .push(obj(ObjectKind::View, "v", Some("ops@%")));
        actual
            .objects
            .push(obj(ObjectKind::Procedure, "p", Some("ops@%")));
        actual
            .objects
            .push(obj(ObjectKind::Event, "e", Some("ops@%")));
        let mut scope = CompareScope {
            extras: true,
            ..CompareScope::default()
        };
        scope
            .owner_changes
            .insert((ObjectKind::Procedure, "p".into()));
        let d = compare(&expected, &actual, &scope);
        assert_eq!(
            d,
            vec![
                "sequence `s` is missing".to_owned(),
                "view `v` is owned by ops@%, it was owned by owner@%".into(),
                "event `e` exists but is not in the backup".into(),
            ],
            "the planned owner change of `p` is not a difference"
        );
        assert!(compare(&expected, &expected, &scope).is_empty());
    }

    #[test]
    fn old_manifests_without_the_new_fields_still_parse() {
        let o: InventoryObject =
            serde_json::from_str(r#"{"kind":"table","name":"t"}"#).expect("parse");
        assert_eq!(o.kind, ObjectKind::Table);
        assert!(!o.partitioned && o.definer.is_none());
    }
}

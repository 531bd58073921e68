//! The restore plan's object lines: the backup's inventory in scope, the
//! objects whose owner would change, and the objects the restore would lose
//! (with a preflight check when the server cannot take an object back).

use nfops_backup::Manifest;
use nfops_core::Result;
use nfops_mysql::inventory::{self, InventoryObject, ObjectKind};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::Target;

use super::plan::PreflightCheck;
use super::steps::load::inventory as inv;

/// What the plan says about objects.
#[derive(Debug, Default)]
pub(crate) struct ObjectLines {
    pub inventory: Vec<String>,
    pub owner_changes: Vec<String>,
    pub lost: Vec<String>,
}

/// The line "no inventory recorded" an old backup's plan carries.
pub const NO_INVENTORY: &str = "no inventory recorded: this backup predates inventories, so only its tables, views, triggers, routines and events are known (sequences, history and owners were not captured)";

/// Reads the target's objects and account and builds the plan's lines;
/// adds the preflight check "objects" (fails when this server cannot take
/// back an object of the backup).
///
/// Errors: the server's, reading its objects or the account's privileges.
pub(crate) async fn object_lines(
    conn: &mut MySqlConnection,
    target: &Target,
    m: &Manifest,
    tables: &[String],
    whole: bool,
    preflight: &mut Vec<PreflightCheck>,
) -> Result<ObjectLines> {
    let Some(backup) = &m.inventory else {
        return Ok(ObjectLines {
            inventory: vec![NO_INVENTORY.to_owned()],
            ..ObjectLines::default()
        });
    };
    let (live, _) = inventory::read(conn, target, &target.database).await?;
    let account = inv::restoring_account(conn, target).await?;
    let history = inv::has_insert_history(conn).await;
    let mut lost = inv::lost_objects(backup, &live, whole, history);
    lost.extend(inv::missing_owners(conn, backup, tables, whole).await);
    let owner_changes: Vec<String> = inv::owner_changes(backup, tables, whole, &account)
        .into_iter()
        .map(|o| inv::owner_change_line(o, &account))
        .collect();
    let needs_history = backup
        .objects
        .iter()
        .any(|o| o.kind == ObjectKind::VersionedTable && (whole || tables.contains(&o.name)));
    preflight.push(PreflightCheck {
        name: "objects".into(),
        ok: history || !needs_history,
        detail: if history || !needs_history {
            format!(
                "{} object(s) in scope can be recreated on this server{}",
                inv::in_scope(backup, tables, whole).count(),
                if owner_changes.is_empty() {
                    format!(" with their owners ({} may set them)", account.name)
                } else {
                    format!("; {} would change owner (see the plan)", owner_changes.len())
                }
            )
        } else {
            "the backup holds system-versioned history and this server cannot insert it (no system_versioning_insert_history): restore on MariaDB 10.11 or later".into()
        },
    });
    Ok(ObjectLines {
        inventory: inv::in_scope(backup, tables, whole).map(line).collect(),
        owner_changes,
        lost,
    })
}

/// `view `v`: owner a@%, SQL SECURITY DEFINER`, `sequence `s`: next value 17`…
fn line(o: &InventoryObject) -> String {
    let mut parts = Vec::new();
    if let Some(d) = &o.definer {
        parts.push(format!("owner {d}"));
    }
    if let Some(s) = &o.security {
        parts.push(format!("SQL SECURITY {s}"));
    }
    if let Some(t) = &o.on_table {
        parts.push(format!("on `{t}`"));
    }
    if o.partitioned {
        parts.push("partitioned".into());
    }
    if let Some(r) = o.rows {
        parts.push(format!("{r} rows"));
    }
    if let Some(h) = o.history_rows {
        parts.push(format!("{h} history rows"));
    }
    if let Some(s) = &o.sequence {
        parts.push(format!("next value {}", s.next_value));
    }
    if parts.is_empty() {
        o.describe()
    } else {
        format!("{}: {}", o.describe(), parts.join(", "))
    }
}

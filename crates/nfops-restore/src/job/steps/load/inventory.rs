//! The backup's inventory on the restore side: who restores (and whether
//! that account may give an object another owner), which objects a restore
//! would lose or give another owner (the plan's lines), and the comparison
//! of a loaded or restored database with the inventory.

use std::collections::BTreeSet;

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::inventory::{self, CompareScope, Inventory, InventoryObject, ObjectKind};
use nfops_mysql::schema::text_at;
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::Target;

use crate::source::BackupSource;

/// The account a restore runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `user@host`, as `CURRENT_USER()` and `DEFINER` columns write it.
    pub name: String,
    /// It holds `SET USER` or `SUPER` (MySQL: `SET_USER_ID`), so it may
    /// create objects owned by another account.
    pub may_set_definer: bool,
}

/// Reads the session's account and whether it may set another definer.
pub async fn restoring_account(conn: &mut MySqlConnection, target: &Target) -> Result<Account> {
    let r = sqlx::Executor::fetch_one(
        &mut *conn,
        "SELECT CURRENT_USER(), (SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES \
         WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''') \
         AND PRIVILEGE_TYPE IN ('SUPER', 'SET USER', 'SET_USER_ID'))",
    )
    .await
    .map_err(|e| target.error("could not read the restoring account's privileges on", e))?;
    Ok(Account {
        name: text_at(&r, 0).unwrap_or_default(),
        may_set_definer: text_at(&r, 1).is_some_and(|n| n != "0"),
    })
}

/// Objects of `inv` in a restore's scope: all for a whole restore; for a
/// table-scoped one, its tables and their triggers.
pub fn in_scope<'a>(
    inv: &'a Inventory,
    tables: &'a [String],
    whole: bool,
) -> impl Iterator<Item = &'a InventoryObject> {
    inv.objects.iter().filter(move |o| {
        whole
            || (o.kind.is_table_like() && tables.contains(&o.name))
            || (o.kind == ObjectKind::Trigger
                && o.on_table.as_ref().is_some_and(|t| tables.contains(t)))
    })
}

/// Objects that would be created owned by `account` instead of their
/// recorded owner: every owned object with another definer, when the
/// account may not set definers.
pub fn owner_changes<'a>(
    inv: &'a Inventory,
    tables: &'a [String],
    whole: bool,
    account: &'a Account,
) -> Vec<&'a InventoryObject> {
    if account.may_set_definer {
        return Vec::new();
    }
    in_scope(inv, tables, whole)
        .filter(|o| o.kind.has_owner())
        .filter(|o| o.definer.as_deref().is_some_and(|d| d != account.name))
        .collect()
}

/// The plan's line for an owner change.
pub fn owner_change_line(o: &InventoryObject, account: &Account) -> String {
    format!(
        "{} owned by {} would be owned by {} (that account has neither SET USER nor SUPER){}",
        o.describe(),
        o.definer.as_deref().unwrap_or("nobody"),
        account.name,
        if o.security.as_deref() == Some("DEFINER") {
            "; it runs with SQL SECURITY DEFINER, so its rights change"
        } else {
            ""
        }
    )
}

/// The recorded owners that have no account on the target server, as plan
/// lines (an object owned by a missing account fails when used).
pub async fn missing_owners(
    conn: &mut MySqlConnection,
    inv: &Inventory,
    tables: &[String],
    whole: bool,
) -> Vec<String> {
    let owners: BTreeSet<&str> = in_scope(inv, tables, whole)
        .filter_map(|o| o.definer.as_deref())
        .collect();
    let mut out = Vec::new();
    for d in owners {
        let Some((user, host)) = d.rsplit_once('@') else {
            continue;
        };
        let sql = format!(
            "SELECT COUNT(*) FROM mysql.user WHERE User = {} AND Host = {}",
            nfops_mysql::literal::quote_str(user),
            nfops_mysql::literal::quote_str(host)
        );
        match sqlx::Executor::fetch_one(&mut *conn, sql.as_str()).await {
            Ok(r) if text_at(&r, 0).as_deref() == Some("0") => out.push(format!(
                "owner {d} has no account on this server: the objects it owns are restored with it as owner but fail when used until the account exists"
            )),
            Ok(_) => {}
            Err(_) => out.push(format!(
                "owner {d}: whether the account exists on this server could not be checked (no SELECT on mysql.user)"
            )),
        }
    }
    out
}

/// Plan lines for objects a restore would lose: what exists now and is not
/// in the backup (a whole restore removes it), and what this server cannot
/// take back (history without `system_versioning_insert_history`).
pub fn lost_objects(
    backup: &Inventory,
    live: &Inventory,
    whole: bool,
    insert_history: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    if whole {
        for o in &live.objects {
            let kept = backup.objects.iter().any(|b| {
                b.name == o.name
                    && b.kind.is_table_like() == o.kind.is_table_like()
                    && (b.kind == o.kind || o.kind.is_table_like())
            });
            if !kept {
                out.push(format!(
                    "{} exists now and is not in the backup: {}",
                    o.describe(),
                    if o.kind.is_table_like() {
                        "it moves to the safety schema"
                    } else {
                        "it is dropped"
                    }
                ));
            }
        }
    }
    if !insert_history {
        for o in backup
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::VersionedTable)
        {
            out.push(format!(
                "{} has {} history row(s) this server cannot take back (it has no system_versioning_insert_history; MariaDB 10.11 or later has)",
                o.describe(),
                o.history_rows.unwrap_or(0)
            ));
        }
    }
    out
}

/// Whether the server accepts `system_versioning_insert_history`.
pub async fn has_insert_history(conn: &mut MySqlConnection) -> bool {
    sqlx::Executor::fetch_one(&mut *conn, "SELECT @@system_versioning_insert_history")
        .await
        .is_ok()
}

/// Compares the objects of `db` on the server with the backup's inventory in
/// the restore's scope (`tables_only` for a shadow). Returns how many
/// objects were compared.
///
/// Errors: `job.check_failed` naming every difference; none when the backup
/// records no inventory (0 compared).
pub async fn verify_objects(
    source: &BackupSource,
    target: &Target,
    db: &str,
    scope: CompareScope,
    what: &str,
) -> Result<usize> {
    let Some(expected) = &source.manifest.inventory else {
        return Ok(0);
    };
    // Not `target.connect()`: a drill's database does not exist before the swap.
    let mut conn = super::server_session(target).await?;
    let (actual, _) = inventory::read(&mut conn, target, db).await?;
    let _ = sqlx::Connection::close(conn).await;
    let diff = inventory::compare(expected, &actual, &scope);
    if !diff.is_empty() {
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "{what} differs from the inventory of backup {}: {}",
                source.manifest.backup_id,
                diff.join("; ")
            ),
        )
        .hint("The object named did not come back as the backup recorded it; see the restore plan's object lines."));
    }
    Ok(expected
        .objects
        .iter()
        .filter(|o| !scope.tables_only || o.kind.is_table_like())
        .filter(|o| match &scope.tables {
            Some(t) => o.kind.is_table_like() && t.contains(&o.name),
            None => true,
        })
        .count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(kind: ObjectKind, name: &str, definer: Option<&str>) -> InventoryObject {
        serde_json::from_value(serde_json::json!({"kind": kind, "name": name, "definer": definer, "security": "DEFINER"}))
            .expect("object")
    }

    #[test]
    fn owners_change_only_without_the_privilege_and_only_for_other_owners() {
        let inv = Inventory {
            objects: vec![
                obj(ObjectKind::Table, "t", None),
                obj(ObjectKind::View, "v", Some("owner@%")),
                obj(ObjectKind::Procedure, "p", Some("ops@%")),
            ],
        };
        let mut acc = Account {
            name: "ops@%".into(),
            may_set_definer: true,
        };
        assert!(owner_changes(&inv, &[], true, &acc).is_empty());
        acc.may_set_definer = false;
        let c = owner_changes(&inv, &[], true, &acc);
        assert_eq!(c.len(), 1, "{c:?}");
        let line = owner_change_line(c[0], &acc);
        assert!(
            line.contains("view `v` owned by owner@% would be owned by ops@%")
                && line.contains("SQL SECURITY DEFINER"),
            "{line}"
        );
        assert!(
            owner_changes(&inv, &["t".into()], false, &acc).is_empty(),
            "a table-scoped restore touches no view"
        );
    }

    #[test]
    fn a_whole_restore_names_what_exists_now_and_not_in_the_backup() {
        let backup = Inventory {
            objects: vec![
                obj(ObjectKind::Table, "t", None),
                obj(ObjectKind::VersionedTable, "h", None),
            ],
        };
        let live = Inventory {
            objects: vec![
                obj(ObjectKind::Table, "t", None),
                obj(ObjectKind::Sequence, "s", None),
                obj(ObjectKind::Event, "e", Some("x@%")),
            ],
        };
        let lost = lost_objects(&backup, &live, true, false);
        assert_eq!(lost.len(), 3, "{lost:?}");
        assert!(lost[0].starts_with("sequence `s` exists now"));
        assert!(lost[1].starts_with("event `e` exists now") && lost[1].ends_with("it is dropped"));
        assert!(lost[2].contains("history row(s) this server cannot take back"));
        assert!(lost_objects(&backup, &live, false, true).is_empty());
    }
}

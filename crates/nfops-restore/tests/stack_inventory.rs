//! The inventory on the real stack (staging's MariaDB, scratch databases
//! `nf_inv*` dropped at the end, so `newfinity` is untouched): a sequence, a
//! system-versioned table with history, a partitioned table and objects
//! owned by another account are backed up, verified and restored with their
//! state and owner; a restoring account that may not set owners gets a plan
//! listing every owner change; an object the backup cannot capture fails it.

use std::sync::Arc;

use age::x25519;
use nfops_core::jobs::{CancellationToken, JobState, NoProgress};
use nfops_mysql::{ObjectKind, Target};
use nfops_restore::job::DatabaseState;
use nfops_restore::{plan_restore, RestoreRequest};
use nfops_testkit::{db, Stack};

const DB: &str = "nf_inv";
const OWNER: &str = "nf_inv_owner@%";

/// The scratch database: a sequence advanced three times (NOCACHE, so its
/// state is exact), a versioned table with 2 current and 2 history rows, a
/// partitioned table, and a SQL SECURITY DEFINER view and procedure owned by
/// another account.
const SETUP: &str = "DROP DATABASE IF EXISTS nf_inv; CREATE DATABASE nf_inv; \
CREATE USER IF NOT EXISTS 'nf_inv_owner'@'%' IDENTIFIED BY 'nf-inv-owner-pw'; GRANT SELECT, EXECUTE ON nf_inv.* TO 'nf_inv_owner'@'%'; \
USE nf_inv; \
CREATE SEQUENCE seq_orders START WITH 100 INCREMENT BY 5 NOCACHE; \
DO NEXTVAL(seq_orders); DO NEXTVAL(seq_orders); DO NEXTVAL(seq_orders); \
CREATE TABLE prices (id INT PRIMARY KEY, cents INT NOT NULL) WITH SYSTEM VERSIONING; \
INSERT INTO prices VALUES (1, 100), (2, 200), (3, 900); UPDATE prices SET cents = 150 WHERE id = 1; DELETE FROM prices WHERE id = 2; \
CREATE TABLE visits (id INT NOT NULL, at DATE NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (YEAR(at)) (PARTITION p2025 VALUES LESS THAN (2026), PARTITION pmax VALUES LESS THAN MAXVALUE); \
INSERT INTO visits VALUES (1, '2025-05-01'), (2, '2026-05-01'), (3, '2027-01-01'); \
CREATE DEFINER='nf_inv_owner'@'%' SQL SECURITY DEFINER VIEW cheap AS SELECT id, cents FROM prices WHERE cents < 500; \
CREATE DEFINER='nf_inv_owner'@'%' PROCEDURE count_prices() SQL SECURITY DEFINER SELECT COUNT(*) FROM prices";

const HISTORY: &str = "SELECT GROUP_CONCAT(CONCAT_WS('/', id, cents, row_start, row_end) ORDER BY id, row_start SEPARATOR ' ') FROM nf_inv.prices FOR SYSTEM_TIME ALL";

fn on(stack: &Stack, db: &str) -> Target {
    stack.target("staging", db)
}

/// A restore request of `dir` into scratch database `db` of staging.
fn restore_req(stack: &Stack, dir: &std::path::Path, id: &x25519::Identity) -> RestoreRequest {
    let mut req = stack.restore_request("staging", dir, id);
    if let Some(d) = req.env.database.as_mut() {
        d.name = DB.into();
    }
    req
}

async fn cleanup(stack: &Stack) {
    let t = on(stack, "information_schema");
    db::drop_safety(&t, DB).await;
    db::exec(&t, "DROP DATABASE IF EXISTS nf_inv; DROP DATABASE IF EXISTS nf_inv_bad; DROP DATABASE IF EXISTS nfops_shadow_nf_inv; DROP USER IF EXISTS 'nf_inv_owner'@'%'; DROP USER IF EXISTS 'nf_inv_restorer'@'%'").await;
}

async fn back_up(stack: &Stack, id: &x25519::Identity) -> std::path::PathBuf {
    let mut req = stack.backup_request("staging", id);
    if let Some(d) = req.env.database.as_mut() {
        d.name = DB.into();
    }
    stack.take_backup(req).await.path.expect("published backup")
}

async fn restore(req: RestoreRequest, stack: &Stack) -> nfops_restore::job::RestoreOutcome {
    let plan = plan_restore(&req).await.expect("plan");
    assert!(plan.ready(), "preflight passes: {:?}", plan.preflight);
    let out = stack.run_restore_under(req, &plan).await;
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    assert_eq!(
        out.database_state,
        DatabaseState::Restored,
        "{}",
        out.state_detail
    );
    out
}

// Long on purpose: one scenario (set up, back up, verify, damage, plan, restore, check every object).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequences_history_partitions_and_owners_survive_backup_and_restore() {
    let Some(stack) = Stack::from_env("inventory_roundtrip") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    cleanup(&stack).await;
    let t = on(&stack, DB);
    db::exec(&on(&stack, "information_schema"), SETUP).await;
    let history_before = db::scalar(&t, HISTORY).await;
    let id = x25519::Identity::generate();
    let dir = back_up(&stack, &id).await;

    // The manifest's inventory lists every object with its state and owner.
    let m = nfops_backup::Manifest::read(&dir).expect("manifest");
    let inv = m.inventory.clone().expect("inventory recorded");
    let seq = inv
        .find(ObjectKind::Sequence, "seq_orders")
        .expect("the sequence is in the inventory");
    assert_eq!(
        seq.sequence.as_ref().map(|s| s.next_value),
        Some(115),
        "{seq:?}"
    );
    let prices = inv
        .find(ObjectKind::VersionedTable, "prices")
        .expect("the versioned table");
    assert_eq!(
        (prices.rows, prices.history_rows),
        (Some(2), Some(2)),
        "{prices:?}"
    );
    assert!(inv
        .find(ObjectKind::Table, "visits")
        .is_some_and(|v| v.partitioned));
    for (kind, name) in [
        (ObjectKind::View, "cheap"),
        (ObjectKind::Procedure, "count_prices"),
    ] {
        let o = inv
            .find(kind, name)
            .unwrap_or_else(|| panic!("{name} in {inv:?}"));
        assert_eq!(o.definer.as_deref(), Some(OWNER), "{o:?}");
        assert_eq!(o.security.as_deref(), Some("DEFINER"), "{o:?}");
    }
    // The plain `age -d | zstd -d | mariadb` path gets them too: they are in the files.
    let source = nfops_restore::BackupSource::open(&dir).expect("open");
    // Files are read only from the checked private copy.
    source.check_files(&|_| {}).expect("checked copy");
    let schema = source
        .sql_text(source.schema_file().expect("schema"), &id)
        .expect("schema text");
    assert!(
        schema.contains("CREATE SEQUENCE `seq_orders`")
            && schema.contains("DO SETVAL(`seq_orders`, 115"),
        "{schema}"
    );
    assert!(
        schema.contains("WITH SYSTEM VERSIONING") && schema.contains("PARTITION BY RANGE"),
        "{schema}"
    );
    let post = source
        .sql_text(source.post_file().expect("post"), &id)
        .expect("post text");
    assert!(
        post.contains("DEFINER=`nf_inv_owner`@`%`"),
        "owners are written: {post}"
    );
    let report = nfops_backup::verify::verify_dir(&dir, &id, nfops_backup::Scope::Full, &|_| {})
        .expect("verify");
    assert!(report.ok(), "backup verify passes: {:?}", report.findings);

    // Lose everything after the backup, and add a sequence the backup does not have.
    db::exec(&t, "DROP SEQUENCE seq_orders; DROP VIEW cheap; DROP PROCEDURE count_prices; DROP TABLE prices; DROP TABLE visits; CREATE SEQUENCE nf_inv_later").await;

    let req = restore_req(&stack, &dir, &id);
    let plan = plan_restore(&req).await.expect("plan");
    assert!(
        plan.owner_changes.is_empty(),
        "nf_ops may set owners: {:?}",
        plan.owner_changes
    );
    assert!(
        plan.inventory
            .iter()
            .any(|l| l.contains("sequence `seq_orders`: next value 115")),
        "{:?}",
        plan.inventory
    );
    assert!(
        plan.inventory
            .iter()
            .any(|l| l.contains("view `cheap`: owner nf_inv_owner@%, SQL SECURITY DEFINER")),
        "{:?}",
        plan.inventory
    );
    assert!(
        plan.objects_lost
            .iter()
            .any(|l| l.starts_with("sequence `nf_inv_later` exists now and is not in the backup")),
        "the plan names what a whole restore takes away: {:?}",
        plan.objects_lost
    );
    let out = restore(req, &stack).await;
    assert!(
        out.job.steps.iter().any(|s| s.0 == "check objects"),
        "{:?}",
        out.job.steps
    );

    assert_eq!(
        db::scalar(&t, "SELECT NEXTVAL(seq_orders)")
            .await
            .as_deref(),
        Some("115"),
        "the sequence continues where it was"
    );
    assert_eq!(
        db::scalar(&t, HISTORY).await,
        history_before,
        "current and history rows with their periods"
    );
    assert_eq!(
        db::scalar(&t, "SELECT COUNT(*) FROM prices")
            .await
            .as_deref(),
        Some("2")
    );
    assert_eq!(db::scalar(&t, "SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA='nf_inv' AND TABLE_NAME='visits'").await.as_deref(), Some("2"), "partitions kept");
    assert_eq!(db::scalar(&t, "SELECT CONCAT(DEFINER, ' ', SECURITY_TYPE) FROM information_schema.VIEWS WHERE TABLE_SCHEMA='nf_inv' AND TABLE_NAME='cheap'").await.as_deref(), Some("nf_inv_owner@% DEFINER"));
    assert_eq!(db::scalar(&t, "SELECT CONCAT(DEFINER, ' ', SECURITY_TYPE) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='nf_inv' AND ROUTINE_NAME='count_prices'").await.as_deref(), Some("nf_inv_owner@% DEFINER"));
    assert_eq!(
        db::scalar(&t, "SELECT COUNT(*) FROM cheap")
            .await
            .as_deref(),
        Some("1"),
        "the view works under its owner's rights"
    );
    assert_eq!(db::scalar(&t, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='nf_inv' AND TABLE_NAME='nf_inv_later'").await.as_deref(), Some("0"), "the later sequence went to the safety schema");

    // (Safety schema names have a one-second clock: the next restore must not meet this one's.)
    db::drop_safety(&on(&stack, "information_schema"), DB).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // A restoring account without SET USER/SUPER: the plan lists every owner change; the restore does what it said.
    // PROCESS and REPLICATION MASTER ADMIN: a restore must be able to list the primary's replicas (README, replica policy).
    db::exec(&on(&stack, "information_schema"), "CREATE USER IF NOT EXISTS 'nf_inv_restorer'@'%' IDENTIFIED BY 'nf-inv-restorer-pw'; GRANT ALL ON `nf\\_inv`.* TO 'nf_inv_restorer'@'%'; GRANT ALL ON `nfops\\_%`.* TO 'nf_inv_restorer'@'%'; GRANT PROCESS, REPLICATION MASTER ADMIN ON *.* TO 'nf_inv_restorer'@'%'").await;
    db::exec(&t, "DROP VIEW cheap; DROP PROCEDURE count_prices").await;
    let mut req = restore_req(&stack, &dir, &id);
    let mut values = stack.credential_values.clone();
    values.push(("stack/inv/restorer".into(), "nf-inv-restorer-pw".into()));
    req.creds = Arc::new(nfops_testkit::stack::memory_credentials(&values));
    if let Some(d) = req.env.database.as_mut() {
        d.user = "nf_inv_restorer".into();
        d.password_credential = "stack/inv/restorer".into();
    }
    let plan = plan_restore(&req).await.expect("plan");
    assert_eq!(plan.owner_changes.len(), 2, "{:?}", plan.owner_changes);
    assert!(
        plan.owner_changes.iter().any(|l| l.starts_with(
            "view `cheap` owned by nf_inv_owner@% would be owned by nf_inv_restorer@%"
        )),
        "{:?}",
        plan.owner_changes
    );
    let out = restore(req, &stack).await;
    assert!(out.job.steps.iter().any(|s| s.0 == "check objects"));
    assert_eq!(db::scalar(&t, "SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA='nf_inv' AND TABLE_NAME='cheap'").await.as_deref(), Some("nf_inv_restorer@%"), "owned by the restoring account, as the plan said");

    // A manifest written before inventories still loads; its plan says so.
    let old_dir = stack.tmp.path().join("pre-inventory");
    copy_dir(&dir, &old_dir);
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(old_dir.join("manifest.json")).expect("read"))
            .expect("json");
    json.as_object_mut().expect("object").remove("inventory");
    std::fs::write(
        old_dir.join("manifest.json"),
        serde_json::to_vec(&json).expect("json"),
    )
    .expect("write");
    // Signed again by the stack operator, as such a backup was when written.
    nfops_backup::signature::sign_manifest(&old_dir, &stack.signing_key()).expect("re-sign");
    let plan = plan_restore(&restore_req(&stack, &old_dir, &id))
        .await
        .expect("plan of an old backup");
    assert!(
        plan.inventory.len() == 1 && plan.inventory[0].starts_with("no inventory recorded"),
        "{:?}",
        plan.inventory
    );

    cleanup(&stack).await;
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("dir").flatten() {
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_the_backup_cannot_capture_fails_the_backup_naming_it() {
    let Some(stack) = Stack::from_env("inventory_uncapturable") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    cleanup(&stack).await;
    // Versioned by transaction id: its history cannot be inserted back.
    db::exec(&on(&stack, "information_schema"), "CREATE DATABASE nf_inv_bad; CREATE TABLE nf_inv_bad.ledger (id INT, rs BIGINT UNSIGNED GENERATED ALWAYS AS ROW START, re BIGINT UNSIGNED GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME (rs, re)) ENGINE=InnoDB WITH SYSTEM VERSIONING; INSERT INTO nf_inv_bad.ledger (id) VALUES (1)").await;
    let id = x25519::Identity::generate();
    let mut req = stack.backup_request("staging", &id);
    if let Some(d) = req.env.database.as_mut() {
        d.name = "nf_inv_bad".into();
    }
    let plan = nfops_backup::plan_backup(&req).await.expect("plan");
    let out = nfops_backup::run_backup(
        req,
        &plan,
        &stack.runner().await,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("the run is recorded");
    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    let err = out.job.error.clone().expect("error");
    assert!(
        err.message.contains("system-versioned table `ledger`")
            && err.message.contains("cannot capture"),
        "the error names the object: {}",
        err.message
    );
    assert!(out.path.is_none(), "no backup was published");
    cleanup(&stack).await;
}

//! Restores against the real stack: a whole restore brings back exactly the
//! backup (content hashes), views, triggers and foreign keys; damaged
//! backups and wrong keys stop before the target is touched.

mod common;

use std::sync::Arc;

use age::x25519;
use nfops_core::jobs::{CancellationToken, JobState, NoProgress};
use nfops_restore::job::DatabaseState;
use nfops_restore::{plan_restore, run_restore};

/// Production objects the platform does not have, added for the test (a
/// view, a trigger, a procedure) and removed at the end.
const FIXTURES: &str = "DROP VIEW IF EXISTS nf_rs_big_orders; CREATE VIEW nf_rs_big_orders AS SELECT id, user_id FROM orders WHERE id % 2 = 0; \
DROP TRIGGER IF EXISTS nf_rs_legacy_note; CREATE TRIGGER nf_rs_legacy_note BEFORE INSERT ON legacy_imports FOR EACH ROW SET NEW.note = COALESCE(NEW.note, 'via trigger'); \
DROP PROCEDURE IF EXISTS nf_rs_count; CREATE PROCEDURE nf_rs_count() SELECT COUNT(*) FROM users";
const CLEANUP: &str = "DROP VIEW IF EXISTS nf_rs_big_orders; DROP TRIGGER IF EXISTS nf_rs_legacy_note; DROP PROCEDURE IF EXISTS nf_rs_count; DROP TABLE IF EXISTS nf_rs_extra";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_restore_brings_back_the_backup_and_keeps_the_old_tables_safe() {
    let Some(stack) = common::Stack::from_env("whole_restore") else {
        return;
    };
    let _serial = common::serial().await;
    let db = stack.target("production", "newfinity");
    common::exec(&db, FIXTURES).await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    let before = common::content(&db).await;

    // Damage production after the backup: deleted, changed and added rows, a new table.
    common::exec(&db, "SET SESSION foreign_key_checks = 0; DELETE FROM orders WHERE id % 3 = 0; UPDATE users SET email = CONCAT('x', email) WHERE id < 50; INSERT INTO legacy_imports (source, note) VALUES ('after-backup', NULL); CREATE TABLE nf_rs_extra (id INT PRIMARY KEY); DROP VIEW nf_rs_big_orders").await;
    assert_ne!(
        common::content(&db).await,
        before,
        "production changed after the backup"
    );

    let req = stack.request("production", &dir, &identity);
    let plan = plan_restore(&req).await.expect("plan");
    assert!(plan.ready(), "preflight passes: {:?}", plan.preflight);
    assert!(
        plan.tables_removed.contains(&"nf_rs_extra".to_owned()),
        "the plan says the extra table goes: {:?}",
        plan.tables_removed
    );
    let out = run_restore(
        req,
        &plan,
        vec![],
        &stack.runner().await,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("restore runs");
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    assert_eq!(
        out.database_state,
        DatabaseState::Restored,
        "{}",
        out.state_detail
    );

    let after = common::content(&db).await;
    assert_eq!(
        after,
        common::manifest_content(&dir),
        "production equals the backup, table by table (rows and content hash)"
    );
    assert_eq!(after, before, "and equals production at backup time");
    // Views, triggers, routines and foreign keys came back and work.
    assert_eq!(common::scalar(&db, "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA='newfinity' AND TABLE_NAME='nf_rs_big_orders'").await.as_deref(), Some("1"));
    assert_eq!(common::scalar(&db, "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='newfinity' AND ROUTINE_NAME='nf_rs_count'").await.as_deref(), Some("1"));
    common::exec(
        &db,
        "INSERT INTO legacy_imports (source) VALUES ('nf-rs-trigger-check')",
    )
    .await;
    assert_eq!(
        common::scalar(
            &db,
            "SELECT note FROM legacy_imports WHERE source='nf-rs-trigger-check'"
        )
        .await
        .as_deref(),
        Some("via trigger"),
        "the trigger fires on the restored table"
    );
    common::exec(
        &db,
        "DELETE FROM legacy_imports WHERE source='nf-rs-trigger-check'",
    )
    .await;
    assert_eq!(
        common::scalar(&db, "SELECT GROUP_CONCAT(DISTINCT UNIQUE_CONSTRAINT_SCHEMA) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA='newfinity'").await.as_deref(),
        Some("newfinity"),
        "foreign keys point at the restored tables"
    );
    let mut c = db.connect().await.expect("connect");
    let orphan = sqlx::Executor::execute(&mut c, "INSERT INTO orders (user_id, status, quantity, unit_price_cents, items, placed_at) VALUES (987654321, 'paid', 1, 1, '[]', NOW())").await;
    assert!(
        orphan.is_err(),
        "the foreign key is enforced after the restore"
    );
    // The previous tables are kept in the safety schema, the extra one included.
    let safety = out.safety_schema.clone().expect("safety schema named");
    assert_eq!(common::scalar(&db, &format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='{safety}' AND TABLE_NAME='nf_rs_extra'")).await.as_deref(), Some("1"));
    assert_eq!(common::scalar(&db, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='newfinity' AND TABLE_NAME='nf_rs_extra'").await.as_deref(), Some("0"));
    assert_eq!(common::scalar(&db, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='nfops_shadow_newfinity'").await.as_deref(), Some("0"), "no shadow left");

    common::drop_safety(&db, "newfinity").await;
    common::exec(&db, CLEANUP).await;
}

/// Restores `dir` and expects a failure before the swap, with production unchanged.
async fn expect_untouched(
    stack: &common::Stack,
    dir: &std::path::Path,
    identity: &x25519::Identity,
    code: &str,
) {
    let db = stack.target("production", "newfinity");
    let before = common::content(&db).await;
    let req = stack.request("production", dir, identity);
    let plan = plan_restore(&req).await.expect("plan");
    let out = run_restore(
        req,
        &plan,
        vec![],
        &stack.runner().await,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("restore records its failure");
    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    let err = out.job.error.clone().expect("error");
    assert_eq!(err.code, code, "{err:?}");
    assert!(
        err.message.contains("nothing was restored")
            || err.message.contains("not touched")
            || err.message.contains("your key"),
        "the message says the target is safe: {}",
        err.message
    );
    assert_eq!(out.database_state, DatabaseState::Untouched);
    assert_eq!(
        out.job.steps[1].1,
        nfops_core::jobs::StepState::Skipped,
        "nothing was loaded: {:?}",
        out.job.steps
    );
    assert_eq!(
        common::content(&db).await,
        before,
        "production content unchanged (content hash)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_backups_and_wrong_keys_stop_before_the_target_is_touched() {
    let Some(stack) = common::Stack::from_env("damaged_backups") else {
        return;
    };
    let _serial = common::serial().await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    let m = nfops_backup::Manifest::read(&dir).expect("manifest");
    let data = m
        .files
        .iter()
        .find(|f| f.name.starts_with("data/"))
        .expect("a data file")
        .name
        .clone();

    // Wrong key.
    expect_untouched(
        &stack,
        &dir,
        &x25519::Identity::generate(),
        "backup.key_mismatch",
    )
    .await;

    // Tampered: one byte flipped in the middle (same size).
    let copy = |name: &str| {
        let d = stack.tmp.path().join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("data")).expect("mkdir");
        for f in std::fs::read_dir(&dir).expect("dir").flatten() {
            if f.path().is_file() {
                std::fs::copy(f.path(), d.join(f.file_name())).expect("copy");
            }
        }
        for f in std::fs::read_dir(dir.join("data")).expect("data").flatten() {
            std::fs::copy(f.path(), d.join("data").join(f.file_name())).expect("copy");
        }
        d
    };
    let tampered = copy("tampered");
    let p = tampered.join(&data);
    let mut bytes = std::fs::read(&p).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&p, &bytes).expect("write");
    expect_untouched(&stack, &tampered, &identity, "job.check_failed").await;

    // Truncated.
    let truncated = copy("truncated");
    let p = truncated.join(&data);
    let bytes = std::fs::read(&p).expect("read");
    std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).expect("write");
    expect_untouched(&stack, &truncated, &identity, "job.check_failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_scoped_restore_replaces_only_those_tables_and_refuses_to_cut_foreign_keys() {
    let Some(stack) = common::Stack::from_env("table_scoped") else {
        return;
    };
    let _serial = common::serial().await;
    let db = stack.target("production", "newfinity");
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    common::exec(&db, "INSERT INTO legacy_imports (source, note) VALUES ('nf-rs-scoped', 'after backup'); INSERT INTO audit_events (occurred_at, action) VALUES (NOW(3), 'nf-rs-scoped')").await;
    let before = common::content(&db).await;

    let mut req = stack.request("production", &dir, &identity);
    req.tables = Some(vec!["legacy_imports".into()]);
    let plan = plan_restore(&req).await.expect("plan");
    assert_eq!(plan.tables.len(), 1);
    let out = run_restore(
        req,
        &plan,
        vec![],
        &stack.runner().await,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("runs");
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    let after = common::content(&db).await;
    let legacy =
        |v: &Vec<(String, u64, String)>| v.iter().find(|t| t.0 == "legacy_imports").cloned();
    assert_eq!(
        legacy(&after),
        legacy(&common::manifest_content(&dir)),
        "legacy_imports is the backup's"
    );
    let audit = |v: &Vec<(String, u64, String)>| v.iter().find(|t| t.0 == "audit_events").cloned();
    assert_eq!(
        audit(&after),
        audit(&before),
        "audit_events (not in scope) kept its new row"
    );

    // users is referenced by orders and files: restoring it alone is refused, nothing changes.
    let mut req = stack.request("production", &dir, &identity);
    req.tables = Some(vec!["users".into()]);
    let plan = plan_restore(&req).await.expect("plan");
    assert!(!plan.ready(), "preflight flags the crossing foreign keys");
    let out = run_restore(
        req,
        &plan,
        vec![],
        &stack.runner().await,
        Arc::new(NoProgress),
        CancellationToken::new(),
    )
    .await
    .expect("runs");
    assert_eq!(out.job.state, JobState::Failed);
    assert_eq!(out.database_state, DatabaseState::Untouched);
    assert_eq!(common::content(&db).await, after, "nothing changed");

    common::exec(
        &db,
        "DELETE FROM audit_events WHERE action = 'nf-rs-scoped'",
    )
    .await;
    common::drop_safety(&db, "newfinity").await;
}

//! Restores against the real stack: a whole restore brings back exactly the
//! backup (content hashes), views, triggers and foreign keys; damaged
//! backups and wrong keys stop before the target is touched.

use nfops_testkit::{db, Stack};

use nfops_testkit::storage::{purge, put};

use std::sync::Arc;

use age::x25519;
use nfops_core::jobs::{CancellationToken, JobState};
use nfops_restore::job::DatabaseState;
use nfops_restore::plan_restore;

/// Production objects the platform does not have, added for the test (a
/// view, a trigger, a procedure) and removed at the end.
const FIXTURES: &str = "DROP VIEW IF EXISTS nf_rs_big_orders; CREATE VIEW nf_rs_big_orders AS SELECT id, user_id FROM orders WHERE id % 2 = 0; \
DROP TRIGGER IF EXISTS nf_rs_legacy_note; CREATE TRIGGER nf_rs_legacy_note BEFORE INSERT ON legacy_imports FOR EACH ROW SET NEW.note = COALESCE(NEW.note, 'via trigger'); \
DROP PROCEDURE IF EXISTS nf_rs_count; CREATE PROCEDURE nf_rs_count() SELECT COUNT(*) FROM users";
const CLEANUP: &str = "DROP VIEW IF EXISTS nf_rs_big_orders; DROP TRIGGER IF EXISTS nf_rs_legacy_note; DROP PROCEDURE IF EXISTS nf_rs_count; DROP TABLE IF EXISTS nf_rs_extra";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_restore_brings_back_the_backup_and_keeps_the_old_tables_safe() {
    let Some(stack) = Stack::from_env("whole_restore") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("production", "newfinity");
    db::exec(&db, FIXTURES).await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    let before = db::content(&db).await;

    // Damage production after the backup: deleted, changed and added rows, a new table.
    db::exec(&db, "SET SESSION foreign_key_checks = 0; DELETE FROM orders WHERE id % 3 = 0; UPDATE users SET email = CONCAT('x', email) WHERE id < 50; INSERT INTO legacy_imports (source, note) VALUES ('after-backup', NULL); CREATE TABLE nf_rs_extra (id INT PRIMARY KEY); DROP VIEW nf_rs_big_orders").await;
    assert_ne!(
        db::content(&db).await,
        before,
        "production changed after the backup"
    );

    let req = stack.restore_request("production", &dir, &identity);
    let plan = plan_restore(&req).await.expect("plan");
    assert!(plan.ready(), "preflight passes: {:?}", plan.preflight);
    assert!(
        plan.tables_removed.contains(&"nf_rs_extra".to_owned()),
        "the plan says the extra table goes: {:?}",
        plan.tables_removed
    );
    let out = stack.restore_succeeds(req, &plan).await;
    assert_eq!(
        db::content(&db).await,
        before,
        "production equals production at backup time"
    );
    // Views, triggers, routines and foreign keys came back and work.
    assert_eq!(db::scalar(&db, "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA='newfinity' AND TABLE_NAME='nf_rs_big_orders'").await.as_deref(), Some("1"));
    assert_eq!(db::scalar(&db, "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='newfinity' AND ROUTINE_NAME='nf_rs_count'").await.as_deref(), Some("1"));
    db::exec(
        &db,
        "INSERT INTO legacy_imports (source) VALUES ('nf-rs-trigger-check')",
    )
    .await;
    assert_eq!(
        db::scalar(
            &db,
            "SELECT note FROM legacy_imports WHERE source='nf-rs-trigger-check'"
        )
        .await
        .as_deref(),
        Some("via trigger"),
        "the trigger fires on the restored table"
    );
    db::exec(
        &db,
        "DELETE FROM legacy_imports WHERE source='nf-rs-trigger-check'",
    )
    .await;
    assert_eq!(
        db::scalar(&db, "SELECT GROUP_CONCAT(DISTINCT UNIQUE_CONSTRAINT_SCHEMA) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA='newfinity'").await.as_deref(),
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
    assert_eq!(db::scalar(&db, &format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='{safety}' AND TABLE_NAME='nf_rs_extra'")).await.as_deref(), Some("1"));
    assert_eq!(db::scalar(&db, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='newfinity' AND TABLE_NAME='nf_rs_extra'").await.as_deref(), Some("0"));
    assert_eq!(db::scalar(&db, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'nfops\\_shadow\\_newfinity\\_%'").await.as_deref(), Some("0"), "no shadow left (the job's own name)");

    db::drop_safety(&db, "newfinity").await;
    db::exec(&db, CLEANUP).await;
}

/// Restores `dir` and expects a failure before the swap, with production unchanged.
async fn expect_untouched(
    stack: &Stack,
    dir: &std::path::Path,
    identity: &x25519::Identity,
    code: &str,
) {
    let db = stack.target("production", "newfinity");
    let before = db::content(&db).await;
    let req = stack.restore_request("production", dir, identity);
    let plan = plan_restore(&req).await.expect("plan");
    let out = stack.run_restore_under(req, &plan).await;
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
        db::content(&db).await,
        before,
        "production content unchanged (content hash)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_backups_and_wrong_keys_stop_before_the_target_is_touched() {
    let Some(stack) = Stack::from_env("damaged_backups") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
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
    let Some(stack) = Stack::from_env("table_scoped") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("production", "newfinity");
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    db::exec(&db, "INSERT INTO legacy_imports (source, note) VALUES ('nf-rs-scoped', 'after backup'); INSERT INTO audit_events (occurred_at, action) VALUES (NOW(3), 'nf-rs-scoped')").await;
    let before = db::content(&db).await;

    let mut req = stack.restore_request("production", &dir, &identity);
    req.tables = Some(vec!["legacy_imports".into()]);
    let plan = plan_restore(&req).await.expect("plan");
    assert_eq!(plan.tables.len(), 1);
    let out = stack.run_restore_under(req, &plan).await;
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    let after = db::content(&db).await;
    let legacy =
        |v: &Vec<(String, u64, String)>| v.iter().find(|t| t.0 == "legacy_imports").cloned();
    assert_eq!(
        legacy(&after),
        legacy(&db::manifest_content(&dir)),
        "legacy_imports is the backup's"
    );
    let audit = |v: &Vec<(String, u64, String)>| v.iter().find(|t| t.0 == "audit_events").cloned();
    assert_eq!(
        audit(&after),
        audit(&before),
        "audit_events (not in scope) kept its new row"
    );

    // users is referenced by orders and files: restoring it alone is refused, nothing changes.
    let mut req = stack.restore_request("production", &dir, &identity);
    req.tables = Some(vec!["users".into()]);
    let plan = plan_restore(&req).await.expect("plan");
    assert!(!plan.ready(), "preflight flags the crossing foreign keys");
    let out = stack.run_restore_under(req, &plan).await;
    assert_eq!(out.job.state, JobState::Failed);
    assert_eq!(out.database_state, DatabaseState::Untouched);
    assert_eq!(db::content(&db).await, after, "nothing changed");

    db::exec(
        &db,
        "DELETE FROM audit_events WHERE action = 'nf-rs-scoped'",
    )
    .await;
    db::drop_safety(&db, "newfinity").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_comes_back_to_the_snapshot_with_the_database() {
    let Some(stack) = Stack::from_env("storage_restore") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let storage = stack
        .config
        .environment("production")
        .expect("env")
        .storage
        .clone()
        .expect("storage");
    let bucket = storage.buckets.get_ref()[0].clone();
    let client = nfops_storage::StorageClient::connect(&storage, stack.creds.as_ref()).expect("s3");
    let prefix = format!("nf-rs-test-{}/", std::process::id());
    put(
        &client,
        &bucket,
        &format!("{prefix}a.txt"),
        "a at backup time",
    )
    .await;
    put(
        &client,
        &bucket,
        &format!("{prefix}b.txt"),
        "b at backup time",
    )
    .await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    let snap = nfops_storage::capture(&client, &bucket, Some(&prefix))
        .await
        .expect("snapshot");
    assert_eq!(snap.objects.len(), 2);

    // After the backup: a changed, b deleted, c created.
    put(
        &client,
        &bucket,
        &format!("{prefix}a.txt"),
        "a changed later, longer",
    )
    .await;
    client
        .sdk()
        .delete_object()
        .bucket(&bucket)
        .key(format!("{prefix}b.txt"))
        .send()
        .await
        .expect("delete b");
    put(
        &client,
        &bucket,
        &format!("{prefix}c.txt"),
        "c created later",
    )
    .await;

    // The backup carries the snapshot, as a backup run with storage writes it.
    nfops_testkit::forge::add_storage_snapshot(&stack, &dir, &identity, &snap);
    let mut req = stack.restore_request("production", &dir, &identity);
    req.snapshots = vec![snap.clone()];
    let plan = plan_restore(&req).await.expect("plan");
    assert_eq!(plan.storage.len(), 1);
    let mut rolled: Vec<&str> = plan.storage[0]
        .roll_back
        .iter()
        .map(|r| r.key.as_str())
        .collect();
    rolled.sort();
    assert_eq!(
        rolled,
        vec![format!("{prefix}a.txt"), format!("{prefix}b.txt")],
        "a and b are rolled back"
    );
    assert_eq!(
        plan.storage[0].hide,
        vec![format!("{prefix}c.txt")],
        "c is hidden"
    );
    let out = stack.run_restore_under(req, &plan).await;
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);

    let after = nfops_storage::capture(&client, &bucket, Some(&prefix))
        .await
        .expect("after");
    assert_eq!(after.objects.len(), 2, "c is hidden: {:?}", after.objects);
    for o in &snap.objects {
        let now = after.get(&o.key).expect("key back");
        assert_eq!(
            (now.etag.as_str(), now.size),
            (o.etag.as_str(), o.size),
            "{} has its snapshot content",
            o.key
        );
    }
    let body = client
        .sdk()
        .get_object()
        .bucket(&bucket)
        .key(format!("{prefix}a.txt"))
        .send()
        .await
        .expect("get a");
    let bytes = body.body.collect().await.expect("body").into_bytes();
    assert_eq!(&bytes[..], b"a at backup time");
    // Reversible: c's version still exists behind its delete marker.
    let versions = client
        .sdk()
        .list_object_versions()
        .bucket(&bucket)
        .prefix(format!("{prefix}c.txt"))
        .send()
        .await
        .expect("versions");
    assert_eq!(
        versions.versions().len(),
        1,
        "c's data is kept as a version"
    );

    purge(&client, &bucket, &prefix).await;
    db::drop_safety(&stack.target("production", "newfinity"), "newfinity").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_without_versioning_is_refused() {
    let Some(stack) = Stack::from_env("unversioned") else {
        return;
    };
    let storage = stack
        .config
        .environment("production")
        .expect("env")
        .storage
        .clone()
        .expect("storage");
    let client = nfops_storage::StorageClient::connect(&storage, stack.creds.as_ref()).expect("s3");
    let bucket = format!("nf-rs-unversioned-{}", std::process::id());
    client
        .sdk()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create bucket");
    let snap = nfops_storage::BucketSnapshot {
        bucket: bucket.clone(),
        prefix: None,
        taken_at: chrono::Utc::now(),
        finished_at: chrono::Utc::now(),
        objects: vec![],
    };
    let e = nfops_storage::restore::plan(&client, &snap)
        .await
        .expect_err("refused");
    client
        .sdk()
        .delete_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("delete bucket");
    assert_eq!(e.code(), nfops_core::ErrorCode::Unhealthy);
    assert!(e.message().contains("versioning is off"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_left_by_a_crash_is_rolled_back_from_its_safety_record() {
    let Some(stack) = Stack::from_env("crash_roll_back") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("production", "newfinity");
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    db::exec(
        &db,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-rs-crash', 'after the backup')",
    )
    .await;
    let before = db::content(&db).await;

    // The steps of a restore up to the swap, then the process "dies" (no job end, no roll back).
    let source = nfops_restore::BackupSource::open(&dir).expect("source");
    // Files are read only from the checked private copy.
    source.check_files(&|_| {}).expect("checked copy");
    let tables = nfops_restore::load::scope_tables(&source, None).expect("tables");
    let job = nfops_restore::load::job_tag();
    let shadow = nfops_restore::load::shadow_schema("newfinity", &job);
    let counters = Arc::new(nfops_restore::load::LoadCounters::default());
    nfops_restore::load::load_shadow(
        &source,
        &identity,
        &db,
        &shadow,
        &tables,
        2,
        counters,
        &CancellationToken::new(),
    )
    .await
    .expect("load");
    nfops_restore::load::verify_shadow(&source, &db, &shadow, &tables)
        .await
        .expect("verify");
    let post = source
        .sql_text(source.post_file().expect("post"), &identity)
        .expect("post sql");
    let safety = nfops_restore::load::safety_schema("newfinity", chrono::Utc::now(), &job);
    let spec = nfops_restore::swap::SwapSpec {
        shadow: &shadow,
        safety: &safety,
        tables: &tables,
        whole: true,
        post_sql: &post,
        lock: None,
    };
    nfops_restore::swap::swap_in(
        &db,
        &spec,
        &nfops_restore::swap::Ledger::default(),
        &nfops_restore::swap::LockBound::default(),
    )
    .await
    .expect("swap");
    assert_ne!(
        db::content(&db).await,
        before,
        "the backup is live after the swap"
    );

    // On restart, the operator rolls back from the record in the safety schema.
    let rec = nfops_restore::swap::roll_back_latest(&db, None)
        .await
        .expect("roll back");
    assert_eq!(rec.safety, safety);
    assert_eq!(
        db::content(&db).await,
        before,
        "production is back as it was before the restore"
    );
    assert_eq!(
        db::scalar(&db, &format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('{safety}', '{shadow}')")).await.as_deref(),
        Some("0"),
        "safety and shadow schemas are gone"
    );
    db::exec(
        &db,
        "DELETE FROM legacy_imports WHERE source = 'nf-rs-crash'",
    )
    .await;
}

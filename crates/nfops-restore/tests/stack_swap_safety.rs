//! The swap against the real stack when other sessions and operators are
//! around: two restores at once, a transaction left open by the
//! application, a server whose sql_mode differs, a connection killed in the
//! middle of the swap. Each outcome must say what is really live.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use age::x25519;
use nfops_core::jobs::JobState;
use nfops_mysql::Target;
use nfops_restore::job::DatabaseState;
use nfops_restore::RestoreOutcome;
use nfops_testkit::restore::{
    hold, leftovers, planned_restore_in_background, shadow_with_orders, waiting_session,
};
use nfops_testkit::{db, Stack};

/// A trigger on staging the swap must drop and put back.
const TRIGGER: &str = "DROP TRIGGER IF EXISTS nf_sw_note; CREATE TRIGGER nf_sw_note BEFORE INSERT ON legacy_imports FOR EACH ROW SET NEW.note = COALESCE(NEW.note, 'via nf_sw_note')";

async fn restore(
    stack: &Stack,
    dir: &std::path::Path,
    identity: &x25519::Identity,
) -> RestoreOutcome {
    stack
        .run_planned_restore(stack.restore_request("staging", dir, identity))
        .await
}

/// The application: `SELECT COUNT(*)` on `table` in a loop on its own
/// session until `stop`; returns the longest single query.
fn application(
    db: Target,
    table: &'static str,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Duration> {
    tokio::spawn(async move {
        let mut c = db.connect().await.expect("app connects");
        let mut worst = Duration::ZERO;
        while !stop.load(Ordering::SeqCst) {
            let t = Instant::now();
            sqlx::Executor::execute(&mut c, format!("SELECT COUNT(*) FROM {table}").as_str())
                .await
                .expect("the application's query answers");
            worst = worst.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worst
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_restores_of_one_database_at_once_one_runs_the_other_is_refused() {
    let Some(stack) = Stack::from_env("two_restores") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    let identity = x25519::Identity::generate();
    let dir_a = stack.backup("staging", &identity).await;
    db::exec(
        &db,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-sw-two', 'only in backup b')",
    )
    .await;
    let dir_b = stack.backup("staging", &identity).await;
    db::exec(&db, "DELETE FROM legacy_imports WHERE source = 'nf-sw-two'").await;

    let (a, b) = tokio::join!(
        restore(&stack, &dir_a, &identity),
        restore(&stack, &dir_b, &identity)
    );
    let won: Vec<&RestoreOutcome> = [&a, &b]
        .into_iter()
        .filter(|o| o.job.state == JobState::Succeeded)
        .collect();
    let lost: Vec<&RestoreOutcome> = [&a, &b]
        .into_iter()
        .filter(|o| o.job.state != JobState::Succeeded)
        .collect();
    assert_eq!(
        won.len(),
        1,
        "exactly one restore proceeds: a={:?} b={:?}",
        a.job,
        b.job
    );
    assert_eq!(lost.len(), 1);
    let err = lost[0].job.error.clone().expect("the refused one says why");
    assert_eq!(err.code, "db.busy", "{err:?}");
    assert!(
        err.message.contains("another operator") && err.message.contains("nfops_restore:"),
        "the refusal names the lock and that someone else restores: {}",
        err.message
    );
    assert_eq!(
        lost[0].database_state,
        DatabaseState::Untouched,
        "{}",
        lost[0].state_detail
    );
    let winner_dir = if std::ptr::eq(won[0], &a) {
        &dir_a
    } else {
        &dir_b
    };
    assert_eq!(
        db::content(&db).await,
        db::manifest_content(winner_dir),
        "the live tables are exactly the winner's backup"
    );
    assert_eq!(
        leftovers(&db, "shadow").await,
        "0",
        "no shadow left by either run"
    );
    db::drop_safety(&db, "newfinity").await;
    db::exec(&db, "DELETE FROM legacy_imports WHERE source = 'nf-sw-two'").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_left_open_never_freezes_the_application_and_the_restore_ends_untouched() {
    let Some(stack) = Stack::from_env("open_transaction") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    db::exec(
        &db,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-sw-open', 'after the backup')",
    )
    .await;
    let before = db::content(&db).await;

    // A transaction left open on orders for the whole restore (a dump, a forgotten console).
    let (blocker, blocker_id) = hold(&db, "orders").await;
    let stop = Arc::new(AtomicBool::new(false));
    let app = application(db.clone(), "orders", stop.clone());
    let t = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(150), restore(&stack, &dir, &identity))
        .await
        .expect("the restore ends although the transaction stays open");
    stop.store(true, Ordering::SeqCst);
    let worst = app.await.expect("app");
    drop(blocker);

    let bound = nfops_restore::swap::LockBound::default().wait;
    assert!(
        worst <= bound + Duration::from_millis(1500),
        "an application query waited {worst:?}; the bound is {bound:?}"
    );
    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    let err = out.job.error.clone().expect("error");
    assert_eq!(err.code, "db.busy", "{err:?}");
    assert!(
        err.message.contains(&format!("session {blocker_id} ")),
        "the blocking session {blocker_id} is named: {}",
        err.message
    );
    assert_eq!(
        out.database_state,
        DatabaseState::Untouched,
        "{}",
        out.state_detail
    );
    assert!(
        out.state_detail.contains(&format!("session {blocker_id} ")),
        "{}",
        out.state_detail
    );
    assert_eq!(
        db::content(&db).await,
        before,
        "staging unchanged (content hash)"
    );
    assert_eq!(leftovers(&db, "shadow").await, "0");
    assert_eq!(
        leftovers(&db, "safety").await,
        "0",
        "an untouched restore keeps no safety schema"
    );
    eprintln!(
        "restore refused after {:?}; worst application query {worst:?}",
        t.elapsed()
    );
    db::exec(
        &db,
        "DELETE FROM legacy_imports WHERE source = 'nf-sw-open'",
    )
    .await;
}

/// Restores the server's global sql_mode when dropped.
struct GlobalSqlMode(Target, String);
impl Drop for GlobalSqlMode {
    fn drop(&mut self) {
        let (t, mode) = (self.0.clone(), self.1.clone());
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("rt")
                .block_on(async move {
                    let mut c = t.connect().await.expect("connect");
                    sqlx::Executor::execute(
                        &mut c,
                        format!("SET GLOBAL sql_mode = '{mode}'").as_str(),
                    )
                    .await
                    .expect("global sql_mode put back");
                })
        })
        .join()
        .expect("put back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_with_no_backslash_escapes_and_ansi_quotes_restores_cleanly() {
    let Some(stack) = Stack::from_env("sql_mode") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    db::exec(&db, TRIGGER).await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    let mode = db::scalar(&db, "SELECT @@GLOBAL.sql_mode")
        .await
        .unwrap_or_default();
    let guard = GlobalSqlMode(db.clone(), mode);
    db::exec(
        &db,
        "SET GLOBAL sql_mode = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES,STRICT_TRANS_TABLES'",
    )
    .await;
    let out = restore(&stack, &dir, &identity).await;
    drop(guard);
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    assert_eq!(
        out.database_state,
        DatabaseState::Restored,
        "{}",
        out.state_detail
    );
    assert_eq!(
        db::content(&db).await,
        db::manifest_content(&dir),
        "staging equals the backup"
    );
    // The swap record is readable JSON (a backslash-escaped literal would not be).
    let safety = out.safety_schema.clone().expect("safety");
    let rec = db::scalar(
        &db,
        &format!("SELECT record FROM `{safety}`.nfops_swap_record"),
    )
    .await
    .expect("record");
    let parsed: serde_json::Value =
        serde_json::from_str(&rec).expect("the swap record is intact JSON");
    assert_eq!(parsed["database"], "newfinity");
    db::drop_safety(&db, "newfinity").await;
    db::exec(&db, "DROP TRIGGER IF EXISTS nf_sw_note").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_swap_connection_killed_mid_rename_is_settled_from_the_server() {
    let Some(stack) = Stack::from_env("killed_swap") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    db::exec(&db, TRIGGER).await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    db::exec(
        &db,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-sw-kill', 'after the backup')",
    )
    .await;
    let before = db::content(&db).await;

    let job = planned_restore_in_background("killed_swap", "staging", &dir, &identity);
    // Hold the shadow's orders so the RENAME (after the trigger drop) waits, then kill its session.
    let shadow = shadow_with_orders(&db).await;
    let (blocker, _) = hold(&db, &format!("`{shadow}`.orders")).await;
    let swap_id = waiting_session(&db, "RENAME TABLE").await;
    // Ended before the blocker lets go, so its RENAME cannot get the lock first.
    nfops_testkit::restore::kill_and_wait(&db, &swap_id).await;
    drop(blocker);
    let out = job.await.expect("join");

    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    assert_eq!(
        out.database_state,
        DatabaseState::Untouched,
        "{}",
        out.state_detail
    );
    assert!(
        out.state_detail.contains("checked on the server"),
        "{}",
        out.state_detail
    );
    assert_eq!(db::content(&db).await, before, "staging unchanged");
    assert_eq!(
        db::scalar(&db, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='newfinity' AND TRIGGER_NAME='nf_sw_note'").await.as_deref(),
        Some("1"),
        "the trigger dropped before the RENAME is back: 'untouched' must be true"
    );
    assert_eq!(leftovers(&db, "shadow").await, "0");
    db::exec(
        &db,
        "DELETE FROM legacy_imports WHERE source = 'nf-sw-kill'; DROP TRIGGER IF EXISTS nf_sw_note",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn triggers_that_cannot_be_put_back_are_reported_not_hidden() {
    let Some(stack) = Stack::from_env("trigger_put_back") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    db::exec(&db, TRIGGER).await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    let before = db::content(&db).await;

    let job = planned_restore_in_background("trigger_put_back", "staging", &dir, &identity);
    let shadow = shadow_with_orders(&db).await;
    // The RENAME waits on the shadow; meanwhile the application opens a
    // transaction on legacy_imports (its trigger is gone by then), so the
    // trigger cannot be put back while that transaction stays open.
    let (b1, _) = hold(&db, &format!("`{shadow}`.orders")).await;
    waiting_session(&db, "RENAME TABLE").await;
    let t = Instant::now();
    let (b2, _) = hold(&db, "legacy_imports").await;
    let app_wait = t.elapsed();
    let out = job.await.expect("join");
    drop(b1);
    drop(b2);

    let bound = nfops_restore::swap::LockBound::default().wait;
    assert!(
        app_wait <= bound + Duration::from_millis(1500),
        "the application waited {app_wait:?} behind the RENAME"
    );
    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    assert_eq!(
        out.database_state,
        DatabaseState::NeedsAttention,
        "a missing trigger is not 'untouched': {}",
        out.state_detail
    );
    assert!(
        out.state_detail.contains("nf_sw_note"),
        "the missing trigger is named: {}",
        out.state_detail
    );
    let safety = out
        .safety_schema
        .clone()
        .expect("the safety schema holding the trigger's SQL is named");
    assert_eq!(
        db::scalar(
            &db,
            &format!(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{safety}'"
            )
        )
        .await
        .as_deref(),
        Some("1"),
        "the safety schema (the trigger's only copy) is kept"
    );
    assert_eq!(db::content(&db).await, before, "no row changed");

    // The operator's repair: roll back from the record puts the trigger back.
    nfops_restore::swap::roll_back_latest(&db, Some(&safety))
        .await
        .expect("roll back");
    assert_eq!(
        db::scalar(&db, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='newfinity' AND TRIGGER_NAME='nf_sw_note'").await.as_deref(),
        Some("1"),
        "the trigger is back after the roll back"
    );
    if let Some(s) = db::scalar(&db, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'nfops\\_shadow\\_newfinity\\_%' LIMIT 1").await {
        db::exec(&db, &format!("DROP DATABASE IF EXISTS `{s}`")).await;
    }
    db::drop_safety(&db, "newfinity").await;
    db::exec(&db, "DROP TRIGGER IF EXISTS nf_sw_note").await;
}

//! Restores of production with its real GTID replica (prod-db-2 in the
//! stack): after a restore the replica's tables equal the primary's
//! (CHECKSUM TABLE on both), or the restore refused before touching
//! anything, saying why.

use age::x25519;
use nfops_core::jobs::{JobState, StepState};
use nfops_mysql::Target;
use nfops_restore::job::DatabaseState;
use nfops_restore::plan_restore;
use nfops_testkit::{db, Stack};

/// The replica, directly on loopback (production's credentials).
fn replica(stack: &Stack) -> Target {
    let primary = stack.target("production", "newfinity");
    let r = stack
        .env("production")
        .database
        .clone()
        .expect("db")
        .replicas;
    let r = r
        .first()
        .expect("the stack configures production's replica");
    Target {
        port: r.port,
        label: "production replica".into(),
        ..primary
    }
}

/// CHECKSUM TABLE of every base table of newfinity, by name.
async fn checksums(t: &Target) -> Vec<(String, String)> {
    let names = db::scalar(t, "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA='newfinity' AND TABLE_TYPE='BASE TABLE'")
        .await
        .unwrap_or_default();
    let mut c = t.connect().await.expect("connect");
    let mut out = Vec::new();
    for n in names.split(',').filter(|n| !n.is_empty()) {
        let row = sqlx::Executor::fetch_one(&mut c, format!("CHECKSUM TABLE `{n}`").as_str())
            .await
            .expect("checksum");
        let sum = sqlx::Row::try_get::<Option<u64>, _>(&row, 1)
            .ok()
            .flatten()
            .map(|x| x.to_string())
            .or_else(|| nfops_mysql::schema::text_at(&row, 1))
            .unwrap_or_default();
        out.push((n.to_owned(), sum));
    }
    out
}

/// Waits for the replica to apply everything production has logged.
async fn caught_up(primary: &Target, rep: &Target) {
    let pos = db::scalar(primary, "SELECT @@GLOBAL.gtid_binlog_pos")
        .await
        .expect("pos");
    let got = db::scalar(
        rep,
        &format!("SELECT CAST(MASTER_GTID_WAIT('{pos}', 60) AS CHAR)"),
    )
    .await;
    assert_eq!(
        got.as_deref(),
        Some("0"),
        "the replica reaches the primary's GTID position {pos}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_of_production_is_replayed_by_its_replica() {
    let Some(stack) = Stack::from_env("replica_follows") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let primary = stack.target("production", "newfinity");
    let rep = replica(&stack);
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    // Production changes after the backup; the replica follows those changes.
    db::exec(&primary, "SET SESSION foreign_key_checks = 0; DELETE FROM orders WHERE id % 5 = 0; UPDATE users SET email = CONCAT('r', email) WHERE id < 20").await;
    caught_up(&primary, &rep).await;

    let req = stack.restore_request("production", &dir, &identity);
    let plan = plan_restore(&req).await.expect("plan");
    assert!(plan.ready(), "preflight passes: {:?}", plan.preflight);
    assert!(
        plan.preflight
            .iter()
            .any(|c| c.name == "replica prod-db-2" && c.ok),
        "the plan checks the replica: {:?}",
        plan.preflight
    );
    let out = stack.run_restore_under(req, &plan).await;
    assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
    assert_eq!(
        out.database_state,
        DatabaseState::Restored,
        "{}",
        out.state_detail
    );
    let step = out
        .job
        .steps
        .iter()
        .find(|s| s.0 == "replicas")
        .expect("a replicas step");
    assert_eq!(step.1, StepState::Completed, "{step:?}");
    assert!(
        step.2
            .as_deref()
            .unwrap_or_default()
            .contains("equal CHECKSUM TABLE"),
        "{step:?}"
    );

    assert_eq!(
        db::content(&primary).await,
        db::manifest_content(&dir),
        "production equals the backup"
    );
    caught_up(&primary, &rep).await;
    let (a, b) = (checksums(&primary).await, checksums(&rep).await);
    assert!(!a.is_empty());
    assert_eq!(
        a, b,
        "the replica's tables equal the primary's (CHECKSUM TABLE on both)"
    );
    db::drop_safety(&primary, "newfinity").await;
    caught_up(&primary, &rep).await;
}

/// Starts the replica's SQL thread again when dropped.
struct SqlThread(Target);
impl Drop for SqlThread {
    fn drop(&mut self) {
        let t = self.0.clone();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("rt")
                .block_on(async move {
                    let mut c = t.connect().await.expect("connect");
                    sqlx::Executor::execute(&mut c, "START SLAVE SQL_THREAD")
                        .await
                        .expect("replica restarted");
                })
        })
        .join()
        .expect("restart");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_does_not_replicate_stops_the_restore_before_anything_is_touched() {
    let Some(stack) = Stack::from_env("replica_stopped") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let primary = stack.target("production", "newfinity");
    let rep = replica(&stack);
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    db::exec(
        &primary,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-rp-stop', 'after the backup')",
    )
    .await;
    caught_up(&primary, &rep).await;
    let before = db::content(&primary).await;

    db::exec(&rep, "STOP SLAVE SQL_THREAD").await;
    let guard = SqlThread(rep.clone());
    let req = stack.restore_request("production", &dir, &identity);
    let plan = plan_restore(&req).await.expect("plan");
    let line = plan
        .preflight
        .iter()
        .find(|c| c.name == "replica prod-db-2")
        .expect("replica line");
    assert!(!line.ok, "the plan is not ready: {line:?}");
    assert!(
        line.detail.contains("SQL thread No"),
        "it says why: {}",
        line.detail
    );
    let out = stack.run_restore_under(req, &plan).await;
    drop(guard);
    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    let err = out.job.error.clone().expect("error");
    assert!(
        err.message.contains("prod-db-2") && err.message.contains("nothing was changed"),
        "{}",
        err.message
    );
    assert_eq!(
        out.database_state,
        DatabaseState::Untouched,
        "{}",
        out.state_detail
    );
    assert_eq!(out.job.steps[1].1, StepState::Skipped, "nothing was loaded");
    assert_eq!(db::content(&primary).await, before, "production unchanged");
    db::exec(
        &primary,
        "DELETE FROM legacy_imports WHERE source = 'nf-rp-stop'",
    )
    .await;
    caught_up(&primary, &rep).await;
}

//! Fault tests that stop a stack service: their own test binary, so no other
//! restore test shares the stopped server.

use nfops_testkit::{db, Stack};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use age::x25519;
use nfops_core::jobs::{CancellationToken, JobState, Progress, ProgressEvent};
use nfops_restore::job::DatabaseState;
use nfops_restore::{plan_restore, run_restore};

/// Records progress of the load step (index 1).
struct Loaded(Arc<AtomicU64>);
impl Progress for Loaded {
    fn event(&self, e: &ProgressEvent) {
        if let ProgressEvent::StepProgress { index: 1, done, .. } = e {
            self.0.fetch_max(*done, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_stopped_mid_load_fails_cleanly_and_leaves_the_target_unchanged() {
    let Some(stack) = Stack::from_env("mariadb_stopped_mid_load") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    // A table big enough that the load is still running when the server stops.
    db::exec(&db, "DROP TABLE IF EXISTS nf_rs_fault_big; CREATE TABLE nf_rs_fault_big (id INT PRIMARY KEY, pad VARCHAR(255)) ENGINE=InnoDB; INSERT INTO nf_rs_fault_big SELECT seq, REPEAT('x', 200) FROM seq_1_to_300000").await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    db::exec(&db, "DELETE FROM nf_rs_fault_big WHERE id <= 10").await;
    let before = db::content(&db).await;

    let mut req = stack.restore_request("staging", &dir, &identity);
    req.connections = 1;
    let plan = plan_restore(&req).await.expect("plan");
    let loaded = Arc::new(AtomicU64::new(0));
    let runner = stack.runner().await;
    let progress = Arc::new(Loaded(loaded.clone()));
    let job = tokio::spawn(async move {
        run_restore(
            req,
            &plan,
            vec![],
            &runner,
            progress,
            CancellationToken::new(),
        )
        .await
    });
    // Wait until the load step has begun (the shadow schema exists and fills).
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let n = db::scalar(&db, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE 'nfops\\_shadow\\_newfinity\\_%' AND TABLE_NAME = 'nf_rs_fault_big' AND TABLE_ROWS > 0").await;
        if n.as_deref() == Some("1") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the load started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = Stack::from_env("stop").expect("stack");
    tokio::task::spawn_blocking(move || s.run(&["stop", "mariadb-staging"]))
        .await
        .expect("stop runs");
    let out = job
        .await
        .expect("join")
        .expect("the job records its failure");
    let s = Stack::from_env("start").expect("stack");
    tokio::task::spawn_blocking(move || s.run(&["start", "mariadb-staging"]))
        .await
        .expect("start runs");

    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    let err = out.job.error.clone().expect("error");
    assert_eq!(
        err.code, "service.unreachable",
        "the operator is told the database went away: {err:?}"
    );
    assert_eq!(
        out.database_state,
        DatabaseState::Untouched,
        "{}",
        out.state_detail
    );
    assert!(
        out.state_detail.contains("not touched"),
        "{}",
        out.state_detail
    );
    assert_eq!(
        db::content(&db).await,
        before,
        "staging content unchanged (content hash)"
    );

    // Clean up: the shadow the failed run could not drop while the server was down, and the table.
    // (The shadow's name is the job's own: read it back.)
    if let Some(shadow) = db::scalar(&db, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'nfops\\_shadow\\_newfinity\\_%' LIMIT 1").await {
        db::exec(&db, &format!("DROP DATABASE IF EXISTS `{shadow}`")).await;
    }
    db::exec(&db, "DROP TABLE IF EXISTS nf_rs_fault_big").await;
}

/// Stops sshd the moment the workers step starts (synchronously, so the
/// step's SSH connection finds it gone).
struct StopSshdAtWorkers {
    dir: std::path::PathBuf,
    stopped: std::sync::atomic::AtomicBool,
}

impl Progress for StopSshdAtWorkers {
    fn event(&self, e: &ProgressEvent) {
        if let ProgressEvent::StepStarted { name, .. } = e {
            if name == "workers" && !self.stopped.swap(true, Ordering::SeqCst) {
                let ok = nfops_testkit::stack::script(&self.dir, &["stop", "sshd"])
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                assert!(ok, "scripts/stack stop sshd");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_gone_during_the_worker_restart_rolls_the_database_back() {
    let Some(stack) = Stack::from_env("ssh_gone_at_workers") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    db::exec(
        &db,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-rs-ssh-fault', 'after the backup')",
    )
    .await;
    let before = db::content(&db).await;

    let req = stack.restore_request("staging", &dir, &identity);
    let env = req.env.clone();
    let plan = plan_restore(&req).await.expect("plan");
    let workers = nfops_restore::workers::WorkersStep {
        environment: "staging".into(),
        env,
        creds: stack.creds.clone(),
        known_hosts: stack.tmp.path().join("known_hosts"),
        timeout: Duration::from_secs(30),
    };
    let step = nfops_core::jobs::PlannedStep {
        name: "workers".into(),
        description: "pm2 reload".into(),
    };
    let progress = Arc::new(StopSshdAtWorkers {
        dir: stack.dir.clone(),
        stopped: Default::default(),
    });
    let out = run_restore(
        req,
        &plan,
        vec![(step, Box::new(workers))],
        &stack.runner().await,
        progress.clone(),
        CancellationToken::new(),
    )
    .await
    .expect("the job records its failure");
    stack.run(&["start", "sshd"]);

    assert!(
        progress.stopped.load(Ordering::SeqCst),
        "sshd was stopped at the workers step"
    );
    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    let err = out.job.error.clone().expect("error");
    assert!(
        err.code.starts_with("ssh."),
        "the operator is told SSH failed: {err:?}"
    );
    let failed: Vec<&str> = out
        .job
        .steps
        .iter()
        .filter(|s| s.1 == nfops_core::jobs::StepState::Failed)
        .map(|s| s.0.as_str())
        .collect();
    assert_eq!(failed, vec!["workers"]);
    assert_eq!(
        out.database_state,
        DatabaseState::RolledBack,
        "{}",
        out.state_detail
    );
    assert!(
        out.state_detail.contains("rolled back"),
        "{}",
        out.state_detail
    );
    assert_eq!(
        db::content(&db).await,
        before,
        "staging is as it was before the restore (content hash)"
    );
    db::exec(
        &db,
        "DELETE FROM legacy_imports WHERE source = 'nf-rs-ssh-fault'",
    )
    .await;
}

//! Fault tests that stop a stack service: their own test binary, so no other
//! backup test shares the stopped server.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use age::x25519;
use nfops_backup::{plan_backup, run_backup};
use nfops_core::jobs::{CancellationToken, JobState, Progress, ProgressEvent};

struct Rows(Arc<AtomicU64>);
impl Progress for Rows {
    fn event(&self, e: &ProgressEvent) {
        if let ProgressEvent::StepProgress { done, .. } = e {
            self.0.fetch_max(*done, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_stopped_mid_dump_fails_the_job_and_leaves_nothing() {
    let Some(stack) =
        common::Stack::from_env("mariadb_stopped_mid_dump_fails_the_job_and_leaves_nothing")
    else {
        return;
    };
    let db = stack.target("staging", "newfinity");
    // A table big enough that the dump is still running when the server stops.
    common::exec(&db, "DROP TABLE IF EXISTS nf_bk_fault_big; CREATE TABLE nf_bk_fault_big (id INT PRIMARY KEY, pad VARCHAR(255)) ENGINE=InnoDB; SET SESSION sql_log_bin = 0; INSERT INTO nf_bk_fault_big SELECT seq, REPEAT('x', 200) FROM seq_1_to_400000").await;
    let identity = x25519::Identity::generate();
    let mut req = stack.request("staging", &identity);
    req.options.chunk_rows = 1_000_000;
    req.options.workers = 1;
    let plan = plan_backup(&req).await.expect("plan");
    let runner = stack.runner().await;
    let rows = Arc::new(AtomicU64::new(0));
    let job = tokio::spawn(run_backup(
        req.clone(),
        plan_static(plan),
        runner_static(runner),
        Arc::new(Rows(rows.clone())),
        CancellationToken::new(),
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while rows.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the dump started streaming rows"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = common::Stack::from_env("stop").expect("stack");
    tokio::task::spawn_blocking(move || s.stack(&["stop", "mariadb-staging"]))
        .await
        .expect("stop runs");
    let out = job
        .await
        .expect("join")
        .expect("the job records its failure");
    let s = common::Stack::from_env("start").expect("stack");
    tokio::task::spawn_blocking(move || s.stack(&["start", "mariadb-staging"]))
        .await
        .expect("start runs");
    common::exec(&db, "DROP TABLE IF EXISTS nf_bk_fault_big").await;

    assert_eq!(
        out.job.state,
        JobState::Failed,
        "a dump cut by the server stopping fails: {:?}",
        out.job
    );
    let err = out.job.error.expect("error");
    assert_eq!(
        err.code, "service.unreachable",
        "the operator is told the database went away: {err:?}"
    );
    assert!(
        !err.message.contains("SQLSTATE") && !err.message.contains("error returned from database"),
        "no raw driver text: {}",
        err.message
    );
    assert!(out.path.is_none());
    assert!(
        !req.store.partial_dir("staging", &out.backup_id).exists(),
        "the partial folder was removed"
    );
    assert!(
        req.store.list("staging").expect("list").is_empty(),
        "nothing is listed as a backup"
    );
}

fn plan_static(p: nfops_backup::BackupPlan) -> &'static nfops_backup::BackupPlan {
    Box::leak(Box::new(p))
}

fn runner_static(r: nfops_core::jobs::JobRunner) -> &'static nfops_core::jobs::JobRunner {
    Box::leak(Box::new(r))
}

//! A whole restore of production through its bastion (`via = "prod-app-1"`
//! on the stack): every row crosses the SSH tunnel on two loading sessions
//! that share one SSH connection, for as long as the load takes.
//!
//! Issue 13 saw this die at "load shadow" after 63–64 s with MariaDB logging
//! "Got an error reading communication packets" for both sessions. The test
//! restores whatever production holds (`scripts/stack seed --size 1g` for the
//! full case) and asserts the job succeeded and production equals the backup.

use std::time::Instant;

use age::x25519;
use nfops_core::jobs::JobState;
use nfops_restore::job::DatabaseState;
use nfops_restore::plan_restore;
use nfops_testkit::{db, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_restore_through_the_bastion_runs_as_long_as_it_needs() {
    let Some(stack) = Stack::from_env("a_whole_restore_through_the_bastion") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    assert!(
        stack
            .env("production")
            .database
            .as_ref()
            .is_some_and(|d| d.via.is_some()),
        "production's database is reached through a host (the bastion)"
    );
    let db = stack.target("production", "newfinity");
    let identity = x25519::Identity::generate();
    let t0 = Instant::now();
    let dir = stack.backup("production", &identity).await;
    eprintln!("backup through the bastion: {:?}", t0.elapsed());

    let req = stack.restore_request("production", &dir, &identity);
    let plan = plan_restore(&req).await.expect("plan");
    assert!(plan.ready(), "preflight passes: {:?}", plan.preflight);
    let t1 = Instant::now();
    let out = stack.run_restore_under(req, &plan).await;
    let took = t1.elapsed();
    eprintln!("restore through the bastion: {took:?}");
    assert_eq!(
        out.job.state,
        JobState::Succeeded,
        "the restore through the tunnel completes, however long it loads ({took:?}): {:?}",
        out.job
    );
    assert_eq!(
        out.database_state,
        DatabaseState::Restored,
        "{}",
        out.state_detail
    );
    assert_eq!(
        db::content(&db).await,
        db::manifest_content(&dir),
        "production equals the backup, table by table"
    );
    db::drop_safety(&db, "newfinity").await;
}

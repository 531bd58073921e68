//! The replica policy on the stack's production: a replica the primary
//! reports but the configuration does not name stops the restore before
//! anything is touched; an application writing during the replicas step
//! does not fail a good restore; a replica changed outside replication is
//! still found, compared at one GTID position.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use age::x25519;
use nfops_core::jobs::{JobState, StepState};
use nfops_mysql::Target;
use nfops_restore::job::steps::replica_compare;
use nfops_restore::job::DatabaseState;
use nfops_restore::plan_restore;
use nfops_testkit::{db, Stack};

/// The configured replica (prod-db-2), directly on loopback.
fn replica(stack: &Stack) -> Target {
    let primary = stack.target("production", "newfinity");
    let d = stack.env("production").database.clone().expect("db");
    let r = d.replicas.first().expect("the stack configures prod-db-2");
    Target {
        port: r.port,
        label: "production replica".into(),
        ..primary
    }
}

async fn caught_up(primary: &Target, rep: &Target) {
    let pos = db::scalar(primary, "SELECT @@GLOBAL.gtid_binlog_pos")
        .await
        .expect("pos");
    let got = db::scalar(
        rep,
        &format!("SELECT CAST(MASTER_GTID_WAIT('{pos}', 60) AS CHAR)"),
    )
    .await;
    assert_eq!(got.as_deref(), Some("0"), "the replica reaches {pos}");
}

/// A throwaway MariaDB replicating production (IO thread only: it only
/// has to be seen by the primary), stopped and deleted when dropped.
struct StrayReplica {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl StrayReplica {
    /// Starts one on a free port near the stack's base; `report_host`
    /// makes it register (SHOW SLAVE HOSTS), without it it is only a dump
    /// thread on the primary.
    fn start(stack: &Stack, server_id: u32, report_host: Option<&str>) -> StrayReplica {
        let base = stack.db_port("production") - 10;
        let port = (base + 13..base + 99)
            .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
            .expect("a free port near the stack's base");
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("data");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmpdir");
        let ok = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--skip-test-db"])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg("--auth-root-authentication-method=normal")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("mariadb-install-db");
        assert!(ok.success(), "mariadb-install-db for the stray replica");
        let mut cmd = Command::new("mariadbd");
        cmd.args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!(
                "--log-error={}",
                dir.path().join("error.log").display()
            ))
            .arg(format!("--port={port}"))
            .arg(format!("--server-id={server_id}"))
            .args(["--skip-slave-start", "--innodb-log-file-size=48M"]);
        if let Some(h) = report_host {
            cmd.arg(format!("--report-host={h}"))
                .arg(format!("--report-port={port}"));
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd");
        let me = StrayReplica { child, dir, port };
        for _ in 0..100 {
            if me.sql("SELECT 1").is_some() {
                return me;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the stray replica did not start on port {port}");
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// Runs SQL as root on its socket; stdout, or None when it failed.
    fn sql(&self, q: &str) -> Option<String> {
        let o = Command::new("mariadb")
            .args(["--no-defaults", "-u", "root", "-N", "-B"])
            .arg(format!("--socket={}", self.sock().display()))
            .args(["-e", q])
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    }

    /// Connects its IO thread to production from production's position.
    fn replicate(&self, stack: &Stack, primary_pos: &str) {
        let q = format!(
            "SET GLOBAL gtid_slave_pos = '{primary_pos}'; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='{}', MASTER_PASSWORD='{}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE IO_THREAD",
            stack.db_port("production"),
            stack.target("production", "newfinity").user,
            stack.db_password("production"),
        );
        self.sql(&q).expect("the stray replica starts replicating");
        for _ in 0..100 {
            if self
                .sql("SHOW SLAVE STATUS")
                .is_some_and(|s| s.contains("Waiting for master to send event"))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the stray replica on port {} did not connect", self.port);
    }
}

impl Drop for StrayReplica {
    fn drop(&mut self) {
        let _ = self.sql("STOP SLAVE");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_outside_the_configuration_stops_the_restore_before_anything_is_touched() {
    let Some(stack) = Stack::from_env("replica_unconfigured") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let primary = stack.target("production", "newfinity");
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    db::exec(
        &primary,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-rp-stray', 'after the backup')",
    )
    .await;
    let before = db::content(&primary).await;
    let pos = db::scalar(&primary, "SELECT @@GLOBAL.gtid_binlog_pos")
        .await
        .unwrap_or_default();

    // One registers (report_host), one does not: the primary shows both.
    let registered = StrayReplica::start(&stack, 9101, Some("stray-db"));
    let silent = StrayReplica::start(&stack, 9102, None);
    registered.replicate(&stack, &pos);
    silent.replicate(&stack, &pos);

    let req = stack.restore_request("production", &dir, &identity);
    let plan = plan_restore(&req).await.expect("plan");
    let line = plan
        .preflight
        .iter()
        .find(|c| c.name == "replicas of the primary")
        .expect("the plan has a line for the primary's replicas");
    assert!(!line.ok, "the plan is not ready: {line:?}");
    for needed in [
        "2 replica(s) that are not in the configuration".to_owned(),
        "server_id 9101".to_owned(),
        format!("reported as stray-db:{}", registered.port),
        // MariaDB 10.11 registers a replica without report_host too, under
        // the address it connects from.
        "server_id 9102, reported as 127.0.0.1:".to_owned(),
        "[[environments.production.database.replicas]]".to_owned(),
    ] {
        assert!(
            line.detail.contains(&needed),
            "the plan names each stray replica and how to add it ({needed}): {}",
            line.detail
        );
    }
    assert!(
        plan.preflight
            .iter()
            .any(|c| c.name == "replica prod-db-2" && c.ok),
        "the configured replica still passes: {:?}",
        plan.preflight
    );

    let out = stack.run_restore_under(req, &plan).await;
    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    let err = out.job.error.clone().expect("error");
    assert!(
        err.message.contains("server_id 9101")
            && err.message.contains("not in the configuration")
            && err.message.contains("nothing was changed"),
        "the job's error names the stray replicas: {}",
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

    // Gone again: the configured replica alone passes.
    drop(registered);
    drop(silent);
    let mut ready = false;
    for _ in 0..30 {
        // A dump thread notices its replica left only when it next sends.
        db::exec(&primary, "FLUSH BINARY LOGS").await;
        let req = stack.restore_request("production", &dir, &identity);
        let plan = plan_restore(&req).await.expect("plan");
        if plan.ready() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ready, "without strangers the plan is ready again");
    db::exec(
        &primary,
        "DELETE FROM legacy_imports WHERE source = 'nf-rp-stray'",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_may_not_list_replicas_is_refused_naming_the_privilege() {
    let Some(stack) = Stack::from_env("replica_privilege") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let primary = stack.target("production", "newfinity");
    db::exec(&primary, "SET SESSION sql_log_bin = 0; DROP USER IF EXISTS 'nf_rp_limited'@'127.0.0.1'; CREATE USER 'nf_rp_limited'@'127.0.0.1' IDENTIFIED BY 'nf-rp-limited-pw'; GRANT SELECT ON newfinity.* TO 'nf_rp_limited'@'127.0.0.1'").await;
    let limited = Target {
        user: "nf_rp_limited".into(),
        password: nfops_core::SecretString::new("nf-rp-limited-pw".into()),
        label: "production database".into(),
        ..primary.clone()
    };
    let mut c = limited.connect().await.expect("connect");
    let e = nfops_fleet::probe::replication::replicas_of_primary(&mut c, &limited)
        .await
        .expect_err("without PROCESS the processlist hides replicas: refused, not empty");
    assert!(e.message().contains("PROCESS"), "{}", e.message());
    db::exec(
        &primary,
        "SET SESSION sql_log_bin = 0; GRANT PROCESS ON *.* TO 'nf_rp_limited'@'127.0.0.1'",
    )
    .await;
    let mut c = limited.connect().await.expect("connect");
    let e = nfops_fleet::probe::replication::replicas_of_primary(&mut c, &limited)
        .await
        .expect_err("SHOW SLAVE HOSTS needs its own privilege");
    assert!(
        e.message().contains("REPLICATION MASTER ADMIN"),
        "{}",
        e.message()
    );
    db::exec(
        &primary,
        "SET SESSION sql_log_bin = 0; DROP USER 'nf_rp_limited'@'127.0.0.1'",
    )
    .await;
}

/// Inserts into a restored table on the primary until dropped; counts rows.
struct Writer {
    stop: Arc<AtomicBool>,
    rows: Arc<AtomicU64>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Writer {
    fn start(primary: &Target) -> Writer {
        let (stop, rows) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (s, n, t) = (stop.clone(), rows.clone(), primary.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Ok(mut c) = t.connect().await {
                    while !s.load(Ordering::Relaxed) {
                        let q = "INSERT INTO legacy_imports (source, note) VALUES ('nf-rp-writer', 'written during the restore')";
                        if sqlx::Executor::execute(&mut c, q).await.is_err() {
                            break;
                        }
                        n.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        Writer {
            stop,
            rows,
            task: Some(task),
        }
    }

    async fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.rows.load(Ordering::Relaxed)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_writing_during_the_restore_does_not_fail_a_good_restore() {
    let Some(stack) = Stack::from_env("replica_writer") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let primary = stack.target("production", "newfinity");
    let rep = replica(&stack);
    let identity = x25519::Identity::generate();
    let dir = stack.backup("production", &identity).await;
    caught_up(&primary, &rep).await;

    let req = stack.restore_request("production", &dir, &identity);
    let plan = plan_restore(&req).await.expect("plan");
    assert!(plan.ready(), "{:?}", plan.preflight);
    // The application keeps writing into a restored table throughout,
    // the replicas step included.
    let writer = Writer::start(&primary);
    let out = stack.run_restore_under(req, &plan).await;
    let written = writer.stop().await;
    assert!(
        written > 10,
        "the writer wrote during the restore ({written} rows)"
    );
    assert_eq!(
        out.job.state,
        JobState::Succeeded,
        "a good restore with a busy application succeeds: {:?}",
        out.job
    );
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
            .contains("read at that one position"),
        "{step:?}"
    );
    caught_up(&primary, &rep).await;
    db::exec(
        &primary,
        "DELETE FROM legacy_imports WHERE source = 'nf-rp-writer'",
    )
    .await;
    db::drop_safety(&primary, "newfinity").await;
    caught_up(&primary, &rep).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_changed_outside_replication_differs_even_with_a_busy_primary() {
    let Some(stack) = Stack::from_env("replica_diverged") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let primary = stack.target("production", "newfinity");
    let rep = replica(&stack);
    caught_up(&primary, &rep).await;
    let tables = vec!["legacy_imports".to_owned(), "users".to_owned()];
    let writer = Writer::start(&primary);
    let mut p = primary.connect().await.expect("primary");
    let mut c = rep.connect().await.expect("replica");

    // The writer alone: equal at one position, again and again.
    for _ in 0..3 {
        let got = replica_compare::at_one_position(&mut p, &primary, &mut c, &rep, &tables)
            .await
            .expect("compared");
        assert!(
            got.differ.is_empty(),
            "a busy primary is no divergence: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A row changed on the replica alone (not binlogged there, not replayed).
    let id = db::scalar(&rep, "SELECT MIN(id) FROM users")
        .await
        .expect("a user");
    db::exec(&rep, &format!("SET SESSION sql_log_bin = 0; UPDATE users SET email = CONCAT('diverged-', email) WHERE id = {id}")).await;
    let got = replica_compare::at_one_position(&mut p, &primary, &mut c, &rep, &tables)
        .await
        .expect("compared");
    db::exec(&rep, &format!("SET SESSION sql_log_bin = 0; UPDATE users SET email = SUBSTRING(email, 10) WHERE id = {id}")).await;
    let written = writer.stop().await;
    assert!(written > 5, "the writer was busy ({written} rows)");
    assert_eq!(
        got.differ.len(),
        1,
        "only the changed table differs: {got:?}"
    );
    assert!(got.differ[0].starts_with("`users`"), "{got:?}");
    db::exec(
        &primary,
        "DELETE FROM legacy_imports WHERE source = 'nf-rp-writer'",
    )
    .await;
    caught_up(&primary, &rep).await;
}

//! Failures injected into a running restore on the real stack, each
//! checked twice: the outcome the job reports, and what the server really
//! shows (tables, triggers, kept schemas). The restore's server lock lost
//! mid-job; a second restore's orphan sweep next to a live job; post
//! objects failing after the RENAME with the roll back blocked too; the
//! restore account's privileges revoked mid-job; a statement outliving its
//! client-side bound.

use std::time::{Duration, Instant};

use age::x25519;
use nfops_core::jobs::JobState;
use nfops_mysql::Target;
use nfops_restore::job::steps::claim::{self, DatabaseClaim};
use nfops_restore::job::DatabaseState;
use nfops_restore::swap::bounded::{self, DdlFailure, LockBound};
use nfops_testkit::restore::{
    hold, leftovers, planned_restore_in_background, shadow_with_orders, waiting_session,
};
use nfops_testkit::{db, Stack};

/// A trigger on staging the swap must drop and put back.
const TRIGGER: &str = "DROP TRIGGER IF EXISTS nf_lf_note; CREATE TRIGGER nf_lf_note BEFORE INSERT ON legacy_imports FOR EACH ROW SET NEW.note = COALESCE(NEW.note, 'via nf_lf_note')";

async fn trigger_count(db: &Target) -> Option<String> {
    db::scalar(db, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='newfinity' AND TRIGGER_NAME='nf_lf_note'").await
}

async fn schema_exists(db: &Target, name: &str) -> bool {
    db::scalar(
        db,
        &format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'"),
    )
    .await
    .as_deref()
        == Some("1")
}

/// The running restore of `newfinity` (its database lock's session id).
async fn claim_session(db: &Target) -> String {
    let name = claim::lock_name("newfinity");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(id) =
            db::scalar(db, &format!("SELECT CAST(IS_USED_LOCK('{name}') AS CHAR)")).await
        {
            return id;
        }
        assert!(Instant::now() < deadline, "the restore took its lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Restores the server's global `wait_timeout` when dropped.
struct GlobalWaitTimeout(Target, String);
impl Drop for GlobalWaitTimeout {
    fn drop(&mut self) {
        let (t, v) = (self.0.clone(), self.1.clone());
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("rt")
                .block_on(db::exec(&t, &format!("SET GLOBAL wait_timeout = {v}")))
        })
        .join()
        .expect("wait_timeout put back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lock_session_outlives_the_servers_idle_timeout_and_a_lost_lock_is_named() {
    let Some(stack) = Stack::from_env("lock_keepalive") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    let shadow = nfops_restore::load::shadow_schema("newfinity", "11aa22");
    // Sessions opened now would be ended after 2 idle seconds by default.
    let old = db::scalar(&db, "SELECT @@GLOBAL.wait_timeout")
        .await
        .expect("wait_timeout");
    let guard = GlobalWaitTimeout(db.clone(), old);
    db::exec(&db, "SET GLOBAL wait_timeout = 2").await;
    let quiet = DatabaseClaim::take_with(&db, &shadow, Duration::from_secs(3600))
        .await
        .expect("lock taken");
    drop(guard);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        quiet.guard().still_held().await,
        "the lock session raised its own wait_timeout: idle past the server's, it still holds the lock"
    );
    quiet.release().await;

    // The pinger keeps the session busy: it never idles a whole interval.
    let pinged = DatabaseClaim::take_with(&db, &shadow, Duration::from_secs(1))
        .await
        .expect("lock taken");
    let id = pinged.guard().session_id().await.expect("id");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let idle: u64 = db::scalar(
        &db,
        &format!("SELECT CAST(TIME AS CHAR) FROM information_schema.PROCESSLIST WHERE ID = {id}"),
    )
    .await
    .and_then(|s| s.parse().ok())
    .expect("the lock session is there");
    assert!(
        idle <= 1,
        "the lock session idled {idle} s despite a 1 s pinger"
    );

    // A killed lock session: the loss is found and named, never ignored.
    db::exec(&db, &format!("KILL {id}")).await;
    let g = pinged.guard();
    assert!(!g.still_held().await);
    let err = g
        .ensure_held("the swap")
        .await
        .expect_err("a lost lock stops the job");
    assert_eq!(err.code().as_str(), "db.busy", "{err:?}");
    assert!(
        err.message().contains("was lost") && err.message().contains("stopped before the swap"),
        "{}",
        err.message()
    );
    pinged.release().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_restore_never_drops_the_shadow_of_a_live_job_that_lost_its_lock() {
    let Some(stack) = Stack::from_env("sweep_live") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;

    // A live job: its shadow, its locks; then its database lock's session dies.
    let live = nfops_restore::load::shadow_schema("newfinity", "aa11bb");
    let claim = DatabaseClaim::take(&db, &live).await.expect("lock taken");
    db::exec(
        &db,
        &format!("CREATE DATABASE `{live}`; CREATE TABLE `{live}`.half_loaded (id INT)"),
    )
    .await;
    let id = claim.guard().session_id().await.expect("id");
    db::exec(&db, &format!("KILL {id}")).await;
    // A real orphan (a killed process: no lock, no session) next to it.
    let orphan = nfops_restore::load::shadow_schema("newfinity", "cc22dd");
    db::exec(&db, &format!("CREATE DATABASE `{orphan}`")).await;

    let out = stack
        .restore_succeeds(
            stack.restore_request("staging", &dir, &identity),
            &nfops_restore::plan_restore(&stack.restore_request("staging", &dir, &identity))
                .await
                .expect("plan"),
        )
        .await;
    assert!(
        schema_exists(&db, &live).await,
        "the live job's shadow {live} was kept by the other restore's sweep"
    );
    assert!(
        !schema_exists(&db, &orphan).await,
        "the orphan {orphan} was dropped"
    );
    let evidence = format!("{:?}", out.job);
    assert!(evidence.contains("1 orphan shadow schema"), "{evidence}");

    // The live job finds its lock lost before its next DDL.
    let err = claim
        .guard()
        .ensure_held("the swap")
        .await
        .expect_err("lost");
    assert_eq!(err.code().as_str(), "db.busy");
    claim.release().await;
    db::exec(&db, &format!("DROP DATABASE `{live}`")).await;
    db::drop_safety(&db, "newfinity").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restore_whose_lock_is_lost_mid_load_stops_before_the_swap() {
    let Some(stack) = Stack::from_env("lock_lost") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    db::exec(
        &db,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-lf-lost', 'after the backup')",
    )
    .await;
    let before = db::content(&db).await;
    let job = planned_restore_in_background("lock_lost", "staging", &dir, &identity);
    let id = claim_session(&db).await;
    shadow_with_orders(&db).await;
    db::exec(&db, &format!("KILL {id}")).await;
    let out = job.await.expect("join");

    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    let err = out.job.error.clone().expect("error");
    assert_eq!(err.code, "db.busy", "{err:?}");
    assert!(err.message.contains("was lost"), "{}", err.message);
    assert_eq!(
        out.database_state,
        DatabaseState::Untouched,
        "{}",
        out.state_detail
    );
    assert_eq!(db::content(&db).await, before, "staging unchanged");
    // Its own shadow is dropped, or (when the stopping loaders still hold it:
    // seen once in five runs) the outcome says it could not be and names it.
    // Either way nothing is left unsaid.
    let shadows = leftovers(&db, "shadow").await;
    assert!(
        shadows == "0" || out.state_detail.contains("could not be dropped"),
        "shadow left ({shadows}) without saying so: {}",
        out.state_detail
    );
    if shadows != "0" {
        let name = db::scalar(&db, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'nfops\\_shadow\\_newfinity\\_%' LIMIT 1")
            .await
            .unwrap_or_default();
        db::exec(&db, &format!("DROP DATABASE IF EXISTS `{name}`")).await;
    }
    assert_eq!(leftovers(&db, "safety").await, "0");
    db::exec(
        &db,
        "DELETE FROM legacy_imports WHERE source = 'nf-lf-lost'",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn post_objects_failing_after_the_rename_with_the_roll_back_blocked_too_say_what_is_live() {
    let Some(stack) = Stack::from_env("objects_fail") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    db::exec(&db, TRIGGER).await;
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    db::exec(
        &db,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-lf-objects', 'after the backup')",
    )
    .await;
    let before = db::content(&db).await;
    let job = planned_restore_in_background("objects_fail", "staging", &dir, &identity);
    // The RENAME waits on the shadow; the application queues on
    // legacy_imports behind it, and once the RENAME went through it holds
    // the restored table: the trigger cannot be created on it, and the
    // roll back cannot move it back, while that transaction stays open.
    let shadow = shadow_with_orders(&db).await;
    let (b1, _) = hold(&db, &format!("`{shadow}`.orders")).await;
    waiting_session(&db, "RENAME TABLE").await;
    let app = {
        let db = db.clone();
        tokio::spawn(async move { hold(&db, "legacy_imports").await })
    };
    waiting_session(&db, "SELECT COUNT(*) FROM legacy_imports").await;
    drop(b1);
    let (b2, _) = app.await.expect("app");
    let out = job.await.expect("join");

    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    assert_eq!(
        out.database_state,
        DatabaseState::NeedsAttention,
        "{}",
        out.state_detail
    );
    let safety = out
        .safety_schema
        .clone()
        .expect("the safety schema is named");
    assert!(
        out.state_detail.contains("backup's tables are live")
            && out.state_detail.contains("rolling back failed")
            && out.state_detail.contains(&safety),
        "names what is live and where the previous tables are: {}",
        out.state_detail
    );
    // The server agrees: the backup's rows are live, its trigger is not,
    // the previous tables are in the kept safety schema.
    assert_eq!(
        db::content(&db).await,
        db::manifest_content(&dir),
        "the backup is live"
    );
    assert_eq!(
        trigger_count(&db).await.as_deref(),
        Some("0"),
        "the trigger is missing, as said"
    );
    assert_eq!(
        db::scalar(
            &db,
            &format!(
                "SELECT COUNT(*) FROM `{safety}`.legacy_imports WHERE source = 'nf-lf-objects'"
            )
        )
        .await
        .as_deref(),
        Some("1"),
        "the previous legacy_imports is kept in {safety}"
    );
    drop(b2);
    // The operator's repair, as the outcome says.
    nfops_restore::swap::roll_back_latest(&db, Some(&safety))
        .await
        .expect("roll back");
    assert_eq!(
        db::content(&db).await,
        before,
        "the previous tables are back"
    );
    assert_eq!(
        trigger_count(&db).await.as_deref(),
        Some("1"),
        "and their trigger"
    );
    db::exec(&db, "DELETE FROM legacy_imports WHERE source = 'nf-lf-objects'; DROP TRIGGER IF EXISTS nf_lf_note").await;
    db::drop_safety(&db, "newfinity").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn privileges_revoked_mid_job_are_reported_and_the_schemas_kept() {
    let Some(stack) = Stack::from_env("revoked") else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let db = stack.target("staging", "newfinity");
    db::exec(&db, TRIGGER).await;
    // A restore account of its own, so its privileges can be taken away.
    let pw = "nf-lf-revoked-pw";
    let accounts = ["'nf_lf_restore'@'127.0.0.1'", "'nf_lf_restore'@'localhost'"];
    for a in accounts {
        db::exec(&db, &format!("DROP USER IF EXISTS {a}; CREATE USER {a} IDENTIFIED BY '{pw}'; GRANT ALL PRIVILEGES ON *.* TO {a}")).await;
    }
    stack.creds.insert("nfops-test/nf-lf-restore", pw);
    let identity = x25519::Identity::generate();
    let dir = stack.backup("staging", &identity).await;
    db::exec(
        &db,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-lf-revoked', 'after the backup')",
    )
    .await;
    let before = db::content(&db).await;
    let job = {
        let (s, d, i) = (
            Stack::from_env("revoked").expect("stack"),
            dir.clone(),
            identity.clone(),
        );
        tokio::spawn(async move {
            s.creds
                .insert("nfops-test/nf-lf-restore", "nf-lf-revoked-pw");
            let mut req = s.restore_request("staging", &d, &i);
            let dbc = req.env.database.as_mut().expect("db");
            dbc.user = "nf_lf_restore".into();
            dbc.password_credential = "nfops-test/nf-lf-restore".into();
            s.run_planned_restore(req).await
        })
    };
    // The shadow is loaded and verified, the swap has dropped the trigger
    // and waits at the RENAME: the account loses every privilege, and the
    // swap's session ends (it kept the privileges it logged in with).
    let shadow = shadow_with_orders(&db).await;
    let (b1, _) = hold(&db, &format!("`{shadow}`.orders")).await;
    let swap = waiting_session(&db, "RENAME TABLE").await;
    for a in accounts {
        db::exec(
            &db,
            &format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {a}"),
        )
        .await;
    }
    db::exec(&db, "FLUSH PRIVILEGES").await;
    // The swap's session ends before the blocker lets go: released first,
    // its waiting RENAME could be granted the lock before it saw the KILL.
    nfops_testkit::restore::kill_and_wait(&db, &swap).await;
    drop(b1);
    let out = job.await.expect("join");

    assert_eq!(out.job.state, JobState::Failed, "{:?}", out.job);
    assert_eq!(
        out.database_state,
        DatabaseState::NeedsAttention,
        "the roll back could not run and the server cannot be read: not 'untouched': {}",
        out.state_detail
    );
    let safety = out.safety_schema.clone().expect("safety named");
    assert!(
        out.state_detail.contains("could not be read") && out.state_detail.contains(&safety),
        "{}",
        out.state_detail
    );
    // The server: no row changed, the trigger is missing, both schemas kept.
    assert_eq!(db::content(&db).await, before, "no row changed");
    assert_eq!(trigger_count(&db).await.as_deref(), Some("0"));
    assert!(schema_exists(&db, &safety).await && schema_exists(&db, &shadow).await);
    for a in accounts {
        db::exec(&db, &format!("DROP USER IF EXISTS {a}")).await;
    }
    nfops_restore::swap::roll_back_latest(&db, Some(&safety))
        .await
        .expect("roll back");
    assert_eq!(
        trigger_count(&db).await.as_deref(),
        Some("1"),
        "the repair puts the trigger back"
    );
    db::exec(&db, "DELETE FROM legacy_imports WHERE source = 'nf-lf-revoked'; DROP TRIGGER IF EXISTS nf_lf_note").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_outliving_its_client_bound_is_killed_from_another_session() {
    let Some(stack) = Stack::from_env("client_kill") else {
        return;
    };
    let db = stack.target("staging", "newfinity");
    let bound = LockBound {
        wait: Duration::from_secs(1),
        attempts: 1,
        pause: Duration::ZERO,
    };
    let mut conn = db.connect().await.expect("connect");
    let id = bounded::prepare(&mut conn, &db, &bound)
        .await
        .expect("prepare");
    let t = Instant::now();
    // Not a lock wait: the server's own bound never ends it, only ours.
    let r = bounded::ddl(
        &mut conn,
        id,
        &db,
        &bound,
        "a statement that outlived its bound on",
        "DO SLEEP(60)",
    )
    .await;
    let took = t.elapsed();
    let Err(DdlFailure::Lost(e)) = r else {
        panic!("a statement past its client bound is Lost (whether it ran is unknown): {r:?}");
    };
    assert!(
        e.message().contains("the session was killed"),
        "{}",
        e.message()
    );
    assert!(
        took < bound.client() + Duration::from_secs(3),
        "cut at {took:?}"
    );
    // The server agrees: the session is gone, nothing of ours stays queued.
    let deadline = Instant::now() + Duration::from_secs(10);
    while db::scalar(
        &db,
        &format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id}"),
    )
    .await
    .as_deref()
        != Some("0")
    {
        assert!(
            Instant::now() < deadline,
            "session {id} was killed on the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

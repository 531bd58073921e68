//! Unit tests of the environment lease (one state database, one process).

use super::*;

/// Alice's CLI restore of production, holding a lease of `ttl`.
async fn alice_restores_production(state: &State, ttl: Duration) -> Result<Lease> {
    Lease::acquire_with_ttl(
        state,
        "production",
        LeaseAction::Restore,
        "alice",
        ProcessKind::Cli,
        ttl,
    )
    .await
}

#[tokio::test]
async fn a_second_taker_is_refused_with_the_holder_named_until_release() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("state");
    let first = Lease::acquire(
        &state,
        "production",
        LeaseAction::Restore,
        "alice",
        ProcessKind::Cli,
    )
    .await
    .expect("first taker gets the lease");
    let err = Lease::acquire(
        &state,
        "production",
        LeaseAction::Promote,
        "bob",
        ProcessKind::App,
    )
    .await
    .err()
    .expect("a second operator must be refused while the first holds it");
    assert_eq!(err.code(), ErrorCode::EnvironmentBusy);
    assert!(
        err.message()
            .starts_with("production is being restored by alice on "),
        "the refusal names who does what: {}",
        err.message()
    );
    let other = Lease::acquire(
        &state,
        "staging",
        LeaseAction::Backup,
        "bob",
        ProcessKind::App,
    )
    .await
    .expect("another environment is independent");
    other.release().await.expect("release");
    first.release().await.expect("release");
    assert!(holder(&state, "production").await.expect("read").is_none());
    Lease::acquire(
        &state,
        "production",
        LeaseAction::Promote,
        "bob",
        ProcessKind::App,
    )
    .await
    .expect("free again after release")
    .release()
    .await
    .expect("release");
}

#[tokio::test]
async fn an_expired_holder_is_taken_over_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("state");
    // A holder killed a minute ago: its heartbeat stopped.
    let old = (chrono::Utc::now() - chrono::Duration::seconds(600))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    sqlx::query("INSERT INTO environment_lease(environment, token, operator, host, pid, process_kind, action, started_at, heartbeat_at) VALUES ('production','t','carol','h',1,'cli','restore',?,?)")
        .bind(&old)
        .bind(&old)
        .execute(state.pool())
        .await
        .expect("seed");
    let lease = Lease::acquire(
        &state,
        "production",
        LeaseAction::Restore,
        "alice",
        ProcessKind::Cli,
    )
    .await
    .expect("an expired lease is taken over");
    let prev = lease.took_over.clone().expect("the takeover is reported");
    assert_eq!(prev.operator, "carol");
    drop(lease);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        holder(&state, "production").await.expect("read").is_none(),
        "a dropped lease (early return, panic) is released"
    );
}

async fn seed(state: &State, heartbeat: &str) {
    sqlx::query("INSERT INTO environment_lease(environment, token, operator, host, pid, process_kind, action, started_at, heartbeat_at) VALUES ('production','t','carol','h',1,'cli','restore',?,?)")
        .bind(heartbeat)
        .bind(heartbeat)
        .execute(state.pool())
        .await
        .expect("seed");
}

#[tokio::test]
async fn an_unreadable_heartbeat_counts_as_expired_and_is_taken_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("state");
    seed(&state, "not a time").await;
    let lease = Lease::acquire(
        &state,
        "production",
        LeaseAction::Restore,
        "alice",
        ProcessKind::Cli,
    )
    .await
    .expect("a heartbeat nobody can read must not block the environment for good");
    assert_eq!(
        lease.took_over.as_ref().map(|h| h.operator.as_str()),
        Some("carol"),
        "the takeover is reported so the caller audits it"
    );
    lease.release().await.expect("release");
}

#[tokio::test]
async fn a_heartbeat_that_cannot_be_written_for_the_ttl_counts_as_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("state");
    let ttl = Duration::from_secs(2);
    let lease = alice_restores_production(&state, ttl).await.expect("lease");
    let watch = lease.watch();
    // Every renewal fails from now on, as with a locked or full state.db:
    // no "0 rows" answer ever comes, yet after the TTL another process
    // may take the row over.
    sqlx::query("CREATE TRIGGER no_renewal BEFORE UPDATE ON environment_lease BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        .execute(state.pool())
        .await
        .expect("trigger");
    tokio::time::timeout(Duration::from_secs(6), watch.token().cancelled())
        .await
        .expect("a lease not renewed for its TTL must count as lost");
    assert_eq!(
        watch.lost_error().expect("lost").code(),
        ErrorCode::EnvironmentBusy
    );
    sqlx::query("DROP TRIGGER no_renewal")
        .execute(state.pool())
        .await
        .expect("drop trigger");
    lease.release().await.ok();
}

#[tokio::test]
async fn a_stalled_holder_taken_over_learns_it_lost_the_lease() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("state");
    let ttl = Duration::from_secs(2);
    let first = alice_restores_production(&state, ttl).await.expect("first");
    let watch = first.watch();
    // Alice stalls: her heartbeat is older than the TTL when Bob comes.
    sqlx::query("UPDATE environment_lease SET heartbeat_at = '2000-01-01T00:00:00Z'")
        .execute(state.pool())
        .await
        .expect("back-date");
    let second = Lease::acquire_with_ttl(
        &state,
        "production",
        LeaseAction::Promote,
        "bob",
        ProcessKind::App,
        ttl,
    )
    .await
    .expect("a stalled holder is taken over");
    tokio::time::timeout(Duration::from_secs(5), watch.token().cancelled())
        .await
        .expect("alice's next heartbeat must find the lease gone and say so");
    let err = watch.lost_error().expect("lost");
    assert_eq!(err.code(), ErrorCode::EnvironmentBusy);
    assert!(
        err.message().contains("promoted to by bob"),
        "the stop names the new holder: {}",
        err.message()
    );
    first
        .release()
        .await
        .expect("release of a lost lease is harmless");
    assert_eq!(
        holder(&state, "production")
            .await
            .expect("read")
            .map(|h| h.operator),
        Some("bob".into()),
        "the old holder's release must not delete the new holder's row"
    );
    assert!(!second.watch().is_lost(), "the new holder keeps its lease");
    second.release().await.expect("release");
}

/// Seeds production's lease as held on this machine by `pid` (started at
/// `started`, `None` for a row of an older version) with a fresh heartbeat.
async fn seed_here(state: &State, pid: u32, started: Option<i64>) {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    sqlx::query("INSERT INTO environment_lease(environment, token, operator, host, pid, pid_started_at, process_kind, action, started_at, heartbeat_at) VALUES ('production','t','carol',?,?,?,'cli','restore',?,?)")
        .bind(host_name())
        .bind(i64::from(pid))
        .bind(started)
        .bind(&now)
        .bind(&now)
        .execute(state.pool())
        .await
        .expect("seed");
}

async fn bob_promotes(state: &State) -> Result<Lease> {
    Lease::acquire(
        state,
        "production",
        LeaseAction::Promote,
        "bob",
        ProcessKind::App,
    )
    .await
}

#[tokio::test]
async fn a_holder_whose_pid_now_names_another_process_is_taken_over_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("state");
    // The pid is this (running) process's, but the holder started an hour
    // earlier: it was killed and the pid reused. Its heartbeat is fresh.
    let me = crate::host::this_process();
    seed_here(&state, me.pid, me.started.map(|s| s - 3600)).await;
    let lease = bob_promotes(&state)
        .await
        .expect("a holder whose process is gone does not block until the TTL");
    assert_eq!(
        lease.took_over.as_ref().map(|h| h.operator.as_str()),
        Some("carol")
    );
    lease.release().await.expect("release");
}

#[tokio::test]
async fn a_running_holder_is_refused_also_from_a_row_without_start_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("state");
    let me = crate::host::this_process();
    for started in [me.started, None] {
        seed_here(&state, me.pid, started).await;
        let err = bob_promotes(&state)
            .await
            .err()
            .expect("a holder whose process runs keeps its lease");
        assert_eq!(err.code(), ErrorCode::EnvironmentBusy);
        sqlx::query("DELETE FROM environment_lease")
            .execute(state.pool())
            .await
            .expect("clear");
    }
}

#[tokio::test]
async fn a_holder_on_this_machine_whose_pid_is_gone_is_taken_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = State::open(dir.path()).await.expect("state");
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .arg("--list")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("child");
    let pid = child.id();
    child.wait().expect("wait");
    seed_here(&state, pid, None).await;
    bob_promotes(&state)
        .await
        .expect("an old row naming a pid that no longer runs is taken over")
        .release()
        .await
        .expect("release");
}

//! The Overview probes against both environments of the real local stack.

use std::time::{Duration, Instant};

use nfops_core::credentials::MemoryCredentials;
use nfops_fleet::{probe_environment, EnvironmentStatus, ProbeKind, ProbeState};
use nfops_testkit::Stack;

/// Probes until every probe is Ok (a just-started Prometheus needs a few
/// seconds for its first scrape), at most `within`.
async fn probe_until_ok(stack: &Stack, env: &str, within: Duration) -> EnvironmentStatus {
    let deadline = Instant::now() + within;
    loop {
        let status =
            probe_environment(env, stack.env(env), &*stack.creds, &stack.known_hosts()).await;
        if status.all_ok() || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn summary(status: &EnvironmentStatus, kind: ProbeKind, target: Option<&str>) -> String {
    let p = status
        .probes
        .iter()
        .find(|p| p.kind == kind && target.is_none_or(|t| p.target == t))
        .unwrap_or_else(|| panic!("a {kind:?} probe {target:?} exists"));
    assert_eq!(
        p.state,
        ProbeState::Ok,
        "{kind:?} {target:?} must be Ok: {:?}",
        p.error
    );
    assert!(p.error.is_none());
    p.summary.clone()
}

fn report(status: &EnvironmentStatus) {
    for p in &status.probes {
        eprintln!(
            "  {:<8} {:<10} {:<34} {:>5} ms  {}",
            status.name,
            format!("{:?}", p.kind),
            p.target,
            p.latency_ms,
            p.summary
        );
    }
}

#[tokio::test]
async fn every_probe_of_both_environments_is_ok() {
    let Some(stack) = Stack::from_env("every_probe_of_both_environments_is_ok") else {
        return;
    };

    let started = Instant::now();
    let prod = probe_until_ok(&stack, "production", Duration::from_secs(40)).await;
    eprintln!("production probed in {:?} (last run)", started.elapsed());
    report(&prod);
    let kinds: Vec<ProbeKind> = prod.probes.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            ProbeKind::Backend,
            ProbeKind::Release,
            ProbeKind::Release,
            ProbeKind::Database,
            ProbeKind::Database,
            ProbeKind::Cache,
            ProbeKind::Storage,
            ProbeKind::Monitoring
        ],
        "stable order: backend, release per host, database, its replicas, cache, storage, monitoring"
    );
    assert_eq!(
        prod.probes[1].target, "prod-app-1",
        "release probes follow config order"
    );
    assert_eq!(prod.probes[2].target, "prod-app-2");
    assert_eq!(
        (prod.label.as_str(), prod.tier.as_str()),
        ("Production", "production")
    );

    let backend = summary(&prod, ProbeKind::Backend, None);
    assert!(
        backend.starts_with("healthy (db ok, redis ok)"),
        "health JSON is summarised: {backend}"
    );
    assert_eq!(summary(&prod, ProbeKind::Release, Some("prod-app-1")), "v1");
    assert_eq!(summary(&prod, ProbeKind::Release, Some("prod-app-2")), "v1");
    // "Since when": the `current` link's own modification time, as the host's stat reads it.
    let host = stack.env("production").hosts[0].get_ref().clone();
    let link = std::path::Path::new(&host.app_dir).join("current");
    let switched: chrono::DateTime<chrono::Utc> = std::fs::symlink_metadata(&link)
        .and_then(|m| m.modified())
        .expect("the stack host's current link")
        .into();
    let since = prod.probes[1]
        .since
        .expect("the release probe says since when");
    assert_eq!(
        since.timestamp(),
        switched.timestamp(),
        "since = mtime of {} (not of its target)",
        link.display()
    );
    assert!(
        stack
            .env("production")
            .database
            .as_ref()
            .and_then(|d| d.via.as_ref())
            .is_some(),
        "production's DB is behind a bastion"
    );
    let db = summary(&prod, ProbeKind::Database, None);
    assert!(
        db.starts_with("MariaDB 10."),
        "the version comes through the SSH tunnel: {db}"
    );
    let replica = &prod.probes[4];
    assert!(
        replica.target.starts_with("replica prod-db-2")
            && replica.summary.starts_with("replica: IO Yes, SQL Yes,")
            && replica.summary.contains("GTID Slave_Pos"),
        "the replica's replication state is shown: {replica:?}"
    );
    assert_eq!(summary(&prod, ProbeKind::Cache, None), "PONG");
    assert_eq!(
        summary(&prod, ProbeKind::Storage, None),
        "1 bucket, versioning on"
    );
    let mon = summary(&prod, ProbeKind::Monitoring, None);
    let (up, total) = mon
        .trim_end_matches(" targets up")
        .split_once('/')
        .expect("N/M targets up");
    assert!(
        up == total && up.parse::<u32>().expect("number") > 0,
        "all targets up: {mon}"
    );

    let stg = probe_until_ok(&stack, "staging", Duration::from_secs(40)).await;
    report(&stg);
    assert_eq!(summary(&stg, ProbeKind::Release, Some("stg-app-1")), "v2");
    assert!(summary(&stg, ProbeKind::Backend, None).contains("release v2"));
    assert!(summary(&stg, ProbeKind::Database, None).starts_with("MariaDB 10."));
    assert_eq!(summary(&stg, ProbeKind::Cache, None), "PONG");
    assert_eq!(
        summary(&stg, ProbeKind::Storage, None),
        "1 bucket, versioning on"
    );
    summary(&stg, ProbeKind::Monitoring, None);

    // Warm numbers for the report: one more run of each, every probe already Ok.
    for env in ["production", "staging"] {
        let t = Instant::now();
        let s = probe_environment(env, stack.env(env), &*stack.creds, &stack.known_hosts()).await;
        let slowest = s.probes.iter().map(|p| p.latency_ms).max().unwrap_or(0);
        let sum: u64 = s.probes.iter().map(|p| p.latency_ms).sum();
        eprintln!(
            "{env}: whole run {} ms, slowest probe {slowest} ms, sum of probes {sum} ms",
            t.elapsed().as_millis()
        );
        assert!(s.all_ok(), "{env} stays healthy");
    }
}

#[tokio::test]
async fn a_wrong_credential_fails_only_its_own_probe_with_a_hint() {
    let Some(stack) = Stack::from_env("a_wrong_credential_fails_only_its_own_probe_with_a_hint")
    else {
        return;
    };
    let env = stack.env("staging");
    let storage = env.storage.as_ref().expect("staging has storage");
    let db = env.database.as_ref().expect("staging has a database");
    let creds = MemoryCredentials::default();
    for (name, value) in &stack.credential_values {
        creds.insert(name, value);
    }
    creds.insert(&storage.secret_key_credential, "not-the-secret-planted");
    creds.insert(&db.password_credential, "not-the-password-planted");

    let status = probe_environment("staging", env, &creds, &stack.known_hosts()).await;
    let by_kind = |k: ProbeKind| {
        status
            .probes
            .iter()
            .find(|p| p.kind == k)
            .expect("probe present")
    };

    let s = by_kind(ProbeKind::Storage);
    assert_eq!(
        s.state,
        ProbeState::Failed,
        "a wrong secret key must fail the storage probe"
    );
    let e = s.error.as_ref().expect("failed has an error");
    assert!(
        e.message.contains("refused the access key"),
        "{}",
        e.message
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains(&storage.access_key_credential),
        "the hint names the credential: {e:?}"
    );

    let d = by_kind(ProbeKind::Database);
    assert_eq!(d.state, ProbeState::Failed);
    let e = d.error.as_ref().expect("error");
    assert_eq!(e.code, "service.unreachable");
    assert!(
        e.message.contains(&format!("{}:{}", db.host, db.port)),
        "host:port is named: {}",
        e.message
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains(&db.password_credential),
        "{e:?}"
    );

    let json = serde_json::to_string(&status).expect("serializable");
    assert!(
        !json.contains("planted"),
        "credential values never reach the wire form"
    );
    assert!(
        !json.contains("Access denied for user"),
        "raw driver text is not the message"
    );
    assert_eq!(
        by_kind(ProbeKind::Cache).state,
        ProbeState::Ok,
        "other probes are unaffected"
    );
    assert_eq!(by_kind(ProbeKind::Release).state, ProbeState::Ok);
}

#[tokio::test]
async fn a_redis_that_wants_a_password_is_named_as_a_refused_login_not_as_something_else() {
    let Some(stack) = Stack::from_env(
        "a_redis_that_wants_a_password_is_named_as_a_refused_login_not_as_something_else",
    ) else {
        return;
    };
    // Staging's cache (db 1) with its password left out, then a wrong one:
    // the SELECT before any AUTH fails with the server's NOAUTH inside.
    let mut env = stack.env("staging").clone();
    let cache = env.cache.as_mut().expect("staging has a cache");
    assert_ne!(cache.db, 0, "the stack's staging cache selects a database");
    cache.password_credential = None;
    let status = probe_environment("staging", &env, &*stack.creds, &stack.known_hosts()).await;
    let p = status
        .probes
        .iter()
        .find(|p| p.kind == ProbeKind::Cache)
        .expect("cache probe");
    assert_eq!(p.state, ProbeState::Failed);
    let e = p.error.as_ref().expect("error");
    assert!(e.message.contains("refused the login"), "{e:?}");
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("password_credential"),
        "{e:?}"
    );
    let creds = MemoryCredentials::default();
    creds.insert("wrong", "not-the-password");
    env.cache.as_mut().expect("cache").password_credential = Some("wrong".into());
    let status = probe_environment("staging", &env, &creds, &stack.known_hosts()).await;
    let p = status
        .probes
        .iter()
        .find(|p| p.kind == ProbeKind::Cache)
        .expect("cache probe");
    let e = p.error.as_ref().expect("error");
    assert!(e.message.contains("refused the login"), "{e:?}");
    assert!(e.hint.as_deref().unwrap_or("").contains("'wrong'"), "{e:?}");
}

//! Probes run concurrently, each within its own timeout, and never fail as a
//! whole. Needs no stack: every service is a local port that accepts
//! connections and never answers, or a closed port.

use std::path::Path;
use std::time::{Duration, Instant};

use nfops_core::config::Config;
use nfops_core::credentials::MemoryCredentials;
use nfops_fleet::{probe_environment_with, ProbeKind, ProbeOptions, ProbeState};

/// A listener that accepts and then holds every connection silently.
async fn black_hole() -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (port, task)
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test]
async fn silent_services_time_out_each_on_their_own_and_concurrently() {
    let (http, _h) = black_hole().await;
    let (db, _d) = black_hole().await;
    let (redis, _r) = black_hole().await;
    let (s3, _s) = black_hole().await;
    let (prom, _p) = black_hole().await;
    let (ssh, _x) = black_hole().await;
    let toml = format!(
        r#"
[environments.slow]
tier = "staging"
health_url = "http://127.0.0.1:{http}/health"
[[environments.slow.hosts]]
name = "app1"
address = "127.0.0.1"
port = {ssh}
user = "deploy"
ssh_key_credential = "k"
app_dir = "/srv/app"
[environments.slow.database]
host = "127.0.0.1"
port = {db}
name = "nf"
user = "ops"
password_credential = "db"
[environments.slow.cache]
host = "127.0.0.1"
port = {redis}
[environments.slow.storage]
endpoint = "http://127.0.0.1:{s3}"
path_style = true
buckets = ["nf-assets", "nf-backups"]
access_key_credential = "ak"
secret_key_credential = "sk"
[environments.slow.monitoring]
prometheus_url = "http://127.0.0.1:{prom}"
"#
    );
    let cfg = Config::parse(Path::new("slow.toml"), &toml).expect("test config parses");
    let env = cfg.environment("slow").expect("env");
    let creds = MemoryCredentials::default();
    // Not a real key: the release probe fails on it at once, before any network.
    creds.insert("k", "not a key");
    for c in ["db", "ak", "sk"] {
        creds.insert(c, "value-planted");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let options = ProbeOptions {
        timeout: Duration::from_secs(1),
    };

    let started = Instant::now();
    let status = probe_environment_with(
        "slow",
        env,
        &creds,
        &dir.path().join("known_hosts"),
        &options,
    )
    .await;
    let took = started.elapsed();

    assert_eq!(
        status.probes.len(),
        6,
        "one result per probe, none lost: {:?}",
        status.probes
    );
    assert!(
        status.probes.iter().all(|p| p.state == ProbeState::Failed),
        "every silent service fails: {:#?}",
        status.probes
    );
    assert!(
        took < Duration::from_millis(2500),
        "five 1 s timeouts must overlap (concurrent probes), took {took:?}"
    );
    for p in &status.probes {
        let e = p.error.as_ref().expect("a failed probe carries its error");
        assert!(
            p.latency_ms <= 1_500,
            "{:?} stayed within its own timeout: {} ms",
            p.kind,
            p.latency_ms
        );
        assert!(
            !e.message.contains("planted"),
            "no credential in messages: {}",
            e.message
        );
        if p.kind == ProbeKind::Release {
            assert_eq!(
                e.code, "ssh.auth",
                "an unusable key credential is ssh.auth: {e:?}"
            );
        } else {
            assert_eq!(e.code, "service.unreachable", "{:?}: {e:?}", p.kind);
        }
    }
}

#[tokio::test]
async fn refused_connections_fail_fast_and_name_the_address() {
    let (redis, db, prom) = (closed_port(), closed_port(), closed_port());
    let toml = format!(
        r#"
[environments.down]
tier = "local"
[environments.down.database]
host = "127.0.0.1"
port = {db}
name = "nf"
user = "ops"
password_credential = "db"
[environments.down.cache]
host = "127.0.0.1"
port = {redis}
[environments.down.monitoring]
prometheus_url = "http://127.0.0.1:{prom}"
"#
    );
    let cfg = Config::parse(Path::new("down.toml"), &toml).expect("test config parses");
    let env = cfg.environment("down").expect("env");
    let creds = MemoryCredentials::default();
    creds.insert("db", "pw");
    let dir = tempfile::tempdir().expect("tempdir");
    let status = probe_environment_with(
        "down",
        env,
        &creds,
        &dir.path().join("kh"),
        &ProbeOptions::default(),
    )
    .await;
    for (kind, port) in [
        (ProbeKind::Database, db),
        (ProbeKind::Cache, redis),
        (ProbeKind::Monitoring, prom),
    ] {
        let p = status
            .probes
            .iter()
            .find(|p| p.kind == kind)
            .expect("probe");
        assert_eq!(p.state, ProbeState::Failed);
        let e = p.error.as_ref().expect("error");
        assert!(
            e.message.contains(&format!("127.0.0.1:{port}")),
            "{kind:?} names the address: {}",
            e.message
        );
        assert!(
            p.latency_ms < 2_000,
            "{kind:?}: refusal is not a timeout ({} ms)",
            p.latency_ms
        );
    }
    let backend = status
        .probes
        .iter()
        .find(|p| p.kind == ProbeKind::Backend)
        .expect("backend");
    assert_eq!(
        backend.state,
        ProbeState::NotConfigured,
        "no health_url is not an error"
    );
}

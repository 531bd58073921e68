//! SSH sessions, commands and tunnels against the local stack's real sshd.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nfops_core::credentials::MemoryCredentials;
use nfops_core::ErrorCode;
use nfops_fleet::{shell_quote, SshSession};
use nfops_testkit::Stack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CMD: Duration = Duration::from_secs(10);

async fn session(stack: &Stack) -> SshSession {
    let host = stack.host("production", "prod-app-1");
    SshSession::connect(&host, &*stack.creds, &stack.known_hosts())
        .await
        .expect("the stack's deploy key logs in")
}

#[tokio::test]
async fn exec_reports_exit_codes_and_both_streams() {
    let Some(stack) = Stack::from_env("exec_reports_exit_codes_and_both_streams") else {
        return;
    };
    let s = session(&stack).await;

    let out = s
        .exec("echo out; echo err >&2; exit 3", CMD)
        .await
        .expect("the command runs");
    assert_eq!(out.exit_code, 3, "the remote exit status is passed through");
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n", "stderr is kept apart from stdout");

    let out = s.exec("true", CMD).await.expect("runs");
    assert_eq!(out.exit_code, 0);

    let tricky = "it's $HOME `id` ;|&";
    let out = s
        .exec(&format!("printf %s {}", shell_quote(tricky)), CMD)
        .await
        .expect("runs");
    assert_eq!(
        out.stdout, tricky,
        "quoted arguments reach the remote shell unchanged"
    );

    let err = s
        .exec_checked("echo first >&2; echo boom-reason >&2; exit 4", CMD)
        .await
        .expect_err("non-zero must fail");
    assert_eq!(err.code(), ErrorCode::SshCommand);
    assert!(
        err.message().contains("status 4"),
        "the exit status is in the message: {}",
        err.message()
    );
    assert!(
        err.message().contains("boom-reason"),
        "the stderr tail is in the message: {}",
        err.message()
    );
    assert!(
        err.message().contains("prod-app-1"),
        "the host is named: {}",
        err.message()
    );
}

#[tokio::test]
async fn exec_times_out_and_the_session_stays_usable() {
    let Some(stack) = Stack::from_env("exec_times_out_and_the_session_stays_usable") else {
        return;
    };
    let s = session(&stack).await;
    let started = Instant::now();
    let err = s
        .exec("sleep 30", Duration::from_secs(1))
        .await
        .expect_err("a 30 s command must time out after 1 s");
    let took = started.elapsed();
    assert_eq!(err.code(), ErrorCode::SshCommand);
    assert!(
        err.message().contains("timed out after 1s"),
        "{}",
        err.message()
    );
    assert!(
        took < Duration::from_secs(3),
        "the timeout is honoured promptly, took {took:?}"
    );
    let out = s
        .exec("echo still-here", CMD)
        .await
        .expect("the session survives a timed-out channel");
    assert_eq!(out.stdout.trim(), "still-here");
}

#[tokio::test]
async fn a_tunnel_carries_two_concurrent_connections_and_stops_on_drop() {
    let Some(stack) =
        Stack::from_env("a_tunnel_carries_two_concurrent_connections_and_stops_on_drop")
    else {
        return;
    };
    let s = session(&stack).await;
    let cache = stack
        .env("production")
        .cache
        .clone()
        .expect("production has a cache");
    let password = stack
        .credential_values
        .iter()
        .find(|(n, _)| Some(n) == cache.password_credential.as_ref())
        .map(|(_, v)| v.clone())
        .expect("the redis password credential exists");

    let tunnel = s
        .forward(&cache.host, cache.port)
        .await
        .expect("a local port is bound");
    let local = tunnel.local_addr();
    assert!(
        local.ip().is_loopback(),
        "tunnels listen on loopback only, got {local}"
    );

    // Both connections are open at once, then talk in interleaved order.
    let mut a = tokio::net::TcpStream::connect(local)
        .await
        .expect("first connection");
    let mut b = tokio::net::TcpStream::connect(local)
        .await
        .expect("second connection");
    let auth = format!("AUTH {password}\r\n");
    let (send_a, send_b) = (
        format!("{auth}ECHO conn-a\r\n"),
        format!("{auth}ECHO conn-b\r\n"),
    );
    let (ra, rb) = tokio::join!(
        roundtrip(&mut a, &send_a, "$6\r\nconn-a\r\n"),
        roundtrip(&mut b, &send_b, "$6\r\nconn-b\r\n"),
    );
    assert_eq!(
        ra, "+OK\r\n$6\r\nconn-a\r\n",
        "connection A talks to Redis through the tunnel"
    );
    assert_eq!(
        rb, "+OK\r\n$6\r\nconn-b\r\n",
        "connection B is a separate stream"
    );
    let rb2 = roundtrip(&mut b, "PING\r\n", "+PONG\r\n").await;
    let ra2 = roundtrip(&mut a, "PING\r\n", "+PONG\r\n").await;
    assert_eq!(
        (ra2.as_str(), rb2.as_str()),
        ("+PONG\r\n", "+PONG\r\n"),
        "both stay open together"
    );

    drop(tunnel);
    // The listener task stops asynchronously: poll, with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(local).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "dropping the tunnel must stop its listener within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(2), a.read(&mut buf))
        .await
        .expect("cut promptly")
        .unwrap_or(0);
    assert_eq!(n, 0, "dropping the tunnel cuts the connections it carried");
}

/// Writes `send`, reads until the answer ends with `until`.
async fn roundtrip(s: &mut tokio::net::TcpStream, send: &str, until: &str) -> String {
    s.write_all(send.as_bytes())
        .await
        .expect("write through tunnel");
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&got).ends_with(until) {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, s.read(&mut buf))
            .await
            .expect("answer within 5 s")
            .expect("read");
        assert!(
            n > 0,
            "tunnel closed early; got {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_key_the_host_does_not_know_is_ssh_auth() {
    let Some(stack) = Stack::from_env("a_key_the_host_does_not_know_is_ssh_auth") else {
        return;
    };
    let host = stack.host("production", "prod-app-1");
    let (private, _) = fresh_ed25519(stack.tmp(), "stranger");
    let creds = MemoryCredentials::default();
    creds.insert(
        host.key_credential()
            .expect("the stack's hosts use a keyring key"),
        &private,
    );
    let err = SshSession::connect(&host, &creds, &stack.known_hosts())
        .await
        .expect_err("an unknown key must be rejected");
    assert_eq!(err.code(), ErrorCode::SshAuth, "{err}");
    assert!(
        err.message().contains(&format!("user '{}'", host.user)),
        "the user is named: {}",
        err.message()
    );
    assert!(
        err.hint_text().unwrap_or("").contains("not authorized"),
        "the hint says what to do: {err}"
    );
    let all = format!("{err} {:?}", err.causes());
    assert!(
        !all.contains("PRIVATE KEY") && !all.contains(private.lines().nth(1).unwrap_or("-")),
        "no key material in errors"
    );
}

#[tokio::test]
async fn a_wrong_pinned_host_key_is_refused() {
    let Some(stack) = Stack::from_env("a_wrong_pinned_host_key_is_refused") else {
        return;
    };
    let mut host = stack.host("production", "prod-app-1");
    host.host_key = Some("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    let err = SshSession::connect(&host, &*stack.creds, &stack.known_hosts())
        .await
        .expect_err("a wrong fingerprint must refuse");
    assert_eq!(err.code(), ErrorCode::SshConnect);
    assert!(
        err.message().contains("mismatch") && err.message().contains("MITM"),
        "{}",
        err.message()
    );
    assert!(
        err.message()
            .contains(&format!("{}:{}", host.address, host.port)),
        "host:port is named: {}",
        err.message()
    );
}

#[tokio::test]
async fn trust_on_first_use_matches_ssh_keygen_and_refuses_a_changed_key() {
    let Some(stack) =
        Stack::from_env("trust_on_first_use_matches_ssh_keygen_and_refuses_a_changed_key")
    else {
        return;
    };
    let mut host = stack.host("production", "prod-app-1");
    let pinned = host.host_key.take().expect("the stack pins its host key");
    let known = stack.known_hosts();

    SshSession::connect(&host, &*stack.creds, &known)
        .await
        .expect("first use is trusted");
    assert_eq!(
        ssh_keygen_fingerprint(&known),
        pinned,
        "the key recorded on first use is the stack's host key, and our fingerprint format is ssh-keygen's"
    );
    SshSession::connect(&host, &*stack.creds, &known)
        .await
        .expect("the recorded key is accepted again");

    let (_, other_pub) = fresh_ed25519(stack.tmp(), "impostor");
    let forged = stack.tmp().join("known_hosts_changed");
    let key = other_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(&forged, format!("[{}]:{} {key}\n", host.address, host.port))
        .expect("write known_hosts");
    let err = SshSession::connect(&host, &*stack.creds, &forged)
        .await
        .expect_err("a changed host key must refuse");
    assert_eq!(err.code(), ErrorCode::SshConnect);
    assert!(
        err.message().contains("changed") && err.message().contains("MITM"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_closed_port_is_ssh_connect_naming_host_and_port() {
    let Some(stack) = Stack::from_env("a_closed_port_is_ssh_connect_naming_host_and_port") else {
        return;
    };
    let mut host = stack.host("production", "prod-app-1");
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    host.port = free;
    let err = SshSession::connect(&host, &*stack.creds, &stack.known_hosts())
        .await
        .expect_err("nothing listens there");
    assert_eq!(err.code(), ErrorCode::SshConnect);
    assert!(
        err.message().contains(&format!("127.0.0.1:{free}")),
        "{}",
        err.message()
    );
    assert!(err.message().contains("refused"), "{}", err.message());
}

/// Runs `ssh-keygen` to make a fresh ed25519 key; returns (private, public) text.
pub fn fresh_ed25519(dir: &Path, name: &str) -> (String, String) {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "nfops-fleet-test",
            "-f",
        ])
        .arg(&path)
        .output()
        .expect("ssh-keygen runs (openssh-client is a stack dependency)");
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let private = std::fs::read_to_string(&path).expect("private key written");
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("public key written");
    (private, public)
}

/// The first line of `ssh-keygen -lf FILE`'s fingerprint (`SHA256:...`).
pub fn ssh_keygen_fingerprint(file: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(file)
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen -lf failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|t| t.starts_with("SHA256:"))
        .expect("ssh-keygen -l prints a SHA256 fingerprint")
        .to_owned()
}

/// Peak resident memory of this process so far (`VmHWM`), KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test]
async fn streams_move_hundreds_of_megabytes_each_way_in_bounded_memory() {
    use sha2::{Digest, Sha256};
    let Some(stack) = Stack::from_env("streams_move_data_in_bounded_memory") else {
        return;
    };
    let s = session(&stack).await;
    const SIZE: u64 = 256 * 1024 * 1024;
    let idle = Duration::from_secs(60);
    let before = peak_kib();

    // Out of the host: read as it comes, never collected.
    let mut p = s
        .exec_stream(&format!("head -c {SIZE} /dev/zero; echo done >&2"), idle)
        .await
        .expect("starts");
    let (mut n, mut h) = (0u64, Sha256::new());
    while let Some(chunk) = p.read().await.expect("reads") {
        n += chunk.len() as u64;
        h.update(&chunk);
    }
    let out = p.finish().await.expect("exits 0");
    assert_eq!(n, SIZE, "every byte arrived");
    assert_eq!(out.stderr.trim(), "done", "stderr is kept apart");
    let zeros = h.finalize();

    // Into the host, while its output is read: the writer waits for the window.
    let mut p = s.exec_stream("sha256sum", idle).await.expect("starts");
    let stdin = p.take_stdin().expect("stdin");
    let send = async move {
        let block = vec![0u8; 1024 * 1024];
        for _ in 0..SIZE / block.len() as u64 {
            stdin.write(&block).await?;
        }
        stdin.close().await
    };
    let (sent, got) = tokio::join!(send, p.read_to_end(1024));
    sent.expect("all sent");
    let got = String::from_utf8(got.expect("read")).expect("text");
    p.finish().await.expect("exits 0");
    assert_eq!(
        got.split_whitespace().next(),
        Some(format!("{zeros:x}").as_str())
    );

    let grown_mib = (peak_kib().saturating_sub(before)) / 1024;
    assert!(
        grown_mib < 64,
        "moving 2 × 256 MiB grew peak memory by {grown_mib} MiB: streams must not buffer"
    );

    // A failing command is an error quoting its stderr; an idle one is stopped.
    let p = s
        .exec_stream("echo broken-reason >&2; exit 5", idle)
        .await
        .expect("starts");
    let err = p.finish().await.expect_err("exit 5");
    assert!(
        err.message().contains("status 5") && err.message().contains("broken-reason"),
        "{}",
        err.message()
    );
    let mut p = s
        .exec_stream("sleep 30", Duration::from_secs(1))
        .await
        .expect("starts");
    let t0 = Instant::now();
    let err = p.read().await.expect_err("idle");
    assert!(err.message().contains("moved no data"), "{}", err.message());
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "the idle bound holds"
    );
}

#[tokio::test]
async fn a_host_key_scan_shows_what_ssh_keygen_prints_on_the_host_and_logs_in_to_nothing() {
    let Some(stack) = Stack::from_env(
        "a_host_key_scan_shows_what_ssh_keygen_prints_on_the_host_and_logs_in_to_nothing",
    ) else {
        return;
    };
    let host = stack.host("production", "prod-app-1");
    let known_hosts = stack.dir.join("scan-known-hosts");
    let _ = std::fs::remove_file(&known_hosts);
    let seen = nfops_fleet::scan_host_key(&host.address, host.port, Duration::from_secs(10))
        .await
        .expect("the stack's sshd shows its key");
    // What the operator compares it with: ssh-keygen on the host's own key file.
    let printed = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(stack.dir.join("ssh/ssh_host_ed25519_key.pub"))
        .output()
        .expect("ssh-keygen");
    let printed = String::from_utf8_lossy(&printed.stdout);
    assert!(
        printed.contains(&seen.fingerprint),
        "{} is in ssh-keygen's line {printed}",
        seen.fingerprint
    );
    assert_eq!(seen.algorithm, "ssh-ed25519");
    assert!(!known_hosts.exists(), "a scan records nothing");

    // Not an SSH server (the stack's Redis) and a closed port: ssh.connect, naming the endpoint.
    let redis = stack
        .env("production")
        .cache
        .as_ref()
        .expect("production has a cache")
        .port;
    let e = nfops_fleet::scan_host_key("127.0.0.1", redis, Duration::from_secs(5))
        .await
        .expect_err("Redis is no SSH server");
    assert_eq!(e.code(), ErrorCode::SshConnect);
    assert!(e.message().contains(&format!("127.0.0.1:{redis}")), "{e}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let e = nfops_fleet::scan_host_key("127.0.0.1", closed, Duration::from_secs(5))
        .await
        .expect_err("nothing listens");
    assert_eq!(e.code(), ErrorCode::SshConnect);
}

//! The uptime checks against real servers: the stack's staging nginx (HTTP
//! status and keyword), a TCP port open and one closed, and a TLS server
//! (`openssl s_server`) whose self-signed certificate no root trusts.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nfops_core::config::UptimeCheck;
use nfops_metrics::uptime::{check, Probe};

fn probe(check: UptimeCheck, target: &str) -> Probe {
    Probe {
        name: "t".into(),
        check,
        target: target.into(),
        expect_status: 200,
        keyword: None,
        interval_seconds: 20,
        failures_before_down: 3,
        min_cert_days: 14,
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test]
async fn tcp_checks_tell_open_from_closed() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = listener.local_addr().expect("addr").to_string();
    let s = check::run(&probe(UptimeCheck::Tcp, &open)).await;
    assert!(s.ok, "{}", s.detail);
    assert!(s.latency_ms.is_some());
    let closed = format!("127.0.0.1:{}", free_port());
    let s = check::run(&probe(UptimeCheck::Tcp, &closed)).await;
    assert!(!s.ok && s.detail.contains("refused"), "{}", s.detail);
    assert_eq!(s.latency_ms, None, "nothing answered: no latency");
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn tls_refuses_a_certificate_no_root_trusts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-days",
            "30",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let Ok(status) = made else {
        eprintln!("skipping: no openssl binary");
        return;
    };
    assert!(status.success(), "openssl req");
    let port = free_port();
    let _server = Server(
        Command::new("openssl")
            .args(["s_server", "-quiet", "-accept", &port.to_string()])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    let target = format!("localhost:{port}");
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < until, "s_server listens");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = check::run(&probe(UptimeCheck::Tls, &target)).await;
    assert!(
        !s.ok,
        "a self-signed certificate is not trusted: {}",
        s.detail
    );
    assert!(
        s.detail.contains("TLS handshake") && s.detail.to_lowercase().contains("certificate"),
        "{}",
        s.detail
    );
}

#[tokio::test]
async fn http_checks_status_and_keyword_on_the_stack() {
    let Some(stack) = nfops_testkit::stack_dir("http_checks_status_and_keyword_on_the_stack")
    else {
        return;
    };
    let config = nfops_core::config::Config::load(&stack.config_path()).expect("config");
    let url = config
        .environment("staging")
        .expect("staging")
        .health_url
        .as_ref()
        .expect("health_url")
        .get_ref()
        .clone();
    let mut p = probe(UptimeCheck::Http, &url);
    p.keyword = Some("\"status\":\"ok\"".into());
    let s = check::run(&p).await;
    assert!(s.ok, "{}", s.detail);
    assert!(s.detail.contains("keyword"), "{}", s.detail);
    p.keyword = Some("no-such-text-in-health".into());
    let s = check::run(&p).await;
    assert!(
        !s.ok && s.detail.contains("lacks the keyword"),
        "{}",
        s.detail
    );
    assert!(
        s.latency_ms.is_some(),
        "the server answered: a latency is kept"
    );
    let mut p = probe(UptimeCheck::Http, &url.replace("/health", "/no-such-route"));
    p.expect_status = 200;
    let s = check::run(&p).await;
    assert!(!s.ok && s.detail.starts_with("status 404"), "{}", s.detail);
}

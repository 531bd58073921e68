//! HTTP clients trust the OS certificate store and take the proxy from the
//! environment, through the one home (`nfops_core::http`), against the
//! stack's nginx serving HTTPS with a leaf of the stack's own CA and a real
//! `tinyproxy` on loopback.
//!
//! Both are read when a client is built and are process-wide, so every
//! request runs in a child process (this test binary again, running only
//! the ignored `child` test) with its own `SSL_CERT_FILE` — the Linux "OS
//! store" rustls-native-certs reads — and its own proxy variables.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nfops_core::config::Config;
use nfops_core::credentials::MemoryCredentials;
use nfops_core::http::PROXY_VARS;
use nfops_fleet::{probe_environment, ProbeKind, ProbeState};
use nfops_testkit::{skip_or_fail, Stack};

const PROXY_USER: &str = "ops";
const PROXY_PASSWORD: &str = "pr0xy-s3cret";

/// The system's CA bundle (Debian's), which does not hold the stack's CA.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The stack, its HTTPS entry (production's nginx, HTTP port + 2), and two
/// trust bundles: the system's, and the system's plus the stack's CA.
struct Tls {
    stack: Stack,
    https: String,
    with_ca: PathBuf,
}

fn tls(test: &str) -> Option<Tls> {
    let stack = Stack::from_env(test)?;
    let http = stack.entry_url("production");
    let port: u16 = http
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("production's health URL has a port: {http}"));
    let ca = stack.dir.join("ca/ca.pem");
    assert!(ca.is_file(), "scripts/stack up makes {}", ca.display());
    let system = std::fs::read_to_string(SYSTEM_BUNDLE)
        .unwrap_or_else(|e| panic!("{SYSTEM_BUNDLE} (Debian's ca-certificates): {e}"));
    let ca_text = std::fs::read_to_string(&ca).expect("read the stack CA");
    assert!(
        !system.contains(ca_text.trim()),
        "the stack CA must not be in {SYSTEM_BUNDLE} for the 'untrusted' case to mean anything"
    );
    let with_ca = stack.tmp().join("os-store-with-stack-ca.pem");
    std::fs::write(&with_ca, format!("{system}\n{ca_text}")).expect("write the bundle");
    Some(Tls {
        https: format!("https://127.0.0.1:{}", port + 2),
        stack,
        with_ca,
    })
}

/// [`tls`] and a [`Tinyproxy`] in its folder; `None` when the test is skipped.
fn tls_and_proxy(test: &str) -> Option<(Tls, Tinyproxy)> {
    let t = tls(test)?;
    let proxy = Tinyproxy::start(t.stack.tmp())?;
    Some((t, proxy))
}

/// Runs `case` in a child process with only `env` set among the trust and
/// proxy variables; returns its "ok …" / "err …" line.
fn run_child(case: &str, url: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args([
        "child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for v in PROXY_VARS.iter().chain(&["SSL_CERT_FILE", "SSL_CERT_DIR"]) {
        cmd.env_remove(v);
    }
    cmd.env("NFOPS_HTTP_CHILD", case)
        .env("NFOPS_HTTP_CHILD_URL", url);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {case} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("child {case} printed no RESULT line:\n{stdout}"))
        .to_owned()
}

#[test]
fn health_probe_trusts_the_os_store_and_names_an_untrusted_certificate() {
    let Some(t) = tls("health_probe_trusts_the_os_store_and_names_an_untrusted_certificate") else {
        return;
    };
    let without = run_child("health", &t.https, &[("SSL_CERT_FILE", SYSTEM_BUNDLE)]);
    assert!(
        without.starts_with("err ")
            && without.contains("TLS certificate")
            && without.contains("does not trust"),
        "without the stack CA in the OS store the probe must fail naming the certificate: {without}"
    );
    let with = run_child("health", &t.https, &[("SSL_CERT_FILE", path(&t.with_ca))]);
    assert!(
        with.starts_with("ok healthy"),
        "with the CA in the OS store: {with}"
    );
}

#[test]
fn prometheus_client_trusts_the_os_store_and_names_an_untrusted_certificate() {
    let Some(t) = tls("prometheus_client_trusts_the_os_store_and_names_an_untrusted_certificate")
    else {
        return;
    };
    let without = run_child("prometheus", &t.https, &[("SSL_CERT_FILE", SYSTEM_BUNDLE)]);
    assert!(
        without.starts_with("err ") && without.contains("does not trust"),
        "{without}"
    );
    // The OS store as a folder (SSL_CERT_DIR) works as the bundle file does.
    let dir = t.stack.tmp().join("os-store-dir");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(t.stack.dir.join("ca/ca.pem"), dir.join("stack-ca.pem")).expect("copy CA");
    for env in [
        ("SSL_CERT_FILE", path(&t.with_ca)),
        ("SSL_CERT_DIR", path(&dir)),
    ] {
        let with = run_child("prometheus", &t.https, &[env]);
        assert!(
            with.starts_with("ok ") && !with.starts_with("ok 0 "),
            "{env:?}: Prometheus behind HTTPS must answer `up` with samples: {with}"
        );
    }
}

#[test]
fn uptime_checks_trust_the_os_store() {
    let Some(t) = tls("uptime_checks_trust_the_os_store") else {
        return;
    };
    let without = run_child("uptime", &t.https, &[("SSL_CERT_FILE", SYSTEM_BUNDLE)]);
    assert!(
        without.contains("http: err") && without.contains("tls: err"),
        "both uptime checks refuse the untrusted certificate: {without}"
    );
    let with = run_child("uptime", &t.https, &[("SSL_CERT_FILE", path(&t.with_ca))]);
    assert!(
        with.contains("http: ok") && with.contains("tls: ok certificate valid"),
        "with the CA in the OS store: {with}"
    );
}

#[test]
fn https_goes_through_the_proxy_and_no_proxy_bypasses_it() {
    let Some((t, proxy)) = tls_and_proxy("https_goes_through_the_proxy_and_no_proxy_bypasses_it")
    else {
        return;
    };
    let ca = path(&t.with_ca);
    let bare = proxy.url(false);
    let authed = proxy.url(true);
    let tls_port = t.https.rsplit(':').next().expect("port");
    let connect = format!("CONNECT 127.0.0.1:{tls_port}");

    // The proxy insists on its password: a refusal proves the request went to it.
    let refused = run_child(
        "health",
        &t.https,
        &[("SSL_CERT_FILE", ca), ("HTTPS_PROXY", &bare)],
    );
    assert!(
        refused.starts_with("err "),
        "the proxy refuses without credentials: {refused}"
    );

    let logs = t.stack.tmp().join("child-logs");
    for case in ["health", "prometheus"] {
        let before = proxy.log().matches(&connect).count();
        let through = run_child(
            case,
            &t.https,
            &[
                ("SSL_CERT_FILE", ca),
                ("HTTPS_PROXY", &authed),
                ("NFOPS_HTTP_CHILD_LOGS", path(&logs)),
                ("NFOPS_LOG", "debug"),
            ],
        );
        assert!(
            through.starts_with("ok "),
            "{case} through the proxy: {through}"
        );
        assert!(
            proxy.log().matches(&connect).count() > before,
            "{case}: the proxy's log must show the tunnel ({connect}):\n{}",
            proxy.log()
        );
    }
    // Credentials never reach the log; the proxy in use does, redacted.
    let written = read_dir_text(&logs);
    assert!(
        !written.contains(PROXY_PASSWORD),
        "the proxy password leaked into the log:\n{written}"
    );
    assert!(
        written.contains("HTTPS_PROXY=http://***@127.0.0.1:"),
        "the log names the proxy, redacted:\n{written}"
    );

    // NO_PROXY: straight to the server, so the proxy's refusal does not matter.
    let before = proxy.log().matches(&connect).count();
    for case in ["health", "prometheus"] {
        let direct = run_child(
            case,
            &t.https,
            &[
                ("SSL_CERT_FILE", ca),
                ("HTTPS_PROXY", &bare),
                ("NO_PROXY", "127.0.0.1"),
            ],
        );
        assert!(direct.starts_with("ok "), "{case} with NO_PROXY: {direct}");
    }
    assert_eq!(
        proxy.log().matches(&connect).count(),
        before,
        "NO_PROXY=127.0.0.1 must bypass the proxy"
    );
}

#[test]
fn storage_takes_the_proxy_from_the_environment() {
    let Some((t, proxy)) = tls_and_proxy("storage_takes_the_proxy_from_the_environment") else {
        return;
    };
    let endpoint = nfops_testkit::stack::s3_endpoint(
        &std::fs::read_to_string(t.stack.config_path()).expect("config"),
    );
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let seen = |log: &str| log.matches(&format!("http://{hostport}/")).count();
    let refused = run_child("storage", "", &[("HTTP_PROXY", &proxy.url(false))]);
    assert!(
        refused.starts_with("err "),
        "the proxy refuses without credentials: {refused}"
    );
    let before = seen(&proxy.log());
    let through = run_child("storage", "", &[("HTTP_PROXY", &proxy.url(true))]);
    assert!(
        through.starts_with("ok "),
        "S3 through the proxy: {through}"
    );
    assert!(
        seen(&proxy.log()) > before,
        "the proxy's log must show the S3 requests to {hostport}:\n{}",
        proxy.log()
    );
    let direct = run_child(
        "storage",
        "",
        &[("HTTP_PROXY", &proxy.url(false)), ("NO_PROXY", "127.0.0.1")],
    );
    assert!(direct.starts_with("ok "), "S3 with NO_PROXY: {direct}");
}

/// The request itself, in the child process (see the module comment).
#[tokio::test]
#[ignore = "the child process of the tests above; run by them with its own trust store and proxy"]
async fn child() {
    let Ok(case) = std::env::var("NFOPS_HTTP_CHILD") else {
        return;
    };
    let url = std::env::var("NFOPS_HTTP_CHILD_URL").unwrap_or_default();
    let _logs = std::env::var_os("NFOPS_HTTP_CHILD_LOGS")
        .map(|d| nfops_core::logging::init(Path::new(&d), "child").expect("start logging"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let result = match case.as_str() {
        "health" => {
            let text = format!(
                "version = 1\n[environments.tls]\ntier = \"staging\"\nhealth_url = \"{url}/health\"\n"
            );
            let config = Config::parse(Path::new("tls.toml"), &text).expect("config");
            let env = config.environment("tls").expect("env");
            let known = tmp.path().join("known_hosts");
            let status = probe_environment("tls", env, &MemoryCredentials::default(), &known).await;
            probe_line(&status.probes, ProbeKind::Backend)
        }
        "prometheus" => {
            let prom = nfops_metrics::Prometheus::new(
                &format!("{url}/prometheus"),
                Duration::from_secs(5),
            )
            .expect("client");
            match prom.instant("up").await {
                Ok(samples) => format!("ok {} samples", samples.len()),
                Err(e) => format!("err {e}"),
            }
        }
        "uptime" => {
            let hostport = url.trim_start_matches("https://");
            let text = format!(
                "version = 1\n[environments.tls]\ntier = \"staging\"\n\
                 [[environments.tls.uptime]]\nname = \"http\"\ncheck = \"http\"\ntarget = \"{url}/health\"\n\
                 [[environments.tls.uptime]]\nname = \"tls\"\ncheck = \"tls\"\ntarget = \"{hostport}\"\n"
            );
            let config = Config::parse(Path::new("tls.toml"), &text).expect("config");
            let env = config.environment("tls").expect("env");
            let mut lines = Vec::new();
            for probe in nfops_metrics::uptime::probes_of(env) {
                let sample = nfops_metrics::uptime::check::run(&probe).await;
                let state = if sample.ok { "ok" } else { "err" };
                lines.push(format!("{}: {state} {}", probe.name, sample.detail));
            }
            lines.join(" | ")
        }
        "storage" => {
            let stack = Stack::from_env("child").expect("the stack");
            let mut env = stack.env("production").clone();
            // Only the storage probe: no SSH, no database, no HTTP.
            env.health_url = None;
            env.hosts.clear();
            env.database = None;
            env.cache = None;
            env.monitoring = None;
            let status = probe_environment(
                "production",
                &env,
                stack.creds.as_ref(),
                &stack.known_hosts(),
            )
            .await;
            probe_line(&status.probes, ProbeKind::Storage)
        }
        other => panic!("unknown child case {other}"),
    };
    println!("RESULT {result}");
}

fn probe_line(probes: &[nfops_fleet::ProbeResult], kind: ProbeKind) -> String {
    let p = probes
        .iter()
        .find(|p| p.kind == kind)
        .unwrap_or_else(|| panic!("a {kind:?} probe"));
    match (&p.state, &p.error) {
        (ProbeState::Ok, _) => format!("ok {}", p.summary),
        (_, Some(e)) => format!("err {}", e.message),
        (state, None) => format!("err {state:?}"),
    }
}

/// A `tinyproxy` on loopback that wants `PROXY_USER:PROXY_PASSWORD`, logging
/// every request; stopped on drop.
struct Tinyproxy {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Tinyproxy {
    fn start(dir: &Path) -> Option<Tinyproxy> {
        let bin = ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"]
            .into_iter()
            .find(|b| Path::new(b).is_file());
        let Some(bin) = bin else {
            skip_or_fail(
                "tinyproxy",
                "tinyproxy is not installed (scripts/stack up installs it)",
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = dir.join(format!("tinyproxy-{port}.log"));
        let conf = dir.join(format!("tinyproxy-{port}.conf"));
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\nAllow 127.0.0.1\n\
                 LogFile \"{}\"\nLogLevel Info\nDisableViaHeader Yes\nBasicAuth {PROXY_USER} {PROXY_PASSWORD}\n",
                log.display()
            ),
        )
        .expect("write tinyproxy.conf");
        let child = Command::new(bin)
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tinyproxy");
        let proxy = Tinyproxy { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tinyproxy did not listen on {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(proxy)
    }

    fn url(&self, with_credentials: bool) -> String {
        if with_credentials {
            format!(
                "http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}",
                self.port
            )
        } else {
            format!("http://127.0.0.1:{}", self.port)
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn read_dir_text(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir)
        .expect("the child's log folder")
        .flatten()
    {
        text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    text
}

//! `nfops logs` against the local stack (`NFOPS_STACK_DIR`, under
//! `scripts/with-keyring`): a request with a unique path made through
//! staging's nginx shows up as an access line read from PM2's files over
//! SSH, the filters keep or drop it, and `--follow` prints a line that was
//! written after it started.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn http_get(url: &str) {
    let _ = Command::new("curl")
        .args(["-s", "-o", "/dev/null", url])
        .status();
}

#[test]
fn access_lines_are_tailed_filtered_and_followed() {
    let Some(stack) =
        nfops_testkit::stack_dir("access_lines_are_tailed_filtered_and_followed").map(|s| s.dir)
    else {
        return;
    };
    let config = stack.join("environments.toml");
    let cfg = nfops_core::config::Config::load(&config).expect("stack config");
    let health = cfg
        .environment("staging")
        .expect("staging")
        .health_url
        .as_ref()
        .expect("health_url")
        .get_ref()
        .clone();
    let base = health.trim_end_matches("/health").to_owned();
    let home = tempfile::tempdir().expect("tempdir");
    let service = format!("nfops-logs-test-{}", std::process::id());
    let key = std::fs::read_to_string(stack.join("credentials/stack/ssh/deploy")).expect("key");
    let out = nfops_testkit::run_nfops(
        home.path(),
        &config,
        &service,
        &["credentials", "set", "stack/ssh/deploy"],
        Some(&key),
    );
    assert!(out.status.success());

    let marker = format!("/logs-test-{}", std::process::id());
    http_get(&format!("{base}{marker}"));
    let tail = |extra: &[&str]| {
        let mut args = vec!["--json", "logs", "--env", "staging", "-n", "200"];
        args.extend_from_slice(extra);
        let out = nfops_testkit::run_nfops(home.path(), &config, &service, &args, None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["msg"].as_str().is_some_and(|m| m.contains(&marker)))
    };
    // The app writes its access line after answering: give it a moment.
    let until = Instant::now() + Duration::from_secs(10);
    while !tail(&["--category", "access"]) {
        assert!(
            Instant::now() < until,
            "the access line of {marker} reached the tail within 10 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        !tail(&["--category", "worker"]),
        "a category filter drops other categories"
    );
    assert!(
        !tail(&["--level", "error"]),
        "a 404 access line is info, below error"
    );
    assert!(tail(&["--host", "stg-app-1", "--level", "info"]));

    let mut child = nfops_testkit::nfops_command(home.path(), &config)
        .args([
            "logs",
            "--env",
            "staging",
            "-n",
            "1",
            "--follow",
            "--category",
            "access",
        ])
        .env("NFOPS_KEYRING_SERVICE", &service)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("nfops logs --follow");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_secs(3));
    let later = format!("/logs-follow-{}", std::process::id());
    http_get(&format!("{base}{later}"));
    let until = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    let found = loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(l) if l.contains(&later) => break true,
            Ok(l) => seen.push(l),
            Err(_) if Instant::now() > until => break false,
            Err(_) => {}
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        found,
        "--follow printed the line written after it started; saw {seen:?}"
    );
}

//! `nfops scale` against the local stack (`NFOPS_STACK_DIR`, run under
//! `scripts/with-keyring`): staging's nf-api goes from its count to one more
//! and back, as PM2 itself reports (`pm2 jlist` over SSH, read by the
//! console and, independently, by the `ssh` binary), the instances chart
//! follows, and both scales are audited.

use std::path::Path;
use std::process::Command;

/// Runs `nfops ARGS` (with stdin) and returns its output and all its text.
type Run<'a> = dyn Fn(&[&str], Option<&str>) -> (std::process::Output, String) + 'a;

/// `ssh deploy@stack CMD` with the stack's key; stdout.
fn ssh(stack: &Path, port: &str, cmd: &str) -> String {
    let out = Command::new("ssh")
        .args([
            "-i",
            &stack.join("ssh/deploy_ed25519").display().to_string(),
            "-o",
            &format!(
                "UserKnownHostsFile={}",
                stack.join("ssh/known_hosts").display()
            ),
            "-o",
            "BatchMode=yes",
            "-p",
            port,
            "deploy@127.0.0.1",
            cmd,
        ])
        .output()
        .expect("run ssh");
    assert!(
        out.status.success(),
        "ssh {cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `NODE_APP_INSTANCE` of each online nf-api process on stg-app-1, sorted,
/// read with the OpenSSH client and pm2 itself, not through the console.
fn pm2_instances(stack: &Path, port: &str) -> Vec<u64> {
    let text = ssh(
        stack,
        port,
        &format!("PM2_HOME={}/hosts/stg-app-1/pm2 pm2 jlist", stack.display()),
    );
    let list: serde_json::Value =
        serde_json::from_str(&text[text.find("[{").unwrap_or(0)..]).expect("pm2 jlist JSON");
    let mut ids: Vec<u64> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter(|p| p["name"] == "nf-api" && p["pm2_env"]["status"] == "online")
        .filter_map(|p| p["pm2_env"]["NODE_APP_INSTANCE"].as_u64())
        .collect();
    ids.sort_unstable();
    ids
}

fn pm2_online(stack: &Path, port: &str) -> usize {
    pm2_instances(stack, port).len()
}

/// PM2's scale-down may keep instances 1 and 2 rather than 0 and 1 (and
/// settles a moment after `pm2 scale` returns); the stack's Prometheus
/// scrapes the metrics ports of instances 0 and 1 only. Starting nf-api
/// afresh from the host's ecosystem file gives 0..n again, so the next tests
/// find the stack as it was; this waits until PM2 shows exactly that.
fn renumber(stack: &Path, port: &str, count: usize) {
    let host = stack.join("hosts/stg-app-1");
    let want: Vec<u64> = (0..count as u64).collect();
    // PM2 may still be finishing the scale-down (graceful stops take up to
    // the app's kill timeout): settle first, then ask for a stable picture.
    std::thread::sleep(std::time::Duration::from_secs(10));
    for _attempt in 0..3 {
        if stable(stack, port, &want) {
            return;
        }
        ssh(
            stack,
            port,
            &format!(
                "cd {h} && export PM2_HOME={h}/pm2 && pm2 delete nf-api >/dev/null && pm2 start ecosystem.config.js --only nf-api >/dev/null",
                h = host.display()
            ),
        );
    }
    panic!(
        "stg-app-1 did not settle on instances {want:?}: {:?}",
        pm2_instances(stack, port)
    );
}

/// Whether stg-app-1 shows exactly `want` for 5 s in a row (checked each second).
fn stable(stack: &Path, port: &str, want: &[u64]) -> bool {
    (0..5).all(|i| {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        pm2_instances(stack, port) == want
    })
}

#[test]
fn scaling_changes_the_pm2_count_and_the_instances_chart_then_back() {
    let Some(stack) =
        nfops_testkit::stack_dir("scaling_changes_the_pm2_count_and_the_instances_chart_then_back")
            .map(|s| s.dir)
    else {
        return;
    };
    let config = stack.join("environments.toml");
    let text = std::fs::read_to_string(&config).expect("stack config");
    let port = text
        .lines()
        .find_map(|l| l.strip_prefix("port = ").filter(|p| p.ends_with("50")))
        .expect("the sshd port in the config")
        .to_owned();
    let home = tempfile::tempdir().expect("tempdir");
    let service = format!("nfops-scale-test-{}", std::process::id());
    let run = |args: &[&str], stdin: Option<&str>| {
        let out = nfops_testkit::run_nfops(home.path(), &config, &service, args, stdin);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, all)
    };
    let key = std::fs::read_to_string(stack.join("credentials/stack/ssh/deploy")).expect("key");
    let (out, all) = run(&["credentials", "set", "stack/ssh/deploy"], Some(&key));
    assert!(out.status.success(), "{all}");

    let listing = |run: &Run| {
        let (out, all) = run(
            &["--json", "scale", "--env", "staging", "--since", "15m"],
            None,
        );
        assert!(out.status.success(), "{all}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let before = listing(&run);
    let start = before["instances"]["backendOnline"]
        .as_u64()
        .expect("a count") as u32;
    assert_eq!(
        start as usize,
        pm2_online(&stack, &port),
        "the console reads what pm2 reports"
    );
    let target = start + 1;

    let (out, all) = run(
        &[
            "scale",
            "--env",
            "staging",
            "--instances",
            &target.to_string(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "no terminal and no --yes: refused, nothing changed: {all}"
    );
    assert_eq!(pm2_online(&stack, &port), start as usize);

    let (out, all) = run(
        &[
            "scale",
            "--env",
            "staging",
            "--instances",
            &target.to_string(),
            "--yes",
        ],
        None,
    );
    let scaled_back = || {
        let _ = run(
            &[
                "scale",
                "--env",
                "staging",
                "--instances",
                &start.to_string(),
                "--yes",
            ],
            None,
        );
    };
    if !out.status.success() {
        scaled_back();
        renumber(&stack, &port, start as usize);
        panic!("scale up: {all}");
    }
    let seen = pm2_online(&stack, &port);
    let after = listing(&run);
    let chart_now = after["chartLatest"].clone();
    let (out, all) = run(
        &[
            "scale",
            "--env",
            "staging",
            "--instances",
            &start.to_string(),
            "--yes",
        ],
        None,
    );
    assert!(out.status.success(), "scale back: {all}");

    assert_eq!(seen, target as usize, "pm2 jlist shows the new count");
    assert_eq!(after["instances"]["backendOnline"], target);
    assert_eq!(
        chart_now,
        serde_json::json!([["stg-app-1", f64::from(target)]]),
        "the instances chart ends at the new count"
    );
    assert_eq!(
        pm2_online(&stack, &port),
        start as usize,
        "scaled back for the next run"
    );
    renumber(&stack, &port, start as usize);
    let back = listing(&run);
    assert_eq!(
        back["chartLatest"],
        serde_json::json!([["stg-app-1", f64::from(start)]])
    );

    let (out, all) = run(&["--json", "audit", "list"], None);
    assert!(out.status.success(), "{all}");
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let scales = entries
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "scale.backend" && e["outcome"] == "succeeded")
        .count();
    assert_eq!(scales, 2, "both scales are audited: {entries}");

    let (out, all) = run(&["--json", "jobs", "list"], None);
    assert!(out.status.success(), "{all}");
    let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let done = jobs
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["kind"] == "scale.backend" && j["state"] == "succeeded")
        .count();
    assert_eq!(done, 2, "each scale ran as a job that succeeded: {jobs}");
}

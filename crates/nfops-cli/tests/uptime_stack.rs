//! `nfops uptime` against the local stack (`NFOPS_STACK_DIR`): the health
//! probe of production notices nginx going down (only after its three
//! failures in a row) and coming back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nfops(home: &Path, config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nfops"))
        .args(args)
        .env("NFOPS_HOME", home)
        .env("NFOPS_CONFIG", config)
        .output()
        .expect("run nfops")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `scripts/stack ARGS` for the stack in `dir`.
fn stack(dir: &Path, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/stack");
    let out = Command::new(script)
        .args(args)
        .env("NFOPS_STACK_DIR", dir)
        .output()
        .expect("run scripts/stack");
    assert!(
        out.status.success(),
        "scripts/stack {args:?}: {}",
        text(&out)
    );
}

/// Starts nginx-production again even when an assertion failed, so the
/// stack is left as it was found.
struct Restart<'a>(&'a Path);

impl Drop for Restart<'_> {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| stack(self.0, &["start", "nginx-production"]));
    }
}

/// The production health probe's line of one `nfops --json uptime` round.
fn round(home: &Path, config: &Path) -> (Output, serde_json::Value) {
    let out = nfops(
        home,
        config,
        &["--json", "uptime", "--env", "production", "--since", "15m"],
    );
    let lines: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", text(&out)));
    let line = lines
        .as_array()
        .and_then(|a| a.iter().find(|l| l["probe"] == "health"))
        .cloned()
        .unwrap_or_else(|| panic!("a health probe for production: {}", text(&out)));
    (out, line)
}

#[test]
fn the_health_probe_notices_nginx_going_down_and_coming_back() {
    let Some(dir) = std::env::var_os("NFOPS_STACK_DIR").filter(|d| !d.is_empty()) else {
        assert!(
            std::env::var("NFOPS_REQUIRE_STACK").as_deref() != Ok("1"),
            "NFOPS_REQUIRE_STACK=1 but NFOPS_STACK_DIR is not set"
        );
        eprintln!("skipping: NFOPS_STACK_DIR is not set");
        return;
    };
    let dir = PathBuf::from(dir);
    let config = dir.join("environments.toml");
    let home = tempfile::tempdir().expect("tempdir");

    let (out, line) = round(home.path(), &config);
    assert!(
        out.status.success(),
        "production is up at the start: {}",
        text(&out)
    );
    assert_eq!(line["state"]["status"], "up", "{line}");

    stack(&dir, &["stop", "nginx-production"]);
    let _restart = Restart(&dir);
    for n in 1..=3 {
        let (out, line) = round(home.path(), &config);
        assert_eq!(
            out.status.code(),
            Some(6),
            "a failed probe exits 6: {}",
            text(&out)
        );
        assert_eq!(line["sample"]["ok"], false, "{line}");
        assert_eq!(line["state"]["consecutiveFailures"], n, "{line}");
        if n < 3 {
            assert_eq!(
                line["state"]["status"], "up",
                "down only after 3 failures in a row: {line}"
            );
            assert!(line["transition"].is_null(), "{line}");
        } else {
            assert_eq!(line["state"]["status"], "down", "{line}");
            assert_eq!(
                line["transition"], "wentDown",
                "the third failure raises down: {line}"
            );
        }
    }
    let (_, line) = round(home.path(), &config);
    assert!(
        line["transition"].is_null(),
        "down is raised once, not on every failure: {line}"
    );

    stack(&dir, &["start", "nginx-production"]);
    let (out, line) = round(home.path(), &config);
    assert!(
        out.status.success(),
        "production answers again: {}",
        text(&out)
    );
    assert_eq!(line["transition"], "recovered", "{line}");
    assert_eq!(line["state"]["status"], "up", "{line}");
    let pct = line["uptimePercent"]
        .as_f64()
        .expect("an uptime percentage");
    assert!(
        (pct - 100.0 * 2.0 / 6.0).abs() < 0.01,
        "2 good checks of 6 in this home's history: {pct}"
    );

    let svg = home.path().join("uptime.svg");
    let svg_arg = svg.display().to_string();
    let out = nfops(
        home.path(),
        &config,
        &[
            "uptime",
            "--env",
            "production",
            "--since",
            "15m",
            "--chart",
            "uptime",
            "--out",
            &svg_arg,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let body = std::fs::read_to_string(&svg).expect("the chart was written");
    assert!(
        body.contains("<svg") && body.contains("health"),
        "the chart names the probe"
    );
}

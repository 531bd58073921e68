//! `nfops uptime` against the local stack (`NFOPS_STACK_DIR`): the health
//! probe of production notices nginx going down (only after its three
//! failures in a row) and coming back.

use std::path::Path;
use std::process::Output;

use nfops_testkit::{nfops_command, output_text as text};

fn nfops(home: &Path, config: &Path, args: &[&str]) -> Output {
    nfops_command(home, config)
        .args(args)
        .output()
        .expect("run nfops")
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
    let Some(stack) =
        nfops_testkit::stack_dir("the_health_probe_notices_nginx_going_down_and_coming_back")
    else {
        return;
    };
    let config = stack.config_path();
    let home = tempfile::tempdir().expect("tempdir");

    let (out, line) = round(home.path(), &config);
    assert!(
        out.status.success(),
        "production is up at the start: {}",
        text(&out)
    );
    assert_eq!(line["state"]["status"], "up", "{line}");

    // Started again even when an assertion fails, so the stack is left as it was found.
    let stopped = stack.stop("nginx-production");
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

    stopped.start();
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

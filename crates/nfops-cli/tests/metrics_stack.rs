//! `nfops metrics`: the catalog, a chart written as SVG from the local
//! stack's real Prometheus (`NFOPS_STACK_DIR`), and this machine's metrics
//! when no environment is given.

use std::process::Output;

use nfops_testkit::{nfops_command, output_text as text};

fn nfops(home: &std::path::Path, config: &std::path::Path, args: &[&str]) -> Output {
    nfops_command(home, config)
        .args(args)
        .output()
        .expect("run nfops")
}

#[test]
fn the_catalog_lists_every_chart_and_this_machine_needs_no_prometheus() {
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("environments.toml");
    std::fs::write(&config, "version = 1\n").expect("write config");
    let out = nfops(home.path(), &config, &["--json", "metrics", "--list"]);
    assert!(out.status.success(), "{}", text(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(nfops_metrics::CATALOG.len()),
        "one entry per chart"
    );

    let svg = home.path().join("cpu.svg");
    let svg_arg = svg.display().to_string();
    let out = nfops(
        home.path(),
        &config,
        &[
            "metrics", "--chart", "cpu", "--since", "15m", "--out", &svg_arg,
        ],
    );
    assert!(
        out.status.success(),
        "this machine's CPU needs no Prometheus: {}",
        text(&out)
    );
    let body = std::fs::read_to_string(&svg).expect("the SVG was written");
    assert!(
        body.contains("viewBox") && body.contains("this machine"),
        "{}",
        &body[..body.len().min(300)]
    );

    let out = nfops(home.path(), &config, &["metrics", "--chart", "nope"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown chart is bad input: {}",
        text(&out)
    );
}

#[test]
fn a_chart_from_the_stack_prometheus_is_written_as_svg() {
    let Some(stack) =
        nfops_testkit::stack_dir("a_chart_from_the_stack_prometheus_is_written_as_svg")
    else {
        return;
    };
    let config = stack.config_path();
    let home = tempfile::tempdir().expect("tempdir");
    let svg = home.path().join("net.svg");
    let svg_arg = svg.display().to_string();
    // Prometheus may need a few scrapes after `stack up`: poll.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(45);
    loop {
        let out = nfops(
            home.path(),
            &config,
            &[
                "metrics",
                "--env",
                "production",
                "--chart",
                "network",
                "--since",
                "1h",
                "--out",
                &svg_arg,
                "--theme",
                "dark",
            ],
        );
        let swatches = std::fs::read_to_string(&svg)
            .map(|b| b.matches("stroke-width=\"3\"").count())
            .unwrap_or(0);
        // rx and tx for each of production's two app hosts.
        if out.status.success() && swatches == 4 {
            assert!(text(&out).contains("rx prod-app-1"), "{}", text(&out));
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "network chart with 4 series within 45 s: {swatches} series; {}",
            text(&out)
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

#[test]
fn alerts_are_listed_per_environment_and_a_firing_one_sets_the_exit_code() {
    let Some(stack) = nfops_testkit::stack_dir(
        "alerts_are_listed_per_environment_and_a_firing_one_sets_the_exit_code",
    ) else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let out = nfops(home.path(), &stack.config_path(), &["--json", "alerts"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", text(&out)));
    let mut envs: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["environment"].as_str().expect("named"))
        .collect();
    envs.sort_unstable();
    assert_eq!(envs, ["production", "staging"], "every environment, once");
    assert!(
        list.as_array()
            .into_iter()
            .flatten()
            .all(|e| e["monitored"] == true && e["alerts"].is_array()),
        "{list}"
    );
    // Whatever fires on this machine right now, the exit code must agree with the list.
    let firing = list
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["alerts"].as_array().cloned().unwrap_or_default())
        .any(|a| a["state"] == "firing");
    assert_eq!(
        out.status.code(),
        Some(if firing { 6 } else { 0 }),
        "{}",
        text(&out)
    );

    let out = nfops(
        home.path(),
        &stack.config_path(),
        &["alerts", "--env", "nope"],
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "an unknown environment is an error"
    );
    assert!(text(&out).contains("nope"), "{}", text(&out));
}

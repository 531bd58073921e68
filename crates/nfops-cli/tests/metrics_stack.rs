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

#[test]
fn one_unreachable_prometheus_is_named_and_the_other_environments_still_listed() {
    let Some(stack) = nfops_testkit::stack_dir(
        "one_unreachable_prometheus_is_named_and_the_other_environments_still_listed",
    ) else {
        return;
    };
    let url = std::fs::read_to_string(stack.config_path())
        .expect("stack config")
        .lines()
        .find_map(|l| {
            l.strip_prefix("prometheus_url = ")
                .map(|v| v.trim().trim_matches('"').to_owned())
        })
        .expect("the stack's prometheus_url");
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("environments.toml");
    // A port nothing listens on (bound, then released) for the first environment.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    std::fs::write(
        &config,
        format!(
            "version = 1\n\n[environments.broken]\ntier = \"staging\"\n[environments.broken.monitoring]\nprometheus_url = \"http://127.0.0.1:{dead}\"\n\n[environments.fine]\ntier = \"staging\"\n[environments.fine.monitoring]\nprometheus_url = \"{url}\"\n"
        ),
    )
    .expect("config");
    let out = nfops(home.path(), &config, &["--json", "alerts"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", text(&out)));
    let by = |n: &str| {
        list.as_array()
            .into_iter()
            .flatten()
            .find(|e| e["environment"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{n} listed: {list}"))
    };
    assert_eq!(
        by("broken")["error"]["code"],
        "service.unreachable",
        "{list}"
    );
    assert!(
        by("fine")["error"].is_null() && by("fine")["alerts"].is_array(),
        "{list}"
    );
    let firing = by("fine")["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| a["state"] == "firing");
    if !firing {
        assert_ne!(
            out.status.code(),
            Some(0),
            "an unanswered environment is not all clear"
        );
    }
}

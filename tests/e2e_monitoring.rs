//! End to end, monitoring: the real app's Uptime page against the local
//! stack. The app's own background watch and the page's "Check now" probe
//! production's real nginx; stopping it must turn the probe down (after its
//! three failures in a row) and starting it must bring it back up.

use std::time::Duration;

use nfops_testkit::e2e::App;
use nfops_testkit::TestKeyring;

/// The app under test, built by cargo for this test binary.
const APP: &str = env!("CARGO_BIN_EXE_nfops-desktop");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uptime_page_shows_production_going_down_and_recovering() {
    let Some(stack) =
        nfops_testkit::stack_dir("the_uptime_page_shows_production_going_down_and_recovering")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let app = App::launch_on(APP, &stack, None, &[]).await;
    app.click("[data-testid=nav-uptime]").await;
    app.click("[data-testid=env-switch-production]").await;
    app.wait_attr(
        "[data-testid=uptime-probes]",
        "data-env",
        &["production"],
        Duration::from_secs(20),
    )
    .await;
    app.click("[data-testid=uptime-check]").await;
    app.wait_attr(
        "[data-testid=uptime-probe-health]",
        "data-status",
        &["up"],
        Duration::from_secs(20),
    )
    .await;
    app.wait_attr(
        "[data-testid=chart-uptime-percent]",
        "data-state",
        &["ok"],
        Duration::from_secs(20),
    )
    .await;

    {
        let _stopped = stack.stop("nginx-production");
        // Three failed checks in a row make it down; the app's background
        // watch may add its own, which only gets there sooner.
        for _ in 0..3 {
            app.click("[data-testid=uptime-check]").await;
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        app.wait_attr(
            "[data-testid=uptime-probe-health]",
            "data-status",
            &["down"],
            Duration::from_secs(20),
        )
        .await;
        let row = app.text("[data-testid=uptime-probe-health]").await;
        assert!(
            row.to_lowercase().contains("connection"),
            "the row says why the probe failed: {row}"
        );
        app.screenshot("uptime-production-down").await;
    } // nginx-production starts again here

    app.click("[data-testid=uptime-check]").await;
    app.wait_attr(
        "[data-testid=uptime-probe-health]",
        "data-status",
        &["up"],
        Duration::from_secs(20),
    )
    .await;
    let percent = app.text("[data-testid=uptime-percent-health]").await;
    assert!(
        !percent.starts_with("100.00"),
        "the failures count against the uptime percentage: {percent}"
    );
    app.screenshot("uptime-production-recovered").await;

    // PNG export: rasterised by the webview, written by the backend.
    app.click("[data-testid=export-png-uptime-latency]").await;
    let saved = app
        .wait_for(
            "[data-testid=export-saved-uptime-latency]",
            Duration::from_secs(15),
        )
        .await;
    let text = saved.text().await.expect("saved text");
    let path = text.trim_start_matches("saved ").trim();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("the export {path} exists: {e}"));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG file");
    assert!(
        bytes.len() > 2000,
        "a drawn chart, not an empty image: {} bytes",
        bytes.len()
    );
    assert!(
        path.contains("/exports/production-uptime-latency-"),
        "{path}"
    );
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_and_scaling_pages_read_the_real_hosts() {
    let Some(stack) = nfops_testkit::stack_dir("the_logs_and_scaling_pages_read_the_real_hosts")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let keys = TestKeyring::with(
        "e2e-monitoring",
        stack
            .credentials()
            .into_iter()
            .filter(|(name, _)| name == "stack/ssh/deploy"),
    );
    let app = App::launch_on(
        APP,
        &stack,
        Some(&keys),
        &[("NFOPS_UPTIME_WATCH", "0".into())],
    )
    .await;
    app.click("[data-testid=nav-logs]").await;
    app.click("[data-testid=env-switch-staging]").await;
    let count = app
        .wait_for("[data-testid=logs-lines]", Duration::from_secs(30))
        .await
        .attr("data-count")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    assert!(
        count.parse::<u32>().unwrap_or(0) > 0,
        "staging's PM2 logs have lines: {count}"
    );
    let first = app.text("[data-testid=log-line]").await;
    assert!(
        first.contains("stg-app-1"),
        "a line names its host: {first}"
    );
    app.screenshot("logs-staging").await;

    app.click("[data-testid=nav-scaling]").await;
    app.click("[data-testid=env-switch-staging]").await;
    let online = app
        .wait_attr(
            "[data-testid=scaling-host-stg-app-1]",
            "data-online",
            &["1", "2", "3", "4"],
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(online, "2", "staging runs the stack's 2 nf-api instances");
    app.wait_attr(
        "[data-testid=chart-instances]",
        "data-state",
        &["ok"],
        Duration::from_secs(10),
    )
    .await;
    app.screenshot("scaling-staging").await;
    app.close().await;
}

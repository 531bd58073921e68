//! End to end, monitoring: the real app's Uptime page against the local
//! stack. The app's own background watch and the page's "Check now" probe
//! production's real nginx; stopping it must turn the probe down (after its
//! three failures in a row) and starting it must bring it back up.

mod support;

use std::time::Duration;

use support::{stack, App};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uptime_page_shows_production_going_down_and_recovering() {
    let Some(stack) = stack() else { return };
    let app = App::launch(&[("NFOPS_CONFIG", stack.config().display().to_string())]).await;
    app.click("[data-testid=nav-uptime]").await;
    app.click("[data-testid=uptime-env-production]").await;
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
    app.close().await;
}

//! End to end: in the real app on the local stack, promote staging's release
//! to production by typing the target's name and clicking; production then
//! serves it through nginx. Then offer the broken release from staging and
//! watch the promotion roll back by itself.
//!
//! Starts from production v1 / staging v2 (set explicitly) and puts them back.

use std::time::Duration;

use nfops_testkit::e2e::App;
use nfops_testkit::TestKeyring;

/// The app under test, built by cargo for this test binary.
const APP: &str = env!("CARGO_BIN_EXE_nfops-desktop");

async fn promote_in_ui(app: &App, release: &str, want: &[&str]) -> String {
    app.click("[data-testid=promote-replan]").await;
    // The fresh plan (the page clears the old one while it reads the hosts).
    app.wait_for(
        &format!("[data-testid=promote-plan][data-release='{release}'][data-blocked=false]"),
        Duration::from_secs(60),
    )
    .await;
    let secs = app
        .wait_for("[data-testid=promote-verify-secs]", Duration::from_secs(10))
        .await;
    secs.clear().await.expect("clear");
    secs.send_keys("8").await.expect("type verify secs");
    let confirm = app
        .wait_for("[data-testid=promote-confirm]", Duration::from_secs(10))
        .await;
    confirm.send_keys("production").await.expect("type confirm");
    app.click("[data-testid=promote-button]").await;
    // The page drops the previous result when the promotion starts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    app.wait_for("[data-testid=promote-live]", Duration::from_secs(30))
        .await;
    app.wait_attr(
        "[data-testid=promote-result]",
        "data-state",
        want,
        Duration::from_secs(300),
    )
    .await
}

/// Scrolls the live progress and the outcome into view for the screenshot.
async fn show_result(app: &App) {
    let _ = app
        .client
        .execute(
            "document.querySelector('[data-testid=promote-live]').scrollIntoView()",
            vec![],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_in_the_app_then_watch_a_broken_release_roll_back() {
    let Some(stack) =
        nfops_testkit::Stack::from_env("promote_in_the_app_then_watch_a_broken_release_roll_back")
    else {
        return;
    };
    // Production v1 with v1's schema, staging v2, whatever `make run` left.
    stack.baseline_releases().await;
    let keys = TestKeyring::with("e2e-promote", stack.credentials());
    let app = App::launch_on(APP, &stack, Some(&keys), &[]).await;
    app.click("[data-testid=nav-promote]").await;
    app.wait_for("[data-testid=plan-host]", Duration::from_secs(60))
        .await;
    // Both sides' provider modes: staging's test mode is a note, production live.
    let providers = app.text("[data-testid=plan-providers]").await;
    assert!(
        providers.contains("stg-app-1") && providers.contains("Payments test"),
        "{providers}"
    );
    app.wait_for(
        "[data-testid=plan-providers-target] [data-provider=payments][data-mode=live]",
        Duration::from_secs(5),
    )
    .await;
    app.screenshot("promote-plan").await;
    app.scroll_to("[data-testid=plan-providers]").await;
    app.screenshot("promote-plan-providers").await;

    let state = promote_in_ui(
        &app,
        "v2",
        &[
            "succeeded",
            "refused",
            "failed",
            "rolled_back",
            "rollback_failed",
        ],
    )
    .await;
    let summary = app.text("[data-testid=promote-result]").await;
    show_result(&app).await;
    app.screenshot("promote-succeeded").await;
    assert_eq!(state, "succeeded", "the promotion succeeds: {summary}");
    assert_eq!(stack.releases("production").await, vec!["v2", "v2"]);
    let http = nfops_core::http::client_builder().build().expect("client");
    for _ in 0..4 {
        let v: serde_json::Value = http
            .get(format!("{}/version", stack.entry_url("production")))
            .send()
            .await
            .expect("nginx")
            .json()
            .await
            .expect("json");
        assert_eq!(v["release"], "v2", "production serves staging's release");
    }
    app.wait_for(
        "[data-testid=history-row][data-state=succeeded]",
        Duration::from_secs(10),
    )
    .await;

    // Staging now offers the broken release (its symlink; still serving v2).
    stack.set_release("staging", "v3-broken", false).await;
    let state = promote_in_ui(
        &app,
        "v3-broken",
        &[
            "succeeded",
            "refused",
            "failed",
            "rolled_back",
            "rollback_failed",
        ],
    )
    .await;
    let summary = app.text("[data-testid=promote-result]").await;
    app.wait_for(
        "[data-testid=live-job][data-kind=rollback]",
        Duration::from_secs(5),
    )
    .await;
    show_result(&app).await;
    app.screenshot("promote-rolled-back").await;
    stack.set_release("staging", "v2", false).await;
    assert_eq!(
        state, "rolled_back",
        "the broken release rolls back by itself: {summary}"
    );
    assert_eq!(
        stack.releases("production").await,
        vec!["v2", "v2"],
        "production is back on what it ran before"
    );
    app.close().await;
    stack.baseline_releases().await;
}

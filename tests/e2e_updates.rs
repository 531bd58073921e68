//! End to end, updates: the real app (a dev build: not installed from a
//! package) clicks Settings → Updates → Check now against a local update
//! server and shows the new version, its notes and size, with Install off
//! and the reason why.

use std::time::Duration;

use nfops_testkit::e2e::App;
use nfops_testkit::update_server::{manifest, UpdateServer};

/// The app under test, built by cargo for this test binary.
const APP: &str = env!("CARGO_BIN_EXE_nfops-desktop");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_updates_check_now_shows_the_new_version_and_why_install_is_off() {
    let _serial = nfops_testkit::serial().await;
    let server = UpdateServer::start().await;
    // The check never downloads, so an unsigned placeholder is enough here;
    // tests/updater.rs covers signatures.
    let package = server.url("/NewFinity%20Ops_9.8.7_amd64.AppImage");
    server.put(
        "/latest.json",
        200,
        manifest(
            "9.8.7",
            "Restores twice as fast.\nNew Updates page.",
            &package,
            "dW50cnVzdGVk",
            12_345_678,
        ),
    );
    let app = App::launch(
        APP,
        &[
            ("NFOPS_UPDATE_ENDPOINT", server.url("/latest.json")),
            ("NFOPS_UPDATE_CHECK", "0".to_owned()),
        ],
    )
    .await;
    app.click("[data-testid=nav-settings]").await;
    app.wait_for("[data-testid=update-current]", Duration::from_secs(20))
        .await;
    assert_eq!(app.text("[data-testid=update-current]").await, "0.1.0");
    // This run was started with the daily check off: the switch says so
    // instead of showing the user's saved "on".
    let daily = app
        .client
        .find(fantoccini::Locator::Css("[data-testid=update-daily]"))
        .await
        .expect("daily switch");
    assert!(
        !daily.is_selected().await.expect("checked"),
        "the daily switch shows off under NFOPS_UPDATE_CHECK=0"
    );
    let off = app.text("[data-testid=update-daily-off]").await;
    assert!(off.contains("NFOPS_UPDATE_CHECK=0"), "why it is off: {off}");

    app.click("[data-testid=update-check]").await;
    app.wait_for("[data-testid=update-available]", Duration::from_secs(20))
        .await;
    assert_eq!(app.text("[data-testid=update-version]").await, "9.8.7");
    let notes = app.text("[data-testid=update-notes]").await;
    assert!(notes.contains("Restores twice as fast."), "notes: {notes}");
    assert_eq!(app.text("[data-testid=update-size]").await, "12.3 MB");

    let install = app
        .client
        .find(fantoccini::Locator::Css("[data-testid=update-install]"))
        .await
        .expect("install button");
    assert!(
        install.attr("disabled").await.expect("attr").is_some(),
        "Install is off for a copy not installed from a package"
    );
    let reason = app.text("[data-testid=update-install-blocked]").await;
    assert!(
        reason.contains("not installed from a package"),
        "the reason is shown: {reason}"
    );
    app.screenshot("settings-updates-available").await;
    app.close().await;
}

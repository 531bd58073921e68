//! End to end: the cockpit Overview, the header's environment switcher and
//! production marker, the command palette by keyboard, and axe-core's
//! accessibility rules on every page in the light and the dark theme, all
//! inside the real app on the local stack.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::key::Key;
use nfops_testkit::e2e::App;
use nfops_testkit::TestKeyring;

const APP: &str = env!("CARGO_BIN_EXE_nfops-desktop");

const PAGES: [&str; 12] = [
    "overview",
    "promote",
    "backups",
    "restore",
    "integrity",
    "metrics",
    "uptime",
    "scaling",
    "logs",
    "secrets",
    "audit",
    "settings",
];

fn axe_js() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/node_modules/axe-core/axe.min.js")
}

/// The testid of the element that has the keyboard focus.
async fn focused(app: &App) -> String {
    let el = app.client.active_element().await.expect("active element");
    el.attr("data-testid")
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

async fn keys(app: &App, text: &str) {
    let el = app.client.active_element().await.expect("active element");
    el.send_keys(text).await.expect("keys");
}

/// Opens every page and collects axe-core's serious and critical findings.
async fn scan_every_page(app: &App, theme: &str) -> Vec<String> {
    let mut found = Vec::new();
    for page in PAGES {
        app.click(&format!("[data-testid=nav-{page}]")).await;
        app.wait_attr(
            &format!("[data-testid=nav-{page}]"),
            "aria-current",
            &["page"],
            Duration::from_secs(10),
        )
        .await;
        // Let the page load what it shows (lists, probes) before judging it.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // The README's screenshots: every page, refreshed by this run.
        let shot = match theme {
            "light" => format!("{page}.png"),
            _ => format!("{page}-{theme}.png"),
        };
        app.capture_to(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("docs/pages")
                .join(shot),
        )
        .await;
        for v in app.axe_violations(&axe_js()).await {
            found.push(format!("{theme} {page}: {v}"));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cockpit_switcher_palette_and_accessibility_in_both_themes() {
    let Some(stack) =
        nfops_testkit::stack_dir("cockpit_switcher_palette_and_accessibility_in_both_themes")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let keyring = TestKeyring::with("e2e-cockpit", stack.credentials());
    let app = App::launch_on(APP, &stack, Some(&keyring), &[]).await;

    // The cockpit: each card says where its backup, drill and promotion stand.
    for env in ["staging", "production"] {
        let facts = app
            .wait_for(
                &format!("[data-testid=cockpit-{env}]"),
                Duration::from_secs(60),
            )
            .await;
        let text = facts.text().await.expect("text");
        for label in ["Backup", "Drill", "Promotion", "Uptime 24 h"] {
            assert!(text.contains(label), "{env}: {label} in {text}");
        }
    }
    app.capture("overview-cockpit").await;

    // One context: a fresh console is on staging, no marker; production
    // brings the marker, on every page.
    app.wait_attr(
        "[data-testid=env-switch-staging]",
        "aria-pressed",
        &["true"],
        Duration::from_secs(10),
    )
    .await;
    assert!(
        app.wait_gone("[data-testid=production-marker]", Duration::from_secs(2))
            .await
    );
    app.click("[data-testid=env-switch-production]").await;
    app.wait_for("[data-testid=production-marker]", Duration::from_secs(5))
        .await;
    app.click("[data-testid=nav-logs]").await;
    app.wait_attr(
        "[data-testid=logs-env]",
        "data-env",
        &["production"],
        Duration::from_secs(10),
    )
    .await;
    assert!(app
        .text("[data-testid=production-marker]")
        .await
        .contains("production"));
    app.capture("production-marker").await;
    app.click("[data-testid=env-switch-staging]").await;
    assert!(
        app.wait_gone("[data-testid=production-marker]", Duration::from_secs(5))
            .await
    );

    // The palette, by keyboard alone: Ctrl+K, a few letters, Enter.
    app.click("[data-testid=nav-overview]").await;
    // WebDriver releases the modifier at the end of the command.
    keys(&app, &(Key::Control + "k")).await;
    app.wait_for("[data-testid=palette-input]", Duration::from_secs(5))
        .await;
    assert_eq!(
        focused(&app).await,
        "palette-input",
        "the palette takes the keyboard"
    );
    keys(&app, "back up now").await;
    app.capture("palette").await;
    keys(&app, &Key::Enter.to_string()).await;
    app.wait_attr(
        "[data-testid=nav-backups]",
        "aria-current",
        &["page"],
        Duration::from_secs(10),
    )
    .await;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while focused(&app).await != "backup-now" {
        assert!(
            std::time::Instant::now() < until,
            "the palette's action lands with the focus on its button, got {:?}",
            focused(&app).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        app.wait_gone("[data-testid=backup-progress]", Duration::from_secs(1))
            .await,
        "nothing was run"
    );

    // Accessibility, light theme (the OS default here).
    let mut found = scan_every_page(&app, "light").await;
    app.close().await;

    // The dark theme, as the OS asks for it (GTK's dark variant).
    let app = App::launch_on(
        APP,
        &stack,
        Some(&keyring),
        &[("GTK_THEME", "Adwaita:dark".to_owned())],
    )
    .await;
    let dark = app
        .client
        .execute(
            "return window.matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        )
        .await
        .expect("media query");
    assert_eq!(
        dark.as_bool(),
        Some(true),
        "the app follows the OS into dark"
    );
    app.capture("overview-dark").await;
    found.extend(scan_every_page(&app, "dark").await);
    app.close().await;
    assert!(
        found.is_empty(),
        "axe-core: serious or critical violations:\n{}",
        found.join("\n")
    );
}

/// Presses Tab until the element with `testid` has the focus; fails when
/// `max` presses do not reach it (it is not reachable by keyboard).
async fn tab_to(app: &App, testid: &str, max: usize) {
    let mut seen = Vec::new();
    for _ in 0..max {
        let now = focused(app).await;
        if now == testid {
            return;
        }
        seen.push(now);
        keys(app, &Key::Tab.to_string()).await;
    }
    panic!("{testid} is not reached by {max} Tab presses; the focus went through {seen:?}");
}

/// The palette by keyboard: Ctrl+K, `query`, Enter.
async fn palette(app: &App, query: &str) {
    keys(app, &(Key::Control + "k")).await;
    app.wait_for("[data-testid=palette-input]", Duration::from_secs(5))
        .await;
    keys(app, query).await;
    keys(app, &Key::Enter.to_string()).await;
}

async fn wait_focus(app: &App, testid: &str) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while focused(app).await != testid {
        assert!(
            std::time::Instant::now() < until,
            "the focus should land on {testid}, it is on {:?}",
            focused(app).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_and_restore_wizards_work_by_keyboard_alone() {
    let Some(stack) =
        nfops_testkit::stack_dir("the_backup_and_restore_wizards_work_by_keyboard_alone")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let keyring = TestKeyring::with("e2e-keyboard", stack.credentials());
    let app = App::launch_on(APP, &stack, Some(&keyring), &[]).await;
    app.wait_for("[data-testid=env-card-production]", Duration::from_secs(60))
        .await;
    // The Overview shows the pulse and the release's age (read on the stack).
    for env in ["staging", "production"] {
        for spark in ["requests", "errors", "p95", "cpu"] {
            app.wait_attr(
                &format!("[data-testid=pulse-{env}] [data-testid=spark-{spark}]"),
                "data-state",
                &["ok", "empty"],
                Duration::from_secs(60),
            )
            .await;
        }
        app.wait_for(
            &format!("[data-testid=alerts-{env}]"),
            Duration::from_secs(10),
        )
        .await;
    }
    app.wait_attr(
        "[data-testid=pulse-production] [data-testid=spark-cpu]",
        "data-state",
        &["ok"],
        Duration::from_secs(60),
    )
    .await;
    assert!(app
        .text("[data-testid=probe-production-release-prod-app-1] [data-testid=probe-since]")
        .await
        .starts_with("since "));
    app.capture("overview-pulse").await;

    // From here on, keys only. Production, by the palette.
    palette(&app, "switch to production").await;
    app.wait_for("[data-testid=production-marker]", Duration::from_secs(5))
        .await;
    // Back up now: the palette puts the focus on the button; Enter presses it.
    palette(&app, "back up now").await;
    wait_focus(&app, "backup-now").await;
    keys(&app, &Key::Enter.to_string()).await;
    let result = app
        .wait_or_page("[data-testid=backup-result]", Duration::from_secs(120))
        .await;
    let text = result.text().await.expect("text");
    assert_eq!(
        result.attr("data-state").await.expect("attr"),
        None,
        "the backup succeeded: {text}"
    );

    // The restore wizard, to the typed confirmation, by Tab, Space, Enter and typing.
    palette(&app, "open the restore wizard").await;
    wait_focus(&app, "restore-env").await;
    keys(&app, &Key::Enter.to_string()).await;
    app.wait_for("[data-testid=restore-backup]", Duration::from_secs(30))
        .await;
    tab_to(&app, "restore-backup", 10).await;
    keys(&app, " ").await;
    tab_to(&app, "restore-next", 30).await;
    keys(&app, &Key::Enter.to_string()).await;
    app.wait_for("[data-testid=restore-whole]", Duration::from_secs(10))
        .await;
    tab_to(&app, "restore-preflight", 20).await;
    keys(&app, &Key::Enter.to_string()).await;
    app.wait_or_page("[data-testid=restore-plan-tables]", Duration::from_secs(60))
        .await;
    tab_to(&app, "restore-confirm", 40).await;
    keys(&app, "production").await;
    tab_to(&app, "restore-run", 5).await;
    assert_eq!(
        app.client
            .active_element()
            .await
            .expect("active")
            .attr("disabled")
            .await
            .expect("attr"),
        None,
        "typing the name enables the run button, which has the keyboard"
    );
    app.capture("restore-by-keyboard").await;
    assert!(
        app.wait_gone("[data-testid=restore-progress]", Duration::from_secs(1))
            .await,
        "nothing ran: the last key is the operator's"
    );
    app.close().await;
}

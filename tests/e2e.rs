//! End to end: the real desktop app, built with the UI embedded, under Xvfb,
//! driven through WebKitWebDriver, against the local stack's real services.

use std::time::Duration;

use nfops_testkit::e2e::{files_containing, App};
use nfops_testkit::TestKeyring;

/// The app under test, built by cargo for this test binary.
const APP: &str = env!("CARGO_BIN_EXE_nfops-desktop");

const ENVS: [&str; 2] = ["staging", "production"];

fn probe_ids(env: &str) -> Vec<String> {
    let hosts: &[&str] = if env == "production" {
        &["prod-app-1", "prod-app-2"]
    } else {
        &["stg-app-1"]
    };
    let mut ids: Vec<String> = ["backend", "database", "cache", "storage", "monitoring"]
        .iter()
        .map(|k| format!("probe-{env}-{k}"))
        .collect();
    ids.extend(hosts.iter().map(|h| format!("probe-{env}-release-{h}")));
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_shows_live_state_and_names_a_stopped_service() {
    let Some(stack) =
        nfops_testkit::stack_dir("overview_shows_live_state_and_names_a_stopped_service")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let keys = TestKeyring::with("e2e", stack.credentials());
    let app = App::launch_on(APP, &stack, Some(&keys), &[]).await;

    for env in ENVS {
        app.wait_for(
            &format!("[data-testid=env-card-{env}]"),
            Duration::from_secs(20),
        )
        .await;
        for id in probe_ids(env) {
            let css = format!("[data-testid={id}]");
            app.wait_attr(&css, "data-state", &["ok"], Duration::from_secs(60))
                .await;
        }
    }
    // The release probes read the real `current` symlinks over SSH.
    let prod_release = app
        .text("[data-testid=probe-production-release-prod-app-1]")
        .await;
    assert!(
        prod_release.contains("v1"),
        "production runs v1 after `stack up`: {prod_release}"
    );
    let stg_release = app
        .text("[data-testid=probe-staging-release-stg-app-1]")
        .await;
    assert!(
        stg_release.contains("v2"),
        "staging runs v2 after `stack up`: {stg_release}"
    );
    // Provider modes from each host's .env: production live, staging test.
    app.wait_for(
        "[data-testid=env-providers-production] [data-provider=payments][data-mode=live]",
        Duration::from_secs(30),
    )
    .await;
    let prod_modes = app.text("[data-testid=env-providers-production]").await;
    assert!(
        prod_modes.contains("2 hosts") && prod_modes.contains("Email live"),
        "both production hosts agree, every provider live: {prod_modes}"
    );
    app.wait_for(
        "[data-testid=env-providers-staging] [data-provider=payments][data-mode=test]",
        Duration::from_secs(5),
    )
    .await;
    let shot = app.screenshot("overview").await;
    eprintln!("screenshot: {}", shot.display());

    // Stop Redis: both cards must show the cache failing, with a reason.
    let stopped = stack.stop("redis");
    {
        app.click("[data-testid=refresh-all]").await;
        for env in ENVS {
            app.wait_attr(
                &format!("[data-testid=probe-{env}-cache]"),
                "data-state",
                &["failed"],
                Duration::from_secs(30),
            )
            .await;
            let reason = app
                .text(&format!(
                    "[data-testid=probe-{env}-cache] [data-testid=probe-error]"
                ))
                .await;
            assert!(!reason.trim().is_empty(), "a failed probe must say why");
            assert!(
                reason.contains("127.0.0.1"),
                "the reason names the address that failed: {reason}"
            );
            // The other probes of the environment are not dragged down with it.
            app.wait_attr(
                &format!("[data-testid=probe-{env}-database]"),
                "data-state",
                &["ok"],
                Duration::from_secs(5),
            )
            .await;
        }
        app.screenshot("overview-redis-stopped").await;
    }
    drop(stopped);
    app.click("[data-testid=refresh-all]").await;
    app.wait_attr(
        "[data-testid=probe-production-cache]",
        "data-state",
        &["ok"],
        Duration::from_secs(30),
    )
    .await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_config_is_shown_with_line_and_column() {
    let Some(_stack) = nfops_testkit::stack_dir("a_broken_config_is_shown_with_line_and_column")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("environments.toml");
    std::fs::write(
        &bad,
        "version = 1\n\n[environments.staging]\ntier = \"stagin\"\n",
    )
    .expect("write config");
    let app = App::launch(APP, &[("NFOPS_CONFIG", bad.display().to_string())]).await;
    let banner = app.text("[data-testid=config-error]").await;
    app.screenshot("config-error").await;
    assert!(
        banner.contains("environments.toml:4:8"),
        "the banner points at line 4, column 8: {banner}"
    );
    assert!(
        banner.contains("stagin"),
        "the banner quotes the bad value: {banner}"
    );
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_set_in_the_ui_reaches_the_keyring_and_nothing_else() {
    let Some(stack) =
        nfops_testkit::stack_dir("a_credential_set_in_the_ui_reaches_the_keyring_and_nothing_else")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let keys = TestKeyring::with("e2e", stack.credentials());
    let app = App::launch_on(APP, &stack, Some(&keys), &[]).await;
    let planted = format!("PLANTED-{}-e2e-secret", std::process::id());
    let name = "e2e/planted";

    app.click("[data-testid=nav-settings]").await;
    app.wait_for("[data-testid=credential-add]", Duration::from_secs(10))
        .await;
    let name_input = app
        .wait_for("[data-testid=credential-add-name]", Duration::from_secs(5))
        .await;
    name_input.send_keys(name).await.expect("type name");
    let value_input = app
        .wait_for("[data-testid=credential-add-value]", Duration::from_secs(5))
        .await;
    value_input.send_keys(&planted).await.expect("type value");
    app.click("[data-testid=credential-add-save]").await;
    app.wait_for(
        &format!("[data-testid='cred-row-{name}'][data-state=set]"),
        Duration::from_secs(15),
    )
    .await;
    let value_after = value_input
        .prop("value")
        .await
        .expect("read input")
        .unwrap_or_default();
    assert!(
        value_after.is_empty(),
        "the value input is cleared after saving"
    );
    let page = app.client.source().await.expect("page source");
    assert!(
        !page.contains(&planted),
        "the value is never rendered back into the page"
    );

    // The flows of the suite: overview, audit, verify.
    app.click("[data-testid=nav-audit]").await;
    app.click("[data-testid=audit-verify]").await;
    let verdict = app.text("[data-testid=audit-result]").await;
    assert!(
        verdict.to_lowercase().contains("intact") || verdict.to_lowercase().contains("ok"),
        "a fresh audit chain verifies: {verdict}"
    );
    app.click("[data-testid=nav-overview]").await;
    app.wait_for("[data-testid=env-card-production]", Duration::from_secs(20))
        .await;
    let home_dir = app.close().await;
    let home = home_dir.path();

    let keyring = &keys.keyring;
    assert_eq!(
        keyring.get(name).expect("stored").expose(),
        &planted,
        "the value is in the keyring"
    );
    let _ = keyring.delete(name);
    let leaks = files_containing(home, planted.as_bytes());
    assert!(
        leaks.is_empty(),
        "the credential value leaked into {leaks:?}"
    );
    let config_text = std::fs::read(stack.config_path()).expect("read the stack config");
    assert!(
        !config_text
            .windows(planted.len())
            .any(|w| w == planted.as_bytes()),
        "the value is not in the config"
    );
    assert!(
        home.join("state/state.db").exists(),
        "the scan covered the state database"
    );
    assert!(
        std::fs::read_dir(home.join("logs"))
            .map(|d| d.count() > 0)
            .unwrap_or(false),
        "the scan covered the log files"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secrets_page_masks_reveals_and_adds_without_leaking() {
    let Some(stack) =
        nfops_testkit::stack_dir("the_secrets_page_masks_reveals_and_adds_without_leaking")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let keys = TestKeyring::with("e2e", stack.credentials());
    let app = App::launch_on(APP, &stack, Some(&keys), &[]).await;
    app.click("[data-testid=nav-secrets]").await;
    app.wait_for("[data-testid=secrets-table]", Duration::from_secs(20))
        .await;
    // Environments are listed staging first; the page opens on the first.
    let row = "[data-testid=secret-row-DB_PASSWORD]";
    let masked = app.text(&format!("{row} [data-testid=secret-value]")).await;
    assert!(
        !masked.is_empty() && masked.chars().all(|c| c == '•'),
        "values are masked until revealed: {masked:?}"
    );
    // Reveal shows exactly what the hosts run with.
    let host_env = std::fs::read_to_string(stack.dir.join("hosts/stg-app-1/app/shared/.env"))
        .expect("read the staging host's .env");
    let expected = host_env
        .lines()
        .find_map(|l| l.strip_prefix("DB_PASSWORD="))
        .expect("DB_PASSWORD in the host .env")
        .trim_matches('"')
        .to_owned();
    app.click(&format!("{row} [data-testid=secret-reveal]"))
        .await;
    // The value arrives asynchronously (keyring, decrypt, audit entry).
    let shown = app
        .wait_text_until(
            &format!("{row} [data-testid=secret-value]"),
            Duration::from_secs(10),
            |t| !t.chars().all(|c| c == '•'),
        )
        .await;
    assert_eq!(shown, expected, "reveal shows the stored value");
    app.click(&format!("{row} [data-testid=secret-reveal]"))
        .await;

    // Add a key through the page, then remove it again.
    let planted = format!("PLANTED-{}-e2e-secret-value", std::process::id());
    let key = "E2E_PLANTED_KEY";
    let new_key = app
        .wait_for("[data-testid=secret-new-key]", Duration::from_secs(5))
        .await;
    new_key.send_keys(key).await.expect("type key");
    let new_value = app
        .wait_for("[data-testid=secret-new-value]", Duration::from_secs(5))
        .await;
    new_value.send_keys(&planted).await.expect("type value");
    app.click("[data-testid=secret-add]").await;
    let added = format!("[data-testid=secret-row-{key}]");
    app.wait_for(&added, Duration::from_secs(15)).await;
    app.screenshot("secrets").await;
    assert!(
        !app.client
            .source()
            .await
            .expect("page source")
            .contains(&planted),
        "a new value is not rendered until revealed"
    );
    app.click(&format!("{added} [data-testid=secret-delete]"))
        .await;
    app.click(&format!("{added} [data-testid=secret-delete-confirm]"))
        .await;
    assert!(
        app.wait_gone(&added, Duration::from_secs(15)).await,
        "the added key is deleted again"
    );
    let home_dir = app.close().await;
    let leaks = files_containing(home_dir.path(), planted.as_bytes());
    assert!(leaks.is_empty(), "the secret value leaked into {leaks:?}");
    let store_leaks = files_containing(&stack.dir.join("secrets-store"), planted.as_bytes());
    assert!(
        store_leaks.is_empty(),
        "the store holds ciphertext only: {store_leaks:?}"
    );
}

/// Charts of the Metrics page whose data the stack always has.
const CORE_CHARTS: [&str; 9] = [
    "cpu",
    "memory",
    "disk",
    "network",
    "requests",
    "latency",
    "queue",
    "db-connections",
    "db-qps",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_page_draws_charts_from_the_real_prometheus() {
    let Some(stack) =
        nfops_testkit::stack_dir("the_metrics_page_draws_charts_from_the_real_prometheus")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let keys = TestKeyring::with("e2e", stack.credentials());
    // Traffic through nginx, so request rate and latency have samples.
    let config = nfops_core::config::Config::load(&stack.config_path()).expect("stack config");
    for env in ENVS {
        let url = config
            .environment(env)
            .expect("env")
            .health_url
            .as_ref()
            .expect("health_url")
            .get_ref()
            .clone();
        for _ in 0..10 {
            let _ = std::process::Command::new("curl")
                .args(["-s", "-o", "/dev/null", &url])
                .status();
        }
    }
    let app = App::launch_on(APP, &stack, Some(&keys), &[]).await;
    app.click("[data-testid=nav-metrics]").await;
    for env in ENVS {
        // The header's switcher chooses the environment of every page.
        app.click(&format!("[data-testid=env-switch-{env}]")).await;
        app.wait_attr(
            &format!("[data-testid=env-switch-{env}]"),
            "aria-pressed",
            &["true"],
            Duration::from_secs(5),
        )
        .await;
        app.wait_attr(
            "[data-testid=metrics-grid]",
            "data-env",
            &[env],
            Duration::from_secs(30),
        )
        .await;
        app.wait_attr(
            "[data-testid=metrics-source]",
            "data-source",
            &["prometheus"],
            Duration::from_secs(5),
        )
        .await;
        for id in CORE_CHARTS {
            let css = format!("[data-testid=chart-{id}]");
            // Refreshes (button or the 30 s timer) until the real data is in.
            app.wait_attr(&css, "data-state", &["ok"], Duration::from_secs(60))
                .await;
            app.wait_for(
                &format!("{css} img[data-testid=chart-image]"),
                Duration::from_secs(5),
            )
            .await;
            let series = app
                .wait_for(&css, Duration::from_secs(5))
                .await
                .attr("data-series")
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            assert!(
                series.parse::<u32>().unwrap_or(0) > 0,
                "{env}/{id}: a drawn chart has at least one series from Prometheus: {series:?}"
            );
        }
        // One CPU line per app host of the environment.
        let hosts = if env == "production" { "2" } else { "1" };
        app.wait_attr(
            "[data-testid=chart-cpu]",
            "data-series",
            &[hosts],
            Duration::from_secs(5),
        )
        .await;
        let source = app.text("[data-testid=metrics-source]").await;
        assert!(
            source.contains("127.0.0.1"),
            "{env}: the page names the Prometheus it read: {source}"
        );
        app.screenshot(&format!("metrics-{env}")).await;
    }
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_up_now_on_staging_lists_a_complete_verified_backup() {
    let Some(stack) =
        nfops_testkit::stack_dir("back_up_now_on_staging_lists_a_complete_verified_backup")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let keys = TestKeyring::with("e2e", stack.credentials());
    let app = App::launch_on(APP, &stack, Some(&keys), &[]).await;
    app.click("[data-testid=nav-backups]").await;
    // A fresh console opens on an environment that is not production
    // (staging here) and the page follows the header's choice.
    app.wait_attr(
        "[data-testid=env-switch-staging]",
        "aria-pressed",
        &["true"],
        Duration::from_secs(10),
    )
    .await;
    let picked = app
        .wait_for("[data-testid=backups-env]", Duration::from_secs(10))
        .await
        .attr("data-env")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    assert_eq!(picked, "staging", "the page opens on staging");
    app.wait_for("[data-testid=backups-empty]", Duration::from_secs(15))
        .await;
    app.click("[data-testid=backup-now]").await;
    app.wait_for("[data-testid=backup-progress]", Duration::from_secs(10))
        .await;
    let result = app
        .wait_for("[data-testid=backup-result]", Duration::from_secs(120))
        .await;
    let text = result.text().await.unwrap_or_default();
    assert!(
        text.contains("complete and verified"),
        "the run ends complete and verified: {text}"
    );
    let row = app
        .wait_for(
            "[data-testid=backup-row][data-state=complete]",
            Duration::from_secs(15),
        )
        .await;
    let id = row
        .attr("data-id")
        .await
        .ok()
        .flatten()
        .expect("the row names its backup");
    let badge = app
        .text("[data-testid=backup-row][data-state=complete] [data-testid=verified-badge]")
        .await;
    assert!(
        badge.starts_with("verified"),
        "the new backup shows its verification: {badge}"
    );
    // No WebDriver screenshot: on this page `client.screenshot()` never
    // answers (seen before and after the run; cause not found yet), and the
    // stalled session blocks every later command. The DOM is asserted instead.
    let home = app.close().await;
    let manifest = home
        .path()
        .join("backups/staging")
        .join(&id)
        .join("manifest.json");
    assert!(
        manifest.is_file(),
        "the listed backup has its manifest on disk: {}",
        manifest.display()
    );
    assert!(
        !home
            .path()
            .join(format!("backups/staging/{id}.partial"))
            .exists(),
        "no partial folder is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_integrity_page_runs_the_checks_and_times_each_one() {
    let Some(stack) =
        nfops_testkit::stack_dir("the_integrity_page_runs_the_checks_and_times_each_one")
    else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    let keys = TestKeyring::with("e2e", stack.credentials());
    let app = App::launch_on(APP, &stack, Some(&keys), &[]).await;
    app.click("[data-testid=nav-integrity]").await;
    app.click("[data-testid=integrity-run]:not([disabled])")
        .await;
    app.wait_for("[data-testid=integrity-report]", Duration::from_secs(180))
        .await;
    let rows = app
        .client
        .find_all(fantoccini::Locator::Css(
            "[data-testid=integrity-check] td.secs",
        ))
        .await
        .expect("check rows");
    assert!(rows.len() >= 3, "the report lists its checks");
    for r in &rows {
        let t = r.text().await.unwrap_or_default();
        assert!(
            t.ends_with(" s") && t.trim_end_matches(" s").parse::<f64>().is_ok(),
            "every check shows its time: '{t}'"
        );
    }
    app.screenshot("integrity-report").await;
    app.close().await;
}

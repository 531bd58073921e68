//! End to end: the app started with no environments.toml, set up through
//! its first-run flow against the local stack (typing only what an operator
//! types: addresses, ports, names, the private key and passwords), reaching
//! an all-green Overview.

use std::time::Duration;

use nfops_core::config::Config;
use nfops_testkit::e2e::App;
use nfops_testkit::TestKeyring;

const APP: &str = env!("CARGO_BIN_EXE_nfops-desktop");

async fn type_into(app: &App, testid: &str, text: &str) {
    eprintln!("e2e_setup: typing into {testid}");
    let field = app
        .wait_for(
            &format!("[data-testid='{testid}']"),
            Duration::from_secs(10),
        )
        .await;
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn click(app: &App, testid: &str) {
    eprintln!("e2e_setup: clicking {testid}");
    app.click(&format!("[data-testid='{testid}']")).await;
}

/// Runs "Test connection" and waits for every probe of the part to be ok.
async fn test_part(app: &App, what: &str) {
    click(app, "setup-test").await;
    match app
        .client
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(fantoccini::Locator::Css("[data-testid=setup-test-ok]"))
        .await
    {
        Ok(_) => {}
        Err(_) => {
            let probes = app.text("[data-testid=setup-probes]").await;
            panic!("{what}: Test connection did not come back ok: {probes}");
        }
    }
}

async fn next(app: &App) {
    click(app, "setup-next").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_sets_up_staging_by_typing_and_reaches_an_all_green_overview() {
    let Some(stack) = nfops_testkit::stack_dir(
        "first_run_sets_up_staging_by_typing_and_reaches_an_all_green_overview",
    ) else {
        return;
    };
    let _serial = nfops_testkit::serial().await;
    // What the operator knows: the stack's own file stands for their notes.
    let known = Config::load(&stack.config_path()).expect("the stack's config");
    let stg = known.environment("staging").expect("staging");
    let host = stg.hosts[0].get_ref();
    let db = stg.database.as_ref().expect("db");
    let s3 = stg.storage.as_ref().expect("storage");
    let cache = stg.cache.as_ref().expect("cache");
    let mon = stg.monitoring.as_ref().expect("monitoring");

    // An empty keyring and no config: the app's own home has neither.
    let mut keys = TestKeyring::new("e2e-setup");
    // What the flow stores, under the names it proposes.
    keys.forget_on_drop(&[
        "staging/ssh/deploy",
        "staging/db",
        "staging/s3/access-key",
        "staging/s3/secret-key",
        "staging/redis",
    ]);
    let app = App::launch(APP, &[("NFOPS_KEYRING_SERVICE", keys.service.clone())]).await;
    app.wait_for("[data-testid=first-run]", Duration::from_secs(20))
        .await;
    app.capture("setup-first-run").await;

    // 1. The environment.
    type_into(&app, "setup-env-name", "staging").await;
    click(&app, "setup-tier-staging").await;
    type_into(
        &app,
        "setup-health-url",
        stg.health_url.as_ref().expect("url").get_ref(),
    )
    .await;
    test_part(&app, "backend").await;
    next(&app).await;

    // 2. The host: its key read, compared and trusted; the private key pasted.
    click(&app, "setup-host-add").await;
    type_into(&app, "setup-host-name-0", &host.name).await;
    type_into(&app, "setup-host-address-0", &host.address).await;
    type_into(&app, "setup-host-port-0", &host.port.to_string()).await;
    type_into(&app, "setup-host-user-0", &host.user).await;
    type_into(&app, "setup-host-appdir-0", &host.app_dir).await;
    let private_key = stack.credential("stack/ssh/deploy");
    type_into(&app, "setup-host-key-0", private_key.trim_end()).await;
    click(&app, "setup-host-scan-0").await;
    let shown = app
        .wait_for(
            "[data-testid=setup-host-fingerprint-0]",
            Duration::from_secs(15),
        )
        .await
        .text()
        .await
        .expect("fingerprint");
    assert_eq!(
        Some(shown.as_str()),
        host.host_key.as_deref(),
        "the scan shows the key the host really has"
    );
    app.capture("setup-host-key").await;
    click(&app, "setup-host-trust-0").await;
    test_part(&app, "SSH").await;
    next(&app).await;

    // 3. Database.
    click(&app, "setup-database-on").await;
    type_into(&app, "setup-db-host", &db.host).await;
    type_into(&app, "setup-db-port", &db.port.to_string()).await;
    type_into(&app, "setup-db-name", &db.name).await;
    type_into(&app, "setup-db-user", &db.user).await;
    type_into(
        &app,
        "setup-db-password",
        &stack.credential(&db.password_credential),
    )
    .await;
    test_part(&app, "database").await;
    next(&app).await;

    // 4. Storage.
    click(&app, "setup-storage-on").await;
    type_into(&app, "setup-s3-endpoint", &s3.endpoint).await;
    type_into(&app, "setup-s3-buckets", &s3.buckets.get_ref().join(", ")).await;
    type_into(
        &app,
        "setup-s3-access",
        &stack.credential(&s3.access_key_credential),
    )
    .await;
    type_into(
        &app,
        "setup-s3-secret",
        &stack.credential(&s3.secret_key_credential),
    )
    .await;
    test_part(&app, "storage").await;
    next(&app).await;

    // 5. Cache.
    click(&app, "setup-cache-on").await;
    type_into(&app, "setup-cache-host", &cache.host).await;
    type_into(&app, "setup-cache-port", &cache.port.to_string()).await;
    type_into(&app, "setup-cache-db", &cache.db.to_string()).await;
    type_into(
        &app,
        "setup-cache-prefix",
        cache.key_prefix.as_deref().unwrap_or(""),
    )
    .await;
    let redis_password = cache
        .password_credential
        .as_deref()
        .expect("redis password");
    type_into(
        &app,
        "setup-cache-password",
        &stack.credential(redis_password),
    )
    .await;
    test_part(&app, "cache").await;
    next(&app).await;

    // 6. Monitoring.
    click(&app, "setup-monitoring-on").await;
    type_into(&app, "setup-prometheus-url", &mon.prometheus_url).await;
    type_into(
        &app,
        "setup-prometheus-selector",
        mon.selector.as_deref().unwrap_or(""),
    )
    .await;
    test_part(&app, "monitoring").await;
    next(&app).await;

    // 7. The change to the file, then save.
    let diff = app
        .wait_for("[data-testid=setup-diff]", Duration::from_secs(10))
        .await
        .text()
        .await
        .expect("diff");
    assert!(diff.contains("[environments.staging]"), "{diff}");
    app.capture("setup-review").await;
    click(&app, "setup-save").await;

    // The Overview, all green.
    app.wait_for("[data-testid=env-card-staging]", Duration::from_secs(30))
        .await;
    let ids = [
        "probe-staging-backend".to_owned(),
        "probe-staging-database".to_owned(),
        "probe-staging-cache".to_owned(),
        "probe-staging-storage".to_owned(),
        "probe-staging-monitoring".to_owned(),
        format!("probe-staging-release-{}", host.name),
    ];
    for id in ids {
        app.wait_attr(
            &format!("[data-testid={id}]"),
            "data-state",
            &["ok"],
            Duration::from_secs(60),
        )
        .await;
    }
    app.capture("setup-overview").await;
    let home = app.close().await;

    // The file the flow wrote loads, pins the key, and holds no secret.
    let written = home.path().join("environments.toml");
    let text = std::fs::read_to_string(&written).expect("environments.toml written");
    let config = Config::load(&written).expect("it loads");
    let env = config.environment("staging").expect("staging");
    assert_eq!(env.hosts[0].get_ref().host_key, host.host_key);
    for secret in [
        private_key.lines().nth(1).unwrap_or("x").to_owned(),
        stack.credential(&db.password_credential),
        stack.credential(&s3.secret_key_credential),
        stack.credential(redis_password),
    ] {
        assert!(
            !text.contains(secret.trim()),
            "no secret in environments.toml"
        );
    }
    // The secrets are in the keyring, under the names the file gives.
    let db_name = env
        .database
        .as_ref()
        .expect("db")
        .password_credential
        .clone();
    assert_eq!(db_name, "staging/db");
    let stored = keys
        .keyring
        .get(&db_name)
        .expect("the password is in the keyring");
    assert_eq!(stored.expose(), &stack.credential(&db.password_credential));
}

//! End to end: the Restore wizard in the real app, clicked through on the
//! local stack's production: environment → backup (verified) → scope →
//! preflight and plan → typed confirmation → run → report. Then the real
//! services are checked: the database equals the backup (content hashes,
//! by the integrity checks), the storage object added after the backup is
//! hidden and the others are at their snapshot versions, production's cache
//! keys are gone (staging's kept), and the workers were reloaded.

use std::time::Duration;

use nfops_testkit::e2e::App;
use nfops_testkit::{Stack, TestKeyring};

/// The app under test, built by cargo for this test binary.
const APP: &str = env!("CARGO_BIN_EXE_nfops-desktop");

/// Waits for `css`, failing with the page's text (no screenshot: it can stall WebKit).
async fn wait(app: &App, css: &str, secs: u64) -> fantoccini::elements::Element {
    app.wait_or_page(css, Duration::from_secs(secs)).await
}

async fn click(app: &App, css: &str) {
    wait(app, css, 30)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

fn value(stack: &Stack, section: &str, key: &str) -> String {
    std::fs::read_to_string(stack.config_path())
        .expect("config")
        .lines()
        .skip_while(|l| l.trim() != section)
        .find_map(|l| {
            l.strip_prefix(&format!("{key} = "))
                .map(|v| v.trim().trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| panic!("{section} {key} in the stack config"))
}

fn redis(stack: &Stack, db: &str, args: &[&str]) -> String {
    let pw = stack
        .credentials()
        .into_iter()
        .find(|(n, _)| n == "stack/redis")
        .expect("redis pw")
        .1;
    let port = value(stack, "[environments.production.cache]", "port");
    let out = std::process::Command::new("redis-cli")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-n",
            db,
            "--no-auth-warning",
        ])
        .args(args)
        .env("REDISCLI_AUTH", pw)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wizard_restores_production_database_storage_cache_and_workers() {
    let Some(stack) =
        Stack::from_env("the_wizard_restores_production_database_storage_cache_and_workers")
    else {
        return;
    };
    let keys = TestKeyring::with("e2e-restore", stack.credentials());
    let app = App::launch_on(APP, &stack, Some(&keys), &[]).await;

    // A backup of production into the app's home (its catalog records it as
    // verified), with a snapshot of its bucket. The test itself stays off the
    // keyring: credentials come from the stack's folder.
    let creds = stack.creds.clone();
    let identity = nfops_backup::crypto::parse_identity(
        &nfops_core::credentials::CredentialSource::get(creds.as_ref(), "nfops/age-identity")
            .expect("identity"),
    )
    .expect("age identity");
    let env = stack.env("production").clone();
    let store = nfops_backup::LocalStore::new(&app.home.path().join("backups"));
    let mut req = stack.backup_request("production", &identity);
    req.store = store.clone();
    req.recipients = vec![identity.to_public()];
    req.options = nfops_mysql::DumpOptions::default();
    let backup = stack.take_backup(req).await;
    let id = backup.backup_id.clone();
    let dir = backup.path.clone().expect("published backup");
    let app_state = nfops_core::state::State::open(&app.home.path().join("state"))
        .await
        .expect("app state");
    let catalog = nfops_backup::catalog::Catalog::new(&app_state);
    catalog
        .refresh("production", &store.list("production").expect("list"))
        .await
        .expect("catalog");
    catalog
        .record_verify("production", &id, true, "verified by the backup run")
        .await
        .expect("verified");
    // The backup carries a snapshot of each bucket (storage/<bucket>.jsonl.zst.age).
    let storage_cfg = env.storage.clone().expect("storage");
    let bucket = storage_cfg.buckets.get_ref()[0].clone();
    let s3 = nfops_storage::StorageClient::connect(&storage_cfg, creds.as_ref()).expect("s3");
    let source = nfops_restore::BackupSource::open(&dir).expect("backup source");
    let snapshot = nfops_restore::storage::snapshots_of(&source, &identity)
        .expect("the backup's storage snapshots")
        .into_iter()
        .find(|s| s.bucket == bucket)
        .unwrap_or_else(|| panic!("the backup has a snapshot of {bucket}"));

    // After the backup: the app stores a file (object + row), both caches get a key.
    let base = value(&stack, "[environments.production]", "health_url").replace("/health", "");
    let posted = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            "written after the backup",
            &format!("{base}/files?name=e2e-restore.txt"),
        ])
        .output()
        .expect("curl");
    assert!(
        posted.status.success(),
        "the app stored a file: {}",
        String::from_utf8_lossy(&posted.stderr)
    );
    let uploaded: serde_json::Value =
        serde_json::from_slice(&posted.stdout).expect("POST /files answers JSON");
    let uploaded_key = uploaded["s3_key"].as_str().expect("s3_key").to_owned();
    redis(&stack, "0", &["SET", "nf:production:e2e-restore", "1"]);
    redis(&stack, "1", &["SET", "nf:staging:e2e-restore", "1"]);
    let check_req = nfops_restore::checks::CheckRequest {
        environment: "production".into(),
        env: env.clone(),
        creds: creds.clone(),
        known_hosts: stack.known_hosts(),
        source: Some(nfops_restore::BackupSource::open(&dir).expect("source")),
        database: None,
        live_service: false,
    };
    let before = nfops_restore::checks::run_checks(&check_req)
        .await
        .expect("check");
    assert!(
        !before.ok(),
        "production differs from the backup before the restore (the files row)"
    );

    // The wizard.
    click(&app, "[data-testid=nav-restore]").await;
    click(&app, "[data-testid=env-switch-production]").await;
    wait(&app, "[data-testid=production-marker]", 10).await;
    wait(&app, "[data-testid=restore-env][data-env=production]", 10).await;
    click(&app, "[data-testid=restore-env][data-env=production]").await;
    wait(
        &app,
        &format!("[data-testid=restore-backup-row][data-id='{id}'] [data-testid=restore-verified]"),
        15,
    )
    .await;
    click(
        &app,
        &format!("[data-testid=restore-backup-row][data-id='{id}'] [data-testid=restore-backup]"),
    )
    .await;
    click(&app, "[data-testid=restore-next]").await;
    click(&app, "[data-testid=restore-preflight]").await;
    let plan = wait(&app, "[data-testid=restore-plan-tables]", 60).await;
    assert!(
        plan.text().await.unwrap_or_default().contains("files"),
        "the plan lists the tables"
    );
    let storage_line = wait(&app, "[data-testid=restore-plan-storage]", 10)
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(
        storage_line.contains("1 hidden"),
        "the plan hides the object added after the backup: {storage_line}"
    );
    // No job runs yet, so a screenshot cannot stall WebKit here.
    app.screenshot("restore-plan").await;
    let run = wait(&app, "[data-testid=restore-run]", 5).await;
    assert!(
        run.attr("disabled").await.ok().flatten().is_some(),
        "production needs its name typed"
    );
    let confirm = wait(&app, "[data-testid=restore-confirm]", 5).await;
    confirm
        .send_keys("production")
        .await
        .expect("type the name");
    wait(&app, "[data-testid=restore-run]:not([disabled])", 5).await;
    click(&app, "[data-testid=restore-run]").await;
    wait(&app, "[data-testid=restore-progress]", 10).await;
    let result = wait(&app, "[data-testid=restore-result]", 300).await;
    let state = result
        .attr("data-state")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let db_state = result
        .attr("data-db")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let text = result.text().await.unwrap_or_default();
    assert_eq!(
        (state.as_str(), db_state.as_str()),
        ("succeeded", "restored"),
        "{text}"
    );
    let completed = app
        .client
        .find_all(fantoccini::Locator::Css(
            "[data-testid=restore-step][data-state=completed]",
        ))
        .await
        .expect("steps");
    let mut names = Vec::new();
    for row in &completed {
        let text = row.text().await.unwrap_or_default();
        names.push(text.split('\t').next().unwrap_or_default().to_owned());
    }
    // Production has a replica (prod-db-2), so the replicas step runs too.
    let expected = [
        "check backup",
        "load shadow",
        "verify shadow",
        "swap",
        "check objects",
        "replicas",
        "storage",
        "cache",
        "workers",
        "integrity checks",
    ];
    assert_eq!(
        completed.len(),
        expected.len(),
        "every step completed ({expected:?}); completed rows: {names:?}"
    );
    for want in expected {
        assert!(
            names.iter().any(|n| n.starts_with(want)),
            "step '{want}' completed: {names:?}"
        );
    }
    let home = app.close().await;

    // The real services.
    let after = nfops_restore::checks::run_checks(&check_req)
        .await
        .expect("check");
    assert!(
        after.ok(),
        "production equals the backup (rows and content hashes): {:?}",
        after.findings
    );
    assert!(after.tables.iter().all(|t| t.ok()) && !after.tables.is_empty());
    let now = nfops_storage::capture(&s3, &bucket, None)
        .await
        .expect("after");
    assert_eq!(
        now.objects.len(),
        snapshot.objects.len(),
        "the object added after the backup is hidden"
    );
    for o in &snapshot.objects {
        let cur = now.get(&o.key).expect("key present");
        assert_eq!(
            (cur.etag.as_str(), cur.size),
            (o.etag.as_str(), o.size),
            "{} at its snapshot content",
            o.key
        );
    }
    assert_eq!(
        redis(&stack, "0", &["EXISTS", "nf:production:e2e-restore"]),
        "0",
        "production's cache key is flushed"
    );
    assert_eq!(
        redis(&stack, "1", &["EXISTS", "nf:staging:e2e-restore"]),
        "1",
        "staging's is kept"
    );
    redis(&stack, "1", &["DEL", "nf:staging:e2e-restore"]);

    // Leave the stack as found: production is at the backup's content, which
    // was production before the test; the safety schema of this run goes.
    let pw = stack
        .credentials()
        .into_iter()
        .find(|(n, _)| n == "stack/production/db")
        .expect("pw")
        .1;
    let port = value(&stack, "[environments.production.database]", "port");
    let out = std::process::Command::new("mysql")
        .args(["-h127.0.0.1", "-P", &port, "-unf_ops", "-N", "-B", "-e", "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'nfops\\_safety\\_newfinity\\_%'"])
        .env("MYSQL_PWD", &pw)
        .output()
        .expect("mysql");
    for s in String::from_utf8_lossy(&out.stdout).lines() {
        let _ = std::process::Command::new("mysql")
            .args([
                "-h127.0.0.1",
                "-P",
                &port,
                "-unf_ops",
                "-e",
                &format!("DROP DATABASE `{s}`"),
            ])
            .env("MYSQL_PWD", &pw)
            .status();
    }
    // The uploaded object's versions (hidden behind a delete marker now) go too.
    let versions = s3
        .sdk()
        .list_object_versions()
        .bucket(&bucket)
        .prefix(&uploaded_key)
        .send()
        .await
        .expect("versions");
    let mut ids: Vec<String> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version_id().map(str::to_owned))
        .collect();
    ids.extend(
        versions
            .delete_markers()
            .iter()
            .filter_map(|m| m.version_id().map(str::to_owned)),
    );
    for v in ids {
        let _ = s3
            .sdk()
            .delete_object()
            .bucket(&bucket)
            .key(&uploaded_key)
            .version_id(v)
            .send()
            .await;
    }
    drop(home);
}

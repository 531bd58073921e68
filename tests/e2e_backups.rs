//! End to end, the Backups slice of part 3: the Overview warns that staging
//! has no good backup; "Back up now" on staging (which has an offsite bucket
//! here) ends with a verified offsite copy and a storage snapshot, both shown
//! on the page; the Overview warning then names production only.

use std::time::Duration;

use nfops_testkit::e2e::App;
use nfops_testkit::TestKeyring;

/// The app under test, built by cargo for this test binary.
const APP: &str = env!("CARGO_BIN_EXE_nfops-desktop");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_up_now_copies_offsite_records_storage_and_clears_the_staleness_warning() {
    let Some(stack) = nfops_testkit::stack_dir(
        "back_up_now_copies_offsite_records_storage_and_clears_the_staleness_warning",
    ) else {
        return;
    };
    let keys = TestKeyring::with("e2e-backups", stack.credentials());
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(stack.config_path()).expect("stack config");
    let endpoint = nfops_testkit::stack::s3_endpoint(&text);
    let config = dir.path().join("environments.toml");
    std::fs::write(
        &config,
        format!(
            "{text}\n[environments.staging.backup.offsite]\nendpoint = \"{endpoint}\"\npath_style = true\nbucket = \"nf-backups-offsite\"\nprefix = \"e2e-{}\"\naccess_key_credential = \"stack/s3/access-key\"\nsecret_key_credential = \"stack/s3/secret-key\"\n",
            std::process::id()
        ),
    )
    .expect("write config");

    let app = App::launch(
        APP,
        &[
            ("NFOPS_CONFIG", config.display().to_string()),
            ("NFOPS_KEYRING_SERVICE", keys.service.clone()),
        ],
    )
    .await;
    let warning = app
        .wait_for(
            "[data-testid=overview-backups-stale]",
            Duration::from_secs(30),
        )
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(
        warning.contains("staging has no good backup"),
        "a fresh console has no backup of staging: {warning}"
    );

    app.click("[data-testid=nav-backups]").await;
    app.wait_for("[data-testid=backups-empty]", Duration::from_secs(15))
        .await;
    app.click("[data-testid=backup-now]").await;
    let offsite = app
        .wait_attr(
            "[data-testid=backup-offsite-result]",
            "data-state",
            &["copied", "failed", "cancelled"],
            Duration::from_secs(180),
        )
        .await;
    assert_eq!(
        offsite,
        "copied",
        "the run ends with a verified offsite copy: {}",
        app.text("[data-testid=backup-offsite-result]").await
    );
    let steps = app.text("[data-testid=backup-progress]").await;
    for step in ["dump", "storage", "publish", "upload", "verify copy"] {
        assert!(steps.contains(step), "the live view shows {step}: {steps}");
    }
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
    let objects = app
        .text("[data-testid=backup-row][data-state=complete] [data-testid=storage-objects]")
        .await;
    let count: u64 = objects
        .split_whitespace()
        .next()
        .unwrap_or("")
        .replace([',', '.', '\u{a0}'], "")
        .parse()
        .unwrap_or(0);
    assert!(
        count >= 100 && objects.contains("objects"),
        "the storage snapshot's object count is shown: {objects}"
    );
    let badge = app
        .text("[data-testid=backup-row][data-state=complete] [data-testid=offsite-badge]")
        .await;
    assert_eq!(badge, "copied", "the catalog shows the offsite copy");
    eprintln!("backup {id}: offsite {offsite}, storage snapshot of {count} objects");

    // Forget shows its plan first; the only backup is never forgotten.
    app.click("[data-testid=forget-plan]").await;
    app.wait_for("[data-testid=forget-panel]", Duration::from_secs(30))
        .await;
    let decision = app
        .wait_for(
            &format!("[data-testid=forget-decision][data-id=\"{id}\"]"),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        decision.attr("data-keep").await.ok().flatten().as_deref(),
        Some("true"),
        "the newest (and only) backup stays"
    );
    let result = app.text("[data-testid=forget-result]").await;
    assert!(result.contains("Nothing to forget"), "{result}");

    app.click("[data-testid=nav-overview]").await;
    app.click("[data-testid=refresh-all]").await;
    let last = app
        .wait_text_until(
            "[data-testid=overview-backups-stale]",
            Duration::from_secs(30),
            |t| !t.contains("staging") && t.contains("production has no good backup"),
        )
        .await;
    assert!(
        !last.contains("staging") && last.contains("production has no good backup"),
        "after the backup only production stays stale: {last}"
    );

    let home = app.close().await;
    assert!(
        home.path()
            .join("backups/staging")
            .join(&id)
            .join("storage/nf-staging-assets.jsonl.zst.age")
            .is_file(),
        "the snapshot file is in the backup folder"
    );
}

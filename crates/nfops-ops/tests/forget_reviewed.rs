//! Applying a reviewed forget plan: deletes only when a fresh plan forgets
//! exactly what the user saw. (No stack needed: local backup folders.)

use nfops_core::ErrorCode;
use nfops_ops::Console;

#[tokio::test]
async fn a_plan_that_changed_since_it_was_shown_deletes_nothing() {
    let home = tempfile::tempdir().expect("tempdir");
    // A process-wide variable: this is the only test in its binary.
    std::env::set_var("NFOPS_HOME", home.path());
    let config = home.path().join("environments.toml");
    std::fs::write(
        &config,
        "version = 1\n[environments.t]\ntier = \"staging\"\n[environments.t.backup]\nmin_age_days = 0\n",
    )
    .expect("config");
    let console = Console::open(Some(&config)).await.expect("console");
    // A backup folder left by a crash is not a backup: never in the plan.
    let dead = home.path().join("backups/t/20200101T000000Z-dead");
    std::fs::create_dir_all(&dead).expect("mkdir");

    let shown = console.backup_forget("t", false, None).await.expect("plan");
    assert!(shown.plan.decisions.is_empty(), "{:?}", shown.plan);
    let ids = nfops_ops::forget_ids(&shown.plan, shown.offsite.as_ref());
    assert!(ids.is_empty());

    let e = console
        .backup_forget_reviewed("t", &["20200101T000000Z-dead".to_owned()], None)
        .await
        .expect_err("the user saw a plan that no longer holds");
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");
    assert!(e.message().contains("changed"), "{}", e.message());
    assert!(dead.exists(), "nothing was deleted");

    let applied = console
        .backup_forget_reviewed("t", &ids, None)
        .await
        .expect("the same plan applies");
    assert!(applied.applied && applied.removed.is_empty());
    assert!(dead.exists(), "an incomplete folder is never forgotten");
}

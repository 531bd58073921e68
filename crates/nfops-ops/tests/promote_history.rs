//! The promotion history survives a crash: a promotion left `running` by a
//! process that went away shows as `interrupted`, never as still running.

use nfops_ops::{Console, PromotionState};

#[tokio::test]
async fn a_promotion_cut_off_by_a_crash_shows_as_interrupted() {
    let home = tempfile::tempdir().expect("tempdir");
    std::env::set_var("NFOPS_HOME", home.path());
    let config = home.path().join("environments.toml");
    std::fs::write(&config, "version = 1\n").expect("config");
    let console = Console::open(Some(&config)).await.expect("console");
    let long_ago = (chrono::Utc::now() - chrono::Duration::minutes(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let just_now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for (id, at) in [("crashed", &long_ago), ("starting", &just_now)] {
        sqlx::query(
            "INSERT INTO promotions (id, from_env, to_env, release, previous, state, actor, plan, started_at)
             VALUES (?, 'staging', 'production', 'v2', '[]', 'running', 'ops', '{}', ?)",
        )
        .bind(id)
        .bind(at)
        .execute(console.state().pool())
        .await
        .expect("insert");
    }
    let history = console.promotion_history(10).await.expect("history");
    let state = |id: &str| history.iter().find(|h| h.id == id).map(|h| h.state);
    assert_eq!(
        state("crashed"),
        Some(PromotionState::Interrupted),
        "no job runs it any more: interrupted"
    );
    assert_eq!(
        state("starting"),
        Some(PromotionState::Running),
        "a promotion that just started (gates before its job) is left alone"
    );
    let crashed = history.iter().find(|h| h.id == "crashed").expect("row");
    assert!(
        crashed
            .summary
            .as_deref()
            .unwrap_or("")
            .contains("plan again"),
        "the history says what to do"
    );
}

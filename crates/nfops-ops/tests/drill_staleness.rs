//! The Overview's drill warning from recorded drills: each environment with
//! a database is held against its own `backup.drill_max_age_days`.

use nfops_ops::Console;

const CONFIG: &str = r#"
version = 1

[environments.production]
tier = "production"

[environments.production.database]
host = "127.0.0.1"
port = 3306
name = "nf"
user = "nf_app"
password_credential = "prod/db"

[environments.production.backup]
drill_max_age_days = 7

[environments.staging]
tier = "staging"

[environments.staging.database]
host = "127.0.0.1"
port = 3307
name = "nf"
user = "nf_app"
password_credential = "stg/db"

[environments.preview]
tier = "staging"
"#;

#[tokio::test]
async fn each_environment_is_held_against_its_own_limit() {
    let home = tempfile::tempdir().expect("tempdir");
    std::env::set_var("NFOPS_HOME", home.path());
    let config = home.path().join("environments.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let console = Console::open(Some(&config)).await.expect("console");
    let now = chrono::Utc::now();
    // production: a good drill 10 days ago (limit 7) and a failed one today.
    // staging: a good drill 10 days ago (default limit 30).
    for (id, env, days, ok) in [
        ("p-good", "production", 10, 1),
        ("p-failed", "production", 0, 0),
        ("s-good", "staging", 10, 1),
    ] {
        sqlx::query(
            "INSERT INTO restore_drills (id, environment, backup_id, started_at, seconds, ok, report_id, note)
             VALUES (?, ?, 'b1', ?, 12.5, ?, NULL, '')",
        )
        .bind(id)
        .bind(env)
        .bind((now - chrono::Duration::days(days)).to_rfc3339())
        .bind(ok)
        .execute(console.state().pool())
        .await
        .expect("insert");
    }
    let all = console.drill_staleness_all().await.expect("staleness");
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["staging", "production"],
        "only environments with a database"
    );
    let prod = &all[1].1;
    assert!(prod.stale, "10 days is more than production's 7: {prod:?}");
    assert_eq!(prod.max_age_days, 7);
    assert_eq!(
        prod.last_ok.as_deref(),
        Some("p-good"),
        "the failed drill does not count"
    );
    let stg = &all[0].1;
    assert!(!stg.stale, "10 days is within the default 30: {stg:?}");
    assert_eq!(stg.max_age_days, 30);
}

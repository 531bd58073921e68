//! The Overview's cockpit facts from what the console recorded: each read
//! on its own, one unreadable source never hiding the others.

use nfops_core::audit::{Action, Outcome};
use nfops_ops::Console;

#[tokio::test]
async fn each_environment_gets_its_own_facts_and_an_unreadable_destination_is_named() {
    let home = tempfile::tempdir().expect("tempdir");
    std::env::set_var("NFOPS_HOME", home.path());
    // The audit chain's key lives in the keyring: a service of this test's own.
    std::env::set_var(
        "NFOPS_KEYRING_SERVICE",
        format!("nfops-cockpit-test-{}", std::process::id()),
    );
    let not_a_folder = home.path().join("not-a-folder");
    std::fs::write(&not_a_folder, "x").expect("file");
    let config = home.path().join("environments.toml");
    std::fs::write(
        &config,
        format!(
            r#"version = 1

[environments.production]
tier = "production"

[environments.production.database]
host = "127.0.0.1"
port = 3306
name = "nf"
user = "nf_app"
password_credential = "prod/db"

[environments.production.backup]
destination = "{}"

[environments.staging]
tier = "staging"

[environments.staging.database]
host = "127.0.0.1"
port = 3307
name = "nf"
user = "nf_app"
password_credential = "stg/db"

[environments.staging.backup]
destination = "{}"
"#,
            not_a_folder.display(),
            home.path().join("stg-backups").display()
        ),
    )
    .expect("config");
    std::fs::create_dir_all(home.path().join("stg-backups")).expect("mkdir");
    let console = Console::open(Some(&config)).await.expect("console");
    let now = chrono::Utc::now();
    for (id, env, minutes, ok, secs) in [
        ("s-old", "staging", 600, 1, 30.0),
        ("s-new", "staging", 5, 0, 41.5),
    ] {
        sqlx::query(
            "INSERT INTO restore_drills (id, environment, backup_id, started_at, seconds, ok, report_id, note)
             VALUES (?, ?, 'b1', ?, ?, ?, NULL, '')",
        )
        .bind(id)
        .bind(env)
        .bind((now - chrono::Duration::minutes(minutes)).to_rfc3339())
        .bind(secs)
        .bind(ok)
        .execute(console.state().pool())
        .await
        .expect("insert");
    }
    for (env, action) in [("staging", "secrets.set"), ("production", "scale.apply")] {
        console
            .audit()
            .record(Action {
                action,
                environment: Some(env),
                target: Some("t"),
                outcome: Outcome::Succeeded,
                details: serde_json::json!({}),
            })
            .await
            .expect("audit");
    }

    let all = console.cockpit().await.expect("cockpit");
    let names: Vec<&str> = all.iter().map(|c| c.environment.as_str()).collect();
    assert_eq!(names, ["staging", "production"]);
    let (stg, prod) = (&all[0], &all[1]);

    let drill = stg.drill.as_ref().expect("staging's newest drill");
    assert!(
        !drill.ok,
        "the newest drill, which failed, not the older good one"
    );
    assert_eq!(drill.seconds, 41.5);
    assert!(prod.drill.is_none());

    assert!(
        stg.backup.is_none() && stg.backup_error.is_none(),
        "an empty destination: no backup, no error"
    );
    let e = prod
        .backup_error
        .as_ref()
        .expect("a file as destination cannot be listed");
    assert!(e.message.contains("not-a-folder"), "{e:?}");

    let actions = |c: &nfops_ops::Cockpit| {
        c.changes
            .iter()
            .map(|x| x.action.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        actions(stg),
        ["secrets.set"],
        "each environment sees its own changes"
    );
    assert_eq!(actions(prod), ["scale.apply"]);
    assert!(
        stg.uptime_24h.is_none(),
        "no check yet: no figure, not 100 %"
    );
}

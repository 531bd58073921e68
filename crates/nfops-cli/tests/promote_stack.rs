//! `nfops promote` against the local stack: the dry run prints the plan and
//! exits 0 without changing anything, and a promotion without a confirmation
//! (no terminal, no --yes) is refused with exit 2 before anything changes.
//! The promotion itself is tested in nfops-ops (promote_stack.rs).

/// The tests share the stack's hosts: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn dry_run_plans_and_an_unconfirmed_promotion_changes_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(stack) =
        nfops_testkit::stack_dir("dry_run_plans_and_an_unconfirmed_promotion_changes_nothing")
            .map(|s| s.dir)
    else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let config = stack.join("environments.toml");
    let service = format!("nfops-promote-cli-{}", std::process::id());
    let run = |args: &[&str], stdin: Option<&str>| {
        nfops_testkit::run_nfops(&home.path().join("home"), &config, &service, args, stdin)
    };
    for name in [
        "stack/ssh/deploy",
        "stack/production/db",
        "stack/staging/db",
    ] {
        let v = std::fs::read_to_string(stack.join("credentials").join(name)).expect("credential");
        let out = run(&["credentials", "set", name], Some(&v));
        assert!(out.status.success(), "credentials set {name}");
    }
    let current = |host: &str| {
        std::fs::read_link(stack.join(format!("hosts/{host}/app/current")))
            .expect("current link")
            .display()
            .to_string()
    };
    let before = (current("prod-app-1"), current("prod-app-2"));

    let out = run(&["--json", "promote", "--dry-run"], None);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    let code = out.status.code();
    let blocked = !plan["blockers"].as_array().expect("blockers").is_empty();
    assert_eq!(
        code,
        Some(if blocked { 6 } else { 0 }),
        "a dry run exits 0, or 6 when the plan is blocked: {plan}"
    );
    assert_eq!(
        plan["hosts"].as_array().expect("hosts").len(),
        2,
        "both production hosts are planned"
    );
    assert_eq!(
        plan["release"]["digest"].as_str().map(str::len),
        Some(64),
        "the artifact's digest: {plan}"
    );
    assert!(
        plan["gates"].as_array().expect("gates").len() >= 8,
        "every gate is listed"
    );
    assert!(
        !plan["rollbackManual"].as_array().expect("scope").is_empty(),
        "the plan says what is not rolled back"
    );

    // Provider modes: production live on both hosts (exit 0), staging in test mode.
    let out = run(&["--json", "providers"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON modes");
    let env = |name: &str| {
        all.as_array()
            .expect("list")
            .iter()
            .find(|e| e["environment"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} listed: {all}"))
    };
    let modes = |e: &serde_json::Value| -> Vec<String> {
        e["hosts"]
            .as_array()
            .expect("hosts")
            .iter()
            .flat_map(|h| {
                h["modes"].as_array().expect("modes").iter().map(move |m| {
                    format!(
                        "{} {} {}",
                        h["host"].as_str().unwrap_or(""),
                        m["provider"],
                        m["mode"]
                    )
                })
            })
            .collect()
    };
    assert_eq!(
        modes(&env("production")),
        [
            r#"prod-app-1 "email" "live""#,
            r#"prod-app-1 "payments" "live""#,
            r#"prod-app-2 "email" "live""#,
            r#"prod-app-2 "payments" "live""#
        ]
    );
    assert_eq!(
        modes(&env("staging")),
        [
            r#"stg-app-1 "email" "test""#,
            r#"stg-app-1 "payments" "test""#
        ]
    );
    let env_file = stack.join("hosts/prod-app-1/app/shared/.env");
    let original = std::fs::read_to_string(&env_file).expect(".env");
    std::fs::write(
        &env_file,
        original.replace("EMAIL_PROVIDER=smtp", "EMAIL_PROVIDER=console"),
    )
    .expect("write .env");
    let out = run(&["providers", "--env", "production"], None);
    std::fs::write(&env_file, &original).expect("put .env back");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(6), "a mock on production: {text}");
    assert!(
        text.contains("REFUSED: Email would run in mock mode on production host prod-app-1")
            && text.contains("EMAIL_PROVIDER=console"),
        "{text}"
    );

    if !blocked {
        let out = run(&["promote"], None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "without --yes and without a terminal nothing is promoted: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        (current("prod-app-1"), current("prod-app-2")),
        before,
        "neither a dry run nor an unconfirmed promotion changes a host"
    );
}

/// Points `current` of stg-app-1 at `id` without reloading (staging keeps
/// serving what it runs; the artifact it offers changes).
fn offer(stack: &std::path::Path, id: &str) {
    let app = stack.join("hosts/stg-app-1/app");
    let tmp = app.join("current.tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(format!("releases/{id}"), &tmp).expect("symlink");
    std::fs::rename(&tmp, app.join("current")).expect("switch staging's link");
}

#[test]
fn a_broken_release_exits_10_after_the_automatic_rollback() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(stack) =
        nfops_testkit::stack_dir("a_broken_release_exits_10_after_the_automatic_rollback")
            .map(|s| s.dir)
    else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let config = stack.join("environments.toml");
    let service = format!("nfops-promote-cli10-{}", std::process::id());
    let run = |args: &[&str], stdin: Option<&str>| {
        nfops_testkit::run_nfops(&home.path().join("home"), &config, &service, args, stdin)
    };
    for name in [
        "stack/ssh/deploy",
        "stack/production/db",
        "stack/staging/db",
        "nfops/age-identity",
        // The pre-promotion backup also snapshots the buckets and copies offsite.
        "stack/s3/access-key",
        "stack/s3/secret-key",
    ] {
        let v = std::fs::read_to_string(stack.join("credentials").join(name)).expect("credential");
        assert!(run(&["credentials", "set", name], Some(&v))
            .status
            .success());
    }
    let current = |host: &str| {
        std::fs::read_link(stack.join(format!("hosts/{host}/app/current")))
            .expect("current link")
            .display()
            .to_string()
    };
    let before = (current("prod-app-1"), current("prod-app-2"));
    let staging_before = current("stg-app-1");
    offer(&stack, "v3-broken");
    let out = run(&["--json", "promote", "--yes", "--verify-secs", "4"], None);
    offer(&stack, staging_before.trim_start_matches("releases/"));
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        out.status.code(),
        Some(10),
        "a promotion that was rolled back exits 10: {outcome} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    unapply_v2_migration(&stack);
    assert_eq!(outcome["state"], "rolled_back", "{outcome}");
    assert_eq!(
        (current("prod-app-1"), current("prod-app-2")),
        before,
        "production is back where it was"
    );
}

/// Production's schema back to what `stack up` leaves (v1's migrations
/// only): every promotion to v2 or v3-broken applies `002_orders_note`, which
/// v1 does not need. MariaDB's root logs in on the instance's own socket.
fn unapply_v2_migration(stack: &std::path::Path) {
    let out = std::process::Command::new("mysql")
        .arg("-S")
        .arg(stack.join("mariadb-production/run/mysqld.sock"))
        .args([
            "-u",
            "root",
            "newfinity",
            "-e",
            "ALTER TABLE orders DROP COLUMN IF EXISTS note; DELETE FROM schema_migrations WHERE version = '002_orders_note'",
        ])
        .output()
        .expect("mysql client");
    assert!(
        out.status.success(),
        "un-applying 002 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

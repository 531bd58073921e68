//! `nfops restore|check|drill` end to end against the local stack's
//! production (`NFOPS_STACK_DIR`), in the keyring of `scripts/with-keyring`:
//! a backup, damage, the plan (nothing changes), the 5-step restore, the
//! integrity checks against the backup, a drill; production ends equal to
//! the backup (checked by the checks' content hashes).

use std::path::PathBuf;
use std::process::Output;

struct Run {
    home: tempfile::TempDir,
    config: PathBuf,
    service: String,
}

impl Run {
    fn nfops(&self, args: &[&str]) -> Output {
        nfops_testkit::run_nfops(
            &self.home.path().join("home"),
            &self.config,
            &self.service,
            args,
            None,
        )
    }

    fn json(&self, args: &[&str], stdin: Option<&str>) -> (bool, serde_json::Value) {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = nfops_testkit::run_nfops(
            &self.home.path().join("home"),
            &self.config,
            &self.service,
            &a,
            stdin,
        );
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "nfops {args:?} prints JSON: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.success(), v)
    }
}

fn mysql(stack: &std::path::Path, sql: &str) -> String {
    let pw = std::fs::read_to_string(stack.join("credentials/stack/production/db")).expect("pw");
    let port = std::fs::read_to_string(stack.join("environments.toml"))
        .expect("config")
        .lines()
        .skip_while(|l| !l.starts_with("[environments.production.database]"))
        .find_map(|l| l.strip_prefix("port = ").map(|p| p.trim().to_owned()))
        .expect("db port");
    let out = std::process::Command::new("mysql")
        .args([
            "-h127.0.0.1",
            "-P",
            &port,
            "-unf_ops",
            "-N",
            "-B",
            "newfinity",
            "-e",
            sql,
        ])
        .env("MYSQL_PWD", pw)
        .output()
        .expect("mysql client");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn restore_check_and_drill_on_production() {
    let Some(stack) =
        nfops_testkit::stack_dir("restore_check_and_drill_on_production").map(|s| s.dir)
    else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("environments.toml");
    std::fs::copy(stack.join("environments.toml"), &config).expect("config");
    let run = Run {
        service: format!("nfops-restore-test-{}", std::process::id()),
        home,
        config,
    };
    for name in [
        "stack/production/db",
        "nfops/age-identity",
        "nfops/backup-signing-key",
        "stack/s3/access-key",
        "stack/s3/secret-key",
        "stack/ssh/deploy",
        "stack/redis",
    ] {
        let v = std::fs::read_to_string(stack.join("credentials").join(name))
            .expect("stack credential");
        let (ok, v) = run.json(&["credentials", "set", name], Some(&v));
        assert!(ok, "{v}");
    }
    let (ok, b) = run.json(&["backup", "run", "--env", "production"], None);
    assert!(ok, "backup: {b}");
    let id = b["backupId"].as_str().expect("id").to_owned();

    // Damage after the backup.
    mysql(
        &stack,
        "INSERT INTO legacy_imports (source, note) VALUES ('nf-cli-restore', 'after the backup')",
    );
    let damaged = mysql(&stack, "SELECT COUNT(*) FROM legacy_imports");

    // The plan changes nothing.
    let (ok, plan) = run.json(
        &[
            "restore",
            "--env",
            "production",
            "--backup",
            &id,
            "--dry-run",
        ],
        None,
    );
    assert!(ok, "plan: {plan}");
    assert_eq!(plan["backupId"], id.as_str());
    assert!(
        plan["preflight"]
            .as_array()
            .expect("preflight")
            .iter()
            .all(|c| c["ok"] == true),
        "{plan}"
    );
    assert_eq!(
        mysql(&stack, "SELECT COUNT(*) FROM legacy_imports"),
        damaged,
        "a dry run changes nothing"
    );

    // Checks against the backup find the difference.
    let (ok, r) = run.json(&["check", "--env", "production", "--backup", &id], None);
    assert!(!ok, "checks must find the changed table: {r}");
    assert!(
        r["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["subject"] == "legacy_imports"),
        "{r}"
    );

    // Redis: a key of production and one of staging.
    let (ok, rr) = run.json(
        &["restore", "--env", "production", "--backup", &id, "--yes"],
        None,
    );
    assert!(ok, "restore: {rr}");
    let o = &rr["outcome"];
    assert_eq!(o["databaseState"], "restored", "{rr}");
    let steps: Vec<String> = o["job"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s[1].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        steps.iter().all(|s| s == "completed"),
        "every step completed: {rr}"
    );
    // The backup carries a snapshot of production's bucket, so storage runs too.
    let names: Vec<&str> = o["job"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s[0].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "check backup",
            "load shadow",
            "verify shadow",
            "swap",
            "check objects",
            // Production has a replica (the stack's prod-db-2).
            "replicas",
            "storage",
            "cache",
            "workers",
            "integrity checks"
        ],
        "{rr}"
    );
    assert_eq!(
        rr["report"]["findings"].as_array().map(|f| f.len()),
        Some(0),
        "{rr}"
    );
    assert_eq!(
        mysql(
            &stack,
            "SELECT COUNT(*) FROM legacy_imports WHERE source = 'nf-cli-restore'"
        ),
        "0",
        "the row added after the backup is gone"
    );

    // Checks again: clean, and the report is saved.
    let (ok, r) = run.json(&["check", "--env", "production", "--backup", &id], None);
    assert!(ok, "production equals the backup now: {r}");

    // A drill into a scratch database.
    let (ok, d) = run.json(&["drill", "--env", "production"], None);
    assert!(ok, "drill: {d}");
    assert!(d["seconds"].as_f64().unwrap_or(0.0) > 0.0);
    assert_eq!(mysql(&stack, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'newfinity\\_drill%' OR SCHEMA_NAME LIKE 'nfops\\_shadow%'"), "0", "the drill leaves no scratch database");

    // Audit: restore, check and drill are recorded.
    let out = run.nfops(&["--json", "audit", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for a in ["restore.run", "check.run", "drill.run"] {
        assert!(text.contains(a), "audit has {a}");
    }
    // Safety schemas of this test go (the stack stays as found).
    for s in mysql(&stack, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'nfops\\_safety\\_newfinity\\_%'").lines() {
        mysql(&stack, &format!("DROP DATABASE `{s}`"));
    }
}

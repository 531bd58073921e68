//! `nfops backup run|list|forget` end to end against the local stack
//! (`NFOPS_STACK_DIR`), in the keyring of `scripts/with-keyring`: the catalog
//! lists complete and incomplete backups apart, and `forget` shows its plan,
//! deletes nothing without `--apply`, then deletes only what the plan says.

use std::path::PathBuf;
use std::process::Output;

struct Run {
    home: tempfile::TempDir,
    config: PathBuf,
    service: String,
}

impl Run {
    fn nfops(&self, args: &[&str], stdin: Option<&str>) -> Output {
        nfops_testkit::run_nfops(
            &self.home.path().join("home"),
            &self.config,
            &self.service,
            args,
            stdin,
        )
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.nfops(&a, stdin);
        assert!(
            out.status.success(),
            "nfops {args:?} must succeed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    fn backups_dir(&self) -> PathBuf {
        self.home.path().join("home/backups/staging")
    }
}

fn ids(list: &serde_json::Value, state: &str) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .filter(|b| b["state"] == state)
        .map(|b| b["id"].as_str().expect("id").to_owned())
        .collect()
}

#[test]
fn catalog_and_forget_against_the_stack() {
    let Some(stack) =
        nfops_testkit::stack_dir("catalog_and_forget_against_the_stack").map(|s| s.dir)
    else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    // The stack's config with a policy that keeps one daily backup and has no
    // minimum age, so the second backup of the day makes the first one go.
    let text = std::fs::read_to_string(stack.join("environments.toml")).expect("config");
    let text = text.replace(
        "[environments.staging.backup]\nkeep_daily = 7\nkeep_weekly = 4\nkeep_monthly = 6\nmin_age_days = 30",
        "[environments.staging.backup]\nkeep_daily = 1\nkeep_weekly = 0\nkeep_monthly = 0\nmin_age_days = 0",
    );
    assert!(
        text.contains("keep_daily = 1"),
        "the stack's staging policy changed shape"
    );
    let text = format!(
        "{text}\n[environments.staging.backup.offsite]\nendpoint = \"{}\"\npath_style = true\nbucket = \"nf-backups-offsite\"\nprefix = \"test-{}\"\naccess_key_credential = \"stack/s3/access-key\"\nsecret_key_credential = \"stack/s3/secret-key\"\n",
        // The stack's own S3 server, whatever its port base.
        nfops_testkit::stack::s3_endpoint(&text),
        std::process::id()
    );
    let config = home.path().join("environments.toml");
    std::fs::write(&config, text).expect("write config");
    let run = Run {
        service: format!("nfops-backup-test-{}", std::process::id()),
        home,
        config,
    };
    for name in [
        "stack/staging/db",
        "nfops/age-identity",
        "nfops/backup-signing-key",
        "stack/s3/access-key",
        "stack/s3/secret-key",
    ] {
        let v = std::fs::read_to_string(stack.join("credentials").join(name))
            .expect("stack credential");
        run.ok(&["credentials", "set", name], Some(&v));
    }

    let first = run.ok(&["backup", "run", "--env", "staging"], None);
    let second = run.ok(&["backup", "run", "--env", "staging"], None);
    for o in [&first, &second] {
        assert_eq!(
            o["offsite"]["state"], "copied",
            "every run ends with a verified offsite copy: {o}"
        );
    }
    let (first, second) = (
        first["backupId"].as_str().expect("id").to_owned(),
        second["backupId"].as_str().expect("id").to_owned(),
    );
    // A folder left by a crash: listed, but never as a backup.
    std::fs::create_dir_all(run.backups_dir().join("20200101T000000Z-dead")).expect("mkdir");

    let list = run.ok(&["backup", "list", "--env", "staging"], None);
    let mut complete = ids(&list, "complete");
    complete.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(complete, expected, "both runs are complete backups");
    assert_eq!(ids(&list, "incomplete"), vec!["20200101T000000Z-dead"]);
    for b in list.as_array().expect("array") {
        if b["state"] == "complete" {
            assert_eq!(
                b["verifyOk"], true,
                "the run's verify step is recorded: {b}"
            );
            assert!(b["tables"].as_u64().unwrap_or(0) > 0, "tables listed: {b}");
            assert!(
                b["storedBytes"].as_u64().unwrap_or(0) > 0,
                "size listed: {b}"
            );
        } else {
            assert!(b["tables"].is_null() && b["finishedAt"].is_null(), "{b}");
        }
    }

    let plan = run.ok(&["backup", "forget", "--env", "staging"], None);
    assert_eq!(plan["applied"], false);
    let decisions = plan["plan"]["decisions"].as_array().expect("decisions");
    assert_eq!(
        decisions.len(),
        2,
        "incomplete folders are not in the plan: {plan}"
    );
    let gone: Vec<&str> = decisions
        .iter()
        .filter(|d| d["keep"] == false)
        .map(|d| d["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        gone,
        vec![first.as_str()],
        "the older backup of the day goes: {plan}"
    );
    assert!(
        run.backups_dir()
            .join(&first)
            .join("manifest.json")
            .exists(),
        "without --apply nothing is deleted"
    );
    let offsite_gone: Vec<&str> = plan["offsite"]["plan"]["decisions"]
        .as_array()
        .expect("the offsite copies have their own plan")
        .iter()
        .filter(|d| d["keep"] == false)
        .map(|d| d["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        offsite_gone,
        vec![first.as_str()],
        "the same policy applies offsite: {plan}"
    );

    let applied = run.ok(&["backup", "forget", "--env", "staging", "--apply"], None);
    assert_eq!(applied["removed"], serde_json::json!([first]));
    assert_eq!(
        applied["offsite"]["removed"],
        serde_json::json!([first]),
        "the offsite copy of the forgotten backup goes too: {applied}"
    );
    let kept: Vec<&str> = applied["offsite"]["plan"]["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter(|d| d["keep"] == true)
        .map(|d| d["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        kept,
        vec![second.as_str()],
        "the newest copy stays: {applied}"
    );
    assert!(
        !run.backups_dir().join(&first).exists(),
        "forgotten backup deleted"
    );
    assert!(
        run.backups_dir()
            .join(&second)
            .join("manifest.json")
            .exists(),
        "the newest verified backup stays"
    );
    let again = run.ok(&["backup", "forget", "--env", "staging", "--apply"], None);
    assert_eq!(
        again["removed"],
        serde_json::json!([]),
        "the last backup is never forgotten"
    );
    assert_eq!(
        again["offsite"]["removed"],
        serde_json::json!([]),
        "the last offsite copy is never forgotten: {again}"
    );

    // The survivor goes offsite; the copy is read back before it counts.
    let copy = run.ok(
        &[
            "backup", "copy", "--env", "staging", "--backup", &second, "--to", "offsite",
        ],
        None,
    );
    assert_eq!(copy["job"]["state"], "succeeded", "copy: {copy}");
    let steps = copy["job"]["steps"].as_array().expect("steps");
    assert!(
        steps.iter().all(|s| s[1] == "completed"),
        "every copy step completed with evidence: {copy}"
    );
    let list = run.ok(&["backup", "list", "--env", "staging"], None);
    let b = list
        .as_array()
        .expect("array")
        .iter()
        .find(|b| b["id"] == second.as_str())
        .expect("the survivor is listed");
    assert_eq!(
        b["offsiteState"], "copied",
        "the catalog shows the offsite copy: {b}"
    );
    let out = run.nfops(
        &[
            "backup", "copy", "--env", "staging", "--backup", "nope", "--to", "offsite",
        ],
        None,
    );
    assert!(
        !out.status.success(),
        "copying a backup that does not exist fails"
    );

    // An unreachable offsite destination: the backup is good locally, the
    // run says clearly that its copy failed, with its own exit code.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let text = std::fs::read_to_string(&run.config).expect("config");
    let endpoint = text
        .split("[environments.staging.backup.offsite]")
        .nth(1)
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("endpoint = \"")))
        .and_then(|l| l.split('"').next())
        .expect("offsite endpoint")
        .to_owned();
    let dead_config = run.home.path().join("dead-offsite.toml");
    std::fs::write(
        &dead_config,
        text.replace(
            &format!("endpoint = \"{endpoint}\"\npath_style = true\nbucket = \"nf-backups-offsite\""),
            &format!("endpoint = \"http://127.0.0.1:{dead_port}\"\npath_style = true\nbucket = \"nf-backups-offsite\""),
        ),
    )
    .expect("write config");
    let out = nfops_testkit::run_nfops(
        &run.home.path().join("home"),
        &dead_config,
        &run.service,
        &["--json", "backup", "run", "--env", "staging"],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(8),
        "a failed offsite copy has its own exit code: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let failed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(failed["job"]["state"], "succeeded", "{failed}");
    assert_eq!(failed["offsite"]["state"], "failed", "{failed}");
    assert_eq!(
        failed["offsite"]["error"]["code"], "service.unreachable",
        "{failed}"
    );
    let third = failed["backupId"].as_str().expect("id");
    let list = run.ok(&["backup", "list", "--env", "staging"], None);
    let b = list
        .as_array()
        .expect("array")
        .iter()
        .find(|b| b["id"] == third)
        .expect("the third backup is listed");
    assert_eq!(b["state"], "complete", "{b}");
    assert_eq!(
        b["offsiteState"], "failed",
        "the catalog shows the failed copy: {b}"
    );

    let audit = run.ok(&["audit", "list"], None);
    let forgets = |outcome_started: bool| {
        audit
            .as_array()
            .expect("audit entries")
            .iter()
            .filter(|e| e["action"] == "backup.forget")
            .filter(|e| (e["outcome"] == "started") == outcome_started)
            .count()
    };
    assert_eq!(
        forgets(false),
        3,
        "every forget (plan or applied) is audited: {audit}"
    );
    assert_eq!(
        forgets(true),
        2,
        "each applied forget wrote a `started` entry before removing anything: {audit}"
    );
    assert!(
        audit
            .as_array()
            .expect("audit entries")
            .iter()
            .any(|e| e["action"] == "backup.copy" && e["outcome"] == "succeeded"),
        "the copy is audited: {audit}"
    );
    let out = run.nfops(&["audit", "verify"], None);
    assert!(out.status.success(), "the audit chain stays intact");
}

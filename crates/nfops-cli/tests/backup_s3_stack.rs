//! `nfops backup` with an S3 bucket as the destination, against the local
//! stack's S3 (`nf-backups`): the run uploads (manifest last) and reads back,
//! the catalog lists the bucket, verify downloads, forget deletes there, and
//! an unreachable bucket fails the run with no backup left anywhere.

use std::path::{Path, PathBuf};
use std::process::Output;

struct Run {
    home: tempfile::TempDir,
    service: String,
}

impl Run {
    fn nfops(&self, config: &Path, args: &[&str]) -> Output {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        nfops_testkit::run_nfops(
            &self.home.path().join("home"),
            config,
            &self.service,
            &a,
            None,
        )
    }

    fn ok(&self, config: &Path, args: &[&str]) -> serde_json::Value {
        let out = self.nfops(config, args);
        assert!(
            out.status.success(),
            "nfops {args:?} must succeed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    fn staging_dir(&self) -> PathBuf {
        self.home.path().join("home/backups/staging")
    }
}

fn complete(list: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .expect("array")
        .iter()
        .filter(|b| b["state"] == "complete")
        .map(|b| b["id"].as_str().expect("id").to_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn an_s3_bucket_as_the_backup_destination() {
    let Some(stack) =
        nfops_testkit::stack_dir("an_s3_bucket_as_the_backup_destination").map(|s| s.dir)
    else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(stack.join("environments.toml")).expect("config");
    let text = text.replace(
        "[environments.staging.backup]\nkeep_daily = 7\nkeep_weekly = 4\nkeep_monthly = 6\nmin_age_days = 30",
        "[environments.staging.backup]\nkeep_daily = 1\nkeep_weekly = 0\nkeep_monthly = 0\nmin_age_days = 0",
    );
    assert!(
        text.contains("keep_daily = 1"),
        "the stack's staging policy changed shape"
    );
    let endpoint = nfops_testkit::stack::s3_endpoint(&text);
    let section = |endpoint: &str| {
        format!(
            "{text}\n[environments.staging.backup.s3]\nendpoint = \"{endpoint}\"\npath_style = true\nbucket = \"nf-backups\"\nprefix = \"s3-dest-{}\"\naccess_key_credential = \"stack/s3/access-key\"\nsecret_key_credential = \"stack/s3/secret-key\"\n",
            std::process::id()
        )
    };
    let config = home.path().join("environments.toml");
    std::fs::write(&config, section(&endpoint)).expect("write config");
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dead = home.path().join("dead.toml");
    std::fs::write(&dead, section(&format!("http://127.0.0.1:{dead_port}"))).expect("write");
    let run = Run {
        service: format!("nfops-backup-s3-test-{}", std::process::id()),
        home,
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
        let out = nfops_testkit::run_nfops(
            &run.home.path().join("home"),
            &config,
            &run.service,
            &["credentials", "set", name],
            Some(&v),
        );
        assert!(out.status.success(), "credentials set {name}");
    }

    let first = run.ok(&config, &["backup", "run", "--env", "staging"]);
    assert_eq!(first["upload"]["state"], "copied", "{first}");
    assert!(
        first["upload"]["location"]
            .as_str()
            .unwrap_or("")
            .contains("s3-dest-"),
        "{first}"
    );
    let first = first["backupId"].as_str().expect("id").to_owned();
    assert!(
        !run.staging_dir().join(&first).exists(),
        "the local staging folder is gone once the bucket holds the backup"
    );
    let second = run.ok(&config, &["backup", "run", "--env", "staging"])["backupId"]
        .as_str()
        .expect("id")
        .to_owned();

    let list = run.ok(&config, &["backup", "list", "--env", "staging"]);
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    assert_eq!(complete(&list), both, "listed from the bucket: {list}");
    for b in list.as_array().expect("array") {
        assert!(
            b["storageObjects"].as_u64().unwrap_or(0) > 0,
            "the storage snapshot's object count comes from the manifest object: {b}"
        );
    }

    let v = run.ok(
        &config,
        &["backup", "verify", "--env", "staging", "--backup", &first],
    );
    assert_eq!(v["job"]["state"], "succeeded", "verify downloads: {v}");
    assert_eq!(v["report"]["findings"], serde_json::json!([]), "{v}");
    assert!(
        v["report"]["snapshotsChecked"].as_u64().unwrap_or(0) >= 1,
        "{v}"
    );

    let applied = run.ok(
        &config,
        &["backup", "forget", "--env", "staging", "--apply"],
    );
    assert_eq!(applied["removed"], serde_json::json!([first]), "{applied}");
    let list = run.ok(&config, &["backup", "list", "--env", "staging"]);
    assert_eq!(
        complete(&list),
        vec![second.clone()],
        "forget deleted it from the bucket: {list}"
    );

    // The bucket unreachable: no backup, anywhere, and the exit code says why.
    let out = run.nfops(&dead, &["backup", "run", "--env", "staging"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "unreachable destination: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let failed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(failed["upload"]["state"], "failed", "{failed}");
    assert_eq!(
        failed["upload"]["error"]["code"], "service.unreachable",
        "{failed}"
    );
    let third = failed["backupId"].as_str().expect("id");
    assert!(
        !run.staging_dir().join(third).exists(),
        "nothing half-written stays in the staging folder"
    );
    let list = run.ok(&config, &["backup", "list", "--env", "staging"]);
    assert_eq!(complete(&list), vec![second.clone()], "{list}");

    let audit = run.ok(&config, &["audit", "list"]);
    let uploads: Vec<&str> = audit
        .as_array()
        .expect("audit entries")
        .iter()
        .filter(|e| e["action"] == "backup.upload")
        .map(|e| e["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        uploads.iter().filter(|o| **o == "succeeded").count(),
        2,
        "{uploads:?}"
    );
    assert_eq!(
        uploads.iter().filter(|o| **o == "failed").count(),
        1,
        "{uploads:?}"
    );
    // Leave the shared bucket as it was.
    let _ = run.ok(
        &config,
        &["backup", "forget", "--env", "staging", "--apply"],
    );
}

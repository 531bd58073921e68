//! `nfops restore` of a backup that lives only in the `[backup.s3]`
//! destination (the local staging copy is removed after the upload): the
//! restore downloads it to a temporary folder, checks it (signature,
//! hashes, statements), restores it, and the plan says where it came from.
//! Also: a backup id that is not a plain path segment is refused.

use std::path::Path;
use std::process::Output;

fn nfops(home: &Path, config: &Path, service: &str, args: &[&str]) -> Output {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    nfops_testkit::run_nfops(&home.join("home"), config, service, &a, None)
}

fn ok(home: &Path, config: &Path, service: &str, args: &[&str]) -> serde_json::Value {
    let out = nfops(home, config, service, args);
    assert!(
        out.status.success(),
        "nfops {args:?} must succeed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn a_backup_only_in_the_s3_destination_is_restored_from_there() {
    let Some(stack) =
        nfops_testkit::stack_dir("a_backup_only_in_the_s3_destination_is_restored").map(|s| s.dir)
    else {
        return;
    };
    let home = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(stack.join("environments.toml")).expect("config");
    let endpoint = nfops_testkit::stack::s3_endpoint(&text);
    let config = home.path().join("environments.toml");
    std::fs::write(
        &config,
        format!(
            "{text}\n[environments.staging.backup.s3]\nendpoint = \"{endpoint}\"\npath_style = true\nbucket = \"nf-backups\"\nprefix = \"s3-restore-{}\"\naccess_key_credential = \"stack/s3/access-key\"\nsecret_key_credential = \"stack/s3/secret-key\"\n",
            std::process::id()
        ),
    )
    .expect("write config");
    let service = format!("nfops-restore-s3-test-{}", std::process::id());
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
            &home.path().join("home"),
            &config,
            &service,
            &["credentials", "set", name],
            Some(&v),
        );
        assert!(out.status.success(), "credentials set {name}");
    }
    let (h, c, s) = (home.path(), config.as_path(), service.as_str());
    let run = ok(h, c, s, &["backup", "run", "--env", "staging"]);
    let id = run["backupId"].as_str().expect("id").to_owned();
    assert!(
        !h.join("home/backups/staging").join(&id).exists(),
        "the backup lives only in the bucket"
    );

    let plan = ok(
        h,
        c,
        s,
        &["restore", "--env", "staging", "--backup", &id, "--dry-run"],
    );
    let source = plan["preflight"]
        .as_array()
        .expect("preflight")
        .iter()
        .find(|p| p["name"] == "source")
        .cloned()
        .expect("a source line");
    assert!(
        source["detail"]
            .as_str()
            .unwrap_or("")
            .contains("[backup.s3] destination"),
        "the plan says where the backup came from: {source}"
    );
    let s3_log = stack.join("logs/s3.log");
    let log_before = std::fs::metadata(&s3_log).map_or(0, |m| m.len());
    let restored = ok(
        h,
        c,
        s,
        &[
            "restore",
            "--env",
            "staging",
            "--backup",
            &id,
            "--yes",
            "--no-cache",
            "--no-workers",
            "--no-checks",
        ],
    );
    assert_eq!(
        restored["outcome"]["databaseState"], "restored",
        "restored from the bucket: {restored}"
    );
    // One download per run: the run's plan and its job use the same copy
    // (on main the run downloaded the whole backup twice). Counted in the
    // S3 server's own request log: every object of the backup is fetched once.
    let gets = object_gets(&s3_log, log_before, &id);
    assert!(
        gets.keys().any(|k| k.starts_with("data/")),
        "the S3 log shows the restore's downloads: {gets:?}"
    );
    // manifest.json alone is also read by the catalog's listing (the plan's
    // "backup verified" line), which downloads no file of the backup.
    for (key, n) in gets.iter().filter(|(k, _)| *k != "manifest.json") {
        assert_eq!(
            *n, 1,
            "{key} was downloaded {n} times by one restore: {gets:?}"
        );
    }
    let downloads = h.join("home/state/backup-downloads");
    assert!(
        downloads.is_dir(),
        "the restore downloaded into {}",
        downloads.display()
    );
    assert_eq!(
        std::fs::read_dir(&downloads).expect("downloads").count(),
        0,
        "every downloaded copy is removed once the restore (and its plan) are done"
    );

    let out = nfops(
        h,
        c,
        s,
        &[
            "restore",
            "--env",
            "staging",
            "--backup",
            "../staging/x",
            "--dry-run",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "an id that is not a plain name is bad input: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// GETs of each object of backup `id` in the S3 server's request log
/// (moto's access log, path style) after byte `from`, by key under the backup.
fn object_gets(log: &Path, from: u64, id: &str) -> std::collections::BTreeMap<String, usize> {
    let text = std::fs::read(log).expect("the stack's S3 log");
    let text = String::from_utf8_lossy(&text[from as usize..]);
    let mut out = std::collections::BTreeMap::new();
    let marker = format!("/{id}/");
    for line in text.lines() {
        let Some(req) = line.split('"').nth(1) else {
            continue;
        };
        let Some(path) = req.strip_prefix("GET ") else {
            continue;
        };
        let path = path.split([' ', '?']).next().unwrap_or("");
        if let Some(i) = path.find(&marker) {
            *out.entry(path[i + marker.len()..].to_owned()).or_insert(0) += 1;
        }
    }
    out
}

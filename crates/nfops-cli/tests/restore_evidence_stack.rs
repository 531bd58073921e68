//! A restore step that the database server refuses keeps the server's own
//! answer (`ERROR <code> (<state>): <text>`) where the operator looks for
//! it: the job record (`nfops jobs list`, the Jobs page, state.db), the
//! command's error and the log file under `NFOPS_HOME/logs`.
//!
//! The refusal is real: a staging backup whose `legacy_imports` data file
//! repeats its first INSERT (rewritten and signed again with the stack's trusted key, so
//! the signature and allow-list checks pass), which the server rejects with
//! `ERROR 1062 (23000): Duplicate entry … for key 'PRIMARY'`.

use std::path::{Path, PathBuf};

use nfops_testkit::{forge, Stack};

/// What the server answers to the repeated INSERT.
const SERVER_ANSWER: &str = "ERROR 1062 (23000): Duplicate entry";

fn nfops(home: &Path, config: &Path, service: &str, args: &[&str]) -> (bool, serde_json::Value) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let out = nfops_testkit::run_nfops(home, config, service, &a, None);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "nfops {args:?} prints JSON: {}",
            nfops_testkit::output_text(&out)
        )
    });
    (out.status.success(), v)
}

/// The folder of backup `id` under `root` (wherever the config puts it).
fn find_backup(root: &Path, id: &str) -> PathBuf {
    let mut todo = vec![root.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().and_then(|n| n.to_str()) == Some(id)
                    && p.join("manifest.json").is_file()
                {
                    return p;
                }
                todo.push(p);
            }
        }
    }
    panic!("backup {id} is under {}", root.display());
}

#[test]
fn a_server_refusal_reaches_the_job_record_and_the_log_file() {
    let Some(stack) = Stack::from_env("a_server_refusal_reaches_the_job_record") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let config = tmp.path().join("environments.toml");
    std::fs::copy(stack.files.config_path(), &config).expect("config");
    let service = format!("nfops-evidence-test-{}", std::process::id());
    for name in [
        "stack/staging/db",
        "nfops/age-identity",
        "nfops/backup-signing-key",
        "stack/s3/access-key",
        "stack/s3/secret-key",
        "stack/ssh/deploy",
        "stack/redis",
    ] {
        let out = nfops_testkit::run_nfops(
            &home,
            &config,
            &service,
            &["--json", "credentials", "set", name],
            Some(&stack.files.credential(name)),
        );
        assert!(out.status.success(), "{}", nfops_testkit::output_text(&out));
    }
    let (ok, b) = nfops(
        &home,
        &config,
        &service,
        &["backup", "run", "--env", "staging"],
    );
    assert!(ok, "backup: {b}");
    let id = b["backupId"].as_str().expect("backup id").to_owned();
    let dir = find_backup(tmp.path(), &id);
    let file = forge::data_file_of(&dir, "legacy_imports");
    forge::rewrite_with_stack_keys(&stack, &dir, &file, |sql| {
        let first = sql
            .lines()
            .find(|l| l.starts_with("INSERT INTO"))
            .expect("the legacy_imports file has rows")
            .to_owned();
        format!("{first}\n{sql}")
    });

    let (ok, r) = nfops(
        &home,
        &config,
        &service,
        &[
            "restore",
            "--env",
            "staging",
            "--backup",
            &id,
            "--tables",
            "legacy_imports",
            "--yes",
        ],
    );
    assert!(
        !ok,
        "the server refused a statement, the restore fails: {r}"
    );
    assert!(
        r.to_string().contains(SERVER_ANSWER),
        "the command's error quotes the server: {r}"
    );

    // The job record: the failed step carries the server's code and text.
    let (ok, jobs) = nfops(&home, &config, &service, &["jobs", "list"]);
    assert!(ok, "{jobs}");
    let restore = jobs
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["kind"] == "restore")
        .unwrap_or_else(|| panic!("a restore job is recorded: {jobs}"));
    assert_eq!(restore["state"], "failed", "{restore}");
    let step = restore["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["state"] == "failed")
        .unwrap_or_else(|| panic!("a failed step: {restore}"));
    assert_eq!(step["name"], "load shadow", "{step}");
    let stored = step["error"].to_string();
    assert!(
        stored.contains(SERVER_ANSWER) && stored.contains("PRIMARY"),
        "the stored step error keeps the server's code, state and text: {step}"
    );

    let text = nfops_testkit::run_nfops(&home, &config, &service, &["jobs", "list"], None);
    let text = nfops_testkit::output_text(&text);
    assert!(
        text.lines()
            .any(|l| l.contains("load shadow") && l.contains(SERVER_ANSWER)),
        "`nfops jobs list` shows the failed step with the server's answer: {text}"
    );

    // The log file: the same answer, next to the step that failed.
    let logs: String = std::fs::read_dir(home.join("logs"))
        .expect("the log folder under NFOPS_HOME")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    let line = logs
        .lines()
        .find(|l| l.contains("job step failed") && l.contains("load shadow"))
        .unwrap_or_else(|| panic!("the log has the failed step: {logs}"));
    assert!(
        line.contains(SERVER_ANSWER) && line.contains("PRIMARY"),
        "the log line keeps the server's code, state and text: {line}"
    );
    assert!(
        !logs.contains(&stack.files.credential("stack/staging/db")),
        "no password in the log"
    );
}

//! The `nfops` binary as scripts use it: exit codes, JSON, errors, secrets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nfops_testkit::{output_text as text, read_credentials};

struct Home {
    dir: tempfile::TempDir,
    service: String,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let service = format!(
            "nfops-cli-test-{}-{}",
            std::process::id(),
            dir.path()
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
        );
        Self { dir, service }
    }

    fn nfops(&self, config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        nfops_testkit::run_nfops(self.dir.path(), config, &self.service, args, stdin)
    }

    fn state_db(&self) -> PathBuf {
        self.dir.path().join("state/state.db")
    }
}

fn minimal_config(dir: &Path) -> PathBuf {
    let p = dir.join("environments.toml");
    std::fs::write(&p, "version = 1\n\n[environments.staging]\ntier = \"staging\"\nhealth_url = \"http://127.0.0.1:9/health\"\n").expect("write config");
    p
}

#[test]
fn a_broken_config_exits_3_with_line_and_column() {
    let home = Home::new();
    let cfg = home.dir.path().join("environments.toml");
    std::fs::write(
        &cfg,
        "version = 1\n[environments.prod]\ntier = \"production\"\npassword = \"x\"\n",
    )
    .expect("write");
    let out = home.nfops(&cfg, &["config"], None);
    assert_eq!(
        out.status.code(),
        Some(3),
        "config errors exit 3: {}",
        text(&out)
    );
    let t = text(&out);
    assert!(
        t.contains("environments.toml:4:1"),
        "names file, line and column: {t}"
    );
    assert!(
        t.contains("nfops credentials set"),
        "the hint says where secrets go: {t}"
    );

    let json = home.nfops(&cfg, &["--json", "config"], None);
    let v: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("--json errors are JSON on stdout");
    assert_eq!(v["error"]["code"], "config.invalid");
}

#[test]
fn an_unknown_environment_exits_3_and_lists_the_known_ones() {
    let home = Home::new();
    let cfg = minimal_config(home.dir.path());
    let out = home.nfops(&cfg, &["status", "--env", "prod"], None);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("staging"),
        "hint lists known environments: {}",
        text(&out)
    );
}

#[test]
fn audit_verify_fails_after_a_row_is_edited_in_sqlite() {
    let home = Home::new();
    let cfg = minimal_config(home.dir.path());
    for i in 0..3 {
        let out = home.nfops(
            &cfg,
            &["credentials", "set", &format!("test/cred{i}")],
            Some("value-that-is-not-checked-here\n"),
        );
        assert!(
            out.status.success(),
            "set credential (needs a keyring: run under scripts/with-keyring): {}",
            text(&out)
        );
    }
    let ok = home.nfops(&cfg, &["audit", "verify"], None);
    assert!(
        ok.status.success(),
        "an untouched chain verifies: {}",
        text(&ok)
    );
    assert!(text(&ok).contains("3 entries"), "{}", text(&ok));

    let edit = Command::new("sqlite3")
        .arg(home.state_db())
        .arg("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE seq = 2;")
        .output()
        .expect("run sqlite3");
    assert!(
        edit.status.success(),
        "tamper with sqlite3: {}",
        text(&edit)
    );
    let bad = home.nfops(&cfg, &["audit", "verify"], None);
    assert_eq!(
        bad.status.code(),
        Some(7),
        "tampering exits 7: {}",
        text(&bad)
    );
    assert!(
        text(&bad).contains("entry 2"),
        "names the edited entry: {}",
        text(&bad)
    );
    for i in 0..3 {
        let _ = home.nfops(
            &cfg,
            &["credentials", "delete", &format!("test/cred{i}")],
            None,
        );
    }
}

#[test]
fn a_planted_credential_reaches_no_output_log_state_or_config() {
    let home = Home::new();
    let cfg = match nfops_testkit::stack_dir_if_up() {
        Some(stack) => stack.config_path(),
        None => minimal_config(home.dir.path()),
    };
    let planted = format!("PLANTED-{}-cli-secret", std::process::id());
    let mut outputs = Vec::new();
    let set = home.nfops(
        &cfg,
        &["credentials", "set", "test/planted"],
        Some(&planted),
    );
    assert!(
        set.status.success(),
        "set (needs a keyring): {}",
        text(&set)
    );
    outputs.push(set);
    // With the stack, the planted value is also a credential the probes USE
    // (a wrong Redis password): it travels through the probe and its error.
    let stack_creds = cfg
        .parent()
        .map(|d| d.join("credentials"))
        .filter(|d| d.is_dir());
    if let Some(creds) = &stack_creds {
        for (name, value) in read_credentials(creds) {
            let value = if name == "stack/redis" {
                planted.clone()
            } else {
                value
            };
            let o = home.nfops(&cfg, &["credentials", "set", &name], Some(&value));
            assert!(o.status.success(), "import {name}: {}", text(&o));
        }
        let status = home.nfops(&cfg, &["--json", "status"], None);
        assert_eq!(
            status.status.code(),
            Some(6),
            "a wrong Redis password fails the cache probes: {}",
            text(&status)
        );
        assert!(
            text(&status).contains("stack/redis"),
            "the failure names the credential to fix: {}",
            text(&status)
        );
        outputs.push(status);
    }
    for args in [
        &["credentials", "list"][..],
        &["--json", "credentials", "list"],
        &["--json", "audit", "list"],
        &["audit", "verify"],
        &["--json", "status"],
        &["jobs", "list"],
        &["config"],
    ] {
        outputs.push(home.nfops(&cfg, args, None));
    }
    let list = home.nfops(&cfg, &["--json", "credentials", "list"], None);
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    let row = v
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == "test/planted"))
        .cloned()
        .expect("listed");
    assert_eq!(row["state"], "set");
    assert!(
        row["changedAt"].is_string(),
        "changed-at is recorded: {row}"
    );
    outputs.push(list);
    for o in &outputs {
        assert!(
            !text(o).contains(&planted),
            "the value was printed: {}",
            text(o)
        );
    }
    let del = home.nfops(&cfg, &["credentials", "delete", "test/planted"], None);
    assert!(del.status.success(), "{}", text(&del));
    let mut scanned = 0;
    let mut todo = vec![home.dir.path().to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).expect("read file");
            scanned += 1;
            assert!(
                !bytes
                    .windows(planted.len())
                    .any(|w| w == planted.as_bytes()),
                "the value leaked into {}",
                p.display()
            );
        }
    }
    assert!(
        scanned >= 2,
        "the scan must have covered the state database and logs, saw {scanned} files"
    );
    assert!(!std::fs::read_to_string(&cfg)
        .expect("config")
        .contains(&planted));
}

#[test]
fn status_against_the_stack_is_all_ok() {
    let Some(dir) = nfops_testkit::stack_dir("status_against_the_stack_is_all_ok").map(|s| s.dir)
    else {
        return;
    };
    let home = Home::new();
    let cfg = dir.join("environments.toml");
    let mut names = Vec::new();
    for (name, value) in read_credentials(&dir.join("credentials")) {
        let o = home.nfops(&cfg, &["credentials", "set", &name], Some(&value));
        assert!(o.status.success(), "import {name}: {}", text(&o));
        names.push(name);
    }
    let out = home.nfops(&cfg, &["--json", "status"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json ({e}): {}", text(&out)));
    let failed: Vec<String> = v
        .as_array()
        .expect("array of environments")
        .iter()
        .flat_map(|env| {
            env["probes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |p| (env["name"].clone(), p))
        })
        .filter(|(_, p)| p["state"] != "ok")
        .map(|(e, p)| format!("{e}/{}: {}", p["kind"], p["error"]))
        .collect();
    assert!(
        failed.is_empty(),
        "every probe of the stack is ok: {failed:?}"
    );
    assert_eq!(out.status.code(), Some(0));
    for n in names {
        let _ = home.nfops(&cfg, &["credentials", "delete", &n], None);
    }
}

#[test]
fn init_writes_the_commented_template_once_and_config_accepts_it() {
    let home = Home::new();
    let config = home.dir.path().join("fresh").join("environments.toml");
    let before = home.nfops(&config, &["config"], None);
    assert_eq!(
        before.status.code(),
        Some(3),
        "no file yet: {}",
        text(&before)
    );
    assert!(
        text(&before).contains("nfops init"),
        "the hint names init: {}",
        text(&before)
    );

    let first = home.nfops(&config, &["--json", "init"], None);
    assert!(first.status.success(), "{}", text(&first));
    let json: serde_json::Value = serde_json::from_slice(&first.stdout).expect("json");
    assert_eq!(json["created"], true);
    let written = std::fs::read_to_string(&config).expect("written");
    assert!(written.starts_with("# environments.toml"), "{written}");

    // A file that is there is never overwritten.
    std::fs::write(&config, format!("{written}\n# mine\n")).expect("edit");
    let again = home.nfops(&config, &["--json", "init"], None);
    assert!(again.status.success(), "{}", text(&again));
    let json: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(json["created"], false);
    assert!(std::fs::read_to_string(&config)
        .expect("read")
        .ends_with("# mine\n"));

    let check = home.nfops(&config, &["config"], None);
    assert!(
        check.status.success(),
        "the template loads: {}",
        text(&check)
    );
}

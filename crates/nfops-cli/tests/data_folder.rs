//! The data folder as an operator upgrading from an older version meets it:
//! `nfops` run with `HOME`/`XDG_*` in a temp folder (no `NFOPS_HOME`) moves
//! the old folders to the identifier-named ones once, says so on stderr,
//! shows the data folder in `nfops config`, and audits the move.
//! Linux only: the XDG variables steer the folders there. Needs a keyring
//! (the audit key): run under `scripts/with-keyring`.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Command, Output};

use nfops_testkit::output_text as text;

const ID: &str = "org.ogcnewfinity.ops";

fn nfops(root: &Path, args: &[&str]) -> Output {
    let service = format!(
        "nfops-data-folder-test-{}-{}",
        std::process::id(),
        root.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    );
    Command::new(nfops_testkit::cli::nfops_bin())
        .args(args)
        .env_remove("NFOPS_HOME")
        .env_remove("NFOPS_CONFIG")
        .env("HOME", root.join("home"))
        .env("XDG_DATA_HOME", root.join("data"))
        .env("XDG_STATE_HOME", root.join("st"))
        .env("XDG_CONFIG_HOME", root.join("cfg"))
        .env("NFOPS_KEYRING_SERVICE", service)
        .output()
        .expect("run nfops")
}

#[test]
fn an_upgrade_moves_the_old_folders_once_and_audits_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let old_config = root.join("cfg/nfops/environments.toml");
    std::fs::create_dir_all(old_config.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &old_config,
        "version = 1\n\n[environments.staging]\ntier = \"staging\"\nhealth_url = \"http://127.0.0.1:9/health\"\n",
    )
    .expect("config");
    std::fs::create_dir_all(root.join("data/nfops")).expect("mkdir");
    std::fs::write(root.join("data/nfops/known_hosts"), "a trusted host key\n").expect("hosts");

    let out = nfops(root, &["--json", "config"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let new_state = root.join("data").join(ID);
    assert_eq!(v["stateDir"], new_state.display().to_string());
    assert_eq!(v["logDir"], new_state.join("logs").display().to_string());
    assert_eq!(
        v["environments"][0]["name"], "staging",
        "the moved config is the one read"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("note: moved the console's files from")
            && stderr.contains(&root.join("data/nfops").display().to_string()),
        "the move is said on stderr, naming the old folder: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(new_state.join("known_hosts")).expect("moved"),
        "a trusted host key\n"
    );
    assert!(!root.join("data/nfops").exists() && !root.join("cfg/nfops").exists());

    let again = nfops(root, &["--json", "audit", "list"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("note:"),
        "said once: {}",
        text(&again)
    );
    let entries: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    let moved: Vec<_> = entries
        .as_array()
        .expect("a list")
        .iter()
        .filter(|e| e["action"] == "state.moved")
        .collect();
    assert_eq!(moved.len(), 1, "one audit entry for the move: {entries}");

    let human = nfops(root, &["config"]);
    assert!(
        String::from_utf8_lossy(&human.stdout)
            .contains(&format!("data folder: {}", new_state.display())),
        "{}",
        text(&human)
    );
}

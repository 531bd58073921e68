//! [`Paths::resolve`] under `HOME`/`XDG_*` pointed at temp folders. The
//! environment is process-wide, so each resolve runs in a child process (this
//! test binary, running only [`resolve_child`]) and prints what it found.
//! The XDG variables steer the folders on Linux only; macOS and Windows
//! take theirs from the OS (the layouts are tested in the parent module).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::super::{Paths, APP_IDENTIFIER};
use super::{read, write};

/// Child half: resolves under the parent's environment and prints one
/// `PATHS {json}` line.
#[test]
fn resolve_child() {
    if std::env::var_os("NFOPS_PATHS_CHILD").is_none() {
        return;
    }
    let out = match Paths::resolve(None) {
        Ok(p) => serde_json::json!({
            "state": p.state_dir, "logs": p.log_dir, "config": p.config_file, "notices": p.notices,
        }),
        Err(e) => serde_json::json!({ "error": e.message() }),
    };
    println!("PATHS {out}");
}

/// A home in a temp folder, with the old and new places under it.
struct Home {
    tmp: tempfile::TempDir,
}

#[derive(Debug)]
struct Resolved {
    state: PathBuf,
    logs: PathBuf,
    config: PathBuf,
    notices: Vec<String>,
}

impl Home {
    fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }
    fn old_state(&self) -> PathBuf {
        self.p("data/nfops")
    }
    fn old_logs(&self) -> PathBuf {
        self.p("st/nfops/logs")
    }
    fn old_config(&self) -> PathBuf {
        self.p("cfg/nfops")
    }
    fn new_state(&self) -> PathBuf {
        self.p("data").join(APP_IDENTIFIER)
    }
    /// Files of an older version in its three folders.
    fn seed_old(&self, files: usize) {
        write(&self.old_state().join("state.db"), "the job history");
        for i in 0..files {
            write(&self.old_state().join(format!("reports/r{i}.html")), "r");
        }
        write(&self.old_logs().join("cli.2026-01-01.jsonl"), "a log line");
        write(
            &self.old_config().join("environments.toml"),
            "[environments]",
        );
    }
    fn child(&self, nfops_home: Option<&Path>) -> Child {
        let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
        cmd.args([
            "--exact",
            "paths::tests::resolve_tests::resolve_child",
            "--nocapture",
        ])
        .env("NFOPS_PATHS_CHILD", "1")
        .env("HOME", self.p("home"))
        .env("XDG_DATA_HOME", self.p("data"))
        .env("XDG_STATE_HOME", self.p("st"))
        .env("XDG_CONFIG_HOME", self.p("cfg"))
        .env_remove("NFOPS_HOME")
        .env_remove("NFOPS_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        if let Some(h) = nfops_home {
            cmd.env("NFOPS_HOME", h);
        }
        cmd.spawn().expect("child")
    }
    fn resolve(&self, nfops_home: Option<&Path>) -> Resolved {
        finish(self.child(nfops_home))
    }
}

/// Waits for a child and reads its `PATHS` line; panics on a resolve error.
fn finish(child: Child) -> Resolved {
    let out = child.wait_with_output().expect("child output");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("PATHS "))
        .unwrap_or_else(|| panic!("the child printed no paths: {text}"));
    let v: serde_json::Value = serde_json::from_str(line).expect("json");
    assert!(v["error"].is_null(), "resolve failed: {}", v["error"]);
    let path = |k: &str| PathBuf::from(v[k].as_str().expect("path"));
    Resolved {
        state: path("state"),
        logs: path("logs"),
        config: path("config"),
        notices: serde_json::from_value(v["notices"].clone()).expect("notices"),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_fresh_start_uses_the_identifier_folders_and_creates_nothing() {
    let home = Home::new();
    let r = home.resolve(None);
    assert_eq!(r.state, home.new_state());
    assert_eq!(r.logs, home.new_state().join("logs"));
    assert_eq!(
        r.config,
        home.p("cfg").join(APP_IDENTIFIER).join("environments.toml")
    );
    assert!(r.notices.is_empty(), "{:?}", r.notices);
    assert!(!home.old_state().exists() && !home.new_state().exists());
}

#[cfg(target_os = "linux")]
#[test]
fn an_older_versions_folders_are_moved_once() {
    let home = Home::new();
    home.seed_old(3);
    let r = home.resolve(None);
    assert_eq!(read(&r.state.join("state.db")), "the job history");
    assert_eq!(read(&r.state.join("reports/r2.html")), "r");
    assert_eq!(read(&r.logs.join("cli.2026-01-01.jsonl")), "a log line");
    assert_eq!(read(&r.config), "[environments]");
    assert!(!home.old_state().exists() && !home.old_config().exists());
    assert!(
        !home.p("st/nfops").exists(),
        "the old version's empty log parent is tidied"
    );
    assert_eq!(r.notices.len(), 3, "state, logs, config: {:?}", r.notices);
    assert!(
        r.notices[0].contains(&home.old_state().display().to_string())
            && r.notices[0].contains(&home.new_state().display().to_string()),
        "the notice names both folders: {}",
        r.notices[0]
    );
    assert!(
        r.state.join(".moved-pending.json").exists(),
        "the move waits to be audited when the state opens"
    );
    let again = home.resolve(None);
    assert!(again.notices.is_empty(), "said once: {:?}", again.notices);
    assert_eq!(read(&again.state.join("state.db")), "the job history");
}

#[cfg(target_os = "linux")]
#[test]
fn when_both_exist_the_new_folder_is_used_and_the_old_one_named_once() {
    let home = Home::new();
    home.seed_old(1);
    write(&home.new_state().join("state.db"), "the newer history");
    let r = home.resolve(None);
    assert_eq!(r.state, home.new_state());
    assert_eq!(
        read(&r.state.join("state.db")),
        "the newer history",
        "an existing new folder is never overwritten"
    );
    assert_eq!(
        read(&home.old_state().join("state.db")),
        "the job history",
        "the old folder is left in place"
    );
    let left: Vec<_> = r
        .notices
        .iter()
        .filter(|n| n.contains("left in place"))
        .collect();
    assert!(
        left.iter()
            .any(|n| n.contains(&home.old_state().display().to_string())
                && n.contains(&home.new_state().display().to_string())),
        "the notice names both folders: {:?}",
        r.notices
    );
    let again = home.resolve(None);
    assert!(
        again.notices.iter().all(|n| !n.contains("left in place")),
        "said once: {:?}",
        again.notices
    );
}

#[cfg(target_os = "linux")]
#[test]
fn two_processes_starting_at_once_move_the_folders_once() {
    for round in 0..4 {
        let home = Home::new();
        home.seed_old(400);
        let (a, b) = (home.child(None), home.child(None));
        let (a, b) = (finish(a), finish(b));
        let all: Vec<&String> = a.notices.iter().chain(&b.notices).collect();
        assert!(
            all.iter().all(|n| !n.contains("left in place")),
            "round {round}: the second process must not find the first's half-done move: {all:?}"
        );
        assert_eq!(
            all.iter().filter(|n| n.starts_with("moved")).count(),
            3,
            "round {round}: each folder moved once: {all:?}"
        );
        assert!(
            a.notices.is_empty() || b.notices.is_empty(),
            "round {round}: one process moved everything under the lock"
        );
        assert_eq!(read(&a.state.join("state.db")), "the job history");
        assert_eq!(read(&a.state.join("reports/r399.html")), "r");
        assert!(!home.old_state().exists());
    }
}

#[cfg(target_os = "linux")]
#[test]
fn under_nfops_home_nothing_is_moved() {
    let home = Home::new();
    home.seed_old(1);
    let nfops_home = home.p("nh");
    let r = home.resolve(Some(&nfops_home));
    assert_eq!(r.state, nfops_home.join("state"));
    assert_eq!(r.logs, nfops_home.join("logs"));
    assert_eq!(r.config, nfops_home.join("environments.toml"));
    assert!(r.notices.is_empty());
    assert_eq!(read(&home.old_state().join("state.db")), "the job history");
    assert!(!home.new_state().exists(), "no move under NFOPS_HOME");
}

//! A keyring that cannot be used gives a stable code and a hint, never a
//! fallback: no keyring → `keyring.unavailable`; locked → `keyring.denied`.
//!
//! The platform store starts once per process, so each case runs this test
//! binary again as a child in a prepared environment; the child prints the
//! wire errors and the parent checks them. Needs no keyring of its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use nfops_core::WireError;
use nfops_vault::Keyring;

/// Set in the child: which case it is running.
const CHILD_ENV: &str = "NFOPS_VAULT_TEST_CHILD";
const RESULT_PREFIX: &str = "NFOPS_RESULT ";
const PLANTED: &str = "planted-secret-unusable";

type Outcomes = Vec<(String, Option<WireError>)>;

/// Runs only as the child: reports every operation's error as JSON lines.
#[test]
fn child_reports_operations() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return; // the tests below run this one in a child process
    }
    let keyring = Keyring::with_service("nfops-test-unusable");
    let value = nfops_core::SecretString::new(PLANTED.into());
    let results = [
        ("check", keyring.check().err()),
        ("set", keyring.set("prod/db", &value).err()),
        ("get", keyring.get("prod/db").err()),
        ("exists", keyring.exists("prod/db").err()),
        ("delete", keyring.delete("prod/db").err()),
    ];
    for (op, err) in results {
        let json = serde_json::to_string(&err.map(|e| e.to_wire())).expect("wire errors serialize");
        println!("{RESULT_PREFIX}{op} {json}");
    }
}

/// Runs the child through `cmd` (the test binary, or a wrapper around it).
fn run_child(mut cmd: Command, case: &str) -> Outcomes {
    cmd.args([
        "--exact",
        "child_reports_operations",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, case)
    .env_remove("DBUS_SESSION_BUS_ADDRESS");
    let out = cmd.output().expect("run the child test process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    let results: Outcomes = stdout
        .lines()
        // libtest may print "test name ... " on the same line first.
        .filter_map(|l| l.split_once(RESULT_PREFIX).map(|(_, rest)| rest))
        .map(|l| {
            let (op, json) = l.split_once(' ').expect("op and json");
            (
                op.to_owned(),
                serde_json::from_str(json).expect("wire error json"),
            )
        })
        .collect();
    assert_eq!(
        results.len(),
        5,
        "the child reports every operation:\n{stdout}\n{stderr}"
    );
    assert!(
        !stdout.contains(PLANTED) && !stderr.contains(PLANTED),
        "a value reached the output"
    );
    results
}

fn test_binary() -> Command {
    Command::new(std::env::current_exe().expect("test binary path"))
}

fn outcome<'a>(results: &'a Outcomes, op: &str) -> Option<&'a WireError> {
    results
        .iter()
        .find(|(o, _)| o == op)
        .and_then(|(_, e)| e.as_ref())
}

fn assert_all_unavailable(results: &Outcomes) {
    for (op, err) in results {
        let err = err
            .as_ref()
            .unwrap_or_else(|| panic!("{op} succeeded without a keyring: a silent fallback?"));
        assert_eq!(
            err.code, "keyring.unavailable",
            "{op}: no keyring must never look like a missing credential"
        );
        let hint = err.hint.as_deref().unwrap_or_default();
        if cfg!(all(unix, not(target_os = "macos"))) {
            assert!(
                hint.contains("gnome-keyring-daemon")
                    && hint.contains("D-Bus")
                    && hint.contains("README"),
                "{op}: the hint must say how to start a keyring on Linux: {hint}"
            );
        } else {
            assert!(
                !hint.is_empty(),
                "{op}: the hint must say how to reach the keyring"
            );
        }
    }
}

#[test]
fn no_session_bus_is_unavailable() {
    let mut cmd = test_binary();
    cmd.env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/nfops-test-bus",
    );
    assert_all_unavailable(&run_child(cmd, "bogus-bus"));
}

#[test]
fn no_bus_address_at_all_is_unavailable() {
    // Without the variable, D-Bus clients try $XDG_RUNTIME_DIR/bus: point
    // that at nothing so a desktop's real session bus is not found.
    let mut cmd = test_binary();
    cmd.env("XDG_RUNTIME_DIR", "/nonexistent/nfops-test-runtime");
    assert_all_unavailable(&run_child(cmd, "no-address"));
}

/// A private session bus where the bus itself starts gnome-keyring on
/// demand, as a desktop would: a keyring that nobody unlocked. All its
/// files go to a scratch HOME; there is no display, so no unlock prompt.
#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn locked_keyring_is_denied() {
    let scratch = Scratch::new("locked");
    let mut cmd = Command::new("dbus-run-session");
    cmd.arg("--")
        .arg(std::env::current_exe().expect("test binary path"))
        .env("HOME", scratch.dir("home"))
        .env("XDG_DATA_HOME", scratch.dir("data"))
        .env("XDG_CONFIG_HOME", scratch.dir("config"))
        .env("XDG_CACHE_HOME", scratch.dir("cache"))
        .env("XDG_RUNTIME_DIR", scratch.dir("runtime"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    if let Err(e) = Command::new("dbus-run-session").arg("--version").output() {
        panic!(
            "dbus-run-session is needed ({e}): run under scripts/with-keyring, which installs it"
        );
    }
    let results = run_child(cmd, "locked");

    for op in ["check", "set"] {
        let err =
            outcome(&results, op).unwrap_or_else(|| panic!("{op} succeeded on a locked keyring"));
        assert_eq!(
            err.code, "keyring.denied",
            "{op}: a locked keyring is denied, not unavailable: {err:?}"
        );
        assert!(
            err.hint.as_deref().is_some_and(|h| h.contains("Unlock")),
            "{op}: the hint says to unlock: {err:?}"
        );
    }
    // A locked Secret Service hides its items from searches: reads see
    // nothing. That is why check() writes a probe instead of reading.
    assert_eq!(
        outcome(&results, "get").map(|e| e.code.as_str()),
        Some("credential.missing")
    );
    assert!(
        outcome(&results, "exists").is_none(),
        "exists answers false"
    );
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(case: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("nfops-vault-{case}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Self(dir)
    }

    fn dir(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(&path).expect("create scratch subdir");
        restrict(&path);
        path
    }
}

#[cfg(unix)]
fn restrict(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // XDG_RUNTIME_DIR must be private, or gnome-keyring refuses it.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
}

#[cfg(not(unix))]
fn restrict(_: &Path) {}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

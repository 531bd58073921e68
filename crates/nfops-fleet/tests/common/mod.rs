//! Harness for the integration tests that run against the real local stack
//! (`scripts/stack up`). `NFOPS_STACK_DIR` names the stack's state folder;
//! without it the tests print a skip notice and pass, unless
//! `NFOPS_REQUIRE_STACK=1` (set by `make test`), which makes them fail.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::{Path, PathBuf};
use std::process::Command;

use nfops_core::config::{Config, Environment, Host};
use nfops_core::credentials::MemoryCredentials;

/// A running local stack: its config, its credentials (from the files the
/// stack writes, loaded into memory: the keyring is tested elsewhere) and a
/// private known-hosts folder.
pub struct Stack {
    pub dir: PathBuf,
    pub config: Config,
    pub creds: MemoryCredentials,
    /// Credential names → values, for tests that need to build variants.
    pub credential_values: Vec<(String, String)>,
    pub port_base: u16,
    tmp: tempfile::TempDir,
}

impl Stack {
    /// The stack named by `NFOPS_STACK_DIR`, or `None` (skip) when unset.
    ///
    /// Panics when the variable is unset but `NFOPS_REQUIRE_STACK=1`, or when
    /// the stack's files are unusable.
    pub fn from_env(test: &str) -> Option<Stack> {
        let Some(dir) = std::env::var_os("NFOPS_STACK_DIR").filter(|d| !d.is_empty()) else {
            if std::env::var("NFOPS_REQUIRE_STACK").as_deref() == Ok("1") {
                panic!("{test}: NFOPS_REQUIRE_STACK=1 but NFOPS_STACK_DIR is not set: run `scripts/stack up` and export NFOPS_STACK_DIR");
            }
            eprintln!("skipping {test}: NFOPS_STACK_DIR is not set (run `scripts/stack up` and export it to run against the real stack)");
            return None;
        };
        let dir = PathBuf::from(dir);
        let config = Config::load(&dir.join("environments.toml"))
            .unwrap_or_else(|e| panic!("{test}: the stack's environments.toml must load: {e}"));
        let creds = MemoryCredentials::default();
        let mut credential_values = Vec::new();
        load_credentials(&dir.join("credentials"), "", &mut credential_values);
        assert!(
            !credential_values.is_empty(),
            "{test}: the stack must have written credential files under {}",
            dir.display()
        );
        for (name, value) in &credential_values {
            creds.insert(name, value);
        }
        let port_base = port_base(&config);
        let tmp = tempfile::tempdir().expect("tempdir");
        Some(Stack {
            dir,
            config,
            creds,
            credential_values,
            port_base,
            tmp,
        })
    }

    pub fn env(&self, name: &str) -> &Environment {
        self.config
            .environment(name)
            .unwrap_or_else(|e| panic!("the stack defines environment {name}: {e}"))
    }

    pub fn host(&self, env: &str, name: &str) -> Host {
        self.env(env)
            .hosts
            .iter()
            .map(|h| h.get_ref().clone())
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("the stack defines host {name} in {env}"))
    }

    /// A known-hosts file private to this test (empty at first).
    pub fn known_hosts(&self) -> PathBuf {
        self.tmp.path().join("known_hosts")
    }

    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// Runs `scripts/stack ARGS` for this stack (same folder and port base).
    pub fn stack(&self, args: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/stack");
        let out = Command::new("bash")
            .arg(&script)
            .args(args)
            .env("NFOPS_STACK_DIR", &self.dir)
            .env("NFOPS_STACK_PORT_BASE", self.port_base.to_string())
            .output()
            .unwrap_or_else(|e| panic!("running {} failed: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/stack {} failed:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Credential files are named by the credential's name (`stack/ssh/deploy` is
/// `credentials/stack/ssh/deploy`); one trailing newline is not part of the value.
fn load_credentials(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let full = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        if path.is_dir() {
            load_credentials(&path, &full, out);
        } else {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            let value = text
                .strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text);
            out.push((full, value.to_owned()));
        }
    }
}

/// `NFOPS_STACK_PORT_BASE`, or the stack's base read back from its config
/// (production nginx listens on the base port itself).
fn port_base(config: &Config) -> u16 {
    if let Some(b) = std::env::var("NFOPS_STACK_PORT_BASE")
        .ok()
        .and_then(|b| b.parse().ok())
    {
        return b;
    }
    let url = config
        .environment("production")
        .ok()
        .and_then(|e| e.health_url.as_ref())
        .map(|u| u.get_ref().clone())
        .expect("the stack's production environment has a health_url");
    url.rsplit(':')
        .next()
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!("cannot read the stack's port base from {url}; set NFOPS_STACK_PORT_BASE")
        })
}

/// Runs `ssh-keygen` to make a fresh ed25519 key; returns (private, public) text.
pub fn fresh_ed25519(dir: &Path, name: &str) -> (String, String) {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "nfops-fleet-test",
            "-f",
        ])
        .arg(&path)
        .output()
        .expect("ssh-keygen runs (openssh-client is a stack dependency)");
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let private = std::fs::read_to_string(&path).expect("private key written");
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("public key written");
    (private, public)
}

/// The first line of `ssh-keygen -lf FILE`'s fingerprint (`SHA256:...`).
pub fn ssh_keygen_fingerprint(file: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(file)
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen -lf failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|t| t.starts_with("SHA256:"))
        .expect("ssh-keygen -l prints a SHA256 fingerprint")
        .to_owned()
}

//! The local stack's files and script: its config, its credentials (the
//! files `scripts/stack` writes, loaded into memory: the keyring is tested on
//! its own) and `scripts/stack` itself (stop, start, reset).

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use nfops_core::config::{Config, Environment, Host};
use nfops_core::credentials::MemoryCredentials;

use crate::gate::stack_dir;

/// A usable stack's state folder (what the gate hands out).
pub struct StackDir {
    pub dir: PathBuf,
}

impl StackDir {
    /// The stack's `environments.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("environments.toml")
    }

    /// Every credential of the stack as (name, value).
    pub fn credentials(&self) -> Vec<(String, String)> {
        read_credentials(&self.dir.join("credentials"))
    }

    /// One credential's value (`stack/ssh/deploy`, `stack/production/db`…).
    pub fn credential(&self, name: &str) -> String {
        let path = self.dir.join("credentials").join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("the stack's credential {}: {e}", path.display()));
        trim_newline(&text).to_owned()
    }

    /// Runs `scripts/stack ARGS` on this stack; fails the test if it fails.
    pub fn run(&self, args: &[&str]) {
        let out = self
            .script(args)
            .output()
            .unwrap_or_else(|e| panic!("running scripts/stack failed: {e}"));
        assert!(
            out.status.success(),
            "scripts/stack {} failed:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `scripts/stack ARGS` on this stack, not yet run (for a caller that
    /// must not panic, e.g. inside a progress callback).
    pub fn script(&self, args: &[&str]) -> Command {
        script(&self.dir, args)
    }

    /// Stops one service until the guard drops (also when the test panics).
    pub fn stop(&self, service: &str) -> StoppedService {
        self.run(&["stop", service]);
        StoppedService {
            dir: self.dir.clone(),
            service: service.to_owned(),
            started: false,
        }
    }

    /// Puts the stack back where `scripts/stack up` leaves it (each host's
    /// release, production's schema): see `scripts/stack reset`.
    pub fn reset(&self) {
        self.run(&["reset"]);
    }
}

/// `scripts/stack ARGS` for the stack in `dir`.
pub fn script(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(crate::repo().join("scripts/stack"))
        .args(args)
        .env("NFOPS_STACK_DIR", dir);
    cmd
}

/// The stack's own S3 server, whatever its port base: the first `endpoint`
/// its config text names.
pub fn s3_endpoint(config_text: &str) -> String {
    config_text
        .lines()
        .find_map(|l| l.strip_prefix("endpoint = \""))
        .and_then(|l| l.split('"').next())
        .expect("the stack config names its S3 endpoint")
        .to_owned()
}

/// A stopped service, started again when dropped (quietly: the test may be
/// failing already) or by [`StoppedService::start`] (checked).
pub struct StoppedService {
    dir: PathBuf,
    service: String,
    started: bool,
}

impl StoppedService {
    /// Starts the service again; fails the test if it does not start.
    pub fn start(mut self) {
        self.started = true;
        StackDir {
            dir: self.dir.clone(),
        }
        .run(&["start", &self.service]);
    }
}

impl Drop for StoppedService {
    fn drop(&mut self) {
        if !self.started {
            let _ = script(&self.dir, &["start", &self.service])
                .stdout(std::process::Stdio::null())
                .status();
        }
    }
}

/// A running stack, loaded: its config, its credentials in memory and a
/// temp folder private to the test (known hosts, state, backups).
pub struct Stack {
    pub files: StackDir,
    pub config: Config,
    pub creds: Arc<MemoryCredentials>,
    /// Credential names → values, for tests that build variants.
    pub credential_values: Vec<(String, String)>,
    pub tmp: tempfile::TempDir,
}

impl Deref for Stack {
    type Target = StackDir;
    fn deref(&self) -> &StackDir {
        &self.files
    }
}

impl Stack {
    /// The stack behind the gate, loaded; `None` when `test` is skipped.
    ///
    /// # Panics
    /// As the gate does, and when the stack's files are unusable.
    pub fn from_env(test: &str) -> Option<Stack> {
        stack_dir(test).map(|files| Stack::load(files, test))
    }

    /// Loads the stack in `files`.
    pub fn load(files: StackDir, test: &str) -> Stack {
        let config = Config::load(&files.config_path())
            .unwrap_or_else(|e| panic!("{test}: the stack's environments.toml must load: {e}"));
        let credential_values = files.credentials();
        assert!(
            !credential_values.is_empty(),
            "{test}: the stack must have written credential files under {}",
            files.dir.display()
        );
        Stack {
            creds: Arc::new(memory_credentials(&credential_values)),
            credential_values,
            config,
            files,
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn env(&self, name: &str) -> &Environment {
        self.config
            .environment(name)
            .unwrap_or_else(|e| panic!("the stack defines environment {name}: {e}"))
    }

    pub fn host(&self, env: &str, name: &str) -> Host {
        self.hosts(env)
            .into_iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("the stack defines host {name} in {env}"))
    }

    /// Every host of `env`.
    pub fn hosts(&self, env: &str) -> Vec<Host> {
        self.env(env)
            .hosts
            .iter()
            .map(|h| h.get_ref().clone())
            .collect()
    }

    /// Where `env`'s nginx serves the app (its health URL without `/health`).
    pub fn entry_url(&self, env: &str) -> String {
        self.env(env)
            .health_url
            .as_ref()
            .expect("the stack sets health_url")
            .get_ref()
            .replace("/health", "")
    }

    /// A known-hosts file private to this test (empty at first).
    pub fn known_hosts(&self) -> PathBuf {
        self.tmp.path().join("known_hosts")
    }

    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }
}

/// The given credentials in memory.
pub fn memory_credentials(values: &[(String, String)]) -> MemoryCredentials {
    let creds = MemoryCredentials::default();
    for (name, value) in values {
        creds.insert(name, value);
    }
    creds
}

/// Credential files are named by the credential's name (`stack/ssh/deploy` is
/// `credentials/stack/ssh/deploy`); one trailing newline is not part of the
/// value. Sorted by name.
pub fn read_credentials(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                todo.push(path);
                continue;
            }
            let name = path
                .strip_prefix(root)
                .expect("under the credentials folder")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            out.push((name, trim_newline(&text).to_owned()));
        }
    }
    out.sort();
    out
}

fn trim_newline(text: &str) -> &str {
    text.strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_named_by_their_path_without_one_trailing_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("stack/ssh")).expect("mkdir");
        std::fs::write(root.join("stack/ssh/deploy"), "key\n").expect("write");
        std::fs::write(root.join("stack/redis"), "pw\r\n").expect("write");
        std::fs::write(root.join("top"), "two\n\n").expect("write");
        assert_eq!(
            read_credentials(root),
            vec![
                ("stack/redis".to_owned(), "pw".to_owned()),
                ("stack/ssh/deploy".to_owned(), "key".to_owned()),
                ("top".to_owned(), "two\n".to_owned()),
            ],
            "names are paths under the folder (sorted); only one line ending is dropped"
        );
    }

    #[test]
    fn the_s3_endpoint_is_the_first_one_the_config_names() {
        let text = "[environments.staging.storage]\nendpoint = \"http://127.0.0.1:17010\"\n\n[x]\nendpoint = \"http://other\"\n";
        assert_eq!(s3_endpoint(text), "http://127.0.0.1:17010");
    }
}

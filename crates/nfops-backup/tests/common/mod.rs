//! Harness for tests against the real local stack (`scripts/stack up`), as in
//! nfops-fleet: `NFOPS_STACK_DIR` names the stack; unset → skip notice, unless
//! `NFOPS_REQUIRE_STACK=1` (then fail).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use age::x25519;
use nfops_backup::{BackupRequest, LocalStore};
use nfops_core::config::Config;
use nfops_core::credentials::{CredentialSource, MemoryCredentials};
use nfops_core::jobs::{JobRunner, JobStore};
use nfops_core::state::State;
use nfops_mysql::{DumpOptions, Target};

pub struct Stack {
    pub dir: PathBuf,
    pub config: Config,
    pub creds: Arc<MemoryCredentials>,
    pub tmp: tempfile::TempDir,
}

impl Stack {
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
        let creds = Arc::new(MemoryCredentials::default());
        load(&dir.join("credentials"), "", &creds);
        Some(Stack {
            dir,
            config,
            creds,
            tmp: tempfile::tempdir().expect("tempdir"),
        })
    }

    /// A backup request for `env` into this test's temp folder.
    pub fn request(&self, env: &str, identity: &x25519::Identity) -> BackupRequest {
        BackupRequest {
            environment: env.into(),
            env: self.config.environment(env).expect("stack env").clone(),
            creds: self.creds.clone(),
            known_hosts: self.tmp.path().join("known_hosts"),
            store: LocalStore::new(&self.tmp.path().join("backups")),
            recipients: vec![
                identity.to_public(),
                x25519::Identity::generate().to_public(),
            ],
            identity: identity.clone(),
            options: DumpOptions {
                chunk_rows: 500,
                ..DumpOptions::default()
            },
        }
    }

    pub async fn runner(&self) -> JobRunner {
        let state = State::open(&self.tmp.path().join("state"))
            .await
            .expect("state db");
        JobRunner::new(JobStore::new(state))
    }

    /// A direct connection target to `env`'s MariaDB, database `db`.
    pub fn target(&self, env: &str, db: &str) -> Target {
        let d = self
            .config
            .environment(env)
            .expect("env")
            .database
            .clone()
            .expect("db");
        Target {
            host: "127.0.0.1".into(),
            port: self.db_port(env),
            user: d.user.clone(),
            password: self.creds.get(&d.password_credential).expect("db password"),
            database: db.into(),
            label: format!("{env} test database"),
        }
    }

    /// The server's own port (production's config names it as seen from its host).
    pub fn db_port(&self, env: &str) -> u16 {
        self.config
            .environment(env)
            .expect("env")
            .database
            .as_ref()
            .expect("db")
            .port
    }

    pub fn db_password(&self, env: &str) -> String {
        let d = self
            .config
            .environment(env)
            .expect("env")
            .database
            .clone()
            .expect("db");
        self.creds
            .get(&d.password_credential)
            .expect("pw")
            .expose()
            .clone()
    }

    /// `scripts/stack ARGS` on this stack.
    pub fn stack(&self, args: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/stack");
        let out = Command::new("bash")
            .arg(&script)
            .args(args)
            .env("NFOPS_STACK_DIR", &self.dir)
            .output()
            .expect("scripts/stack runs");
        assert!(
            out.status.success(),
            "scripts/stack {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn load(dir: &Path, prefix: &str, creds: &MemoryCredentials) {
    for entry in std::fs::read_dir(dir).expect("credentials dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let full = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.path().is_dir() {
            load(&entry.path(), &full, creds);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("credential file");
            creds.insert(&full, text.strip_suffix('\n').unwrap_or(&text));
        }
    }
}

/// Runs SQL on a target (text protocol, several statements allowed).
pub async fn exec(t: &Target, sql: &str) {
    let mut c = t.connect().await.expect("connect");
    sqlx::Executor::execute(&mut c, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

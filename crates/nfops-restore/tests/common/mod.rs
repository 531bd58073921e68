//! Harness for restore tests against the real local stack (`scripts/stack
//! up`): `NFOPS_STACK_DIR` names the stack; unset → skip notice, unless
//! `NFOPS_REQUIRE_STACK=1` (then fail). Backups are taken with the real
//! backup engine into the test's temp folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use age::x25519;
use nfops_backup::{plan_backup, run_backup, BackupRequest, LocalStore};
use nfops_core::config::Config;
use nfops_core::credentials::{CredentialSource, MemoryCredentials};
use nfops_core::jobs::{CancellationToken, JobRunner, JobState, JobStore, NoProgress};
use nfops_core::state::State;
use nfops_mysql::{DumpOptions, Target};
use nfops_restore::{BackupSource, RestoreRequest};

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

    pub async fn runner(&self) -> JobRunner {
        let state = State::open(&self.tmp.path().join("state"))
            .await
            .expect("state db");
        JobRunner::new(JobStore::new(state))
    }

    /// Takes a backup of `env` with the real engine; returns its folder.
    pub async fn backup(&self, env: &str, identity: &x25519::Identity) -> PathBuf {
        let req = BackupRequest {
            environment: env.into(),
            env: self.config.environment(env).expect("stack env").clone(),
            creds: self.creds.clone(),
            known_hosts: self.tmp.path().join("known_hosts"),
            store: LocalStore::new(&self.tmp.path().join("backups")),
            recipients: vec![identity.to_public()],
            identity: identity.clone(),
            options: DumpOptions {
                chunk_rows: 500,
                ..DumpOptions::default()
            },
        };
        let plan = plan_backup(&req).await.expect("backup plan");
        let out = run_backup(
            req,
            &plan,
            &self.runner().await,
            Arc::new(NoProgress),
            CancellationToken::new(),
        )
        .await
        .expect("backup runs");
        assert_eq!(out.job.state, JobState::Succeeded, "backup: {:?}", out.job);
        out.path.expect("published backup")
    }

    /// A restore request of the backup in `dir` into `env`.
    pub fn request(&self, env: &str, dir: &Path, identity: &x25519::Identity) -> RestoreRequest {
        RestoreRequest {
            environment: env.into(),
            env: self.config.environment(env).expect("stack env").clone(),
            creds: self.creds.clone(),
            known_hosts: self.tmp.path().join("known_hosts"),
            source: BackupSource::open(dir).expect("backup opens"),
            identity: identity.clone(),
            tables: None,
            database: None,
            connections: 2,
            safety_retention: chrono::Duration::days(7),
            snapshots: vec![],
        }
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
            port: d.port,
            user: d.user.clone(),
            password: self.creds.get(&d.password_credential).expect("db password"),
            database: db.into(),
            label: format!("{env} test database"),
        }
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

/// One text value (first column of the first row).
pub async fn scalar(t: &Target, sql: &str) -> Option<String> {
    let mut c = t.connect().await.expect("connect");
    let r = sqlx::Executor::fetch_optional(&mut c, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    r.and_then(|r| nfops_mysql::schema::text_at(&r, 0))
}

/// Every table's (name, rows, content hash) of `t`'s database, sorted.
pub async fn content(t: &Target) -> Vec<(String, u64, String)> {
    let mut c = t.connect().await.expect("connect");
    let tables = nfops_mysql::schema::tables(&mut c, t)
        .await
        .expect("tables");
    let mut out = Vec::new();
    for tb in tables {
        let d = nfops_mysql::hash::live_table_hash(&mut c, t, &tb.name, &tb.columns)
            .await
            .expect("hash");
        out.push((tb.name, d.rows, d.hex()));
    }
    out
}

/// The backup's tables as (name, rows, hash), sorted.
pub fn manifest_content(dir: &Path) -> Vec<(String, u64, String)> {
    let m = nfops_backup::Manifest::read(dir).expect("manifest");
    let mut v: Vec<_> = m
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.rows, t.content_hash.clone()))
        .collect();
    v.sort();
    v
}

/// Drops every safety schema of `db` on `t`'s server.
pub async fn drop_safety(t: &Target, db: &str) {
    let mut c = t.connect().await.expect("connect");
    let rows = sqlx::Executor::fetch_all(
        &mut c,
        format!("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'nfops\\_safety\\_{db}\\_%'").as_str(),
    )
    .await
    .expect("schemas");
    for r in rows {
        let n = nfops_mysql::schema::text_at(&r, 0).expect("name");
        sqlx::Executor::execute(&mut c, format!("DROP DATABASE `{n}`").as_str())
            .await
            .expect("drop safety");
    }
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Tests of one binary that write production take turns.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// Writes `body` as a new version of `key`.
pub async fn put(client: &nfops_storage::StorageClient, bucket: &str, key: &str, body: &str) {
    client
        .sdk()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(
            body.as_bytes().to_vec(),
        ))
        .send()
        .await
        .expect("put object");
}

/// Removes every version and delete marker under `prefix`.
pub async fn purge(client: &nfops_storage::StorageClient, bucket: &str, prefix: &str) {
    let page = client
        .sdk()
        .list_object_versions()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list versions");
    let mut all: Vec<(String, String)> = page
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap_or_default().to_owned(),
                v.version_id().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    all.extend(page.delete_markers().iter().map(|m| {
        (
            m.key().unwrap_or_default().to_owned(),
            m.version_id().unwrap_or_default().to_owned(),
        )
    }));
    for (k, v) in all {
        client
            .sdk()
            .delete_object()
            .bucket(bucket)
            .key(k)
            .version_id(v)
            .send()
            .await
            .expect("delete version");
    }
}

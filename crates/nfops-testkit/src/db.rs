//! The stack's MariaDB servers, reached directly on loopback (the console's
//! own route, tunnel or not, is what the tests check; these only look).

use std::path::Path;

use nfops_core::credentials::CredentialSource;
use nfops_mysql::Target;

use crate::Stack;

impl Stack {
    /// A direct connection target to `env`'s MariaDB, database `db`.
    pub fn target(&self, env: &str, db: &str) -> Target {
        let d = self.env(env).database.clone().expect("db");
        Target {
            host: "127.0.0.1".into(),
            port: d.port,
            user: d.user.clone(),
            password: self.creds.get(&d.password_credential).expect("db password"),
            database: db.into(),
            label: format!("{env} test database"),
            carrier: None,
            limits: nfops_mysql::Limits::JOB,
            tls: nfops_mysql::Tls::of(&d),
        }
    }

    /// The server's own port (production's config names it as seen from its host).
    pub fn db_port(&self, env: &str) -> u16 {
        self.env(env).database.as_ref().expect("db").port
    }

    pub fn db_password(&self, env: &str) -> String {
        let d = self.env(env).database.clone().expect("db");
        self.creds
            .get(&d.password_credential)
            .expect("pw")
            .expose()
            .clone()
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

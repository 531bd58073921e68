//! One restore per database at a time, across processes and machines: a
//! server-side `GET_LOCK` taken before the shadow schema is created and held
//! on its own session until the job has settled (swap, roll back, clean-up).
//!
//! The lock lives as long as its session: a killed process or a dropped
//! connection releases it, so it can never be left held by a dead operator.
//! Because the lock could be lost with its connection (a dropped tunnel), the
//! swap asks [`DatabaseClaim::still_held`] right before it moves anything.

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::literal::quote_str;
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};

use super::session::{self, server_session};

/// The held lock and its session.
pub struct DatabaseClaim {
    conn: MySqlConnection,
    name: String,
    /// The target it was taken on (for messages and the orphan sweep).
    target: Target,
}

/// The lock's name for database `db` (MariaDB allows 64 characters).
pub fn lock_name(db: &str) -> String {
    // The shadow prefix already holds a cut name plus a digest of the whole one.
    format!(
        "nfops_restore:{}",
        session::shadow_prefix(db).trim_end_matches('_')
    )
}

impl DatabaseClaim {
    /// Takes the lock of `target.database` without waiting.
    ///
    /// Errors: `db.busy` naming the session that holds it (another restore of
    /// the same database, from any process); server errors.
    pub async fn take(target: &Target) -> Result<DatabaseClaim> {
        let name = lock_name(&target.database);
        let mut conn = server_session(target).await?;
        let got = sqlx::Executor::fetch_one(
            &mut conn,
            format!("SELECT CAST(GET_LOCK({}, 0) AS CHAR)", quote_str(&name)).as_str(),
        )
        .await
        .map_err(|e| target.error("could not take the restore lock on", e))?;
        if schema::text_at(&got, 0).as_deref() == Some("1") {
            return Ok(DatabaseClaim {
                conn,
                name,
                target: target.clone(),
            });
        }
        let holder = holder_of(&mut conn, &name).await;
        let _ = sqlx::Connection::close(conn).await;
        Err(Error::new(
            ErrorCode::DatabaseBusy,
            format!(
                "database '{}' of the {} is being restored by another operator: server lock {name} is held by {holder}; nothing was changed",
                target.database, target.label
            ),
        )
        .hint("Wait for that restore to finish (its job log names the operator), then plan again."))
    }

    /// Whether this session still holds the lock (a dropped connection loses it).
    pub async fn still_held(&mut self) -> bool {
        let r = sqlx::Executor::fetch_one(
            &mut self.conn,
            format!(
                "SELECT CAST(IS_USED_LOCK({}) = CONNECTION_ID() AS CHAR)",
                quote_str(&self.name)
            )
            .as_str(),
        )
        .await;
        matches!(
            r.ok().and_then(|r| schema::text_at(&r, 0)).as_deref(),
            Some("1")
        )
    }

    /// Fails with `db.busy` unless the lock is still ours (checked before the swap).
    pub async fn ensure_held(&mut self) -> Result<()> {
        if self.still_held().await {
            return Ok(());
        }
        Err(Error::new(
            ErrorCode::DatabaseBusy,
            format!(
                "the restore lock {} on the {} was lost (its connection dropped); the swap was not started",
                self.name, self.target.label
            ),
        )
        .hint("Check the connection to the database server and run the restore again."))
    }

    /// Drops the shadow schemas of `db` other jobs left behind (a killed
    /// process): while we hold the lock, no other restore of `db` runs, so
    /// any other shadow of it is an orphan. Returns their names.
    pub async fn sweep_orphan_shadows(&mut self, ours: &str) -> Vec<String> {
        let prefix = session::shadow_prefix(&self.target.database);
        let rows = sqlx::Executor::fetch_all(
            &mut self.conn,
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA",
        )
        .await
        .unwrap_or_default();
        let mut dropped = Vec::new();
        for n in rows.iter().filter_map(|r| schema::text_at(r, 0)) {
            if n.starts_with(&prefix) && n != ours {
                let stmt = format!(
                    "DROP DATABASE IF EXISTS {}",
                    nfops_mysql::literal::quote_ident(&n)
                );
                if sqlx::Executor::execute(&mut self.conn, stmt.as_str())
                    .await
                    .is_ok()
                {
                    tracing::info!(category = "worker", schema = %n, "orphan shadow schema of an earlier restore dropped");
                    dropped.push(n);
                }
            }
        }
        dropped
    }

    /// Releases the lock and closes its session.
    pub async fn release(mut self) {
        let _ = sqlx::Executor::execute(
            &mut self.conn,
            format!("DO RELEASE_LOCK({})", quote_str(&self.name)).as_str(),
        )
        .await;
        let _ = sqlx::Connection::close(self.conn).await;
    }
}

/// "connection 12 (nf_ops@localhost, 4 s, state …)" for the session holding `name`.
async fn holder_of(conn: &mut MySqlConnection, name: &str) -> String {
    let sql = format!(
        "SELECT CAST(p.ID AS CHAR), p.USER, p.HOST, CAST(p.TIME AS CHAR), COALESCE(p.STATE, '') \
         FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK({})",
        quote_str(name)
    );
    match sqlx::Executor::fetch_optional(&mut *conn, sql.as_str()).await {
        Ok(Some(r)) => {
            let f = |i| schema::text_at(&r, i).unwrap_or_default();
            format!(
                "connection {} ({}@{}, connected for {} s{})",
                f(0),
                f(1),
                f(2),
                f(3),
                match f(4) {
                    s if s.is_empty() => String::new(),
                    s => format!(", {s}"),
                }
            )
        }
        _ => "a session that just ended (try again)".to_owned(),
    }
}

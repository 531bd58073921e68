//! DDL that can never freeze the application: every statement of the swap
//! (DROP/CREATE TRIGGER, RENAME TABLE) runs on a session whose
//! `lock_wait_timeout` is [`LockBound::wait`], under a client-side timeout
//! too, and only after no other session holds a metadata lock (or, where
//! the server cannot show those, an open transaction) that would make it
//! wait.
//!
//! Why: a DDL waiting for a metadata lock queues every later query on the
//! same table behind it. With the server's default (a year) one forgotten
//! transaction froze the application for as long as it stayed open.

use std::time::Duration;

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::literal::quote_str;
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};

use crate::job::steps::session::server_session;

/// How long swap DDL may wait for locks, and how often it tries.
#[derive(Debug, Clone, Copy)]
pub struct LockBound {
    /// The session's `lock_wait_timeout`: the longest an application query
    /// can queue behind one of our statements.
    pub wait: Duration,
    /// Attempts before the swap gives up (the target then stays untouched).
    pub attempts: u32,
    /// Pause between attempts (nothing of ours is pending meanwhile).
    pub pause: Duration,
}

impl Default for LockBound {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(3),
            attempts: 3,
            pause: Duration::from_secs(2),
        }
    }
}

impl LockBound {
    /// The client-side limit of one statement: the server's bound plus slack
    /// for the network (a stalled connection must not hang the job).
    pub fn client(&self) -> Duration {
        self.wait + Duration::from_secs(5)
    }
}

/// How one bounded statement ended.
#[derive(Debug)]
pub enum DdlFailure {
    /// The server gave up waiting for a lock (error 1205): nothing changed.
    LockWait(Error),
    /// Any other server answer: the statement did not run.
    Refused(Error),
    /// The connection was lost or the client timed out (the session was
    /// killed): whether the statement ran must be found out on the server.
    Lost(Error),
}

impl DdlFailure {
    pub fn into_error(self) -> Error {
        match self {
            DdlFailure::LockWait(e) | DdlFailure::Refused(e) | DdlFailure::Lost(e) => e,
        }
    }
}

/// Prepares `conn` for bounded DDL; returns its connection id.
pub async fn prepare(
    conn: &mut MySqlConnection,
    target: &Target,
    bound: &LockBound,
) -> Result<u64> {
    sqlx::Executor::execute(
        &mut *conn,
        format!(
            "SET SESSION lock_wait_timeout = {}",
            bound.wait.as_secs().max(1)
        )
        .as_str(),
    )
    .await
    .map_err(|e| target.error("could not bound the lock wait of the swap session on", e))?;
    let r = sqlx::Executor::fetch_one(&mut *conn, "SELECT CAST(CONNECTION_ID() AS CHAR)")
        .await
        .map_err(|e| target.error("could not read the swap session's id on", e))?;
    Ok(schema::text_at(&r, 0)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

/// Runs one DDL statement under the bound. On a client timeout the session
/// (`conn_id`) is killed from another one, so nothing of ours stays queued.
pub async fn ddl(
    conn: &mut MySqlConnection,
    conn_id: u64,
    target: &Target,
    bound: &LockBound,
    what: &str,
    stmt: &str,
) -> std::result::Result<(), DdlFailure> {
    let run = sqlx::Executor::execute(&mut *conn, stmt);
    match tokio::time::timeout(bound.client(), run).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            let number = match &e {
                sqlx::Error::Database(d) => d
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .map(sqlx::mysql::MySqlDatabaseError::number),
                _ => None,
            };
            // 1205: lock wait timeout. 1927/1317: our session was killed or interrupted.
            let lost =
                !matches!(e, sqlx::Error::Database(_)) || matches!(number, Some(1927) | Some(1317));
            let lock_wait = number == Some(1205);
            let err = target.error(what, e);
            Err(if lock_wait {
                DdlFailure::LockWait(err)
            } else if lost {
                DdlFailure::Lost(err)
            } else {
                DdlFailure::Refused(err)
            })
        }
        Err(_) => {
            kill(target, conn_id).await;
            Err(DdlFailure::Lost(Error::new(
                ErrorCode::Unreachable,
                format!(
                    "{what} the {} ({}): no answer within {} s; the session was killed",
                    target.label,
                    target.database,
                    bound.client().as_secs()
                ),
            )))
        }
    }
}

/// Kills session `id` (best effort: it may be gone already).
pub async fn kill(target: &Target, id: u64) {
    if id == 0 {
        return;
    }
    if let Ok(mut c) = server_session(target).await {
        let _ = sqlx::Executor::execute(&mut c, format!("KILL {id}").as_str()).await;
        let _ = sqlx::Connection::close(c).await;
    }
}

/// A session that could make swap DDL wait.
#[derive(Debug, Clone)]
pub struct Blocker {
    pub id: u64,
    pub user: String,
    pub host: String,
    pub seconds: u64,
    pub state: String,
    /// What it holds (a table, or "an open transaction").
    pub holds: String,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "session {} ({}@{}, {} s, {}) holding {}",
            self.id,
            self.user,
            self.host,
            self.seconds,
            if self.state.is_empty() {
                "idle"
            } else {
                &self.state
            },
            self.holds
        )
    }
}

/// Sessions other than this one that hold a metadata lock on a table of
/// `schemas` (MariaDB's `METADATA_LOCK_INFO` when the plugin is loaded), or
/// else have a transaction open for longer than a second (which may hold one).
pub async fn blockers(
    conn: &mut MySqlConnection,
    target: &Target,
    schemas: &[&str],
) -> Result<Vec<Blocker>> {
    let list = schemas
        .iter()
        .map(|s| quote_str(s))
        .collect::<Vec<_>>()
        .join(",");
    let mdl = format!(
        "SELECT CAST(p.ID AS CHAR), p.USER, p.HOST, CAST(p.TIME AS CHAR), COALESCE(p.STATE, ''), \
         CONCAT(m.LOCK_TYPE, ' on ', m.TABLE_SCHEMA, '.', m.TABLE_NAME) \
         FROM information_schema.METADATA_LOCK_INFO m JOIN information_schema.PROCESSLIST p ON p.ID = m.THREAD_ID \
         WHERE m.TABLE_SCHEMA IN ({list}) AND m.THREAD_ID <> CONNECTION_ID() AND m.TABLE_NAME <> ''"
    );
    let trx = "SELECT CAST(p.ID AS CHAR), p.USER, p.HOST, CAST(p.TIME AS CHAR), COALESCE(p.STATE, ''), \
         CONCAT('a transaction open since ', t.trx_started) \
         FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
         WHERE p.ID <> CONNECTION_ID() AND t.trx_started < NOW() - INTERVAL 1 SECOND";
    let rows = match sqlx::Executor::fetch_all(&mut *conn, mdl.as_str()).await {
        Ok(r) => r,
        // No METADATA_LOCK_INFO (plugin not loaded): the coarser transaction view.
        Err(_) => sqlx::Executor::fetch_all(&mut *conn, trx)
            .await
            .map_err(|e| target.error("could not read the open transactions of", e))?,
    };
    let mut out: Vec<Blocker> = Vec::new();
    for r in &rows {
        let f = |i| schema::text_at(r, i).unwrap_or_default();
        let id = f(0).parse().unwrap_or(0);
        if let Some(b) = out.iter_mut().find(|b| b.id == id) {
            b.holds.push_str(&format!(", {}", f(5)));
            continue;
        }
        out.push(Blocker {
            id,
            user: f(1),
            host: f(2),
            seconds: f(3).parse().unwrap_or(0),
            state: f(4),
            holds: f(5),
        });
    }
    Ok(out)
}

/// The refusal of a swap that stayed blocked: `db.busy`, naming the sessions.
pub fn blocked(target: &Target, bound: &LockBound, who: &[Blocker]) -> Error {
    let names = if who.is_empty() {
        "a session that ended meanwhile".to_owned()
    } else {
        who.iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    Error::new(
        ErrorCode::DatabaseBusy,
        format!(
            "the swap into the {} ({}) was blocked {} time(s) by {names}; nothing was swapped (each wait was cut at {} s, so the application was never held longer)",
            target.label,
            target.database,
            bound.attempts,
            bound.wait.as_secs()
        ),
    )
    .hint("End or commit that session's transaction (KILL <id> if it is stale), then run the restore again.")
}

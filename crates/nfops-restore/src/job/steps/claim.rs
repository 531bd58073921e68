//! One restore per database at a time, across processes and machines: a
//! server-side `GET_LOCK` taken before the shadow schema is created and held
//! on its own session until the job has settled (swap, roll back, clean-up).
//!
//! The lock lives as long as its session: a killed process or a dropped
//! connection releases it, so it can never be left held by a dead operator.
//! The session would otherwise sit idle through the load and the server
//! would end it after `wait_timeout` (an hour by default), silently handing
//! the database to the next restore; so its `wait_timeout` is raised and a
//! pinger asks the server every [`PING`] whether the lock is still ours.
//! Every DDL phase (shadow creation, swap, check objects, replicas, each
//! roll-back attempt, pruning) first asks [`LockGuard::ensure_held`]: a lost
//! lock stops the job before its next DDL.
//!
//! A second lock, named after the job's own shadow schema, is held on a
//! second session: another restore's orphan sweep leaves alone any shadow
//! whose job lock is taken (or that a session is using), so it can never
//! drop a live job's half-loaded shadow, even one whose database lock was
//! lost.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::literal::{quote_ident, quote_str};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::{schema, Target};

use super::session::{self, server_session};
use crate::job::RestoreRun;

/// How often the pinger asks whether the lock is still ours.
pub const PING: Duration = Duration::from_secs(30);

/// The claim sessions' `wait_timeout` (a day): the pinger keeps them busy,
/// and this covers a process whose runtime stalls for a while. A dead
/// process closes its connections, which releases the locks at once.
const WAIT_TIMEOUT_SECS: u64 = 86_400;

/// How long one lock check may take before the lock counts as lost.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// The held locks (the database's and the job's), their sessions, the
/// pinger (it holds only a weak handle: it ends with the claim).
pub struct DatabaseClaim {
    guard: LockGuard,
    pinger: tokio::task::JoinHandle<()>,
}

/// A handle on the claim for the steps: asks whether the lock is still ours.
#[derive(Clone)]
pub struct LockGuard(Arc<Held>);

struct Held {
    conn: tokio::sync::Mutex<MySqlConnection>,
    /// Holds the job lock (see the module's doc).
    job_conn: tokio::sync::Mutex<MySqlConnection>,
    name: String,
    job_lock: String,
    target: Target,
    /// Why the lock is known lost; once set it stays set.
    lost: Mutex<Option<String>>,
}

/// The lock's name for database `db` (MariaDB allows 64 characters).
pub fn lock_name(db: &str) -> String {
    // The shadow prefix already holds a cut name plus a digest of the whole one.
    format!(
        "nfops_restore:{}",
        session::shadow_prefix(db).trim_end_matches('_')
    )
}

/// The lock a live job holds on its shadow schema `shadow` (at most 49
/// characters, so this fits the server's 64).
pub fn job_lock_name(shadow: &str) -> String {
    format!("nfops_job:{shadow}")
}

/// Opens a claim session: no default database, `wait_timeout` raised.
async fn claim_session(target: &Target) -> Result<MySqlConnection> {
    let mut conn = server_session(target).await?;
    sqlx::Executor::execute(
        &mut conn,
        format!("SET SESSION wait_timeout = {WAIT_TIMEOUT_SECS}").as_str(),
    )
    .await
    .map_err(|e| target.error("could not raise the lock session's wait_timeout on", e))?;
    Ok(conn)
}

/// `GET_LOCK(name, 0)` on `conn`: whether it was granted.
async fn get_lock(conn: &mut MySqlConnection, target: &Target, name: &str) -> Result<bool> {
    let got = sqlx::Executor::fetch_one(
        &mut *conn,
        format!("SELECT CAST(GET_LOCK({}, 0) AS CHAR)", quote_str(name)).as_str(),
    )
    .await
    .map_err(|e| target.error("could not take the restore lock on", e))?;
    Ok(schema::text_at(&got, 0).as_deref() == Some("1"))
}

impl DatabaseClaim {
    /// Takes the lock of `target.database` without waiting, and the job
    /// lock of this job's shadow schema `shadow`; starts the pinger.
    ///
    /// Errors: `db.busy` naming the session that holds it (another restore of
    /// the same database, from any process); server errors.
    pub async fn take(target: &Target, shadow: &str) -> Result<DatabaseClaim> {
        Self::take_with(target, shadow, PING).await
    }

    /// [`Self::take`] with another ping interval (tests).
    pub async fn take_with(target: &Target, shadow: &str, ping: Duration) -> Result<DatabaseClaim> {
        let name = lock_name(&target.database);
        let mut conn = claim_session(target).await?;
        if !get_lock(&mut conn, target, &name).await? {
            let holder = holder_of(&mut conn, &name).await;
            let _ = sqlx::Connection::close(conn).await;
            return Err(Error::new(
                ErrorCode::DatabaseBusy,
                format!(
                    "database '{}' of the {} is being restored by another operator: server lock {name} is held by {holder}; nothing was changed",
                    target.database, target.label
                ),
            )
            .hint("Wait for that restore to finish (its job log names the operator), then plan again."));
        }
        let job_lock = job_lock_name(shadow);
        let mut job_conn = claim_session(target).await?;
        // The shadow's name is unique to this job: nobody else takes this lock.
        if !get_lock(&mut job_conn, target, &job_lock).await? {
            return Err(Error::internal(format!(
                "job lock {job_lock} is already held: two jobs share one shadow name"
            )));
        }
        let guard = LockGuard(Arc::new(Held {
            conn: tokio::sync::Mutex::new(conn),
            job_conn: tokio::sync::Mutex::new(job_conn),
            name,
            job_lock,
            target: target.clone(),
            lost: Mutex::new(None),
        }));
        let pinger = tokio::spawn(ping_loop(Arc::downgrade(&guard.0), ping));
        Ok(DatabaseClaim { guard, pinger })
    }

    /// The handle the steps check the lock with.
    pub fn guard(&self) -> LockGuard {
        self.guard.clone()
    }

    /// Drops the shadow schemas of this database other jobs left behind (a
    /// killed process): while we hold the lock no other restore of the
    /// database starts, but one whose lock was lost may still be loading,
    /// so a shadow whose job lock is held, or that a session is using, is
    /// left alone. Returns the names dropped.
    ///
    /// Errors: the schemas or the sessions cannot be listed (an orphan
    /// cannot be told from a live shadow then).
    pub async fn sweep_orphan_shadows(&mut self, ours: &str) -> Result<Vec<String>> {
        let h = &self.guard.0;
        let target = &h.target;
        let prefix = session::shadow_prefix(&target.database);
        let mut conn = h.conn.lock().await;
        let names: Vec<String> = sqlx::Executor::fetch_all(
            &mut *conn,
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA",
        )
        .await
        .map_err(|e| {
            target.error(
                "could not list the schemas (looking for orphan shadows) of",
                e,
            )
        })?
        .iter()
        .filter_map(|r| schema::text_at(r, 0))
        .filter(|n| n.starts_with(&prefix) && n != ours)
        .collect();
        let mut dropped = Vec::new();
        for n in names {
            let live = sqlx::Executor::fetch_one(
                &mut *conn,
                format!(
                    "SELECT CAST((IS_USED_LOCK({}) IS NOT NULL) + (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = {}) AS CHAR)",
                    quote_str(&job_lock_name(&n)),
                    quote_str(&n)
                )
                .as_str(),
            )
            .await
            .map_err(|e| target.error("could not tell whether a shadow schema is in use on", e))?;
            if schema::text_at(&live, 0).as_deref() != Some("0") {
                tracing::warn!(category = "worker", schema = %n, "shadow schema of another restore is in use (its job is alive): left alone");
                continue;
            }
            let stmt = format!("DROP DATABASE IF EXISTS {}", quote_ident(&n));
            match sqlx::Executor::execute(&mut *conn, stmt.as_str()).await {
                Ok(_) => {
                    tracing::info!(category = "worker", schema = %n, "orphan shadow schema of an earlier restore dropped");
                    dropped.push(n);
                }
                Err(e) => {
                    tracing::warn!(category = "worker", schema = %n, error = %target.error("could not drop an orphan shadow schema on", e), "orphan shadow schema left behind")
                }
            }
        }
        Ok(dropped)
    }

    /// Releases both locks and closes their sessions.
    pub async fn release(self) {
        self.pinger.abort();
        let h = &self.guard.0;
        for (conn, name) in [(&h.conn, &h.name), (&h.job_conn, &h.job_lock)] {
            let mut c = conn.lock().await;
            let _ = sqlx::Executor::execute(
                &mut *c,
                format!("DO RELEASE_LOCK({})", quote_str(name)).as_str(),
            )
            .await;
        }
        // The locks are released above; the sessions close here, or when
        // the last guard a step still holds is dropped.
        if let Ok(h) = Arc::try_unwrap(self.guard.0) {
            let _ = sqlx::Connection::close(h.conn.into_inner()).await;
            let _ = sqlx::Connection::close(h.job_conn.into_inner()).await;
        }
    }
}

/// Asks every `every` whether the lock is still ours, until the claim is
/// gone or the lock is lost.
async fn ping_loop(held: Weak<Held>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(h) = held.upgrade() else { return };
        if !LockGuard(h).still_held().await {
            return;
        }
    }
}

impl LockGuard {
    /// Whether this job still holds the database lock and its job lock
    /// (asked on the server; a dropped or killed session has lost them).
    pub async fn still_held(&self) -> bool {
        let h = &self.0;
        if self.lost_reason().is_some() {
            return false;
        }
        let why = match ask(h, &h.conn, &h.name).await {
            Some(w) => Some(w),
            None => ask(h, &h.job_conn, &h.job_lock).await,
        };
        match why {
            None => true,
            Some(w) => {
                tracing::error!(category = "worker", lock = %h.name, reason = %w, "the restore lock was lost");
                *h.lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(w);
                false
            }
        }
    }

    /// Why the lock is known lost (without asking the server).
    pub fn lost_reason(&self) -> Option<String> {
        self.0
            .lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The error of a lost lock, before `next` (what would have run).
    pub fn lost_error(&self, next: &str) -> Option<Error> {
        let why = self.lost_reason()?;
        Some(
            Error::new(
                ErrorCode::DatabaseBusy,
                format!(
                    "the restore lock {} on the {} was lost ({why}); stopped before {next}: another restore of '{}' may have started meanwhile",
                    self.0.name, self.0.target.label, self.0.target.database
                ),
            )
            .hint("Check the connection to the database server; the job's outcome says what is live. Then plan the restore again."),
        )
    }

    /// Fails with `db.busy` unless the lock is still ours; called before
    /// every DDL phase (`next` names it).
    pub async fn ensure_held(&self, next: &str) -> Result<()> {
        if self.still_held().await {
            return Ok(());
        }
        Err(self
            .lost_error(next)
            .unwrap_or_else(|| Error::internal("lock lost without a reason")))
    }

    /// The session id holding the database lock (tests inject its loss).
    pub async fn session_id(&self) -> Option<u64> {
        let mut c = self.0.conn.lock().await;
        sqlx::Executor::fetch_one(&mut *c, "SELECT CAST(CONNECTION_ID() AS CHAR)")
            .await
            .ok()
            .and_then(|r| schema::text_at(&r, 0))
            .and_then(|s| s.parse().ok())
    }
}

/// Asks on `conn` whether it holds lock `name`: None when it does, else why not.
async fn ask(h: &Held, conn: &tokio::sync::Mutex<MySqlConnection>, name: &str) -> Option<String> {
    let sql = format!(
        "SELECT CAST(COALESCE(IS_USED_LOCK({}) = CONNECTION_ID(), 0) AS CHAR)",
        quote_str(name)
    );
    let mut c = conn.lock().await;
    match tokio::time::timeout(
        CHECK_TIMEOUT,
        sqlx::Executor::fetch_one(&mut *c, sql.as_str()),
    )
    .await
    {
        Ok(Ok(r)) if schema::text_at(&r, 0).as_deref() == Some("1") => None,
        Ok(Ok(_)) => Some("the server no longer shows it held by this job's session".to_owned()),
        Ok(Err(e)) => Some(format!(
            "its session ended: {}",
            h.target.error("the lock session failed on", e).message()
        )),
        Err(_) => Some(format!(
            "its session did not answer within {} s",
            CHECK_TIMEOUT.as_secs()
        )),
    }
}

impl RestoreRun {
    /// The job's lock handle (None before the check backup step took it).
    pub(crate) async fn lock_guard(&self) -> Option<LockGuard> {
        self.claim.lock().await.as_ref().map(DatabaseClaim::guard)
    }

    /// Fails unless the job still holds its server lock; `next` names the
    /// DDL phase about to run.
    pub(crate) async fn ensure_lock(&self, next: &str) -> Result<()> {
        match self.lock_guard().await {
            Some(g) => g.ensure_held(next).await,
            None => Err(Error::internal(format!(
                "{next} would have run without the restore lock"
            ))),
        }
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

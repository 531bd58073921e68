//! One operator per environment at a time, across processes.
//!
//! Job slots live inside one process; two `nfops` processes, or the app and
//! the CLI, would otherwise restore, promote or push to the same environment
//! at once. A [`Lease`] is a row in the shared state database naming its
//! holder (operator, host, pid, process kind), the action and when it began.
//! The holder renews its heartbeat while it works and deletes the row when
//! it ends, also on error or panic (the guard's `Drop`). A second operator is
//! refused with `environment.busy` naming the holder.
//!
//! A holder that was killed cannot release: its row expires once its
//! heartbeat is older than the time-to-live (or unreadable), and the next
//! operator takes it over (the caller audits the takeover from
//! [`Lease::took_over`]).
//!
//! A holder that was only stalled (a suspended laptop, a blocked runtime)
//! past the time-to-live finds, at its next heartbeat, that its token is
//! gone: the lease is *lost*. Its [`LeaseWatch`] then fires; the job runner
//! watching it stops the job before its next step (or the running step at
//! its next cancellation check) with `environment.busy` naming the new
//! holder, so two holders never both keep acting.
//!
//! Invariants: taking a lease is one `BEGIN IMMEDIATE` transaction (SQLite's
//! write lock serialises processes), so two takers never both succeed; only
//! the holder's random token renews or releases a row.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, ErrorCode, Result};
use crate::state::State;

mod watch;
pub use watch::LeaseWatch;

/// How long a lease lives without a heartbeat. Bounded so a killed holder
/// blocks the environment for at most this long.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// Overrides [`DEFAULT_TTL`] in seconds (tests of expiry; at least 2 s).
pub const TTL_ENV: &str = "NFOPS_LEASE_TTL_SECS";

/// What the holder is doing; the refusal is worded from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaseAction {
    Restore,
    Backup,
    Promote,
    SecretsPush,
    Scale,
    Forget,
}

impl LeaseAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseAction::Restore => "restore",
            LeaseAction::Backup => "backup",
            LeaseAction::Promote => "promote",
            LeaseAction::SecretsPush => "secrets-push",
            LeaseAction::Scale => "scale",
            LeaseAction::Forget => "forget",
        }
    }

    /// "production is being <verb> by …".
    fn verb(s: &str) -> &'static str {
        match s {
            "restore" => "restored",
            "backup" => "backed up",
            "promote" => "promoted to",
            "secrets-push" => "given new secrets",
            "scale" => "scaled",
            "forget" => "pruned of old backups",
            _ => "changed",
        }
    }
}

/// Which front end holds a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessKind {
    Cli,
    App,
}

impl ProcessKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessKind::Cli => "cli",
            ProcessKind::App => "app",
        }
    }
}

/// Who holds (or held) a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    pub environment: String,
    pub operator: String,
    pub host: String,
    pub pid: i64,
    /// The holder process's start time (seconds since the epoch); `None` in
    /// rows written by an older version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_started_at: Option<i64>,
    pub process_kind: String,
    pub action: String,
    pub started_at: String,
    pub heartbeat_at: String,
}

impl Holder {
    /// "production is being restored by alice on laptop-1 (cli, pid 42) since …".
    pub fn describe(&self) -> String {
        format!(
            "{} is being {} by {} on {} ({}, pid {}) since {}",
            self.environment,
            LeaseAction::verb(&self.action),
            self.operator,
            self.host,
            self.process_kind,
            self.pid,
            self.started_at
        )
    }
}

/// This machine's name, for the holder record (see [`crate::host::host_name`]).
pub fn host_name() -> String {
    crate::host::host_name()
}

/// The configured time-to-live ([`TTL_ENV`] or [`DEFAULT_TTL`]).
pub fn ttl() -> Duration {
    std::env::var(TTL_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.max(2)))
        .unwrap_or(DEFAULT_TTL)
}

/// A held lease. Renewed in the background; released by [`Lease::release`]
/// or, if the holder returns early or panics, by `Drop`.
pub struct Lease {
    inner: Option<Arc<Held>>,
    beat: Option<tokio::task::JoinHandle<()>>,
    /// The expired holder this lease replaced (a killed process), to audit.
    pub took_over: Option<Holder>,
    watch: LeaseWatch,
}

struct Held {
    state: State,
    environment: String,
    token: String,
    watch: LeaseWatch,
}

impl Lease {
    /// Takes `env`'s lease for `action` as `operator` (this host and pid).
    ///
    /// # Errors
    /// `environment.busy` when another live holder has it (the message names
    /// it); `state.error` when the database fails.
    pub async fn acquire(
        state: &State,
        env: &str,
        action: LeaseAction,
        operator: &str,
        kind: ProcessKind,
    ) -> Result<Lease> {
        Self::acquire_with_ttl(state, env, action, operator, kind, ttl()).await
    }

    async fn acquire_with_ttl(
        state: &State,
        env: &str,
        action: LeaseAction,
        operator: &str,
        kind: ProcessKind,
        ttl: Duration,
    ) -> Result<Lease> {
        let now = chrono::Utc::now();
        let token = uuid::Uuid::new_v4().to_string();
        let mut tx = state.pool().begin_with("BEGIN IMMEDIATE").await?;
        let current = holder_of(&mut tx, env).await?;
        let mut took_over = None;
        if let Some(h) = current {
            if is_live(&h, now, ttl) && holder_runs(&h) {
                return Err(busy(&h));
            }
            took_over = Some(h);
        }
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let me = crate::host::this_process();
        sqlx::query(
            "INSERT INTO environment_lease(environment, token, operator, host, pid, pid_started_at, process_kind, action, started_at, heartbeat_at) \
             VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(environment) DO UPDATE SET token = excluded.token, operator = excluded.operator, \
             host = excluded.host, pid = excluded.pid, pid_started_at = excluded.pid_started_at, process_kind = excluded.process_kind, action = excluded.action, \
             started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at",
        )
        .bind(env)
        .bind(&token)
        .bind(operator)
        .bind(host_name())
        .bind(i64::from(me.pid))
        .bind(me.started)
        .bind(kind.as_str())
        .bind(action.as_str())
        .bind(&stamp)
        .bind(&stamp)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let watch = LeaseWatch::new(env);
        let held = Arc::new(Held {
            state: state.clone(),
            environment: env.to_owned(),
            token,
            watch: watch.clone(),
        });
        let beat = tokio::spawn(heartbeat(held.clone(), ttl / 4, ttl));
        Ok(Lease {
            inner: Some(held),
            beat: Some(beat),
            took_over,
            watch,
        })
    }

    /// The loss signal of this lease, for the job runner and the use case.
    pub fn watch(&self) -> LeaseWatch {
        self.watch.clone()
    }

    /// Releases the lease now (waits for the row to be deleted).
    ///
    /// # Errors
    /// `state.error` when the database fails; the lease then expires by itself.
    pub async fn release(mut self) -> Result<()> {
        if let Some(b) = self.beat.take() {
            b.abort();
        }
        match self.inner.take() {
            Some(h) => h.delete().await,
            None => Ok(()),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(b) = self.beat.take() {
            b.abort();
        }
        // Dropped without `release` (an early `?` return or a panic): delete
        // the row from the runtime if there is one; otherwise it expires.
        if let Some(h) = self.inner.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    if let Err(e) = h.delete().await {
                        tracing::warn!(category = "worker", environment = %h.environment, error = %e, "lease could not be released; it expires by itself");
                    }
                });
            }
        }
    }
}

impl Held {
    async fn delete(&self) -> Result<()> {
        sqlx::query("DELETE FROM environment_lease WHERE environment = ? AND token = ?")
            .bind(&self.environment)
            .bind(&self.token)
            .execute(self.state.pool())
            .await?;
        Ok(())
    }
}

/// Whether `h`'s heartbeat is younger than `ttl` at `now`. A heartbeat that
/// does not parse counts as expired: read as "now" it would block the
/// environment for good; the takeover is audited by the caller.
fn is_live(h: &Holder, now: chrono::DateTime<chrono::Utc>, ttl: Duration) -> bool {
    let Ok(beat) = chrono::DateTime::parse_from_rfc3339(&h.heartbeat_at) else {
        tracing::warn!(category = "security", environment = %h.environment, heartbeat = %h.heartbeat_at, "lease heartbeat is unreadable; treated as expired");
        return false;
    };
    let age = now.signed_duration_since(beat.with_timezone(&chrono::Utc));
    age < chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(30))
}

/// Whether `h`'s process may still run. Only a holder on this machine can
/// be checked: its pid gone, or reused by a process that started at another
/// time, means it was killed, and its lease is free before the time-to-live
/// runs out. A holder elsewhere (same state folder seen from another
/// machine) is judged by its heartbeat alone.
fn holder_runs(h: &Holder) -> bool {
    if h.host != host_name() {
        return true;
    }
    let Ok(pid) = u32::try_from(h.pid) else {
        return true;
    };
    let runs = crate::host::is_running(crate::host::ProcessStamp {
        pid,
        started: h.pid_started_at,
    });
    if !runs {
        tracing::warn!(category = "security", environment = %h.environment, pid = h.pid, "lease holder's process no longer runs on this machine; its lease is taken over");
    }
    runs
}

/// Renews the lease every `every`; stops and marks it lost once the row no
/// longer carries our token (taken over after a stall, or deleted), or once
/// no renewal has been written for `ttl`: by then another process may have
/// taken it over without this one ever reading a "0 rows" answer (state.db
/// locked, a full or read-only disk).
async fn heartbeat(held: Arc<Held>, every: Duration, ttl: Duration) {
    let mut last_written = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(every).await;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let r = sqlx::query(
            "UPDATE environment_lease SET heartbeat_at = ? WHERE environment = ? AND token = ?",
        )
        .bind(now)
        .bind(&held.environment)
        .bind(&held.token)
        .execute(held.state.pool())
        .await;
        match r {
            Ok(done) if done.rows_affected() == 0 => {
                let now_held = holder(&held.state, &held.environment).await.ok().flatten();
                tracing::warn!(category = "security", environment = %held.environment, holder = ?now_held.as_ref().map(Holder::describe), "environment lease lost: another operator took it over; the job stops");
                held.watch.mark_lost(now_held);
                return;
            }
            Ok(_) => last_written = tokio::time::Instant::now(),
            // A write that failed says nothing about who holds the row; the
            // next beat retries until the TTL has passed without one.
            Err(_) if last_written.elapsed() >= ttl => {
                tracing::warn!(category = "security", environment = %held.environment, "lease heartbeat not written for the lease's whole lifetime; treated as lost, the job stops");
                let now_held = holder(&held.state, &held.environment).await.ok().flatten();
                held.watch.mark_lost(now_held);
                return;
            }
            Err(_) => {
                tracing::warn!(category = "worker", environment = %held.environment, "lease heartbeat could not be written");
            }
        }
    }
}

/// The current holder of `env`'s lease, if any (live or expired).
pub async fn holder(state: &State, env: &str) -> Result<Option<Holder>> {
    let mut conn = state.pool().acquire().await?;
    holder_of(&mut conn, env).await
}

/// operator, host, pid, pid_started_at, process_kind, action, started_at, heartbeat_at.
type HolderRow = (
    String,
    String,
    i64,
    Option<i64>,
    String,
    String,
    String,
    String,
);

async fn holder_of(conn: &mut sqlx::SqliteConnection, env: &str) -> Result<Option<Holder>> {
    let row: Option<HolderRow> = sqlx::query_as(
        "SELECT operator, host, pid, pid_started_at, process_kind, action, started_at, heartbeat_at FROM environment_lease WHERE environment = ?",
    )
    .bind(env)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(operator, host, pid, pid_started_at, process_kind, action, started_at, heartbeat_at)| {
            Holder {
                environment: env.to_owned(),
                operator,
                host,
                pid,
                pid_started_at,
                process_kind,
                action,
                started_at,
                heartbeat_at,
            }
        },
    ))
}

fn busy(h: &Holder) -> Error {
    Error::new(ErrorCode::EnvironmentBusy, h.describe()).hint(format!(
        "Wait until that {} ends, or ask {}. A holder that was killed expires {} s after its last heartbeat ({}).",
        h.action,
        h.operator,
        ttl().as_secs(),
        h.heartbeat_at
    ))
}

#[cfg(test)]
mod tests;

//! The audit log: who did what to which environment, when, and how it ended.
//!
//! Append-only (SQLite triggers refuse UPDATE and DELETE) and hash-chained:
//! each entry's hash covers its fields and the previous entry's hash, so an
//! edited, inserted or deleted entry breaks the chain and [`AuditLog::verify`]
//! reports it. `details` holds names and counts only, never a secret value.
//!
//! Limitation: removing the newest entries together with the guard triggers
//! leaves a valid shorter chain; compare [`Verification::head`] with a copy
//! kept elsewhere to detect that.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::{Error, ErrorCode, Result};
use crate::state::State;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Started,
    Succeeded,
    Failed,
    Cancelled,
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Refused => "refused",
        }
    }
}

/// An action to record.
#[derive(Debug, Clone)]
pub struct Action<'a> {
    pub action: &'a str,
    pub environment: Option<&'a str>,
    pub target: Option<&'a str>,
    pub outcome: Outcome,
    /// Names, counts, ids. Never a secret value.
    pub details: serde_json::Value,
}

/// A stored entry.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub environment: Option<String>,
    pub target: Option<String>,
    pub outcome: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Result of a chain check; every problem found, not only the first.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub entries: u64,
    pub head: Option<String>,
    pub problems: Vec<String>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The audit log in the state database.
#[derive(Clone, Debug)]
pub struct AuditLog {
    state: State,
}

/// The OS user running the console. On Unix the name of the process's real
/// uid from the password database (environment variables can be set by
/// anyone and are often missing under cron); elsewhere `USERNAME`.
pub fn current_actor() -> String {
    #[cfg(unix)]
    if let Some(name) = unix_user_name() {
        return name;
    }
    ["USERNAME", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(unix)]
fn unix_user_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is the process's uid (Linux); otherwise fall back.
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let name = passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id = f.nth(1)?;
        (id.parse::<u32>().ok()? == uid).then(|| name.to_owned())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}

/// The hash of an entry: its fields and the previous hash, as a canonical
/// JSON array so field boundaries cannot be shifted. `e.hash` is not covered.
fn entry_hash(e: &Entry) -> String {
    let canonical = serde_json::json!([
        e.seq,
        e.at,
        e.actor,
        e.action,
        e.environment,
        e.target,
        e.outcome,
        e.details,
        e.prev_hash
    ])
    .to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

impl AuditLog {
    pub fn new(state: State) -> Self {
        Self { state }
    }

    /// Appends an entry as the current OS user; returns its sequence number.
    pub async fn record(&self, a: Action<'_>) -> Result<i64> {
        self.record_as(&current_actor(), a).await
    }

    /// Appends an entry for `actor`. Serialized with other writers (also other
    /// processes) by an immediate transaction, so the chain never forks.
    pub async fn record_as(&self, actor: &str, a: Action<'_>) -> Result<i64> {
        // Rolled back on drop, so a cancelled caller never leaves the write lock held.
        let mut tx = self.state.pool().begin_with("BEGIN IMMEDIATE").await?;
        {
            let last: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            let (seq, prev) = match last {
                Some((s, h)) => (s + 1, h),
                None => (1, GENESIS.to_owned()),
            };
            let mut e = Entry {
                seq,
                at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                actor: actor.to_owned(),
                action: a.action.to_owned(),
                environment: a.environment.map(str::to_owned),
                target: a.target.map(str::to_owned),
                outcome: a.outcome.as_str().to_owned(),
                details: a.details.to_string(),
                prev_hash: prev,
                hash: String::new(),
            };
            e.hash = entry_hash(&e);
            sqlx::query("INSERT INTO audit_log(seq, at, actor, action, environment, target, outcome, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)")
                .bind(e.seq)
                .bind(&e.at)
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.environment)
                .bind(&e.target)
                .bind(&e.outcome)
                .bind(&e.details)
                .bind(&e.prev_hash)
                .bind(&e.hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(seq)
        }
    }

    /// The newest `limit` entries, newest first.
    pub async fn list(&self, limit: u32) -> Result<Vec<Entry>> {
        let rows = sqlx::query("SELECT seq, at, actor, action, environment, target, outcome, details, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT ?")
            .bind(limit)
            .fetch_all(self.state.pool())
            .await?;
        rows.iter().map(row_to_entry).collect()
    }

    /// Walks the whole chain and reports every break: an entry whose hash
    /// does not match its content (edited), whose `prev_hash` does not match
    /// the entry before (inserted or deleted), a gap in sequence numbers
    /// (deleted), and missing append-only guards.
    pub async fn verify(&self) -> Result<Verification> {
        let rows = sqlx::query("SELECT seq, at, actor, action, environment, target, outcome, details, prev_hash, hash FROM audit_log ORDER BY seq ASC")
            .fetch_all(self.state.pool())
            .await?;
        let mut problems = Vec::new();
        let mut prev_hash = GENESIS.to_owned();
        let mut expected_seq = 1i64;
        let mut head = None;
        for row in &rows {
            let e = row_to_entry(row)?;
            if e.seq != expected_seq {
                problems.push(format!(
                    "entries {expected_seq}..{} are missing (deleted)",
                    e.seq - 1
                ));
            }
            if e.prev_hash != prev_hash {
                problems.push(format!("entry {} does not follow the entry before it (chain broken: an entry was removed, inserted or edited)", e.seq));
            }
            if entry_hash(&e) != e.hash {
                problems.push(format!(
                    "entry {} ({} at {}) was modified after it was written",
                    e.seq, e.action, e.at
                ));
            }
            prev_hash = e.hash.clone();
            expected_seq = e.seq + 1;
            head = Some(e.hash);
        }
        let triggers: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'",
        )
        .fetch_all(self.state.pool())
        .await?;
        for guard in ["audit_log_no_update", "audit_log_no_delete"] {
            if !triggers.iter().any(|t| t.0 == guard) {
                problems.push(format!(
                    "the append-only guard '{guard}' was removed from the state database"
                ));
            }
        }
        Ok(Verification {
            entries: rows.len() as u64,
            head,
            problems,
        })
    }

    /// Like [`verify`](Self::verify) but fails with `audit.tampered`.
    pub async fn verify_strict(&self) -> Result<Verification> {
        let v = self.verify().await?;
        if v.ok() {
            Ok(v)
        } else {
            Err(Error::new(
                ErrorCode::AuditTampered,
                format!("the audit log was tampered with: {}", v.problems.join("; ")),
            )
            .hint("Keep the state database for investigation; restore it from a copy you trust."))
        }
    }
}

fn row_to_entry(row: &sqlx::sqlite::SqliteRow) -> Result<Entry> {
    Ok(Entry {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        environment: row.try_get("environment")?,
        target: row.try_get("target")?,
        outcome: row.try_get("outcome")?,
        details: row.try_get("details")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn log_with_entries(n: usize) -> (tempfile::TempDir, State, AuditLog) {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).await.expect("open state");
        let log = AuditLog::new(state.clone());
        for i in 0..n {
            log.record_as(
                "alice",
                Action {
                    action: "test.action",
                    environment: Some("staging"),
                    target: Some(&format!("t{i}")),
                    outcome: Outcome::Succeeded,
                    details: serde_json::json!({"i": i}),
                },
            )
            .await
            .expect("append");
        }
        (dir, state, log)
    }

    #[tokio::test]
    async fn intact_chain_verifies() {
        let (_d, _s, log) = log_with_entries(5).await;
        let v = log.verify().await.expect("verify");
        assert!(v.ok(), "a fresh chain must verify: {:?}", v.problems);
        assert_eq!(v.entries, 5);
    }

    #[tokio::test]
    async fn update_and_delete_are_refused_by_the_database() {
        let (_d, state, _log) = log_with_entries(2).await;
        let upd = sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
            .execute(state.pool())
            .await;
        assert!(upd.is_err(), "the append-only trigger must refuse UPDATE");
        let del = sqlx::query("DELETE FROM audit_log WHERE seq = 1")
            .execute(state.pool())
            .await;
        assert!(del.is_err(), "the append-only trigger must refuse DELETE");
    }

    #[tokio::test]
    async fn edited_entry_is_detected() {
        let (_d, state, log) = log_with_entries(3).await;
        sqlx::query("DROP TRIGGER audit_log_no_update")
            .execute(state.pool())
            .await
            .expect("drop guard");
        sqlx::query("UPDATE audit_log SET outcome = 'succeeded', target = 'other' WHERE seq = 2")
            .execute(state.pool())
            .await
            .expect("tamper");
        let v = log.verify().await.expect("verify");
        assert!(
            v.problems
                .iter()
                .any(|p| p.contains("entry 2") && p.contains("modified")),
            "edit must be named: {:?}",
            v.problems
        );
        assert!(
            v.problems.iter().any(|p| p.contains("audit_log_no_update")),
            "removed guard must be reported: {:?}",
            v.problems
        );
        let err = log.verify_strict().await.expect_err("tampered");
        assert_eq!(err.code(), ErrorCode::AuditTampered);
    }

    #[tokio::test]
    async fn deleted_entry_is_detected() {
        let (_d, state, log) = log_with_entries(4).await;
        sqlx::query("DROP TRIGGER audit_log_no_delete")
            .execute(state.pool())
            .await
            .expect("drop guard");
        sqlx::query("DELETE FROM audit_log WHERE seq = 2")
            .execute(state.pool())
            .await
            .expect("tamper");
        let v = log.verify().await.expect("verify");
        assert!(
            v.problems.iter().any(|p| p.contains("missing")),
            "gap must be reported: {:?}",
            v.problems
        );
        assert!(
            v.problems
                .iter()
                .any(|p| p.contains("entry 3 does not follow")),
            "chain break must be reported: {:?}",
            v.problems
        );
    }
}

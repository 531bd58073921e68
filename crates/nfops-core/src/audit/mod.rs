//! The audit log: who did what to which environment, when, and how it ended.
//!
//! Append-only (SQLite triggers refuse UPDATE and DELETE) and hash-chained:
//! each entry's hash covers its fields and the previous entry's hash, so an
//! edited, inserted or deleted entry breaks the chain and [`AuditLog::verify`]
//! reports it. `details` holds names and counts only, never a secret value.
//!
//! Keyed: entries are written with an HMAC-SHA-256 (`k1:` + hex) under a key
//! kept in the OS keyring ([`AuditKeyStore`]), created on first use. Someone
//! who can write `state.db` but not the keyring cannot recompute a valid
//! hash; rewriting entries with plain SHA-256 is reported, because a plain
//! entry is accepted only as *legacy*: written before the key existed (by
//! its time) and before the first keyed entry. Legacy entries (from before
//! this change) keep verifying; the first keyed entry covers the legacy
//! chain's head, which anchors them.
//!
//! Limitation: replacing the whole database with a forged older chain, or
//! removing the newest entries together with the guard triggers, leaves a
//! chain that verifies; export [`AuditLog::head`] (`nfops audit head`) to a
//! place the state folder's writers cannot reach and compare.

use std::sync::Arc;

mod key;

pub use key::AuditKeyStore;
use key::{ChainKey, KEYED};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::error::{Error, ErrorCode, Result};
use crate::state::State;

/// The newest entry, to keep elsewhere and compare later (anchoring).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Head {
    pub seq: i64,
    pub at: String,
    pub hash: String,
}

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
    /// Entries written with plain SHA-256 before the chain was keyed.
    pub legacy: u64,
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
    keys: Arc<dyn AuditKeyStore>,
    key: Arc<tokio::sync::OnceCell<Arc<ChainKey>>>,
}

impl std::fmt::Debug for dyn AuditKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKeyStore")
    }
}

/// The OS user running the console (see [`crate::host::user_name`]: the
/// OS account, not an environment variable anyone can set).
pub fn current_actor() -> String {
    crate::host::user_name()
}

/// An entry's fields and the previous hash as a canonical JSON array, so
/// field boundaries cannot be shifted. `e.hash` is not covered.
fn canonical(e: &Entry) -> String {
    serde_json::json!([
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
    .to_string()
}

/// The legacy (unkeyed) hash of an entry.
fn plain_hash(e: &Entry) -> String {
    hex::encode(Sha256::digest(canonical(e).as_bytes()))
}

impl AuditLog {
    /// The log in `state`, keyed with the key `keys` holds (created there on
    /// the first write).
    pub fn new(state: State, keys: Arc<dyn AuditKeyStore>) -> Self {
        Self {
            state,
            keys,
            key: Arc::default(),
        }
    }

    /// The chain key, created and stored on first use.
    async fn write_key(&self) -> Result<Arc<ChainKey>> {
        let keys = self.keys.clone();
        let lock = key::lock_path(self.state.path());
        self.key
            .get_or_try_init(|| async move {
                let key = tokio::task::spawn_blocking(move || key::load_or_create(&*keys, &lock))
                    .await
                    .map_err(|e| Error::internal(format!("audit key task failed: {e}")))??;
                Ok(Arc::new(key))
            })
            .await
            .cloned()
    }

    /// The chain key if it exists (verification never creates one).
    async fn read_key(&self) -> Result<Option<Arc<ChainKey>>> {
        if let Some(k) = self.key.get() {
            return Ok(Some(k.clone()));
        }
        let keys = self.keys.clone();
        let record = tokio::task::spawn_blocking(move || keys.load())
            .await
            .map_err(|e| Error::internal(format!("audit key task failed: {e}")))??;
        record
            .map(|r| ChainKey::parse(&r).map(Arc::new))
            .transpose()
    }

    /// The newest entry (for anchoring it elsewhere), `None` when empty.
    pub async fn head(&self) -> Result<Option<Head>> {
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT seq, at, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(self.state.pool())
                .await?;
        Ok(row.map(|(seq, at, hash)| Head { seq, at, hash }))
    }

    /// Appends an entry as the current OS user; returns its sequence number.
    pub async fn record(&self, a: Action<'_>) -> Result<i64> {
        self.record_as(&current_actor(), a).await
    }

    /// Appends an entry for `actor`. Serialized with other writers (also other
    /// processes) by an immediate transaction, so the chain never forks.
    pub async fn record_as(&self, actor: &str, a: Action<'_>) -> Result<i64> {
        let key = self.write_key().await?;
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
            e.hash = key.mac(&canonical(&e));
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

    /// Entries at or after `since` (RFC 3339, as `at` is written), newest
    /// first, at most `limit`.
    pub async fn since(&self, since: &str, limit: u32) -> Result<Vec<Entry>> {
        let rows = sqlx::query("SELECT seq, at, actor, action, environment, target, outcome, details, prev_hash, hash FROM audit_log WHERE at >= ? ORDER BY seq DESC LIMIT ?")
            .bind(since)
            .bind(limit)
            .fetch_all(self.state.pool())
            .await?;
        rows.iter().map(row_to_entry).collect()
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
    /// (deleted), a plain-hash entry where only keyed ones may be (rewritten
    /// without the keyring's key), and missing append-only guards.
    pub async fn verify(&self) -> Result<Verification> {
        let key = self.read_key().await?;
        let rows = sqlx::query("SELECT seq, at, actor, action, environment, target, outcome, details, prev_hash, hash FROM audit_log ORDER BY seq ASC")
            .fetch_all(self.state.pool())
            .await?;
        let mut problems = Vec::new();
        let mut prev_hash = GENESIS.to_owned();
        let mut expected_seq = 1i64;
        let mut head = None;
        let (mut legacy, mut keyed) = (0u64, 0u64);
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
            if let Some(p) = check_hash(&e, key.as_deref(), keyed) {
                problems.push(p);
            }
            if e.hash.starts_with(KEYED) {
                keyed += 1;
            } else {
                legacy += 1;
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
            legacy,
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

/// What is wrong with `e`'s own hash, if anything. `keyed_before` counts
/// keyed entries before it.
fn check_hash(e: &Entry, key: Option<&ChainKey>, keyed_before: u64) -> Option<String> {
    let modified = || {
        format!(
            "entry {} ({} at {}) was modified after it was written",
            e.seq, e.action, e.at
        )
    };
    if e.hash.starts_with(KEYED) {
        return match key {
            None => Some(format!(
                "entry {} is keyed but the audit chain key is missing from the OS keyring, so it cannot be checked",
                e.seq
            )),
            Some(k) => (k.mac(&canonical(e)) != e.hash).then(modified),
        };
    }
    if keyed_before > 0 {
        return Some(format!(
            "entry {} ({} at {}) carries a plain hash after keyed entries: it was rewritten without the audit key",
            e.seq, e.action, e.at
        ));
    }
    // RFC 3339 UTC stamps of one format compare as strings.
    if let Some(k) = key {
        if e.at.as_str() >= k.created.as_str() {
            return Some(format!(
                "entry {} ({} at {}) carries a plain hash although the audit key existed then: it was rewritten without the key",
                e.seq, e.action, e.at
            ));
        }
    }
    (plain_hash(e) != e.hash).then(modified)
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
mod tests;

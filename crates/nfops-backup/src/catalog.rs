//! The backup catalog: backups per environment as listed from the destination
//! (the source of truth), cached in SQLite with what the destination does not
//! hold: the latest verification (when, result) and the offsite copy state.
//!
//! A folder without a valid manifest is an `incomplete` entry, never a backup:
//! it has no time, size or tables, is never "good" and never counts for
//! staleness or retention.

use chrono::{DateTime, Utc};
use nfops_core::state::State;
use nfops_core::Result;
use serde::Serialize;

use crate::store::Listing;

/// One backup (or incomplete folder) of an environment.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CatalogEntry {
    pub environment: String,
    pub id: String,
    /// `complete` or `incomplete`.
    pub state: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub tables: Option<u64>,
    pub rows: Option<u64>,
    pub stored_bytes: Option<u64>,
    /// Objects named by the storage snapshots taken with the backup.
    pub storage_objects: Option<u64>,
    /// Why it is incomplete.
    pub problem: Option<String>,
    /// The latest verification: when, and whether it passed.
    pub verified_at: Option<DateTime<Utc>>,
    pub verify_ok: Option<bool>,
    pub verify_note: Option<String>,
    /// `copied` (a verified offsite copy exists), `failed`, or none.
    pub offsite_state: Option<String>,
    pub offsite_at: Option<DateTime<Utc>>,
}

impl CatalogEntry {
    pub fn is_complete(&self) -> bool {
        self.state == "complete"
    }

    /// Complete and not failed at its latest verification.
    pub fn is_good(&self) -> bool {
        self.is_complete() && self.verify_ok != Some(false)
    }

    /// Complete and passed its latest verification.
    pub fn is_verified(&self) -> bool {
        self.is_complete() && self.verify_ok == Some(true)
    }

    pub fn duration_secs(&self) -> Option<f64> {
        match (self.started_at, self.finished_at) {
            (Some(s), Some(f)) => Some((f - s).num_milliseconds() as f64 / 1000.0),
            _ => None,
        }
    }

    pub fn age_hours(&self, now: DateTime<Utc>) -> Option<f64> {
        self.finished_at
            .map(|f| (now - f).num_seconds() as f64 / 3600.0)
    }
}

/// The newest good backup of `entries` (complete, not failed verification).
pub fn newest_good(entries: &[CatalogEntry]) -> Option<&CatalogEntry> {
    entries
        .iter()
        .filter(|e| e.is_good())
        .max_by(|a, b| (a.finished_at, &a.id).cmp(&(b.finished_at, &b.id)))
}

/// The SQLite cache of the catalog.
#[derive(Clone, Debug)]
pub struct Catalog {
    state: State,
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

const COLUMNS: &str = "environment, id, state, started_at, finished_at, tables, rows, stored_bytes, problem, verified_at, verify_ok, verify_note, offsite_state, offsite_at, storage_objects";

fn time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn count(n: Option<i64>) -> Option<u64> {
    n.and_then(|n| u64::try_from(n).ok())
}

fn entry(r: Row) -> CatalogEntry {
    CatalogEntry {
        environment: r.0,
        id: r.1,
        state: r.2,
        started_at: time(r.3),
        finished_at: time(r.4),
        tables: count(r.5),
        rows: count(r.6),
        stored_bytes: count(r.7),
        problem: r.8,
        verified_at: time(r.9),
        verify_ok: r.10.map(|v| v != 0),
        verify_note: r.11,
        offsite_state: r.12,
        offsite_at: time(r.13),
        storage_objects: count(r.14),
    }
}

fn int(n: Option<u64>) -> Option<i64> {
    n.and_then(|n| i64::try_from(n).ok())
}

impl Catalog {
    pub fn new(state: &State) -> Self {
        Self {
            state: state.clone(),
        }
    }

    /// Rewrites the cache of `env` from the destination's listing: every
    /// listed folder is upserted (keeping its recorded verification and
    /// offsite state), rows of folders no longer listed are dropped. Returns
    /// the catalog, newest first.
    pub async fn refresh(&self, env: &str, listing: &[Listing]) -> Result<Vec<CatalogEntry>> {
        let now = Utc::now().to_rfc3339();
        let mut tx = self.state.pool().begin().await?;
        for l in listing {
            sqlx::query(
                "INSERT INTO backup_catalog(environment, id, state, started_at, finished_at, tables, rows, stored_bytes, problem, refreshed_at, storage_objects)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT(environment, id) DO UPDATE SET state = excluded.state,
                   started_at = excluded.started_at, finished_at = excluded.finished_at,
                   tables = excluded.tables, rows = excluded.rows, stored_bytes = excluded.stored_bytes,
                   problem = excluded.problem, refreshed_at = excluded.refreshed_at,
                   storage_objects = excluded.storage_objects",
            )
            .bind(env)
            .bind(&l.id)
            .bind(l.state)
            .bind(&l.started_at)
            .bind(&l.finished_at)
            .bind(int(l.tables.map(|t| t as u64)))
            .bind(int(l.rows))
            .bind(int(l.stored_bytes))
            .bind(&l.problem)
            .bind(&now)
            .bind(int(l.storage_objects))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM backup_catalog WHERE environment = ? AND refreshed_at <> ?")
            .bind(env)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.cached(env).await
    }

    /// The cached catalog of `env`, newest first (as last refreshed).
    pub async fn cached(&self, env: &str) -> Result<Vec<CatalogEntry>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM backup_catalog WHERE environment = ? ORDER BY state = 'incomplete', finished_at DESC, id DESC"
        ))
        .bind(env)
        .fetch_all(self.state.pool())
        .await?;
        Ok(rows.into_iter().map(entry).collect())
    }

    /// Records a verification of backup `id` (the run's own or a later one).
    pub async fn record_verify(&self, env: &str, id: &str, ok: bool, note: &str) -> Result<()> {
        self.ensure(env, id).await?;
        sqlx::query("UPDATE backup_catalog SET verified_at = ?, verify_ok = ?, verify_note = ? WHERE environment = ? AND id = ?")
            .bind(Utc::now().to_rfc3339())
            .bind(i64::from(ok))
            .bind(note)
            .bind(env)
            .bind(id)
            .execute(self.state.pool())
            .await?;
        Ok(())
    }

    /// Records the offsite copy state of backup `id` (`copied` or `failed`).
    pub async fn record_offsite(&self, env: &str, id: &str, state: &str) -> Result<()> {
        self.ensure(env, id).await?;
        sqlx::query("UPDATE backup_catalog SET offsite_state = ?, offsite_at = ? WHERE environment = ? AND id = ?")
            .bind(state)
            .bind(Utc::now().to_rfc3339())
            .bind(env)
            .bind(id)
            .execute(self.state.pool())
            .await?;
        Ok(())
    }

    /// Drops the row of a forgotten backup.
    pub async fn remove(&self, env: &str, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM backup_catalog WHERE environment = ? AND id = ?")
            .bind(env)
            .bind(id)
            .execute(self.state.pool())
            .await?;
        Ok(())
    }

    /// A placeholder row so a result recorded before the next refresh sticks;
    /// the refresh fills (or drops) it from the destination.
    async fn ensure(&self, env: &str, id: &str) -> Result<()> {
        sqlx::query("INSERT OR IGNORE INTO backup_catalog(environment, id, state, refreshed_at) VALUES (?, ?, 'incomplete', ?)")
            .bind(env)
            .bind(id)
            .bind(Utc::now().to_rfc3339())
            .execute(self.state.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn listing(id: &str, complete: bool) -> Listing {
        Listing {
            id: id.into(),
            state: if complete { "complete" } else { "incomplete" },
            path: PathBuf::from(id),
            started_at: complete.then(|| "2026-06-01T10:00:00+00:00".into()),
            finished_at: complete.then(|| "2026-06-01T10:00:42.500+00:00".into()),
            tables: complete.then_some(5),
            rows: complete.then_some(1000),
            stored_bytes: complete.then_some(4096),
            storage_objects: complete.then_some(120),
            problem: (!complete).then(|| "no manifest".into()),
        }
    }

    async fn catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().expect("test setup");
        let state = State::open(dir.path()).await.expect("test setup");
        (dir, Catalog::new(&state))
    }

    #[tokio::test]
    async fn refresh_mirrors_the_destination_and_keeps_recorded_results() {
        let (_d, c) = catalog().await;
        let first = c
            .refresh("staging", &[listing("b1", true), listing("b2", false)])
            .await
            .expect("test setup");
        assert_eq!(first.len(), 2);
        let b1 = first.iter().find(|e| e.id == "b1").expect("test setup");
        assert_eq!(
            b1.duration_secs(),
            Some(42.5),
            "duration from the manifest times"
        );
        assert_eq!(
            (b1.tables, b1.rows, b1.stored_bytes),
            (Some(5), Some(1000), Some(4096))
        );
        let b2 = first.iter().find(|e| e.id == "b2").expect("test setup");
        assert!(
            !b2.is_complete() && !b2.is_good(),
            "no manifest: never a backup"
        );
        assert_eq!(
            b2.tables, None,
            "an incomplete folder has no size or tables"
        );

        c.record_verify("staging", "b1", true, "ok")
            .await
            .expect("test setup");
        c.record_offsite("staging", "b1", "copied")
            .await
            .expect("test setup");
        // b2 disappears from the destination; b3 appears.
        let second = c
            .refresh("staging", &[listing("b3", true), listing("b1", true)])
            .await
            .expect("test setup");
        let ids: Vec<&str> = second.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["b3", "b1"],
            "the destination is the source of truth"
        );
        let b1 = &second[1];
        assert!(
            b1.is_verified() && b1.verified_at.is_some(),
            "verification survives a refresh"
        );
        assert_eq!(b1.offsite_state.as_deref(), Some("copied"));
        assert_eq!(second[0].verify_ok, None, "b3 never verified");
        assert_eq!(newest_good(&second).map(|e| e.id.as_str()), Some("b3"));

        c.record_verify("staging", "b3", false, "2 findings")
            .await
            .expect("test setup");
        let third = c.cached("staging").await.expect("test setup");
        assert_eq!(
            newest_good(&third).map(|e| e.id.as_str()),
            Some("b1"),
            "a backup that failed verification is not good"
        );
        assert!(
            c.cached("production").await.expect("test setup").is_empty(),
            "per environment"
        );
    }
}

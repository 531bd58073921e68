//! The console's local state: one SQLite file in the app data folder.
//!
//! Holds jobs and their steps, the audit log and credential metadata (never a
//! credential value). Migrations are embedded and run on open.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::error::{Error, Result};

/// Handle on the state database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct State {
    pool: SqlitePool,
    path: PathBuf,
}

impl State {
    /// Opens (creating if needed) `state.db` in `dir` and migrates it.
    pub async fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating the state folder {}", dir.display()), e))?;
        let path = dir.join("state.db");
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool, path })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that credential `name` was set or replaced now.
    pub async fn credential_changed(&self, name: &str) -> Result<()> {
        sqlx::query("INSERT INTO credential_meta(name, changed_at) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET changed_at = excluded.changed_at")
            .bind(name)
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets credential `name`'s metadata (after it was deleted).
    pub async fn credential_removed(&self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM credential_meta WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// When credential `name` was last changed through the console, if known.
    pub async fn credential_changed_at(&self, name: &str) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT changed_at FROM credential_meta WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.0))
    }

    /// Names of all credentials whose change the console recorded.
    pub async fn recorded_credential_names(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT name FROM credential_meta ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}

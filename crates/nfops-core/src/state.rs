//! The console's local state: one SQLite file in the app data folder.
//!
//! Holds jobs and their steps, the audit log and credential metadata (never a
//! credential value). Migrations are embedded and run on open.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::error::Result;

/// Handle on the state database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct State {
    pool: SqlitePool,
    path: PathBuf,
}

impl State {
    /// Opens (creating if needed) `state.db` in `dir` and migrates it.
    ///
    /// The folder is made 0700 and the database (with its `-wal`/`-shm`
    /// files) 0600 whatever the umask: they hold job history, plans and the
    /// audit chain.
    pub async fn open(dir: &Path) -> Result<Self> {
        crate::paths::private_dir(dir, "state folder")?;
        let path = dir.join("state.db");
        crate::paths::private_file(&path, "state database")?;
        for side in ["state.db-wal", "state.db-shm"] {
            crate::paths::tighten_if_present(&dir.join(side), "state database journal")?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Child half: opens a state database in `NFOPS_UMASK_CHILD_DIR` (run
    /// under `umask 022` by the test below).
    #[tokio::test]
    async fn umask_child() {
        let Ok(dir) = std::env::var("NFOPS_UMASK_CHILD_DIR") else {
            return;
        };
        let s = State::open(Path::new(&dir)).await.expect("state opens");
        // A write, so the WAL and shared-memory files exist too.
        s.credential_changed("x").await.expect("write");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_state_folder_and_database_are_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("nested/state");
        // The umask is per process: the child opens the state under 022,
        // as a login shell would leave it.
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg("umask 022 && exec \"$0\" --exact state::tests::umask_child --nocapture")
            .arg(std::env::current_exe().expect("test binary"))
            .env("NFOPS_UMASK_CHILD_DIR", &dir)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("child runs");
        assert!(status.success(), "the child opened the state");
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(&dir), 0o700, "the state folder is the user's only");
        assert_eq!(
            mode(&dir.join("state.db")),
            0o600,
            "state.db is the user's only"
        );
        for side in ["state.db-wal", "state.db-shm"] {
            let p = dir.join(side);
            if p.exists() {
                assert_eq!(mode(&p), 0o600, "{side} follows the database's mode");
            }
        }

        // A folder and database left world-readable (by an older version)
        // are tightened at the next open.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(dir.join("state.db"), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        let s = State::open(&dir).await.expect("reopens");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("state.db")), 0o600);

        // A journal left loose is tightened by the next open while the first
        // console still holds it open...
        let wal = dir.join("state.db-wal");
        assert!(wal.exists(), "an open WAL database has its -wal file");
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let second = State::open(&dir).await.expect("a second console opens");
        assert_eq!(mode(&wal), 0o600);
        drop(second);
        s.pool().close().await;
        // ...and a journal SQLite removed (the last connection closed) is
        // not recreated: opening never depends on one being there.
        std::fs::remove_file(&wal).ok();
        crate::paths::tighten_if_present(&wal, "state database journal")
            .expect("a missing journal is nothing to tighten");
        assert!(!wal.exists(), "tightening never creates the file");
    }
}

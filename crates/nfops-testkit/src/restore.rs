//! Restores the tests run with the real engine, and what they inject into a
//! running one: the "plan, run, assert restored" block written once, and
//! the sessions that hold the swap at a chosen point (a transaction open on
//! a table, a statement waiting for a metadata lock).

use std::sync::Arc;
use std::time::{Duration, Instant};

use nfops_core::jobs::{CancellationToken, JobState, NoProgress};
use nfops_mysql::sqlx_reexport::MySqlConnection;
use nfops_mysql::Target;
use nfops_restore::job::DatabaseState;
use nfops_restore::{plan_restore, run_restore, RestoreOutcome, RestorePlan, RestoreRequest};

use crate::{db, Stack};

/// [`Stack::run_planned_restore`] of `env` from the backup in `dir` on a
/// task of its own, so the test can interfere while it runs; `test` names
/// the stack handle that task opens.
///
/// # Panics
/// When the stack is gone (the test itself found it).
pub fn planned_restore_in_background(
    test: &str,
    env: &str,
    dir: &std::path::Path,
    identity: &age::x25519::Identity,
) -> tokio::task::JoinHandle<RestoreOutcome> {
    let stack = Stack::from_env(test).expect("stack");
    let (env, dir, identity) = (env.to_owned(), dir.to_owned(), identity.clone());
    tokio::spawn(async move {
        stack
            .run_planned_restore(stack.restore_request(&env, &dir, &identity))
            .await
    })
}

impl Stack {
    /// Plans `req`, expects its preflight to pass, and runs it (no extra
    /// steps) on this test's runner; returns how it ended, whatever that is.
    pub async fn run_planned_restore(&self, req: RestoreRequest) -> RestoreOutcome {
        let plan = plan_restore(&req).await.expect("restore plan");
        assert!(plan.ready(), "preflight passes: {:?}", plan.preflight);
        self.run_restore_under(req, &plan).await
    }

    /// Runs `req` under `plan` (no extra steps) on this test's runner.
    pub async fn run_restore_under(
        &self,
        req: RestoreRequest,
        plan: &RestorePlan,
    ) -> RestoreOutcome {
        run_restore(
            req,
            plan,
            vec![],
            &self.runner().await,
            Arc::new(NoProgress),
            CancellationToken::new(),
        )
        .await
        .expect("the restore records its end")
    }

    /// Runs `req` under `plan` and asserts it restored: the job succeeded,
    /// the outcome says `Restored`, and the target database equals the
    /// backup's manifest, table by table (rows and content hash).
    pub async fn restore_succeeds(
        &self,
        req: RestoreRequest,
        plan: &RestorePlan,
    ) -> RestoreOutcome {
        let env = req.environment.clone();
        let database = req
            .database
            .clone()
            .or_else(|| req.env.database.as_ref().map(|d| d.name.clone()))
            .expect("a database to restore into");
        let dir = req.source.dir.clone();
        let whole = req.tables.is_none();
        let out = self.run_restore_under(req, plan).await;
        assert_eq!(out.job.state, JobState::Succeeded, "{:?}", out.job);
        assert_eq!(
            out.database_state,
            DatabaseState::Restored,
            "{}",
            out.state_detail
        );
        if whole {
            assert_eq!(
                db::content(&self.target(&env, &database)).await,
                db::manifest_content(&dir),
                "'{database}' of {env} equals the backup, table by table (rows and content hash)"
            );
        }
        out
    }
}

/// Schemas of restores of `newfinity` left on the server (`kind`: shadow or safety).
pub async fn leftovers(db: &Target, kind: &str) -> String {
    db::scalar(
        db,
        &format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'nfops\\_{kind}\\_newfinity\\_%'"),
    )
    .await
    .unwrap_or_default()
}

/// A session holding a transaction open on `table` (a shared metadata
/// lock); returns it and its id. Waits for a lock up to 120 s itself.
pub async fn hold(db: &Target, table: &str) -> (MySqlConnection, String) {
    let mut c = db.connect().await.expect("blocker connects");
    sqlx::Executor::execute(
        &mut c,
        format!("SET SESSION lock_wait_timeout = 120; BEGIN; SELECT COUNT(*) FROM {table}")
            .as_str(),
    )
    .await
    .expect("blocker opens its transaction");
    let id: String = sqlx::Executor::fetch_one(&mut c, "SELECT CAST(CONNECTION_ID() AS CHAR)")
        .await
        .ok()
        .and_then(|r| nfops_mysql::schema::text_at(&r, 0))
        .expect("id");
    (c, id)
}

/// Polls until a session runs a statement starting with `prefix` and waits
/// for a metadata lock; returns its id.
pub async fn waiting_session(db: &Target, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let id = db::scalar(db, &format!("SELECT CAST(ID AS CHAR) FROM information_schema.PROCESSLIST WHERE INFO LIKE '{prefix}%' AND STATE LIKE 'Waiting for table metadata lock%' LIMIT 1")).await;
        if let Some(id) = id {
            return id;
        }
        assert!(Instant::now() < deadline, "a session reached {prefix}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Kills session `id` and waits until the server has ended it, so a lock
/// released next cannot be granted to its statement first.
pub async fn kill_and_wait(db: &Target, id: &str) {
    db::exec(db, &format!("KILL {id}")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while db::scalar(
        db,
        &format!("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id}"),
    )
    .await
    .as_deref()
        != Some("0")
    {
        assert!(Instant::now() < deadline, "session {id} ended after KILL");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The running job's shadow schema of `newfinity`, once it holds `orders`.
pub async fn shadow_with_orders(db: &Target) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(s) = db::scalar(db, "SELECT TABLE_SCHEMA FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE 'nfops\\_shadow\\_newfinity\\_%' AND TABLE_NAME = 'orders' LIMIT 1").await {
            return s;
        }
        assert!(Instant::now() < deadline, "the shadow was created");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

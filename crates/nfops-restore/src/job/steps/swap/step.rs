//! The job step of the swap: reads the backup's post file, makes sure the
//! database exists, runs [`swap_in`], and checks that every restored table
//! is live and the shadow is empty.

use std::sync::Arc;

use async_trait::async_trait;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};

use super::{swap_in, LockBound, SwapSpec};
use crate::job::steps::load;
use crate::job::RestoreRun;

pub(crate) struct SwapStep(pub(crate) Arc<RestoreRun>);

#[async_trait]
impl Step for SwapStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        cx.check_cancelled()?;
        let target = r.target()?;
        let shadow = r.shadow.clone();
        let post = match r.req.source.post_file() {
            Some(p) => {
                let src = r.req.source.clone();
                let id = r.req.identity.clone();
                let p = p.to_owned();
                tokio::task::spawn_blocking(move || src.sql_text(&p, &id))
                    .await
                    .map_err(|e| Error::internal(format!("post reader stopped: {e}")))??
            }
            None => String::new(),
        };
        // The server lock taken before the shadow was created must still be
        // ours: a dropped connection would have let another restore in.
        r.ensure_lock("the swap").await?;
        let lock = r.lock_guard().await;
        // A drill's scratch database may not exist yet.
        {
            let mut c = load::server_session(&target).await?;
            load::exec(
                &mut c,
                &target,
                "could not create the database on",
                &format!(
                    "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                    nfops_mysql::literal::quote_ident(&target.database)
                ),
            )
            .await?;
            let _ = sqlx::Connection::close(c).await;
        }
        cx.message(format!("previous tables go to schema {}", r.safety));
        let spec = SwapSpec {
            shadow: &shadow,
            safety: &r.safety,
            tables: &r.tables,
            whole: r.req.tables.is_none(),
            post_sql: &post,
            lock: lock.as_ref(),
        };
        let record = swap_in(&target, &spec, &r.ledger, &LockBound::default()).await?;
        // Check: every restored table is in the target, the shadow is empty.
        let mut c = load::server_session(&target).await?;
        let q = |db: &str| {
            format!(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE <> 'VIEW'",
                nfops_mysql::literal::quote_str(db)
            )
        };
        let live: Vec<String> = sqlx::Executor::fetch_all(&mut c, q(&target.database).as_str())
            .await
            .map_err(|e| target.error("could not list the tables of", e))?
            .iter()
            .filter_map(|x| nfops_mysql::schema::text_at(x, 0))
            .collect();
        let left: usize = sqlx::Executor::fetch_all(&mut c, q(&shadow).as_str())
            .await
            .map_err(|e| target.error("could not list the tables of", e))?
            .len();
        let missing: Vec<&String> = r.tables.iter().filter(|t| !live.contains(t)).collect();
        if !missing.is_empty() || left != 0 {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "after the swap, {} restored table(s) are missing and {left} remain in the shadow",
                    missing.len()
                ),
            ));
        }
        let _ = load::exec(
            &mut c,
            &target,
            "could not drop the empty shadow schema on",
            &format!(
                "DROP DATABASE IF EXISTS {}",
                nfops_mysql::literal::quote_ident(&shadow)
            ),
        )
        .await;
        let _ = sqlx::Connection::close(c).await;
        Ok(Verified::by(format!(
            "{} tables live in '{}' after one RENAME TABLE; previous {} table(s) kept in {}",
            r.tables.len(),
            target.database,
            record.moved_out.len(),
            record.safety
        )))
    }
}

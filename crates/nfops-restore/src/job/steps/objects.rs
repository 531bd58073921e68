//! Step "check objects": after the swap, every object of the backup's
//! inventory in the restore's scope is live again with its kind,
//! partitioning, sequence state, owner and SQL SECURITY (an owner the plan
//! said would change is accepted), and nothing outside the backup remains
//! (a whole restore). A difference fails the step, which rolls the swap back.

use std::sync::Arc;

use async_trait::async_trait;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::Result;
use nfops_mysql::inventory::CompareScope;

use super::load::{self, inventory};
use crate::job::RestoreRun;

pub(crate) struct ObjectsStep(pub(crate) Arc<RestoreRun>);

#[async_trait]
impl Step for ObjectsStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        cx.check_cancelled()?;
        r.ensure_lock("checking the objects").await?;
        let Some(inv) = &r.req.source.manifest.inventory else {
            return Ok(Verified::by(
                "no inventory recorded in the backup: only its tables were compared (verify shadow)",
            ));
        };
        let target = r.target()?;
        let whole = r.req.tables.is_none();
        let mut conn = load::server_session(&target).await?;
        let account = inventory::restoring_account(&mut conn, &target).await?;
        let _ = sqlx::Connection::close(conn).await;
        let owner_changes = inventory::owner_changes(inv, &r.tables, whole, &account)
            .into_iter()
            .map(|o| (o.kind, o.name.clone()))
            .collect();
        let n = inventory::verify_objects(
            &r.req.source,
            &target,
            &target.database,
            CompareScope {
                tables_only: false,
                tables: (!whole).then(|| r.tables.clone()),
                owner_changes,
                extras: whole,
            },
            &format!("database '{}' after the swap", target.database),
        )
        .await?;
        let changed = inventory::owner_changes(inv, &r.tables, whole, &account).len();
        Ok(Verified::by(format!(
            "{n} object(s) of the backup's inventory are live with their kind, partitioning, sequence state, owner and SQL SECURITY{}",
            if changed > 0 {
                format!(" ({changed} now owned by {} as the plan said)", account.name)
            } else {
                String::new()
            }
        )))
    }
}

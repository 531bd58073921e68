//! Step "verify shadow": every table's row count and content hash in the
//! shadow, recomputed and compared with the manifest.

use std::sync::Arc;

use async_trait::async_trait;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::Result;

use super::load;
use crate::job::RestoreRun;
use nfops_mysql::inventory::CompareScope;

pub(crate) struct VerifyStep(pub(crate) Arc<RestoreRun>);

#[async_trait]
impl Step for VerifyStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let r = &self.0;
        let target = r.target()?;
        let shadow = r.shadow.clone();
        let checks = load::verify_shadow(&r.req.source, &target, &shadow, &r.tables).await?;
        cx.check_cancelled()?;
        // Kinds, partitioning and sequence state of what was loaded.
        let objects = load::inventory::verify_objects(
            &r.req.source,
            &target,
            &shadow,
            CompareScope {
                tables_only: true,
                tables: Some(r.tables.clone()),
                ..CompareScope::default()
            },
            "the loaded copy",
        )
        .await?;
        let rows: u64 = checks.iter().map(|c| c.rows).sum();
        let n = checks.len();
        *r.checks.lock().unwrap_or_else(|p| p.into_inner()) = checks;
        Ok(Verified::by(format!(
            "{n} tables, {rows} rows: row counts and content hashes ({}) equal the manifest; {}",
            nfops_mysql::hash::HASH_DEFINITION,
            if r.req.source.manifest.inventory.is_some() {
                format!("{objects} tables and sequences equal the inventory (kind, partitioning, sequence state)")
            } else {
                "no inventory recorded in the backup".to_owned()
            }
        )))
    }
}

//! The backup plan: the dry run an operator reads before anything is dumped
//! (tables with estimated rows and bytes, the steps in order, the destination).

use std::path::PathBuf;

use nfops_core::config::UnversionedBuckets;
use nfops_core::jobs::{Plan, PlannedStep};
use nfops_core::Result;
use nfops_mysql::schema;

use super::BackupRequest;

/// The environment's buckets to snapshot with each backup, when it has storage.
pub(super) fn storage_buckets(req: &BackupRequest) -> Option<Vec<String>> {
    req.env
        .storage
        .as_ref()
        .map(|s| s.buckets.get_ref().clone())
        .filter(|b| !b.is_empty())
}

pub(super) fn unversioned(req: &BackupRequest) -> UnversionedBuckets {
    req.env
        .backup
        .as_ref()
        .map(|b| b.unversioned_buckets)
        .unwrap_or_default()
}

/// The dry run of a backup: tables with estimated rows and bytes.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupPlan {
    pub plan: Plan,
    pub tables: Vec<PlannedTable>,
    pub est_rows: u64,
    pub est_bytes: u64,
    pub destination: PathBuf,
}

/// One table as planned.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedTable {
    pub name: String,
    pub est_rows: u64,
    pub est_bytes: u64,
    /// Split across workers: by primary-key range, or (without an integer
    /// key) by a hash of one column.
    pub chunked: bool,
}

/// Reads the table list (estimates from `information_schema`) and builds the plan.
pub async fn plan_backup(req: &BackupRequest) -> Result<BackupPlan> {
    let route = super::database_route(req).await?;
    let mut conn = route.target.connect().await?;
    let tables = schema::tables(&mut conn, &route.target).await?;
    let _ = sqlx_close(conn).await;
    let planned: Vec<PlannedTable> = tables
        .iter()
        .filter(|t| {
            req.options
                .only_tables
                .as_ref()
                .is_none_or(|o| o.contains(&t.name))
        })
        .map(|t| PlannedTable {
            name: t.name.clone(),
            est_rows: t.est_rows,
            est_bytes: t.est_bytes,
            chunked: t.est_rows > req.options.chunk_rows
                && (t.int_pk.is_some()
                    || req.options.split_keyless
                        && nfops_mysql::dump::hash_split(
                            t,
                            req.options.workers,
                            req.options.chunk_rows,
                        )
                        .len()
                            > 1),
        })
        .collect();
    let est_rows = planned.iter().map(|t| t.est_rows).sum();
    let est_bytes = planned.iter().map(|t| t.est_bytes).sum();
    let destination = req.store.env_dir(&req.environment);
    let step = |name: &str, description: String| PlannedStep {
        name: name.into(),
        description,
    };
    let plan = Plan {
        kind: "backup".into(),
        environment: Some(req.environment.clone()),
        summary: format!(
            "Back up database '{}' of {}: {} tables, about {} rows ({} MB on disk), {} parallel connections, to {}",
            route.target.database,
            req.environment,
            planned.len(),
            est_rows,
            est_bytes / 1_000_000,
            req.options.workers,
            destination.display()
        ),
        steps: [
            vec![step("dump", "Take one consistent snapshot (a brief global read lock), stream every table as SQL through zstd and age into a .partial folder".into())],
            storage_buckets(req)
                .map(|b| {
                    vec![step(
                        "storage",
                        format!(
                            "Record the current version id, ETag and size of every key of bucket(s) {} (ListObjectVersions) into encrypted snapshot files; versioning off: {}",
                            b.join(", "),
                            match unversioned(req) {
                                UnversionedBuckets::Refuse => "refuse the backup",
                                UnversionedBuckets::Warn => "warn loudly and leave the bucket out",
                            }
                        ),
                    )]
                })
                .unwrap_or_default(),
            vec![step("manifest", "Write README.txt and manifest.json (row counts, content hashes, file SHA-256) last, and read the manifest back".into()),
            step("verify", "Re-read every file: size and SHA-256, decrypt with your key, decompress, parse, compare rows and content hashes with the manifest".into()),
            step("publish", "Rename the .partial folder to the backup id; only now is it listed as a backup".into())],
        ]
        .concat(),
    };
    Ok(BackupPlan {
        plan,
        tables: planned,
        est_rows,
        est_bytes,
        destination,
    })
}

async fn sqlx_close(conn: sqlx_conn::MySqlConnection) -> std::result::Result<(), ()> {
    use sqlx_conn::Connection;
    conn.close().await.map_err(|_| ())
}

mod sqlx_conn {
    pub use nfops_mysql::sqlx_reexport::{Connection, MySqlConnection};
}

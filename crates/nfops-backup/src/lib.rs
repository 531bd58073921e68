//! NewFinity Ops backups of the MySQL/MariaDB database.
//!
//! A backup is a folder: `00-schema.sql.zst.age`, `data/*.sql.zst.age`,
//! `99-post.sql.zst.age` (SQL → zstd → age, restorable with `age`, `zstd` and
//! the `mysql` client alone, see `README.txt` in each backup), and
//! `manifest.json`, written last: without a valid manifest a folder is
//! incomplete, never a backup.
//!
//! - [`job`]: the backup job as a folder: `job/plan.rs`, one file per step in
//!   `job/steps/` (dump, storage, manifest, verify, publish), and the
//!   standalone verify job (`job/verify_job.rs`);
//! - [`verify`]: every finding about a backup, not only the first;
//! - [`store`]: the local destination (`<root>/<env>/<id>[.partial]`);
//! - [`sink`]: the zstd + age file writer; [`crypto`]: recipients and identity.
//!
//! Object-store destinations, offsite copies, the catalog, retention and
//! storage snapshots slot in beside [`store::LocalStore`] and [`sink::LocalSink`].
//!
//! Never depends on Tauri, on `nfops-restore`, `nfops-promote` or `nfops-ops`:
//! restores read backups through this crate, not the other way round. The
//! database route is `nfops_fleet::route`.

pub mod catalog;
pub mod crypto;
pub mod job;
pub mod manifest;
pub mod object_store;
pub mod offsite;
pub mod readme;
pub mod retention;
pub mod signature;
pub mod sink;
pub mod store;
pub mod verify;
mod verify_inventory;
mod verify_statements;

pub use job::{
    plan_backup, run_backup, verify_backup, BackupOutcome, BackupPlan, BackupRequest,
    VerifyOutcome, VerifyRequest,
};
pub use manifest::Manifest;
pub use store::{Listing, LocalStore};
pub use verify::{Finding, Scope, VerifyReport};

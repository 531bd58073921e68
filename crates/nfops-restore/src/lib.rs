//! NewFinity Ops restores of the MySQL/MariaDB database, and integrity checks.
//!
//! A restore never writes into the live tables: the backup is loaded into a
//! *shadow* schema on the target server ([`load`]), the shadow is compared
//! with the manifest (row counts and content hashes, [`load::verify_shadow`]),
//! and only then are all tables exchanged with ONE `RENAME TABLE` statement
//! ([`swap`]); the previous tables move to a *safety* schema that is kept
//! until the job succeeds and for a retention period, so a swap can be rolled
//! back ([`swap::roll_back`]).
//!
//! Before anything on the server is touched, the backup's files are checked
//! against the manifest (size and SHA-256) and the operator's key against its
//! recipients ([`source`]): a corrupted, truncated or tampered file or a wrong
//! key stops the restore with the target untouched. Before that, the
//! manifest's signature must verify under a signer the environment trusts,
//! the backup must be of the target environment (or explicitly allowed) and
//! its buckets the environment's; after it, every statement is checked
//! against what its file may hold ([`allowed`]).
//!
//! - [`job`]: the restore job as a folder: `job/plan.rs` (dry run and
//!   preflight) and `job/steps/` (check backup, load, verify, `swap/`,
//!   storage, cache, workers, `checks/`); roll back on failure;
//! - [`drill`]: the scratch database of a restore drill;
//! - [`allowed`]: the statement kinds each backup file may hold;
//! - [`sql`]: splits the SQL text of schema and post files into statements;
//! - [`source`]: a backup folder opened for restore;
//! - [`private_copy`]: the checked copy the restore reads from, made once.
//!
//! The database route (direct or through an SSH tunnel) is
//! `nfops_fleet::route`. Never depends on Tauri or on `nfops-ops`.

/// The allow-list lives in `nfops_mysql::allowed` (backup verify runs it too).
pub use nfops_mysql::allowed;
pub mod drill;
pub mod job;
pub mod private_copy;
pub mod source;
pub mod sql;

// The steps' modules at their old paths, which the app, the CLI and the tests use.
pub use job::steps::{cache, checks, load, storage, swap, workers};

pub use job::{plan_restore, run_restore, RestoreOutcome, RestorePlan, RestoreRequest};
pub use source::BackupSource;

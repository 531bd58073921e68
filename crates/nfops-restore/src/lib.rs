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
//! key stops the restore with the target untouched.
//!
//! - [`sql`]: splits the SQL text of schema and post files into statements;
//! - [`route`]: connects to an environment's database (SSH tunnel when `via`);
//! - [`job`]: the restore job (plan, steps, roll back on failure);
//! - [`checks`]: integrity checks of a live environment.

pub mod cache;
pub mod checks;
pub mod job;
pub mod load;
pub mod route;
pub mod source;
pub mod sql;
pub mod storage;
pub mod swap;
pub mod workers;

pub use job::{plan_restore, run_restore, RestoreOutcome, RestorePlan, RestoreRequest};
pub use source::BackupSource;

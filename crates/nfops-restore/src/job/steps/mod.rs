//! The restore job's steps, one file (or folder) each, in the order they run:
//! check backup → load shadow → verify shadow → swap → storage, then the
//! optional cache, workers and integrity checks.

pub mod cache;
pub mod check_backup;
pub mod checks;
pub mod claim;
pub mod load;
pub(crate) mod objects;
pub mod replica_compare;
pub mod replicas;
pub mod session;
pub mod storage;
pub mod swap;
pub(crate) mod verify;
pub mod workers;

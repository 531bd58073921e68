//! The test kit: what the workspace's integration and end-to-end tests share,
//! written once. The local stack's gate (one rule for skipping or failing),
//! its config and credentials, a keyring service private to a test, the
//! `nfops` runner, a real backup to restore from, database and bucket
//! helpers, the fake frontend provider and (feature `e2e`) the real app
//! under WebKitWebDriver.
//!
//! A dev-dependency only: no crate's normal build may depend on it, and it
//! never depends on `tauri` (the app under test is driven as a binary), so
//! `scripts/check-dep-tree` holds for it too.

pub mod cli;
pub mod db;
#[cfg(feature = "e2e")]
pub mod e2e;
pub mod forge;
pub mod frontend_fake;
pub mod gate;
pub mod jobs;
pub mod keyring;
pub mod releases;
pub mod restore;
pub mod stack;
pub mod storage;
pub mod update_server;

pub use cli::{nfops_command, output_text, run_nfops};
pub use gate::{require_stack, skip_or_fail, stack_dir, stack_dir_if_up};
pub use keyring::TestKeyring;
pub use stack::{read_credentials, Stack, StackDir, StoppedService};

/// Tests of one binary that change shared state of the stack (production's
/// database, a stopped service, the app on the display) take turns.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// The repository's root (scripts, assets, target/).
pub fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

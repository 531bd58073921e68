//! NewFinity Ops promotion: carry the exact artifact staging runs to
//! production, one host at a time, verify it, and roll back by itself.
//!
//! - [`plan`]: the dry run (hosts from → to, config diff, secret parity by
//!   hash, pending migrations, gates, duration, rollback scope).
//! - [`run`]: the promotion job, one file per step (`run/gates.rs`,
//!   `stage.rs`, `switch.rs`, `migrations.rs`, `verify.rs`), its rollback
//!   job (`run/rollback.rs`) and how it ended (`run/outcome.rs`).
//! - [`history`]: every attempt, kept in the state database.
//! - Building blocks the steps use: [`release`] (the release model read from
//!   hosts: `current` symlink, `CHECKSUM` digest, `release.json`), [`host`]
//!   (staging, the atomic symlink switch, graceful `pm2 reload`),
//!   [`transfer`] (the streamed, incremental copy of a release, checked on
//!   arrival), [`health`] (through the entry point), [`verify`] (error
//!   rate and p95 from Prometheus against the baseline; missing data fails),
//!   [`frontend`] (Vercel and Netlify drivers).
//!
//! Never depends on Tauri, on `nfops-ops` or on another feature's crate
//! (backups reach the backup gate through [`run::gates::Backups`]); errors
//! are [`nfops_core::Error`].

pub mod frontend;
pub mod health;
pub mod history;
pub mod host;
pub mod plan;
pub mod providers;
pub mod release;
pub mod run;
pub mod transfer;
pub mod verify;

/// The gates (results, change window, approver), at their old path.
pub use run::gates;

pub use history::PromotionRecord;
pub use plan::{PromotionOptions, PromotionPlan};
pub use release::Release;
pub use run::gates::{Backups, GateResult, TakenBackup};
pub use run::outcome::{FinalHost, PromotionOutcome, PromotionState};
pub use run::{Run, RunRecord, VerifySample};

//! NewFinity Ops promotion: carry the exact artifact staging runs to
//! production, one host at a time, verify it, and roll back by itself.
//!
//! - [`release`]: the release model read from hosts (`current` symlink,
//!   `CHECKSUM` digest, `release.json`).
//! - [`plan`]: the dry run (hosts from → to, config diff, secret parity by
//!   hash, pending migrations, gates, duration, rollback scope).
//! - [`gates`]: gate results; change window and approver gates.
//! - [`host`]: staging the artifact (checked on arrival), the atomic symlink
//!   switch and the graceful `pm2 reload`.
//! - [`health`], [`verify`]: health through the entry point; error rate and
//!   p95 from Prometheus against the baseline (missing data fails).
//! - [`engine`]: the job steps of a promotion and of its rollback.
//! - [`frontend`]: Vercel and Netlify drivers.
//!
//! Knows nothing of Tauri; errors are [`nfops_core::Error`].

pub mod engine;
pub mod frontend;
pub mod gates;
pub mod health;
pub mod host;
pub mod plan;
pub mod release;
pub mod verify;

pub use engine::{Run, RunRecord, VerifySample};
pub use gates::GateResult;
pub use plan::{PromotionOptions, PromotionPlan};
pub use release::Release;

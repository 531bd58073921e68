//! NewFinity Ops secrets: per-environment dotenv files encrypted with age.
//!
//! A store is a folder (named by `[secrets] dir` in `environments.toml`) with,
//! per environment, `<env>.env.age` (the app's `.env`, encrypted to the
//! environment's recipients) and `<env>.recipients` (age's recipients-file
//! format: `age1…` and SSH public keys, a `# comment` naming each person).
//! Both are plain age files: `age -d -i KEY staging.env.age` reads one, and
//! `age -R staging.recipients` writes one the console reads.
//!
//! Values are [`nfops_core::SecretString`]s; no error, log line or `Debug`
//! output of this crate carries one. Knows nothing of keyrings or SSH.

mod dotenv;
mod identity;
pub mod recipients;
mod store;

pub use dotenv::{check_key, check_value, valid_key, KeyChanges, Secrets};
pub use identity::{AgeIdentity, IDENTITY_CREDENTIAL};
pub use recipients::{check_recipient, Recipient};
pub use store::{Opened, Store};

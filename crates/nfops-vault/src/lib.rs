//! NewFinity Ops credentials in the OS keyring.
//!
//! [`Keyring`] stores, reads and deletes named credentials (SSH keys,
//! database passwords, API tokens) in the platform's secure store and is the
//! production [`nfops_core::credentials::CredentialSource`]. All keyring
//! access lives in one module (`os_keyring`); nothing else in the workspace
//! links the `keyring` crate.
//!
//! Invariants:
//! - values only travel as [`nfops_core::SecretString`]; no error, log line
//!   or `Debug` output carries one;
//! - there is no fallback store: no keyring means `keyring.unavailable`;
//! - every call blocks (see [`Keyring`]); use `spawn_blocking` from async code,
//!   or hand async jobs a [`KeyringSource`], the one blocking-aware lookup.
//!
//! Never depends on Tauri, on the job crates (backup, restore, promote) or on
//! `nfops-ops`: it sits under all of them.
//!
//! On a headless Linux box, run under `scripts/with-keyring` (a private
//! D-Bus session with an unlocked gnome-keyring); see this crate's README.

mod audit_key;
mod names;
mod os_keyring;
mod signing_key;
mod source;

pub use audit_key::AUDIT_KEY_NAME;
pub use names::{validate_name, validate_value, MAX_NAME_LEN, MAX_VALUE_BYTES};
pub use os_keyring::{Keyring, DEFAULT_SERVICE, DENIED_HINT, SERVICE_ENV, UNAVAILABLE_HINT};
pub use signing_key::{BackupSigningKey, PUBLIC_PREFIX, SIGNING_KEY_CREDENTIAL};
pub use source::KeyringSource;

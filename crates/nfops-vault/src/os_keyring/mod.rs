//! The one place that talks to the OS keyring.
//!
//! A credential is the keyring entry (service, user = credential name): the
//! Secret Service (GNOME Keyring, KWallet) on Linux and the BSDs, the login
//! Keychain on macOS, Credential Manager on Windows. There is no other store
//! and no plaintext fallback: when the keyring cannot be used, the caller
//! gets `keyring.unavailable` or `keyring.denied` and a hint.
//!
//! Every method blocks on IPC with the platform store (D-Bus round trips on
//! Linux; possibly an OS prompt to unlock). Async callers run them in
//! `tokio::task::spawn_blocking`.
//!
//! The platform store is started once per process, on first use (the
//! `keyring` crate keeps it in a process-wide static). If that first start
//! fails (no D-Bus session, no Secret Service), every later call reports
//! `keyring.unavailable` until the process restarts; a locked keyring, in
//! contrast, is retried on every call.

mod errors;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use keyring::Entry;
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result, SecretString};
use zeroize::Zeroize;

use errors::{Context, Op};
pub use errors::{DENIED_HINT, UNAVAILABLE_HINT};

use crate::names::{validate_name, validate_service, validate_value};

/// Service name used when neither [`SERVICE_ENV`] nor [`Keyring::with_service`] says otherwise.
pub const DEFAULT_SERVICE: &str = "nfops";

/// Environment variable that overrides the service name of [`Keyring::new`],
/// so tests and demos never touch an operator's real credentials.
pub const SERVICE_ENV: &str = "NFOPS_KEYRING_SERVICE";

/// Probe entries written by [`Keyring::check`] use a ':' so they can never
/// collide with a credential name (':' is outside the name alphabet).
const PROBE_PREFIX: &str = "nfops:probe";

/// Credentials of one service in the OS keyring.
///
/// Holds only the service name: no value, no connection, so `Debug` is safe
/// and the type is cheap to clone and share between threads.
///
/// Names follow [`crate::validate_name`]; values [`crate::validate_value`].
/// Errors: `input.invalid` (bad name, value or service), `credential.missing`,
/// `keyring.unavailable`, `keyring.denied`, `job.check_failed` (a write that
/// did not read back); never a value in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    service: String,
}

impl Default for Keyring {
    fn default() -> Self {
        Self::new()
    }
}

impl Keyring {
    /// The console's keyring: service [`DEFAULT_SERVICE`], or the value of
    /// [`SERVICE_ENV`] when set and non-empty. Touches no keyring.
    #[must_use]
    pub fn new() -> Self {
        let service = std::env::var(SERVICE_ENV).ok().filter(|s| !s.is_empty());
        Self {
            service: service.unwrap_or_else(|| DEFAULT_SERVICE.to_owned()),
        }
    }

    /// A keyring for another service name (tests, side-by-side installs).
    /// The name is checked on use, with the credential-name rules.
    #[must_use]
    pub fn with_service(service: &str) -> Self {
        Self {
            service: service.to_owned(),
        }
    }

    /// The service name entries are stored under.
    #[must_use]
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Whether the keyring can be used now: writes a probe entry, reads it
    /// back and deletes it. A read alone is not enough: a locked Secret
    /// Service answers "no such entry" to a search without unlocking.
    /// On a desktop this may show the OS prompt to unlock the keyring.
    ///
    /// # Errors
    /// `keyring.unavailable`, `keyring.denied`, `input.invalid` (bad service
    /// name), `job.check_failed` (the probe did not read back).
    pub fn check(&self) -> Result<()> {
        let probe = probe_name();
        let cx = Context {
            op: Op::Check,
            service: &self.service,
            name: &probe,
        };
        validate_service(&self.service)?;
        let entry = Entry::new(&self.service, &probe).map_err(|e| errors::map(e, cx))?;
        // Not a secret: a marker unique to this call.
        let marker = format!("{probe}:{}", unique_suffix());
        entry
            .set_password(&marker)
            .map_err(|e| errors::map(e, cx))?;
        let read = read_back(&entry, cx);
        let deleted = entry.delete_credential().map_err(|e| errors::map(e, cx));
        let mut read = read?;
        let same = read == marker;
        read.zeroize();
        if !same {
            return Err(not_kept(cx));
        }
        deleted
    }

    /// Stores `value` under `name`, replacing any previous value, and reads
    /// it back before returning, so `Ok` means the keyring holds it.
    ///
    /// # Errors
    /// `input.invalid` (name or value), `keyring.unavailable`,
    /// `keyring.denied`, `job.check_failed` (read back differs).
    pub fn set(&self, name: &str, value: &SecretString) -> Result<()> {
        let cx = Context {
            op: Op::Write,
            service: &self.service,
            name,
        };
        validate_value(name, value)?;
        let entry = self.entry(cx)?;
        entry
            .set_password(value.expose())
            .map_err(|e| errors::map(e, cx))?;
        let mut stored = read_back(&entry, cx)?;
        let same = stored == *value.expose();
        stored.zeroize();
        if !same {
            return Err(not_kept(cx));
        }
        Ok(())
    }

    /// The value stored under `name`.
    ///
    /// # Errors
    /// `credential.missing` (with a hint to store it), `input.invalid`,
    /// `keyring.unavailable`, `keyring.denied`.
    pub fn get(&self, name: &str) -> Result<SecretString> {
        let cx = Context {
            op: Op::Read,
            service: &self.service,
            name,
        };
        let entry = self.entry(cx)?;
        entry
            .get_password()
            .map(SecretString::new)
            .map_err(|e| errors::map(e, cx))
    }

    /// Whether `name` is stored. Does not fetch the value.
    ///
    /// # Errors
    /// `input.invalid`, `keyring.unavailable`, `keyring.denied`.
    pub fn exists(&self, name: &str) -> Result<bool> {
        let cx = Context {
            op: Op::Read,
            service: &self.service,
            name,
        };
        let entry = self.entry(cx)?;
        match entry.inner.get_credential() {
            Ok(_) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(errors::map(e, cx)),
        }
    }

    /// Removes `name`.
    ///
    /// # Errors
    /// `credential.missing` when it is not stored, `input.invalid`,
    /// `keyring.unavailable`, `keyring.denied`.
    pub fn delete(&self, name: &str) -> Result<()> {
        let cx = Context {
            op: Op::Delete,
            service: &self.service,
            name,
        };
        let entry = self.entry(cx)?;
        entry.delete_credential().map_err(|e| errors::map(e, cx))
    }

    fn entry(&self, cx: Context<'_>) -> Result<Entry> {
        validate_service(&self.service)?;
        validate_name(cx.name)?;
        Entry::new(&self.service, cx.name).map_err(|e| errors::map(e, cx))
    }
}

impl CredentialSource for Keyring {
    /// See [`Keyring::get`]; blocks.
    fn get(&self, name: &str) -> Result<SecretString> {
        Keyring::get(self, name)
    }
}

/// Reads an entry just written. "No entry" here means the store dropped the
/// write, not that the operator forgot to store it.
fn read_back(entry: &Entry, cx: Context<'_>) -> Result<String> {
    match entry.get_password() {
        Ok(value) => Ok(value),
        Err(keyring::Error::NoEntry) => Err(not_kept(cx)),
        Err(e) => Err(errors::map(e, cx)),
    }
}

fn not_kept(cx: Context<'_>) -> Error {
    Error::new(
        ErrorCode::CheckFailed,
        format!("{cx}: the keyring did not return what was written"),
    )
    .hint(
        "Another program may be changing NewFinity Ops entries: try again, and look at the \
         keyring with its own tool (Seahorse, Keychain Access, Credential Manager).",
    )
}

fn probe_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{PROBE_PREFIX}:{}:{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn unique_suffix() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

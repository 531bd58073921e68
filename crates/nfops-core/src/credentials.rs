//! Where credential values come from.
//!
//! The config names credentials; a [`CredentialSource`] turns a name into its
//! value. The production source is the OS keyring (`nfops-vault`); tests may
//! use [`MemoryCredentials`] only for code that is not about the keyring.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Error, ErrorCode, Result};
use crate::sensitive::SecretString;

/// Resolves credential names to values. Implementations must never log values.
pub trait CredentialSource: Send + Sync {
    /// The value of credential `name`, or `credential.missing`,
    /// `keyring.unavailable`, `keyring.denied`.
    fn get(&self, name: &str) -> Result<SecretString>;
}

/// The error for a credential that is not stored.
pub fn missing(name: &str) -> Error {
    Error::new(
        ErrorCode::CredentialMissing,
        format!("credential '{name}' is not in the keyring"),
    )
    .hint(format!(
        "Store it with `nfops credentials set {name}` or in Settings → Credentials."
    ))
}

/// An in-process map of credentials, for tests of code that consumes credentials.
#[derive(Default)]
pub struct MemoryCredentials(Mutex<HashMap<String, String>>);

impl MemoryCredentials {
    pub fn insert(&self, name: &str, value: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), value.to_owned());
    }
}

impl CredentialSource for MemoryCredentials {
    fn get(&self, name: &str) -> Result<SecretString> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .map(|v| SecretString::new(v.clone()))
            .ok_or_else(|| missing(name))
    }
}

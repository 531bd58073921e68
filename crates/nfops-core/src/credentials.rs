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

    /// Loads every file under `dir` as a credential named by its relative
    /// path (`stack/ssh/deploy`), trailing newlines trimmed: the layout
    /// of the local stack's `credentials/` folder, for benchmarks and tools
    /// that run without a keyring.
    ///
    /// Errors: the I/O error of the first file or folder that cannot be read.
    pub fn load_dir(&self, dir: &std::path::Path) -> std::io::Result<()> {
        self.load_under(dir, "")
    }

    fn load_under(&self, dir: &std::path::Path, prefix: &str) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let full = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if entry.file_type()?.is_dir() {
                self.load_under(&entry.path(), &full)?;
            } else {
                let value = std::fs::read_to_string(entry.path())?;
                self.insert(&full, value.trim_end_matches('\n'));
            }
        }
        Ok(())
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

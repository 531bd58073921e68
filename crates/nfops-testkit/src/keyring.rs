//! A keyring service private to one test, so no operator credential is ever
//! read or touched, emptied again when the test ends.

use std::time::{SystemTime, UNIX_EPOCH};

use nfops_core::SecretString;
use nfops_vault::Keyring;

/// A keyring under a service unique to this test and run, checked usable.
/// Deletes the credentials it stored when dropped.
pub struct TestKeyring {
    pub keyring: Keyring,
    /// The service name, for a process told to use it (`NFOPS_KEYRING_SERVICE`).
    pub service: String,
    created: Vec<String>,
}

impl TestKeyring {
    /// An empty service named after `test`.
    ///
    /// # Panics
    /// When no OS keyring is usable (run under `scripts/with-keyring`).
    pub fn new(test: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let service = format!("nfops-test-{}-{nanos}-{test}", std::process::id());
        let keyring = Keyring::with_service(&service);
        if let Err(e) = keyring.check() {
            panic!(
                "no usable OS keyring ({}: {}). These tests need a real Secret Service: run them \
                 under `scripts/with-keyring`.",
                e.code(),
                e.message()
            );
        }
        Self {
            keyring,
            service,
            created: Vec::new(),
        }
    }

    /// A service named after `test` holding `credentials` (name, value).
    pub fn with(test: &str, credentials: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut kr = Self::new(test);
        for (name, value) in credentials {
            kr.set(&name, &value);
        }
        kr
    }

    /// Deletes `names` too when the keyring drops: entries a process under
    /// test created in this service.
    pub fn forget_on_drop(&mut self, names: &[&str]) {
        for name in names {
            if !self.created.iter().any(|n| n == name) {
                self.created.push((*name).to_owned());
            }
        }
    }

    /// Stores `value` under `name`; it is deleted when the keyring drops.
    pub fn set(&mut self, name: &str, value: &str) {
        self.keyring
            .set(name, &SecretString::new(value.to_owned()))
            .unwrap_or_else(|e| panic!("store {name} in the test keyring: {e}"));
        if !self.created.iter().any(|n| n == name) {
            self.created.push(name.to_owned());
        }
    }
}

impl Drop for TestKeyring {
    fn drop(&mut self) {
        for name in &self.created {
            let _ = self.keyring.delete(name);
        }
    }
}

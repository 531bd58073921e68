//! The audit chain key's home: the OS keyring, under [`AUDIT_KEY_NAME`].

use nfops_core::audit::AuditKeyStore;
use nfops_core::{Result, SecretString};

use crate::Keyring;

/// The keyring entry holding the audit chain key (never in `state.db`).
pub const AUDIT_KEY_NAME: &str = "nfops/audit-chain-key";

impl AuditKeyStore for Keyring {
    fn load(&self) -> Result<Option<SecretString>> {
        if !self.exists(AUDIT_KEY_NAME)? {
            return Ok(None);
        }
        self.get(AUDIT_KEY_NAME).map(Some)
    }

    fn save(&self, record: &SecretString) -> Result<()> {
        self.set(AUDIT_KEY_NAME, record)
    }
}

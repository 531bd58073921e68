//! The audit chain's key: kept in the OS keyring (through [`AuditKeyStore`]),
//! created on first use, never in the state database.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, ErrorCode, Result};
use crate::sensitive::SecretString;

/// Prefix of a keyed entry hash.
pub(super) const KEYED: &str = "k1:";

/// Where the chain key lives (the OS keyring in the console). Blocking calls.
pub trait AuditKeyStore: Send + Sync {
    /// The stored key record, if any (`v1 <created RFC 3339> <hex key>`).
    fn load(&self) -> Result<Option<SecretString>>;
    /// Stores a new key record.
    fn save(&self, record: &SecretString) -> Result<()>;
}

/// The lock file next to `state.db` that serialises key creation.
pub(super) fn lock_path(state_db: &Path) -> PathBuf {
    state_db.with_file_name("audit-key.lock")
}

/// The stored chain key, created first when there is none.
///
/// Two processes starting at once would both see no key and both save one,
/// the second overwriting the first: entries the first process keyed would
/// no longer verify. So creation happens under an exclusive lock on `lock`
/// (a file in the state folder, which every process of this operator
/// shares), and the key used is always the one read back from the store.
pub(super) fn load_or_create(keys: &dyn AuditKeyStore, lock: &Path) -> Result<ChainKey> {
    if let Some(r) = keys.load()? {
        return ChainKey::parse(&r);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock)
        .map_err(|e| Error::io(format!("opening the audit key lock {}", lock.display()), e))?;
    file.lock()
        .map_err(|e| Error::io(format!("locking {}", lock.display()), e))?;
    // Under the lock: another process may have created it while we waited.
    if keys.load()?.is_none() {
        let (_, record) = ChainKey::generate();
        keys.save(&record)?;
    }
    let stored = keys.load()?.ok_or_else(|| {
        Error::new(
            ErrorCode::KeyringUnavailable,
            "the audit chain key was saved to the keyring but cannot be read back",
        )
        .hint("Check that the keyring is unlocked and keeps entries, then run again.")
    })?;
    let key = ChainKey::parse(&stored);
    drop(file); // unlocks
    key
}

/// The chain key and when it was created.
pub(super) struct ChainKey {
    key: Vec<u8>,
    pub(super) created: String,
}

impl Drop for ChainKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl ChainKey {
    pub(super) fn parse(record: &SecretString) -> Result<Self> {
        let bad = || {
            Error::new(
                ErrorCode::AuditTampered,
                "the audit chain key in the keyring is not in the expected form",
            )
            .hint("Someone changed the keyring entry `nfops/audit-chain-key`; keep the state database for investigation.")
        };
        let mut f = record.expose().split(' ');
        if f.next() != Some("v1") {
            return Err(bad());
        }
        let created = f.next().ok_or_else(bad)?.to_owned();
        let key = hex::decode(f.next().ok_or_else(bad)?).map_err(|_| bad())?;
        if key.len() < 32 {
            return Err(bad());
        }
        Ok(Self { key, created })
    }

    pub(super) fn generate() -> (Self, SecretString) {
        // Two v4 UUIDs: 244 bits from the OS random source.
        let mut key = Vec::with_capacity(32);
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let record = SecretString::new(format!("v1 {created} {}", hex::encode(&key)));
        (Self { key, created }, record)
    }

    pub(super) fn mac(&self, canonical: &str) -> String {
        #[allow(clippy::expect_used)] // HMAC takes a key of any length.
        let mut m = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        m.update(canonical.as_bytes());
        format!("{KEYED}{}", hex::encode(m.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey([redacted])")
    }
}

//! The operator's backup signing key: an ed25519 key kept in the OS keyring
//! (credential [`SIGNING_KEY_CREDENTIAL`]), created on the first backup or by
//! `nfops backup signing-key`. Only its public half (`ed25519:<64 hex>`) ever
//! leaves this module: printed for the operator, written into signatures and
//! into `backup.signers` of environments.toml by whoever trusts it.

use nfops_core::{Error, ErrorCode, Result, SecretString};

use crate::Keyring;

/// Keyring credential holding the signing key (`NFOPS-ED25519-SECRET-KEY-<64 hex>`).
pub const SIGNING_KEY_CREDENTIAL: &str = "nfops/backup-signing-key";

/// Prefix of the secret text stored in the keyring.
const SECRET_PREFIX: &str = "NFOPS-ED25519-SECRET-KEY-";

/// Prefix of a public key as written in config and signatures.
pub const PUBLIC_PREFIX: &str = "ed25519:";

/// An ed25519 key that signs backup manifests. `Debug` shows only the public key.
#[derive(Clone)]
pub struct BackupSigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for BackupSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackupSigningKey({})", self.public_key())
    }
}

impl BackupSigningKey {
    /// A new random key and its secret text for the keyring.
    ///
    /// Errors: `internal` when the OS has no random source.
    pub fn generate() -> Result<(Self, SecretString)> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| Error::internal(format!("no random source for a signing key: {e}")))?;
        let key = Self(ed25519_dalek::SigningKey::from_bytes(&seed));
        let text = SecretString::new(format!("{SECRET_PREFIX}{}", hex::encode(seed)));
        zeroize::Zeroize::zeroize(&mut seed);
        Ok((key, text))
    }

    /// The key from its secret text.
    ///
    /// Errors: `input.invalid` (never echoing the text) when it is not one.
    pub fn parse(secret: &SecretString) -> Result<Self> {
        let bad = || {
            Error::new(
                ErrorCode::InvalidInput,
                format!("credential '{SIGNING_KEY_CREDENTIAL}' is not a backup signing key"),
            )
            .hint(format!(
                "Delete it (`nfops credentials delete {SIGNING_KEY_CREDENTIAL}`) and run `nfops backup signing-key` to make a new one; then replace your public key in backup.signers."
            ))
        };
        let hex_part = secret
            .expose()
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(bad)?;
        let mut seed = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut seed).map_err(|_| bad())?;
        let key = Self(ed25519_dalek::SigningKey::from_bytes(&seed));
        zeroize::Zeroize::zeroize(&mut seed);
        Ok(key)
    }

    /// The public key, `ed25519:<64 hex>`: what `backup.signers` lists.
    pub fn public_key(&self) -> String {
        format!(
            "{PUBLIC_PREFIX}{}",
            hex::encode(self.0.verifying_key().to_bytes())
        )
    }

    /// The signature of `message` (64 bytes).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.0.sign(message).to_bytes()
    }
}

impl Keyring {
    /// The operator's signing key; with `create`, a missing one is generated
    /// and stored first. Returns the key and whether it was just created.
    ///
    /// Errors: `credential.missing` (without `create`), `input.invalid` when
    /// the stored value is not a key, and the keyring's own errors.
    pub fn backup_signing_key(&self, create: bool) -> Result<(BackupSigningKey, bool)> {
        match self.get(SIGNING_KEY_CREDENTIAL) {
            Ok(s) => Ok((BackupSigningKey::parse(&s)?, false)),
            Err(e) if create && e.code() == ErrorCode::CredentialMissing => {
                let (key, text) = BackupSigningKey::generate()?;
                self.set(SIGNING_KEY_CREDENTIAL, &text)?;
                Ok((key, true))
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_text_round_trips_and_never_shows_in_debug() {
        let (key, text) = BackupSigningKey::generate().expect("test setup");
        let back = BackupSigningKey::parse(&text).expect("test setup");
        assert_eq!(key.public_key(), back.public_key());
        assert_eq!(key.sign(b"m"), back.sign(b"m"));
        let dbg = format!("{key:?}");
        let hex_secret = text.expose().trim_start_matches(SECRET_PREFIX).to_owned();
        assert!(
            !dbg.contains(&hex_secret),
            "Debug must not print the secret half"
        );
        assert!(key.public_key().starts_with(PUBLIC_PREFIX) && key.public_key().len() == 72);
    }

    #[test]
    fn garbage_is_refused_without_echo() {
        let e = BackupSigningKey::parse(&SecretString::new("NFOPS-ED25519-SECRET-KEY-zz".into()))
            .expect_err("must be refused");
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        assert!(!e.message().contains("zz"));
    }
}

//! age keys: who backups are encrypted to, and the operator's identity.

use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519;
use nfops_core::{Error, ErrorCode, Result, SecretString};

/// Keyring credential holding the operator's age X25519 secret key
/// (`AGE-SECRET-KEY-1…`), shared with the secrets store.
pub const IDENTITY_CREDENTIAL: &str = "nfops/age-identity";

/// Parses `age1…` public keys. Errors: `config.invalid` naming the bad one.
pub fn parse_recipients(keys: &[String]) -> Result<Vec<x25519::Recipient>> {
    keys.iter()
        .map(|k| {
            x25519::Recipient::from_str(k.trim()).map_err(|_| {
                Error::new(
                    ErrorCode::ConfigInvalid,
                    format!("backup recipient '{}' is not an age X25519 public key", short(k)),
                )
                .hint("Recipients are public keys starting with age1 (`age-keygen -y KEYFILE` prints one).")
            })
        })
        .collect()
}

fn short(k: &str) -> String {
    k.chars().take(16).collect::<String>() + if k.chars().count() > 16 { "…" } else { "" }
}

/// The operator's identity from its secret-key text.
/// Errors: `credential.missing`-style `input.invalid` when the text is not a key.
pub fn parse_identity(secret: &SecretString) -> Result<x25519::Identity> {
    x25519::Identity::from_str(secret.expose().trim()).map_err(|_| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("credential '{IDENTITY_CREDENTIAL}' is not an age X25519 secret key"),
        )
        .hint(format!(
            "Store a key made by `age-keygen` (the AGE-SECRET-KEY-1… line) with `nfops credentials set {IDENTITY_CREDENTIAL}`."
        ))
    })
}

/// A new identity, as the secret text to store.
pub fn generate_identity() -> (x25519::Identity, SecretString) {
    let id = x25519::Identity::generate();
    let text = SecretString::new(id.to_string().expose_secret().to_owned());
    (id, text)
}

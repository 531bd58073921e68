//! The operator's age identity (an X25519 key pair).
//!
//! The private half travels only as a [`SecretString`] between the OS keyring
//! and this type; it is never written to disk by the console.

use age::secrecy::ExposeSecret;
use nfops_core::{Error, ErrorCode, Result, SecretString};

/// Keyring credential name of the operator's age identity.
pub const IDENTITY_CREDENTIAL: &str = "nfops/age-identity";

/// An X25519 age identity. `Debug` shows the public key only.
#[derive(Clone)]
pub struct AgeIdentity {
    inner: age::x25519::Identity,
}

impl std::fmt::Debug for AgeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgeIdentity({})", self.public_key())
    }
}

impl AgeIdentity {
    /// A new random identity.
    pub fn generate() -> Self {
        Self {
            inner: age::x25519::Identity::generate(),
        }
    }

    /// Parses `AGE-SECRET-KEY-1…`; `#` comment lines and blank lines (as in
    /// an `age-keygen` file) are skipped.
    ///
    /// # Errors
    /// `input.invalid` when no line is an X25519 age secret key (the text is not quoted).
    pub fn parse(secret: &SecretString) -> Result<Self> {
        let line = secret
            .expose()
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        line.parse::<age::x25519::Identity>()
            .map(|inner| Self { inner })
            .map_err(|_| {
                Error::new(ErrorCode::InvalidInput, "that is not an age identity (AGE-SECRET-KEY-1…)")
                    .hint("Import the secret key line of an `age-keygen` file; SSH private keys are not accepted as identities here.")
            })
    }

    /// The secret key line, for the keyring only.
    pub fn to_secret(&self) -> SecretString {
        SecretString::new(self.inner.to_string().expose_secret().to_owned())
    }

    /// The public key (`age1…`), safe to show and share.
    pub fn public_key(&self) -> String {
        self.inner.to_public().to_string()
    }

    pub(crate) fn as_age(&self) -> &age::x25519::Identity {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_secret_and_hides_it_in_debug() {
        let id = AgeIdentity::generate();
        let back = AgeIdentity::parse(&id.to_secret()).expect("own secret parses");
        assert_eq!(id.public_key(), back.public_key());
        assert!(
            !format!("{id:?}").contains("AGE-SECRET-KEY"),
            "Debug must not show the secret"
        );
        let commented = SecretString::new(format!(
            "# created: now\n# public key: {}\n{}\n",
            id.public_key(),
            id.to_secret().expose()
        ));
        assert!(
            AgeIdentity::parse(&commented).is_ok(),
            "age-keygen files parse"
        );
        assert!(AgeIdentity::parse(&SecretString::new("nope".into())).is_err());
    }
}

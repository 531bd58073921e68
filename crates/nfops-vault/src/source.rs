//! The keyring as the credential source of async jobs.

use std::sync::Arc;

use nfops_core::credentials::CredentialSource;
use nfops_core::{Result, SecretString};

use crate::Keyring;

/// A [`CredentialSource`] for code that runs on a tokio runtime (backup,
/// restore and promotion steps, probes): each lookup is a blocking keyring
/// call, so on a multi-thread runtime it runs under `block_in_place` and the
/// runtime's other tasks keep going. On a current-thread runtime (or outside
/// any runtime) it simply blocks, which is all that runtime allows.
///
/// Errors: as [`Keyring::get`] (`credential.missing`, `keyring.unavailable`,
/// `keyring.denied`).
#[derive(Clone)]
pub struct KeyringSource(pub Arc<Keyring>);

impl CredentialSource for KeyringSource {
    fn get(&self, name: &str) -> Result<SecretString> {
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(|| self.0.get(name))
        } else {
            self.0.get(name)
        }
    }
}

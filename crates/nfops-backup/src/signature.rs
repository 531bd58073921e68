//! Authentic backups: `manifest.json.sig`, a detached ed25519 signature of
//! the exact bytes of `manifest.json` (which holds every file's size and
//! SHA-256), written by the backup run before the folder is published.
//!
//! age encrypts to public keys and a manifest's hashes come from the backup
//! itself, so anyone able to write the backup folder or bucket could forge a
//! backup without this. Verify, restore and drill accept a backup only when
//! its signature verifies under a key the environment trusts
//! (`backup.signers` in environments.toml); the files are then checked
//! against the signed manifest.
//!
//! File format (text, three lines):
//! ```text
//! nfops-backup-signature-v1
//! signer ed25519:<64 hex>
//! signature <128 hex>
//! ```
//! The signed message is the first line, a newline, then the manifest bytes.

use std::io::Write;
use std::path::Path;

use nfops_core::config::Environment;
use nfops_core::{Error, ErrorCode, Result};
use nfops_vault::{BackupSigningKey, PUBLIC_PREFIX};

use crate::manifest::MANIFEST;

/// The signature file's name, next to the manifest.
pub const SIGNATURE: &str = "manifest.json.sig";

const MAGIC: &str = "nfops-backup-signature-v1";

/// The keys an environment trusts to sign its backups (`backup.signers`).
#[derive(Debug, Clone, Default)]
pub struct TrustedSigners {
    environment: String,
    keys: Vec<(String, ed25519_dalek::VerifyingKey)>,
}

impl TrustedSigners {
    /// The signers `env` (named `name`) trusts.
    ///
    /// Errors: `config.invalid` naming a listed key that is not a valid
    /// ed25519 public key.
    pub fn of(name: &str, env: &Environment) -> Result<Self> {
        let mut keys = Vec::new();
        if let Some(s) = env.backup.as_ref().and_then(|b| b.signers.as_ref()) {
            for (signer, key) in s.get_ref() {
                let k = parse_public(key).ok_or_else(|| {
                    Error::new(
                        ErrorCode::ConfigInvalid,
                        format!("backup.signers.{signer} of environment '{name}' is not a valid ed25519 public key"),
                    )
                    .hint("Copy the key exactly as `nfops backup signing-key` prints it.")
                })?;
                keys.push((signer.clone(), k));
            }
        }
        Ok(Self {
            environment: name.to_owned(),
            keys,
        })
    }

    /// The name under which `key` is trusted, if it is.
    fn name_of(&self, key: &ed25519_dalek::VerifyingKey) -> Option<&str> {
        self.keys
            .iter()
            .find(|(_, k)| k == key)
            .map(|(n, _)| n.as_str())
    }
}

fn parse_public(text: &str) -> Option<ed25519_dalek::VerifyingKey> {
    let mut b = [0u8; 32];
    hex::decode_to_slice(text.trim().strip_prefix(PUBLIC_PREFIX)?, &mut b).ok()?;
    ed25519_dalek::VerifyingKey::from_bytes(&b).ok()
}

fn message(manifest: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(MAGIC.len() + 1 + manifest.len());
    m.extend_from_slice(MAGIC.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(manifest);
    m
}

/// Signs `dir/manifest.json` with `key` into `dir/manifest.json.sig`
/// (temp file, fsync, rename) and checks the written signature.
///
/// Errors: `io.error` reading the manifest or writing the signature;
/// `job.check_failed` when the signature read back does not verify.
pub fn sign_manifest(dir: &Path, key: &BackupSigningKey) -> Result<()> {
    let manifest = std::fs::read(dir.join(MANIFEST))
        .map_err(|e| Error::io("reading the manifest to sign it", e))?;
    let sig = key.sign(&message(&manifest));
    let text = format!(
        "{MAGIC}\nsigner {}\nsignature {}\n",
        key.public_key(),
        hex::encode(sig)
    );
    let tmp = dir.join(format!("{SIGNATURE}.tmp"));
    let io = |e| Error::io(format!("writing {SIGNATURE} in {}", dir.display()), e);
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, dir.join(SIGNATURE)).map_err(io)?;
    let own = TrustedSigners {
        environment: String::new(),
        keys: vec![(
            "this operator".into(),
            parse_public(&key.public_key()).ok_or_else(|| Error::internal("own key unreadable"))?,
        )],
    };
    check_signature(&manifest, &text, &own, "the new backup").map(|_| ())
}

/// Checks the signature of the backup in `dir` against `trusted`; returns
/// the trusted signer's name. `manifest` is the exact bytes the caller parsed
/// (from [`crate::Manifest::read_with_bytes`]): the manifest is never read
/// again here, so a file swapped after parsing cannot pass for the signed
/// one. Call before reading anything else of the backup: only a signed
/// manifest's hashes prove the files.
///
/// Errors: `backup.untrusted` when there is no signature, it is damaged, it
/// does not match the manifest (altered), or its key is not trusted by the
/// environment (the message names the key and the environment).
pub fn verify_manifest(
    manifest: &[u8],
    dir: &Path,
    trusted: &TrustedSigners,
    backup: &str,
) -> Result<String> {
    let text = match std::fs::read_to_string(dir.join(SIGNATURE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(untrusted(
                format!("backup {backup} is not signed (no {SIGNATURE}): nothing was restored or changed"),
                "Only signed backups are accepted: anyone able to write the backup folder could have made this one. Take a new backup with this console (it signs every backup).",
            ))
        }
        Err(e) => return Err(Error::io(format!("reading {SIGNATURE} of backup {backup}"), e)),
    };
    check_signature(manifest, &text, trusted, &format!("backup {backup}"))
}

fn check_signature(
    manifest: &[u8],
    text: &str,
    trusted: &TrustedSigners,
    what: &str,
) -> Result<String> {
    let mut lines = text.lines();
    let parsed = (|| {
        if lines.next()? != MAGIC {
            return None;
        }
        let signer = lines.next()?.strip_prefix("signer ")?.to_owned();
        let sig_hex = lines.next()?.strip_prefix("signature ")?;
        let mut sig = [0u8; 64];
        hex::decode_to_slice(sig_hex, &mut sig).ok()?;
        Some((signer, sig))
    })();
    let Some((signer, sig)) = parsed else {
        return Err(untrusted(
            format!(
                "the signature of {what} ({SIGNATURE}) is damaged: nothing was restored or changed"
            ),
            "Treat this backup as forged or damaged; restore another one.",
        ));
    };
    let Some(key) = parse_public(&signer) else {
        return Err(untrusted(
            format!("the signature of {what} names no valid key: nothing was restored or changed"),
            "Treat this backup as forged or damaged; restore another one.",
        ));
    };
    let Some(name) = trusted.name_of(&key) else {
        let env = &trusted.environment;
        return Err(untrusted(
            format!("{what} is signed by {signer}, which environment '{env}' does not trust: nothing was restored or changed"),
            &format!("If that key is a colleague's, add it under [environments.{env}.backup.signers] in environments.toml (name = \"{signer}\"); otherwise treat the backup as forged."),
        ));
    };
    key.verify_strict(&message(manifest), &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| {
            untrusted(
                format!("the manifest of {what} was changed after {name} signed it (signature does not verify): nothing was restored or changed"),
                "Treat this backup as forged or damaged; restore another one.",
            )
        })?;
    Ok(name.to_owned())
}

fn untrusted(message: String, hint: &str) -> Error {
    Error::new(ErrorCode::BackupUntrusted, message).hint(hint.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(key: &BackupSigningKey) -> TrustedSigners {
        TrustedSigners {
            environment: "staging".into(),
            keys: vec![(
                "alice".into(),
                parse_public(&key.public_key()).expect("test setup"),
            )],
        }
    }

    #[test]
    fn signed_manifest_verifies_and_any_change_is_refused() {
        let dir = tempfile::tempdir().expect("test setup");
        std::fs::write(dir.path().join(MANIFEST), b"{\"a\":1}").expect("test setup");
        let (key, _) = BackupSigningKey::generate().expect("test setup");
        sign_manifest(dir.path(), &key).expect("test setup");
        let read = || std::fs::read(dir.path().join(MANIFEST)).expect("test setup");
        assert_eq!(
            verify_manifest(&read(), dir.path(), &trusted(&key), "b1").expect("test setup"),
            "alice"
        );

        let (other, _) = BackupSigningKey::generate().expect("test setup");
        let e = verify_manifest(&read(), dir.path(), &trusted(&other), "b1")
            .expect_err("must be refused");
        assert_eq!(e.code(), ErrorCode::BackupUntrusted);
        assert!(e.message().contains("does not trust"), "{}", e.message());

        std::fs::write(dir.path().join(MANIFEST), b"{\"a\":2}").expect("test setup");
        let e = verify_manifest(&read(), dir.path(), &trusted(&key), "b1")
            .expect_err("must be refused");
        assert!(
            e.message().contains("changed after alice signed"),
            "{}",
            e.message()
        );

        std::fs::remove_file(dir.path().join(SIGNATURE)).expect("test setup");
        let e = verify_manifest(&read(), dir.path(), &trusted(&key), "b1")
            .expect_err("must be refused");
        assert!(e.message().contains("not signed"), "{}", e.message());
    }

    /// The bytes verified are the bytes parsed: a manifest swapped on disk
    /// after it was read is not the one checked (on main the signature was
    /// checked against a second read of the file, so a signed manifest
    /// could be verified while an altered one was used).
    #[test]
    fn the_parsed_bytes_are_verified_not_the_file_read_again() {
        let dir = tempfile::tempdir().expect("test setup");
        std::fs::write(dir.path().join(MANIFEST), b"{\"a\":1}").expect("test setup");
        let (key, _) = BackupSigningKey::generate().expect("test setup");
        sign_manifest(dir.path(), &key).expect("test setup");
        let parsed = b"{\"a\":666}".to_vec();
        // The signed file is what sits on disk at verify time; what the
        // caller parsed (and will use) is another manifest.
        let e = verify_manifest(&parsed, dir.path(), &trusted(&key), "b1")
            .expect_err("an altered manifest must be refused even when the file on disk is signed");
        assert_eq!(e.code(), ErrorCode::BackupUntrusted);
        assert!(
            e.message().contains("changed after alice signed"),
            "{}",
            e.message()
        );
    }
}

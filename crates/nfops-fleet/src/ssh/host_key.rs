//! Server host key verification: a pinned `SHA256:` fingerprint, or trust on
//! first use with a known-hosts file.
//!
//! Invariant: a connection is only ever accepted when the presented key equals
//! the pinned fingerprint, or equals a key recorded for `[address]:port`, or no
//! key at all is recorded for it yet (then it is recorded). A recorded key of
//! *any* algorithm that differs refuses the connection: a server that suddenly
//! offers another key type is as suspicious as a changed key.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nfops_core::{Error, ErrorCode, Result};
use russh::keys::ssh_key::public::KeyData;
use russh::keys::{HashAlg, PublicKey};

/// The fingerprint of `key` exactly as `ssh-keygen -l` prints it (`SHA256:` +
/// unpadded base64).
pub(crate) fn fingerprint_sha256(key: &KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Extracts the base64 digest from a configured fingerprint.
///
/// Accepts the bare `SHA256:...` form or a whole `ssh-keygen -l` line
/// (`256 SHA256:... comment (ED25519)`); tolerates `=` padding. `None` when no
/// `SHA256:` token is present (MD5 fingerprints are not accepted).
pub(crate) fn expected_digest(configured: &str) -> Option<&str> {
    let token = configured
        .split_whitespace()
        .find_map(|t| t.strip_prefix("SHA256:"))?;
    let digest = token.trim_end_matches('=');
    (!digest.is_empty()).then_some(digest)
}

/// Whether a configured fingerprint names the key whose fingerprint is `actual`
/// (as produced by [`fingerprint_sha256`]). Base64 is case-sensitive, so is this.
pub(crate) fn fingerprint_matches(configured: &str, actual: &str) -> bool {
    match (expected_digest(configured), actual.strip_prefix("SHA256:")) {
        (Some(want), Some(got)) => want == got.trim_end_matches('='),
        _ => false,
    }
}

/// How the server's key is judged for one connection.
#[derive(Debug, Clone)]
pub(crate) struct HostKeyPolicy {
    pub host_name: String,
    pub address: String,
    pub port: u16,
    pub pinned: Option<String>,
    pub known_hosts: PathBuf,
}

/// Serialises read-check-append on known-hosts files within this process, so
/// concurrent first connections do not race on the file.
static KNOWN_HOSTS_LOCK: Mutex<()> = Mutex::new(());

impl HostKeyPolicy {
    fn endpoint(&self) -> String {
        super::endpoint(&self.address, self.port)
    }

    /// Accepts `key` or returns the `ssh.connect` error that explains why not.
    pub fn verify(&self, key: &KeyData) -> Result<()> {
        let actual = fingerprint_sha256(key);
        if let Some(pinned) = &self.pinned {
            if expected_digest(pinned).is_none() {
                return Err(Error::new(
                    ErrorCode::SshConnect,
                    format!("host_key of host '{}' is not a SHA256 fingerprint", self.host_name),
                )
                .hint("Write it as printed by `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host, e.g. SHA256:abc…"));
            }
            if fingerprint_matches(pinned, &actual) {
                return Ok(());
            }
            return Err(Error::new(
                ErrorCode::SshConnect,
                format!(
                    "host key mismatch for host '{}' at {}: expected {}, the server presented {actual}: possible MITM, connection refused",
                    self.host_name,
                    self.endpoint(),
                    pinned.trim()
                ),
            )
            .hint("If the host was reinstalled, check its new key out of band (ssh-keygen -lf on the host) and update host_key in environments.toml."));
        }
        self.trust_on_first_use(key, &actual)
    }

    fn trust_on_first_use(&self, key: &KeyData, actual: &str) -> Result<()> {
        let _guard = KNOWN_HOSTS_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let path = &self.known_hosts;
        let recorded =
            russh::keys::known_hosts::known_host_keys_path(&self.address, self.port, path)
                .map_err(|e| {
                    Error::new(
                ErrorCode::SshConnect,
                format!("cannot read the known-hosts file {}", path.display()),
            )
            .hint("Fix or remove the damaged line; the next connection records the host again.")
            .source(e)
                })?;
        if recorded.iter().any(|(_, k)| k.key_data() == key) {
            return Ok(());
        }
        if let Some((line, old)) = recorded.first() {
            return Err(Error::new(
                ErrorCode::SshConnect,
                format!(
                    "host key of host '{}' at {} changed since it was first seen ({}:{line} has {}, the server presented {actual}): possible MITM, connection refused",
                    self.host_name,
                    self.endpoint(),
                    path.display(),
                    fingerprint_sha256(old.key_data()),
                ),
            )
            .hint(format!(
                "If the host was legitimately reinstalled, check the new key out of band and remove line {line} of {}, or pin it with host_key.",
                path.display()
            )));
        }
        append_known_host(path, &self.address, self.port, key).map_err(|e| {
            Error::io(
                format!(
                    "recording the host key of '{}' in {}",
                    self.host_name,
                    path.display()
                ),
                e,
            )
        })?;
        tracing::info!(host = %self.host_name, endpoint = %self.endpoint(), fingerprint = %actual, "trusting SSH host key on first use");
        Ok(())
    }
}

/// Appends `[address]:port algo base64` (OpenSSH's format; plain `address`
/// for port 22), creating the file and its folder when missing.
fn append_known_host(path: &Path, address: &str, port: u16, key: &KeyData) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom, Write};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let openssh = PublicKey::new(key.clone(), "")
        .to_openssh()
        .map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let mut line = String::new();
    if file.seek(SeekFrom::End(-1)).is_ok() {
        let mut last = [0u8; 1];
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            line.push('\n');
        }
    }
    if port == 22 {
        line.push_str(address);
    } else {
        line.push_str(&format!("[{address}]:{port}"));
    }
    line.push(' ');
    line.push_str(openssh.trim());
    line.push('\n');
    file.write_all(line.as_bytes())?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const OTHER: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIA6rWI3G2sz07DnfFlrouTcysQlj2P+jpNSOEWD9OJ3X";

    fn key(b64: &str) -> KeyData {
        russh::keys::parse_public_key_base64(b64)
            .expect("test key parses")
            .key_data()
            .clone()
    }

    fn policy(dir: &Path, pinned: Option<&str>) -> HostKeyPolicy {
        HostKeyPolicy {
            host_name: "app1".into(),
            address: "127.0.0.1".into(),
            port: 2222,
            pinned: pinned.map(str::to_owned),
            known_hosts: dir.join("known_hosts"),
        }
    }

    #[test]
    fn fingerprint_comparison_accepts_ssh_keygen_forms() {
        let fp = fingerprint_sha256(&key(ED25519));
        assert!(
            fp.starts_with("SHA256:") && !fp.ends_with('='),
            "ssh-keygen prints unpadded SHA256:base64, got {fp}"
        );
        assert!(fingerprint_matches(&fp, &fp));
        assert!(
            fingerprint_matches(&format!("{fp}="), &fp),
            "padding must not matter"
        );
        assert!(
            fingerprint_matches(&format!("256 {fp} root@host (ED25519)"), &fp),
            "a pasted ssh-keygen -l line works"
        );
        assert!(
            !fingerprint_matches(&fp.to_lowercase(), &fp),
            "base64 is case-sensitive"
        );
        assert!(
            !fingerprint_matches("MD5:aa:bb", &fp),
            "MD5 fingerprints are not accepted"
        );
        assert!(!fingerprint_matches("SHA256:", &fp));
        assert!(!fingerprint_matches(&fingerprint_sha256(&key(OTHER)), &fp));
    }

    #[test]
    fn pinned_mismatch_is_refused_as_possible_mitm() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other = fingerprint_sha256(&key(OTHER));
        let err = policy(dir.path(), Some(&other))
            .verify(&key(ED25519))
            .expect_err("a different key must be refused");
        assert_eq!(err.code(), ErrorCode::SshConnect);
        assert!(
            err.message().contains("mismatch") && err.message().contains("MITM"),
            "{}",
            err.message()
        );
        assert!(
            err.message().contains("127.0.0.1:2222"),
            "the endpoint is named: {}",
            err.message()
        );
        let ok = fingerprint_sha256(&key(ED25519));
        policy(dir.path(), Some(&ok))
            .verify(&key(ED25519))
            .expect("the pinned key is accepted");
        assert!(
            !dir.path().join("known_hosts").exists(),
            "a pinned host never touches known_hosts"
        );
    }

    #[test]
    fn trust_on_first_use_records_then_refuses_a_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = policy(dir.path(), None);
        p.verify(&key(ED25519)).expect("first use is trusted");
        p.verify(&key(ED25519))
            .expect("the same key again is accepted");
        let text = std::fs::read_to_string(&p.known_hosts).expect("known_hosts written");
        assert!(
            text.trim_start()
                .starts_with("[127.0.0.1]:2222 ssh-ed25519 "),
            "OpenSSH format: {text}"
        );
        let err = p
            .verify(&key(OTHER))
            .expect_err("a changed key must be refused");
        assert_eq!(err.code(), ErrorCode::SshConnect);
        assert!(
            err.message().contains("changed") && err.message().contains("MITM"),
            "{}",
            err.message()
        );
        let again = std::fs::read_to_string(&p.known_hosts).expect("known_hosts");
        assert_eq!(text, again, "a refused key is never recorded");
    }
}

//! Reading a server's host key without logging in: the first-run setup
//! shows its fingerprint for the operator to compare with the one the host
//! itself prints (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), and
//! only a confirmed fingerprint is written (`host_key`). Nothing is
//! recorded or trusted here: the handshake stops as soon as the key is seen.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nfops_core::{Error, ErrorCode, Result};
use russh::client;
use russh::keys::PublicKeyOrCertificate;
use tokio::net::TcpStream;

use super::host_key::fingerprint_sha256;

/// A host key as the server presented it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedKey {
    /// `SHA256:` + unpadded base64, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The key type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa-sha2-512`…).
    pub algorithm: String,
}

struct Scanner {
    seen: Arc<Mutex<Option<ScannedKey>>>,
}

impl client::Handler for Scanner {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data(),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key(),
        };
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(ScannedKey {
            fingerprint: fingerprint_sha256(key),
            algorithm: key.algorithm().to_string(),
        });
        // Refused on purpose: the key is only looked at, never logged in to.
        Ok(false)
    }
}

/// Connects to `address:port`, reads the server's host key and hangs up.
///
/// Errors: `ssh.connect` when nothing answers within `timeout`, the port
/// refuses, or what answers is not an SSH server (the message names the
/// endpoint).
pub async fn scan_host_key(address: &str, port: u16, timeout: Duration) -> Result<ScannedKey> {
    let (address, at) = (
        address.trim().to_owned(),
        super::endpoint(address.trim(), port),
    );
    super::runtime()
        .spawn(async move { scan_here(&address, port, &at, timeout).await })
        .await
        .map_err(|e| Error::internal(format!("the SSH scan task stopped: {e}")))?
}

async fn scan_here(address: &str, port: u16, at: &str, timeout: Duration) -> Result<ScannedKey> {
    let failed = |why: String| {
        Error::new(ErrorCode::SshConnect, format!("cannot read the SSH host key of {at}: {why}"))
            .hint("Check the address and port, and that sshd runs there and is reachable from this machine (firewall, VPN).")
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let tcp = match tokio::time::timeout_at(deadline, TcpStream::connect((address, port))).await {
        Err(_) => return Err(failed(format!("no answer within {}s", timeout.as_secs()))),
        Ok(Err(e)) => return Err(failed(e.to_string()).source(e)),
        Ok(Ok(s)) => s,
    };
    let seen = Arc::new(Mutex::new(None));
    let handler = Scanner {
        seen: Arc::clone(&seen),
    };
    let config = Arc::new(client::Config::default());
    let outcome =
        tokio::time::timeout_at(deadline, client::connect_stream(config, tcp, handler)).await;
    let key = seen.lock().unwrap_or_else(|p| p.into_inner()).take();
    match (key, outcome) {
        (Some(k), _) => Ok(k),
        (None, Err(_)) => Err(failed(format!(
            "no SSH handshake within {}s",
            timeout.as_secs()
        ))),
        (None, Ok(Err(e))) => Err(failed(format!(
            "not an SSH server, or the handshake failed: {e}"
        ))),
        (None, Ok(Ok(_))) => Err(Error::internal(format!(
            "the SSH handshake with {at} finished without showing a host key"
        ))),
    }
}

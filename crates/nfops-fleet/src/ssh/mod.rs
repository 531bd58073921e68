//! SSH sessions to the platform's hosts (russh).
//!
//! A [`SshSession`] is authenticated with the host's private key, taken from
//! the credential named by `host.ssh_key_credential`, or through the
//! operator's running agent (`ssh_auth = "agent"`, see [`agent`]), after the
//! server's host key was verified (pinned fingerprint or trust on first use, see
//! [`host_key`]). It runs remote commands ([`SshSession::exec`]) and forwards
//! local ports ([`SshSession::forward`]). Key material never appears in an
//! error or a log line.

mod agent;
mod exec;
mod host_key;
mod key_repair;
mod link;
mod private_key;
mod quote;
mod scan;
mod stream;
mod tunnel;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nfops_core::config::{Host, HostAuth};
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub use exec::ExecOutput;
pub(crate) use exec::{excerpt, stderr_tail};
pub use link::SshLink;
pub use quote::shell_quote;
pub use scan::{scan_host_key, ScannedKey};
pub use stream::{RemoteProcess, RemoteStdin};
pub use tunnel::Tunnel;

use host_key::HostKeyPolicy;
use link::LinkState;
use private_key::load_private_key;

/// Used by [`SshSession::connect`]: TCP connect, handshake and authentication together.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `address:port`, with IPv6 literals bracketed.
pub(crate) fn endpoint(address: &str, port: u16) -> String {
    if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

/// The client side of the russh session: checks the server's key.
pub(crate) struct ClientHandler {
    policy: HostKeyPolicy,
    /// Where [`ClientHandler::ended`] leaves why the session ended.
    link: Arc<LinkState>,
}

/// Why the russh session ended early: a protocol error, or our refusal of the
/// host key (kept whole so the operator sees why).
#[derive(Debug)]
pub(crate) enum HandlerError {
    Ssh(russh::Error),
    Refused(Error),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Ssh(e)
    }
}

impl client::Handler for ClientHandler {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, HandlerError> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data(),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key(),
        };
        self.policy
            .verify(key)
            .map(|()| true)
            .map_err(HandlerError::Refused)
    }

    async fn disconnected(
        &mut self,
        reason: client::DisconnectReason<HandlerError>,
    ) -> Result<(), HandlerError> {
        self.ended(&reason);
        match reason {
            client::DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            client::DisconnectReason::Error(e) => Err(e),
        }
    }
}

/// An authenticated SSH connection to one host.
///
/// Cheap to share by reference; channels (commands, tunnels) are opened
/// concurrently. Dropping the session (and every [`Tunnel`] made from it)
/// closes the connection.
pub struct SshSession {
    handle: Arc<client::Handle<ClientHandler>>,
    link: Arc<LinkState>,
    dialer: Dialer,
    host_name: String,
    endpoint: String,
}

impl std::fmt::Debug for SshSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshSession")
            .field("host", &self.host_name)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl SshSession {
    /// Connects to `host` and authenticates as `host.user` with the private key
    /// stored in credential `host.ssh_key_credential` (OpenSSH format: ed25519,
    /// ECDSA or RSA; unencrypted), or, for `ssh_auth = "agent"`, with the
    /// identities of the running agent (only `agent_key`'s when set). Gives up
    /// after [`DEFAULT_CONNECT_TIMEOUT`].
    ///
    /// Host key: when `host.host_key` is set the server's key must have that
    /// `SHA256:` fingerprint; otherwise the first key seen for
    /// `[address]:port` is recorded in `known_hosts` and any later different
    /// key is refused.
    ///
    /// Errors: the credential source's errors; `ssh.connect` for refused or
    /// timed-out TCP connections, failed handshakes and refused host keys
    /// (the message names `address:port`); `ssh.auth` when the key is not a
    /// usable private key or the server rejects it (for the agent: every
    /// identity offered, listed by fingerprint); `ssh.agent_unavailable` when
    /// an agent host finds no agent.
    pub async fn connect(
        host: &Host,
        creds: &dyn CredentialSource,
        known_hosts: &Path,
    ) -> Result<SshSession> {
        Self::connect_with_timeout(host, creds, known_hosts, DEFAULT_CONNECT_TIMEOUT).await
    }

    /// [`SshSession::connect`] with an explicit overall timeout.
    pub async fn connect_with_timeout(
        host: &Host,
        creds: &dyn CredentialSource,
        known_hosts: &Path,
        timeout: Duration,
    ) -> Result<SshSession> {
        // The keyring is read once: the tunnel's later sessions reuse the key.
        let identity = match host.auth() {
            HostAuth::Key { credential } => {
                Identity::Key(Arc::new(load_private_key(host, credential, creds)?))
            }
            HostAuth::Agent { .. } => Identity::Agent,
        };
        let dialer = Dialer {
            host: host.clone(),
            known_hosts: known_hosts.to_owned(),
            identity,
        };
        dialer.dial(timeout, Arc::default()).await
    }

    /// The configured name of the host this session is connected to.
    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    /// `address:port` of the SSH server.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// This session as the carrier of tunnelled connections: says whether
    /// (and why) it was lost. Cheap; keeps the session open while held.
    pub fn link(&self) -> SshLink {
        SshLink {
            handle: Arc::clone(&self.handle),
            link: Arc::clone(&self.link),
            host_name: self.host_name.clone(),
            endpoint: self.endpoint.clone(),
        }
    }

    /// Forwards a local port to `remote_host:remote_port` as seen from this
    /// host (`direct-tcpip` channels, like `ssh -L`). See [`Tunnel`].
    ///
    /// Errors: `io.error` when no local port can be bound. A connection the
    /// server refuses to forward is closed at once and logged; the listener
    /// goes on.
    pub async fn forward(&self, remote_host: &str, remote_port: u16) -> Result<Tunnel> {
        Tunnel::open(self.link(), self.dialer.clone(), remote_host, remote_port).await
    }

    /// Says goodbye to the server (SSH_MSG_DISCONNECT) so its log shows a clean
    /// logout rather than a reset. Best effort: never fails. Tunnels made from
    /// this session stop carrying data.
    pub async fn disconnect(&self) {
        let bye = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "nfops done", "en");
        if let Err(e) = tokio::time::timeout(Duration::from_secs(1), bye)
            .await
            .unwrap_or(Ok(()))
        {
            tracing::debug!(host = %self.host_name, error = %e, "SSH disconnect failed");
        }
    }

    fn channel_error(&self, what: &str, e: russh::Error) -> Error {
        Error::new(
            ErrorCode::SshCommand,
            format!("{what} on host '{}' ({})", self.host_name, self.endpoint),
        )
        .hint("The SSH connection may have dropped; try again.")
        .source(e)
    }
}

/// The runtime every SSH session, tunnel listener and tunnelled connection
/// runs on: one thread of its own. russh answers the server's keepalive
/// requests from its session task; on the caller's runtime that task waited
/// behind CPU-heavy work (a debug build formatting and hashing rows on every
/// worker of a busy machine) long enough for sshd to cut the session
/// ("Timeout, client not responding"), two sessions at the same second.
/// Handles and streams work from any runtime; only the tasks live here.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("nfops-ssh")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the SSH runtime thread: {e}"))
    })
}

/// What it takes to open another session to the same host without asking
/// the credential store again: a tunnel opens one session per forwarded
/// connection (see [`Tunnel`]), and the keyring may prompt on some desktops.
#[derive(Clone)]
pub(crate) struct Dialer {
    host: Host,
    known_hosts: std::path::PathBuf,
    identity: Identity,
}

/// Where a dial's login comes from: the key read from the keyring once, or
/// the agent, asked again on every dial (it may have been locked or
/// changed meanwhile).
#[derive(Clone)]
enum Identity {
    Key(Arc<russh::keys::PrivateKey>),
    Agent,
}

impl Dialer {
    /// Connects and authenticates within `timeout`; the session's end is
    /// recorded in `link` (shared by every session of one tunnel).
    // Long on purpose: TCP connect, handshake, host-key check and authentication share one deadline and one error mapping.
    pub(crate) async fn dial(&self, timeout: Duration, link: Arc<LinkState>) -> Result<SshSession> {
        // The session's task (russh spawns it from `connect_stream`) lives on
        // the SSH runtime: see [`runtime`].
        let me = self.clone();
        runtime()
            .spawn(async move { me.dial_here(timeout, link).await })
            .await
            .map_err(|e| Error::internal(format!("the SSH connect task stopped: {e}")))?
    }

    // Long on purpose: identity, TCP connect, handshake, host-key check and authentication share one deadline and one error mapping.
    async fn dial_here(&self, timeout: Duration, link: Arc<LinkState>) -> Result<SshSession> {
        let host = &self.host;
        let endpoint = endpoint(&host.address, host.port);
        let deadline = Instant::now() + timeout;
        let timed_out = || {
            Error::new(
                ErrorCode::SshConnect,
                format!("SSH to host '{}' at {endpoint} timed out after {}s", host.name, timeout.as_secs_f32()),
            )
            .hint("Check that the host is up and that port is open from this machine (firewall, VPN).")
        };
        // The identity first: a missing key or agent fails before any traffic.
        let login = match (&self.identity, host.auth()) {
            (Identity::Key(key), _) => Login::Key(Arc::clone(key)),
            (Identity::Agent, HostAuth::Key { .. }) => {
                return Err(Error::internal(format!(
                    "host '{}' changed from agent to key login",
                    host.name
                )))
            }
            (Identity::Agent, HostAuth::Agent { key, socket }) => {
                match tokio::time::timeout_at(deadline, agent::AgentLogin::open(host, key, socket))
                    .await
                {
                    Err(_) => return Err(agent_timed_out(host)),
                    Ok(login) => Login::Agent(login?),
                }
            }
        };

        let tcp = match tokio::time::timeout_at(
            deadline,
            TcpStream::connect((host.address.as_str(), host.port)),
        )
        .await
        {
            Err(_) => return Err(timed_out()),
            Ok(Err(e)) => {
                let reason = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                    std::io::ErrorKind::TimedOut => "timed out".to_owned(),
                    _ => e.to_string(),
                };
                return Err(Error::new(
                    ErrorCode::SshConnect,
                    format!("cannot connect to SSH host '{}' at {endpoint}: {reason}", host.name),
                )
                .hint("Check the host's address and port in environments.toml and that sshd runs there.")
                .source(e));
            }
            Ok(Ok(s)) => s,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "set_nodelay failed");
        }

        let config = Arc::new(client::Config {
            keepalive_interval: Some(link::KEEPALIVE_INTERVAL),
            keepalive_max: link::KEEPALIVE_MAX,
            window_size: link::WINDOW_SIZE,
            channel_buffer_size: link::CHANNEL_BUFFER,
            nodelay: true,
            ..Default::default()
        });
        let handler = ClientHandler {
            link: Arc::clone(&link),
            policy: HostKeyPolicy {
                host_name: host.name.clone(),
                address: host.address.clone(),
                port: host.port,
                pinned: host.host_key.clone(),
                known_hosts: self.known_hosts.clone(),
            },
        };
        let mut handle = match tokio::time::timeout_at(deadline, client::connect_stream(config, tcp, handler)).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(HandlerError::Refused(e))) => return Err(e),
            Ok(Err(HandlerError::Ssh(e))) => {
                return Err(Error::new(
                    ErrorCode::SshConnect,
                    format!("SSH handshake with host '{}' at {endpoint} failed", host.name),
                )
                .hint("Check that the port speaks SSH and that the server's algorithms are current; the log has details.")
                .source(e))
            }
            Ok(Ok(h)) => h,
        };

        let authenticated = match login {
            Login::Key(key) => {
                tokio::time::timeout_at(
                    deadline,
                    authenticate_key(&mut handle, host, &endpoint, key),
                )
                .await
            }
            Login::Agent(agent) => {
                tokio::time::timeout_at(deadline, agent.authenticate(&mut handle, host, &endpoint))
                    .await
            }
        };
        match authenticated {
            Err(_) => return Err(timed_out()),
            Ok(result) => result?,
        }
        tracing::debug!(host = %host.name, %endpoint, user = %host.user, "SSH session established");
        Ok(SshSession {
            handle: Arc::new(handle),
            link,
            dialer: self.clone(),
            host_name: host.name.clone(),
            endpoint,
        })
    }
}

/// The identity a session logs in with, ready before the TCP connection.
enum Login {
    Key(Arc<russh::keys::PrivateKey>),
    Agent(agent::AgentLogin),
}

/// Public-key login with a key from the keyring (RSA with the best hash the
/// server supports).
async fn authenticate_key(
    handle: &mut client::Handle<ClientHandler>,
    host: &Host,
    endpoint: &str,
    key: Arc<russh::keys::PrivateKey>,
) -> Result<()> {
    let hash_alg = if key.algorithm().is_rsa() {
        handle
            .best_supported_rsa_hash()
            .await
            .map_err(|e| handshake_lost(host, endpoint, e))?
            .flatten()
    } else {
        None
    };
    let key = PrivateKeyWithHashAlg::new(key, hash_alg);
    let auth = handle
        .authenticate_publickey(host.user.clone(), key)
        .await
        .map_err(|e| handshake_lost(host, endpoint, e))?;
    if auth.success() {
        return Ok(());
    }
    let credential = host.key_credential().unwrap_or_default();
    Err(Error::new(
        ErrorCode::SshAuth,
        format!(
            "host '{}' at {endpoint} rejected the SSH key '{credential}' for user '{}'",
            host.name, host.user
        ),
    )
    .hint(format!(
        "The key is not authorized for user {}: add its public key to ~{}/.ssh/authorized_keys on the host, or store the right key with `nfops credentials set {credential}`.",
        host.user, host.user
    )))
}

/// An agent that takes the whole connect timeout to answer (a locked agent
/// waiting for a prompt nobody sees).
fn agent_timed_out(host: &Host) -> Error {
    Error::new(
        ErrorCode::SshAgentUnavailable,
        format!(
            "the SSH agent did not answer in time (host '{}')",
            host.name
        ),
    )
    .hint("Check that the agent runs and is unlocked: `ssh-add -l` must list your key at once.")
}

pub(crate) fn handshake_lost(host: &Host, endpoint: &str, e: russh::Error) -> Error {
    Error::new(
        ErrorCode::SshConnect,
        format!(
            "SSH connection to host '{}' at {endpoint} was lost during login",
            host.name
        ),
    )
    .hint("The server closed the connection; check its sshd log (MaxStartups, AllowUsers).")
    .source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_bracket_ipv6() {
        assert_eq!(endpoint("127.0.0.1", 22), "127.0.0.1:22");
        assert_eq!(endpoint("::1", 2222), "[::1]:2222");
    }
}

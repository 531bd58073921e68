//! SSH sessions to the platform's hosts (russh).
//!
//! A [`SshSession`] is authenticated with the host's private key, taken from
//! the credential named by `host.ssh_key_credential`, after the server's host
//! key was verified (pinned fingerprint or trust on first use, see
//! [`host_key`]). It runs remote commands ([`SshSession::exec`]) and forwards
//! local ports ([`SshSession::forward`]). Key material never appears in an
//! error or a log line.

mod host_key;
mod quote;
mod tunnel;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use nfops_core::config::Host;
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;
use tokio::net::TcpStream;
use tokio::time::Instant;

pub use quote::shell_quote;
pub use tunnel::Tunnel;

use host_key::HostKeyPolicy;

/// Used by [`SshSession::connect`]: TCP connect, handshake and authentication together.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Output kept per stream; more is dropped (and said so) so a chatty command
/// cannot exhaust memory.
const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// How much of stderr an [`SshSession::exec_checked`] error quotes.
const STDERR_TAIL: usize = 600;

/// `address:port`, with IPv6 literals bracketed.
pub(crate) fn endpoint(address: &str, port: u16) -> String {
    if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

/// What a remote command left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The command's exit status; 255 when it was killed by a signal (as
    /// OpenSSH's client reports it).
    pub exit_code: u32,
    /// Standard output, UTF-8 (invalid bytes replaced).
    pub stdout: String,
    /// Standard error, UTF-8 (invalid bytes replaced).
    pub stderr: String,
}

/// The client side of the russh session: checks the server's key.
pub(crate) struct ClientHandler {
    policy: HostKeyPolicy,
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
}

/// An authenticated SSH connection to one host.
///
/// Cheap to share by reference; channels (commands, tunnels) are opened
/// concurrently. Dropping the session (and every [`Tunnel`] made from it)
/// closes the connection.
pub struct SshSession {
    handle: Arc<client::Handle<ClientHandler>>,
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
    /// ECDSA or RSA; unencrypted). Gives up after [`DEFAULT_CONNECT_TIMEOUT`].
    ///
    /// Host key: when `host.host_key` is set the server's key must have that
    /// `SHA256:` fingerprint; otherwise the first key seen for
    /// `[address]:port` is recorded in `known_hosts` and any later different
    /// key is refused.
    ///
    /// Errors: the credential source's errors; `ssh.connect` for refused or
    /// timed-out TCP connections, failed handshakes and refused host keys
    /// (the message names `address:port`); `ssh.auth` when the key is not a
    /// usable private key or the server rejects it.
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
        let endpoint = endpoint(&host.address, host.port);
        let key = load_private_key(host, creds)?;
        let deadline = Instant::now() + timeout;
        let timed_out = || {
            Error::new(
                ErrorCode::SshConnect,
                format!("SSH to host '{}' at {endpoint} timed out after {}s", host.name, timeout.as_secs_f32()),
            )
            .hint("Check that the host is up and that port is open from this machine (firewall, VPN).")
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
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        });
        let handler = ClientHandler {
            policy: HostKeyPolicy {
                host_name: host.name.clone(),
                address: host.address.clone(),
                port: host.port,
                pinned: host.host_key.clone(),
                known_hosts: known_hosts.to_owned(),
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

        let hash_alg = if key.algorithm().is_rsa() {
            match tokio::time::timeout_at(deadline, handle.best_supported_rsa_hash()).await {
                Err(_) => return Err(timed_out()),
                Ok(Ok(alg)) => alg.flatten(),
                Ok(Err(e)) => return Err(handshake_lost(host, &endpoint, e)),
            }
        } else {
            None
        };
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash_alg);
        let auth = match tokio::time::timeout_at(
            deadline,
            handle.authenticate_publickey(host.user.clone(), key),
        )
        .await
        {
            Err(_) => return Err(timed_out()),
            Ok(Err(e)) => return Err(handshake_lost(host, &endpoint, e)),
            Ok(Ok(a)) => a,
        };
        if !auth.success() {
            return Err(Error::new(
                ErrorCode::SshAuth,
                format!(
                    "host '{}' at {endpoint} rejected the SSH key '{}' for user '{}'",
                    host.name, host.ssh_key_credential, host.user
                ),
            )
            .hint(format!(
                "The key is not authorized for user {}: add its public key to ~{}/.ssh/authorized_keys on the host, or store the right key with `nfops credentials set {}`.",
                host.user, host.user, host.ssh_key_credential
            )));
        }
        tracing::debug!(host = %host.name, %endpoint, user = %host.user, "SSH session established");
        Ok(SshSession {
            handle: Arc::new(handle),
            host_name: host.name.clone(),
            endpoint,
        })
    }

    /// The configured name of the host this session is connected to.
    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    /// `address:port` of the SSH server.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs `cmd` through the user's login shell on the host and collects its
    /// output and exit status. A non-zero exit is not an error here (see
    /// [`SshSession::exec_checked`]).
    ///
    /// `cmd` is shell text: build it from [`shell_quote`]d arguments, and
    /// never put a secret in it.
    ///
    /// Errors: `ssh.command` when the channel cannot be opened, the server
    /// refuses to run it, the connection drops, or `timeout` passes ("timed out
    /// after Ns"; the remote process is sent SIGKILL, best effort, and the
    /// channel is closed).
    pub async fn exec(&self, cmd: &str, timeout: Duration) -> Result<ExecOutput> {
        self.exec_inner(cmd, None, timeout).await
    }

    /// Like [`SshSession::exec_checked`], with `input` sent as the command's
    /// standard input (then end of file). This is how content (even a secret)
    /// reaches a remote file without appearing in the command line; errors
    /// quote the command and stderr, never `input`.
    pub async fn exec_checked_with_input(
        &self,
        cmd: &str,
        input: &[u8],
        timeout: Duration,
    ) -> Result<ExecOutput> {
        let out = self.exec_inner(cmd, Some(input), timeout).await?;
        self.checked(cmd, out)
    }

    async fn exec_inner(
        &self,
        cmd: &str,
        input: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<ExecOutput> {
        let deadline = Instant::now() + timeout;
        let timed_out = || {
            Error::new(
                ErrorCode::SshCommand,
                format!("command on host '{}' timed out after {}s: {}", self.host_name, fmt_secs(timeout), excerpt(cmd, 120)),
            )
            .hint("The host may be overloaded, or the command waits for input; try again or raise the timeout.")
        };
        let mut channel =
            match tokio::time::timeout_at(deadline, self.handle.channel_open_session()).await {
                Err(_) => return Err(timed_out()),
                Ok(Err(e)) => return Err(self.channel_error("cannot open an SSH channel", e)),
                Ok(Ok(c)) => c,
            };
        match tokio::time::timeout_at(deadline, channel.exec(true, cmd)).await {
            Err(_) => {
                let _ = channel.close().await;
                return Err(timed_out());
            }
            Ok(Err(e)) => return Err(self.channel_error("cannot start a remote command", e)),
            Ok(Ok(())) => {}
        }
        if let Some(input) = input {
            let sent = async {
                channel.data(input).await?;
                channel.eof().await
            };
            match tokio::time::timeout_at(deadline, sent).await {
                Err(_) => {
                    let _ = channel.close().await;
                    return Err(timed_out());
                }
                Ok(Err(e)) => {
                    return Err(self.channel_error("cannot send input to a remote command", e))
                }
                Ok(Ok(())) => {}
            }
        }

        let (mut stdout, mut stderr) = (Capped::default(), Capped::default());
        let mut exit: Option<u32> = None;
        let mut signal: Option<String> = None;
        loop {
            let msg = match tokio::time::timeout_at(deadline, channel.wait()).await {
                Err(_) => {
                    let _ = channel.signal(russh::Sig::KILL).await;
                    let _ = channel.close().await;
                    return Err(timed_out());
                }
                Ok(None) => break,
                Ok(Some(m)) => m,
            };
            match msg {
                ChannelMsg::Data { data } => stdout.push(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => stderr.push(&data),
                ChannelMsg::ExitStatus { exit_status } => exit = Some(exit_status),
                ChannelMsg::ExitSignal {
                    signal_name,
                    core_dumped,
                    ..
                } => {
                    signal = Some(format!(
                        "{signal_name:?}{}",
                        if core_dumped { " (core dumped)" } else { "" }
                    ));
                }
                ChannelMsg::Failure => {
                    return Err(Error::new(
                        ErrorCode::SshCommand,
                        format!("host '{}' refused to run the command", self.host_name),
                    )
                    .hint("The account may be restricted (forced command, no shell)."));
                }
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        let exit_code = match (exit, &signal) {
            (Some(code), _) => code,
            (None, Some(sig)) => {
                stderr.note(&format!("[remote command killed by signal {sig}]"));
                255
            }
            (None, None) => {
                return Err(Error::new(
                    ErrorCode::SshCommand,
                    format!("connection to host '{}' closed before the command reported its exit status", self.host_name),
                )
                .hint("The SSH connection dropped; try again."));
            }
        };
        Ok(ExecOutput {
            exit_code,
            stdout: stdout.into_string(),
            stderr: stderr.into_string(),
        })
    }

    /// Like [`SshSession::exec`], but a non-zero exit status is an
    /// `ssh.command` error naming the host, the status and the last few
    /// hundred characters of stderr (trimmed).
    pub async fn exec_checked(&self, cmd: &str, timeout: Duration) -> Result<ExecOutput> {
        let out = self.exec(cmd, timeout).await?;
        self.checked(cmd, out)
    }

    fn checked(&self, cmd: &str, out: ExecOutput) -> Result<ExecOutput> {
        if out.exit_code == 0 {
            return Ok(out);
        }
        let tail = stderr_tail(&out.stderr, STDERR_TAIL);
        let mut message = format!(
            "command on host '{}' exited with status {}: {}",
            self.host_name,
            out.exit_code,
            excerpt(cmd, 120)
        );
        if !tail.is_empty() {
            message.push_str(": ");
            message.push_str(&tail);
        }
        Err(Error::new(ErrorCode::SshCommand, message)
            .hint("See the command's error output above; the log has the full output."))
    }

    /// Forwards a local port to `remote_host:remote_port` as seen from this
    /// host (`direct-tcpip` channels, like `ssh -L`). See [`Tunnel`].
    ///
    /// Errors: `io.error` when no local port can be bound. A connection the
    /// server refuses to forward is closed at once and logged; the listener
    /// goes on.
    pub async fn forward(&self, remote_host: &str, remote_port: u16) -> Result<Tunnel> {
        Tunnel::open(
            Arc::clone(&self.handle),
            &self.host_name,
            remote_host,
            remote_port,
        )
        .await
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

fn handshake_lost(host: &Host, endpoint: &str, e: russh::Error) -> Error {
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

/// Reads the host's private key from its credential. The key text never
/// reaches an error: the decoder's error is not even kept as source.
fn load_private_key(host: &Host, creds: &dyn CredentialSource) -> Result<russh::keys::PrivateKey> {
    let secret = creds.get(&host.ssh_key_credential)?;
    russh::keys::decode_secret_key(secret.expose(), None).map_err(|e| {
        let hint = match e {
            russh::keys::Error::KeyIsEncrypted => {
                "The key is passphrase-protected; store an unencrypted copy (ssh-keygen -p -N '' on a copy) in the keyring."
            }
            _ => "Store the whole OpenSSH private key, from -----BEGIN OPENSSH PRIVATE KEY----- to the END line.",
        };
        Error::new(
            ErrorCode::SshAuth,
            format!("credential '{}' (SSH key of host '{}') is not a usable private key", host.ssh_key_credential, host.name),
        )
        .hint(hint)
    })
}

/// A byte buffer that stops growing at [`MAX_OUTPUT`].
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    dropped: usize,
    note: Option<String>,
}

impl Capped {
    fn push(&mut self, data: &[u8]) {
        let room = MAX_OUTPUT.saturating_sub(self.bytes.len());
        let take = room.min(data.len());
        self.bytes.extend_from_slice(&data[..take]);
        self.dropped += data.len() - take;
    }

    fn note(&mut self, note: &str) {
        self.note = Some(note.to_owned());
    }

    fn into_string(self) -> String {
        let mut s = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.dropped > 0 {
            s.push_str(&format!("\n[{} more bytes not kept]\n", self.dropped));
        }
        if let Some(n) = self.note {
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&n);
        }
        s
    }
}

/// The last `max` characters of trimmed `stderr`, starting at a line start when possible.
pub(crate) fn stderr_tail(stderr: &str, max: usize) -> String {
    let t = stderr.trim();
    let count = t.chars().count();
    if count <= max {
        return t.to_owned();
    }
    let tail: String = t.chars().skip(count - max).collect();
    match tail.find('\n') {
        Some(i) if i + 1 < tail.len() && i < max / 2 => format!("…{}", &tail[i + 1..]),
        _ => format!("…{tail}"),
    }
}

/// The first `max` characters of `s` on one line, for messages.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    }
}

fn fmt_secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_tail_is_bounded_and_trimmed() {
        assert_eq!(stderr_tail("  boom \n", 600), "boom");
        let long = format!("{}\nlast line", "x".repeat(1000));
        let t = stderr_tail(&long, 50);
        assert!(t.chars().count() <= 51, "bounded: {t}");
        assert!(t.ends_with("last line"), "the end is what matters: {t}");
    }

    #[test]
    fn endpoints_bracket_ipv6() {
        assert_eq!(endpoint("127.0.0.1", 22), "127.0.0.1:22");
        assert_eq!(endpoint("::1", 2222), "[::1]:2222");
    }

    #[test]
    fn capped_output_says_what_was_dropped() {
        let mut c = Capped::default();
        c.push(&vec![b'a'; MAX_OUTPUT]);
        c.push(b"more");
        let s = c.into_string();
        assert!(
            s.ends_with("[4 more bytes not kept]\n"),
            "the truncation is visible"
        );
    }

    #[test]
    fn timeouts_print_whole_seconds() {
        assert_eq!(fmt_secs(Duration::from_secs(5)), "5");
        assert_eq!(fmt_secs(Duration::from_millis(1500)), "1.5");
    }

    #[test]
    fn a_key_that_is_not_a_key_never_echoes_its_text() {
        let creds = nfops_core::credentials::MemoryCredentials::default();
        creds.insert("k", "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LXBsYW50ZWQ=\n-----END OPENSSH PRIVATE KEY-----\n");
        let host: Host = toml_host("k");
        let err = load_private_key(&host, &creds).expect_err("garbage is not a key");
        assert_eq!(err.code(), ErrorCode::SshAuth);
        let all = format!("{} {:?} {:?}", err, err.to_wire(), err.causes());
        assert!(!all.contains("c2VjcmV0"), "key text leaked: {all}");
    }

    #[test]
    fn openssh_keys_of_every_supported_type_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (kind, bits) in [
            ("ed25519", None),
            ("ecdsa", Some("256")),
            ("ecdsa", Some("384")),
            ("rsa", Some("2048")),
        ] {
            let path = dir.path().join(format!("{kind}{}", bits.unwrap_or("")));
            let mut cmd = std::process::Command::new("ssh-keygen");
            cmd.args(["-q", "-t", kind, "-N", "", "-f"]).arg(&path);
            if let Some(b) = bits {
                cmd.args(["-b", b]);
            }
            match cmd.output() {
                Ok(o) if o.status.success() => {}
                _ => {
                    eprintln!("skipping: ssh-keygen is not available");
                    return;
                }
            }
            let creds = nfops_core::credentials::MemoryCredentials::default();
            creds.insert("k", &std::fs::read_to_string(&path).expect("key written"));
            let key = load_private_key(&toml_host("k"), &creds)
                .unwrap_or_else(|e| panic!("{kind} {bits:?} keys must load: {e}"));
            assert_eq!(
                key.algorithm().is_rsa(),
                kind == "rsa",
                "{kind}: RSA keys are told apart for the hash choice"
            );
        }
    }

    fn toml_host(cred: &str) -> Host {
        let text = format!(
            "name = \"app1\"\naddress = \"127.0.0.1\"\nuser = \"deploy\"\nssh_key_credential = \"{cred}\"\napp_dir = \"/srv/app\"\n"
        );
        toml_from_str(&text)
    }

    fn toml_from_str(text: &str) -> Host {
        // The config crate owns the TOML parser; go through a one-host environment file.
        let file = format!("[environments.t]\ntier = \"local\"\n[[environments.t.hosts]]\n{text}");
        let cfg = nfops_core::config::Config::parse(Path::new("t.toml"), &file)
            .expect("test config parses");
        let env = cfg.environment("t").expect("env t");
        env.hosts[0].get_ref().clone()
    }
}

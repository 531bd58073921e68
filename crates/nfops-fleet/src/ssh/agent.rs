//! Logging in through the operator's running SSH agent instead of a key in
//! the keyring (`ssh_auth = "agent"` on a host).
//!
//! Where the agent is: `agent_socket` when the host names one, else
//! `SSH_AUTH_SOCK` on macOS and Linux; on Windows the OpenSSH agent's pipe
//! (`\\.\pipe\openssh-ssh-agent`, or `SSH_AUTH_SOCK` naming another pipe),
//! then Pageant. The Windows arm is compiled only there and has not been run
//! (this project is built and tested on Linux).
//!
//! The agent signs; the key never leaves it. Errors name identities by their
//! `SHA256:` fingerprint (and the agent's comment), never by key material.

use nfops_core::config::Host;
use nfops_core::{Error, ErrorCode, Result};
use russh::client::{AuthResult, Handle};
use russh::keys::agent::client::{AgentClient, AgentStream};
use russh::keys::{HashAlg, PublicKey};

use super::ClientHandler;

/// An agent client over whichever transport this OS uses.
type Agent = AgentClient<Box<dyn AgentStream + Send + Unpin + 'static>>;

/// A connected agent and the identities it offers for one host.
pub(crate) struct AgentLogin {
    agent: Agent,
    /// Where the agent was reached, for messages ("ssh-agent at /tmp/…").
    place: String,
    /// Every identity the agent holds, in its order.
    offered: Vec<PublicKey>,
    /// `agent_key` of the host, when it picks one identity.
    wanted: Option<String>,
}

/// `SHA256:…` as `ssh-add -l` prints it.
pub(crate) fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

impl AgentLogin {
    /// Connects to the agent and asks for its identities, before any network
    /// traffic to the host: a missing agent fails fast and locally.
    ///
    /// Errors: `ssh.agent_unavailable` when nothing answers at the socket or
    /// pipe (or the agent does not speak the protocol); `ssh.auth` when
    /// `agent_key` names an identity the agent does not hold.
    pub(crate) async fn open(
        host: &Host,
        wanted: Option<&str>,
        socket: Option<&str>,
    ) -> Result<Self> {
        let (mut agent, place) = connect(host, socket).await?;
        let identities = agent.request_identities().await.map_err(|e| {
            Error::new(
                ErrorCode::SshAgentUnavailable,
                format!(
                    "the {place} did not list its identities (SSH key of host '{}')",
                    host.name
                ),
            )
            .hint("Check that the agent runs and is unlocked (`ssh-add -l` must list your key).")
            .source(e)
        })?;
        let offered: Vec<PublicKey> = identities
            .iter()
            .map(|i| {
                let mut key = i.public_key().into_owned();
                key.set_comment(i.comment());
                key
            })
            .collect();
        let login = AgentLogin {
            agent,
            place,
            offered,
            wanted: wanted.map(str::to_owned),
        };
        if let Some(w) = &login.wanted {
            if !login.offered.iter().any(|k| fingerprint(k) == *w) {
                return Err(Error::new(
                    ErrorCode::SshAuth,
                    format!(
                        "the {} does not hold agent_key {w} of host '{}'; it offers {}",
                        login.place,
                        host.name,
                        login.offered_list()
                    ),
                )
                .hint("Add that key to the agent (`ssh-add PATH`), or correct agent_key in environments.toml (`ssh-add -l` prints the fingerprints)."));
            }
        }
        Ok(login)
    }

    /// The identities to try, in the agent's order: just `agent_key`'s when set.
    fn candidates(&self) -> impl Iterator<Item = &PublicKey> {
        self.offered
            .iter()
            .filter(|k| self.wanted.as_ref().is_none_or(|w| fingerprint(k) == *w))
    }

    /// "SHA256:… (comment), …" or "no identity at all".
    fn offered_list(&self) -> String {
        if self.offered.is_empty() {
            return "no identity at all".to_owned();
        }
        let names: Vec<String> = self
            .offered
            .iter()
            .map(|k| match AsRef::<str>::as_ref(k.comment()) {
                "" => fingerprint(k),
                c => format!("{} ({c})", fingerprint(k)),
            })
            .collect();
        names.join(", ")
    }

    /// Offers each candidate identity to the server, the agent signing; RSA
    /// keys with the best hash the server supports. The caller bounds this
    /// with the connection's deadline.
    ///
    /// Errors: `ssh.auth` listing the fingerprints offered when none was
    /// accepted (or the agent holds none); `ssh.connect` when the server
    /// drops the connection.
    pub(crate) async fn authenticate(
        mut self,
        handle: &mut Handle<ClientHandler>,
        host: &Host,
        endpoint: &str,
    ) -> Result<()> {
        let mut rsa_hash = None;
        let mut tried = Vec::new();
        let candidates: Vec<PublicKey> = self.candidates().cloned().collect();
        for key in candidates {
            let hash_alg = if key.algorithm().is_rsa() {
                if rsa_hash.is_none() {
                    rsa_hash = Some(
                        handle
                            .best_supported_rsa_hash()
                            .await
                            .map_err(|e| super::handshake_lost(host, endpoint, e))?
                            .flatten(),
                    );
                }
                rsa_hash.flatten()
            } else {
                None
            };
            let fp = fingerprint(&key);
            let result = handle
                .authenticate_publickey_with(host.user.clone(), key, hash_alg, &mut self.agent)
                .await;
            match result {
                Ok(AuthResult::Success) => {
                    tracing::debug!(host = %host.name, key = %fp, "logged in with an agent identity");
                    return Ok(());
                }
                Ok(AuthResult::Failure { .. }) => tried.push(fp),
                Err(russh::AgentAuthError::Send(_)) => {
                    return Err(super::handshake_lost(
                        host,
                        endpoint,
                        russh::Error::SendError,
                    ))
                }
                // The agent declined to sign (a confirmation refused, a key
                // removed meanwhile): the handle stays usable, try the next.
                Err(russh::AgentAuthError::Key(e)) => {
                    tracing::debug!(host = %host.name, key = %fp, error = %e, "the agent did not sign");
                    tried.push(format!("{fp} (the agent did not sign)"));
                }
            }
        }
        let message = if self.offered.is_empty() {
            format!(
                "cannot log in to host '{}' at {endpoint} as '{}': the {} holds no identity (offered: none)",
                host.name, host.user, self.place
            )
        } else {
            format!(
                "host '{}' at {endpoint} rejected every identity the {} offered for user '{}': {}",
                host.name,
                self.place,
                host.user,
                tried.join(", ")
            )
        };
        Err(Error::new(ErrorCode::SshAuth, message).hint(format!(
            "Add the host's key to the agent (`ssh-add PATH`; `ssh-add -l` lists what it holds), or authorize one of these keys in ~{}/.ssh/authorized_keys on the host.",
            host.user
        )))
    }
}

/// The hint of every `ssh.agent_unavailable` error: where we looked.
#[cfg(unix)]
const WHERE_HINT: &str = "Start an agent and add your key (`eval $(ssh-agent)` then `ssh-add`), and start the console from a shell where SSH_AUTH_SOCK is set (macOS sets it for every app), or name the socket with agent_socket on the host.";
#[cfg(windows)]
const WHERE_HINT: &str = "Start the OpenSSH Authentication Agent service (pipe \\\\.\\pipe\\openssh-ssh-agent) or Pageant and add your key, or name the pipe with agent_socket on the host.";

fn unavailable(host: &Host, what: String) -> Error {
    Error::new(
        ErrorCode::SshAgentUnavailable,
        format!(
            "host '{}' logs in with the SSH agent, but {what}",
            host.name
        ),
    )
    .hint(WHERE_HINT)
}

#[cfg(unix)]
async fn connect(host: &Host, socket: Option<&str>) -> Result<(Agent, String)> {
    let path = match socket {
        Some(s) => s.to_owned(),
        None => match std::env::var("SSH_AUTH_SOCK") {
            Ok(p) if !p.is_empty() => p,
            _ => return Err(unavailable(host, "SSH_AUTH_SOCK is not set".into())),
        },
    };
    let from = if socket.is_some() {
        "agent_socket"
    } else {
        "SSH_AUTH_SOCK"
    };
    match AgentClient::connect_uds(&path).await {
        Ok(a) => Ok((a.dynamic(), format!("ssh-agent at {path}"))),
        Err(e) => Err(unavailable(
            host,
            format!("no agent answers at {path} ({from}): {}", io_reason(&e)),
        )
        .source(e)),
    }
}

/// Windows: an explicit pipe, else the OpenSSH agent's pipe, else Pageant.
/// Not built or run on this project's Linux test machine.
#[cfg(windows)]
async fn connect(host: &Host, socket: Option<&str>) -> Result<(Agent, String)> {
    const OPENSSH_PIPE: &str = r"\\.\pipe\openssh-ssh-agent";
    let explicit = socket.map(str::to_owned).or_else(|| {
        std::env::var("SSH_AUTH_SOCK")
            .ok()
            .filter(|p| !p.is_empty())
    });
    let pipe = explicit.clone().unwrap_or_else(|| OPENSSH_PIPE.to_owned());
    let pipe_error = match AgentClient::connect_named_pipe(&pipe).await {
        Ok(a) => return Ok((a.dynamic(), format!("SSH agent at {pipe}"))),
        Err(e) if explicit.is_some() => {
            return Err(unavailable(host, format!("no agent answers at {pipe}: {e}")).source(e))
        }
        Err(e) => e,
    };
    match AgentClient::connect_pageant().await {
        Ok(a) => Ok((a.dynamic(), "Pageant".to_owned())),
        Err(e) => Err(unavailable(
            host,
            format!("neither the OpenSSH agent ({pipe}: {pipe_error}) nor Pageant ({e}) answers"),
        )),
    }
}

#[cfg(unix)]
fn io_reason(e: &russh::keys::Error) -> String {
    match e {
        russh::keys::Error::IO(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "the socket does not exist".into()
        }
        russh::keys::Error::IO(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (the agent is gone)".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_like_ssh_add() {
        let key = PublicKey::from_openssh(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKKHeyrnxDLIcrdUFHiNf0Pa1BrR3Uj+HvyxfcQzDbY9 t@x",
        )
        .expect("a public key");
        assert_eq!(
            fingerprint(&key),
            "SHA256:YazZ/Bf1/ZVJ1OTU7RrGBUNo2Ef8H2CBuCwAhO2floo",
            "the form `ssh-keygen -lf` prints, which agent_key is compared with"
        );
    }
}

//! How a host is logged in to over SSH: a private key from the keyring, or
//! the operator's running ssh-agent (Pageant / the OpenSSH agent on Windows).
//!
//! The file says which per host (`ssh_auth`); validation makes sure exactly
//! one source is named, so [`Host::auth`] never has to guess.

use std::path::Path;

use super::{invalid, Environment, Host, SshAuth};
use crate::error::Result;

/// Where a host's SSH identity comes from (validated, see [`Host::auth`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostAuth<'a> {
    /// The OpenSSH private key stored in keyring credential `credential`.
    Key { credential: &'a str },
    /// The running agent. `key`: the one identity (a `SHA256:` fingerprint)
    /// to use, else each the agent offers; `socket`: where the agent listens
    /// when not at `SSH_AUTH_SOCK` (or the Windows default pipe / Pageant).
    Agent {
        key: Option<&'a str>,
        socket: Option<&'a str>,
    },
}

impl Host {
    /// Where this host's SSH identity comes from. A loaded config has been
    /// validated: a `key` host always names its credential.
    pub fn auth(&self) -> HostAuth<'_> {
        match self.ssh_auth {
            Some(SshAuth::Agent) => HostAuth::Agent {
                key: self.agent_key.as_deref(),
                socket: self.agent_socket.as_deref(),
            },
            Some(SshAuth::Key) | None => HostAuth::Key {
                credential: self.ssh_key_credential.as_deref().unwrap_or_default(),
            },
        }
    }

    /// The keyring credential this host needs, if it uses one (agent hosts
    /// need none).
    pub fn key_credential(&self) -> Option<&str> {
        match self.auth() {
            HostAuth::Key { credential } => Some(credential),
            HostAuth::Agent { .. } => None,
        }
    }
}

/// Each host names exactly one identity source: a keyring key, or the agent
/// (with an optional `SHA256:` fingerprint choosing one of its identities).
pub(super) fn validate_host_auth(
    path: &Path,
    text: &str,
    env_name: &str,
    env: &Environment,
) -> Result<()> {
    for h in &env.hosts {
        let host = h.get_ref();
        // The host's span may start at its environment; point at its name.
        let start = h.span().start.min(text.len());
        let at = text[start..]
            .find(&format!("\"{}\"", host.name))
            .map_or(start, |i| start + i);
        let fail = |message: String, hint: String| Err(invalid(path, text, at, &message, hint));
        let agent = host.ssh_auth == Some(SshAuth::Agent);
        let credential = host
            .ssh_key_credential
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        if agent && credential.is_some() {
            return fail(
                format!("host '{}' of environment '{env_name}' sets both ssh_auth = \"agent\" and ssh_key_credential", host.name),
                "Keep one: ssh_auth = \"agent\" logs in with the running ssh-agent's identities; ssh_key_credential names a key in the keyring.".into(),
            );
        }
        if !agent && credential.is_none() {
            return fail(
                format!("host '{}' of environment '{env_name}' has no SSH identity: neither ssh_key_credential nor ssh_auth = \"agent\"", host.name),
                format!("Add ssh_key_credential = \"{env_name}/ssh\" (then `nfops credentials set {env_name}/ssh`), or ssh_auth = \"agent\" to use your running ssh-agent (Pageant on Windows)."),
            );
        }
        if !agent && (host.agent_key.is_some() || host.agent_socket.is_some()) {
            return fail(
                format!(
                    "host '{}': agent_key and agent_socket apply only with ssh_auth = \"agent\"",
                    host.name
                ),
                "Add ssh_auth = \"agent\" or remove them.".into(),
            );
        }
        if let Some(k) = host.agent_key.as_deref() {
            let fingerprint = k.strip_prefix("SHA256:").is_some_and(|b| {
                b.len() >= 40
                    && b.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
            });
            if !fingerprint {
                return fail(
                    format!("agent_key of host '{}' is not a SHA256 fingerprint", host.name),
                    "Write it as `ssh-add -l` prints it, e.g. agent_key = \"SHA256:abc…\" (never the key itself).".into(),
                );
            }
        }
        if host
            .agent_socket
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return fail(
                format!("agent_socket of host '{}' is empty", host.name),
                "Name the agent's socket path, or remove the key to use SSH_AUTH_SOCK.".into(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::error::ErrorCode;

    fn parse(host: &str) -> Result<Config> {
        let text = format!(
            "[environments.staging]\ntier = \"staging\"\n[[environments.staging.hosts]]\nname = \"app1\"\naddress = \"127.0.0.1\"\nuser = \"deploy\"\napp_dir = \"/srv/app\"\n{host}"
        );
        Config::parse(Path::new("environments.toml"), &text)
    }

    fn auth_of(cfg: &Config) -> HostAuth<'_> {
        cfg.environment("staging").expect("env").hosts[0]
            .get_ref()
            .auth()
    }

    const FP: &str = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8";

    #[test]
    fn a_key_host_and_an_agent_host_resolve() {
        let cfg = parse("ssh_key_credential = \"staging/ssh\"\n").expect("key host");
        assert_eq!(
            auth_of(&cfg),
            HostAuth::Key {
                credential: "staging/ssh"
            }
        );
        assert_eq!(cfg.credential_names(), ["staging/ssh"]);

        let cfg =
            parse(&format!("ssh_auth = \"agent\"\nagent_key = \"{FP}\"\n")).expect("agent host");
        assert_eq!(
            auth_of(&cfg),
            HostAuth::Agent {
                key: Some(FP),
                socket: None
            }
        );
        assert!(
            cfg.credential_names().is_empty(),
            "an agent host needs no keyring credential"
        );
    }

    #[test]
    fn a_host_without_an_identity_is_an_error_naming_it() {
        let err = parse("").expect_err("no identity");
        assert_eq!(err.code(), ErrorCode::ConfigInvalid);
        assert!(err.message().contains("host 'app1'"), "{}", err.message());
        assert!(
            err.message().contains("no SSH identity"),
            "{}",
            err.message()
        );
        let err = parse("ssh_auth = \"key\"\n").expect_err("key without a credential");
        assert!(err.message().contains("host 'app1'"), "{}", err.message());
    }

    #[test]
    fn ambiguous_or_malformed_agent_settings_are_refused() {
        for (host, says) in [
            (
                "ssh_auth = \"agent\"\nssh_key_credential = \"s/ssh\"\n",
                "both",
            ),
            (
                "ssh_key_credential = \"s/ssh\"\nagent_key = \"SHA256:x\"\n",
                "only with",
            ),
            (
                "ssh_auth = \"agent\"\nagent_key = \"AAAAC3NzaC1lZDI1NTE5AAAAI\"\n",
                "not a SHA256",
            ),
            (
                "ssh_auth = \"agent\"\nagent_key = \"MD5:12:34\"\n",
                "not a SHA256",
            ),
            ("ssh_auth = \"agent\"\nagent_socket = \" \"\n", "empty"),
            ("ssh_auth = \"pageant\"\n", "unknown variant"),
        ] {
            let err = parse(host).expect_err(host);
            assert_eq!(err.code(), ErrorCode::ConfigInvalid, "{host}");
            assert!(err.message().contains(says), "{host}: {}", err.message());
        }
    }
}

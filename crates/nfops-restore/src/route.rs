//! Reaching an environment's database (and cache): directly, or through the
//! SSH tunnel of the host named by `via`. The tunnel lives as long as the
//! [`Route`].

use std::path::Path;

use nfops_core::config::{Environment, Host};
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::{SshSession, Tunnel};
use nfops_mysql::Target;

/// A database connection route; keeps an SSH tunnel open while it lives.
pub struct Route {
    pub target: Target,
    _ssh: Option<(SshSession, Tunnel)>,
}

/// A `host:port` reachable from here, with the tunnel that makes it so.
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    _ssh: Option<(SshSession, Tunnel)>,
}

fn via_host<'a>(env: &'a Environment, via: &str) -> Result<&'a Host> {
    env.hosts
        .iter()
        .map(|h| h.get_ref())
        .find(|h| h.name == via)
        .ok_or_else(|| Error::internal(format!("via host '{via}' vanished from the config")))
}

/// `host:port` as seen from here: itself, or the local end of a tunnel through `via`.
pub async fn endpoint(
    env: &Environment,
    via: Option<&str>,
    host: &str,
    port: u16,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
) -> Result<Endpoint> {
    match via {
        None => Ok(Endpoint {
            host: host.to_owned(),
            port,
            _ssh: None,
        }),
        Some(via) => {
            let h = via_host(env, via)?;
            let session = SshSession::connect(h, creds, known_hosts).await?;
            let tunnel = session.forward(host, port).await?;
            let local = tunnel.local_addr();
            Ok(Endpoint {
                host: local.ip().to_string(),
                port: local.port(),
                _ssh: Some((session, tunnel)),
            })
        }
    }
}

/// Connects to `environment`'s database (through the `via` host's SSH tunnel
/// when configured); `database` overrides the configured name (drills).
///
/// Errors: `input.invalid` when the environment has no database; the
/// credential source's, SSH and database errors.
pub async fn route(
    environment: &str,
    env: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
    database: Option<&str>,
) -> Result<Route> {
    let db = env.database.as_ref().ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("environment '{environment}' has no database to restore into"),
        )
        .hint("Add a [environments.NAME.database] section to environments.toml.")
    })?;
    let password = creds.get(&db.password_credential)?;
    let via = db.via.as_ref().map(|v| v.get_ref().clone());
    let ep = endpoint(env, via.as_deref(), &db.host, db.port, creds, known_hosts).await?;
    Ok(Route {
        target: Target {
            host: ep.host.clone(),
            port: ep.port,
            user: db.user.clone(),
            password,
            database: database.unwrap_or(&db.name).to_owned(),
            label: format!("{environment} database"),
        },
        _ssh: ep._ssh,
    })
}

//! The one way to reach an environment's database or cache: directly, or
//! through an SSH tunnel of the host named by `via`.
//!
//! [`Endpoint::through`] is the mechanism (a tunnel through a session, or the
//! address as configured); [`endpoint`] opens its own session to the `via`
//! host, and [`database`] adds the database's login to it. Every route keeps
//! its tunnel (and the session it opened) alive for as long as it lives, and
//! dropping it closes both.

use std::path::Path;
use std::sync::Arc;

use nfops_core::config::{Environment, Host};
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::Target;

use crate::ssh::{SshLink, SshSession, Tunnel};

/// A `host:port` reachable from here, with the tunnel that makes it so.
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    tunnel: Option<Tunnel>,
    /// Set when this endpoint opened its own session (dropped after the tunnel).
    session: Option<SshSession>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tunnel", &self.tunnel)
            .finish()
    }
}

impl Endpoint {
    /// `host:port` itself when `session` is `None`, else the local end of a
    /// tunnel to it through `session` (which must outlive the endpoint's use).
    ///
    /// Errors: the tunnel's (`ssh.*`, `io`).
    pub async fn through(session: Option<&SshSession>, host: &str, port: u16) -> Result<Endpoint> {
        let Some(session) = session else {
            return Ok(Endpoint {
                host: host.to_owned(),
                port,
                tunnel: None,
                session: None,
            });
        };
        let tunnel = session.forward(host, port).await?;
        let local = tunnel.local_addr();
        Ok(Endpoint {
            host: local.ip().to_string(),
            port: local.port(),
            tunnel: Some(tunnel),
            session: None,
        })
    }

    /// Whether connections go through an SSH tunnel.
    pub fn tunnelled(&self) -> bool {
        self.tunnel.is_some()
    }

    /// The SSH session carrying the tunnel, if any: asked whether (and why)
    /// it was lost when a connection through it breaks.
    pub fn link(&self) -> Option<SshLink> {
        self.tunnel.as_ref().map(|t| t.link().clone())
    }
}

/// The host named `via` in `env`. Config validation guarantees it exists, so
/// a miss is an internal error.
pub fn via_host<'a>(env: &'a Environment, via: &str) -> Result<&'a Host> {
    env.hosts
        .iter()
        .map(|h| h.get_ref())
        .find(|h| h.name == via)
        .ok_or_else(|| Error::internal(format!("via host '{via}' vanished from the config")))
}

/// `host:port` as seen from here: itself, or the local end of a tunnel
/// through host `via` of `env`, over an SSH session of its own.
///
/// Errors: the credential source's and SSH errors.
pub async fn endpoint(
    env: &Environment,
    via: Option<&str>,
    host: &str,
    port: u16,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
) -> Result<Endpoint> {
    let Some(via) = via else {
        return Endpoint::through(None, host, port).await;
    };
    let session = SshSession::connect(via_host(env, via)?, creds, known_hosts).await?;
    let mut ep = Endpoint::through(Some(&session), host, port).await?;
    ep.session = Some(session);
    Ok(ep)
}

/// A routed login to an environment's database; keeps its tunnel open while
/// it lives.
pub struct Route {
    pub target: Target,
    _endpoint: Endpoint,
}

/// Routes to replica `replica` of `environment`'s database, as [`database`]
/// does for the primary (its own `via`; user and credential default to the
/// database's).
///
/// Errors: as [`database`].
pub async fn replica(
    environment: &str,
    env: &Environment,
    replica: &nfops_core::config::Replica,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
) -> Result<Route> {
    let db = env.database.as_ref().ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("environment '{environment}' has no database"),
        )
    })?;
    let password = creds.get(
        replica
            .password_credential
            .as_ref()
            .unwrap_or(&db.password_credential),
    )?;
    let via = replica.via.as_ref().map(|v| v.get_ref().as_str());
    let ep = endpoint(env, via, &replica.host, replica.port, creds, known_hosts).await?;
    Ok(Route {
        target: Target {
            host: ep.host.clone(),
            port: ep.port,
            user: replica.user.clone().unwrap_or_else(|| db.user.clone()),
            password,
            database: db.name.clone(),
            label: format!("{environment} replica {}", replica.name),
            carrier: ep
                .link()
                .map(|l| Arc::new(l) as Arc<dyn nfops_mysql::Carrier>),
            limits: nfops_mysql::Limits::JOB,
            tls: nfops_mysql::Tls::of(db),
        },
        _endpoint: ep,
    })
}

/// Routes to `environment`'s database (through the `via` host's SSH tunnel
/// when configured); `database` overrides the configured schema name (drills
/// load into a shadow). `purpose` finishes the sentence "environment 'X' has
/// no database …" ("to back up", "to restore into").
///
/// Errors: `input.invalid` when the environment has no database; the
/// credential source's and SSH errors. Nothing is connected yet: call
/// `route.target.connect()`.
pub async fn database(
    environment: &str,
    env: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
    database: Option<&str>,
    purpose: &str,
) -> Result<Route> {
    let db = env.database.as_ref().ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidInput,
            format!("environment '{environment}' has no database {purpose}"),
        )
        .hint("Add a [environments.NAME.database] section to environments.toml.")
    })?;
    let password = creds.get(&db.password_credential)?;
    let via = db.via.as_ref().map(|v| v.get_ref().as_str());
    let ep = endpoint(env, via, &db.host, db.port, creds, known_hosts).await?;
    Ok(Route {
        target: Target {
            host: ep.host.clone(),
            port: ep.port,
            user: db.user.clone(),
            password,
            database: database.unwrap_or(&db.name).to_owned(),
            label: format!("{environment} database"),
            carrier: ep
                .link()
                .map(|l| Arc::new(l) as Arc<dyn nfops_mysql::Carrier>),
            limits: nfops_mysql::Limits::JOB,
            tls: nfops_mysql::Tls::of(db),
        },
        _endpoint: ep,
    })
}

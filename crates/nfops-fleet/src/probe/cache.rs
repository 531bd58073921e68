//! Redis: authenticate (when a password credential is set), select `db`, PING.

use std::time::Duration;

use nfops_core::config::Cache;
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};

use super::{route, via_text, Sessions};

/// Summary: "PONG".
///
/// Errors: `service.unreachable` naming `host:port` (and "via host 'X'");
/// a refused password gets a hint naming its credential. Never the password.
pub(super) async fn probe(
    cache: &Cache,
    creds: &dyn CredentialSource,
    sessions: &Sessions<'_>,
    timeout: Duration,
) -> Result<String> {
    let password = match &cache.password_credential {
        Some(name) => Some(creds.get(name)?),
        None => None,
    };
    let via = cache.via.as_ref().map(|v| v.get_ref().as_str());
    let route = route(sessions, via, &cache.host, cache.port).await?;
    let info = ConnectionInfo {
        addr: ConnectionAddr::Tcp(route.host.clone(), route.port),
        redis: RedisConnectionInfo {
            db: i64::from(cache.db),
            password: password.as_ref().map(|p| p.expose().clone()),
            ..Default::default()
        },
    };
    // Not kept past this call: RedisConnectionInfo's Debug would print the password.
    let client = redis::Client::open(info).map_err(|e| error(cache, via, e))?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(timeout)
        .set_response_timeout(timeout);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| error(cache, via, e))?;
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .map_err(|e| error(cache, via, e))?;
    if pong != "PONG" {
        return Err(Error::new(
            ErrorCode::Unhealthy,
            format!(
                "Redis at {}{} answered PING with '{}'",
                crate::ssh::endpoint(&cache.host, cache.port),
                via_text(via),
                super::bounded(&pong, 40)
            ),
        )
        .hint("Check that the port is really Redis."));
    }
    Ok(pong)
}

fn error(cache: &Cache, via: Option<&str>, e: redis::RedisError) -> Error {
    let at = format!(
        "{}{}",
        crate::ssh::endpoint(&cache.host, cache.port),
        via_text(via)
    );
    let auth = e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"));
    if auth {
        let hint = match &cache.password_credential {
            Some(c) => format!("Check the password stored as credential '{c}' (`nfops credentials set {c}`)."),
            None => "Redis asks for a password: set cache.password_credential and store it in the keyring.".to_owned(),
        };
        return Error::new(
            ErrorCode::Unreachable,
            format!("Redis at {at} refused the login"),
        )
        .hint(hint)
        .source(e);
    }
    let reason = if e.is_connection_refusal() {
        "connection refused"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_io_error() || e.is_connection_dropped() {
        "connection closed"
    } else {
        "it did not answer as Redis"
    };
    let hint = match via {
        Some(v) => format!("Check that Redis runs and that host '{v}' can reach {}:{}.", cache.host, cache.port),
        None => format!("Check that Redis runs and listens on {}:{}, or set cache.via to reach it through a bastion.", cache.host, cache.port),
    };
    Error::new(
        ErrorCode::Unreachable,
        format!("Redis at {at} is unreachable: {reason}"),
    )
    .hint(hint)
    .source(e)
}

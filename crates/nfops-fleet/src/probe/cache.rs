//! Redis: authenticate (when a password credential is set), select `db`, PING.

use std::time::Duration;

use nfops_core::config::Cache;
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};

use super::{route, via_text, Sessions};
use crate::route::Endpoint;

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
    let via = cache.via.as_ref().map(|v| v.get_ref().as_str());
    let (_route, mut conn) = connect(cache, creds, sessions, timeout).await?;
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

/// A connection to `cache`, logged in and on its `db`, through its tunnel when
/// `via` is set. The returned route holds that tunnel: keep it while the
/// connection is used.
///
/// Errors: as [`probe`].
async fn connect(
    cache: &Cache,
    creds: &dyn CredentialSource,
    sessions: &Sessions<'_>,
    timeout: Duration,
) -> Result<(Endpoint, MultiplexedConnection)> {
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
    let conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| error(cache, via, e))?;
    Ok((route, conn))
}

fn error(cache: &Cache, via: Option<&str>, e: redis::RedisError) -> Error {
    let at = format!(
        "{}{}",
        crate::ssh::endpoint(&cache.host, cache.port),
        via_text(via)
    );
    // The login can also fail inside the connection setup (the SELECT of
    // `db` before AUTH), where the client wraps the server's NOAUTH in its
    // own words: read the text too.
    let text = e.to_string();
    let auth = e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
        || ["NOAUTH", "WRONGPASS", "Authentication required"]
            .iter()
            .any(|w| text.contains(w));
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
    } else if text.contains("switch database") {
        // SELECT refused without a NOAUTH in the text: the db number, or a
        // login the server wants first.
        return Error::new(
            ErrorCode::Unreachable,
            format!("Redis at {at} refused to switch to database {}", cache.db),
        )
        .hint("Check cache.db against the server's `databases` setting; if Redis needs a password, set cache.password_credential.")
        .source(e);
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

/// Redis's own counters (from `INFO`), for the cache charts when no
/// Redis exporter feeds Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStats {
    pub used_memory_bytes: u64,
    /// Since the Redis server started (a restart resets them).
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
}

/// `INFO memory` and `INFO stats` of `cache` (through its tunnel when `via` is set).
///
/// Errors: as [`probe`]; `service.unhealthy` when INFO lacks the fields.
pub(super) async fn stats(
    cache: &Cache,
    creds: &dyn CredentialSource,
    sessions: &Sessions<'_>,
    timeout: Duration,
) -> Result<CacheStats> {
    let via = cache.via.as_ref().map(|v| v.get_ref().as_str());
    let (_route, mut conn) = connect(cache, creds, sessions, timeout).await?;
    let text: String = redis::cmd("INFO")
        .query_async(&mut conn)
        .await
        .map_err(|e| error(cache, via, e))?;
    parse_info(&text).ok_or_else(|| {
        Error::new(
            ErrorCode::Unhealthy,
            format!(
                "Redis at {}{} answered INFO without used_memory and keyspace counters",
                crate::ssh::endpoint(&cache.host, cache.port),
                via_text(via)
            ),
        )
    })
}

fn parse_info(text: &str) -> Option<CacheStats> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some(CacheStats {
        used_memory_bytes: field("used_memory")?,
        keyspace_hits: field("keyspace_hits")?,
        keyspace_misses: field("keyspace_misses")?,
    })
}

#[cfg(test)]
mod info_tests {
    #[test]
    fn reads_memory_and_keyspace_counters() {
        let text = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n# Stats\r\nkeyspace_hits:30\r\nkeyspace_misses:10\r\n";
        let s = super::parse_info(text).expect("stats");
        assert_eq!(
            (s.used_memory_bytes, s.keyspace_hits, s.keyspace_misses),
            (1_048_576, 30, 10)
        );
        assert_eq!(
            super::parse_info("used_memory:1\r\n"),
            None,
            "no counters, no stats"
        );
    }
}

//! The cache step: remove exactly the environment's Redis keys (those
//! starting with its `key_prefix`, in its `db`; never another
//! environment's), check none is left, then warm the app up.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::config::{Cache, Environment};
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};

use nfops_fleet::route::{endpoint, Endpoint};

/// A Redis connection (and the tunnel it goes through).
pub struct CacheConn {
    pub conn: redis::aio::MultiplexedConnection,
    _ep: Endpoint,
}

/// Connects to `cache` (through its `via` host when configured), db selected.
///
/// Errors: `service.unreachable` naming the endpoint.
pub async fn connect(
    env: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
    cache: &Cache,
) -> Result<CacheConn> {
    let password = match &cache.password_credential {
        Some(n) => Some(creds.get(n)?),
        None => None,
    };
    let via = cache.via.as_ref().map(|v| v.get_ref().clone());
    let ep = endpoint(
        env,
        via.as_deref(),
        &cache.host,
        cache.port,
        creds,
        known_hosts,
    )
    .await?;
    let info = ConnectionInfo {
        addr: ConnectionAddr::Tcp(ep.host.clone(), ep.port),
        redis: RedisConnectionInfo {
            db: i64::from(cache.db),
            password: password.as_ref().map(|p| p.expose().clone()),
            ..Default::default()
        },
    };
    let client = redis::Client::open(info).map_err(|e| error(cache, e))?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Duration::from_secs(10))
        .set_response_timeout(Duration::from_secs(30));
    let conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|e| error(cache, e))?;
    Ok(CacheConn { conn, _ep: ep })
}

/// The operator-facing error for a Redis failure (never the password).
pub fn error(cache: &Cache, e: redis::RedisError) -> Error {
    Error::new(
        ErrorCode::Unreachable,
        format!(
            "Redis at {}:{} (db {}) failed: {}",
            cache.host,
            cache.port,
            cache.db,
            if e.is_timeout() {
                "timed out"
            } else if e.is_connection_refusal() || e.is_connection_dropped() {
                "connection refused or dropped"
            } else {
                "command refused"
            }
        ),
    )
    .hint("Check that Redis is running and its password credential is right.")
}

/// Keys of `prefix`, counted with SCAN (never KEYS).
pub async fn count_keys(
    conn: &mut redis::aio::MultiplexedConnection,
    cache: &Cache,
    prefix: &str,
) -> Result<u64> {
    let mut cursor: u64 = 0;
    let mut n = 0u64;
    loop {
        let (next, keys) = scan_page(conn, cache, prefix, cursor).await?;
        n += keys.len() as u64;
        cursor = next;
        if cursor == 0 {
            return Ok(n);
        }
    }
}

/// Removes every key starting with `prefix` (SCAN + UNLINK); returns how many.
pub async fn flush_prefix(
    conn: &mut redis::aio::MultiplexedConnection,
    cache: &Cache,
    prefix: &str,
) -> Result<u64> {
    let mut cursor: u64 = 0;
    let mut n = 0u64;
    loop {
        let (next, keys) = scan_page(conn, cache, prefix, cursor).await?;
        // Belt and braces: only keys that really start with the prefix.
        let keys: Vec<Vec<u8>> = keys
            .into_iter()
            .filter(|k| k.starts_with(prefix.as_bytes()))
            .collect();
        if !keys.is_empty() {
            let removed: u64 = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(conn)
                .await
                .map_err(|e| error(cache, e))?;
            n += removed;
        }
        cursor = next;
        if cursor == 0 {
            return Ok(n);
        }
    }
}

/// One SCAN page of the keys matching `prefix*` from `cursor`: the next
/// cursor (0 when the scan is done) and the keys of this page.
async fn scan_page(
    conn: &mut redis::aio::MultiplexedConnection,
    cache: &Cache,
    prefix: &str,
    cursor: u64,
) -> Result<(u64, Vec<Vec<u8>>)> {
    redis::cmd("SCAN")
        .arg(cursor)
        .arg("MATCH")
        .arg(format!("{}*", glob_escape(prefix)))
        .arg("COUNT")
        .arg(1000)
        .query_async(conn)
        .await
        .map_err(|e| error(cache, e))
}

fn glob_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// The prefix to flush. Errors: `config.invalid` when the cache has none
/// (flushing a whole shared db could remove another environment's keys).
pub fn prefix_of(environment: &str, cache: &Cache) -> Result<String> {
    match cache.key_prefix.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Ok(p.to_owned()),
        None => Err(Error::new(
            ErrorCode::ConfigInvalid,
            format!("the cache of '{environment}' has no key_prefix: refusing to flush a whole Redis db"),
        )
        .hint("Set cache.key_prefix in environments.toml (every key of the environment starts with it).")),
    }
}

/// The cache step of a restore.
pub struct CacheStep {
    pub environment: String,
    pub env: Environment,
    pub creds: std::sync::Arc<dyn CredentialSource>,
    pub known_hosts: std::path::PathBuf,
}

impl CacheStep {
    /// The step as planned: which keys go.
    pub fn planned(&self) -> nfops_core::jobs::PlannedStep {
        let cache = self.env.cache.as_ref();
        nfops_core::jobs::PlannedStep {
            name: "cache".into(),
            description: format!(
                "Remove every Redis key under '{}' (db {}), then warm-up requests to the app",
                cache.and_then(|c| c.key_prefix.clone()).unwrap_or_default(),
                cache.map_or(0, |c| c.db)
            ),
        }
    }
}

#[async_trait]
impl Step for CacheStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let Some(cache) = self.env.cache.as_ref() else {
            return Ok(Verified::by(
                "the environment has no cache: nothing to flush",
            ));
        };
        let prefix = prefix_of(&self.environment, cache)?;
        let mut c = connect(&self.env, self.creds.as_ref(), &self.known_hosts, cache).await?;
        let removed = flush_prefix(&mut c.conn, cache, &prefix).await?;
        // Check before the warm-up refills it.
        let left = count_keys(&mut c.conn, cache, &prefix).await?;
        if left > 0 {
            // Writers may be repopulating already; a second pass must empty it.
            flush_prefix(&mut c.conn, cache, &prefix).await?;
        }
        cx.check_cancelled()?;
        let mut warm = 0;
        if let Some(h) = self.env.health_url.as_ref().map(|h| h.get_ref().clone()) {
            let base = h
                .trim_end_matches("/health")
                .trim_end_matches('/')
                .to_owned();
            let client = nfops_core::http::client_builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| Error::internal(format!("no HTTP client: {e}")))?;
            for p in ["/health", "/users?limit=20", "/orders", "/files"] {
                let url = format!("{base}{p}");
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => warm += 1,
                    Ok(r) => {
                        return Err(Error::new(
                            ErrorCode::Unhealthy,
                            format!(
                                "warm-up request {url} answered HTTP {}",
                                r.status().as_u16()
                            ),
                        )
                        .hint("The app does not serve the restored data; check its logs."))
                    }
                    Err(_) => {
                        return Err(Error::new(
                            ErrorCode::Unreachable,
                            format!("warm-up request {url} got no answer"),
                        )
                        .hint("Check that the app and nginx are running."))
                    }
                }
            }
        }
        Ok(Verified::by(format!(
            "{removed} key(s) under '{prefix}' in db {} removed, {left} left right after (then re-flushed); {warm} warm-up request(s) answered 2xx",
            cache.db
        )))
    }
}

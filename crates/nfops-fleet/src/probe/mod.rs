//! The Overview's live state of one environment.
//!
//! [`probe_environment`] checks every configured part of an environment at the
//! same time, each with its own timeout, and never fails as a whole: every
//! probe reports its own result, and a part that is not configured is
//! [`ProbeState::NotConfigured`], not an error. Results come in a stable order:
//! backend, release per host (config order), database, cache, storage,
//! monitoring.
//!
//! At most one SSH session per host is opened per run; it serves the release
//! probe and every tunnel (`via`) through that host, and is closed when the
//! run ends.

mod backend;
mod cache;
mod database;
mod monitoring;
mod release;
pub mod replication;
pub mod storage;

pub use cache::CacheStats;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nfops_core::config::{Environment, Host, Tier};
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result, WireError};
use serde::Serialize;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::route::Endpoint;
use crate::ssh::SshSession;

/// Which part of the platform a probe looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProbeKind {
    Backend,
    Release,
    Database,
    Cache,
    Storage,
    Monitoring,
}

/// The outcome of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProbeState {
    /// The part answered as required.
    Ok,
    /// The part did not answer, or not as required; `error` says why.
    Failed,
    /// The environment does not configure this part.
    NotConfigured,
}

/// One probe's result.
///
/// Invariants: `error` is `Some` exactly when `state` is `Failed`; `summary`
/// and `error` never hold a credential value or raw driver text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    pub kind: ProbeKind,
    /// What was probed: the health URL, host name, `host:port`, endpoint.
    pub target: String,
    pub state: ProbeState,
    /// One line for the card: "healthy (db ok, redis ok)", "v1", "MariaDB 10.11.6",
    /// "PONG", "2 buckets, versioning on", "5/5 targets up"; empty when failed.
    pub summary: String,
    pub error: Option<WireError>,
    /// Wall time of the probe, including waiting for a shared SSH session.
    pub latency_ms: u64,
    /// Since when the answer holds, where the part can tell: for a release,
    /// when the host's `current` link was last switched. None otherwise.
    pub since: Option<DateTime<Utc>>,
}

/// The live state of one environment at `checked_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentStatus {
    pub name: String,
    pub label: String,
    pub tier: Tier,
    pub checked_at: DateTime<Utc>,
    pub probes: Vec<ProbeResult>,
}

impl EnvironmentStatus {
    /// Whether every configured part answered as required.
    pub fn all_ok(&self) -> bool {
        self.probes.iter().all(|p| p.state != ProbeState::Failed)
    }
}

/// Tuning of a probe run.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Budget of each probe (SSH login, tunnel and query together). Default 5 s.
    pub timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
        }
    }
}

/// The Redis counters of `env`'s cache (`INFO`), reached as the Overview
/// reaches it (through an SSH tunnel when `cache.via` is set).
///
/// Errors: `input.invalid` when the environment has no cache; otherwise as
/// the cache probe (`service.unreachable` naming where, never the password).
pub async fn cache_stats(
    env: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
    timeout: Duration,
) -> Result<CacheStats> {
    let cache = env.cache.as_ref().ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidInput,
            "the environment has no [cache] section",
        )
    })?;
    let sessions = Sessions::new(env, creds, known_hosts, timeout);
    tokio::time::timeout(timeout * 2, cache::stats(cache, creds, &sessions, timeout))
        .await
        .unwrap_or_else(|_| {
            Err(Error::new(
                ErrorCode::Unreachable,
                format!(
                    "Redis at {} did not answer INFO in time",
                    crate::ssh::endpoint(&cache.host, cache.port)
                ),
            ))
        })
}

/// Probes environment `name` with [`ProbeOptions::default`]. See
/// [`probe_environment_with`].
pub async fn probe_environment(
    name: &str,
    env: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
) -> EnvironmentStatus {
    probe_environment_with(name, env, creds, known_hosts, &ProbeOptions::default()).await
}

/// Probes every configured part of `env` concurrently, each within
/// `options.timeout`. Never fails: each [`ProbeResult`] carries its own error.
/// SSH host keys are verified as in [`SshSession::connect`], with
/// trust-on-first-use records in `known_hosts`.
// Long on purpose: one probe future per platform part, joined together so they run concurrently over the shared sessions.
pub async fn probe_environment_with(
    name: &str,
    env: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
    options: &ProbeOptions,
) -> EnvironmentStatus {
    let checked_at = Utc::now();
    let timeout = options.timeout;
    let sessions = Sessions::new(env, creds, known_hosts, timeout);

    let backend = async {
        match &env.health_url {
            None => not_configured(ProbeKind::Backend),
            Some(url) => {
                let url = url.get_ref();
                let target = backend::display_url(url);
                run(
                    ProbeKind::Backend,
                    target.clone(),
                    timeout,
                    ErrorCode::Unreachable,
                    backend::probe(url, &target, timeout),
                )
                .await
            }
        }
    };
    let releases = futures::future::join_all(env.hosts.iter().map(|h| {
        let host = h.get_ref();
        let sessions = &sessions;
        async move {
            run_since(
                ProbeKind::Release,
                host.name.clone(),
                timeout,
                ErrorCode::SshCommand,
                async move {
                    let session = sessions.get(&host.name).await?;
                    release::probe(session, host, timeout).await
                },
            )
            .await
        }
    }));
    let database = async {
        match &env.database {
            None => not_configured(ProbeKind::Database),
            Some(db) => {
                let target = crate::ssh::endpoint(&db.host, db.port);
                run(
                    ProbeKind::Database,
                    target,
                    timeout,
                    ErrorCode::Unreachable,
                    database::probe(db, creds, &sessions),
                )
                .await
            }
        }
    };
    let cache = async {
        match &env.cache {
            None => not_configured(ProbeKind::Cache),
            Some(c) => {
                let target = crate::ssh::endpoint(&c.host, c.port);
                run(
                    ProbeKind::Cache,
                    target,
                    timeout,
                    ErrorCode::Unreachable,
                    cache::probe(c, creds, &sessions, timeout),
                )
                .await
            }
        }
    };
    let storage = async {
        match &env.storage {
            None => not_configured(ProbeKind::Storage),
            Some(s) => {
                let target = backend::display_url(&s.endpoint);
                run(
                    ProbeKind::Storage,
                    target,
                    timeout,
                    ErrorCode::Unreachable,
                    storage::probe(s, creds, timeout),
                )
                .await
            }
        }
    };
    let monitoring = async {
        match &env.monitoring {
            None => not_configured(ProbeKind::Monitoring),
            Some(m) => {
                let target = backend::display_url(&m.prometheus_url);
                run(
                    ProbeKind::Monitoring,
                    target,
                    timeout,
                    ErrorCode::Unreachable,
                    monitoring::probe(m, timeout),
                )
                .await
            }
        }
    };

    let replicas = replication::probe_rows(name, env, creds, known_hosts, timeout);
    let (backend, releases, database, replicas, cache, storage, monitoring) =
        tokio::join!(backend, releases, database, replicas, cache, storage, monitoring);
    sessions.close().await;
    let mut probes = Vec::with_capacity(5 + releases.len() + replicas.len());
    probes.push(backend);
    probes.extend(releases);
    probes.push(database);
    // Replication state (threads, lag, last error) right under the database.
    probes.extend(replicas);
    probes.extend([cache, storage, monitoring]);

    EnvironmentStatus {
        name: name.to_owned(),
        label: env.label.clone().unwrap_or_else(|| name.to_owned()),
        tier: env.tier,
        checked_at,
        probes,
    }
}

fn not_configured(kind: ProbeKind) -> ProbeResult {
    ProbeResult {
        kind,
        target: String::new(),
        state: ProbeState::NotConfigured,
        summary: "not configured".to_owned(),
        error: None,
        latency_ms: 0,
        since: None,
    }
}

/// Runs one probe within `timeout` and turns its outcome into a result.
async fn run(
    kind: ProbeKind,
    target: String,
    timeout: Duration,
    timeout_code: ErrorCode,
    probe: impl Future<Output = Result<String>>,
) -> ProbeResult {
    run_since(kind, target, timeout, timeout_code, async {
        probe.await.map(|summary| (summary, None))
    })
    .await
}

/// [`run`] for a probe that also says since when its answer holds.
async fn run_since(
    kind: ProbeKind,
    target: String,
    timeout: Duration,
    timeout_code: ErrorCode,
    probe: impl Future<Output = Result<(String, Option<DateTime<Utc>>)>>,
) -> ProbeResult {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(timeout, probe).await {
        Ok(r) => r,
        Err(_) => Err(Error::new(
            timeout_code,
            format!(
                "{} probe of {target} did not finish within {}s",
                kind_name(kind),
                timeout.as_secs_f32()
            ),
        )
        .hint("The service or the network path to it is slow or blocked; check that it runs.")),
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok((summary, since)) => ProbeResult {
            kind,
            target,
            state: ProbeState::Ok,
            summary,
            error: None,
            latency_ms,
            since,
        },
        Err(e) => {
            tracing::warn!(probe = kind_name(kind), %target, code = %e.code(), error = %e, causes = ?e.causes(), "probe failed");
            ProbeResult {
                kind,
                target,
                state: ProbeState::Failed,
                summary: String::new(),
                error: Some(e.to_wire()),
                latency_ms,
                since: None,
            }
        }
    }
}

fn kind_name(kind: ProbeKind) -> &'static str {
    match kind {
        ProbeKind::Backend => "backend",
        ProbeKind::Release => "release",
        ProbeKind::Database => "database",
        ProbeKind::Cache => "cache",
        ProbeKind::Storage => "storage",
        ProbeKind::Monitoring => "monitoring",
    }
}

/// The SSH sessions of one probe run: opened lazily, at most once per host,
/// shared by the release probe and the tunnels through that host.
pub(crate) struct Sessions<'a> {
    hosts: Vec<(&'a Host, OnceCell<Result<SshSession, WireError>>)>,
    creds: &'a dyn CredentialSource,
    known_hosts: &'a Path,
    timeout: Duration,
}

impl<'a> Sessions<'a> {
    fn new(
        env: &'a Environment,
        creds: &'a dyn CredentialSource,
        known_hosts: &'a Path,
        timeout: Duration,
    ) -> Self {
        let hosts = env
            .hosts
            .iter()
            .map(|h| (h.get_ref(), OnceCell::new()))
            .collect();
        Self {
            hosts,
            creds,
            known_hosts,
            timeout,
        }
    }

    /// Disconnects every session that was opened (concurrently, best effort).
    async fn close(&self) {
        let open = self
            .hosts
            .iter()
            .filter_map(|(_, cell)| cell.get().and_then(|r| r.as_ref().ok()));
        futures::future::join_all(open.map(SshSession::disconnect)).await;
    }

    /// The session to host `name`, connecting on first use. A failed connect
    /// is remembered for the run (every probe needing it reports it).
    pub(crate) async fn get(&self, name: &str) -> Result<&SshSession> {
        let Some((host, cell)) = self.hosts.iter().find(|(h, _)| h.name == name) else {
            return Err(Error::internal(format!(
                "no host named '{name}' in this environment"
            )));
        };
        let outcome = cell
            .get_or_init(|| async {
                SshSession::connect_with_timeout(host, self.creds, self.known_hosts, self.timeout).await.map_err(|e| {
                    tracing::warn!(host = %host.name, code = %e.code(), error = %e, causes = ?e.causes(), "SSH connect failed");
                    e.to_wire()
                })
            })
            .await;
        outcome.as_ref().map_err(from_wire)
    }
}

/// Rebuilds an error from its wire form (shared failures are reported by
/// every probe that needed the session).
fn from_wire(w: &WireError) -> Error {
    Error::from(w.clone())
}

/// `" via host 'X'"` when a connection goes through a tunnel, else empty.
pub(crate) fn via_text(via: Option<&str>) -> String {
    via.map(|v| format!(" via host '{v}'")).unwrap_or_default()
}

/// The run's route to `host:port`: through the shared session to host `via`
/// when set, else direct (see [`crate::route::Endpoint::through`]).
pub(crate) async fn route(
    sessions: &Sessions<'_>,
    via: Option<&str>,
    host: &str,
    port: u16,
) -> Result<Endpoint> {
    let session = match via {
        None => None,
        Some(v) => Some(sessions.get(v).await?),
    };
    Endpoint::through(session, host, port).await
}

/// The first `max` characters of `text`, on one line, control characters removed.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    crate::ssh::excerpt(
        &text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>(),
        max,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_camel_case() {
        let r = ProbeResult {
            kind: ProbeKind::Release,
            target: "app1".into(),
            state: ProbeState::NotConfigured,
            summary: String::new(),
            error: None,
            latency_ms: 3,
            since: None,
        };
        let v = serde_json::to_value(&r).expect("serializable");
        assert_eq!(v["kind"], "release");
        assert_eq!(
            v["state"], "notConfigured",
            "the UI branches on these exact strings"
        );
        assert_eq!(v["latencyMs"], 3);
    }

    #[test]
    fn shared_errors_keep_their_code() {
        let e = Error::new(ErrorCode::SshAuth, "rejected").hint("add the key");
        let back = from_wire(&e.to_wire());
        assert_eq!(back.code(), ErrorCode::SshAuth);
        assert_eq!(back.hint_text(), Some("add the key"));
    }

    #[tokio::test]
    async fn an_empty_environment_is_all_not_configured_in_stable_order() {
        let cfg = nfops_core::config::Config::parse(
            Path::new("t.toml"),
            "[environments.e]\ntier = \"local\"\n",
        )
        .expect("config parses");
        let env = cfg.environment("e").expect("env");
        let creds = nfops_core::credentials::MemoryCredentials::default();
        let dir = tempfile::tempdir().expect("tempdir");
        let status = probe_environment("e", env, &creds, &dir.path().join("kh")).await;
        let kinds: Vec<_> = status.probes.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                ProbeKind::Backend,
                ProbeKind::Database,
                ProbeKind::Cache,
                ProbeKind::Storage,
                ProbeKind::Monitoring
            ]
        );
        assert!(status
            .probes
            .iter()
            .all(|p| p.state == ProbeState::NotConfigured && p.error.is_none()));
        assert!(status.all_ok(), "not configured is not a failure");
    }

    #[test]
    fn probing_is_send_so_the_shell_can_spawn_it() {
        fn assert_send<T: Send>(_: &T) {}
        let cfg = nfops_core::config::Config::parse(
            Path::new("t.toml"),
            "[environments.e]\ntier = \"local\"\n",
        )
        .expect("config parses");
        let env = cfg.environment("e").expect("env");
        let creds = nfops_core::credentials::MemoryCredentials::default();
        let fut = probe_environment("e", env, &creds, Path::new("/nonexistent"));
        assert_send(&fut);
    }
}

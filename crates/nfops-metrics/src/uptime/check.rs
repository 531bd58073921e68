//! Running one probe once: what it saw, how long it took.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use nfops_core::config::{Environment, UptimeCheck};
use serde::Serialize;
use tokio::io::AsyncReadExt;

use crate::bounded;

/// Default interval of the probe derived from `health_url`.
const HEALTH_INTERVAL_SECONDS: u32 = 30;
/// At most this much of an HTTP body is read looking for the keyword.
const MAX_BODY: usize = 1 << 20;

/// One probe of one environment, as the console runs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub name: String,
    pub check: UptimeCheck,
    /// A URL (`http`) or `host:port` (`tcp`, `tls`).
    pub target: String,
    pub expect_status: u16,
    pub keyword: Option<String>,
    pub interval_seconds: u32,
    pub failures_before_down: u32,
    pub min_cert_days: u32,
}

impl Probe {
    /// How long one check may take: the interval minus a margin, at most 10 s,
    /// so checks of one probe never overlap.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval_seconds.saturating_sub(5)).clamp(2, 10))
    }
}

/// The probes of `env`: its `[[uptime]]` entries, or, when it has none, one
/// HTTP probe named `health` of `health_url` expecting 200 every 30 s
/// (down after 3 failures).
pub fn probes_of(env: &Environment) -> Vec<Probe> {
    if env.uptime.is_empty() {
        return env
            .health_url
            .iter()
            .map(|url| Probe {
                name: "health".into(),
                check: UptimeCheck::Http,
                target: url.get_ref().clone(),
                expect_status: 200,
                keyword: None,
                interval_seconds: HEALTH_INTERVAL_SECONDS,
                failures_before_down: 3,
                min_cert_days: 14,
            })
            .collect();
    }
    env.uptime
        .iter()
        .map(|p| {
            let p = p.get_ref();
            Probe {
                name: p.name.clone(),
                check: p.check,
                target: p.target.get_ref().clone(),
                expect_status: p.expect_status.unwrap_or(200),
                keyword: p.keyword.clone(),
                interval_seconds: *p.interval_seconds.get_ref(),
                failures_before_down: p.failures_before_down,
                min_cert_days: p.min_cert_days,
            }
        })
        .collect()
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// Time to the answer; `None` when nothing answered.
    pub latency_ms: Option<f64>,
    /// What was seen: `200 OK`, `connection refused`, `certificate expires in 9 days`.
    pub detail: String,
}

/// Runs `probe` once. Never fails: a failure is a sample with `ok = false`
/// whose `detail` says what went wrong.
pub async fn run(probe: &Probe) -> Sample {
    let at = Utc::now();
    let started = Instant::now();
    let timeout = probe.timeout();
    let outcome = tokio::time::timeout(timeout, async {
        match probe.check {
            UptimeCheck::Http => http(probe, timeout).await,
            UptimeCheck::Tcp => tcp(&probe.target).await.map(|_| "connected".to_owned()),
            UptimeCheck::Tls => tls(probe).await,
        }
    })
    .await
    .unwrap_or_else(|_| {
        Err(Failure {
            detail: format!("no answer within {} s", timeout.as_secs()),
            answered: false,
        })
    });
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(detail) => Sample {
            at,
            ok: true,
            latency_ms: Some(elapsed),
            detail,
        },
        Err(f) => Sample {
            at,
            ok: false,
            latency_ms: f.answered.then_some(elapsed),
            detail: bounded(&f.detail, 300),
        },
    }
}

struct Failure {
    detail: String,
    /// Whether the other side answered at all (a wrong status did; a refused
    /// connection did not), which decides whether a latency is recorded.
    answered: bool,
}

fn silent(detail: impl Into<String>) -> Failure {
    Failure {
        detail: detail.into(),
        answered: false,
    }
}

async fn http(probe: &Probe, timeout: Duration) -> Result<String, Failure> {
    let client = nfops_core::http::client_builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| silent(format!("cannot build an HTTP client: {e}")))?;
    let mut response = client.get(&probe.target).send().await.map_err(|e| {
        let why = if e.is_connect() {
            "connection failed"
        } else if e.is_timeout() {
            "timed out"
        } else {
            "request failed"
        };
        silent(format!("{why}: {}", root_cause(&e)))
    })?;
    let status = response.status();
    let seen = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim()
    .to_owned();
    if status.as_u16() != probe.expect_status {
        return Err(Failure {
            detail: format!("status {seen}, expected {}", probe.expect_status),
            answered: true,
        });
    }
    let Some(keyword) = probe.keyword.as_deref() else {
        return Ok(seen);
    };
    let mut body = Vec::new();
    while body.len() < MAX_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                return Err(Failure {
                    detail: format!("reading the body failed: {}", root_cause(&e)),
                    answered: true,
                })
            }
        }
    }
    if String::from_utf8_lossy(&body).contains(keyword) {
        Ok(format!("{seen}, body contains the keyword"))
    } else {
        Err(Failure {
            detail: format!(
                "{seen}, but the body lacks the keyword '{}'",
                bounded(keyword, 60)
            ),
            answered: true,
        })
    }
}

async fn tcp(target: &str) -> Result<tokio::net::TcpStream, Failure> {
    tokio::net::TcpStream::connect(target)
        .await
        .map_err(|e| silent(format!("TCP connect to {target} failed: {e}")))
}

async fn tls(probe: &Probe) -> Result<String, Failure> {
    use tokio_rustls::rustls;
    let host = probe
        .target
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or(&probe.target)
        .to_owned();
    let name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|_| silent(format!("'{host}' is not a valid TLS server name")))?;
    // The same OS trust store as the HTTP clients (nfops_core::http).
    let config = nfops_core::http::tls_client_config()
        .map_err(|e| silent(format!("TLS setup failed: {e}")))?;
    let stream = tcp(&probe.target).await?;
    let mut conn = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(|e| Failure {
            detail: format!("TLS handshake with {} failed: {e}", probe.target),
            answered: true,
        })?;
    let expiry = conn
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| super::cert::not_after(c.as_ref()));
    // Nothing to read; a server that speaks first must not block the check.
    let _ = tokio::time::timeout(Duration::from_millis(1), conn.read(&mut [0u8; 1])).await;
    let Some(expiry) = expiry else {
        return Err(Failure {
            detail: "the server's certificate has no readable expiry date".into(),
            answered: true,
        });
    };
    let days = (expiry - Utc::now()).num_days();
    if days < i64::from(probe.min_cert_days) {
        return Err(Failure {
            detail: format!(
                "certificate expires in {days} days ({}), below the minimum of {}",
                expiry.format("%Y-%m-%d"),
                probe.min_cert_days
            ),
            answered: true,
        });
    }
    Ok(format!(
        "certificate valid, expires in {days} days ({})",
        expiry.format("%Y-%m-%d")
    ))
}

/// The innermost error's text: reqwest's own message only says "error
/// sending request", the cause ("Connection refused") is at the bottom.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

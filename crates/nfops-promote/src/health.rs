//! Health through the environment's entry point (nginx), release-aware.
//!
//! The platform's `/health` answers `{"status", "release", ...}`. Behind a
//! load balancer, successive requests reach different hosts, so a check
//! after switching one host counts answers from the new release.

use std::time::Duration;

use nfops_core::{Error, ErrorCode, Result};
use serde::Serialize;
use tokio::time::Instant;

/// One answer of `/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthAnswer {
    /// HTTP status; 0 when no answer came (connection error, timeout).
    pub status: u16,
    /// The release that answered, when the body said.
    pub release: Option<String>,
}

/// Asks `url` once, within `timeout`.
pub async fn health_once(client: &reqwest::Client, url: &str, timeout: Duration) -> HealthAnswer {
    match client.get(url).timeout(timeout).send().await {
        Err(_) => HealthAnswer {
            status: 0,
            release: None,
        },
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body: Option<serde_json::Value> = resp.json().await.ok();
            HealthAnswer {
                status,
                release: body
                    .as_ref()
                    .and_then(|v| v.get("release"))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
            }
        }
    }
}

/// An HTTP client for health checks: no redirects, bounded time.
///
/// Errors: `internal` when it cannot be built.
pub fn client() -> Result<reqwest::Client> {
    nfops_core::http::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| Error::internal(format!("cannot build an HTTP client: {e}")))
}

/// Waits until `url` has answered HTTP 200 from release `release` `needed`
/// times. Any non-200 answer that names `release` fails at once (the new
/// release is serving errors); other failures (no answer, a 502 from the
/// balancer, answers from other releases) are tolerated until `timeout`.
/// Returns evidence such as "5 × 200 from v2 via http://…/health (3 from v1)".
///
/// Errors: `service.unhealthy` naming the status the release answered, or
/// the timeout with what was seen.
pub async fn wait_release_healthy(
    client: &reqwest::Client,
    url: &str,
    release: &str,
    needed: u32,
    timeout: Duration,
) -> Result<String> {
    let deadline = Instant::now() + timeout;
    let (mut ok, mut others, mut failures) = (0u32, 0u32, 0u32);
    let mut last = None;
    while Instant::now() < deadline {
        let a = health_once(client, url, Duration::from_secs(5)).await;
        match (&a.release, a.status) {
            (Some(r), 200) if r == release => ok += 1,
            (Some(r), s) if r == release => {
                return Err(Error::new(
                    ErrorCode::Unhealthy,
                    format!("release {release} answered HTTP {s} on {url}"),
                )
                .hint("The new release is not healthy; it is rolled back automatically."));
            }
            (_, 200) => others += 1,
            _ => failures += 1,
        }
        last = Some(a);
        if ok >= needed {
            return Ok(format!(
                "{ok} × HTTP 200 from {release} via {url}{}",
                if others > 0 {
                    format!(" ({others} from other releases)")
                } else {
                    String::new()
                }
            ));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Err(Error::new(
        ErrorCode::Unhealthy,
        format!(
            "release {release} did not answer healthy on {url} within {}s ({ok} healthy answers, {failures} failures, last {:?})",
            timeout.as_secs(),
            last.map(|a| a.status)
        ),
    )
    .hint("Check the host's PM2 logs; the promotion is rolled back automatically."))
}

/// Asks `url` `count` times; every answer must be HTTP 200 (from any release
/// when `release` is `None`). Returns the releases that answered.
///
/// Errors: `service.unhealthy` with the first bad status.
pub async fn all_healthy(
    client: &reqwest::Client,
    url: &str,
    release: Option<&str>,
    count: u32,
) -> Result<Vec<String>> {
    let mut seen = Vec::new();
    for _ in 0..count {
        let a = health_once(client, url, Duration::from_secs(5)).await;
        let right_release = release.is_none_or(|r| a.release.as_deref() == Some(r));
        if a.status != 200 || !right_release {
            let what = if a.status == 0 {
                "no answer".to_owned()
            } else {
                format!("HTTP {}", a.status)
            };
            return Err(Error::new(
                ErrorCode::Unhealthy,
                format!(
                    "{url} gave {what} from release {}{}",
                    a.release.as_deref().unwrap_or("?"),
                    release
                        .map(|r| format!(" (expected {r})"))
                        .unwrap_or_default()
                ),
            )
            .hint("Check the environment's hosts (pm2 ls, pm2 logs) and nginx."));
        }
        if let Some(r) = a.release {
            if !seen.contains(&r) {
                seen.push(r);
            }
        }
    }
    Ok(seen)
}

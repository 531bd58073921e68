//! Metrics verification: error rate and p95 latency of a release, from
//! Prometheus, compared with the pre-promotion baseline.
//!
//! Fails closed: Prometheus not answering, refusing a query, or having no
//! samples for the release is a failure, never a pass.

use nfops_core::{Error, ErrorCode, Result};
use nfops_metrics::Prometheus;
use serde::{Deserialize, Serialize};

/// Traffic, error ratio and p95 latency of one release over a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub requests_per_sec: f64,
    /// 5xx answers / all answers, 0..=1.
    pub error_ratio: f64,
    pub p95_seconds: f64,
}

/// How much worse than the baseline a new release may be.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tolerance {
    /// Absolute increase of the error ratio allowed (0.01 = one point).
    pub error_ratio_increase: f64,
    /// p95 may grow to `baseline × factor + slack`.
    pub p95_factor: f64,
    pub p95_slack_seconds: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self {
            error_ratio_increase: 0.01,
            p95_factor: 2.0,
            p95_slack_seconds: 0.1,
        }
    }
}

/// The series of one environment and release in PromQL.
fn matcher(selector: Option<&str>, release: &str, extra: &str) -> String {
    let mut parts = Vec::new();
    if let Some(s) = selector.filter(|s| !s.trim().is_empty()) {
        parts.push(s.trim().to_owned());
    }
    parts.push(format!("release=\"{}\"", release.replace(['"', '\\'], "")));
    if !extra.is_empty() {
        parts.push(extra.to_owned());
    }
    format!("{{{}}}", parts.join(","))
}

async fn scalar(prom: &Prometheus, query: &str) -> Result<Option<f64>> {
    let samples = prom.instant(query).await?;
    Ok(samples.first().map(|s| s.value).filter(|v| v.is_finite()))
}

/// Measures `release` over the last `window_secs` (at least 10 s, so two
/// scrapes fall inside).
///
/// Errors: `service.unreachable` / `service.unhealthy` from Prometheus;
/// `job.check_failed` when there is no traffic data for the release
/// ("missing data fails").
pub async fn measure(
    prom: &Prometheus,
    selector: Option<&str>,
    release: &str,
    window_secs: u64,
) -> Result<Measurement> {
    let w = window_secs.max(10);
    let all = matcher(selector, release, "");
    let errors = matcher(selector, release, "status=~\"5..\"");
    let total = scalar(prom, &format!("sum(rate(http_requests_total{all}[{w}s]))")).await?;
    let failed = scalar(
        prom,
        &format!("sum(rate(http_requests_total{errors}[{w}s]))"),
    )
    .await?;
    let p95 = scalar(
        prom,
        &format!("histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{all}[{w}s])))"),
    )
    .await?;
    let missing = || {
        Error::new(
            ErrorCode::CheckFailed,
            format!(
                "Prometheus at {} has no request metrics for release {release} over the last {w}s",
                prom.url()
            ),
        )
        .hint("Without data the release cannot be judged, so this counts as a failure. Check that Prometheus scrapes the app (targets page).")
    };
    let total = total.filter(|t| *t > 0.0).ok_or_else(missing)?;
    let p95 = p95.ok_or_else(missing)?;
    Ok(Measurement {
        requests_per_sec: total,
        error_ratio: (failed.unwrap_or(0.0) / total).clamp(0.0, 1.0),
        p95_seconds: p95,
    })
}

/// Compares a measurement with the baseline. `Ok(summary)` when within
/// tolerance, else `job.check_failed` saying which figure is off.
pub fn judge(baseline: &Measurement, now: &Measurement, tol: &Tolerance) -> Result<String> {
    let max_err = baseline.error_ratio + tol.error_ratio_increase;
    let max_p95 = baseline.p95_seconds * tol.p95_factor + tol.p95_slack_seconds;
    let summary = format!(
        "error ratio {:.2}% (baseline {:.2}%, max {:.2}%), p95 {:.0} ms (baseline {:.0} ms, max {:.0} ms), {:.1} req/s",
        now.error_ratio * 100.0,
        baseline.error_ratio * 100.0,
        max_err * 100.0,
        now.p95_seconds * 1000.0,
        baseline.p95_seconds * 1000.0,
        max_p95 * 1000.0,
        now.requests_per_sec
    );
    if now.error_ratio > max_err || now.p95_seconds > max_p95 {
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!("the new release is worse than before: {summary}"),
        )
        .hint("The promotion is rolled back automatically; look at the release's logs before trying again."));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(err: f64, p95: f64) -> Measurement {
        Measurement {
            requests_per_sec: 10.0,
            error_ratio: err,
            p95_seconds: p95,
        }
    }

    #[test]
    fn releases_within_tolerance_pass_and_worse_ones_fail() {
        let tol = Tolerance::default();
        assert!(judge(&m(0.0, 0.010), &m(0.005, 0.015), &tol).is_ok());
        let e = judge(&m(0.0, 0.010), &m(0.5, 0.010), &tol).expect_err("50% errors");
        assert_eq!(e.code(), ErrorCode::CheckFailed);
        assert!(
            judge(&m(0.0, 0.010), &m(0.0, 0.5), &tol).is_err(),
            "p95 from 10 ms to 500 ms must fail"
        );
    }

    #[test]
    fn the_promql_selects_the_environment_and_release() {
        assert_eq!(
            matcher(Some("env=\"production\""), "v2", "status=~\"5..\""),
            "{env=\"production\",release=\"v2\",status=~\"5..\"}"
        );
        assert_eq!(matcher(None, "v\"2", ""), "{release=\"v2\"}");
    }
}

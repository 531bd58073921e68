//! Wire types of the Uptime page.

use serde::Serialize;
use specta::Type;

use crate::metrics::dto::MetricsChart;

/// One probe over the picked range.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct UptimeProbe {
    pub name: String,
    /// `http`, `tcp` or `tls`.
    pub check: String,
    pub target: String,
    pub interval_seconds: u32,
    pub failures_before_down: u32,
    /// `up`, `down` or `unknown` (never checked, or failing below the threshold).
    pub status: String,
    pub consecutive_failures: u32,
    /// Checks in the range (f64: a count may exceed 2^32).
    pub checks: f64,
    pub failures: f64,
    pub uptime_percent: Option<f64>,
    pub mean_latency_ms: Option<f64>,
    pub last: Option<UptimeSample>,
}

/// One check.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct UptimeSample {
    /// RFC 3339.
    pub at: String,
    pub ok: bool,
    pub latency_ms: Option<f64>,
    pub detail: String,
}

/// The Uptime page of one environment: its probes and both charts.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct UptimeReport {
    pub environment: String,
    pub start: f64,
    pub end: f64,
    pub probes: Vec<UptimeProbe>,
    pub charts: Vec<MetricsChart>,
}

impl From<nfops_metrics::uptime::Sample> for UptimeSample {
    fn from(s: nfops_metrics::uptime::Sample) -> Self {
        Self {
            at: s.at.to_rfc3339(),
            ok: s.ok,
            latency_ms: s.latency_ms,
            detail: s.detail,
        }
    }
}

impl From<nfops_ops::UptimeReport> for UptimeReport {
    fn from(r: nfops_ops::UptimeReport) -> Self {
        Self {
            environment: r.environment,
            start: r.start,
            end: r.end,
            probes: r
                .probes
                .into_iter()
                .map(|(p, s)| UptimeProbe {
                    check: match p.check {
                        nfops_core::config::UptimeCheck::Http => "http",
                        nfops_core::config::UptimeCheck::Tcp => "tcp",
                        nfops_core::config::UptimeCheck::Tls => "tls",
                    }
                    .to_owned(),
                    name: p.name,
                    target: p.target,
                    interval_seconds: p.interval_seconds,
                    failures_before_down: p.failures_before_down,
                    status: s.status.as_str().to_owned(),
                    consecutive_failures: s.consecutive_failures,
                    checks: s.checks as f64,
                    failures: s.failures as f64,
                    uptime_percent: s.uptime_percent,
                    mean_latency_ms: s.mean_latency_ms,
                    last: s.last.map(Into::into),
                })
                .collect(),
            charts: r.charts.into_iter().map(Into::into).collect(),
        }
    }
}

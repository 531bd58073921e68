//! Wire types of the monitoring pages (Uptime), kept apart from `wire.rs`
//! so the features merge cleanly. Each converts explicitly from its domain type.

use serde::Serialize;
use specta::Type;

use crate::wire::{Failure, MetricsChart};

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

/// One PM2 process of a host.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Pm2Process {
    pub name: String,
    pub pm_id: u32,
    pub status: String,
    pub cpu_percent: f64,
    /// Bytes (f64: may exceed 2^32).
    pub memory_bytes: f64,
    pub restarts: u32,
}

/// One host's processes, or why they could not be listed.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HostInstances {
    pub host: String,
    pub roles: Vec<String>,
    pub backend_online: u32,
    pub processes: Vec<Pm2Process>,
    pub error: Option<Failure>,
}

/// The Scaling page of one environment.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ScalingView {
    pub environment: String,
    /// The backend app `scale` changes (`nf-api`).
    pub app: String,
    pub backend_online: u32,
    pub hosts: Vec<HostInstances>,
    /// The instances chart (from PM2's counts).
    pub chart: MetricsChart,
}

/// One host of a scale plan or outcome.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HostScale {
    pub host: String,
    pub current: u32,
    pub target: u32,
}

/// What a scale will do (plan) or did (outcome: `target` is the checked count).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ScalePlan {
    pub environment: String,
    pub app: String,
    pub instances_per_host: u32,
    pub hosts: Vec<HostScale>,
    pub changes: bool,
}

/// The capacity forecast: figures and the two trend charts.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CapacityForecast {
    pub environment: String,
    pub instances: u32,
    pub cpu_now: Option<f64>,
    /// Unix seconds when CPU reaches `cpuLimit` (upper band), within the horizon.
    pub cpu_full_at: Option<f64>,
    pub cpu_limit: f64,
    pub requests_now: Option<f64>,
    pub requests_at_horizon: Option<f64>,
    pub horizon: f64,
    pub suggested_instances: Option<u32>,
    pub charts: Vec<MetricsChart>,
}

impl ScalingView {
    pub fn new(i: nfops_ops::EnvironmentInstances, chart: nfops_metrics::ChartOutcome) -> Self {
        Self {
            environment: i.environment,
            app: nfops_ops::BACKEND_APP.to_owned(),
            backend_online: i.backend_online,
            hosts: i
                .hosts
                .into_iter()
                .map(|h| HostInstances {
                    host: h.host,
                    roles: h.roles,
                    backend_online: h.backend_online,
                    processes: h
                        .processes
                        .into_iter()
                        .map(|p| Pm2Process {
                            name: p.name,
                            pm_id: p.pm_id,
                            status: p.status,
                            cpu_percent: p.cpu_percent,
                            memory_bytes: p.memory_bytes as f64,
                            restarts: p.restarts,
                        })
                        .collect(),
                    error: h.error.map(Into::into),
                })
                .collect(),
            chart: chart.into(),
        }
    }
}

impl From<nfops_ops::ScalePlan> for ScalePlan {
    fn from(p: nfops_ops::ScalePlan) -> Self {
        Self {
            changes: p.changes(),
            environment: p.environment,
            app: p.app,
            instances_per_host: p.instances_per_host,
            hosts: p.hosts.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<nfops_ops::HostScale> for HostScale {
    fn from(h: nfops_ops::HostScale) -> Self {
        Self {
            host: h.host,
            current: h.current,
            target: h.target,
        }
    }
}

impl From<nfops_ops::ScaleOutcome> for ScalePlan {
    fn from(o: nfops_ops::ScaleOutcome) -> Self {
        let mut plan = ScalePlan::from(o.plan);
        plan.hosts = o.after.into_iter().map(Into::into).collect();
        plan
    }
}

impl From<nfops_ops::CapacityForecast> for CapacityForecast {
    fn from(f: nfops_ops::CapacityForecast) -> Self {
        Self {
            environment: f.environment,
            instances: f.instances,
            cpu_now: f.cpu_now,
            cpu_full_at: f.cpu_full_at,
            cpu_limit: nfops_ops::CPU_LIMIT,
            requests_now: f.requests_now,
            requests_at_horizon: f.requests_at_horizon,
            horizon: f.horizon,
            suggested_instances: f.suggested_instances,
            charts: f.charts.into_iter().map(Into::into).collect(),
        }
    }
}

/// One structured log line.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub ts: String,
    pub level: String,
    pub category: String,
    pub msg: String,
    pub app: String,
    pub host: String,
    /// The whole line as JSON text (every field).
    pub raw: String,
}

/// A host whose logs could not be read.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LogHostFailure {
    pub host: String,
    pub error: Failure,
}

/// The newest lines of an environment.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LogTail {
    /// `pm2` (files over SSH) or `loki`.
    pub source: String,
    pub lines: Vec<LogLine>,
    pub failed_hosts: Vec<LogHostFailure>,
}

impl From<nfops_ops::LogTail> for LogTail {
    fn from(t: nfops_ops::LogTail) -> Self {
        Self {
            source: t.source,
            lines: t
                .entries
                .into_iter()
                .map(|e| LogLine {
                    ts: e.ts,
                    level: e.level,
                    category: e.category,
                    msg: e.msg,
                    app: e.app,
                    host: e.host,
                    raw: e.raw,
                })
                .collect(),
            failed_hosts: t
                .failed_hosts
                .into_iter()
                .map(|(host, e)| LogHostFailure {
                    host,
                    error: e.into(),
                })
                .collect(),
        }
    }
}

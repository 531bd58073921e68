//! Wire types of the Scaling page: PM2 instances, scale plans, the capacity forecast.

use serde::Serialize;
use specta::Type;

use crate::failure::Failure;
use crate::metrics::dto::MetricsChart;

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

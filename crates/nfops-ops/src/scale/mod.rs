//! Scaling: how many instances of the backend app run per host (from PM2
//! over SSH), scaling them (`pm2 scale`, planned, confirmed, audited and
//! checked), the instances chart, and a capacity forecast.
//!
//! The instances chart is drawn from PM2's own counts, recorded in SQLite
//! whenever the console lists or scales instances: Prometheus cannot count
//! them, since its scrape targets are a fixed list (the local stack scrapes
//! only instances 0 and 1).
//!
//! - [`plan`]: the plan of a scale and its job (audited as `scale.backend`).
//! - [`steps`]: one host's step: `pm2 scale`, then `pm2 jlist` until the
//!   count is online.
//! - [`forecast`]: the instances chart and the capacity forecast.

mod forecast;
mod plan;
mod steps;

use std::time::Duration;

use chrono::Utc;
use futures::future::join_all;
use nfops_core::config::Host;
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::instances::{self, Pm2Process};
use nfops_fleet::SshSession;
use serde::Serialize;

pub use forecast::CapacityForecast;

use crate::Console;

/// The PM2 app that `scale` changes: the platform's HTTP backend.
pub const BACKEND_APP: &str = "nf-api";
/// Instances per host `scale` accepts.
pub const MAX_INSTANCES_PER_HOST: u32 = 16;
/// How long one host may take to reach its new count (PM2 waits for each new
/// instance's `ready`, up to the app's listen timeout).
const SCALE_TIMEOUT: Duration = Duration::from_secs(90);
const LIST_TIMEOUT: Duration = Duration::from_secs(20);
/// CPU use (percent) where a host counts as full, and the level a suggested
/// instance count aims for.
pub const CPU_LIMIT: f64 = 80.0;
pub const CPU_TARGET: f64 = 60.0;

/// One host's PM2 processes, or why they could not be listed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostInstances {
    pub host: String,
    pub roles: Vec<String>,
    pub processes: Vec<Pm2Process>,
    /// Online instances of [`BACKEND_APP`].
    pub backend_online: u32,
    #[serde(serialize_with = "wire_error")]
    pub error: Option<Error>,
}

fn wire_error<S: serde::Serializer>(
    e: &Option<Error>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    e.as_ref().map(Error::to_wire).serialize(s)
}

/// Every host of an environment.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentInstances {
    pub environment: String,
    pub hosts: Vec<HostInstances>,
    pub backend_online: u32,
}

/// What `scale` will do on one host.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostScale {
    pub host: String,
    pub current: u32,
    pub target: u32,
}

/// The plan of a scale: read it, then apply it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalePlan {
    pub environment: String,
    pub app: String,
    pub instances_per_host: u32,
    pub hosts: Vec<HostScale>,
}

impl ScalePlan {
    /// Whether applying would change anything.
    pub fn changes(&self) -> bool {
        self.hosts.iter().any(|h| h.current != h.target)
    }
}

/// What a scale did: the count PM2 reports on each host afterwards.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleOutcome {
    pub plan: ScalePlan,
    /// Each host with the count `pm2 jlist` showed when its step completed.
    pub after: Vec<HostScale>,
    pub job_id: String,
}

impl Console {
    fn backend_hosts(&self, env: &str) -> Result<Vec<Host>> {
        let config = self.config()?;
        let e = config.environment(env)?;
        let hosts: Vec<Host> = e
            .hosts
            .iter()
            .map(|h| h.get_ref().clone())
            .filter(|h| h.roles.iter().any(|r| r == "backend"))
            .collect();
        if hosts.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("environment {env} has no host with the backend role"),
            )
            .hint("Add roles = [\"backend\"] to the hosts that run nf-api in environments.toml."));
        }
        Ok(hosts)
    }

    async fn list_host(&self, host: &Host) -> Result<Vec<Pm2Process>> {
        let session =
            SshSession::connect(host, self.keyring().as_ref(), &self.known_hosts()).await?;
        let listed = instances::list(&session, host, LIST_TIMEOUT).await;
        session.disconnect().await;
        listed
    }

    /// The PM2 processes of every host of `env`, listed concurrently; each
    /// host carries its own error. Records the backend counts for the chart.
    ///
    /// Errors: `config.*`; `state.error` when the counts cannot be recorded.
    pub async fn instances(&self, env: &str) -> Result<EnvironmentInstances> {
        let config = self.config()?;
        let hosts: Vec<Host> = config
            .environment(env)?
            .hosts
            .iter()
            .map(|h| h.get_ref().clone())
            .collect();
        let listed = join_all(hosts.iter().map(|h| self.list_host(h))).await;
        let now = Utc::now().timestamp_millis();
        let mut out = Vec::new();
        for (host, result) in hosts.into_iter().zip(listed) {
            let (processes, error) = match result {
                Ok(p) => (p, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            let backend_online = online(&processes);
            if error.is_none() && host.roles.iter().any(|r| r == "backend") {
                let total = processes.iter().filter(|p| p.name == BACKEND_APP).count();
                self.record_instances(env, &host.name, now, backend_online, total as u32)
                    .await?;
            }
            out.push(HostInstances {
                host: host.name,
                roles: host.roles,
                processes,
                backend_online,
                error,
            });
        }
        Ok(EnvironmentInstances {
            environment: env.to_owned(),
            backend_online: out.iter().map(|h| h.backend_online).sum(),
            hosts: out,
        })
    }

    async fn record_instances(
        &self,
        env: &str,
        host: &str,
        at: i64,
        online: u32,
        total: u32,
    ) -> Result<()> {
        sqlx::query("INSERT OR REPLACE INTO instance_samples(environment, host, app, at, online, total) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(env)
            .bind(host)
            .bind(BACKEND_APP)
            .bind(at)
            .bind(i64::from(online))
            .bind(i64::from(total))
            .execute(self.state().pool())
            .await?;
        Ok(())
    }
}

/// Online instances of the backend app among `processes`.
fn online(processes: &[Pm2Process]) -> u32 {
    processes
        .iter()
        .filter(|p| p.name == BACKEND_APP && p.status == "online")
        .count() as u32
}

//! Scaling: how many instances of the backend app run per host (from PM2
//! over SSH), scaling them (`pm2 scale`, planned, confirmed, audited and
//! checked), the instances chart, and a capacity forecast.
//!
//! The instances chart is drawn from PM2's own counts, recorded in SQLite
//! whenever the console lists or scales instances: Prometheus cannot count
//! them, since its scrape targets are a fixed list (the local stack scrapes
//! only instances 0 and 1).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use chrono::Utc;
use futures::future::join_all;
use nfops_core::audit::{Action, Outcome};
use nfops_core::config::Host;
use nfops_core::jobs::{
    CancellationToken, JobState, Plan, PlannedStep, Progress, Step, StepContext, Verified,
};
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::instances::{self, Pm2Process};
use nfops_fleet::SshSession;
use nfops_metrics::catalog::{self, ChartSpec, Unit};
use nfops_metrics::forecast::{suggest_instances, Trend};
use nfops_metrics::{render_svg_spanning, ChartData, ChartOutcome, Drawing, Prometheus, Series};
use serde::Serialize;

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

/// PM2 instance counts per host.
pub static INSTANCES_CHART: ChartSpec = ChartSpec {
    id: "instances",
    title: "Backend instances (PM2)",
    source: "pm2",
    unit: Unit::Count,
    host_scoped: false,
    lines: &[],
};

static FORECAST_CPU: ChartSpec = ChartSpec {
    id: "forecast-cpu",
    title: "CPU busy: trend and forecast",
    source: "node",
    unit: Unit::Percent,
    host_scoped: false,
    lines: &[],
};

static FORECAST_REQUESTS: ChartSpec = ChartSpec {
    id: "forecast-requests",
    title: "Request rate: trend and forecast",
    source: "app",
    unit: Unit::PerSecond,
    host_scoped: false,
    lines: &[],
};

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

/// The capacity forecast of an environment.
#[derive(Debug)]
pub struct CapacityForecast {
    pub environment: String,
    pub instances: u32,
    pub cpu_now: Option<f64>,
    /// Unix seconds when CPU (upper band) reaches [`CPU_LIMIT`], within the
    /// horizon; `Some(now)` when already there.
    pub cpu_full_at: Option<f64>,
    pub requests_now: Option<f64>,
    /// Requests per second at the horizon, by the trend.
    pub requests_at_horizon: Option<f64>,
    pub horizon: f64,
    /// Instances that keep forecast CPU at the horizon near [`CPU_TARGET`].
    pub suggested_instances: Option<u32>,
    pub charts: Vec<ChartOutcome>,
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

    /// The plan to run `per_host` instances of the backend on every backend
    /// host of `env`, from the counts PM2 reports now.
    ///
    /// Errors: `input.invalid` for a count outside 1..=16 or an environment
    /// without backend hosts; SSH and PM2 errors of any host (a plan is only
    /// made when every host answered).
    pub async fn scale_plan(&self, env: &str, per_host: u32) -> Result<ScalePlan> {
        if !(1..=MAX_INSTANCES_PER_HOST).contains(&per_host) {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("{per_host} instances per host is outside 1..={MAX_INSTANCES_PER_HOST}"),
            )
            .hint("Give the number of nf-api instances each backend host should run."));
        }
        let hosts = self.backend_hosts(env)?;
        let listed = join_all(hosts.iter().map(|h| self.list_host(h))).await;
        let mut plan = Vec::new();
        for (host, result) in hosts.iter().zip(listed) {
            plan.push(HostScale {
                host: host.name.clone(),
                current: online(&result?),
                target: per_host,
            });
        }
        Ok(ScalePlan {
            environment: env.to_owned(),
            app: BACKEND_APP.to_owned(),
            instances_per_host: per_host,
            hosts: plan,
        })
    }

    /// Applies `plan` as a job with one step per host, in turn (so the
    /// environment keeps serving): `pm2 scale`, then a step is completed only
    /// when `pm2 jlist` shows exactly the target count online. Audited as
    /// `scale.backend` (started, then succeeded or failed). Progress and
    /// cancel go through the job engine; hosts already scaled stay scaled.
    ///
    /// PM2 picks which instances a scale-down stops: the survivors may be
    /// numbered (`NODE_APP_INSTANCE`) 1 and 2 rather than 0 and 1, so a
    /// monitoring setup with one metrics port per instance number sees them
    /// move (the local stack's Prometheus scrapes instances 0 and 1 only).
    ///
    /// Errors: SSH/PM2 errors; `job.check_failed` when a host does not
    /// reach its count; `job.cancelled`.
    pub async fn scale_apply(
        &self,
        plan: &ScalePlan,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<ScaleOutcome> {
        let details = serde_json::json!({
            "app": plan.app,
            "instancesPerHost": plan.instances_per_host,
            "hosts": plan.hosts.iter().map(|h| serde_json::json!({"host": h.host, "from": h.current, "to": h.target})).collect::<Vec<_>>(),
        });
        let audit = |outcome, details| Action {
            action: "scale.backend",
            environment: Some(&plan.environment),
            target: Some(&plan.app),
            outcome,
            details,
        };
        self.audit()
            .record(audit(Outcome::Started, details.clone()))
            .await?;
        let result = self.scale_job(plan, progress, cancel).await;
        let (outcome, mut d) = match &result {
            Ok(_) => (Outcome::Succeeded, details),
            Err(e) if e.code() == ErrorCode::Cancelled => (Outcome::Cancelled, details),
            Err(_) => (Outcome::Failed, details),
        };
        if let (Err(e), Some(obj)) = (&result, d.as_object_mut()) {
            obj.insert("error".into(), serde_json::json!(e.code().as_str()));
        }
        self.audit().record(audit(outcome, d)).await?;
        result
    }

    async fn scale_job(
        &self,
        plan: &ScalePlan,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<ScaleOutcome> {
        let hosts = self.backend_hosts(&plan.environment)?;
        let mut planned = Vec::new();
        let mut steps: Vec<Box<dyn Step>> = Vec::new();
        for step in &plan.hosts {
            let host = hosts.iter().find(|h| h.name == step.host).ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!(
                        "host {} is no longer a backend host of {}",
                        step.host, plan.environment
                    ),
                )
                .hint("environments.toml changed since the plan was made: plan again.")
            })?;
            planned.push(PlannedStep {
                name: format!("scale {} on {}", plan.app, host.name),
                description: format!(
                    "pm2 scale {} {} ({} online now), then check pm2 jlist",
                    plan.app, step.target, step.current
                ),
            });
            steps.push(Box::new(ScaleHost {
                console: self.clone(),
                environment: plan.environment.clone(),
                host: host.clone(),
                app: plan.app.clone(),
                target: step.target,
            }));
        }
        let job_plan = Plan {
            kind: "scale.backend".into(),
            environment: Some(plan.environment.clone()),
            summary: format!(
                "scale {} in {} to {} per backend host",
                plan.app, plan.environment, plan.instances_per_host
            ),
            steps: planned,
        };
        let report = self
            .job_runner()
            .run(job_plan, steps, progress, cancel)
            .await?;
        if report.state != JobState::Succeeded {
            return Err(report.error.map(Error::from).unwrap_or_else(|| {
                Error::internal(format!("scale job ended {}", report.state.as_str()))
            }));
        }
        tracing::info!(category = "application", environment = %plan.environment, per_host = plan.instances_per_host, "backend scaled");
        Ok(ScaleOutcome {
            plan: plan.clone(),
            after: plan
                .hosts
                .iter()
                .map(|h| HostScale {
                    host: h.host.clone(),
                    current: h.current,
                    target: h.target,
                })
                .collect(),
            job_id: report.job_id,
        })
    }

    /// The instances chart of `env` over `drawing.range`: one series per
    /// backend host, from the recorded PM2 counts.
    ///
    /// Errors: `state.error`.
    pub async fn instances_chart(&self, env: &str, drawing: Drawing) -> Result<ChartOutcome> {
        let end = Utc::now().timestamp_millis() as f64 / 1000.0;
        let start = end - drawing.range.seconds() as f64;
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT host, at, online FROM instance_samples WHERE environment = ? AND app = ? AND at >= ? ORDER BY host, at",
        )
        .bind(env)
        .bind(BACKEND_APP)
        .bind((start * 1000.0) as i64)
        .fetch_all(self.state().pool())
        .await?;
        let mut series: Vec<Series> = Vec::new();
        for (host, at, n) in rows {
            let point = (at as f64 / 1000.0, n as f64);
            match series.last_mut() {
                Some(s) if s.name == host => s.points.push(point),
                _ => series.push(Series {
                    name: host,
                    points: vec![point],
                }),
            }
        }
        // Counts hold until the next sample: extend each series to now.
        for s in &mut series {
            if let Some(&(_, v)) = s.points.last() {
                s.points.push((end, v));
            }
        }
        let mut charts = [draw(
            &INSTANCES_CHART,
            series,
            &[],
            Some((start, end)),
            drawing,
        )];
        self.mark_charts(env, &mut charts, drawing.theme).await;
        let [chart] = charts;
        Ok(chart)
    }

    /// The capacity forecast of `env`: CPU and request-rate trends over
    /// `drawing.range`, carried forward as far again, when CPU reaches
    /// [`CPU_LIMIT`] at the current instance count, and a suggested count.
    ///
    /// Errors: `config.*`; `input.invalid` when the environment has no
    /// Prometheus; the Prometheus errors of either query.
    pub async fn capacity_forecast(&self, env: &str, drawing: Drawing) -> Result<CapacityForecast> {
        let config = self.config()?;
        let environment = config.environment(env)?;
        let monitoring = environment.monitoring.as_ref().ok_or_else(|| {
            Error::new(ErrorCode::InvalidInput, format!("environment {env} has no [monitoring] section"))
                .hint("A forecast needs the environment's Prometheus history: set monitoring.prometheus_url.")
        })?;
        let prom = Prometheus::new(&monitoring.prometheus_url, Duration::from_secs(15))?;
        let sel = catalog::matchers(monitoring.selector.as_deref(), None);
        let w = drawing.range.rate_window();
        let cpu_q = format!(
            r#"avg(100 * (1 - avg by (host) (rate(node_cpu_seconds_total{{mode="idle",{sel}}}[{w}s]))))"#
        );
        let req_q = format!(r#"sum(rate(http_requests_total{{{sel}}}[{w}s]))"#);
        let (start, end) = drawing.range.window(Utc::now().timestamp() as f64);
        let step = drawing.range.step();
        let (cpu, req) = futures::join!(
            prom.range(&cpu_q, start, end, step),
            prom.range(&req_q, start, end, step)
        );
        let cpu = cpu?
            .into_iter()
            .next()
            .map(|s| s.points)
            .unwrap_or_default();
        let req = req?
            .into_iter()
            .next()
            .map(|s| s.points)
            .unwrap_or_default();
        let instances = match self.instances(env).await {
            Ok(i) => i.backend_online,
            Err(_) => 0,
        };
        let horizon = end + (end - start);
        let last = |p: &[(f64, f64)]| p.iter().rev().map(|x| x.1).find(|v| v.is_finite());
        let cpu_trend = Trend::fit(&cpu);
        let req_trend = Trend::fit(&req);
        let cpu_full_at = cpu_trend.and_then(|t| t.reaches(CPU_LIMIT, end, horizon));
        let suggested = cpu_trend.map(|t| {
            let peak = (t.at(horizon) + 2.0 * t.sigma).max(0.0);
            suggest_instances(instances.max(1), peak, CPU_TARGET)
        });
        let mut charts = vec![
            forecast_chart(
                &FORECAST_CPU,
                &cpu,
                cpu_trend,
                end,
                horizon,
                step,
                drawing,
                Some(CPU_LIMIT),
            ),
            forecast_chart(
                &FORECAST_REQUESTS,
                &req,
                req_trend,
                end,
                horizon,
                step,
                drawing,
                None,
            ),
        ];
        self.mark_charts(env, &mut charts, drawing.theme).await;
        Ok(CapacityForecast {
            environment: env.to_owned(),
            instances,
            cpu_now: last(&cpu),
            cpu_full_at,
            requests_now: last(&req),
            requests_at_horizon: req_trend.map(|t| t.at(horizon).max(0.0)),
            horizon,
            suggested_instances: suggested,
            charts,
        })
    }
}

/// One host of a scale job: `pm2 scale`, then wait for the count online.
struct ScaleHost {
    console: Console,
    environment: String,
    host: Host,
    app: String,
    target: u32,
}

#[async_trait]
impl Step for ScaleHost {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let host = &self.host;
        let c = &self.console;
        let session = SshSession::connect(host, c.keyring().as_ref(), &c.known_hosts()).await?;
        let result = async {
            cx.message(format!("pm2 scale {} {} on {}", self.app, self.target, host.name));
            instances::scale(&session, host, &self.app, self.target, SCALE_TIMEOUT).await?;
            // PM2 returns once the new instances are launched; wait for them to be online.
            let until = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                cx.check_cancelled()?;
                let now_online = online(&instances::list(&session, host, LIST_TIMEOUT).await?);
                if now_online == self.target {
                    return Ok(now_online);
                }
                if tokio::time::Instant::now() >= until {
                    return Err(Error::new(
                        ErrorCode::CheckFailed,
                        format!("host {}: {} runs {now_online} instances online after scaling to {}", host.name, self.app, self.target),
                    )
                    .hint("Look at the host's logs (nfops logs --host ...) for instances that fail to start."));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        .await;
        session.disconnect().await;
        let reached = result?;
        c.record_instances(
            &self.environment,
            &host.name,
            Utc::now().timestamp_millis(),
            reached,
            reached,
        )
        .await?;
        Ok(Verified::by(format!(
            "pm2 jlist on {}: {reached} {} online == {}",
            host.name, self.app, self.target
        )))
    }
}

/// Online instances of the backend app among `processes`.
fn online(processes: &[Pm2Process]) -> u32 {
    processes
        .iter()
        .filter(|p| p.name == BACKEND_APP && p.status == "online")
        .count() as u32
}

#[allow(clippy::too_many_arguments)]
fn forecast_chart(
    spec: &'static ChartSpec,
    observed: &[(f64, f64)],
    trend: Option<Trend>,
    end: f64,
    horizon: f64,
    step: u64,
    drawing: Drawing,
    limit: Option<f64>,
) -> ChartOutcome {
    let mut series = vec![Series {
        name: "observed".into(),
        points: observed.to_vec(),
    }];
    let mut band = Vec::new();
    if let Some(t) = trend {
        // A percentage cannot pass 100: the trend and band stop there.
        let cap = if spec.unit == Unit::Percent {
            100.0
        } else {
            f64::MAX
        };
        let at = |x: f64| t.at(x).clamp(0.0, cap);
        let from = observed.first().map_or(end, |p| p.0);
        series.push(Series {
            name: "trend".into(),
            points: vec![(from, at(from)), (horizon, at(horizon))],
        });
        band = t
            .band(end, horizon, (step as f64).max((horizon - end) / 60.0))
            .into_iter()
            .map(|(x, lo, hi)| (x, lo.min(cap), hi.min(cap)))
            .collect();
    }
    if let Some(l) = limit {
        series.push(Series {
            name: format!("limit {l:.0} %"),
            points: vec![(observed.first().map_or(end, |p| p.0), l), (horizon, l)],
        });
    }
    draw(spec, series, &band, None, drawing)
}

fn draw(
    spec: &'static ChartSpec,
    series: Vec<Series>,
    band: &[(f64, f64, f64)],
    span: Option<(f64, f64)>,
    drawing: Drawing,
) -> ChartOutcome {
    let rendered = render_svg_spanning(&series, band, span, spec.unit, drawing.theme, drawing.size);
    ChartOutcome {
        spec,
        queries: Vec::new(),
        result: rendered
            .map(|rendered| ChartData {
                series,
                omitted: 0,
                rendered,
            })
            .map_err(|why| Error::internal(format!("chart {} could not be drawn: {why}", spec.id))),
        failed_query: None,
    }
}

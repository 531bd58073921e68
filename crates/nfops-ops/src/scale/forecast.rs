//! The instances chart (from PM2 counts recorded in SQLite) and the
//! capacity forecast (CPU and request-rate trends from Prometheus, carried
//! forward, with a suggested instance count).

use std::time::Duration;

use chrono::Utc;
use nfops_core::{Error, ErrorCode, Result};
use nfops_metrics::catalog::{self, ChartSpec, Unit};
use nfops_metrics::forecast::{suggest_instances, Trend};
use nfops_metrics::{render_svg_spanning, ChartData, ChartOutcome, Drawing, Prometheus, Series};

use super::{BACKEND_APP, CPU_LIMIT, CPU_TARGET};
use crate::Console;

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
        // Nor is a line carried below what the window itself saw: a burst
        // that fades would otherwise project a fall to 0 % within hours,
        // and a host's load does not go under its idle floor.
        let floor = observed
            .iter()
            .map(|p| p.1)
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min)
            .clamp(0.0, cap);
        let at = |x: f64| t.at(x).clamp(floor, cap);
        let from = observed.first().map_or(end, |p| p.0);
        series.push(Series {
            name: "trend".into(),
            points: projected(from, horizon, &at),
        });
        band = t
            .band(end, horizon, (step as f64).max((horizon - end) / 60.0))
            .into_iter()
            .map(|(x, lo, hi)| (x, lo.clamp(floor, cap), hi.clamp(floor, cap)))
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

/// The clamped trend from `from` to `to`: its two ends, plus the points
/// where it meets a clamp (so the drawn line bends there instead of cutting
/// a straight chord through the clamped ends).
fn projected(from: f64, to: f64, at: &dyn Fn(f64) -> f64) -> Vec<(f64, f64)> {
    const STEPS: usize = 48;
    (0..=STEPS)
        .map(|i| {
            let x = from + (to - from) * i as f64 / STEPS as f64;
            (x, at(x))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst to 90 % at the start of the window, fading to an idle 5 %:
    /// a straight line through it points down, through 0, within the horizon.
    fn burst() -> Vec<(f64, f64)> {
        let t0 = 1_700_000_000.0;
        (0..120)
            .map(|i| {
                let y = match i {
                    0..=19 => 90.0 - f64::from(i) * 4.25,
                    _ => 5.0,
                };
                (t0 + f64::from(i) * 30.0, y)
            })
            .collect()
    }

    #[test]
    fn a_fading_burst_is_never_projected_below_the_idle_floor_nor_above_100() {
        let observed = burst();
        let end = observed.last().expect("points").0;
        let horizon = end + (end - observed[0].0);
        for pts in [
            observed.clone(),
            observed.iter().map(|&(t, y)| (t, 200.0 - y)).collect(),
        ] {
            let trend = Trend::fit(&pts);
            let t = trend.expect("a fit");
            assert!(
                t.at(horizon) < 0.0 || t.at(horizon) > 100.0,
                "the unclamped line leaves 0..100 within the horizon: {}",
                t.at(horizon)
            );
            let out = forecast_chart(
                &FORECAST_CPU,
                &pts,
                trend,
                end,
                horizon,
                30,
                Drawing::default(),
                Some(CPU_LIMIT),
            );
            let data = out.result.expect("drawn");
            let line = data
                .series
                .iter()
                .find(|s| s.name == "trend")
                .expect("a trend line");
            let floor = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
            for &(_, y) in &line.points {
                assert!(
                    y >= floor.min(100.0) - 1e-9,
                    "{y} under the window's floor {floor}"
                );
                assert!(y <= 100.0 + 1e-9, "{y} above 100 %");
            }
            assert!(
                line.points.len() > 2,
                "the line bends where it meets a clamp"
            );
        }
    }
}

//! An environment's pulse for the Overview: four sparklines over the last
//! hour (request rate, 5xx share, p95 latency, CPU), each with its latest
//! value, and the alerts Prometheus has open for the environment.
//!
//! Each sparkline and the alert list succeed or fail on their own: one
//! query Prometheus refuses never hides the others.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use nfops_core::Result;
use plotters::prelude::*;

use crate::catalog::{matchers, Unit};
use crate::chart::{bounds, finite_runs, with_fluid_size, Series, Theme};
use crate::prometheus::{Labels, Prometheus};

/// How far back a sparkline looks.
pub const WINDOW_SECONDS: u64 = 3600;
/// One point a minute: 60 points, enough for a shape, light to draw.
const STEP: u64 = 60;
/// `rate()` window: a few scrapes at any sane scrape interval.
const RATE_WINDOW: &str = "2m";
/// A sparkline's viewBox: wide and short; the card shows it at its own
/// width (about 220 px at the default window size), so the line stays 2 px.
pub const SPARK_SIZE: (u32, u32) = (220, 36);

/// What one sparkline shows.
#[derive(Debug)]
pub struct SparkSpec {
    /// Stable name for the UI and tests: `requests`, `errors`, `p95`, `cpu`.
    pub id: &'static str,
    pub title: &'static str,
    pub unit: Unit,
    /// One environment-wide series; `{sel}` and `{w}` as in the catalog.
    pub expr: &'static str,
}

/// The Overview's sparklines, in display order.
pub static SPARKS: &[SparkSpec] = &[
    SparkSpec {
        id: "requests",
        title: "Requests",
        unit: Unit::PerSecond,
        expr: r#"sum(rate(http_requests_total{{sel}}[{w}]))"#,
    },
    SparkSpec {
        id: "errors",
        title: "5xx share",
        unit: Unit::Percent,
        // `or ... * 0`: 0 % while traffic flows and no 5xx series exists yet.
        expr: r#"100 * (sum(rate(http_requests_total{status=~"5..",{sel}}[{w}])) or sum(rate(http_requests_total{{sel}}[{w}])) * 0) / sum(rate(http_requests_total{{sel}}[{w}]))"#,
    },
    SparkSpec {
        id: "p95",
        title: "p95 latency",
        unit: Unit::Seconds,
        expr: r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{sel}}[{w}])))"#,
    },
    SparkSpec {
        id: "cpu",
        title: "CPU busy",
        unit: Unit::Percent,
        expr: r#"100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle",{sel}}[{w}])))"#,
    },
];

impl SparkSpec {
    /// The PromQL for an environment's `selector`.
    pub fn query(&self, selector: Option<&str>) -> String {
        // Without a selector `metric{}` and `{mode="idle",}` stay valid PromQL.
        self.expr
            .replace("{sel}", &matchers(selector, None))
            .replace("{w}", RATE_WINDOW)
    }
}

/// `points` on the query's step grid from `start` to `end`: Prometheus
/// leaves out steps without a sample, which must show as gaps (NaN), not
/// as a line drawn straight across them.
fn on_grid(points: &[(f64, f64)], start: f64, end: f64) -> Vec<(f64, f64)> {
    let step = STEP as f64;
    let n = ((end - start) / step).round().max(0.0) as usize + 1;
    let mut grid: Vec<(f64, f64)> = (0..n)
        .map(|i| (start + i as f64 * step, f64::NAN))
        .collect();
    for &(t, v) in points {
        let i = ((t - start) / step).round();
        if i >= 0.0 && (i as usize) < n {
            grid[i as usize].1 = v;
        }
    }
    grid
}

/// Steps after which a value no longer counts as "now": a part that stopped
/// reporting shows "no data", not its last value from long ago.
const STALE_STEPS: f64 = 3.0;

/// The newest finite value of `grid`, when it is at most [`STALE_STEPS`] old at `end`.
fn newest(grid: &[(f64, f64)], end: f64) -> Option<f64> {
    grid.iter()
        .rev()
        .find(|p| p.1.is_finite())
        .filter(|p| p.0 >= end - STALE_STEPS * STEP as f64)
        .map(|p| p.1)
}

/// One drawn sparkline.
#[derive(Debug)]
pub struct Spark {
    pub spec: &'static SparkSpec,
    pub query: String,
    /// The points and the drawing, or why there are none.
    pub result: Result<SparkData>,
}

#[derive(Debug, Clone)]
pub struct SparkData {
    /// `(unix seconds, value)` every step of the hour, NaN where there was no data.
    pub points: Vec<(f64, f64)>,
    /// The newest value, if it is recent (a few steps old at most); None otherwise.
    pub latest: Option<f64>,
    /// The SVG; a flat baseline when there is no point.
    pub svg: String,
}

/// An alert Prometheus has open (pending or firing) for the environment.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenAlert {
    pub name: String,
    /// `firing` or `pending` (its condition holds, its `for` has not passed).
    pub state: String,
    /// The `severity` label, when the rule sets one.
    pub severity: Option<String>,
    /// The alert's labels other than `alertname` and `severity`.
    pub labels: Labels,
    /// The `summary` annotation, else `description`, when the rule has one.
    pub summary: Option<String>,
    /// When its condition started to hold (RFC 3339), as Prometheus says.
    pub active_at: Option<String>,
}

/// An environment's sparklines and open alerts.
#[derive(Debug)]
pub struct Pulse {
    pub start: f64,
    pub end: f64,
    pub sparks: Vec<Spark>,
    pub alerts: Result<Vec<OpenAlert>>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// The pulse of the environment whose series `selector` picks out, read
/// from `prom` concurrently. Never fails as a whole.
pub async fn pulse(prom: &Prometheus, selector: Option<&str>, theme: Theme) -> Pulse {
    // Ends now, not at the last whole minute: the newest point is what is
    // happening, and traffic of the last seconds shows at once.
    let end = now().floor();
    let start = end - WINDOW_SECONDS as f64;
    let runs = SPARKS.iter().map(|spec| async move {
        let query = spec.query(selector);
        let result = prom
            .range(&query, start, end, STEP)
            .await
            .and_then(|found| {
                // Environment-wide sums: one series, or none when nothing matched.
                let answered = found
                    .into_iter()
                    .next()
                    .map(|s| s.points)
                    .unwrap_or_default();
                let points = on_grid(&answered, start, end);
                let latest = newest(&points, end);
                let svg =
                    render_sparkline(&points, (start, end), spec.unit, theme).map_err(|why| {
                        nfops_core::Error::internal(format!(
                            "drawing the {} sparkline: {why}",
                            spec.id
                        ))
                    })?;
                Ok(SparkData {
                    points,
                    latest,
                    svg,
                })
            });
        Spark {
            spec,
            query,
            result,
        }
    });
    let (sparks, alerts) =
        tokio::join!(futures::future::join_all(runs), open_alerts(prom, selector));
    Pulse {
        start,
        end,
        sparks,
        alerts,
    }
}

/// The alerts open for the environment: Prometheus picks them with the
/// environment's selector (`ALERTS{...}`, so every matcher form works), and
/// its alerts API adds their annotations and since when they are active.
///
/// Errors: as [`Prometheus::instant`] for the `ALERTS` query. When only the
/// alerts API fails, the alerts are returned without summary and time.
pub async fn open_alerts(prom: &Prometheus, selector: Option<&str>) -> Result<Vec<OpenAlert>> {
    let sel = matchers(selector, None);
    let query = if sel.is_empty() {
        "ALERTS".to_owned()
    } else {
        format!("ALERTS{{{sel}}}")
    };
    let (series, details) = tokio::join!(prom.instant(&query), prom.alerts());
    let details = details.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the alerts API did not answer; alerts are listed without annotations");
        Vec::new()
    });
    let mut out: Vec<OpenAlert> = series?
        .into_iter()
        .map(|s| {
            let mut labels = s.labels;
            labels.remove("__name__");
            let state = labels
                .remove("alertstate")
                .unwrap_or_else(|| "firing".into());
            let detail = details.iter().find(|d| d.labels == labels);
            let name = labels.remove("alertname").unwrap_or_default();
            let severity = labels.remove("severity");
            OpenAlert {
                name,
                state,
                severity,
                labels,
                summary: detail.and_then(|d| {
                    d.annotations
                        .get("summary")
                        .or_else(|| d.annotations.get("description"))
                        .map(|s| crate::bounded(s, 300))
                }),
                active_at: detail.and_then(|d| d.active_at.clone()),
            }
        })
        .collect();
    // Firing before pending, then by name: what needs eyes first comes first.
    out.sort_by(|a, b| (a.state != "firing", &a.name).cmp(&(b.state != "firing", &b.name)));
    Ok(out)
}

/// One entry of Prometheus's alerts API.
#[derive(Debug, Clone)]
pub struct AlertDetail {
    pub labels: Labels,
    pub annotations: BTreeMap<String, String>,
    pub active_at: Option<String>,
}

/// Draws `points` as a sparkline over `span`: the line and a light area
/// under it, no axes (the value beside it says the scale). NaN points are
/// gaps. No point at all draws only a baseline.
///
/// Errors: why plotters could not draw.
pub fn render_sparkline(
    points: &[(f64, f64)],
    span: (f64, f64),
    unit: Unit,
    theme: Theme,
) -> std::result::Result<String, String> {
    let (width, height) = SPARK_SIZE;
    let series = [Series {
        name: String::new(),
        points: points.to_vec(),
    }];
    let (_, _, y_min, y_max) = bounds(&series, unit);
    let (x_min, x_max) = if span.0 < span.1 {
        span
    } else {
        (span.0, span.0 + 1.0)
    };
    let color = theme.palette()[0];
    let mut svg = String::with_capacity(2048 + points.len() * 24);
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let area = root.margin(2, 2, 1, 1);
        let mut chart = ChartBuilder::on(&area)
            .build_cartesian_2d(x_min..x_max, y_min..y_max)
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x_min, y_min), (x_max, y_min)],
                theme.grid().stroke_width(1),
            )))
            .map_err(|e| e.to_string())?;
        for run in finite_runs(points) {
            if run.len() == 1 {
                chart
                    .draw_series(std::iter::once(Circle::new(run[0], 2, color.filled())))
                    .map_err(|e| e.to_string())?;
                continue;
            }
            let under: Vec<(f64, f64)> = run
                .iter()
                .copied()
                .chain([(run[run.len() - 1].0, y_min), (run[0].0, y_min)])
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    under,
                    color.mix(0.15).filled(),
                )))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(with_fluid_size(svg, width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_is_filled_and_works_without_a_selector() {
        for spec in SPARKS {
            let q = spec.query(Some(r#"{env="production"}"#));
            assert!(q.contains(r#"env="production""#), "{q}");
            assert!(!q.contains("{sel}") && !q.contains("{w}"), "{q}");
            let bare = spec.query(None);
            assert!(
                !bare.contains("{sel}") && !bare.contains("__name__"),
                "{bare}"
            );
        }
    }

    #[test]
    fn missing_steps_are_gaps_and_an_old_value_is_not_now() {
        let grid = on_grid(&[(0.0, 1.0), (120.0, 2.0)], 0.0, 300.0);
        assert_eq!(grid.len(), 6);
        assert!(grid[1].1.is_nan(), "a step Prometheus left out is a gap");
        assert_eq!(grid[2], (120.0, 2.0));
        assert_eq!(
            newest(&grid, 300.0),
            Some(2.0),
            "three steps old still counts"
        );
        let grid = on_grid(&[(0.0, 1.0)], 0.0, 300.0);
        assert_eq!(newest(&grid, 300.0), None, "five steps old is not now");
    }

    #[test]
    fn a_sparkline_draws_gaps_and_an_empty_hour() {
        let pts = vec![
            (0.0, 1.0),
            (60.0, 2.0),
            (120.0, f64::NAN),
            (180.0, 3.0),
            (240.0, 4.0),
        ];
        let svg =
            render_sparkline(&pts, (0.0, 240.0), Unit::PerSecond, Theme::Light).expect("drawn");
        assert!(
            svg.starts_with("<svg viewBox=\"0 0 220 36\""),
            "fluid: {}",
            &svg[..60]
        );
        // The baseline, then one line and one shaded area per run: a NaN breaks the line in two.
        assert_eq!(svg.matches("<polyline").count(), 3, "{svg}");
        assert_eq!(svg.matches("<polygon").count(), 2, "{svg}");
        let empty = render_sparkline(&[], (0.0, 240.0), Unit::Percent, Theme::Dark).expect("drawn");
        assert_eq!(
            empty.matches("<polyline").count(),
            1,
            "only the baseline: {empty}"
        );
        assert_eq!(empty.matches("<polygon").count(), 0);
    }
}

//! Wire types of the Metrics page; `MetricsChart` is every page's chart
//! (Uptime, Scaling). Also how a page's range and theme become a drawing.

use serde::Serialize;
use specta::Type;

use crate::failure::Failure;

/// The drawing a page asks for: `range` `15m` .. `7d` (else `input.invalid`),
/// `theme` `light` or `dark`, at the size every page shows charts.
pub fn drawing(range: &str, theme: &str) -> Result<nfops_metrics::Drawing, Failure> {
    Ok(nfops_metrics::Drawing {
        range: nfops_metrics::TimeRange::parse(range)?,
        theme: nfops_metrics::Theme::parse(theme),
        size: (640, 260),
    })
}

/// Every chart of one environment (or this machine) over one time range.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MetricsBoard {
    /// `prometheus` or `local` (this machine, when no Prometheus is configured).
    pub source: String,
    /// The Prometheus URL, or why this machine is shown.
    pub source_detail: String,
    /// Unix seconds.
    pub start: f64,
    pub end: f64,
    pub charts: Vec<MetricsChart>,
}

/// One chart: its SVG and the points behind it (for the hover readout), or
/// why it failed and which query.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MetricsChart {
    pub id: String,
    pub title: String,
    /// `percent`, `bytes_per_second`, `per_second`, `seconds`, `count`.
    pub unit: String,
    pub queries: Vec<String>,
    /// Our own generated SVG (no script, no external reference).
    pub svg: Option<String>,
    pub plot: Option<ChartPlot>,
    pub series: Vec<MetricsSeries>,
    /// Series left out to keep the chart readable.
    pub omitted: u32,
    pub error: Option<Failure>,
    pub failed_query: Option<String>,
}

/// Where the data sits in the SVG's viewBox, and the data range it spans.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChartPlot {
    pub view_width: u32,
    pub view_height: u32,
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    pub x_min: f64,
    pub x_max: f64,
    pub y_min: f64,
    pub y_max: f64,
}

/// One line: `[unix seconds, value]` points; `null` values are gaps.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSeries {
    pub name: String,
    pub color: String,
    pub points: Vec<(f64, Option<f64>)>,
}

impl From<nfops_metrics::Board> for MetricsBoard {
    fn from(b: nfops_metrics::Board) -> Self {
        let (source, source_detail) = match b.source {
            nfops_metrics::BoardSource::Prometheus { url } => ("prometheus", url),
            nfops_metrics::BoardSource::Local { reason } => ("local", reason),
        };
        Self {
            source: source.to_owned(),
            source_detail,
            start: b.start,
            end: b.end,
            charts: b.charts.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<nfops_metrics::ChartOutcome> for MetricsChart {
    fn from(c: nfops_metrics::ChartOutcome) -> Self {
        let mut chart = Self {
            id: c.spec.id.to_owned(),
            title: c.spec.title.to_owned(),
            unit: c.spec.unit.as_str().to_owned(),
            queries: c.queries,
            svg: None,
            plot: None,
            series: Vec::new(),
            omitted: 0,
            error: None,
            failed_query: c.failed_query,
        };
        match c.result {
            Ok(d) => {
                let r = d.rendered;
                chart.plot = Some(ChartPlot {
                    view_width: r.view_width,
                    view_height: r.view_height,
                    left: r.plot.left,
                    top: r.plot.top,
                    width: r.plot.width,
                    height: r.plot.height,
                    x_min: r.plot.x_min,
                    x_max: r.plot.x_max,
                    y_min: r.plot.y_min,
                    y_max: r.plot.y_max,
                });
                chart.series = d
                    .series
                    .into_iter()
                    .zip(r.colors)
                    .map(|(s, color)| MetricsSeries {
                        name: s.name,
                        color,
                        // JSON has no NaN: a gap travels as null.
                        points: s
                            .points
                            .into_iter()
                            .map(|(t, v)| (t, v.is_finite().then_some(v)))
                            .collect(),
                    })
                    .collect();
                chart.omitted = u32::try_from(d.omitted).unwrap_or(u32::MAX);
                chart.svg = Some(r.svg);
            }
            Err(e) => chart.error = Some(e.into()),
        }
        chart
    }
}

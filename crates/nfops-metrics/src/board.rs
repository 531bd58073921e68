//! A board: every chart of the catalog for one environment (or host) over
//! one time range, each chart succeeding or failing on its own.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use nfops_core::{Error, Result};

use crate::catalog::{self, ChartSpec, CATALOG};
use crate::chart::{render_svg, RenderedChart, Series, Theme};
use crate::local::LocalMetrics;
use crate::prometheus::{Prometheus, RangeSeries};
use crate::range::TimeRange;

/// More lines than this make a chart unreadable; the rest are left out (and said so).
pub const MAX_SERIES: usize = 12;

/// Which series a board shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    /// The environment's label matchers (`env="production"`), from `monitoring.selector`.
    pub selector: Option<&'a str>,
    /// Narrows host-scoped charts to this host.
    pub host: Option<&'a str>,
}

/// How a board is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Drawing {
    pub range: TimeRange,
    pub theme: Theme,
    /// The SVG's viewBox size.
    pub size: (u32, u32),
}

impl Default for Drawing {
    fn default() -> Self {
        Self {
            range: TimeRange::default(),
            theme: Theme::Light,
            size: (640, 260),
        }
    }
}

/// Where a board's data came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardSource {
    Prometheus {
        url: String,
    },
    /// This machine (sysinfo), and why: no Prometheus configured.
    Local {
        reason: String,
    },
}

/// A drawn chart: its series (for the hover readout) and its SVG.
#[derive(Debug, Clone)]
pub struct ChartData {
    pub series: Vec<Series>,
    /// Series left out beyond [`MAX_SERIES`].
    pub omitted: usize,
    pub rendered: RenderedChart,
}

/// One chart of a board.
#[derive(Debug)]
pub struct ChartOutcome {
    pub spec: &'static ChartSpec,
    /// The PromQL behind it (empty for local charts).
    pub queries: Vec<String>,
    /// On failure: the error, and the query that failed in `failed_query`.
    pub result: Result<ChartData>,
    pub failed_query: Option<String>,
}

/// Every chart for a scope and range.
#[derive(Debug)]
pub struct Board {
    pub source: BoardSource,
    pub start: f64,
    pub end: f64,
    pub step: u64,
    pub charts: Vec<ChartOutcome>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl Board {
    /// Runs the queries of `charts` (all of the catalog when `None`)
    /// concurrently against `prom`. Never fails as a whole: each chart
    /// carries its own error.
    pub async fn from_prometheus(
        prom: &Prometheus,
        scope: Scope<'_>,
        drawing: Drawing,
        charts: Option<&[&'static ChartSpec]>,
    ) -> Board {
        let (start, end) = drawing.range.window(now());
        let specs: Vec<&'static ChartSpec> = match charts {
            Some(c) => c.to_vec(),
            None => CATALOG.iter().collect(),
        };
        let runs = specs
            .into_iter()
            .map(|spec| chart(prom, spec, scope, drawing, (start, end)));
        Board {
            source: BoardSource::Prometheus {
                url: prom.url().to_owned(),
            },
            start,
            end,
            step: drawing.range.step(),
            charts: futures::future::join_all(runs).await,
        }
    }

    /// CPU and memory of this machine. `reason` says why (shown to the user).
    pub async fn from_local(local: Arc<LocalMetrics>, reason: String, drawing: Drawing) -> Board {
        let (start, end) = drawing.range.window(now());
        let sampled = tokio::task::spawn_blocking(move || local.sample(start)).await;
        let mut charts = Vec::new();
        for id in ["cpu", "memory"] {
            let Some(spec) = catalog::chart(id) else {
                continue;
            };
            let result = match &sampled {
                Ok(s) => {
                    let series = vec![if id == "cpu" {
                        s.cpu.clone()
                    } else {
                        s.memory.clone()
                    }];
                    draw(spec, series, 0, drawing)
                }
                Err(e) => Err(Error::internal(format!(
                    "sampling this machine failed: {e}"
                ))),
            };
            charts.push(ChartOutcome {
                spec,
                queries: Vec::new(),
                result,
                failed_query: None,
            });
        }
        Board {
            source: BoardSource::Local { reason },
            start,
            end: end.max(now()),
            step: 0,
            charts,
        }
    }
}

/// One chart from Prometheus: its lines' queries run concurrently.
pub async fn chart(
    prom: &Prometheus,
    spec: &'static ChartSpec,
    scope: Scope<'_>,
    drawing: Drawing,
    (start, end): (f64, f64),
) -> ChartOutcome {
    let host = if spec.host_scoped { scope.host } else { None };
    let queries = spec.queries(
        &catalog::matchers(scope.selector, host),
        drawing.range.rate_window(),
    );
    let step = drawing.range.step();
    let answers =
        futures::future::join_all(queries.iter().map(|q| prom.range(q, start, end, step))).await;
    let mut series = Vec::new();
    for ((line, query), answer) in spec.lines.iter().zip(&queries).zip(answers) {
        match answer {
            Ok(found) => series.extend(found.into_iter().map(|s| named(spec, line.legend, s))),
            Err(e) => {
                return ChartOutcome {
                    spec,
                    failed_query: Some(query.clone()),
                    queries,
                    result: Err(e),
                };
            }
        }
    }
    series.sort_by(|a, b| a.name.cmp(&b.name));
    let omitted = series.len().saturating_sub(MAX_SERIES);
    series.truncate(MAX_SERIES);
    let result = draw(spec, series, omitted, drawing);
    ChartOutcome {
        spec,
        queries,
        result,
        failed_query: None,
    }
}

pub(crate) fn draw(
    spec: &ChartSpec,
    series: Vec<Series>,
    omitted: usize,
    drawing: Drawing,
) -> Result<ChartData> {
    let rendered = render_svg(&series, spec.unit, drawing.theme, drawing.size)
        .map_err(|why| Error::internal(format!("chart {} could not be drawn: {why}", spec.id)))?;
    Ok(ChartData {
        series,
        omitted,
        rendered,
    })
}

/// A series' name: the line's legend and the host (or, without a host
/// label, the other labels), bounded and stripped of markup characters.
fn named(spec: &ChartSpec, legend: &str, s: RangeSeries) -> Series {
    let who = s.labels.get("host").cloned().unwrap_or_else(|| {
        s.labels
            .iter()
            .filter(|(k, _)| k.as_str() != "__name__")
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    });
    let name = match (legend.is_empty(), who.is_empty()) {
        (true, true) => spec.title.to_owned(),
        (true, false) => who,
        (false, true) => legend.to_owned(),
        (false, false) => format!("{legend} {who}"),
    };
    let clean: String = name
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '&' | '"' | '\''))
        .collect();
    Series {
        name: crate::bounded(&clean, 60),
        points: s.points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_named_by_legend_and_host_without_markup() {
        let spec = catalog::chart("network").expect("network");
        let mut labels = crate::prometheus::Labels::new();
        labels.insert("host".into(), "prod-<app>-1".into());
        let s = named(
            spec,
            "rx",
            RangeSeries {
                labels,
                points: vec![],
            },
        );
        assert_eq!(s.name, "rx prod-app-1");
        let s = named(
            spec,
            "p95",
            RangeSeries {
                labels: Default::default(),
                points: vec![],
            },
        );
        assert_eq!(s.name, "p95");
    }

    #[tokio::test]
    async fn the_local_board_has_cpu_and_memory() {
        let b = Board::from_local(
            Arc::new(LocalMetrics::new()),
            "no Prometheus".into(),
            Drawing::default(),
        )
        .await;
        let ids: Vec<_> = b.charts.iter().map(|c| c.spec.id).collect();
        assert_eq!(ids, ["cpu", "memory"]);
        for c in &b.charts {
            let data = c.result.as_ref().expect("local charts draw");
            assert_eq!(data.series.len(), 1);
            assert_eq!(data.series[0].points.len(), 1, "one sample so far");
        }
    }
}

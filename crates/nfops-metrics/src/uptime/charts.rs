//! The uptime charts: percentage of good checks per time bucket, and the
//! latency of every check, one series per probe.

use nfops_core::Error;

use crate::board::{ChartData, ChartOutcome, Drawing};
use crate::catalog::{ChartSpec, Unit};
use crate::chart::render_svg_spanning;
use crate::chart::Series;

use super::check::Sample;
use super::history::uptime_buckets;

/// Good checks per bucket, in percent.
pub static UPTIME_PERCENT: ChartSpec = ChartSpec {
    id: "uptime-percent",
    title: "Uptime",
    source: "uptime",
    unit: Unit::Percent,
    host_scoped: false,
    lines: &[],
};

/// Time to the answer of each check.
pub static UPTIME_LATENCY: ChartSpec = ChartSpec {
    id: "uptime-latency",
    title: "Probe latency",
    source: "uptime",
    unit: Unit::Seconds,
    host_scoped: false,
    lines: &[],
};

/// Buckets per uptime chart: a bar every ~1/60 of the range.
const BUCKETS: f64 = 60.0;

/// Both charts over `(start, end)` (unix seconds) for `probes` (name and
/// samples, oldest first).
pub fn uptime_charts(
    probes: &[(String, Vec<Sample>)],
    (start, end): (f64, f64),
    drawing: Drawing,
) -> Vec<ChartOutcome> {
    let bucket = ((end - start) / BUCKETS).max(20.0);
    let percent: Vec<Series> = probes
        .iter()
        .map(|(name, samples)| Series {
            name: clean(name),
            points: uptime_buckets(samples, start, bucket),
        })
        .collect();
    let latency: Vec<Series> = probes
        .iter()
        .map(|(name, samples)| Series {
            name: clean(name),
            points: samples
                .iter()
                .map(|s| {
                    (
                        s.at.timestamp_millis() as f64 / 1000.0,
                        // A failed check without an answer is a gap.
                        s.latency_ms.map_or(f64::NAN, |ms| ms / 1000.0),
                    )
                })
                .collect(),
        })
        .collect();
    [(&UPTIME_PERCENT, percent), (&UPTIME_LATENCY, latency)]
        .into_iter()
        .map(|(spec, series)| ChartOutcome {
            spec,
            queries: Vec::new(),
            result: render_svg_spanning(
                &series,
                &[],
                Some((start, end)),
                spec.unit,
                drawing.theme,
                drawing.size,
            )
            .map(|rendered| ChartData {
                series,
                omitted: 0,
                rendered,
            })
            .map_err(|why| Error::internal(format!("chart {} could not be drawn: {why}", spec.id))),
            failed_query: None,
        })
        .collect()
}

/// Probe names go into SVG text: no markup characters.
fn clean(name: &str) -> String {
    let s: String = name
        .chars()
        .filter(|c| !matches!(c, '<' | '>' | '&' | '"' | '\''))
        .collect();
    crate::bounded(&s, 60)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::TimeRange;

    #[test]
    fn one_series_per_probe_on_both_charts() {
        let at = |s| Utc.timestamp_opt(s, 0).single().expect("time");
        let probes = vec![
            (
                "health".to_owned(),
                vec![
                    Sample {
                        at: at(1000),
                        ok: true,
                        latency_ms: Some(12.0),
                        detail: String::new(),
                    },
                    Sample {
                        at: at(1030),
                        ok: false,
                        latency_ms: None,
                        detail: String::new(),
                    },
                ],
            ),
            (
                "db <tcp>".to_owned(),
                vec![Sample {
                    at: at(1010),
                    ok: true,
                    latency_ms: Some(1.0),
                    detail: String::new(),
                }],
            ),
        ];
        let drawing = Drawing {
            range: TimeRange::parse("15m").expect("range"),
            ..Drawing::default()
        };
        let charts = uptime_charts(&probes, (900.0, 1800.0), drawing);
        assert_eq!(charts.len(), 2);
        for c in &charts {
            let data = c.result.as_ref().expect("drawn");
            assert_eq!(data.series.len(), 2, "{}: one series per probe", c.spec.id);
            assert!(data.rendered.svg.contains("<svg"));
            assert!(
                !data.rendered.svg.contains("<tcp>"),
                "probe names are cleaned for SVG"
            );
        }
    }
}

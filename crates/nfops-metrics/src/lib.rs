//! NewFinity Ops metrics: a Prometheus client, the one catalog of the
//! queries behind every chart, charts rendered to SVG with plotters, and the
//! local machine's own metrics when no Prometheus is configured.
//! Knows nothing of Tauri.

pub mod board;
pub mod catalog;
pub mod chart;
pub mod forecast;
pub mod local;
pub mod logs;
pub mod markers;
pub mod prometheus;
pub mod pulse;
pub mod range;
pub mod uptime;

pub use board::{Board, BoardSource, ChartData, ChartOutcome, Drawing, Scope};
pub use catalog::{ChartSpec, Unit, CATALOG};
pub use chart::{
    render_svg, render_svg_spanning, render_svg_with_band, PlotArea, RenderedChart, Series, Theme,
};
pub use local::LocalMetrics;
pub use prometheus::Prometheus;
pub use range::TimeRange;

/// At most `max` characters of `s`, with `…` when cut: Prometheus error
/// texts and label values are not ours and can be arbitrarily long.
pub(crate) fn bounded(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

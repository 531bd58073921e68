//! Deploy and restore markers for the time charts, read from the audit log.
//!
//! Contract with the promotion and restore features (built separately):
//! every audit entry whose `action` starts with `promote` is a deploy
//! marker and every one starting with `restore` a restore marker, placed at
//! the entry's `at` on the charts of its `environment` (entries without an
//! environment mark every environment). Entries with outcome `started` are
//! left out, so one operation draws one line: the moment it ended, labelled
//! with the action, the target (e.g. the release) and the outcome.

use chrono::{DateTime, Utc};
use nfops_core::Result;
use nfops_metrics::markers::{draw_markers, Marker, MarkerKind};
use nfops_metrics::{ChartOutcome, Theme};

use crate::Console;

/// Most markers per chart: beyond that the lines would hide the data.
const MAX_MARKERS: i64 = 50;

impl Console {
    /// The deploy and restore markers of `env` between `start` and `end`
    /// (unix seconds), oldest first.
    ///
    /// Errors: `state.error` when the audit log cannot be read.
    pub async fn chart_markers(&self, env: &str, start: f64, end: f64) -> Result<Vec<Marker>> {
        let from = DateTime::<Utc>::from_timestamp(start.floor() as i64, 0).unwrap_or_default();
        let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT at, action, target, outcome FROM audit_log
             WHERE (action LIKE 'promote%' OR action LIKE 'restore%')
               AND outcome <> 'started'
               AND (environment = ? OR environment IS NULL)
               AND at >= ?
             ORDER BY seq DESC LIMIT ?",
        )
        .bind(env)
        .bind(from.to_rfc3339())
        .bind(MAX_MARKERS)
        .fetch_all(self.state().pool())
        .await?;
        let mut markers: Vec<Marker> = rows
            .into_iter()
            .filter_map(|(at, action, target, outcome)| {
                let at = DateTime::parse_from_rfc3339(&at).ok()?.timestamp_millis() as f64 / 1000.0;
                (at <= end).then(|| Marker {
                    at,
                    kind: if action.starts_with("promote") {
                        MarkerKind::Deploy
                    } else {
                        MarkerKind::Restore
                    },
                    label: match target {
                        Some(t) => format!("{action} {t} ({outcome})"),
                        None => format!("{action} ({outcome})"),
                    },
                })
            })
            .collect();
        markers.reverse();
        Ok(markers)
    }

    /// Draws the markers of `env` on every drawn chart of `charts`. A marker
    /// read failure leaves the charts as they are (logged): markers add
    /// context, they must not take the charts away.
    pub(crate) async fn mark_charts(&self, env: &str, charts: &mut [ChartOutcome], theme: Theme) {
        let spans = charts
            .iter()
            .filter_map(|c| c.result.as_ref().ok())
            .map(|d| (d.rendered.plot.x_min, d.rendered.plot.x_max));
        let (start, end) = spans.fold((f64::MAX, f64::MIN), |(a, b), (x, y)| (a.min(x), b.max(y)));
        if start > end {
            return;
        }
        let markers = match self.chart_markers(env, start, end).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(category = "error", code = %e.code(), "chart markers unavailable: {e}");
                return;
            }
        };
        for c in charts.iter_mut() {
            if let Ok(d) = c.result.as_mut() {
                draw_markers(&mut d.rendered, &markers, theme);
            }
        }
    }
}

//! Deploy and restore markers: vertical lines on a time chart where a
//! promotion or a restore happened, labelled with what it was.
//!
//! The markers come from the audit log (see `nfops_ops` for the contract on
//! action names); this module only draws them into an already rendered SVG,
//! using the chart's plot area to place each time on the x axis.

use serde::Serialize;

use crate::chart::{RenderedChart, Theme};

/// What a marker marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MarkerKind {
    Deploy,
    Restore,
}

/// One event on the time axis.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    /// Unix seconds.
    pub at: f64,
    pub kind: MarkerKind,
    /// Short text shown next to the line, e.g. `promote v2 (succeeded)`.
    pub label: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Draws the `markers` that fall inside the chart's time span as dashed
/// vertical lines with a label at the top; returns how many were drawn.
/// Markers outside the plotted span are skipped (they belong to other ranges).
pub fn draw_markers(chart: &mut RenderedChart, markers: &[Marker], theme: Theme) -> usize {
    let p = chart.plot;
    let span = p.x_max - p.x_min;
    if span.is_nan() || span <= 0.0 || markers.is_empty() {
        return 0;
    }
    let mut extra = String::new();
    let mut drawn = 0;
    for m in markers {
        if m.at < p.x_min || m.at > p.x_max {
            continue;
        }
        let x = p.left + (m.at - p.x_min) / span * p.width;
        let color = match (m.kind, theme) {
            (MarkerKind::Deploy, Theme::Light) => "#7c3aed",
            (MarkerKind::Deploy, Theme::Dark) => "#c4b5fd",
            (MarkerKind::Restore, Theme::Light) => "#c2410c",
            (MarkerKind::Restore, Theme::Dark) => "#fdba74",
        };
        extra.push_str(&format!(
            "<g class=\"marker\" data-kind=\"{kind}\"><title>{label}</title><line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"{color}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\" fill=\"{color}\" font-family=\"sans-serif\" font-size=\"10\">{label}</text></g>\n",
            kind = match m.kind { MarkerKind::Deploy => "deploy", MarkerKind::Restore => "restore" },
            label = escape(&crate::bounded(&m.label, 40)),
            top = p.top,
            bottom = p.top + p.height,
            tx = x + 3.0,
            ty = p.top + 10.0 + 11.0 * (drawn % 3) as f64,
        ));
        drawn += 1;
    }
    if drawn > 0 {
        if let Some(end) = chart.svg.rfind("</svg>") {
            chart.svg.insert_str(end, &extra);
        }
    }
    drawn
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Unit;
    use crate::chart::{render_svg, Series};

    #[test]
    fn markers_inside_the_span_are_drawn_where_their_time_is() {
        let series = [Series {
            name: "a".into(),
            points: vec![(1000.0, 1.0), (2000.0, 2.0)],
        }];
        let mut chart = render_svg(&series, Unit::Count, Theme::Light, (640, 260)).expect("drawn");
        let markers = [
            Marker {
                at: 1500.0,
                kind: MarkerKind::Deploy,
                label: "promote <v2>".into(),
            },
            Marker {
                at: 5000.0,
                kind: MarkerKind::Restore,
                label: "restore".into(),
            },
        ];
        assert_eq!(
            draw_markers(&mut chart, &markers, Theme::Light),
            1,
            "the restore is outside the span"
        );
        let x = chart.plot.left + 0.5 * chart.plot.width;
        assert!(
            chart.svg.contains(&format!("x1=\"{x:.1}\"")),
            "the deploy sits mid-axis"
        );
        assert!(
            chart.svg.contains("promote &lt;v2&gt;"),
            "labels are escaped"
        );
        assert!(
            chart.svg.trim_end().ends_with("</svg>"),
            "still a whole SVG"
        );
    }
}

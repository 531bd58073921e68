//! Charts rendered to SVG with plotters: a viewBox so they stay sharp at any
//! size, light and dark themes, and the plot area's geometry so the UI can map
//! the pointer to a time for its hover readout from the same points.

use plotters::prelude::*;

use crate::catalog::Unit;

mod theme;
pub use theme::Theme;

/// Stroke width of legend swatches; data lines are 2. Tests count swatches
/// (`stroke-width="3"`) to know how many series a chart shows.
pub const LEGEND_STROKE: u32 = 3;

/// Tick and legend text size as plotters takes it (it writes 1/1.24 of it
/// as the SVG's font-size: 19 is 15.3 viewBox units). Charts are drawn 640
/// wide and shown about 520 px wide in a card at the default window size,
/// where that reads as 12.4 px, and larger on a wider window or a HiDPI
/// screen (the SVG scales, the text stays sharp).
const LABEL_FONT: u32 = 19;
/// Height of one legend row, and the length of a legend swatch.
const LEGEND_ROW: u32 = 22;
const LEGEND_SWATCH: u32 = 16;

/// The legend laid out in rows across `width`: (series index, x) per entry.
/// Widths are estimated from the name's length (no font metrics in SVG).
/// At most this many legend rows: the plot keeps the height. Series past
/// them are named by the hover readout and in the exported data.
const LEGEND_MAX_ROWS: usize = 3;

fn legend_rows(names: &[&str], width: u32) -> Vec<Vec<(usize, u32)>> {
    let mut rows: Vec<Vec<(usize, u32)>> = Vec::new();
    let (left, gap) = (10u32, 18u32);
    let mut x = left;
    for (i, name) in names.iter().enumerate() {
        let w = LEGEND_SWATCH + 5 + (name.chars().count() as u32 * LABEL_FONT * 45 / 100);
        if rows.is_empty() || (x + w > width.saturating_sub(left) && x > left) {
            if rows.len() == LEGEND_MAX_ROWS {
                break;
            }
            rows.push(Vec::new());
            x = left;
        }
        if let Some(row) = rows.last_mut() {
            row.push((i, x));
        }
        x += w + gap;
    }
    rows
}

/// One named line of a chart: `(unix seconds, value)` points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Where the data is drawn inside the SVG's viewBox, and the data range it
/// spans: `x = left + (t - x_min) / (x_max - x_min) * width`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotArea {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    pub x_min: f64,
    pub x_max: f64,
    pub y_min: f64,
    pub y_max: f64,
}

/// An SVG chart and its geometry.
#[derive(Debug, Clone)]
pub struct RenderedChart {
    /// A complete `<svg>` document with a viewBox; no script, no external reference.
    pub svg: String,
    pub view_width: u32,
    pub view_height: u32,
    pub plot: PlotArea,
    /// `#rrggbb` per series, in series order (for the UI's legend).
    pub colors: Vec<String>,
}

/// Draws `series` as lines. `(width, height)` is the viewBox; the SVG scales
/// to any size. Series with more points than twice the plot's pixel width are
/// reduced to each pixel column's first, min, max and last points, which
/// draws the same picture with fewer path commands.
///
/// Errors: a text saying why plotters could not draw (never expected for
/// finite input; non-finite values are skipped as gaps).
pub fn render_svg(
    series: &[Series],
    unit: Unit,
    theme: Theme,
    size: (u32, u32),
) -> Result<RenderedChart, String> {
    render_svg_with_band(series, &[], unit, theme, size)
}

/// [`render_svg`] with a shaded band under the lines: `(x, low, high)`
/// points, e.g. a forecast's uncertainty. The band widens the axes to fit.
pub fn render_svg_with_band(
    series: &[Series],
    band: &[(f64, f64, f64)],
    unit: Unit,
    theme: Theme,
    size: (u32, u32),
) -> Result<RenderedChart, String> {
    render_svg_spanning(series, band, None, unit, theme, size)
}

/// [`render_svg_with_band`] whose x axis covers at least `span` (unix
/// seconds), so a chart of sparse samples still shows the whole picked range
/// (and events placed on it).
pub fn render_svg_spanning(
    series: &[Series],
    band: &[(f64, f64, f64)],
    span: Option<(f64, f64)>,
    unit: Unit,
    theme: Theme,
    (width, height): (u32, u32),
) -> Result<RenderedChart, String> {
    let (mut x_min, mut x_max, y_min, y_max) = if band.is_empty() {
        bounds(series, unit)
    } else {
        let mut all = series.to_vec();
        all.push(Series {
            name: String::new(),
            points: band
                .iter()
                .flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)])
                .collect(),
        });
        bounds(&all, unit)
    };
    if let Some((a, b)) = span.filter(|(a, b)| a.is_finite() && b.is_finite() && a < b) {
        let has_data = series
            .iter()
            .any(|s| s.points.iter().any(|p| p.0.is_finite() && p.1.is_finite()));
        if has_data {
            (x_min, x_max) = (x_min.min(a), x_max.max(b));
        } else {
            (x_min, x_max) = (a, b);
        }
    }
    let mut svg =
        String::with_capacity(4096 + series.iter().map(|s| s.points.len() * 24).sum::<usize>());
    let plot;
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&theme.background()).map_err(|e| e.to_string())?;
        let text = theme.text();
        let label_font = ("sans-serif", LABEL_FONT).into_font().color(&text);
        // The legend sits in its own strip above the plot: never on the data.
        let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
        let rows = legend_rows(&names, width);
        let strip = if rows.is_empty() {
            0
        } else {
            rows.len() as u32 * LEGEND_ROW + 4
        };
        let (legend_area, chart_area) = root.split_vertically(strip);
        for (r, row) in rows.iter().enumerate() {
            let y = (r as u32 * LEGEND_ROW + LEGEND_ROW / 2 + 2) as i32;
            for &(i, x) in row {
                let color = theme.palette()[i % theme.palette().len()];
                let x = x as i32;
                legend_area
                    .draw(&PathElement::new(
                        vec![(x, y), (x + LEGEND_SWATCH as i32, y)],
                        color.stroke_width(LEGEND_STROKE),
                    ))
                    .map_err(|e| e.to_string())?;
                legend_area
                    .draw(&Text::new(
                        names[i],
                        (x + LEGEND_SWATCH as i32 + 5, y - LABEL_FONT as i32 / 2 - 1),
                        label_font.clone(),
                    ))
                    .map_err(|e| e.to_string())?;
            }
        }
        let mut chart = ChartBuilder::on(&chart_area)
            .margin(8)
            .x_label_area_size(LABEL_FONT + 10)
            .y_label_area_size(LABEL_FONT * 4 + 4)
            .build_cartesian_2d(x_min..x_max, y_min..y_max)
            .map_err(|e| e.to_string())?;
        let span = x_max - x_min;
        let x_fmt = |t: &f64| time_label(*t, span);
        let y_fmt = |v: &f64| unit.format(*v);
        chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(theme.grid())
            .axis_style(theme.grid())
            .label_style(label_font.clone())
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .draw()
            .map_err(|e| e.to_string())?;
        let (px, py) = chart.plotting_area().get_pixel_range();
        let columns = (px.end - px.start).max(1) as usize;
        let palette = theme.palette();
        let edges: Vec<(f64, f64, f64)> = band
            .iter()
            .copied()
            .filter(|(x, lo, hi)| x.is_finite() && lo.is_finite() && hi.is_finite())
            .collect();
        if edges.len() >= 2 {
            let outline: Vec<(f64, f64)> = edges
                .iter()
                .map(|&(x, _, hi)| (x, hi))
                .chain(edges.iter().rev().map(|&(x, lo, _)| (x, lo)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    palette[0].mix(0.18).filled(),
                )))
                .map_err(|e| e.to_string())?;
        }
        for (i, s) in series.iter().enumerate() {
            let color = palette[i % palette.len()];
            let style = color.stroke_width(2);
            for run in finite_runs(&s.points) {
                let reduced = reduce(run, x_min, x_max, columns);
                if reduced.len() == 1 {
                    chart.draw_series(std::iter::once(Circle::new(reduced[0], 2, color.filled())))
                } else {
                    chart.draw_series(LineSeries::new(reduced, style))
                }
                .map_err(|e| e.to_string())?;
            }
        }
        plot = PlotArea {
            left: f64::from(px.start),
            top: f64::from(py.start),
            width: f64::from(px.end - px.start),
            height: f64::from(py.end - py.start),
            x_min,
            x_max,
            y_min,
            y_max,
        };
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(RenderedChart {
        svg: with_fluid_size(svg, width, height),
        view_width: width,
        view_height: height,
        plot,
        colors: (0..series.len()).map(|i| theme.series_color(i)).collect(),
    })
}

/// The data range: x over all points, y from 0 (or the data's minimum when
/// negative) to the maximum plus headroom; percent charts stop at 100 unless
/// the data goes above.
pub(crate) fn bounds(series: &[Series], unit: Unit) -> (f64, f64, f64, f64) {
    let finite = series
        .iter()
        .flat_map(|s| &s.points)
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, 0.0f64, f64::MIN);
    for &(x, y) in finite {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 - x0 < 1e-9 {
        (x0, x1) = (x0 - 30.0, x1 + 30.0);
    }
    if y1 <= y0 {
        y1 = y0 + if unit == Unit::Percent { 100.0 } else { 1.0 };
    } else {
        y1 += (y1 - y0) * 0.08;
    }
    if unit == Unit::Percent && y1 <= 100.0 {
        y1 = y1.max(if y1 > 20.0 { 100.0 } else { y1 });
    }
    (x0, x1, y0, y1)
}

/// Runs of consecutive finite points: a NaN (no data) breaks the line.
pub(crate) fn finite_runs(points: &[(f64, f64)]) -> impl Iterator<Item = &[(f64, f64)]> {
    points
        .split(|p| !(p.0.is_finite() && p.1.is_finite()))
        .filter(|r| !r.is_empty())
}

/// First, min, max, last of each pixel column, in time order, when `run`
/// has more than two points per column; `run` itself otherwise.
fn reduce(run: &[(f64, f64)], x_min: f64, x_max: f64, columns: usize) -> Vec<(f64, f64)> {
    if run.len() <= columns * 2 {
        return run.to_vec();
    }
    let scale = columns as f64 / (x_max - x_min);
    let mut out = Vec::with_capacity(columns * 4);
    let mut i = 0;
    while i < run.len() {
        let col = ((run[i].0 - x_min) * scale) as i64;
        let start = i;
        let (mut lo, mut hi) = (i, i);
        while i < run.len() && ((run[i].0 - x_min) * scale) as i64 == col {
            if run[i].1 < run[lo].1 {
                lo = i;
            }
            if run[i].1 > run[hi].1 {
                hi = i;
            }
            i += 1;
        }
        let end = i - 1;
        let mut picks = [start, lo, hi, end];
        picks.sort_unstable();
        let mut last = usize::MAX;
        for p in picks {
            if p != last {
                out.push(run[p]);
                last = p;
            }
        }
    }
    out
}

/// Tick label for unix time `t`, UTC: `HH:MM` within two days, `MM-DD HH:MM` beyond.
fn time_label(t: f64, span: f64) -> String {
    let secs = t as i64;
    let day = secs.div_euclid(86400);
    let in_day = secs.rem_euclid(86400);
    let (h, m) = (in_day / 3600, (in_day % 3600) / 60);
    if span <= 2.0 * 86400.0 {
        return format!("{h:02}:{m:02}");
    }
    let (_, mo, d) = civil_from_days(day);
    format!("{mo:02}-{d:02} {h:02}:{m:02}")
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Lets the SVG fill its container: the viewBox keeps the geometry, the
/// outer size becomes 100 % wide with the aspect ratio kept.
pub(crate) fn with_fluid_size(svg: String, width: u32, height: u32) -> String {
    let fixed =
        format!("<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\"");
    if svg.contains(&fixed) {
        return svg.replacen(
            &fixed,
            &format!("<svg viewBox=\"0 0 {width} {height}\" preserveAspectRatio=\"xMidYMid meet\""),
            1,
        );
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series_lines(svg: &str) -> usize {
        svg.matches("stroke-width=\"2\" points=").count()
    }

    fn wave(n: usize, phase: f64) -> Vec<(f64, f64)> {
        (0..n)
            .map(|i| {
                (
                    1_700_000_000.0 + i as f64 * 5.0,
                    50.0 + 40.0 * ((i as f64 / 50.0) + phase).sin(),
                )
            })
            .collect()
    }

    #[test]
    fn an_svg_has_a_viewbox_one_path_per_series_and_no_script() {
        let series: Vec<Series> = (0..3)
            .map(|i| Series {
                name: format!("s{i}"),
                points: wave(300, i as f64),
            })
            .collect();
        for theme in [Theme::Light, Theme::Dark] {
            let c = render_svg(&series, Unit::Percent, theme, (640, 240)).expect("render");
            assert!(
                c.svg.starts_with("<svg") || c.svg.contains("<svg viewBox=\"0 0 640 240\""),
                "{}",
                &c.svg[..200.min(c.svg.len())]
            );
            assert!(
                c.svg.contains("viewBox=\"0 0 640 240\""),
                "sharp at any size needs a viewBox"
            );
            assert!(
                !c.svg.contains("width=\"640\" height=\"240\" viewBox"),
                "the outer size is fluid"
            );
            assert_eq!(series_lines(&c.svg), 3, "one line per series");
            assert!(
                !c.svg.to_ascii_lowercase().contains("<script"),
                "our SVG never carries a script"
            );
            assert!(c.plot.width > 400.0 && c.plot.left > 0.0, "{:?}", c.plot);
            assert_eq!(c.colors.len(), 3);
        }
    }

    #[test]
    fn gaps_split_lines_and_single_points_still_show() {
        let mut points = wave(10, 0.0);
        points[5].1 = f64::NAN;
        let c = render_svg(
            &[Series {
                name: "a".into(),
                points,
            }],
            Unit::Count,
            Theme::Light,
            (400, 200),
        )
        .expect("render");
        assert_eq!(series_lines(&c.svg), 2, "a NaN breaks the line in two");
        assert_eq!(
            c.svg.matches("stroke-width=\"3\"").count(),
            1,
            "but the series has one legend entry"
        );
        let one = vec![(1.0, 3.0)];
        let c = render_svg(
            &[Series {
                name: "a".into(),
                points: one,
            }],
            Unit::Count,
            Theme::Light,
            (400, 200),
        )
        .expect("render");
        assert!(c.svg.contains("<circle"), "a lone sample is drawn as a dot");
    }

    #[test]
    fn the_legend_sits_above_the_plot_never_on_the_data_and_labels_are_legible() {
        let series: Vec<Series> = (0..5)
            .map(|i| Series {
                name: format!("rx prod-app-{i}.example"),
                points: wave(100, i as f64),
            })
            .collect();
        let c = render_svg(&series, Unit::Percent, Theme::Light, (640, 260)).expect("render");
        // Legend swatches: `stroke-width="3"` polylines; their y is below the plot's top edge.
        let swatch_ys: Vec<f64> = c
            .svg
            .split("<polyline")
            .filter(|p| p.contains("stroke-width=\"3\""))
            .filter_map(|p| p.split("points=\"").nth(1))
            .filter_map(|p| p.split(',').nth(1))
            .filter_map(|y| y.split([' ', '"']).next())
            .filter_map(|y| y.parse().ok())
            .collect();
        assert_eq!(swatch_ys.len(), 5, "one swatch per series");
        assert!(
            swatch_ys.iter().all(|&y| y < c.plot.top),
            "every swatch above the plot (top {}): {swatch_ys:?}",
            c.plot.top
        );
        assert!(
            swatch_ys.iter().any(|&y| y > swatch_ys[0]),
            "long names wrap to a second row"
        );
        let size = c
            .svg
            .split("font-size=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("");
        assert!(
            size.trim_end_matches("px").parse::<f64>().unwrap_or(0.0) >= 15.0,
            "ticks and legend legible in a 640 viewBox: font-size {size}"
        );
        assert!(
            c.plot.height > 120.0,
            "the plot keeps most of the height: {:?}",
            c.plot
        );

        // Many long names: the legend stops at its row limit, the plot keeps its height.
        let many: Vec<Series> = (0..12)
            .map(|i| Series {
                name: format!("prod-app-{i} a rather long host name here"),
                points: wave(100, i as f64),
            })
            .collect();
        let c = render_svg(&many, Unit::Percent, Theme::Light, (640, 260)).expect("render");
        assert!(c.plot.height > 120.0, "{:?}", c.plot);
        assert_eq!(series_lines(&c.svg), 12, "every series is still drawn");
    }

    #[test]
    fn reduction_keeps_extremes_and_order() {
        let run: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64, if i == 4321 { 1e6 } else { (i % 7) as f64 }))
            .collect();
        let r = reduce(&run, 0.0, 9999.0, 500);
        assert!(
            r.len() <= 2000,
            "at most four points per column: {}",
            r.len()
        );
        assert!(r.contains(&(4321.0, 1e6)), "the spike survives");
        assert!(r.windows(2).all(|w| w[0].0 < w[1].0), "time order is kept");
        assert_eq!(r.first(), run.first());
        assert_eq!(r.last(), run.last());
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(time_label(1_704_067_200.0 + 3660.0, 3600.0), "01:01");
        assert_eq!(time_label(1_704_067_200.0, 7.0 * 86400.0), "01-01 00:00");
    }
}

//! `bench/charts`: a 10,000-point, 4-series chart through our renderer,
//! against a bare plotters SVG of the same points drawn in the same process.

use std::time::Instant;

use nfops_metrics::{render_svg, Series, Theme, Unit};
use plotters::prelude::*;

const SERIES: usize = 4;
const POINTS: usize = 10_000;
const RUNS: usize = 30;

fn points() -> Vec<Series> {
    let per = POINTS / SERIES;
    (0..SERIES)
        .map(|s| Series {
            name: format!("s{s}"),
            points: (0..per)
                .map(|i| {
                    let t = 1_700_000_000.0 + i as f64 * 2.0;
                    (
                        t,
                        50.0 + 30.0 * ((i as f64) / 40.0 + s as f64).sin()
                            + ((i * 7919 + s) % 13) as f64,
                    )
                })
                .collect(),
        })
        .collect()
}

/// The reference: the same lines with plotters' SVG backend and nothing else.
fn bare(series: &[Series]) -> usize {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (640, 260)).into_drawing_area();
        root.fill(&WHITE).expect("fill");
        let (x0, x1) = (
            series[0].points[0].0,
            series[0].points.last().expect("points").0,
        );
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(22)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, 0.0..100.0)
            .expect("chart");
        chart.configure_mesh().draw().expect("mesh");
        for (i, s) in series.iter().enumerate() {
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    Palette99::pick(i).stroke_width(2),
                ))
                .expect("line");
        }
        root.present().expect("present");
    }
    out.len()
}

fn median_ms(mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut bytes = 0;
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            bytes = std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[RUNS / 2], bytes)
}

fn main() {
    let series = points();
    // Warm both paths once (allocator, page faults) before timing.
    bare(&series);
    let ours = || {
        render_svg(&series, Unit::Percent, Theme::Light, (640, 260))
            .expect("render")
            .svg
            .len()
    };
    ours();
    let (ref_ms, ref_bytes) = median_ms(|| bare(&series));
    let (our_ms, our_bytes) = median_ms(ours);
    println!("chart: {POINTS} points, {SERIES} series, 640x260 SVG, median of {RUNS} runs");
    println!("  nfops-metrics render_svg : {our_ms:.2} ms ({our_bytes} bytes)   target <= 5 ms");
    println!("  bare plotters SVG (ref)  : {ref_ms:.2} ms ({ref_bytes} bytes)");
    println!("  ratio ours/reference     : {:.2}", our_ms / ref_ms);
}

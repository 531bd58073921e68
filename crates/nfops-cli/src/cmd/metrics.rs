use std::path::PathBuf;
use std::process::ExitCode;

use nfops_core::{Error, ErrorCode, Result};
use nfops_metrics::{catalog, ChartSpec, Drawing, Theme, TimeRange, CATALOG};
use nfops_ops::Console;
use serde::Serialize;

use crate::output::Output;
use crate::run::exit;

#[derive(clap::Args)]
pub struct Args {
    /// Environment to chart (default: this machine's own CPU and memory).
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Narrow per-host charts to this host.
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// One chart (see --list); required with --out.
    #[arg(long, value_name = "NAME")]
    chart: Option<String>,
    /// How far back: 15m, 1h, 6h, 24h, 7d.
    #[arg(long, default_value = "1h")]
    since: String,
    /// Write the chart as SVG to this file.
    #[arg(long, value_name = "FILE", requires = "chart")]
    out: Option<PathBuf>,
    /// SVG theme: light or dark.
    #[arg(long, default_value = "light", value_parser = ["light", "dark"])]
    theme: String,
    /// List the charts and their queries, then exit.
    #[arg(long)]
    list: bool,
}

#[derive(Serialize)]
struct ChartLine {
    id: &'static str,
    title: &'static str,
    source: &'static str,
    unit: &'static str,
    queries: Vec<String>,
}

#[derive(Serialize)]
struct ChartSummary {
    id: &'static str,
    title: &'static str,
    /// Series name → latest finite value, formatted.
    latest: Vec<(String, String)>,
    error: Option<nfops_core::WireError>,
    failed_query: Option<String>,
}

/// Charts from Prometheus (or this machine): a summary of the latest
/// values, or one chart written as SVG with `--out`. Exits 5/6 when the
/// asked chart fails.
pub async fn run(console: &Console, out: &Output, args: Args) -> Result<ExitCode> {
    if args.list {
        return Ok(list(out));
    }
    let range = TimeRange::parse(&args.since)?;
    let only: Option<Vec<&'static ChartSpec>> = match &args.chart {
        Some(id) => Some(vec![catalog::chart(id).ok_or_else(|| {
            Error::new(ErrorCode::InvalidInput, format!("no chart named '{id}'")).hint(format!(
                "Charts: {}",
                CATALOG.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
            ))
        })?]),
        None => None,
    };
    let drawing = Drawing {
        range,
        theme: Theme::parse(&args.theme),
        size: (800, 320),
    };
    let board = console
        .metrics_board(
            args.env.as_deref(),
            args.host.as_deref(),
            drawing,
            only.as_deref(),
        )
        .await?;
    if let nfops_metrics::BoardSource::Local { reason } = &board.source {
        eprintln!("note: {reason}");
    }
    if only.is_some() && board.charts.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            "this machine's own metrics have only the cpu and memory charts",
        )
        .hint("Configure [monitoring] for the environment to get every chart."));
    }
    let mut first_error = None;
    let summaries: Vec<ChartSummary> = board
        .charts
        .iter()
        .map(|c| match &c.result {
            Ok(d) => ChartSummary {
                id: c.spec.id,
                title: c.spec.title,
                latest: d
                    .series
                    .iter()
                    .map(|s| {
                        let v = s.points.iter().rev().map(|p| p.1).find(|v| v.is_finite());
                        (
                            s.name.clone(),
                            v.map_or("no data".into(), |v| c.spec.unit.format(v)),
                        )
                    })
                    .collect(),
                error: None,
                failed_query: None,
            },
            Err(e) => {
                first_error.get_or_insert(e.code());
                ChartSummary {
                    id: c.spec.id,
                    title: c.spec.title,
                    latest: Vec::new(),
                    error: Some(e.to_wire()),
                    failed_query: c.failed_query.clone(),
                }
            }
        })
        .collect();
    if let (Some(path), Some(chart)) = (&args.out, board.charts.first()) {
        match &chart.result {
            Ok(d) => std::fs::write(path, &d.rendered.svg)
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?,
            Err(e) => return Err(Error::new(e.code(), e.message().to_owned())),
        }
    }
    out.emit(&summaries, |w| {
        for s in &summaries {
            match &s.error {
                None if s.latest.is_empty() => writeln!(w, "{:<16} {}: no series", s.id, s.title)?,
                None => {
                    let values: Vec<String> =
                        s.latest.iter().map(|(n, v)| format!("{n} {v}")).collect();
                    writeln!(w, "{:<16} {}: {}", s.id, s.title, values.join(", "))?;
                }
                Some(e) => {
                    writeln!(w, "{:<16} {}: FAILED {}", s.id, s.title, e.message)?;
                    if let Some(q) = &s.failed_query {
                        writeln!(w, "{:<16} query: {q}", "")?;
                    }
                }
            }
        }
        if let Some(p) = &args.out {
            writeln!(w, "wrote {}", p.display())?;
        }
        Ok(())
    });
    Ok(match first_error {
        Some(code) => exit(code),
        None => ExitCode::SUCCESS,
    })
}

fn list(out: &Output) -> ExitCode {
    let lines: Vec<ChartLine> = CATALOG
        .iter()
        .map(|c| ChartLine {
            id: c.id,
            title: c.title,
            source: c.source,
            unit: c.unit.as_str(),
            queries: c.queries("<selector>", 60),
        })
        .collect();
    out.emit(&lines, |w| {
        for l in &lines {
            writeln!(w, "{:<16} {:<32} ({}, {})", l.id, l.title, l.source, l.unit)?;
        }
        Ok(())
    });
    ExitCode::SUCCESS
}

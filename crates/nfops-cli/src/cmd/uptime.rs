use std::path::PathBuf;
use std::process::ExitCode;

use nfops_core::{Error, ErrorCode, Result};
use nfops_metrics::uptime::Transition;
use nfops_metrics::{Drawing, Theme, TimeRange};
use nfops_ops::{Console, UptimeEvent};
use serde::Serialize;

use crate::output::Output;
use crate::run::{cancel_on_ctrl_c, exit};

#[derive(clap::Args)]
pub struct Args {
    /// Only this environment's probes (default: every environment).
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Keep probing, each probe at its interval, printing every check, until Ctrl-C.
    #[arg(long)]
    watch: bool,
    /// The window of the uptime percentage: 15m, 1h, 6h, 24h, 7d.
    #[arg(long, default_value = "24h")]
    since: String,
    /// Write a chart of --env as SVG: `uptime` (percent) or `latency`.
    #[arg(long, value_name = "CHART", requires_all = ["env", "out"], value_parser = ["uptime", "latency"])]
    chart: Option<String>,
    /// Where --chart goes.
    #[arg(long, value_name = "FILE", requires = "chart")]
    out: Option<PathBuf>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProbeLine<'a> {
    #[serde(flatten)]
    event: &'a UptimeEvent,
    uptime_percent: Option<f64>,
}

/// One round of every probe (exit 6 when one failed), or `--watch`.
pub async fn run(console: &Console, out: &Output, args: Args) -> Result<ExitCode> {
    let range = TimeRange::parse(&args.since)?;
    if args.watch {
        return watch(console, out, args.env.as_deref()).await;
    }
    let events = console.uptime_check(args.env.as_deref()).await?;
    if events.is_empty() {
        return Err(Error::new(ErrorCode::InvalidInput, "no uptime probes to run").hint(
            "Set health_url for the environment, or add [[environments.<name>.uptime]] probes to environments.toml.",
        ));
    }
    let drawing = Drawing {
        range,
        theme: Theme::Light,
        size: (800, 320),
    };
    let mut percent = Vec::new();
    let mut reports = std::collections::HashMap::new();
    for e in &events {
        if !reports.contains_key(&e.environment) {
            let report = console.uptime_report(&e.environment, drawing).await?;
            reports.insert(e.environment.clone(), report);
        }
        percent.push(
            reports[&e.environment]
                .probes
                .iter()
                .find(|(p, _)| p.name == e.probe)
                .and_then(|(_, s)| s.uptime_percent),
        );
    }
    if let (Some(chart), Some(path), Some(env)) = (&args.chart, &args.out, &args.env) {
        let id = if chart == "uptime" {
            "uptime-percent"
        } else {
            "uptime-latency"
        };
        let drawn = reports
            .get(env)
            .and_then(|r| r.charts.iter().find(|c| c.spec.id == id))
            .ok_or_else(|| Error::internal(format!("the {id} chart is missing")))?;
        match &drawn.result {
            Ok(d) => std::fs::write(path, &d.rendered.svg)
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?,
            Err(e) => return Err(Error::new(e.code(), e.message().to_owned())),
        }
    }
    let lines: Vec<ProbeLine> = events
        .iter()
        .zip(percent)
        .map(|(event, uptime_percent)| ProbeLine {
            event,
            uptime_percent,
        })
        .collect();
    out.emit(&lines, |w| {
        for l in &lines {
            let e = l.event;
            writeln!(
                w,
                "{:<12} {:<16} {:<4} {:>8}  {:<7} {} ({})",
                e.environment,
                e.probe,
                if e.sample.ok { "ok" } else { "FAIL" },
                e.sample
                    .latency_ms
                    .map_or("-".into(), |ms| format!("{ms:.0} ms")),
                e.state.status.as_str(),
                e.sample.detail,
                l.uptime_percent.map_or("no history".into(), |p| format!(
                    "{p:.2} % over {}",
                    args.since
                )),
            )?;
        }
        if let Some(p) = &args.out {
            writeln!(w, "wrote {}", p.display())?;
        }
        Ok(())
    });
    Ok(if events.iter().all(|e| e.sample.ok) {
        ExitCode::SUCCESS
    } else {
        exit(ErrorCode::Unhealthy)
    })
}

async fn watch(console: &Console, out: &Output, env: Option<&str>) -> Result<ExitCode> {
    let cancel = cancel_on_ctrl_c();
    // With --json, one JSON object per check (JSON lines), for pipelines.
    let json = out.is_json();
    console
        .uptime_watch(env, cancel, |e| {
            if json {
                if let Ok(line) = serde_json::to_string(e) {
                    println!("{line}");
                }
                return;
            }
            let mark = match e.transition {
                Some(Transition::WentDown) => " DOWN",
                Some(Transition::Recovered) => " RECOVERED",
                None => "",
            };
            println!(
                "{} {:<12} {:<16} {:<4} {:>8} {}{mark}",
                e.sample.at.format("%H:%M:%S"),
                e.environment,
                e.probe,
                if e.sample.ok { "ok" } else { "FAIL" },
                e.sample
                    .latency_ms
                    .map_or("-".into(), |ms| format!("{ms:.0} ms")),
                e.sample.detail,
            );
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use nfops_core::jobs::NoProgress;
use nfops_core::{Error, ErrorCode, Result};
use nfops_metrics::{Drawing, Theme, TimeRange, Unit};
use nfops_ops::Console;
use serde::Serialize;

use crate::output::Output;
use crate::run::{cancel_on_ctrl_c, exit, Confirm};

#[derive(clap::Args)]
pub struct Args {
    /// The environment.
    #[arg(long, value_name = "NAME")]
    env: String,
    /// Run this many nf-api instances on every backend host. Without it:
    /// list the PM2 processes of every host.
    #[arg(long, value_name = "N")]
    instances: Option<u32>,
    /// `--yes` / `--confirm NAME`: apply the plan without asking (needed
    /// when stdin is not a terminal).
    #[command(flatten)]
    confirm: Confirm,
    /// Show the capacity forecast (CPU and request-rate trends) instead.
    #[arg(long, conflicts_with = "instances")]
    forecast: bool,
    /// History the forecast fits (and how far ahead it looks): 15m .. 7d.
    #[arg(long, default_value = "6h")]
    since: String,
    /// Write a chart (SVG) here: the instances chart, or with --forecast the CPU forecast.
    #[arg(long, value_name = "FILE", conflicts_with = "instances")]
    out: Option<PathBuf>,
}

/// Instances per host, a scale (plan, confirm, apply, check), or the forecast.
pub async fn run(console: &Console, out: &Output, args: Args) -> Result<ExitCode> {
    if args.forecast {
        return forecast(console, out, &args).await;
    }
    let Some(n) = args.instances else {
        let listing = console.instances(&args.env).await?;
        let drawing = Drawing {
            range: TimeRange::parse(&args.since)?,
            theme: Theme::Light,
            size: (800, 320),
        };
        let chart = console.instances_chart(&args.env, drawing).await?;
        let data = chart
            .result
            .map_err(|e| Error::new(e.code(), e.message().to_owned()))?;
        if let Some(path) = &args.out {
            std::fs::write(path, &data.rendered.svg)
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        }
        // The chart's newest value per host: what the instances chart shows now.
        let chart_latest: Vec<(String, f64)> = data
            .series
            .iter()
            .filter_map(|s| s.points.last().map(|p| (s.name.clone(), p.1)))
            .collect();
        let shown = serde_json::json!({ "instances": &listing, "chartLatest": chart_latest });
        out.emit(&shown, |w| {
            for h in &listing.hosts {
                match &h.error {
                    Some(e) => writeln!(w, "{:<12} FAILED {}", h.host, e.message())?,
                    None => {
                        writeln!(
                            w,
                            "{:<12} {} nf-api online ({})",
                            h.host,
                            h.backend_online,
                            h.roles.join(", ")
                        )?;
                        for p in &h.processes {
                            writeln!(
                                w,
                                "  {:<10} #{:<3} {:<8} {:>5.1} % cpu {:>6.0} MB  {} restarts",
                                p.name,
                                p.pm_id,
                                p.status,
                                p.cpu_percent,
                                p.memory_bytes as f64 / 1e6,
                                p.restarts
                            )?;
                        }
                    }
                }
            }
            writeln!(
                w,
                "{}: {} nf-api instances online",
                listing.environment, listing.backend_online
            )?;
            if let Some(p) = &args.out {
                writeln!(w, "wrote {}", p.display())?;
            }
            Ok(())
        });
        let failed = listing.hosts.iter().find_map(|h| h.error.as_ref());
        return Ok(failed.map_or(ExitCode::SUCCESS, |e| exit(e.code())));
    };
    let plan = console.scale_plan(&args.env, n).await?;
    if !out.is_json() {
        println!(
            "plan: scale {} in {} to {n} per backend host",
            plan.app, plan.environment
        );
        for h in &plan.hosts {
            println!("  {:<12} {} -> {}", h.host, h.current, h.target);
        }
    }
    if !plan.changes() {
        out.emit(&plan, |w| {
            writeln!(w, "nothing to do: every host already runs {n}")
        });
        return Ok(ExitCode::SUCCESS);
    }
    if out.is_json() && !args.confirm.given() {
        return Err(Error::new(
            ErrorCode::ConfirmationRequired,
            format!(
                "scaling '{}' needs a confirmation; nothing was changed",
                args.env
            ),
        )
        .hint("Pass --yes or --confirm NAME after reading the plan."));
    }
    let typed = args.confirm.resolve(&args.env, "scale")?;
    let cancel = cancel_on_ctrl_c();
    let outcome = console
        .scale_apply(&plan, Some(&typed), Arc::new(NoProgress), cancel)
        .await?;
    out.emit(&outcome, |w| {
        for h in &outcome.after {
            writeln!(
                w,
                "  {:<12} now {} online (checked with pm2 jlist)",
                h.host, h.target
            )?;
        }
        writeln!(
            w,
            "scaled {} in {}",
            outcome.plan.app, outcome.plan.environment
        )
    });
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ForecastSummary {
    environment: String,
    instances: u32,
    cpu_now: Option<f64>,
    cpu_full_at: Option<String>,
    requests_now: Option<f64>,
    requests_at_horizon: Option<f64>,
    horizon: String,
    suggested_instances: Option<u32>,
}

async fn forecast(console: &Console, out: &Output, args: &Args) -> Result<ExitCode> {
    let drawing = Drawing {
        range: TimeRange::parse(&args.since)?,
        theme: Theme::Light,
        size: (800, 320),
    };
    let f = console.capacity_forecast(&args.env, drawing).await?;
    let when = |t: f64| {
        chrono::DateTime::from_timestamp(t as i64, 0)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default()
    };
    if let Some(path) = &args.out {
        let svg = f
            .charts
            .first()
            .and_then(|c| c.result.as_ref().ok())
            .map(|d| d.rendered.svg.clone());
        let svg = svg.ok_or_else(|| Error::internal("the forecast chart could not be drawn"))?;
        std::fs::write(path, svg)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    }
    let s = ForecastSummary {
        environment: f.environment.clone(),
        instances: f.instances,
        cpu_now: f.cpu_now,
        cpu_full_at: f.cpu_full_at.map(when),
        requests_now: f.requests_now,
        requests_at_horizon: f.requests_at_horizon,
        horizon: when(f.horizon),
        suggested_instances: f.suggested_instances,
    };
    out.emit(&s, |w| {
        let pct = |v: Option<f64>| v.map_or("no data".into(), |v| Unit::Percent.format(v));
        let rate = |v: Option<f64>| v.map_or("no data".into(), |v| Unit::PerSecond.format(v));
        writeln!(
            w,
            "{}: {} nf-api instances online",
            s.environment, s.instances
        )?;
        writeln!(
            w,
            "cpu now {}; requests now {}, by {} {}",
            pct(s.cpu_now),
            rate(s.requests_now),
            s.horizon,
            rate(s.requests_at_horizon)
        )?;
        match &s.cpu_full_at {
            Some(t) => writeln!(
                w,
                "capacity: CPU reaches {:.0} % around {t} at this instance count",
                nfops_ops::CPU_LIMIT
            )?,
            None => writeln!(
                w,
                "capacity: CPU stays under {:.0} % until {}",
                nfops_ops::CPU_LIMIT,
                s.horizon
            )?,
        }
        match s.suggested_instances {
            Some(n) => writeln!(
                w,
                "suggested: {n} instances in total (CPU near {:.0} %)",
                nfops_ops::CPU_TARGET
            )?,
            None => writeln!(w, "suggested: not enough history for a trend")?,
        }
        if let Some(p) = &args.out {
            writeln!(w, "wrote {}", p.display())?;
        }
        Ok(())
    });
    Ok(ExitCode::SUCCESS)
}

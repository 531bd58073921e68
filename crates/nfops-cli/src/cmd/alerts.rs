//! `nfops alerts`: what each environment's Prometheus has open, firing first.

use std::io::Write;
use std::process::ExitCode;

use nfops_core::{ErrorCode, Result};
use nfops_metrics::pulse::OpenAlert;
use nfops_ops::Console;
use serde::Serialize;

use crate::output::Output;
use crate::run::exit;

#[derive(clap::Args)]
pub struct Args {
    /// Only this environment.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvAlerts {
    environment: String,
    /// False: no [monitoring] section, so nothing to ask.
    monitored: bool,
    alerts: Vec<OpenAlert>,
}

/// Exit 0 when no alert fires (pending ones do not count), 6 when one does;
/// a Prometheus that cannot answer is an error (its own exit code).
pub async fn run(console: &Console, out: &Output, args: Args) -> Result<ExitCode> {
    let names: Vec<String> = match args.env {
        Some(n) => vec![n],
        None => console
            .config()?
            .environments()
            .map(|(n, _)| n.to_owned())
            .collect(),
    };
    let mut all = Vec::with_capacity(names.len());
    for name in names {
        let found = console.open_alerts(&name).await?;
        all.push(EnvAlerts {
            environment: name,
            monitored: found.is_some(),
            alerts: found.unwrap_or_default(),
        });
    }
    out.emit(&all, |w| print_human(w, &all));
    let firing = all
        .iter()
        .flat_map(|e| &e.alerts)
        .any(|a| a.state == "firing");
    Ok(if firing {
        exit(ErrorCode::Unhealthy)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_human(w: &mut dyn Write, all: &[EnvAlerts]) -> std::io::Result<()> {
    for e in all {
        if !e.monitored {
            writeln!(w, "{}: no [monitoring] in environments.toml", e.environment)?;
            continue;
        }
        if e.alerts.is_empty() {
            writeln!(w, "{}: no open alerts", e.environment)?;
            continue;
        }
        writeln!(w, "{}:", e.environment)?;
        for a in &e.alerts {
            let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(
                w,
                "  {:<8} {:<9} {}  {}{}",
                a.state.to_uppercase(),
                a.severity.as_deref().unwrap_or("-"),
                a.name,
                labels.join(" "),
                a.active_at
                    .as_deref()
                    .map(|t| format!("  since {t}"))
                    .unwrap_or_default()
            )?;
            if let Some(s) = &a.summary {
                writeln!(w, "           {s}")?;
            }
        }
    }
    Ok(())
}

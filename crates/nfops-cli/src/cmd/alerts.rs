//! `nfops alerts`: what each environment's Prometheus has open, firing first.

use std::io::Write;
use std::process::ExitCode;

use nfops_core::{ErrorCode, Result, WireError};
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
    /// Its Prometheus could not say (the other environments are still listed).
    error: Option<WireError>,
}

/// Exit 0 when no alert fires (pending ones do not count), 6 when one does;
/// otherwise, when an environment's Prometheus cannot answer, that error's
/// code (every environment is still listed, each with its own error).
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
    let mut first_error: Option<ErrorCode> = None;
    for name in names {
        let (monitored, alerts, error) = match console.open_alerts(&name).await {
            Ok(found) => (found.is_some(), found.unwrap_or_default(), None),
            Err(e) if e.code().as_str().starts_with("config.") => return Err(e),
            Err(e) => {
                first_error.get_or_insert(e.code());
                (true, Vec::new(), Some(e.to_wire()))
            }
        };
        all.push(EnvAlerts {
            environment: name,
            monitored,
            alerts,
            error,
        });
    }
    out.emit(&all, |w| print_human(w, &all));
    let firing = all
        .iter()
        .flat_map(|e| &e.alerts)
        .any(|a| a.state == "firing");
    Ok(match (firing, first_error) {
        (true, _) => exit(ErrorCode::Unhealthy),
        (false, Some(code)) => exit(code),
        (false, None) => ExitCode::SUCCESS,
    })
}

fn print_human(w: &mut dyn Write, all: &[EnvAlerts]) -> std::io::Result<()> {
    for e in all {
        if !e.monitored {
            writeln!(w, "{}: no [monitoring] in environments.toml", e.environment)?;
            continue;
        }
        if let Some(err) = &e.error {
            writeln!(
                w,
                "{}: alerts could not be read: {}",
                e.environment, err.message
            )?;
            if let Some(h) = &err.hint {
                writeln!(w, "  hint: {h}")?;
            }
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

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use nfops_core::{ErrorCode, Result};
use nfops_fleet::probe::{EnvironmentStatus, ProbeState};
use nfops_ops::Console;

use crate::output::Output;
use crate::run::exit;

#[derive(clap::Args)]
pub struct Args {
    /// Only this environment.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

/// Exit 0 when every configured probe is ok, 6 when any failed.
pub async fn run(console: &Console, out: &Output, args: Args) -> Result<ExitCode> {
    let spinner = out.interactive().then(|| {
        let s = indicatif::ProgressBar::new_spinner().with_message("probing environments…");
        s.enable_steady_tick(Duration::from_millis(120));
        s
    });
    let statuses = match &args.env {
        Some(name) => vec![console.probe(name).await?],
        None => console.overview().await?,
    };
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    out.emit(&statuses, |w| print_human(w, &statuses));
    let failed = statuses
        .iter()
        .flat_map(|s| &s.probes)
        .any(|p| p.state == ProbeState::Failed);
    Ok(if failed {
        exit(ErrorCode::Unhealthy)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_human(w: &mut dyn Write, statuses: &[EnvironmentStatus]) -> std::io::Result<()> {
    if statuses.is_empty() {
        writeln!(
            w,
            "No environments configured. See README, \"environments.toml\"."
        )?;
    }
    for s in statuses {
        writeln!(
            w,
            "{} ({}) — checked {}",
            s.label,
            s.tier.as_str(),
            s.checked_at.format("%H:%M:%S")
        )?;
        for p in &s.probes {
            let mark = match p.state {
                ProbeState::Ok => "ok  ",
                ProbeState::Failed => "FAIL",
                ProbeState::NotConfigured => " -  ",
            };
            let what = format!("{:?}", p.kind).to_lowercase();
            let since = p
                .since
                .map(|t| format!(" since {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            writeln!(
                w,
                "  [{mark}] {what:<10} {:<24} {}{since} ({} ms)",
                p.target, p.summary, p.latency_ms
            )?;
            if let Some(e) = &p.error {
                writeln!(w, "         {}", e.message)?;
                if let Some(h) = &e.hint {
                    writeln!(w, "         hint: {h}")?;
                }
            }
        }
        writeln!(w)?;
    }
    Ok(())
}

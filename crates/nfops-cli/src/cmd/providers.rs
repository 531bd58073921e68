//! `nfops providers`: which mode (mock, test, live) each outside provider
//! runs in on every environment's hosts, from the `[providers.*]` rules.

use std::io::Write;
use std::process::ExitCode;

use nfops_core::{ErrorCode, Result};
use nfops_ops::{Console, EnvProviderModes};

use crate::output::Output;
use crate::run::exit;

#[derive(clap::Args)]
pub struct Args {
    /// Only this environment.
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

/// Exit 0 when every production or region environment runs every provider
/// live on every host; 6 when one does not (or a host cannot be read, which
/// counts as not live); 0 with a note when no provider is declared.
pub async fn run(console: &Console, out: &Output, args: Args) -> Result<ExitCode> {
    let all = console.provider_modes(args.env.as_deref()).await?;
    out.emit(&all, |w| print_human(w, &all));
    Ok(if all.iter().any(|e| !e.refusals.is_empty()) {
        exit(ErrorCode::CheckFailed)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_human(w: &mut dyn Write, all: &[EnvProviderModes]) -> std::io::Result<()> {
    if all.is_empty() {
        writeln!(
            w,
            "no [providers.*] declared in environments.toml (README, \"From main to production\")"
        )?;
        return Ok(());
    }
    for e in all {
        writeln!(w, "{} ({}):", e.environment, e.tier.as_str())?;
        for h in &e.hosts {
            if let Some(err) = &h.error {
                writeln!(w, "  {:<14} cannot be read: {err}", h.host)?;
                continue;
            }
            for m in &h.modes {
                writeln!(
                    w,
                    "  {:<14} {:<10} {:<8} {}",
                    h.host,
                    m.label,
                    m.mode.as_str().to_uppercase(),
                    m.evidence
                )?;
            }
        }
        for r in &e.refusals {
            writeln!(w, "  REFUSED: {r}")?;
        }
    }
    Ok(())
}

use std::process::ExitCode;

use nfops_core::Result;
use nfops_ops::Console;
use serde::Serialize;

use crate::output::Output;

#[derive(clap::Args)]
pub struct Args {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    path: String,
    /// The data folder (state.db, known hosts, reports) and the log folder.
    state_dir: String,
    log_dir: String,
    environments: Vec<Env>,
    credentials: Vec<String>,
}

#[derive(Serialize)]
struct Env {
    name: String,
    tier: &'static str,
    hosts: Vec<String>,
}

/// Validates environments.toml; a bad file exits 3 with file:line:column.
pub fn run(console: &Console, out: &Output, _args: Args) -> Result<ExitCode> {
    let config = console.config()?;
    let summary = Summary {
        path: config.path().display().to_string(),
        state_dir: console.paths().state_dir.display().to_string(),
        log_dir: console.paths().log_dir.display().to_string(),
        environments: config
            .environments()
            .map(|(n, e)| Env {
                name: n.to_owned(),
                tier: e.tier.as_str(),
                hosts: e.hosts.iter().map(|h| h.get_ref().name.clone()).collect(),
            })
            .collect(),
        credentials: config.credential_names(),
    };
    out.emit(&summary, |w| {
        writeln!(w, "{}: ok", summary.path)?;
        for e in &summary.environments {
            writeln!(
                w,
                "  {} ({}): hosts {}",
                e.name,
                e.tier,
                if e.hosts.is_empty() {
                    "-".into()
                } else {
                    e.hosts.join(", ")
                }
            )?;
        }
        writeln!(w, "  credentials referenced: {}", summary.credentials.len())?;
        writeln!(w, "data folder: {}", summary.state_dir)?;
        writeln!(w, "log folder: {}", summary.log_dir)
    });
    Ok(ExitCode::SUCCESS)
}

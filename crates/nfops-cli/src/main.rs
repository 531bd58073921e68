//! `nfops`: the headless twin of the NewFinity Ops console.
//!
//! Same operations as the desktop app, for terminals, cron and pipelines.
//! Exit codes are stable (see `nfops_core::ErrorCode::exit_code`): 0 success,
//! 1 internal/state/io, 2 bad input, 3 config, 4 keyring/credential,
//! 5 unreachable, 6 unhealthy/check failed, 7 audit tampered, 130 cancelled.
//!
//! A command is a few lines over `nfops-ops`; the shared cancel-on-Ctrl-C,
//! progress printers and exit codes live in `run.rs`. Must never depend on
//! `tauri` or WebKit (`scripts/check-dep-tree` fails the build if it does).

mod cmd;
mod output;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// NewFinity Ops: operate the OGC NewFinity platform from a terminal.
#[derive(Parser)]
#[command(name = "nfops", version, about, propagate_version = true)]
struct Cli {
    /// environments.toml to use (default: $NFOPS_CONFIG, then the OS config folder).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print machine-readable JSON on stdout (errors too).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Live state of every environment (or one): backend, releases, DB, cache, storage, monitoring.
    Status(cmd::status::Args),
    /// Alerts each environment's Prometheus has open, firing first (exit 6 when one fires).
    Alerts(cmd::alerts::Args),
    /// Mode of each outside provider (payments, email…) on every host: mock, test or live (exit 6 when production is not live).
    Providers(cmd::providers::Args),
    /// Write a commented environments.toml where the console looks for it (never over an existing one).
    Init(cmd::init::InitArgs),
    /// Show a host's SSH host key fingerprint, to confirm before writing it as host_key.
    HostKey(cmd::init::HostKeyArgs),
    /// Check environments.toml and list its environments.
    Config(cmd::config::Args),
    /// Credentials in the OS keyring (values are never printed).
    #[command(subcommand)]
    Credentials(cmd::credentials::Command),
    /// The hash-chained audit log.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// Jobs and their steps (running, finished, interrupted).
    #[command(subcommand)]
    Jobs(cmd::jobs::Command),
    /// Backups (database + storage snapshots): run (plan first), list, verify, copy offsite, forget by policy.
    #[command(subcommand)]
    Backup(cmd::backup::Command),
    /// Age-encrypted per-environment secrets: list, get, set, unset, diff, recipients, push.
    #[command(subcommand)]
    Secrets(cmd::secrets::Command),
    /// Performance charts from Prometheus (or this machine): latest values, or one chart as SVG.
    Metrics(cmd::metrics::Args),
    /// Restore a backup into an environment (plan and preflight first; --yes to run).
    Restore(cmd::restore::RestoreArgs),
    /// Integrity checks: tables against a backup, orphaned rows, storage objects, app, workers.
    Check(cmd::restore::CheckArgs),
    /// Restore drill: newest backup into a scratch database, checked and timed.
    Drill(cmd::restore::DrillArgs),
    /// Uptime probes: one round (exit 6 when one fails) or --watch; uptime % and latency charts.
    Uptime(cmd::uptime::Args),
    /// Backend instances per host (PM2), scaling them (plan, confirm, check), and the capacity forecast.
    Scale(cmd::scale::Args),
    /// Structured logs of an environment's hosts (PM2 over SSH, or Loki): filter by level/category, --follow.
    Logs(cmd::logs::Args),
    /// Promote staging's release to production: plan, gates, rolling switch, verify, automatic rollback.
    Promote(cmd::promote::Args),
}

fn main() -> ExitCode {
    // One rustls crypto provider for the whole process (every HTTP client).
    nfops_core::http::install_crypto_provider();
    let cli = Cli::parse();
    let out = output::Output::new(cli.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            out.error(&nfops_core::Error::internal(format!(
                "cannot start the async runtime: {e}"
            )));
            return run::exit(nfops_core::ErrorCode::Internal);
        }
    };
    let result = runtime.block_on(async {
        let console = nfops_ops::Console::open(cli.config.as_deref()).await?;
        let _log = nfops_core::logging::init(&console.paths().log_dir, "cli").ok();
        for notice in &console.paths().notices {
            tracing::warn!(category = "application", "{notice}");
            eprintln!("note: {notice}");
        }
        match cli.command {
            Command::Status(a) => cmd::status::run(&console, &out, a).await,
            Command::Alerts(a) => cmd::alerts::run(&console, &out, a).await,
            Command::Providers(a) => cmd::providers::run(&console, &out, a).await,
            Command::Init(a) => cmd::init::init(&console, &out, a),
            Command::HostKey(a) => cmd::init::host_key(&console, &out, a).await,
            Command::Config(a) => cmd::config::run(&console, &out, a),
            Command::Credentials(c) => cmd::credentials::run(&console, &out, c).await,
            Command::Audit(c) => cmd::audit::run(&console, &out, c).await,
            Command::Jobs(c) => cmd::jobs::run(&console, &out, c).await,
            Command::Backup(c) => cmd::backup::run(&console, &out, c).await,
            Command::Secrets(c) => cmd::secrets::run(&console, &out, c).await,
            Command::Metrics(a) => cmd::metrics::run(&console, &out, a).await,
            Command::Restore(a) => cmd::restore::restore(&console, &out, a).await,
            Command::Check(a) => cmd::restore::check(&console, &out, a).await,
            Command::Drill(a) => cmd::restore::drill(&console, &out, a).await,
            Command::Uptime(a) => cmd::uptime::run(&console, &out, a).await,
            Command::Scale(a) => cmd::scale::run(&console, &out, a).await,
            Command::Logs(a) => cmd::logs::run(&console, &out, a).await,
            Command::Promote(a) => cmd::promote::run(&console, &out, a).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            out.error(&e);
            run::exit(e.code())
        }
    }
}

use std::process::ExitCode;

use nfops_core::{ErrorCode, Result};
use nfops_metrics::logs::{LogEntry, LogFilter};
use nfops_ops::Console;

use crate::output::Output;
use crate::run::{cancel_on_ctrl_c, exit};

#[derive(clap::Args)]
pub struct Args {
    /// The environment.
    #[arg(long, value_name = "NAME")]
    env: String,
    /// Keep printing new lines (polled every 2 s) until Ctrl-C.
    #[arg(long, short = 'f')]
    follow: bool,
    /// Minimum level: trace, debug, info, warn, error, fatal.
    #[arg(long, value_name = "L")]
    level: Option<String>,
    /// Only this category: application, error, access, security, worker.
    #[arg(long, value_name = "C")]
    category: Option<String>,
    /// Only this host.
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// How many of the newest lines to show first (at most 2000).
    #[arg(long, short = 'n', default_value_t = 100)]
    lines: usize,
}

fn line(e: &LogEntry) -> String {
    format!(
        "{} {:<11} {:<5} {:<11} {:<9} {}",
        e.ts, e.host, e.level, e.category, e.app, e.msg
    )
}

/// The newest lines of an environment's hosts (PM2 files over SSH, or Loki),
/// filtered; with --follow, then every new line. JSON: one object per line.
pub async fn run(console: &Console, out: &Output, args: Args) -> Result<ExitCode> {
    let filter = LogFilter {
        level: args.level,
        category: args.category,
        host: args.host,
    };
    if !args.follow {
        let tail = console.logs_tail(&args.env, &filter, args.lines).await?;
        for (host, e) in &tail.failed_hosts {
            eprintln!("warning: logs of {host} could not be read: {}", e.message);
        }
        out.emit(&tail, |w| {
            for e in &tail.entries {
                writeln!(w, "{}", line(e))?;
            }
            Ok(())
        });
        return Ok(if tail.failed_hosts.is_empty() {
            ExitCode::SUCCESS
        } else {
            exit(ErrorCode::Unreachable)
        });
    }
    let cancel = cancel_on_ctrl_c();
    let json = out.is_json();
    console
        .logs_follow(&args.env, &filter, args.lines, cancel, |e| {
            if json {
                if let Ok(s) = serde_json::to_string(e) {
                    println!("{s}");
                }
            } else {
                println!("{}", line(e));
            }
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}

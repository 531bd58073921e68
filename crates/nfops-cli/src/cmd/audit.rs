use std::process::ExitCode;

use nfops_core::{Error, ErrorCode, Result};
use nfops_ops::Console;

use crate::output::Output;

#[derive(clap::Subcommand)]
pub enum Command {
    /// The newest entries, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Check the hash chain; exits 7 when an entry was edited, inserted or deleted.
    Verify,
    /// The newest entry's sequence number and keyed hash, to keep somewhere
    /// the state folder's writers cannot reach (anchoring); a later chain
    /// must still contain it.
    Head,
}

pub async fn run(console: &Console, out: &Output, cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::List { limit } => {
            let entries = console.audit().list(limit).await?;
            out.emit(&entries, |w| {
                for e in &entries {
                    writeln!(
                        w,
                        "{:>6} {} {:<10} {:<22} {:<12} {:<24} {}",
                        e.seq,
                        e.at,
                        e.actor,
                        e.action,
                        e.environment.as_deref().unwrap_or("-"),
                        e.target.as_deref().unwrap_or("-"),
                        e.outcome
                    )?;
                }
                Ok(())
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Head => {
            let head = console.audit_head().await?;
            out.emit(&head, |w| match &head {
                Some(h) => writeln!(w, "{} {} {}", h.seq, h.hash, h.at),
                None => writeln!(w, "the audit log is empty"),
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify => {
            let v = console.audit().verify().await?;
            if !v.ok() {
                return Err(Error::new(ErrorCode::AuditTampered, format!("audit log check failed ({} entries): {}", v.entries, v.problems.join("; ")))
                    .hint("Keep the state database for investigation; do not append to it until you know what changed."));
            }
            out.emit(&v, |w| {
                writeln!(
                    w,
                    "audit log intact: {} entries ({} legacy, before the chain was keyed), head {}",
                    v.entries,
                    v.legacy,
                    v.head.as_deref().unwrap_or("-")
                )
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}

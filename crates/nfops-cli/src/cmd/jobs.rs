use std::process::ExitCode;

use nfops_core::Result;
use nfops_ops::Console;

use crate::output::Output;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Recent jobs with their state and steps.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

pub async fn run(console: &Console, out: &Output, cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::List { limit } => {
            let jobs = console.jobs().list(limit).await?;
            out.emit(&jobs, |w| {
                if jobs.is_empty() {
                    writeln!(w, "No jobs yet.")?;
                }
                for j in &jobs {
                    writeln!(
                        w,
                        "{} {:<12} {:<12} {} {}",
                        j.created_at,
                        j.kind,
                        j.state.as_str(),
                        j.environment.as_deref().unwrap_or("-"),
                        j.id
                    )?;
                    for s in &j.steps {
                        // A failed step shows its error (the server's own
                        // answer included): it is the evidence of that step.
                        let said = s
                            .evidence
                            .as_deref()
                            .or(s.error.as_ref().map(|e| e.message.as_str()))
                            .unwrap_or("");
                        writeln!(w, "    {:<11} {} {said}", s.state.as_str(), s.name)?;
                    }
                }
                Ok(())
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}

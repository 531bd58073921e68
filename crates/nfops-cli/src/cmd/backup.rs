//! `nfops backup run|list|verify`: database backups of an environment.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nfops_core::jobs::{
    CancellationToken, JobState, NoProgress, Progress, ProgressEvent, Throttled,
};
use nfops_core::Result;
use nfops_ops::Console;

use crate::output::Output;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Take a backup (plan first; --dry-run prints only the plan).
    Run {
        #[arg(long, value_name = "NAME")]
        env: String,
        /// Print the plan (tables, estimated rows and bytes) and stop.
        #[arg(long)]
        dry_run: bool,
    },
    /// Backups of an environment, newest first (incomplete ones marked).
    List {
        #[arg(long, value_name = "NAME")]
        env: String,
    },
    /// Check a backup: hashes, decryption, row counts and content hashes.
    Verify {
        #[arg(long, value_name = "NAME")]
        env: String,
        #[arg(long, value_name = "ID")]
        backup: String,
        /// Read only a random sample of N tables (schema and post files always).
        #[arg(long, value_name = "N")]
        sample: Option<usize>,
    },
}

/// Exit 0 on success; 6 when a check failed; 130 when cancelled; else the error's code.
pub async fn run(console: &Console, out: &Output, cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Run { env, dry_run: true } => {
            let plan = console.backup_plan(&env).await?;
            out.emit(&plan, |w| {
                writeln!(w, "{}", plan.plan.summary)?;
                for t in &plan.tables {
                    writeln!(
                        w,
                        "  {:<32} ~{:>10} rows {:>8} MB{}",
                        t.name,
                        t.est_rows,
                        t.est_bytes / 1_000_000,
                        if t.chunked { "  (chunked)" } else { "" }
                    )?;
                }
                for (i, s) in plan.plan.steps.iter().enumerate() {
                    writeln!(w, "{}. {}: {}", i + 1, s.name, s.description)?;
                }
                Ok(())
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            env,
            dry_run: false,
        } => {
            let (progress, bars) = progress(out);
            let cancel = cancel_on_ctrl_c();
            let (_plan, o) = console.backup_run(&env, progress, cancel).await?;
            bars.finish();
            out.emit(&o, |w| {
                for (name, state, evidence) in &o.job.steps {
                    writeln!(
                        w,
                        "  {:<10} {:<9} {}",
                        name,
                        state.as_str(),
                        evidence.as_deref().unwrap_or("")
                    )?;
                }
                match (&o.path, &o.job.error) {
                    (Some(p), _) => {
                        writeln!(w, "backup {} written to {}", o.backup_id, p.display())
                    }
                    (None, Some(e)) => {
                        writeln!(w, "backup failed [{}]: {}", e.code, e.message)?;
                        if let Some(h) = &e.hint {
                            writeln!(w, "  hint: {h}")?;
                        }
                        Ok(())
                    }
                    (None, None) => writeln!(w, "backup did not complete"),
                }
            });
            Ok(exit_for(
                o.job.state,
                o.job.error.as_ref().map(|e| e.code.as_str()),
            ))
        }
        Command::List { env } => {
            let list = console.backup_list(&env)?;
            out.emit(&list, |w| {
                if list.is_empty() {
                    writeln!(w, "No backups of {env} yet.")?;
                }
                for b in &list {
                    match b.state {
                        "complete" => writeln!(
                            w,
                            "{}  complete    {} tables  {} rows  {} MB  {}",
                            b.id,
                            b.tables.unwrap_or(0),
                            b.rows.unwrap_or(0),
                            b.stored_bytes.unwrap_or(0) / 1_000_000,
                            b.finished_at.as_deref().unwrap_or("")
                        )?,
                        _ => writeln!(
                            w,
                            "{}  INCOMPLETE  {}",
                            b.id,
                            b.problem.as_deref().unwrap_or("")
                        )?,
                    }
                }
                Ok(())
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            env,
            backup,
            sample,
        } => {
            let (progress, bars) = progress(out);
            let v = console
                .backup_verify(&env, &backup, sample, progress, cancel_on_ctrl_c())
                .await?;
            bars.finish();
            out.emit(&v, |w| {
                if let Some(r) = &v.report {
                    writeln!(
                        w,
                        "backup {}: {} files, {} tables, {} rows checked{}",
                        r.backup_id,
                        r.files_checked,
                        r.tables_checked,
                        r.rows_checked,
                        if r.sampled { " (sample)" } else { "" }
                    )?;
                    for f in &r.findings {
                        writeln!(
                            w,
                            "  FINDING {}: {}",
                            f.file.as_deref().or(f.table.as_deref()).unwrap_or("-"),
                            f.problem
                        )?;
                    }
                    if r.ok() {
                        writeln!(w, "  ok: every check passed")?;
                    }
                } else if let Some(e) = &v.job.error {
                    writeln!(w, "verify failed [{}]: {}", e.code, e.message)?;
                    if let Some(h) = &e.hint {
                        writeln!(w, "  hint: {h}")?;
                    }
                }
                Ok(())
            });
            Ok(exit_for(
                v.job.state,
                v.job.error.as_ref().map(|e| e.code.as_str()),
            ))
        }
    }
}

fn exit_for(state: JobState, code: Option<&str>) -> ExitCode {
    match state {
        JobState::Succeeded => ExitCode::SUCCESS,
        JobState::Cancelled => ExitCode::from(130),
        _ => match code {
            Some("backup.key_mismatch")
            | Some("credential.missing")
            | Some("keyring.unavailable")
            | Some("keyring.denied") => ExitCode::from(4),
            Some("service.unreachable") | Some("ssh.connect") | Some("ssh.auth") => {
                ExitCode::from(5)
            }
            Some("io.error") | Some("internal") | Some("state.error") => ExitCode::from(1),
            _ => ExitCode::from(6),
        },
    }
}

/// Cancels the job on Ctrl-C (the job then removes what it wrote).
fn cancel_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            t.cancel();
        }
    });
    token
}

/// Progress bars on a terminal (not with --json).
struct Bars(Option<indicatif::ProgressBar>);

impl Bars {
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

struct BarProgress {
    bar: indicatif::ProgressBar,
    step: Mutex<String>,
}

impl Progress for BarProgress {
    fn event(&self, e: &ProgressEvent) {
        match e {
            ProgressEvent::StepStarted { name, .. } => {
                *self.step.lock().unwrap_or_else(|p| p.into_inner()) = name.clone();
                self.bar.set_position(0);
                self.bar.set_prefix(name.clone());
            }
            ProgressEvent::StepProgress { done, total, .. } => {
                if let Some(t) = total {
                    self.bar.set_length((*t).max(*done));
                }
                self.bar.set_position(*done);
            }
            ProgressEvent::StepMessage { message, .. } => self.bar.set_message(message.clone()),
            ProgressEvent::StepFinished {
                state, evidence, ..
            } => {
                let step = self.step.lock().unwrap_or_else(|p| p.into_inner()).clone();
                self.bar.println(format!(
                    "{step}: {} {}",
                    state.as_str(),
                    evidence.as_deref().unwrap_or("")
                ));
            }
            _ => {}
        }
    }
}

fn progress(out: &Output) -> (Arc<dyn Progress>, Bars) {
    if !out.interactive() {
        return (Arc::new(NoProgress), Bars(None));
    }
    let bar = indicatif::ProgressBar::new(1);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} rows  {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    let p = BarProgress {
        bar: bar.clone(),
        step: Mutex::new(String::new()),
    };
    (
        Arc::new(Throttled::new(p, Duration::from_millis(100))),
        Bars(Some(bar)),
    )
}

//! How a command runs a job: cancelled on Ctrl-C, progress drawn on stderr,
//! and its exit code. Exit codes come only from `ErrorCode::exit_code`, so a
//! code means the same in every command (`keyring.denied` is 4 everywhere).

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nfops_core::jobs::{
    CancellationToken, JobState, NoProgress, Progress, ProgressEvent, StepState, Throttled,
};
use nfops_core::{ErrorCode, WireError};

use crate::output::Output;

/// A token that Ctrl-C cancels: the job stops at its next check and cleans
/// up what it wrote (long-running watches simply end).
pub fn cancel_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            t.cancel();
        }
    });
    token
}

/// The process exit code of an error code.
pub fn exit(code: ErrorCode) -> ExitCode {
    ExitCode::from(code.exit_code())
}

/// The exit code of a finished job: 0 when it succeeded, 130 when
/// cancelled, else its error's code (a failure without a known code counts
/// as a failed check, 6).
pub fn exit_for(state: JobState, error: Option<&WireError>) -> ExitCode {
    match state {
        JobState::Succeeded => ExitCode::SUCCESS,
        JobState::Cancelled => exit(ErrorCode::Cancelled),
        _ => exit(
            error
                .and_then(|e| ErrorCode::parse(&e.code))
                .unwrap_or(ErrorCode::CheckFailed),
        ),
    }
}

/// One line per step of a finished job: name (padded to `width`), state, evidence.
pub fn write_steps(
    w: &mut dyn Write,
    steps: &[(String, StepState, Option<String>)],
    width: usize,
) -> std::io::Result<()> {
    for (name, state, evidence) in steps {
        writeln!(
            w,
            "  {name:<width$} {:<9} {}",
            state.as_str(),
            evidence.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

/// `<what> [code]: message`, then the hint when there is one.
pub fn write_failure(w: &mut dyn Write, what: &str, e: &WireError) -> std::io::Result<()> {
    writeln!(w, "{what} [{}]: {}", e.code, e.message)?;
    write_hint(w, e)
}

/// `  hint: ...` when the error has one.
pub fn write_hint(w: &mut dyn Write, e: &WireError) -> std::io::Result<()> {
    match &e.hint {
        Some(h) => writeln!(w, "  hint: {h}"),
        None => Ok(()),
    }
}

/// Step lines on stderr, so stdout stays the JSON document with `--json`.
pub fn step_lines() -> Arc<dyn Progress> {
    Arc::new(StepLines)
}

/// Step lines on a terminal; nothing otherwise.
pub fn step_lines_if_interactive(out: &Output) -> Arc<dyn Progress> {
    if out.interactive() {
        step_lines()
    } else {
        Arc::new(NoProgress)
    }
}

struct StepLines;

impl Progress for StepLines {
    fn event(&self, e: &ProgressEvent) {
        match e {
            ProgressEvent::JobStarted { kind, .. } => eprintln!("== {kind}"),
            ProgressEvent::StepStarted { name, .. } => eprintln!("-> {name}"),
            ProgressEvent::StepMessage { message, .. } => eprintln!("   {message}"),
            ProgressEvent::StepFinished {
                state,
                evidence,
                error,
                ..
            } => eprintln!(
                "   {}: {}",
                state.as_str(),
                evidence
                    .clone()
                    .or_else(|| error.as_ref().map(|e| e.message.clone()))
                    .unwrap_or_default()
            ),
            _ => {}
        }
    }
}

/// Progress bars on a terminal (not with `--json`); `finish` clears them.
pub struct Bars(Option<indicatif::ProgressBar>);

impl Bars {
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// A bar per step with rate and ETA, and a line per finished step.
pub fn bars(out: &Output) -> (Arc<dyn Progress>, Bars) {
    if !out.interactive() {
        return (Arc::new(NoProgress), Bars(None));
    }
    let bar = indicatif::ProgressBar::new(1);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{prefix:>8} [{bar:30}] {human_pos}/{human_len} {per_sec} ETA {eta}  {msg}",
    ) {
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

/// The confirmation every destructive command takes, the same way:
/// `--confirm NAME` (the environment's name, checked by the console for
/// production and region tiers), `--yes` (the operator read the plan: the
/// environment's own name is passed), or a typed name at a terminal. Without
/// any of them and without a terminal, `confirmation.required` (exit 2):
/// nothing was changed, and a script must not read that as success.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Confirm {
    /// Confirm without a prompt (after reading the plan or the dry run).
    #[arg(long)]
    pub yes: bool,
    /// Confirm by naming the environment (required spelling for scripts
    /// acting on production or region tiers is the same name).
    #[arg(long, value_name = "NAME")]
    pub confirm: Option<String>,
}

impl Confirm {
    /// Whether a confirmation was given on the command line.
    pub fn given(&self) -> bool {
        self.yes || self.confirm.is_some()
    }

    /// The confirmation for `what` on `env`: from the flags, else typed at a
    /// terminal.
    ///
    /// # Errors
    /// `confirmation.required` without flags and without a terminal, or when
    /// the typed name differs; `io.error` reading the terminal.
    pub fn resolve(&self, env: &str, what: &str) -> nfops_core::Result<String> {
        use std::io::{BufRead, IsTerminal};
        if let Some(c) = &self.confirm {
            return Ok(c.clone());
        }
        if self.yes {
            return Ok(env.to_owned());
        }
        let refused = |m: String| {
            nfops_core::Error::new(ErrorCode::ConfirmationRequired, m).hint(format!(
                "Read the plan (--dry-run), then pass --yes or --confirm {env}."
            ))
        };
        if !std::io::stdin().is_terminal() {
            return Err(refused(format!(
                "{what} of '{env}' needs a confirmation and stdin is not a terminal; nothing was changed"
            )));
        }
        eprint!("type '{env}' to {what}: ");
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| nfops_core::Error::io("reading the confirmation", e))?;
        if line.trim() != env {
            return Err(refused("not confirmed; nothing was changed".into()));
        }
        Ok(env.to_owned())
    }

    /// As [`Confirm::resolve`] where the command's own flag (`--apply`)
    /// already states the intent: only production and region tiers ask
    /// for more; other tiers pass no confirmation.
    pub fn resolve_guarded(
        &self,
        console: &nfops_ops::Console,
        env: &str,
        what: &str,
    ) -> nfops_core::Result<Option<String>> {
        let tier = console.config()?.environment(env)?.tier;
        if !self.given() && !nfops_ops::needs_typed_confirmation(tier) {
            return Ok(None);
        }
        self.resolve(env, what).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use std::process::ExitCode;

    use nfops_core::jobs::JobState;
    use nfops_core::{ErrorCode, WireError};

    use super::exit_for;

    fn failed(code: &str) -> ExitCode {
        let e = WireError {
            code: code.to_owned(),
            message: "m".into(),
            hint: None,
        };
        exit_for(JobState::Failed, Some(&e))
    }

    #[test]
    fn a_failed_job_exits_with_its_error_codes_exit_code() {
        for c in ErrorCode::ALL {
            assert_eq!(
                failed(c.as_str()),
                ExitCode::from(c.exit_code()),
                "{c}: one table of exit codes for every command"
            );
        }
        assert_eq!(
            failed("keyring.denied"),
            ExitCode::from(4),
            "keyring.denied exits 4 in backup and restore alike"
        );
    }

    #[test]
    fn success_cancel_and_unknown_failures_have_fixed_codes() {
        assert_eq!(exit_for(JobState::Succeeded, None), ExitCode::SUCCESS);
        assert_eq!(exit_for(JobState::Cancelled, None), ExitCode::from(130));
        assert_eq!(
            exit_for(JobState::Failed, None),
            ExitCode::from(6),
            "a failure that names no code counts as a failed check"
        );
    }
}

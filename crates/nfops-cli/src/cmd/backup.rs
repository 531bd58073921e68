//! `nfops backup run|list|verify|forget`: database backups of an environment.

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
    /// Apply the retention policy: print the plan (what goes, and which rule
    /// keeps each backup); delete only with --apply.
    Forget {
        #[arg(long, value_name = "NAME")]
        env: String,
        /// Delete the backups the plan forgets (without it, only the plan).
        #[arg(long)]
        apply: bool,
    },
    /// Copy a backup to the offsite bucket and read every object back.
    Copy {
        #[arg(long, value_name = "NAME")]
        env: String,
        #[arg(long, value_name = "ID")]
        backup: String,
        /// Where to: only `offsite` (backup.offsite in environments.toml).
        #[arg(long, value_name = "DEST", value_parser = ["offsite"])]
        to: String,
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

/// Exit codes (stable, for cron and systemd): 0 success (for `run`: complete,
/// verified, and copied offsite when configured); 1 internal, state or disk
/// (io) error; 2 bad input; 3 config; 4 key or credential (wrong or missing
/// age key, keyring); 5 unreachable (database, SSH, S3); 6 a check failed
/// (verify findings, unhealthy server); 8 `run` only: backup good but the
/// offsite copy failed; 130 cancelled.
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
                    (None, None) if o.upload.is_some() => {
                        let up = o.upload.as_ref().map(|u| (u.state.as_str(), u));
                        match up {
                            Some(("copied", u)) => writeln!(
                                w,
                                "backup {} uploaded to {} and read back",
                                o.backup_id,
                                u.location.as_deref().unwrap_or("the S3 destination")
                            ),
                            Some((state, u)) => {
                                writeln!(
                                    w,
                                    "BACKUP UPLOAD {}: there is no backup {} at the S3 destination",
                                    state.to_uppercase(),
                                    o.backup_id
                                )?;
                                if let Some(e) = &u.error {
                                    writeln!(w, "  [{}] {}", e.code, e.message)?;
                                    if let Some(h) = &e.hint {
                                        writeln!(w, "  hint: {h}")?;
                                    }
                                }
                                Ok(())
                            }
                            None => Ok(()),
                        }
                    }
                    (None, Some(e)) => {
                        writeln!(w, "backup failed [{}]: {}", e.code, e.message)?;
                        if let Some(h) = &e.hint {
                            writeln!(w, "  hint: {h}")?;
                        }
                        Ok(())
                    }
                    (None, None) => writeln!(w, "backup did not complete"),
                }?;
                match &o.offsite {
                    None => Ok(()),
                    Some(c) if c.state == "copied" => writeln!(
                        w,
                        "offsite copy verified at {}",
                        c.location.as_deref().unwrap_or("the offsite bucket")
                    ),
                    Some(c) => {
                        writeln!(
                            w,
                            "OFFSITE COPY {}: the backup is good locally but has no verified offsite copy",
                            c.state.to_uppercase()
                        )?;
                        if let Some(e) = &c.error {
                            writeln!(w, "  [{}] {}", e.code, e.message)?;
                            if let Some(h) = &e.hint {
                                writeln!(w, "  hint: {h}")?;
                            }
                        }
                        writeln!(
                            w,
                            "  retry with `nfops backup copy --env {env} --backup {} --to offsite`",
                            o.backup_id
                        )
                    }
                }
            });
            Ok(run_exit(&o))
        }
        Command::List { env } => {
            let stale = console.backup_staleness(&env).await?;
            let list = console.catalog().cached(&env).await?;
            let now = chrono::Utc::now();
            out.emit(&list, |w| {
                if list.is_empty() {
                    writeln!(w, "No backups of {env} yet.")?;
                }
                if stale.stale {
                    match stale.age_hours {
                        Some(h) => writeln!(
                            w,
                            "WARNING: the newest good backup of {env} is {h:.1} h old, more than the {} h the policy allows",
                            stale.max_staleness_hours
                        )?,
                        None => writeln!(w, "WARNING: {env} has no good backup")?,
                    }
                }
                for b in &list {
                    if !b.is_complete() {
                        writeln!(
                            w,
                            "{}  INCOMPLETE  {}",
                            b.id,
                            b.problem.as_deref().unwrap_or("")
                        )?;
                        continue;
                    }
                    let verified = match (b.verify_ok, b.verified_at) {
                        (Some(true), Some(t)) => format!("verified {}", t.format("%Y-%m-%d %H:%M")),
                        (Some(false), _) => "VERIFY FAILED".into(),
                        _ => "not verified".into(),
                    };
                    writeln!(
                        w,
                        "{}  complete  {} tables  {} rows  {}  {:.1} MB  {:.1}s  {}  offsite: {}  age {:.1}h",
                        b.id,
                        b.tables.unwrap_or(0),
                        b.rows.unwrap_or(0),
                        b.storage_objects
                            .map_or("no storage snapshot".to_owned(), |n| format!("{n} objects")),
                        b.stored_bytes.unwrap_or(0) as f64 / 1e6,
                        b.duration_secs().unwrap_or(0.0),
                        verified,
                        b.offsite_state.as_deref().unwrap_or("none"),
                        b.age_hours(now).unwrap_or(0.0),
                    )?;
                }
                Ok(())
            });
            Ok(ExitCode::SUCCESS)
        }
        Command::Copy { env, backup, to: _ } => {
            let (progress, bars) = progress(out);
            let o = console
                .backup_copy(&env, &backup, progress, cancel_on_ctrl_c())
                .await?;
            bars.finish();
            out.emit(&o, |w| {
                for (name, state, evidence) in &o.job.steps {
                    writeln!(
                        w,
                        "  {:<12} {:<9} {}",
                        name,
                        state.as_str(),
                        evidence.as_deref().unwrap_or("")
                    )?;
                }
                match &o.job.error {
                    None => writeln!(w, "backup {} copied to {}", o.backup_id, o.location),
                    Some(e) => {
                        writeln!(w, "copy failed [{}]: {}", e.code, e.message)?;
                        if let Some(h) = &e.hint {
                            writeln!(w, "  hint: {h}")?;
                        }
                        Ok(())
                    }
                }
            });
            Ok(exit_for(
                o.job.state,
                o.job.error.as_ref().map(|e| e.code.as_str()),
            ))
        }
        Command::Forget { env, apply } => {
            let o = console.backup_forget(&env, apply).await?;
            out.emit(&o, |w| {
                if o.plan.decisions.is_empty() {
                    writeln!(w, "No complete backups of {env}: nothing to forget.")?;
                }
                for d in &o.plan.decisions {
                    writeln!(
                        w,
                        "{}  {:<6}  {:>4}d  {}",
                        if d.keep { "keep  " } else { "forget" },
                        d.id,
                        d.age_days,
                        d.reasons.join("; ")
                    )?;
                }
                if let Some(off) = &o.offsite {
                    writeln!(w, "offsite copies at {}:", off.location)?;
                    if off.plan.decisions.is_empty() {
                        writeln!(w, "  no complete offsite copies")?;
                    }
                    for d in &off.plan.decisions {
                        writeln!(
                            w,
                            "  {}  {:<6}  {:>4}d  {}",
                            if d.keep { "keep  " } else { "forget" },
                            d.id,
                            d.age_days,
                            d.reasons.join("; ")
                        )?;
                    }
                    for id in &off.incomplete {
                        writeln!(
                            w,
                            "  {id}  INCOMPLETE copy (no manifest object): left alone"
                        )?;
                    }
                    let n = off.plan.forgotten().count();
                    if o.applied {
                        writeln!(w, "  removed {} offsite copy(ies)", off.removed.len())?;
                    } else if n > 0 {
                        writeln!(w, "  {n} offsite copy(ies) would go")?;
                    }
                }
                let n = o.plan.forgotten().count();
                if o.applied {
                    writeln!(w, "removed {} backup(s)", o.removed.len())
                } else if n > 0 {
                    writeln!(
                        w,
                        "{n} backup(s) would go; run again with --apply to delete them"
                    )
                } else {
                    writeln!(w, "nothing to forget")
                }
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
                    if r.snapshots_checked > 0 {
                        writeln!(
                            w,
                            "  {} storage snapshot(s), {} objects checked",
                            r.snapshots_checked, r.objects_checked
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

/// Exit code of `nfops backup run`: 0 only when the backup is complete and
/// verified (with an S3 destination: uploaded and read back there) and, when
/// the environment has an offsite destination, its copy there was uploaded
/// and read back; 8 when the backup is good but the offsite copy failed (or
/// was cancelled); otherwise as [`exit_for`] (a failed upload to the S3
/// destination by its error: 5 unreachable, 6 check failed, …).
fn run_exit(o: &nfops_ops::BackupOutcome) -> ExitCode {
    if o.job.state != JobState::Succeeded {
        return exit_for(o.job.state, o.job.error.as_ref().map(|e| e.code.as_str()));
    }
    if let Some(u) = o.upload.as_ref().filter(|u| u.state != "copied") {
        // With an S3 destination a failed upload means no backup at all.
        let state = if u.state == "cancelled" {
            JobState::Cancelled
        } else {
            JobState::Failed
        };
        return exit_for(state, u.error.as_ref().map(|e| e.code.as_str()));
    }
    if o.fully_good() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(OFFSITE_FAILED)
    }
}

/// `nfops backup run`: the backup is good, its offsite copy is not.
pub const OFFSITE_FAILED: u8 = 8;

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

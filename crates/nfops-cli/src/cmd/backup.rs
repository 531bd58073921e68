//! `nfops backup run|list|verify|forget`: database backups of an environment.

use std::io::Write;
use std::process::ExitCode;

use nfops_core::jobs::JobState;
use nfops_core::{Result, WireError};
use nfops_ops::{BackupOutcome, Console};

use crate::output::Output;
use crate::run::{
    bars, cancel_on_ctrl_c, exit_for, write_failure, write_hint, write_steps, Confirm,
};

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
        /// With --apply on production and region tiers: `--confirm NAME` or `--yes`.
        #[command(flatten)]
        confirm: Confirm,
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
    /// Print your backup signing key's public half (made on first use), to
    /// list under [environments.NAME.backup.signers] of environments.toml.
    SigningKey,
}

/// Exit codes (stable, for cron and systemd): 0 success (for `run`: complete,
/// verified, and copied offsite when configured); 8 `run` only: backup good
/// but the offsite copy failed; otherwise `ErrorCode::exit_code` (1 internal,
/// state or disk; 2 bad input; 3 config; 4 key or credential; 5 unreachable;
/// 6 a check failed; 130 cancelled).
pub async fn run(console: &Console, out: &Output, cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Run { env, dry_run: true } => plan(console, out, &env).await,
        Command::Run {
            env,
            dry_run: false,
        } => take(console, out, &env).await,
        Command::List { env } => list(console, out, &env).await,
        Command::Copy { env, backup, to: _ } => copy(console, out, &env, &backup).await,
        Command::Forget {
            env,
            apply,
            confirm,
        } => forget(console, out, &env, apply, &confirm).await,
        Command::Verify {
            env,
            backup,
            sample,
        } => verify(console, out, &env, &backup, sample).await,
        Command::SigningKey => signing_key(console, out).await,
    }
}

/// `signing-key`: the public key (never the secret half) and how to trust it.
async fn signing_key(console: &Console, out: &Output) -> Result<ExitCode> {
    let (key, created) = console.backup_signing_key(true).await?;
    let public = key.public_key();
    let shown = serde_json::json!({ "publicKey": public, "created": created });
    out.emit(&shown, |w| {
        if created {
            writeln!(w, "A new backup signing key was stored in your OS keyring ({}).", nfops_vault::SIGNING_KEY_CREDENTIAL)?;
        }
        writeln!(w, "{public}")?;
        writeln!(w, "Trust it for an environment in environments.toml:\n  [environments.NAME.backup.signers]\n  your-name = \"{public}\"")
    });
    Ok(ExitCode::SUCCESS)
}

/// `run --dry-run`: the tables with estimated rows and bytes, and the steps.
async fn plan(console: &Console, out: &Output, env: &str) -> Result<ExitCode> {
    let plan = console.backup_plan(env).await?;
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

/// `run`: takes the backup with progress bars, then says where it is.
async fn take(console: &Console, out: &Output, env: &str) -> Result<ExitCode> {
    let (progress, bars) = bars(out);
    let (_plan, o) = console
        .backup_run(env, progress, cancel_on_ctrl_c())
        .await?;
    bars.finish();
    out.emit(&o, |w| {
        write_steps(w, &o.job.steps, 10)?;
        write_where(w, &o)?;
        write_offsite(w, env, &o)
    });
    Ok(run_exit(&o))
}

/// Where the backup ended up: a local path, the S3 destination, or why nowhere.
fn write_where(w: &mut dyn Write, o: &BackupOutcome) -> std::io::Result<()> {
    match (&o.path, &o.job.error, &o.upload) {
        (Some(p), _, _) => writeln!(w, "backup {} written to {}", o.backup_id, p.display()),
        (None, None, Some(u)) if u.state == "copied" => writeln!(
            w,
            "backup {} uploaded to {} and read back",
            o.backup_id,
            u.location.as_deref().unwrap_or("the S3 destination")
        ),
        (None, None, Some(u)) => {
            writeln!(
                w,
                "BACKUP UPLOAD {}: there is no backup {} at the S3 destination",
                u.state.to_uppercase(),
                o.backup_id
            )?;
            write_copy_error(w, u.error.as_ref())
        }
        (None, Some(e), _) => write_failure(w, "backup failed", e),
        (None, None, None) => writeln!(w, "backup did not complete"),
    }
}

/// The offsite copy's outcome, with the command that retries a failed one.
fn write_offsite(w: &mut dyn Write, env: &str, o: &BackupOutcome) -> std::io::Result<()> {
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
            write_copy_error(w, c.error.as_ref())?;
            writeln!(
                w,
                "  retry with `nfops backup copy --env {env} --backup {} --to offsite`",
                o.backup_id
            )
        }
    }
}

fn write_copy_error(w: &mut dyn Write, error: Option<&WireError>) -> std::io::Result<()> {
    match error {
        Some(e) => {
            writeln!(w, "  [{}] {}", e.code, e.message)?;
            write_hint(w, e)
        }
        None => Ok(()),
    }
}

/// `list`: the catalog, newest first, with a warning when it is stale.
async fn list(console: &Console, out: &Output, env: &str) -> Result<ExitCode> {
    let stale = console.backup_staleness(env).await?;
    let list = console.catalog().cached(env).await?;
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

/// `copy --to offsite`: uploads a backup and reads every object back.
async fn copy(console: &Console, out: &Output, env: &str, backup: &str) -> Result<ExitCode> {
    let (progress, bars) = bars(out);
    let o = console
        .backup_copy(env, backup, progress, cancel_on_ctrl_c())
        .await?;
    bars.finish();
    out.emit(&o, |w| {
        write_steps(w, &o.job.steps, 12)?;
        match &o.job.error {
            None => writeln!(w, "backup {} copied to {}", o.backup_id, o.location),
            Some(e) => write_failure(w, "copy failed", e),
        }
    });
    Ok(exit_for(o.job.state, o.job.error.as_ref()))
}

/// `forget`: the retention plan (local and offsite), applied with `--apply`.
async fn forget(
    console: &Console,
    out: &Output,
    env: &str,
    apply: bool,
    confirm: &Confirm,
) -> Result<ExitCode> {
    let typed = if apply {
        confirm.resolve_guarded(console, env, "forget backups")?
    } else {
        None
    };
    let o = console.backup_forget(env, apply, typed.as_deref()).await?;
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

/// `verify`: hashes, decryption, row counts and content hashes of a backup.
async fn verify(
    console: &Console,
    out: &Output,
    env: &str,
    backup: &str,
    sample: Option<usize>,
) -> Result<ExitCode> {
    let (progress, bars) = bars(out);
    let v = console
        .backup_verify(env, backup, sample, progress, cancel_on_ctrl_c())
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
            write_failure(w, "verify failed", e)?;
        }
        Ok(())
    });
    Ok(exit_for(v.job.state, v.job.error.as_ref()))
}

/// Exit code of `nfops backup run`: 0 only when the backup is complete and
/// verified (with an S3 destination: uploaded and read back there) and, when
/// the environment has an offsite destination, its copy there was uploaded
/// and read back; 8 when the backup is good but the offsite copy failed (or
/// was cancelled); otherwise as [`exit_for`] (a failed upload to the S3
/// destination by its error: 5 unreachable, 6 check failed, …).
fn run_exit(o: &BackupOutcome) -> ExitCode {
    if o.job.state != JobState::Succeeded {
        return exit_for(o.job.state, o.job.error.as_ref());
    }
    if let Some(u) = o.upload.as_ref().filter(|u| u.state != "copied") {
        // With an S3 destination a failed upload means no backup at all.
        let state = if u.state == "cancelled" {
            JobState::Cancelled
        } else {
            JobState::Failed
        };
        return exit_for(state, u.error.as_ref());
    }
    if o.fully_good() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(OFFSITE_FAILED)
    }
}

/// `nfops backup run`: the backup is good, its offsite copy is not.
pub const OFFSITE_FAILED: u8 = 8;

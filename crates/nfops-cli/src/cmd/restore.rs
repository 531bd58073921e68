//! `nfops restore`, `nfops check`, `nfops drill`: restoring a backup into an
//! environment (plan first), integrity checks, restore drills.

use std::process::ExitCode;

use nfops_core::{ErrorCode, Result};
use nfops_ops::{Console, RestoreScope};

use crate::output::Output;
use crate::run::{
    cancel_on_ctrl_c, exit, exit_for, step_lines_if_interactive, write_failure, write_steps,
    Confirm,
};

#[derive(clap::Args)]
pub struct RestoreArgs {
    #[arg(long, value_name = "NAME")]
    env: String,
    /// Backup id (`nfops backup list --env NAME`).
    #[arg(long, value_name = "ID", required_unless_present = "roll_back")]
    backup: Option<String>,
    /// Undo the newest restore (or the one kept in --safety): the previous
    /// tables come back from the safety schema (also after a crash).
    #[arg(long, conflicts_with_all = ["backup", "tables", "dry_run"])]
    roll_back: bool,
    /// With --roll-back: the safety schema to roll back to (default: the newest).
    #[arg(long, value_name = "SCHEMA", requires = "roll_back")]
    safety: Option<String>,
    /// Only these tables (comma-separated); default: the whole database.
    #[arg(long, value_delimiter = ',', value_name = "TABLE,...")]
    tables: Option<Vec<String>>,
    /// Print the plan and the preflight, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// `--yes` / `--confirm NAME`: run without asking (the plan is printed
    /// first). Without either and without a terminal: exit 2, nothing changed.
    #[command(flatten)]
    confirm: Confirm,
    /// Leave the cache alone (default: flush the environment's keys, warm up).
    #[arg(long)]
    no_cache: bool,
    /// Leave the PM2 processes alone (default: reload them on every host).
    #[arg(long)]
    no_workers: bool,
    /// Skip the integrity checks at the end.
    #[arg(long)]
    no_checks: bool,
    /// Restore a backup taken of ANOTHER environment (refused without it;
    /// the plan says so).
    #[arg(long)]
    allow_other_environment: bool,
    /// Leave the environment's buckets as they are: the backup's storage
    /// snapshots are not applied (the plan says so; the storage step is
    /// skipped). Needed to restore another environment's backup that
    /// carries snapshots of its own buckets.
    #[arg(long)]
    without_storage: bool,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    #[arg(long, value_name = "NAME")]
    env: String,
    /// Compare tables with this backup's manifest.
    #[arg(long, value_name = "ID")]
    backup: Option<String>,
}

#[derive(clap::Args)]
pub struct DrillArgs {
    #[arg(long, value_name = "NAME")]
    env: String,
}

/// Exit 0 when restored; 6 when a check failed; 130 when cancelled.
pub async fn restore(console: &Console, out: &Output, a: RestoreArgs) -> Result<ExitCode> {
    if a.roll_back {
        if !a.confirm.given() {
            return Err(nfops_core::Error::new(
                ErrorCode::ConfirmationRequired,
                format!("rolling back the newest restore of '{}' needs --yes", a.env),
            )
            .hint("The tables restored then move away and the previous ones come back."));
        }
        let r = console
            .restore_roll_back(&a.env, a.safety.as_deref())
            .await?;
        out.emit(&r, |w| {
            writeln!(
                w,
                "rolled back: {} previous table(s) of '{}' are live again from {}",
                r.moved_out.len(),
                r.database,
                r.safety
            )
        });
        return Ok(ExitCode::SUCCESS);
    }
    let backup = a.backup.clone().unwrap_or_default();
    // The plan is shown only when it is asked for or before a typed
    // confirmation: with --yes the run plans itself, from the same copy it
    // restores (a bucket's backup is downloaded once per run).
    if a.dry_run || !a.confirm.given() {
        let plan = console
            .restore_plan_for(
                &a.env,
                &backup,
                a.tables.clone(),
                a.allow_other_environment,
                a.without_storage,
            )
            .await?;
        out.emit(&plan, |w| {
            writeln!(w, "{}", plan.plan.summary)?;
            for t in &plan.tables {
                writeln!(
                    w,
                    "  replace {:<28} {:>10} rows (now ~{})",
                    t.name,
                    t.backup_rows,
                    t.current_rows
                        .map_or("absent".to_owned(), |r| r.to_string())
                )?;
            }
            for t in &plan.tables_removed {
                writeln!(
                    w,
                    "  move    {t:<28} (not in the backup) to the safety schema"
                )?;
            }
            super::restore_objects::write_object_lines(
                w,
                &plan.inventory,
                &plan.owner_changes,
                &plan.objects_lost,
            )?;
            writeln!(w, "preflight:")?;
            for c in &plan.preflight {
                writeln!(
                    w,
                    "  [{}] {}: {}",
                    if c.ok { "ok" } else { "FAIL" },
                    c.name,
                    c.detail
                )?;
            }
            writeln!(w, "estimated duration: ~{}s", plan.estimated_seconds)?;
            if a.dry_run {
                writeln!(
                    w,
                    "Dry run: nothing was changed; pass --yes (or --confirm NAME) to restore."
                )?;
            }
            Ok(())
        });
        if a.dry_run || !plan.ready() {
            return Ok(if plan.ready() {
                ExitCode::SUCCESS
            } else {
                exit(ErrorCode::CheckFailed)
            });
        }
    }
    // From the flags, or typed at a terminal; otherwise exit 2, nothing changed.
    let typed = a.confirm.resolve(&a.env, "restore")?;
    let scope = RestoreScope {
        cache: !a.no_cache,
        workers: !a.no_workers,
        checks: !a.no_checks,
        other_environment: a.allow_other_environment,
        without_storage: a.without_storage,
    };
    let run = console
        .restore_run(
            &a.env,
            &backup,
            a.tables,
            scope,
            Some(&typed),
            step_lines_if_interactive(out),
            cancel_on_ctrl_c(),
        )
        .await?;
    let o = &run.outcome;
    out.emit(&run, |w| {
        write_steps(w, &o.job.steps, 17)?;
        if let Some(e) = &o.job.error {
            write_failure(w, "restore failed", e)?;
        }
        writeln!(w, "database: {}", o.state_detail)?;
        writeln!(w, "time: {:.1}s", o.seconds)
    });
    Ok(exit_for(o.job.state, o.job.error.as_ref()))
}

/// Exit 0 without findings, 6 with.
pub async fn check(console: &Console, out: &Output, a: CheckArgs) -> Result<ExitCode> {
    let (r, saved) = console.check(&a.env, a.backup.as_deref()).await?;
    out.emit(&r, |w| {
        for c in &r.checks {
            writeln!(
                w,
                "  [{}] {:<16} {} ({:.1} s)",
                if c.ok { "ok" } else { "FAIL" },
                c.name,
                c.detail,
                c.seconds
            )?;
        }
        for f in &r.findings {
            writeln!(w, "  finding: {} {}: {}", f.check, f.subject, f.problem)?;
        }
        writeln!(
            w,
            "report: {} ({})",
            saved.html.display(),
            saved.json.display()
        )
    });
    Ok(if r.ok() {
        ExitCode::SUCCESS
    } else {
        exit(ErrorCode::CheckFailed)
    })
}

/// Exit 0 when the drill restored and checked cleanly, else 6.
pub async fn drill(console: &Console, out: &Output, a: DrillArgs) -> Result<ExitCode> {
    let (d, o, _r) = console
        .drill(&a.env, step_lines_if_interactive(out), cancel_on_ctrl_c())
        .await?;
    out.emit(&d, |w| {
        write_steps(w, &o.job.steps, 17)?;
        writeln!(
            w,
            "drill {}: {} — recovery time {:.1}s; {}",
            d.id,
            if d.ok { "passed" } else { "FAILED" },
            d.seconds,
            d.note
        )
    });
    Ok(if d.ok {
        ExitCode::SUCCESS
    } else {
        exit(ErrorCode::CheckFailed)
    })
}

//! `nfops promote --from staging --to production [--dry-run] [--yes | --confirm NAME]`.
//!
//! Exit codes a pipeline can trust:
//! 0 promoted and verified (or `--dry-run` with a plan that can run);
//! 6 refused or failed before any host changed (the plan's blockers, a failed
//!   gate, an artifact that did not arrive intact; nothing changed);
//! 10 failed after a change and rolled back automatically (production is on
//!   its previous release and healthy);
//! 11 the rollback did not finish (hosts may differ: act now);
//! 2 bad arguments or no confirmation; other codes as for every command.

use std::io::Write;
use std::process::ExitCode;

use nfops_core::{ErrorCode, Result};
use nfops_ops::{Console, PromotionState};
use nfops_promote::plan::SettingChange;
use nfops_promote::providers::summary;
use nfops_promote::{PromotionOptions, PromotionPlan};

use crate::output::Output;
use crate::run::{cancel_on_ctrl_c, exit, step_lines, Confirm};

/// A promotion failed after a change and was rolled back automatically.
pub const ROLLED_BACK: u8 = 10;
/// The rollback did not finish: hosts may differ.
pub const ROLLBACK_UNFINISHED: u8 = 11;

#[derive(clap::Args)]
pub struct Args {
    /// The environment whose running release is promoted.
    #[arg(long, value_name = "ENV", default_value = "staging")]
    from: String,
    /// The environment that receives it.
    #[arg(long, value_name = "ENV", default_value = "production")]
    to: String,
    /// Print the plan (and its blockers) and stop; exit 6 when it could not run.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    confirm: Confirm,
    /// A verified backup of the target must be newer than this, else one is taken now.
    #[arg(long, value_name = "HOURS", default_value_t = 24.0)]
    backup_max_age: f64,
    /// Do not require or take a backup (recorded in the audit log).
    #[arg(long)]
    skip_backup: bool,
    /// Refuse outside this UTC window, e.g. 22:00-02:00.
    #[arg(long, value_name = "HH:MM-HH:MM")]
    window: Option<String>,
    /// The second person approving (recorded in the audit log).
    #[arg(long, value_name = "NAME")]
    approver: Option<String>,
    /// Refuse unless --approver is given.
    #[arg(long)]
    require_approver: bool,
    /// Seconds the new release is watched (health + Prometheus) before it counts as good.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    verify_secs: u64,
}

fn print_plan(w: &mut dyn Write, p: &PromotionPlan) -> std::io::Result<()> {
    let rel = p.release.as_ref();
    writeln!(
        w,
        "promote {} ({:.12}…) from {} to {}",
        rel.map_or("?", |r| r.id.as_str()),
        rel.map_or("", |r| r.digest.as_str()),
        p.from_env,
        p.to_env
    )?;
    for h in &p.hosts {
        writeln!(
            w,
            "  {:<12} {} → {}{}",
            h.host,
            h.from.as_deref().unwrap_or("?"),
            h.to,
            if h.artifact_present {
                ""
            } else {
                "  (copy from staging)"
            }
        )?;
    }
    match &p.frontend {
        Some(f) => writeln!(w, "frontend: {} {}", f.provider, f.project)?,
        None => writeln!(w, "frontend: none configured")?,
    }
    writeln!(
        w,
        "config differences (names only; values only of settings marked public):"
    )?;
    for d in &p.config_diff {
        let how = match d.change {
            SettingChange::Added => format!("only in {}", p.from_env),
            SettingChange::Removed => format!("only in {}", p.to_env),
            SettingChange::Changed => "different values".to_owned(),
        };
        match &d.values {
            Some(v) => {
                let show = |x: &Option<String>| {
                    x.as_deref()
                        .map_or("(unset)".to_owned(), |s| format!("{s:?}"))
                };
                writeln!(
                    w,
                    "  {:<20} {how}: {} → {}",
                    d.key,
                    show(&v.target),
                    show(&v.source)
                )?;
            }
            None => writeln!(w, "  {:<20} {how}", d.key)?,
        }
    }
    let s = &p.secret_parity;
    writeln!(
        w,
        "secret keys: missing on {}: {:?}; only on {}: {:?}; same value: {:?}; different: {}",
        p.to_env,
        s.missing_on_target,
        p.to_env,
        s.only_on_target,
        s.same_value,
        s.different_value.len()
    )?;
    if !p.providers.target.is_empty() {
        writeln!(w, "provider modes:")?;
        let sides = [
            (&p.from_env, &p.providers.source),
            (&p.to_env, &p.providers.target),
        ];
        for (env, hosts) in sides {
            for h in hosts {
                writeln!(w, "  {env} {}", summary(std::slice::from_ref(h)))?;
            }
        }
    }
    writeln!(
        w,
        "pending migrations: {}",
        if p.pending_migrations.is_empty() {
            "none".to_owned()
        } else {
            p.pending_migrations.join(", ")
        }
    )?;
    writeln!(w, "gates:")?;
    for g in &p.gates {
        writeln!(w, "  {:<17} {}", g.name, g.description)?;
    }
    writeln!(w, "expected duration: about {}s", p.expected_secs)?;
    writeln!(w, "rolled back automatically on failure:")?;
    for r in &p.rollback_automatic {
        writeln!(w, "  - {r}")?;
    }
    writeln!(w, "not rolled back automatically:")?;
    for r in &p.rollback_manual {
        writeln!(w, "  - {r}")?;
    }
    for b in &p.blockers {
        writeln!(w, "BLOCKED: {b}")?;
    }
    Ok(())
}

pub async fn run(console: &Console, out: &Output, a: Args) -> Result<ExitCode> {
    let options = PromotionOptions {
        backup_max_age_hours: a.backup_max_age,
        skip_backup: a.skip_backup,
        change_window: a.window,
        approver: a.approver,
        require_approver: a.require_approver,
        verify_secs: a.verify_secs,
        ..PromotionOptions::default()
    };
    if a.dry_run {
        let plan = console.promotion_plan(&a.from, &a.to, &options).await?;
        out.emit(&plan, |w| print_plan(w, &plan));
        return Ok(if plan.is_blocked() {
            exit(ErrorCode::CheckFailed)
        } else {
            ExitCode::SUCCESS
        });
    }
    if !a.confirm.given() {
        let plan = console.promotion_plan(&a.from, &a.to, &options).await?;
        if !out.interactive() {
            out.emit(&plan, |w| print_plan(w, &plan));
        } else {
            let _ = print_plan(&mut std::io::stderr(), &plan);
        }
        if plan.is_blocked() {
            return Ok(exit(ErrorCode::CheckFailed));
        }
    }
    let typed = a.confirm.resolve(&a.to, "promote")?;
    let o = console
        .promote(
            &a.from,
            &a.to,
            &options,
            Some(&typed),
            step_lines(),
            cancel_on_ctrl_c(),
        )
        .await?;
    out.emit(&o, |w| {
        for g in &o.gates {
            writeln!(
                w,
                "gate {:<17} {} {}",
                g.name,
                if g.passed { "passed" } else { "FAILED" },
                g.detail
            )?;
        }
        for h in &o.final_hosts {
            writeln!(
                w,
                "  {:<12} {}",
                h.host,
                h.release
                    .clone()
                    .or_else(|| h.problem.clone())
                    .unwrap_or_default()
            )?;
        }
        writeln!(w, "{}: {}", o.state.as_str(), o.summary)
    });
    Ok(match o.state {
        PromotionState::Succeeded => ExitCode::SUCCESS,
        PromotionState::Refused | PromotionState::Failed => exit(ErrorCode::CheckFailed),
        PromotionState::RolledBack => ExitCode::from(ROLLED_BACK),
        PromotionState::RollbackFailed | PromotionState::Running | PromotionState::Interrupted => {
            ExitCode::from(ROLLBACK_UNFINISHED)
        }
    })
}

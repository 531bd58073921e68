//! `nfops secrets`: the age-encrypted per-environment secrets.
//!
//! Values are printed only by `get`, and read only from a hidden prompt or
//! standard input (never argv, which other users can see).

use std::process::ExitCode;
use std::sync::Arc;

use nfops_core::jobs::{CancellationToken, NoProgress};
use nfops_core::{ErrorCode, Result};
use nfops_ops::Console;

use crate::output::Output;
use crate::run::{exit, Confirm};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Key names of an environment (values masked) and its recipients.
    List { env: String },
    /// Print one value. Audited.
    Get { env: String, key: String },
    /// Set a value, read from a hidden prompt or standard input.
    Set { env: String, key: String },
    /// Remove a key.
    Unset { env: String, key: String },
    /// Compare two environments by key: missing, extra, different (values never shown).
    Diff { first: String, second: String },
    /// Who can decrypt an environment's secrets.
    #[command(subcommand)]
    Recipients(Recipients),
    /// Write an environment's secrets to its hosts' .env and reload PM2. Dry run unless --apply.
    Push {
        env: String,
        /// Apply the plan (default: only show it).
        #[arg(long)]
        apply: bool,
        /// Production and region tiers: `--confirm NAME` or `--yes`.
        #[command(flatten)]
        confirm: Confirm,
    },
    /// Your age identity (in the OS keyring): show its public key, or import one.
    Identity {
        /// Import an AGE-SECRET-KEY-1… from a hidden prompt or standard input.
        #[arg(long)]
        import: bool,
        /// Replacing an identity while production or region environments
        /// exist: `--confirm` one of their names.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
}

#[derive(clap::Subcommand)]
pub enum Recipients {
    /// List the recipients of ENV.
    List { env: String },
    /// Add a person and re-encrypt ENV to the new set.
    Add {
        env: String,
        /// Their public key: age1… or an SSH public key line.
        key: String,
        /// Who they are (written as the comment above the key).
        #[arg(long)]
        name: String,
    },
    /// Remove a person (by name or key), re-encrypt, and list keys to rotate.
    Remove { env: String, who: String },
}

pub async fn run(console: &Console, out: &Output, cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::List { env } => {
            let l = console.secrets_list(&env).await?;
            out.emit(&l, |w| {
                writeln!(w, "{} ({} keys)", l.file, l.keys.len())?;
                for k in &l.keys {
                    writeln!(w, "  {k:<32} ********")?;
                }
                writeln!(w, "recipients:")?;
                for r in &l.recipients {
                    writeln!(w, "  {}", r.label())?;
                }
                Ok(())
            });
        }
        Command::Get { env, key } => {
            let v = console.secret_reveal(&env, &key).await?;
            out.emit(
                &serde_json::json!({ "key": key, "value": v.expose() }),
                |w| writeln!(w, "{}", v.expose()),
            );
        }
        Command::Set { env, key } => {
            nfops_secrets::check_key(&key)?;
            let value = super::credentials::read_value(&key)?;
            let existed = console.secret_set(&env, &key, value).await?;
            let what = if existed { "changed" } else { "added" };
            out.emit(&serde_json::json!({ "key": key, "state": what }), |w| {
                writeln!(w, "{env}: {key} {what}")
            });
        }
        Command::Unset { env, key } => {
            console.secret_unset(&env, &key).await?;
            out.emit(
                &serde_json::json!({ "key": key, "state": "removed" }),
                |w| writeln!(w, "{env}: {key} removed"),
            );
        }
        Command::Diff { first, second } => {
            let d = console.secrets_diff(&first, &second).await?;
            out.emit(&d, |w| {
                writeln!(w, "only in {first}: {}", d.only_in_first.join(", "))?;
                writeln!(w, "only in {second}: {}", d.only_in_second.join(", "))?;
                writeln!(w, "different: {}", d.different.join(", "))?;
                writeln!(w, "same: {}", d.same.len())
            });
            let differs = !(d.only_in_first.is_empty()
                && d.only_in_second.is_empty()
                && d.different.is_empty());
            return Ok(if differs {
                exit(ErrorCode::CheckFailed)
            } else {
                ExitCode::SUCCESS
            });
        }
        Command::Recipients(r) => return recipients(console, out, r).await,
        Command::Push {
            env,
            apply,
            confirm,
        } => return push(console, out, &env, apply, &confirm).await,
        Command::Identity { import, confirm } => {
            let key = if import {
                let secret = super::credentials::read_value("age identity")?;
                console
                    .import_age_identity(secret, confirm.as_deref())
                    .await?
            } else {
                console.age_identity().await?.public_key()
            };
            out.emit(&serde_json::json!({ "publicKey": key }), |w| {
                writeln!(w, "{key}")
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn recipients(console: &Console, out: &Output, cmd: Recipients) -> Result<ExitCode> {
    let (env, change) = match cmd {
        Recipients::List { env } => {
            let l = console.secrets_list(&env).await?;
            out.emit(&l.recipients, |w| {
                for r in &l.recipients {
                    writeln!(w, "{:<24} {}", r.name, r.key)?;
                }
                Ok(())
            });
            return Ok(ExitCode::SUCCESS);
        }
        Recipients::Add { env, key, name } => {
            let c = console.secrets_recipient_add(&env, &name, &key).await?;
            (env, c)
        }
        Recipients::Remove { env, who } => {
            let c = console.secrets_recipient_remove(&env, &who).await?;
            (env, c)
        }
    };
    out.emit(&change, |w| {
        writeln!(
            w,
            "{env}: re-encrypted to {} recipient(s)",
            change.recipients.len()
        )?;
        if !change.rotate.is_empty() {
            writeln!(
                w,
                "rotate at their source (the removed person could read them): {}",
                change.rotate.join(", ")
            )?;
        }
        Ok(())
    });
    Ok(ExitCode::SUCCESS)
}

async fn push(
    console: &Console,
    out: &Output,
    env: &str,
    apply: bool,
    confirm: &Confirm,
) -> Result<ExitCode> {
    let print_plan =
        |w: &mut dyn std::io::Write, plan: &nfops_ops::PushPlan| -> std::io::Result<()> {
            for h in &plan.hosts {
                let c = &h.changes;
                if c.is_empty() {
                    writeln!(w, "{}: no change", h.host)?;
                } else {
                    writeln!(w, "{}: {}", h.host, h.path)?;
                    for (what, keys) in [
                        ("add", &c.added),
                        ("remove", &c.removed),
                        ("change", &c.changed),
                    ] {
                        if !keys.is_empty() {
                            writeln!(w, "  {what}: {}", keys.join(", "))?;
                        }
                    }
                }
            }
            Ok(())
        };
    if !apply {
        let plan = console.secrets_push_plan(env).await?;
        out.emit(&plan, |w| {
            print_plan(w, &plan)?;
            if !plan.is_noop() {
                writeln!(w, "dry run: nothing changed; run again with --apply")?;
            }
            Ok(())
        });
        return Ok(ExitCode::SUCCESS);
    }
    let typed = confirm.resolve_guarded(console, env, "push secrets")?;
    let o = console
        .secrets_push(
            env,
            typed.as_deref(),
            Arc::new(NoProgress),
            CancellationToken::new(),
        )
        .await?;
    let failed = o.job.as_ref().and_then(|j| j.error.clone());
    out.emit(&o, |w| {
        print_plan(w, &o.plan)?;
        match &o.job {
            None => writeln!(w, "nothing to push"),
            Some(j) => {
                for (name, state, evidence) in &j.steps {
                    writeln!(
                        w,
                        "{name}: {} {}",
                        state.as_str(),
                        evidence.as_deref().unwrap_or("")
                    )?;
                }
                writeln!(w, "job {}: {}", j.job_id, j.state.as_str())
            }
        }
    });
    Ok(match failed {
        None => ExitCode::SUCCESS,
        Some(e) => {
            out.error(&nfops_core::Error::new(ErrorCode::CheckFailed, e.message));
            exit(ErrorCode::CheckFailed)
        }
    })
}

//! What every destructive or long action on an environment goes through
//! before it acts, in this order:
//!
//! 1. the typed confirmation: on production and region tiers the call must
//!    carry the environment's name, so a direct IPC or CLI call without it
//!    is refused here, in the domain, not only by a UI dialog;
//! 2. the environment's lease (`nfops_core::lease`): one operator at a time
//!    across processes; an expired holder's takeover is audited;
//! 3. a `started` audit entry, so a process killed mid-way leaves a trace.
//!
//! The returned [`Lease`] is held for the whole action and released by the
//! caller (or by `Drop` on an early return or a panic).

use nfops_core::audit::{Action, Outcome};
use nfops_core::config::Tier;
use nfops_core::lease::{Lease, LeaseAction};
use nfops_core::{Error, ErrorCode, Result};

use crate::Console;

/// Whether `tier` needs the typed environment name for destructive actions.
pub fn needs_typed_confirmation(tier: Tier) -> bool {
    matches!(tier, Tier::Production | Tier::Region)
}

impl Console {
    /// Refuses `what` on `env` unless `confirm` is the environment's name
    /// (production and region tiers only; others need nothing).
    ///
    /// # Errors
    /// `confirmation.required`; the config's errors for an unknown `env`.
    pub fn require_confirmation(&self, env: &str, what: &str, confirm: Option<&str>) -> Result<()> {
        let tier = self.config()?.environment(env)?.tier;
        if !needs_typed_confirmation(tier) || confirm.map(str::trim) == Some(env) {
            return Ok(());
        }
        let wrong = confirm.is_some_and(|c| !c.trim().is_empty());
        Err(Error::new(
            ErrorCode::ConfirmationRequired,
            format!(
                "{what} in '{env}' ({}) needs the environment's name typed as confirmation{}; nothing was changed",
                tier.as_str(),
                if wrong { ", and what was typed does not match" } else { "" }
            ),
        )
        .hint(format!(
            "Read the plan, then pass `--confirm {env}` (or `--yes` in a terminal) on the CLI, or type '{env}' in the app's dialog."
        )))
    }

    /// Refuses to delete or replace the operator's age identity while one is
    /// stored unless `confirm` names a production or region environment of
    /// the config (the identity opens their secrets and backups). With no
    /// such environment, or no config file yet, nothing is asked; a config
    /// that exists but does not parse refuses (it may name production).
    ///
    /// # Errors
    /// `confirmation.required`, or the config's own error naming the parse
    /// problem (both audited as `refused` under `action`).
    pub(crate) async fn require_identity_confirmation(
        &self,
        action: &str,
        confirm: Option<&str>,
    ) -> Result<()> {
        let guarded: Vec<String> = match self.config() {
            Ok(c) => c
                .environments()
                .filter(|(_, e)| needs_typed_confirmation(e.tier))
                .map(|(n, _)| n.to_owned())
                .collect(),
            // No config file yet: no environment the identity opens.
            Err(e) if e.code() == ErrorCode::ConfigNotFound => Vec::new(),
            // A config that does not parse may name production: fail closed.
            Err(e) => {
                self.audit()
                    .record(Action {
                        action,
                        environment: None,
                        target: Some(nfops_secrets::IDENTITY_CREDENTIAL),
                        outcome: Outcome::Refused,
                        details: serde_json::json!({ "error": e.code().as_str() }),
                    })
                    .await?;
                return Err(Error::new(
                    e.code(),
                    format!(
                        "{action} refused: the configuration could not be read, so it is unknown which production or region environments the age identity opens; nothing was changed: {}",
                        e.message()
                    ),
                )
                .hint("Fix environments.toml (`nfops config check` names the problem), then run this again with `--confirm <environment>`."));
            }
        };
        let typed = confirm.map(str::trim).unwrap_or("");
        if guarded.is_empty() || guarded.iter().any(|g| g == typed) {
            return Ok(());
        }
        self.audit()
            .record(Action {
                action,
                environment: None,
                target: Some(nfops_secrets::IDENTITY_CREDENTIAL),
                outcome: Outcome::Refused,
                details: serde_json::json!({ "error": ErrorCode::ConfirmationRequired.as_str() }),
            })
            .await?;
        Err(Error::new(
            ErrorCode::ConfirmationRequired,
            format!(
                "{action}: the age identity opens the secrets and backups of {}; type one of those names to confirm; nothing was changed",
                guarded.join(", ")
            ),
        )
        .hint(format!("Pass `--confirm {}` on the CLI, or type it in the app's dialog.", guarded[0])))
    }

    /// Takes `env`'s lease for `action` as this process's operator; audits
    /// the takeover of an expired holder (a killed process) and a refusal
    /// because another operator holds it (`lease.busy`, refused, naming them).
    ///
    /// # Errors
    /// `environment.busy` naming the live holder; `state.error`.
    pub async fn take_lease(&self, env: &str, action: LeaseAction) -> Result<Lease> {
        let operator = nfops_core::audit::current_actor();
        let lease = match Lease::acquire(self.state(), env, action, &operator, self.process_kind())
            .await
        {
            Ok(l) => l,
            Err(e) if e.code() == ErrorCode::EnvironmentBusy => {
                let holder = nfops_core::lease::holder(self.state(), env)
                    .await
                    .ok()
                    .flatten();
                self.audit()
                        .record(Action {
                            action: "lease.busy",
                            environment: Some(env),
                            target: Some(action.as_str()),
                            outcome: Outcome::Refused,
                            details: serde_json::json!({ "error": e.code().as_str(), "holder": holder }),
                        })
                        .await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if let Some(prev) = &lease.took_over {
            tracing::warn!(category = "security", environment = env, previous = %prev.describe(), "took over an expired lease");
            let audited = self
                .audit()
                .record(Action {
                    action: "lease.takeover",
                    environment: Some(env),
                    target: Some(action.as_str()),
                    outcome: Outcome::Succeeded,
                    details: serde_json::to_value(prev).unwrap_or_default(),
                })
                .await;
            if let Err(e) = audited {
                self.release(lease).await;
                return Err(e);
            }
        }
        Ok(lease)
    }

    /// Confirmation, lease, then the `started` audit entry of a destructive
    /// action (`audit_action` on `env`, `target`), in that order.
    ///
    /// # Errors
    /// As [`Console::require_confirmation`] and [`Console::take_lease`]; a
    /// refused confirmation is audited as `refused`.
    pub(crate) async fn begin_destructive(
        &self,
        env: &str,
        lease: LeaseAction,
        audit_action: &str,
        target: Option<&str>,
        confirm: Option<&str>,
    ) -> Result<Lease> {
        if let Err(e) = self.require_confirmation(env, audit_action, confirm) {
            self.audit()
                .record(Action {
                    action: audit_action,
                    environment: Some(env),
                    target,
                    outcome: Outcome::Refused,
                    details: serde_json::json!({ "error": e.code().as_str() }),
                })
                .await?;
            return Err(e);
        }
        let lease = self.take_lease(env, lease).await?;
        let started = self
            .audit()
            .record(Action {
                action: audit_action,
                environment: Some(env),
                target,
                outcome: Outcome::Started,
                details: serde_json::json!({ "pid": std::process::id(), "process": self.process_kind().as_str() }),
            })
            .await;
        if let Err(e) = started {
            self.release(lease).await;
            return Err(e);
        }
        Ok(lease)
    }

    /// This console acting under `lease`: the jobs it runs stop, with
    /// `environment.busy` naming the new holder, once the lease is lost.
    #[must_use]
    pub(crate) fn holding(&self, lease: &Lease) -> Console {
        let mut c = self.clone();
        c.lease_watch = Some(lease.watch());
        c
    }

    /// The audit chain's newest entry, to anchor elsewhere (`nfops audit head`).
    ///
    /// # Errors
    /// `state.error`.
    pub async fn audit_head(&self) -> Result<Option<nfops_core::audit::Head>> {
        self.audit().head().await
    }

    /// Releases `lease` at the end of an action, on every path (the CLI may
    /// exit before a `Drop`'s spawned release runs). A failure is logged,
    /// not returned: the action's outcome matters more, and the lease
    /// expires. A lease lost on the way is audited (`lease.lost`, with the
    /// holder that took it over).
    pub(crate) async fn release(&self, lease: Lease) {
        let watch = lease.watch();
        if watch.is_lost() {
            let lost = self
                .audit()
                .record(Action {
                    action: "lease.lost",
                    environment: Some(watch.environment()),
                    target: None,
                    outcome: Outcome::Failed,
                    details: serde_json::json!({ "newHolder": watch.new_holder() }),
                })
                .await;
            if let Err(e) = lost {
                tracing::warn!(category = "security", error = %e, "lost lease could not be audited");
            }
        }
        if let Err(e) = lease.release().await {
            tracing::warn!(category = "worker", error = %e, "environment lease not released; it expires by itself");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_and_region_need_the_typed_name() {
        assert!(needs_typed_confirmation(Tier::Production));
        assert!(needs_typed_confirmation(Tier::Region));
        assert!(!needs_typed_confirmation(Tier::Staging));
        assert!(!needs_typed_confirmation(Tier::Local));
    }
}

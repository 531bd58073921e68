//! The promotion plan: everything the operator reads before the button is
//! armed. Built from what the hosts say now, never from a cache.
//!
//! - [`survey`]: both environments' hosts over SSH (releases, artifact,
//!   `.env` parity, rollback scope).
//! - [`env_file`]: settings compared by value, secrets by hash.
//! - [`make`]: the survey completed with what the target's database and
//!   frontend provider say.

pub(crate) mod env_file;
mod survey;

use std::path::Path;

use nfops_core::config::providers::Provider;
use nfops_core::config::{Environment, Host};
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};

pub use env_file::{compare_env, is_secret_key, parse_env};
pub use survey::survey;

use crate::frontend::driver_for;
use crate::providers::HostModes;
use crate::release::Release;
use crate::run::{gates, migrations};

/// Choices of one promotion (CLI flags, UI form).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionOptions {
    /// A verified production backup must be newer than this; otherwise one is
    /// taken now, before any host changes.
    pub backup_max_age_hours: f64,
    /// Skip the backup gate entirely (recorded in the plan and the audit log).
    pub skip_backup: bool,
    /// UTC change window `HH:MM-HH:MM`; outside it the promotion is refused.
    pub change_window: Option<String>,
    /// A second person who approved this promotion (recorded in the audit log).
    pub approver: Option<String>,
    /// Refuse unless an approver is named.
    pub require_approver: bool,
    /// How long the new release is watched after the last host (seconds).
    pub verify_secs: u64,
    /// Tolerances of the metrics comparison.
    pub tolerance: crate::verify::Tolerance,
}

impl Default for PromotionOptions {
    fn default() -> Self {
        Self {
            backup_max_age_hours: 24.0,
            skip_backup: false,
            change_window: None,
            approver: None,
            require_approver: false,
            verify_secs: 30,
            tolerance: crate::verify::Tolerance::default(),
        }
    }
}

/// What one production host will go through.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostChange {
    pub host: String,
    /// What it runs now (`None` when unreadable; the plan is then blocked).
    pub from: Option<String>,
    pub to: String,
    /// The artifact is already on the host with the same digest.
    pub artifact_present: bool,
}

/// A setting of `.env` that differs between the environments: its name and
/// how it differs. A plan is printed, sent to the UI and stored in SQLite,
/// and no list of "secret-looking" names is complete (`SMTP_PASS`,
/// `*_WEBHOOK_URL`, `*_SALT`…), so values are carried only for settings the
/// config of both environments marks public (and that do not look secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingDiff {
    pub key: String,
    pub change: SettingChange,
    /// Old and new values, only for settings both environments mark public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<PublicValues>,
}

/// A public setting's values: what the target has now and what the source
/// would bring (`None` where the key is absent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicValues {
    pub target: Option<String>,
    pub source: Option<String>,
}

/// How a setting differs, seen from the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingChange {
    /// Set in the source only.
    Added,
    /// Set in the target only.
    Removed,
    /// Set in both, to different values.
    Changed,
}

impl SettingChange {
    pub fn as_str(self) -> &'static str {
        match self {
            SettingChange::Added => "added",
            SettingChange::Removed => "removed",
            SettingChange::Changed => "changed",
        }
    }
}

/// Secret keys compared by name and by hash of their values (never shown).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretParity {
    /// Present in the source environment, missing in the target.
    pub missing_on_target: Vec<String>,
    /// Present only in the target.
    pub only_on_target: Vec<String>,
    /// Same value in both (often a mistake for passwords).
    pub same_value: Vec<String>,
    /// Present in both with different values (expected).
    pub different_value: Vec<String>,
}

/// Provider modes on both sides of a promotion.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderModes {
    pub source: Vec<HostModes>,
    pub target: Vec<HostModes>,
    /// The target's tier needs every provider live (a blocker otherwise).
    pub target_live_required: bool,
}

impl ProviderModes {
    /// Both sides' modes; empty when the config declares no provider (the
    /// hosts' reads then say nothing worth showing).
    pub fn new(
        providers: &[(String, Provider)],
        source: Vec<HostModes>,
        target: Vec<HostModes>,
        target_tier: nfops_core::config::Tier,
    ) -> Self {
        if providers.is_empty() {
            return Self::default();
        }
        Self {
            source,
            target,
            target_live_required: crate::providers::live_required(target_tier),
        }
    }
}

/// A gate as planned (its result is kept with the promotion).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateSpec {
    pub name: String,
    pub description: String,
}

/// The frontend part of a promotion.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrontendPlan {
    pub provider: String,
    pub project: String,
    /// Deploy live on the target now (rolled back to on failure).
    pub from_deploy: Option<String>,
    /// Deploy the source serves (promoted).
    pub to_deploy: Option<String>,
}

/// The dry run of a promotion.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionPlan {
    pub from_env: String,
    pub to_env: String,
    /// The artifact the source environment runs (checked on its host).
    pub release: Option<Release>,
    /// The source host the artifact is copied from.
    pub source_host: Option<String>,
    pub source_hosts: Vec<HostChange>,
    pub hosts: Vec<HostChange>,
    pub frontend: Option<FrontendPlan>,
    pub config_diff: Vec<SettingDiff>,
    pub secret_parity: SecretParity,
    /// The outside providers' modes (`[providers.*]`): the source's first
    /// host and every target host (absent from plans stored before them).
    #[serde(default)]
    pub providers: ProviderModes,
    /// Migrations the release ships that the target's release does not.
    pub pending_migrations: Vec<String>,
    pub gates: Vec<GateSpec>,
    pub expected_secs: u64,
    /// Put back automatically on failure.
    pub rollback_automatic: Vec<String>,
    /// Not put back automatically.
    pub rollback_manual: Vec<String>,
    /// Why the promotion cannot start (empty when it can).
    pub blockers: Vec<String>,
    /// Every target host already runs the release.
    pub noop: bool,
    pub options: PromotionOptions,
}

impl PromotionPlan {
    pub fn is_blocked(&self) -> bool {
        !self.blockers.is_empty()
    }
}

/// Hosts of `env` that run the backend, in config order.
pub fn backend_hosts(env: &Environment) -> Vec<Host> {
    env.hosts
        .iter()
        .map(|h| h.get_ref().clone())
        .filter(|h| h.roles.is_empty() || h.roles.iter().any(|r| r == "backend"))
        .collect()
}

/// Refuses a promotion of an environment onto itself.
///
/// Errors: `input.invalid` when `from == to`.
pub fn ensure_distinct(from: &str, to: &str) -> Result<()> {
    if from == to {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("cannot promote '{from}' onto itself"),
        )
        .hint("Use --from staging --to production."));
    }
    Ok(())
}

/// The dry run of promoting `from` to `to`: the [`survey`] of their hosts,
/// then the pending migrations from what the target's database recorded
/// (the release files are only the fallback) and the frontend's deploys.
/// Changes nothing; what forbids the promotion is in `blockers`.
///
/// Errors: `input.invalid` when an environment has no backend host.
pub async fn make(
    (from, fe): (&str, &Environment),
    (to, te): (&str, &Environment),
    creds: &dyn CredentialSource,
    known_hosts: &Path,
    options: &PromotionOptions,
    providers: &[(String, Provider)],
) -> Result<PromotionPlan> {
    let gates = gates::specs(options, from, (to, te.tier), providers);
    let mut plan = survey(
        from,
        fe,
        to,
        te,
        creds,
        known_hosts,
        options,
        gates,
        providers,
    )
    .await?;
    if let Some(r) = plan.release.clone() {
        match migrations::applied(to, te, creds, known_hosts).await {
            Ok(Some(applied)) => {
                plan.pending_migrations = r
                    .migrations
                    .iter()
                    .filter(|m| !applied.contains(m))
                    .cloned()
                    .collect();
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(category = "application", code = %e.code(), "pending migrations from the release files only: {}", e.message())
            }
        }
        if plan.pending_migrations.is_empty() {
            plan.rollback_manual
                .retain(|l| !l.starts_with("database migrations"));
        }
    }
    if let Some(f) = te.frontend.as_ref() {
        let deploys = async {
            let d = driver_for(f, creds)?;
            Ok::<_, Error>((d.live_deploy().await?, d.candidate_deploy().await?))
        }
        .await;
        match (deploys, plan.frontend.as_mut()) {
            (Ok((live, cand)), Some(fp)) => {
                fp.from_deploy = Some(live);
                fp.to_deploy = Some(cand);
            }
            (Err(e), _) => plan.blockers.push(format!("frontend: {}", e.message())),
            _ => {}
        }
    }
    Ok(plan)
}

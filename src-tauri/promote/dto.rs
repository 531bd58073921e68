//! Wire types of the Promote page: the operator's choices (converted into
//! the domain's options), the plan, the outcome and the history.

use nfops_promote::{PromotionOptions, PromotionPlan};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::failure::Failure;
use crate::jobs::{job_steps, JobStep};
use crate::overview::dto::HostModesView;

/// The operator's choices for one promotion.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PromotionChoices {
    pub skip_backup: bool,
    pub backup_max_age_hours: f64,
    pub change_window: Option<String>,
    pub approver: Option<String>,
    pub require_approver: bool,
    pub verify_secs: u32,
}

impl From<PromotionChoices> for PromotionOptions {
    fn from(c: PromotionChoices) -> Self {
        PromotionOptions {
            skip_backup: c.skip_backup,
            backup_max_age_hours: c.backup_max_age_hours,
            change_window: c.change_window.filter(|w| !w.trim().is_empty()),
            approver: c.approver.filter(|a| !a.trim().is_empty()),
            require_approver: c.require_approver,
            verify_secs: u64::from(c.verify_secs.clamp(4, 3600)),
            ..PromotionOptions::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HostChangeView {
    pub host: String,
    pub from: Option<String>,
    pub to: String,
    pub artifact_present: bool,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SettingDiffView {
    pub key: String,
    /// `added` (source only), `removed` (target only) or `changed`.
    pub change: String,
    /// The target's value now, only for a setting marked public in both
    /// environments' config (`null` otherwise, or when the target lacks it).
    pub old_value: Option<String>,
    /// The source's value the promotion brings, under the same rule.
    pub new_value: Option<String>,
    /// Whether values are shown (the setting is public).
    pub public: bool,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SecretParityView {
    pub missing_on_target: Vec<String>,
    pub only_on_target: Vec<String>,
    pub same_value: Vec<String>,
    pub different_value: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct NamedText {
    pub name: String,
    pub text: String,
}

/// The dry run, as the page shows it.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PromotionPlanView {
    pub from_env: String,
    pub to_env: String,
    pub release: Option<String>,
    pub digest: Option<String>,
    pub release_description: Option<String>,
    pub source_host: Option<String>,
    pub source_hosts: Vec<HostChangeView>,
    pub hosts: Vec<HostChangeView>,
    pub frontend: Option<String>,
    pub config_diff: Vec<SettingDiffView>,
    pub secret_parity: SecretParityView,
    /// Provider modes (`[providers.*]`) of the source's first host…
    pub providers_source: Vec<HostModesView>,
    /// …and of every target host.
    pub providers_target: Vec<HostModesView>,
    /// The target's tier needs every provider live.
    pub providers_live_required: bool,
    pub pending_migrations: Vec<String>,
    pub gates: Vec<NamedText>,
    pub expected_secs: u32,
    pub rollback_automatic: Vec<String>,
    pub rollback_manual: Vec<String>,
    pub blockers: Vec<String>,
}

fn host_view(h: &nfops_promote::plan::HostChange) -> HostChangeView {
    HostChangeView {
        host: h.host.clone(),
        from: h.from.clone(),
        to: h.to.clone(),
        artifact_present: h.artifact_present,
    }
}

impl From<PromotionPlan> for PromotionPlanView {
    fn from(p: PromotionPlan) -> Self {
        Self {
            release: p.release.as_ref().map(|r| r.id.clone()),
            digest: p.release.as_ref().map(|r| r.digest.clone()),
            release_description: p.release.as_ref().and_then(|r| r.description.clone()),
            source_hosts: p.source_hosts.iter().map(host_view).collect(),
            hosts: p.hosts.iter().map(host_view).collect(),
            frontend: p
                .frontend
                .as_ref()
                .map(|f| format!("{} {}", f.provider, f.project)),
            config_diff: p
                .config_diff
                .into_iter()
                .map(|d| SettingDiffView {
                    key: d.key,
                    change: d.change.as_str().to_owned(),
                    public: d.values.is_some(),
                    old_value: d.values.as_ref().and_then(|v| v.target.clone()),
                    new_value: d.values.and_then(|v| v.source),
                })
                .collect(),
            secret_parity: SecretParityView {
                missing_on_target: p.secret_parity.missing_on_target,
                only_on_target: p.secret_parity.only_on_target,
                same_value: p.secret_parity.same_value,
                different_value: p.secret_parity.different_value,
            },
            providers_source: p.providers.source.iter().map(Into::into).collect(),
            providers_target: p.providers.target.iter().map(Into::into).collect(),
            providers_live_required: p.providers.target_live_required,
            gates: p
                .gates
                .into_iter()
                .map(|g| NamedText {
                    name: g.name,
                    text: g.description,
                })
                .collect(),
            expected_secs: u32::try_from(p.expected_secs).unwrap_or(u32::MAX),
            from_env: p.from_env,
            to_env: p.to_env,
            source_host: p.source_host,
            pending_migrations: p.pending_migrations,
            rollback_automatic: p.rollback_automatic,
            rollback_manual: p.rollback_manual,
            blockers: p.blockers,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct GateView {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct FinalHostView {
    pub host: String,
    pub release: Option<String>,
    pub problem: Option<String>,
}

/// One verification sample (for the chart).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SampleView {
    pub at_secs: f64,
    pub release: String,
    pub health_ok: bool,
    pub error_ratio: Option<f64>,
    pub p95_ms: Option<f64>,
    pub problem: Option<String>,
}

/// Where a promotion stands or how it ended: `refused` before any host
/// changed, `rolled_back` after a change (everything put back and checked),
/// `rollback_failed` when hosts may be on different releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum PromotionState {
    Running,
    Succeeded,
    Refused,
    RolledBack,
    RollbackFailed,
    Failed,
    Interrupted,
}

impl From<nfops_ops::PromotionState> for PromotionState {
    fn from(s: nfops_ops::PromotionState) -> Self {
        use nfops_ops::PromotionState as D;
        match s {
            D::Running => PromotionState::Running,
            D::Succeeded => PromotionState::Succeeded,
            D::Refused => PromotionState::Refused,
            D::RolledBack => PromotionState::RolledBack,
            D::RollbackFailed => PromotionState::RollbackFailed,
            D::Failed => PromotionState::Failed,
            D::Interrupted => PromotionState::Interrupted,
        }
    }
}

/// How a promotion ended.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PromotionResult {
    pub id: String,
    pub state: PromotionState,
    pub summary: String,
    pub gates: Vec<GateView>,
    pub apply: Vec<JobStep>,
    pub rollback: Vec<JobStep>,
    pub final_hosts: Vec<FinalHostView>,
    pub baseline_p95_ms: Option<f64>,
    pub verification: Vec<SampleView>,
    pub rollback_verification: Vec<SampleView>,
    pub error: Option<Failure>,
    pub duration_ms: f64,
}

fn steps(j: Option<nfops_core::jobs::JobReport>) -> Vec<JobStep> {
    j.map(|j| job_steps(j.steps)).unwrap_or_default()
}

fn samples(v: Vec<nfops_promote::VerifySample>) -> Vec<SampleView> {
    v.into_iter()
        .map(|s| SampleView {
            at_secs: s.at_secs,
            release: s.release,
            health_ok: s.health_ok,
            error_ratio: s.metrics.map(|m| m.error_ratio),
            p95_ms: s.metrics.map(|m| m.p95_seconds * 1000.0),
            problem: s.problem,
        })
        .collect()
}

fn gate_views(g: Vec<nfops_promote::GateResult>) -> Vec<GateView> {
    g.into_iter()
        .map(|g| GateView {
            name: g.name,
            passed: g.passed,
            detail: g.detail,
        })
        .collect()
}

fn final_views(f: Vec<nfops_ops::FinalHost>) -> Vec<FinalHostView> {
    f.into_iter()
        .map(|h| FinalHostView {
            host: h.host,
            release: h.release,
            problem: h.problem,
        })
        .collect()
}

impl From<nfops_ops::PromotionOutcome> for PromotionResult {
    fn from(o: nfops_ops::PromotionOutcome) -> Self {
        Self {
            id: o.id,
            state: o.state.into(),
            summary: o.summary,
            gates: gate_views(o.gates),
            apply: steps(o.apply),
            rollback: steps(o.rollback),
            final_hosts: final_views(o.final_hosts),
            baseline_p95_ms: o.record.baseline.map(|b| b.p95_seconds * 1000.0),
            verification: samples(o.record.verification),
            rollback_verification: samples(o.record.rollback_verification),
            error: o.error.map(Into::into),
            duration_ms: o.duration_ms as f64,
        }
    }
}

/// One past promotion.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PromotionHistoryItem {
    pub id: String,
    pub from_env: String,
    pub to_env: String,
    pub release: Option<String>,
    pub previous: Vec<(String, String)>,
    pub state: PromotionState,
    pub summary: Option<String>,
    pub actor: String,
    pub approver: Option<String>,
    pub gates: Vec<GateView>,
    pub final_hosts: Vec<FinalHostView>,
    pub started_at: String,
    pub duration_ms: Option<f64>,
}

impl From<nfops_ops::PromotionRecord> for PromotionHistoryItem {
    fn from(r: nfops_ops::PromotionRecord) -> Self {
        Self {
            id: r.id,
            from_env: r.from_env,
            to_env: r.to_env,
            release: r.release,
            previous: r.previous,
            state: r.state.into(),
            summary: r.summary,
            actor: r.actor,
            approver: r.approver,
            gates: gate_views(r.gates),
            final_hosts: final_views(r.final_hosts),
            started_at: r.started_at,
            duration_ms: r.duration_ms.map(|d| d as f64),
        }
    }
}

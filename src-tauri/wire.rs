//! Wire types: what crosses IPC to the UI. Each converts explicitly from its
//! domain type, so a domain change never silently changes the UI contract.

use serde::Serialize;
use specta::Type;

/// The one error shape the UI sees: branch on `code`, show `message` and `hint`.
#[derive(Debug, Clone, Serialize, Type)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

impl From<nfops_core::Error> for Failure {
    fn from(e: nfops_core::Error) -> Self {
        tracing::debug!(category = "application", code = %e.code(), causes = ?e.causes(), "command failed: {}", e.message());
        Self::from(e.to_wire())
    }
}

impl From<nfops_core::WireError> for Failure {
    fn from(w: nfops_core::WireError) -> Self {
        Self {
            code: w.code,
            message: w.message,
            hint: w.hint,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Local,
    Staging,
    Production,
    Region,
}

impl From<nfops_core::config::Tier> for Tier {
    fn from(t: nfops_core::config::Tier) -> Self {
        use nfops_core::config::Tier as D;
        match t {
            D::Local => Tier::Local,
            D::Staging => Tier::Staging,
            D::Production => Tier::Production,
            D::Region => Tier::Region,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub version: String,
    pub config_path: String,
    pub config_error: Option<Failure>,
    pub state_dir: String,
    pub log_dir: String,
    pub environment_count: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentSummary {
    pub name: String,
    pub label: String,
    pub tier: Tier,
    pub hosts: Vec<String>,
}

impl EnvironmentSummary {
    pub fn new(name: &str, env: &nfops_core::config::Environment) -> Self {
        Self {
            name: name.to_owned(),
            label: env.label.clone().unwrap_or_else(|| name.to_owned()),
            tier: env.tier.into(),
            hosts: env.hosts.iter().map(|h| h.get_ref().name.clone()).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    Backend,
    Release,
    Database,
    Cache,
    Storage,
    Monitoring,
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ProbeState {
    Ok,
    Failed,
    NotConfigured,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    pub kind: ProbeKind,
    pub target: String,
    pub state: ProbeState,
    pub summary: String,
    pub error: Option<Failure>,
    pub latency_ms: u32,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentStatus {
    pub name: String,
    pub label: String,
    pub tier: Tier,
    pub checked_at: String,
    pub probes: Vec<ProbeResult>,
}

impl From<nfops_fleet::probe::EnvironmentStatus> for EnvironmentStatus {
    fn from(s: nfops_fleet::probe::EnvironmentStatus) -> Self {
        use nfops_fleet::probe::{ProbeKind as K, ProbeState as S};
        let probes = s
            .probes
            .into_iter()
            .map(|p| ProbeResult {
                kind: match p.kind {
                    K::Backend => ProbeKind::Backend,
                    K::Release => ProbeKind::Release,
                    K::Database => ProbeKind::Database,
                    K::Cache => ProbeKind::Cache,
                    K::Storage => ProbeKind::Storage,
                    K::Monitoring => ProbeKind::Monitoring,
                },
                target: p.target,
                state: match p.state {
                    S::Ok => ProbeState::Ok,
                    S::Failed => ProbeState::Failed,
                    S::NotConfigured => ProbeState::NotConfigured,
                },
                summary: p.summary,
                error: p.error.map(Failure::from),
                latency_ms: u32::try_from(p.latency_ms).unwrap_or(u32::MAX),
            })
            .collect();
        Self {
            name: s.name,
            label: s.label,
            tier: s.tier.into(),
            checked_at: s.checked_at.to_rfc3339(),
            probes,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum CredentialState {
    Set,
    Missing,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CredentialStatus {
    pub name: String,
    pub state: CredentialState,
    pub changed_at: Option<String>,
    pub used_by: Vec<String>,
}

impl From<nfops_ops::CredentialStatus> for CredentialStatus {
    fn from(c: nfops_ops::CredentialStatus) -> Self {
        Self {
            state: match c.state {
                nfops_ops::CredentialState::Set => CredentialState::Set,
                nfops_ops::CredentialState::Missing => CredentialState::Missing,
            },
            name: c.name,
            changed_at: c.changed_at,
            used_by: c.used_by,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub seq: u32,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub environment: Option<String>,
    pub target: Option<String>,
    pub outcome: String,
    pub hash: String,
}

impl From<nfops_core::audit::Entry> for AuditEntry {
    fn from(e: nfops_core::audit::Entry) -> Self {
        Self {
            seq: u32::try_from(e.seq).unwrap_or(u32::MAX),
            at: e.at,
            actor: e.actor,
            action: e.action,
            environment: e.environment,
            target: e.target,
            outcome: e.outcome,
            hash: e.hash,
        }
    }
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditVerification {
    pub ok: bool,
    pub entries: u32,
    pub problems: Vec<String>,
}

impl From<nfops_core::audit::Verification> for AuditVerification {
    fn from(v: nfops_core::audit::Verification) -> Self {
        Self {
            ok: v.ok(),
            entries: u32::try_from(v.entries).unwrap_or(u32::MAX),
            problems: v.problems,
        }
    }
}

/// A person who can decrypt an environment's secrets.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SecretsRecipient {
    pub name: String,
    pub key: String,
}

impl From<nfops_secrets::Recipient> for SecretsRecipient {
    fn from(r: nfops_secrets::Recipient) -> Self {
        Self {
            name: r.name,
            key: r.key,
        }
    }
}

/// An environment's secrets by name (never values) and its recipients.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SecretsListing {
    pub environment: String,
    pub keys: Vec<String>,
    pub recipients: Vec<SecretsRecipient>,
    pub file: String,
    pub exists: bool,
}

impl From<nfops_ops::SecretsListing> for SecretsListing {
    fn from(l: nfops_ops::SecretsListing) -> Self {
        Self {
            environment: l.environment,
            keys: l.keys,
            recipients: l.recipients.into_iter().map(Into::into).collect(),
            file: l.file,
            exists: l.exists,
        }
    }
}

/// Two environments compared by key; values compared by hash, never shown.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SecretsDiff {
    pub only_in_first: Vec<String>,
    pub only_in_second: Vec<String>,
    pub different: Vec<String>,
    pub same: Vec<String>,
}

impl From<nfops_ops::SecretsDiff> for SecretsDiff {
    fn from(d: nfops_ops::SecretsDiff) -> Self {
        Self {
            only_in_first: d.only_in_first,
            only_in_second: d.only_in_second,
            different: d.different,
            same: d.same,
        }
    }
}

/// Recipients after a change, and (after a removal) every key to rotate at its source.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RecipientChange {
    pub recipients: Vec<SecretsRecipient>,
    pub rotate: Vec<String>,
}

impl From<nfops_ops::RecipientChange> for RecipientChange {
    fn from(c: nfops_ops::RecipientChange) -> Self {
        Self {
            recipients: c.recipients.into_iter().map(Into::into).collect(),
            rotate: c.rotate,
        }
    }
}

/// What a push changes on one host, by key name.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HostPushPlan {
    pub host: String,
    pub path: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub apps: Vec<String>,
}

/// The dry run of a push.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PushPlan {
    pub environment: String,
    pub keys: u32,
    pub hosts: Vec<HostPushPlan>,
}

impl From<nfops_ops::PushPlan> for PushPlan {
    fn from(p: nfops_ops::PushPlan) -> Self {
        Self {
            environment: p.environment,
            keys: u32::try_from(p.keys).unwrap_or(u32::MAX),
            hosts: p
                .hosts
                .into_iter()
                .map(|h| HostPushPlan {
                    host: h.host,
                    path: h.path,
                    added: h.changes.added,
                    removed: h.changes.removed,
                    changed: h.changes.changed,
                    apps: h.apps,
                })
                .collect(),
        }
    }
}

/// How a push ended: the job's state ("noop" when nothing changed) and each step.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PushResult {
    pub plan: PushPlan,
    pub state: String,
    pub job_id: Option<String>,
    pub error: Option<Failure>,
    pub steps: Vec<PushStep>,
}

/// One step of a push job.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PushStep {
    pub name: String,
    pub state: String,
    pub evidence: Option<String>,
}

impl From<nfops_ops::PushOutcome> for PushResult {
    fn from(o: nfops_ops::PushOutcome) -> Self {
        let job = o.job;
        Self {
            plan: o.plan.into(),
            state: job.as_ref().map_or("noop", |j| j.state.as_str()).to_owned(),
            job_id: job.as_ref().map(|j| j.job_id.clone()),
            error: job.as_ref().and_then(|j| j.error.clone()).map(Into::into),
            steps: job
                .map(|j| {
                    j.steps
                        .into_iter()
                        .map(|(name, state, evidence)| PushStep {
                            name,
                            state: state.as_str().to_owned(),
                            evidence,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

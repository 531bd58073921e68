//! Wire types of the Overview: environments and their live probes.

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::failure::Failure;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Local,
    Staging,
    Production,
    Region,
}

impl From<Tier> for nfops_core::config::Tier {
    fn from(t: Tier) -> Self {
        match t {
            Tier::Local => Self::Local,
            Tier::Staging => Self::Staging,
            Tier::Production => Self::Production,
            Tier::Region => Self::Region,
        }
    }
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

impl From<nfops_fleet::probe::ProbeKind> for ProbeKind {
    fn from(k: nfops_fleet::probe::ProbeKind) -> Self {
        use nfops_fleet::probe::ProbeKind as K;
        match k {
            K::Backend => ProbeKind::Backend,
            K::Release => ProbeKind::Release,
            K::Database => ProbeKind::Database,
            K::Cache => ProbeKind::Cache,
            K::Storage => ProbeKind::Storage,
            K::Monitoring => ProbeKind::Monitoring,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ProbeState {
    Ok,
    Failed,
    NotConfigured,
}

impl From<nfops_fleet::probe::ProbeState> for ProbeState {
    fn from(s: nfops_fleet::probe::ProbeState) -> Self {
        use nfops_fleet::probe::ProbeState as S;
        match s {
            S::Ok => ProbeState::Ok,
            S::Failed => ProbeState::Failed,
            S::NotConfigured => ProbeState::NotConfigured,
        }
    }
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
        let probes = s
            .probes
            .into_iter()
            .map(|p| ProbeResult {
                kind: p.kind.into(),
                target: p.target,
                state: p.state.into(),
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

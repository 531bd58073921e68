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
    /// RFC 3339: since when the answer holds (a release: when it was switched to).
    pub since: Option<String>,
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
                since: p.since.map(|t| t.to_rfc3339()),
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

/// The newest good backup of an environment.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BackupFact {
    pub id: String,
    pub age_hours: Option<f64>,
    pub verified: Option<bool>,
    /// `copied`, `failed`, or null (no offsite copy).
    pub offsite: Option<String>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DrillFact {
    pub started_at: String,
    pub ok: bool,
    /// The measured recovery time.
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PromotionFact {
    pub release: Option<String>,
    pub state: String,
    pub started_at: String,
    pub actor: String,
}

/// One audit entry of the last day.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
}

/// What an operator checks first about an environment (the Overview's cockpit).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Cockpit {
    pub environment: String,
    pub backup: Option<BackupFact>,
    /// The backup destination could not be read.
    pub backup_error: Option<Failure>,
    pub drill: Option<DrillFact>,
    pub promotion: Option<PromotionFact>,
    /// Percent of good uptime checks in the last 24 h; null without checks.
    pub uptime_24h: Option<f64>,
    /// The audit log's entries for it in the last 24 h, newest first.
    pub changes: Vec<Change>,
}

impl From<nfops_ops::Cockpit> for Cockpit {
    fn from(c: nfops_ops::Cockpit) -> Self {
        Self {
            environment: c.environment,
            backup: c.backup.map(|b| BackupFact {
                id: b.id,
                age_hours: b.age_hours,
                verified: b.verified,
                offsite: b.offsite,
            }),
            backup_error: c.backup_error.map(Failure::from),
            drill: c.drill.map(|d| DrillFact {
                started_at: d.started_at,
                ok: d.ok,
                seconds: d.seconds,
            }),
            promotion: c.promotion.map(|p| PromotionFact {
                release: p.release,
                state: p.state,
                started_at: p.started_at,
                actor: p.actor,
            }),
            uptime_24h: c.uptime_24h,
            changes: c
                .changes
                .into_iter()
                .map(|x| Change {
                    at: x.at,
                    actor: x.actor,
                    action: x.action,
                    target: x.target,
                    outcome: x.outcome,
                })
                .collect(),
        }
    }
}

/// One sparkline of an environment's last hour.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Spark {
    /// `requests`, `errors`, `p95`, `cpu`.
    pub id: String,
    pub title: String,
    /// The newest value, for people (`12.4/s`, `0.0 %`, `85 ms`); null without data.
    pub latest: Option<String>,
    /// The drawing (an `<svg>` from plotters); null when the query failed.
    pub svg: Option<String>,
    pub error: Option<Failure>,
    /// The PromQL behind it, for the tooltip.
    pub query: String,
}

/// An alert Prometheus has open for the environment.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OpenAlert {
    pub name: String,
    /// `firing` or `pending`.
    pub state: String,
    pub severity: Option<String>,
    /// `host=stg-app-1`, … (its other labels).
    pub labels: Vec<String>,
    pub summary: Option<String>,
    pub active_at: Option<String>,
}

/// An environment's last hour at a glance, and its open alerts.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Pulse {
    pub environment: String,
    /// False: the environment has no [monitoring]; nothing else is set.
    pub monitored: bool,
    pub sparks: Vec<Spark>,
    pub alerts: Vec<OpenAlert>,
    /// The alert list could not be read.
    pub alerts_error: Option<Failure>,
}

impl Pulse {
    pub fn new(environment: String, pulse: Option<nfops_metrics::pulse::Pulse>) -> Self {
        let Some(p) = pulse else {
            return Self {
                environment,
                monitored: false,
                sparks: Vec::new(),
                alerts: Vec::new(),
                alerts_error: None,
            };
        };
        let sparks = p
            .sparks
            .into_iter()
            .map(|s| {
                let (latest, svg, error) = match s.result {
                    Ok(d) => (d.latest.map(|v| s.spec.unit.format(v)), Some(d.svg), None),
                    Err(e) => (None, None, Some(Failure::from(e))),
                };
                Spark {
                    id: s.spec.id.to_owned(),
                    title: s.spec.title.to_owned(),
                    latest,
                    svg,
                    error,
                    query: s.query,
                }
            })
            .collect();
        let (alerts, alerts_error) = match p.alerts {
            Ok(list) => (
                list.into_iter()
                    .map(|a| OpenAlert {
                        name: a.name,
                        state: a.state,
                        severity: a.severity,
                        labels: a
                            .labels
                            .into_iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect(),
                        summary: a.summary,
                        active_at: a.active_at,
                    })
                    .collect(),
                None,
            ),
            Err(e) => (Vec::new(), Some(Failure::from(e))),
        };
        Self {
            environment,
            monitored: true,
            sparks,
            alerts,
            alerts_error,
        }
    }
}

/// One provider's mode on one host (`[providers.*]`); never a value.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ProviderModeView {
    pub provider: String,
    pub label: String,
    /// `mock`, `test`, `live` or `unknown`.
    pub mode: String,
    /// The rule that matched, or which keys were looked at.
    pub evidence: String,
}

/// The providers' modes on one host, or why its `.env` could not be read.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HostModesView {
    pub host: String,
    pub modes: Vec<ProviderModeView>,
    pub error: Option<String>,
}

impl From<&nfops_promote::providers::HostModes> for HostModesView {
    fn from(h: &nfops_promote::providers::HostModes) -> Self {
        Self {
            host: h.host.clone(),
            modes: h
                .modes
                .iter()
                .map(|m| ProviderModeView {
                    provider: m.provider.clone(),
                    label: m.label.clone(),
                    mode: m.mode.as_str().to_owned(),
                    evidence: m.evidence.clone(),
                })
                .collect(),
            error: h.error.clone(),
        }
    }
}

/// An environment's provider modes, and what its tier refuses.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EnvProviderModesView {
    pub environment: String,
    /// Whether its tier (production, region) needs every provider live.
    pub live_required: bool,
    pub hosts: Vec<HostModesView>,
    pub refusals: Vec<String>,
}

impl From<nfops_ops::EnvProviderModes> for EnvProviderModesView {
    fn from(e: nfops_ops::EnvProviderModes) -> Self {
        Self {
            live_required: nfops_promote::providers::live_required(e.tier),
            hosts: e.hosts.iter().map(Into::into).collect(),
            environment: e.environment,
            refusals: e.refusals,
        }
    }
}

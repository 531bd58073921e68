//! Wire types of the Audit page (also the Secrets page's history).

use serde::Serialize;
use specta::Type;

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

//! Wire types of the Credentials page: names and states, never values.

use serde::Serialize;
use specta::Type;

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum CredentialState {
    Set,
    Missing,
    /// The `ssh-agent` row: agent-authenticated hosts, nothing in the keyring.
    Agent,
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
                nfops_ops::CredentialState::Agent => CredentialState::Agent,
            },
            name: c.name,
            changed_at: c.changed_at,
            used_by: c.used_by,
        }
    }
}

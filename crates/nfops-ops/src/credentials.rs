//! Credentials: which are needed, which are set, and changing them.
//!
//! Values go into the keyring and nowhere else; the console only ever reports
//! "set / missing / changed at". Every change is audited by name.

use nfops_core::audit::{Action, Outcome};
use nfops_core::{Error, ErrorCode, Result, SecretString};
use serde::Serialize;

use crate::Console;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialState {
    Set,
    Missing,
    /// Not a keyring entry: the SSH identity of the listed environments'
    /// `ssh_auth = "agent"` hosts comes from the operator's running agent.
    Agent,
}

/// The name of the one listing row that stands for every agent host.
const AGENT_ROW: &str = "ssh-agent";

/// A credential's status; never its value.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialStatus {
    pub name: String,
    pub state: CredentialState,
    pub changed_at: Option<String>,
    /// Environments whose config refers to it.
    pub used_by: Vec<String>,
}

impl Console {
    /// Every credential the config names, plus any whose change the console
    /// recorded, with its state in the keyring; last, one `ssh-agent` row
    /// (state `Agent`) naming the environments with agent-authenticated
    /// hosts, which need no keyring key.
    pub async fn credentials(&self) -> Result<Vec<CredentialStatus>> {
        let config = self.config()?;
        let mut names = config.credential_names();
        names.extend(self.state().recorded_credential_names().await?);
        names.sort();
        names.dedup();
        let keyring = self.keyring().clone();
        let lookups = names.clone();
        let present = tokio::task::spawn_blocking(move || {
            lookups
                .iter()
                .map(|n| keyring.exists(n))
                .collect::<Result<Vec<bool>>>()
        })
        .await
        .map_err(|e| Error::internal(format!("keyring lookup task failed: {e}")))??;
        let mut out = Vec::with_capacity(names.len());
        for (name, set) in names.into_iter().zip(present) {
            let used_by = config
                .environments()
                .filter(|(_, env)| env_uses(env, &name))
                .map(|(n, _)| n.to_owned())
                .collect();
            out.push(CredentialStatus {
                changed_at: self.state().credential_changed_at(&name).await?,
                state: if set {
                    CredentialState::Set
                } else {
                    CredentialState::Missing
                },
                used_by,
                name,
            });
        }
        let agent_users: Vec<String> = config
            .environments()
            .filter(|(_, env)| {
                env.hosts
                    .iter()
                    .any(|h| h.get_ref().key_credential().is_none())
            })
            .map(|(n, _)| n.to_owned())
            .collect();
        if !agent_users.is_empty() {
            out.push(CredentialStatus {
                name: AGENT_ROW.to_owned(),
                state: CredentialState::Agent,
                changed_at: None,
                used_by: agent_users,
            });
        }
        Ok(out)
    }

    /// Stores or replaces credential `name` in the keyring (read back to check).
    pub async fn set_credential(&self, name: &str, value: SecretString) -> Result<()> {
        // A stored identity is replaced only through its import (confirmed
        // for production and region, checked as an age key); the audit key
        // is never set by hand. Setting the identity it already holds
        // replaces nothing (`make run` loads the stack's credentials again).
        let replaces_identity = name == nfops_secrets::IDENTITY_CREDENTIAL
            && self.identity_stored().await?
            && !self.identity_is(&value).await?;
        if replaces_identity || name == nfops_vault::AUDIT_KEY_NAME {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("credential '{name}' cannot be replaced here"),
            )
            .hint("Replace the age identity with `nfops secrets identity import --confirm NAME` (or the Secrets page)."));
        }
        if value.expose().is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("the value for credential '{name}' is empty"),
            )
            .hint("Paste or type the secret value."));
        }
        let keyring = self.keyring().clone();
        let n = name.to_owned();
        let result = tokio::task::spawn_blocking(move || keyring.set(&n, &value))
            .await
            .map_err(|e| Error::internal(format!("keyring task failed: {e}")))?;
        self.audit_credential("credential.set", name, &result)
            .await?;
        result?;
        self.state().credential_changed(name).await
    }

    /// Removes credential `name` from the keyring. Deleting (or, through
    /// `set`, replacing) the age identity while production or region
    /// environments exist needs `confirm` = one of their names.
    pub async fn delete_credential(&self, name: &str, confirm: Option<&str>) -> Result<()> {
        if name == nfops_secrets::IDENTITY_CREDENTIAL {
            self.require_identity_confirmation("credential.delete", confirm)
                .await?;
        }
        if name == nfops_vault::AUDIT_KEY_NAME {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                "the audit chain key cannot be deleted through the console",
            )
            .hint("Without it the audit log's keyed entries can no longer be verified."));
        }
        let keyring = self.keyring().clone();
        let n = name.to_owned();
        let result = tokio::task::spawn_blocking(move || keyring.delete(&n))
            .await
            .map_err(|e| Error::internal(format!("keyring task failed: {e}")))?;
        self.audit_credential("credential.delete", name, &result)
            .await?;
        result?;
        self.state().credential_removed(name).await
    }

    async fn audit_credential(&self, action: &str, name: &str, result: &Result<()>) -> Result<()> {
        let (outcome, details) = match result {
            Ok(()) => (Outcome::Succeeded, serde_json::json!({ "name": name })),
            Err(e) => (
                Outcome::Failed,
                serde_json::json!({ "name": name, "error": e.code().as_str() }),
            ),
        };
        self.audit()
            .record(Action {
                action,
                environment: None,
                target: Some(name),
                outcome,
                details,
            })
            .await?;
        Ok(())
    }
}

fn env_uses(env: &nfops_core::config::Environment, name: &str) -> bool {
    env.hosts
        .iter()
        .any(|h| h.get_ref().key_credential() == Some(name))
        || env
            .database
            .as_ref()
            .is_some_and(|d| d.password_credential == name)
        || env
            .storage
            .as_ref()
            .is_some_and(|s| s.access_key_credential == name || s.secret_key_credential == name)
        || env
            .cache
            .as_ref()
            .and_then(|c| c.password_credential.as_deref())
            == Some(name)
        || env
            .frontend
            .as_ref()
            .is_some_and(|f| f.token_credential == name)
}

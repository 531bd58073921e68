//! The form of one environment as the setup flow and Settings fill it,
//! and the checks a draft passes before any TOML is touched.

use serde::{Deserialize, Serialize};

use crate::config::{SshAuth, Tier};
use crate::error::{Error, ErrorCode, Result};

/// One environment as the setup forms fill it: what a user types. Secrets
/// are never here, only the names of the keyring credentials holding them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentDraft {
    pub name: String,
    pub tier: Option<Tier>,
    pub label: Option<String>,
    pub health_url: Option<String>,
    #[serde(default)]
    pub hosts: Vec<HostDraft>,
    pub database: Option<DatabaseDraft>,
    pub storage: Option<StorageDraft>,
    pub cache: Option<CacheDraft>,
    pub monitoring: Option<MonitoringDraft>,
}

/// A host reached over SSH (`[[environments.<name>.hosts]]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostDraft {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    /// `key` (the keyring credential below) or `agent`.
    pub ssh_auth: Option<SshAuth>,
    pub ssh_key_credential: Option<String>,
    /// The `SHA256:` fingerprint the operator confirmed.
    pub host_key: Option<String>,
    pub app_dir: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `[environments.<name>.database]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseDraft {
    pub host: String,
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password_credential: String,
    pub via: Option<String>,
}

/// `[environments.<name>.storage]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageDraft {
    pub endpoint: String,
    pub region: Option<String>,
    pub path_style: bool,
    pub buckets: Vec<String>,
    pub access_key_credential: String,
    pub secret_key_credential: String,
}

/// `[environments.<name>.cache]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheDraft {
    pub host: String,
    pub port: u16,
    pub db: Option<u16>,
    pub key_prefix: Option<String>,
    pub password_credential: Option<String>,
    pub via: Option<String>,
}

/// `[environments.<name>.monitoring]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringDraft {
    pub prometheus_url: String,
    pub selector: Option<String>,
}

impl EnvironmentDraft {
    /// The draft of environment `name` as loaded, for editing it in a form
    /// (keys the forms do not manage stay in the file, untouched).
    pub fn of(name: &str, env: &crate::config::Environment) -> Self {
        Self {
            name: name.to_owned(),
            tier: Some(env.tier),
            label: env.label.clone(),
            health_url: env.health_url.as_ref().map(|u| u.get_ref().clone()),
            hosts: env
                .hosts
                .iter()
                .map(|h| {
                    let h = h.get_ref();
                    HostDraft {
                        name: h.name.clone(),
                        address: h.address.clone(),
                        port: h.port,
                        user: h.user.clone(),
                        ssh_auth: h.ssh_auth,
                        ssh_key_credential: h.ssh_key_credential.clone(),
                        host_key: h.host_key.clone(),
                        app_dir: h.app_dir.clone(),
                        roles: h.roles.clone(),
                    }
                })
                .collect(),
            database: env.database.as_ref().map(|d| DatabaseDraft {
                host: d.host.clone(),
                port: d.port,
                name: d.name.clone(),
                user: d.user.clone(),
                password_credential: d.password_credential.clone(),
                via: d.via.as_ref().map(|v| v.get_ref().clone()),
            }),
            storage: env.storage.as_ref().map(|s| StorageDraft {
                endpoint: s.endpoint.clone(),
                region: Some(s.region.clone()),
                path_style: s.path_style,
                buckets: s.buckets.get_ref().clone(),
                access_key_credential: s.access_key_credential.clone(),
                secret_key_credential: s.secret_key_credential.clone(),
            }),
            cache: env.cache.as_ref().map(|c| CacheDraft {
                host: c.host.clone(),
                port: c.port,
                db: Some(c.db),
                key_prefix: c.key_prefix.clone(),
                password_credential: c.password_credential.clone(),
                via: c.via.as_ref().map(|v| v.get_ref().clone()),
            }),
            monitoring: env.monitoring.as_ref().map(|m| MonitoringDraft {
                prometheus_url: m.prometheus_url.clone(),
                selector: m.selector.clone(),
            }),
        }
    }
}

/// The draft's own mistakes, before any TOML is touched.
pub(super) fn check_draft(d: &EnvironmentDraft) -> Result<()> {
    let bad = |what: &str, hint: &str| {
        Err(Error::new(ErrorCode::InvalidInput, what.to_owned()).hint(hint.to_owned()))
    };
    if d.name.is_empty()
        || !d
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return bad(
            &format!("environment name '{}' is not allowed", d.name),
            "Use letters, digits, '-' and '_' only, e.g. staging.",
        );
    }
    for h in &d.hosts {
        for (field, v) in [
            ("name", &h.name),
            ("address", &h.address),
            ("user", &h.user),
            ("app_dir", &h.app_dir),
        ] {
            if v.trim().is_empty() {
                return bad(
                    &format!(
                        "host {} of '{}' has no {field}",
                        if h.name.is_empty() {
                            "(unnamed)"
                        } else {
                            &h.name
                        },
                        d.name
                    ),
                    "Fill it in, or remove the host.",
                );
            }
        }
        if h.port == 0 {
            return bad(
                &format!("host '{}' has port 0", h.name),
                "SSH listens on 22 unless the host says otherwise.",
            );
        }
        if h.ssh_auth != Some(SshAuth::Agent)
            && h.ssh_key_credential
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
        {
            return bad(
                &format!(
                    "host '{}' logs in with a key but names no key credential",
                    h.name
                ),
                "Name the keyring credential holding its private key, or log in with the agent.",
            );
        }
    }
    Ok(())
}

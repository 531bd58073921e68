//! Wire types of the first-run setup and Settings → Environments: the form
//! of one environment (what the operator types; credential *names* only),
//! a scanned host key, and the preview of a save.

use nfops_core::config::edit as core;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::overview::dto::Tier;

/// How a host is logged in to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "lowercase")]
pub enum SshAuth {
    Key,
    Agent,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentDraft {
    pub name: String,
    pub tier: Tier,
    pub label: Option<String>,
    pub health_url: Option<String>,
    pub hosts: Vec<HostDraft>,
    pub database: Option<DatabaseDraft>,
    pub storage: Option<StorageDraft>,
    pub cache: Option<CacheDraft>,
    pub monitoring: Option<MonitoringDraft>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HostDraft {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub ssh_auth: SshAuth,
    pub ssh_key_credential: Option<String>,
    /// The `SHA256:` fingerprint the operator confirmed.
    pub host_key: Option<String>,
    pub app_dir: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseDraft {
    pub host: String,
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password_credential: String,
    pub via: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StorageDraft {
    pub endpoint: String,
    pub region: Option<String>,
    pub path_style: bool,
    pub buckets: Vec<String>,
    pub access_key_credential: String,
    pub secret_key_credential: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CacheDraft {
    pub host: String,
    pub port: u16,
    pub db: Option<u16>,
    pub key_prefix: Option<String>,
    pub password_credential: Option<String>,
    pub via: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringDraft {
    pub prometheus_url: String,
    pub selector: Option<String>,
}

/// A server's SSH host key, for the operator to compare with the host's own.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ScannedHostKey {
    pub fingerprint: String,
    pub algorithm: String,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DiffLine {
    /// `" "` unchanged, `"+"` added, `"-"` removed.
    pub op: String,
    pub text: String,
}

/// What a save would change; nothing is written before the operator saves.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConfigPreview {
    pub path: String,
    pub exists: bool,
    pub diff: Vec<DiffLine>,
    /// Why the result would not load (the save would be refused).
    pub invalid: Option<String>,
    /// The previewed file's digest; the save refuses if the file changed since.
    pub base: String,
}

impl From<nfops_fleet::ScannedKey> for ScannedHostKey {
    fn from(k: nfops_fleet::ScannedKey) -> Self {
        Self {
            fingerprint: k.fingerprint,
            algorithm: k.algorithm,
        }
    }
}

impl From<nfops_ops::ConfigPreview> for ConfigPreview {
    fn from(p: nfops_ops::ConfigPreview) -> Self {
        Self {
            path: p.path,
            exists: p.exists,
            diff: p
                .diff
                .into_iter()
                .map(|l| DiffLine {
                    op: l.op,
                    text: l.text,
                })
                .collect(),
            invalid: p.invalid,
            base: p.base,
        }
    }
}

impl From<SshAuth> for nfops_core::config::SshAuth {
    fn from(a: SshAuth) -> Self {
        match a {
            SshAuth::Key => Self::Key,
            SshAuth::Agent => Self::Agent,
        }
    }
}

impl From<nfops_core::config::SshAuth> for SshAuth {
    fn from(a: nfops_core::config::SshAuth) -> Self {
        match a {
            nfops_core::config::SshAuth::Key => Self::Key,
            nfops_core::config::SshAuth::Agent => Self::Agent,
        }
    }
}

impl From<EnvironmentDraft> for core::EnvironmentDraft {
    fn from(d: EnvironmentDraft) -> Self {
        Self {
            name: d.name,
            tier: Some(d.tier.into()),
            label: d.label,
            health_url: d.health_url,
            hosts: d
                .hosts
                .into_iter()
                .map(|h| core::HostDraft {
                    name: h.name,
                    address: h.address,
                    port: h.port,
                    user: h.user,
                    ssh_auth: Some(h.ssh_auth.into()),
                    ssh_key_credential: h.ssh_key_credential,
                    host_key: h.host_key,
                    app_dir: h.app_dir,
                    roles: h.roles,
                })
                .collect(),
            database: d.database.map(|x| core::DatabaseDraft {
                host: x.host,
                port: x.port,
                name: x.name,
                user: x.user,
                password_credential: x.password_credential,
                via: x.via,
            }),
            storage: d.storage.map(|x| core::StorageDraft {
                endpoint: x.endpoint,
                region: x.region,
                path_style: x.path_style,
                buckets: x.buckets,
                access_key_credential: x.access_key_credential,
                secret_key_credential: x.secret_key_credential,
            }),
            cache: d.cache.map(|x| core::CacheDraft {
                host: x.host,
                port: x.port,
                db: x.db,
                key_prefix: x.key_prefix,
                password_credential: x.password_credential,
                via: x.via,
            }),
            monitoring: d.monitoring.map(|x| core::MonitoringDraft {
                prometheus_url: x.prometheus_url,
                selector: x.selector,
            }),
        }
    }
}

impl From<core::EnvironmentDraft> for EnvironmentDraft {
    fn from(d: core::EnvironmentDraft) -> Self {
        Self {
            name: d.name,
            tier: d.tier.unwrap_or(nfops_core::config::Tier::Staging).into(),
            label: d.label,
            health_url: d.health_url,
            hosts: d
                .hosts
                .into_iter()
                .map(|h| HostDraft {
                    name: h.name,
                    address: h.address,
                    port: h.port,
                    user: h.user,
                    ssh_auth: h
                        .ssh_auth
                        .unwrap_or(nfops_core::config::SshAuth::Key)
                        .into(),
                    ssh_key_credential: h.ssh_key_credential,
                    host_key: h.host_key,
                    app_dir: h.app_dir,
                    roles: h.roles,
                })
                .collect(),
            database: d.database.map(|x| DatabaseDraft {
                host: x.host,
                port: x.port,
                name: x.name,
                user: x.user,
                password_credential: x.password_credential,
                via: x.via,
            }),
            storage: d.storage.map(|x| StorageDraft {
                endpoint: x.endpoint,
                region: x.region,
                path_style: x.path_style,
                buckets: x.buckets,
                access_key_credential: x.access_key_credential,
                secret_key_credential: x.secret_key_credential,
            }),
            cache: d.cache.map(|x| CacheDraft {
                host: x.host,
                port: x.port,
                db: x.db,
                key_prefix: x.key_prefix,
                password_credential: x.password_credential,
                via: x.via,
            }),
            monitoring: d.monitoring.map(|x| MonitoringDraft {
                prometheus_url: x.prometheus_url,
                selector: x.selector,
            }),
        }
    }
}

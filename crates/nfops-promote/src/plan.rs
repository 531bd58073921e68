//! The promotion plan: everything the operator reads before the button is
//! armed. Built from what the hosts say now, never from a cache.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use nfops_core::config::{Environment, Host};
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::{shell_quote, SshSession};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::release::{app_dir, current_release, verify_release, Release};

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

/// A non-secret setting that differs between the environments.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingDiff {
    pub key: String,
    pub from: Option<String>,
    pub to: Option<String>,
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

/// Words in a key name that mark it as a secret.
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "CREDENTIAL",
    "PRIVATE",
    "DSN",
    "AUTH",
];

/// Whether an `.env` key holds a secret (by name; the value is never looked at).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// `KEY=value` lines of an `.env` (comments and blanks skipped, quotes stripped).
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

fn hash(v: &str) -> [u8; 32] {
    Sha256::digest(v.as_bytes()).into()
}

/// Whether a value carries credentials by its shape: a URL with a
/// `user:password@` part (`mysql://app:pw@db/…`), whatever its key is called.
fn has_userinfo(value: &str) -> bool {
    value.split_once("://").is_some_and(|(_, rest)| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        authority.contains('@')
    })
}

/// Non-secret settings that differ, and secret parity by hash.
pub fn compare_env(
    from: &BTreeMap<String, String>,
    to: &BTreeMap<String, String>,
) -> (Vec<SettingDiff>, SecretParity) {
    let mut diff = Vec::new();
    let mut parity = SecretParity::default();
    let keys: std::collections::BTreeSet<&String> = from.keys().chain(to.keys()).collect();
    for k in keys {
        let (a, b) = (from.get(k), to.get(k));
        let secret = is_secret_key(k)
            || a.is_some_and(|v| has_userinfo(v))
            || b.is_some_and(|v| has_userinfo(v));
        if secret {
            match (a, b) {
                (Some(_), None) => parity.missing_on_target.push(k.clone()),
                (None, Some(_)) => parity.only_on_target.push(k.clone()),
                (Some(a), Some(b)) if hash(a) == hash(b) => parity.same_value.push(k.clone()),
                (Some(_), Some(_)) => parity.different_value.push(k.clone()),
                (None, None) => {}
            }
        } else if a != b {
            diff.push(SettingDiff {
                key: k.clone(),
                from: a.cloned(),
                to: b.cloned(),
            });
        }
    }
    (diff, parity)
}

/// Hosts of `env` that run the backend, in config order.
pub fn backend_hosts(env: &Environment) -> Vec<Host> {
    env.hosts
        .iter()
        .map(|h| h.get_ref().clone())
        .filter(|h| h.roles.is_empty() || h.roles.iter().any(|r| r == "backend"))
        .collect()
}

async fn read_env_file(session: &SshSession, host: &Host) -> Result<BTreeMap<String, String>> {
    let path = shell_quote(&format!("{}/shared/.env", app_dir(host)));
    let out = session
        .exec_checked(
            &format!("if [ -e {path} ]; then cat -- {path}; fi"),
            Duration::from_secs(30),
        )
        .await?;
    Ok(parse_env(&out.stdout))
}

/// Reads both environments over SSH and writes the plan. Never changes
/// anything. Problems that forbid the promotion become `blockers` (a
/// damaged artifact, unreadable hosts, staging hosts on different releases);
/// errors are returned only when nothing useful can be said.
///
/// Errors: `input.invalid` when an environment has no backend host.
#[allow(clippy::too_many_arguments)]
pub async fn survey(
    from_name: &str,
    from: &Environment,
    to_name: &str,
    to: &Environment,
    creds: &dyn CredentialSource,
    known_hosts: &Path,
    options: &PromotionOptions,
    gates: Vec<GateSpec>,
) -> Result<PromotionPlan> {
    let (src_hosts, dst_hosts) = (backend_hosts(from), backend_hosts(to));
    if src_hosts.is_empty() || dst_hosts.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "'{from_name}' and '{to_name}' both need backend hosts to promote between them"
            ),
        )
        .hint(
            "Add [[environments.<env>.hosts]] with roles = [\"backend\"] to environments.toml.",
        ));
    }
    let mut blockers = Vec::new();
    let mut source_hosts = Vec::new();
    let mut release: Option<Release> = None;
    let mut source_host = None;
    let mut from_env_file = BTreeMap::new();
    for (i, h) in src_hosts.iter().enumerate() {
        let session = match SshSession::connect(h, creds, known_hosts).await {
            Ok(s) => s,
            Err(e) => {
                blockers.push(format!("{from_name} host {}: {}", h.name, e.message()));
                continue;
            }
        };
        match current_release(&session, h).await {
            Ok(r) => {
                source_hosts.push(HostChange {
                    host: h.name.clone(),
                    from: Some(r.id.clone()),
                    to: r.id.clone(),
                    artifact_present: true,
                });
                if i == 0 {
                    match verify_release(&session, h, &r.id).await {
                        Ok(v) => {
                            release = Some(v);
                            source_host = Some(h.name.clone());
                        }
                        Err(e) => blockers.push(e.message().to_owned()),
                    }
                    match read_env_file(&session, h).await {
                        Ok(m) => from_env_file = m,
                        Err(e) => blockers.push(e.message().to_owned()),
                    }
                } else if let Some(first) = source_hosts.first() {
                    if first.from.as_deref() != Some(r.id.as_str()) {
                        blockers.push(format!(
                            "{from_name} hosts run different releases ({} on {}, {} on {}); promote from a consistent environment",
                            first.from.as_deref().unwrap_or("?"), first.host, r.id, h.name
                        ));
                    }
                }
            }
            Err(e) => blockers.push(e.message().to_owned()),
        }
        session.disconnect().await;
    }

    let mut hosts = Vec::new();
    let mut to_env_file = BTreeMap::new();
    let mut target_migrations: Option<Vec<String>> = None;
    for (i, h) in dst_hosts.iter().enumerate() {
        let to_id = release.as_ref().map(|r| r.id.clone()).unwrap_or_default();
        let session = match SshSession::connect(h, creds, known_hosts).await {
            Ok(s) => s,
            Err(e) => {
                blockers.push(format!("{to_name} host {}: {}", h.name, e.message()));
                hosts.push(HostChange {
                    host: h.name.clone(),
                    from: None,
                    to: to_id,
                    artifact_present: false,
                });
                continue;
            }
        };
        let current = current_release(&session, h).await;
        let present = match &release {
            Some(r) => crate::release::release_on_host(&session, h, &r.id)
                .await
                .is_ok_and(|p| p.digest == r.digest),
            None => false,
        };
        if i == 0 {
            match read_env_file(&session, h).await {
                Ok(m) => to_env_file = m,
                Err(e) => blockers.push(e.message().to_owned()),
            }
        }
        session.disconnect().await;
        match current {
            Ok(c) => {
                if target_migrations.is_none() {
                    target_migrations = Some(c.migrations.clone());
                }
                hosts.push(HostChange {
                    host: h.name.clone(),
                    from: Some(c.id),
                    to: to_id,
                    artifact_present: present,
                });
            }
            Err(e) => {
                blockers.push(e.message().to_owned());
                hosts.push(HostChange {
                    host: h.name.clone(),
                    from: None,
                    to: to_id,
                    artifact_present: present,
                });
            }
        }
    }
    let (config_diff, secret_parity) = compare_env(&from_env_file, &to_env_file);
    if !secret_parity.missing_on_target.is_empty() {
        blockers.push(format!(
            "{to_name} lacks secret keys that {from_name} has: {} (set them with `nfops secrets set` and push first)",
            secret_parity.missing_on_target.join(", ")
        ));
    }
    let pending_migrations: Vec<String> = match (&release, &target_migrations) {
        (Some(r), Some(have)) => r
            .migrations
            .iter()
            .filter(|m| !have.contains(m))
            .cloned()
            .collect(),
        (Some(r), None) => r.migrations.clone(),
        _ => Vec::new(),
    };
    let noop = release.as_ref().is_some_and(|r| {
        hosts
            .iter()
            .all(|h| h.from.as_deref() == Some(r.id.as_str()) && h.artifact_present)
    });
    if noop {
        blockers.push(format!(
            "every {to_name} host already runs {}; nothing to promote",
            release.as_ref().map(|r| r.id.as_str()).unwrap_or("?")
        ));
    }

    let rid = release
        .as_ref()
        .map(|r| r.id.clone())
        .unwrap_or_else(|| "?".into());
    let mut rollback_automatic = vec![format!(
        "the `current` symlink of every {to_name} host already switched, back to its previous release ({}), then `pm2 reload` and a health check",
        hosts
            .iter()
            .map(|h| format!("{} → {}", h.host, h.from.as_deref().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    let mut rollback_manual = vec![
        "configuration and secrets (.env): a promotion does not change them, so there is nothing to put back".to_owned(),
        "the pre-promotion backup is kept; it is never restored automatically".to_owned(),
    ];
    if !pending_migrations.is_empty() {
        rollback_manual.insert(
            0,
            format!(
                "database migrations {} run when {rid} starts on the first host and stay applied after a rollback (the platform's migrations are expand-only, so the old release keeps working on them)",
                pending_migrations.join(", ")
            ),
        );
    }
    let frontend = to.frontend.as_ref().map(|f| FrontendPlan {
        provider: format!("{:?}", f.provider).to_lowercase(),
        project: f.project.clone(),
        from_deploy: None,
        to_deploy: None,
    });
    if frontend.is_some() {
        rollback_automatic.push("the frontend deploy, back to the one live before".to_owned());
    }
    let copies = hosts.iter().filter(|h| !h.artifact_present).count() as u64;
    let expected_secs = 10 + copies * 5 + hosts.len() as u64 * 15 + options.verify_secs;
    Ok(PromotionPlan {
        from_env: from_name.to_owned(),
        to_env: to_name.to_owned(),
        release,
        source_host,
        source_hosts,
        hosts,
        frontend,
        config_diff,
        secret_parity,
        pending_migrations,
        gates,
        expected_secs,
        rollback_automatic,
        rollback_manual,
        blockers,
        noop,
        options: options.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_compare_settings_by_value_and_secrets_by_hash() {
        let a = parse_env(
            "# c\nNF_ENV=staging\nDB_PASSWORD=\"s1\"\nAPI_TOKEN=t\nONLY_A=1\nS3_ACCESS_KEY_ID=k\nDATABASE_URL=mysql://app:s3cr3t@db/x\n",
        );
        let b = parse_env("NF_ENV=production\nDB_PASSWORD=s2\nAPI_TOKEN=t\nREDIS_PASSWORD=r\nDATABASE_URL=mysql://app:other@db/x\n");
        let (diff, parity) = compare_env(&a, &b);
        let keys: Vec<&str> = diff.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            vec!["NF_ENV", "ONLY_A"],
            "only non-secret keys show values"
        );
        assert_eq!(parity.missing_on_target, vec!["S3_ACCESS_KEY_ID"]);
        assert_eq!(parity.only_on_target, vec!["REDIS_PASSWORD"]);
        assert_eq!(parity.same_value, vec!["API_TOKEN"]);
        assert_eq!(
            parity.different_value,
            vec!["DATABASE_URL", "DB_PASSWORD"],
            "a URL with user:password@ is a secret whatever its key"
        );
        let json = serde_json::to_string(&(diff, parity)).expect("json");
        assert!(
            !json.contains("s1") && !json.contains("s2") && !json.contains("s3cr3t"),
            "secret values never leave: {json}"
        );
    }
}

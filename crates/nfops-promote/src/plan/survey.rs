//! The survey: both environments read over SSH, the plan written from what
//! the hosts say now. Never changes anything.

use std::collections::BTreeMap;
use std::path::Path;

use nfops_core::config::providers::Provider;
use nfops_core::config::{Environment, Host};
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::SshSession;

use super::env_file::{compare_env, read_env_file};
use super::{
    backend_hosts, FrontendPlan, GateSpec, HostChange, PromotionOptions, PromotionPlan,
    ProviderModes,
};
use crate::providers::{refusals, HostModes};
use crate::release::{current_release, verify_release, Release};

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
    providers: &[(String, Provider)],
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
    let Source {
        hosts: source_hosts,
        release,
        host: source_host,
        env_file: from_env_file,
    } = read_source(from_name, &src_hosts, creds, known_hosts, &mut blockers).await;
    let Target {
        hosts,
        env_file: to_env_file,
        migrations: target_migrations,
        modes: target_modes,
    } = read_target(
        to_name,
        &dst_hosts,
        release.as_ref(),
        (creds, known_hosts),
        providers,
        &mut blockers,
    )
    .await;
    blockers.extend(refusals(to_name, to.tier, providers, &target_modes));
    let provider_modes = ProviderModes::new(
        providers,
        source_host
            .iter()
            .map(|h| HostModes::from_env_file(h, providers, Ok(&from_env_file)))
            .collect(),
        target_modes,
        to.tier,
    );
    // A value is shown only when both environments' config marks it public.
    let public: std::collections::BTreeSet<String> = to
        .settings
        .public_names()
        .into_iter()
        .filter(|k| from.settings.is_public(k))
        .collect();
    let (config_diff, secret_parity) = compare_env(&from_env_file, &to_env_file, &public);
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

    let (mut rollback_automatic, rollback_manual) =
        rollback_scope(to_name, release.as_ref(), &hosts, &pending_migrations);
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
        providers: provider_modes,
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

/// What the source environment's hosts say: the release the first one runs
/// (checked against its `CHECKSUM`), and its `.env`.
struct Source {
    hosts: Vec<HostChange>,
    release: Option<Release>,
    host: Option<String>,
    env_file: BTreeMap<String, String>,
}

async fn read_source(
    from_name: &str,
    src_hosts: &[Host],
    creds: &dyn CredentialSource,
    known_hosts: &Path,
    blockers: &mut Vec<String>,
) -> Source {
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
    Source {
        hosts: source_hosts,
        release,
        host: source_host,
        env_file: from_env_file,
    }
}

/// What the target environment's hosts say: what each runs, whether the
/// artifact is already there, the first one's `.env` and migrations.
struct Target {
    hosts: Vec<HostChange>,
    env_file: BTreeMap<String, String>,
    migrations: Option<Vec<String>>,
    /// Provider modes of every host (each host's own `.env`).
    modes: Vec<HostModes>,
}

async fn read_target(
    to_name: &str,
    dst_hosts: &[Host],
    release: Option<&Release>,
    (creds, known_hosts): (&dyn CredentialSource, &Path),
    providers: &[(String, Provider)],
    blockers: &mut Vec<String>,
) -> Target {
    let mut hosts = Vec::new();
    let mut modes = Vec::new();
    let mut to_env_file = BTreeMap::new();
    let mut target_migrations: Option<Vec<String>> = None;
    for (i, h) in dst_hosts.iter().enumerate() {
        let to_id = release.map(|r| r.id.clone()).unwrap_or_default();
        let session = match SshSession::connect(h, creds, known_hosts).await {
            Ok(s) => s,
            Err(e) => {
                blockers.push(format!("{to_name} host {}: {}", h.name, e.message()));
                modes.push(HostModes::from_env_file(
                    &h.name,
                    providers,
                    Err(e.message().to_owned()),
                ));
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
        let present = match release {
            Some(r) => crate::release::release_on_host(&session, h, &r.id)
                .await
                .is_ok_and(|p| p.digest == r.digest),
            None => false,
        };
        // Every host's own `.env` for the provider modes (one edited by hand
        // differs from the rest); the first one's for the comparison.
        match read_env_file(&session, h).await {
            Ok(m) => {
                modes.push(HostModes::from_env_file(&h.name, providers, Ok(&m)));
                if i == 0 {
                    to_env_file = m;
                }
            }
            Err(e) => {
                modes.push(HostModes::from_env_file(
                    &h.name,
                    providers,
                    Err(e.message().to_owned()),
                ));
                if i == 0 {
                    blockers.push(e.message().to_owned());
                }
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
    Target {
        hosts,
        env_file: to_env_file,
        migrations: target_migrations,
        modes,
    }
}

/// What a rollback puts back by itself, and what it does not.
fn rollback_scope(
    to_name: &str,
    release: Option<&Release>,
    hosts: &[HostChange],
    pending_migrations: &[String],
) -> (Vec<String>, Vec<String>) {
    let rid = release.map_or("?", |r| r.id.as_str());
    let rollback_automatic = vec![format!(
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
    (rollback_automatic, rollback_manual)
}

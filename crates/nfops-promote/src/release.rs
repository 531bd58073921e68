//! The release model: what a host runs, read from the host itself.
//!
//! A host's app folder holds `releases/<id>/` (each with a `CHECKSUM` listing
//! of its files and a `release.json`) and `current -> releases/<id>`. A
//! release's identity is its id plus its digest, the SHA-256 of its
//! `CHECKSUM` file: two copies with the same digest whose files pass
//! `sha256sum -c CHECKSUM` are the same artifact, byte for byte.

use std::time::Duration;

use nfops_core::config::Host;
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::{shell_quote, SshSession};
use serde::{Deserialize, Serialize};

/// Bound for the small remote commands of this module.
pub(crate) const SHORT: Duration = Duration::from_secs(30);

/// One release as found on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// The folder name under `releases/` (`v2`).
    pub id: String,
    /// SHA-256 of the release's `CHECKSUM` file, hex.
    pub digest: String,
    /// Migrations the release ships (from `release.json`), in order.
    pub migrations: Vec<String>,
    /// `release.json`'s description, when it has one.
    pub description: Option<String>,
}

#[derive(Deserialize)]
struct ReleaseJson {
    #[serde(default)]
    migrations: Vec<String>,
    description: Option<String>,
}

/// `<app_dir>` without a trailing slash.
pub(crate) fn app_dir(host: &Host) -> String {
    host.app_dir.trim_end_matches('/').to_owned()
}

/// A release id is one path component of safe characters; anything else is
/// refused before it reaches a remote command.
pub fn check_release_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidInput,
            format!("'{id}' is not a release id (letters, digits, - _ . + only)"),
        )
        .hint("Release folders are named like v2 or 2024-05-01T10-00-00Z."))
    }
}

/// `releases/v1` (relative or absolute) → `v1`: the component after the last
/// `releases`, else the last component.
pub fn release_id_from_link(link: &str) -> Option<String> {
    let parts: Vec<&str> = link
        .trim()
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let id = match parts.iter().rposition(|p| *p == "releases") {
        Some(i) => *parts.get(i + 1)?,
        None => *parts.last()?,
    };
    check_release_id(id).ok().map(|()| id.to_owned())
}

/// The release `current` points at on `host`.
///
/// Errors: `service.unhealthy` when `current` is missing or does not point at
/// a release folder with a `CHECKSUM`; SSH errors as they come.
pub async fn current_release(session: &SshSession, host: &Host) -> Result<Release> {
    let app = shell_quote(&app_dir(host));
    let out = session
        .exec(&format!("cd -- {app} && readlink -- current"), SHORT)
        .await?;
    let id = (out.exit_code == 0)
        .then(|| release_id_from_link(&out.stdout))
        .flatten()
        .ok_or_else(|| {
            Error::new(
                ErrorCode::Unhealthy,
                format!(
                    "host '{}': {}/current is missing or does not point at releases/<id>",
                    host.name,
                    app_dir(host)
                ),
            )
            .hint("Deploy a release to the host first, or fix app_dir in environments.toml.")
        })?;
    release_on_host(session, host, &id).await
}

/// Release `id` as present on `host` (digest and `release.json`), without
/// checking its files (see [`verify_release`]).
///
/// Errors: `service.unhealthy` when the folder or its `CHECKSUM` is missing.
pub async fn release_on_host(session: &SshSession, host: &Host, id: &str) -> Result<Release> {
    check_release_id(id)?;
    let dir = shell_quote(&format!("{}/releases/{id}", app_dir(host)));
    let out = session
        .exec(
            &format!(
                "cd -- {dir} && sha256sum CHECKSUM | cut -c1-64 && cat release.json 2>/dev/null"
            ),
            SHORT,
        )
        .await?;
    let mut lines = out.stdout.splitn(2, '\n');
    let digest = lines.next().unwrap_or("").trim().to_owned();
    if out.exit_code != 0 || digest.len() != 64 {
        return Err(Error::new(
            ErrorCode::Unhealthy,
            format!(
                "host '{}': release {id} has no CHECKSUM in {}/releases/{id}",
                host.name,
                app_dir(host)
            ),
        )
        .hint(
            "A release folder must carry a CHECKSUM (sha256sum listing of its files); rebuild it.",
        ));
    }
    let meta: Option<ReleaseJson> = serde_json::from_str(lines.next().unwrap_or("")).ok();
    Ok(Release {
        id: id.to_owned(),
        digest,
        migrations: meta
            .as_ref()
            .map(|m| m.migrations.clone())
            .unwrap_or_default(),
        description: meta.and_then(|m| m.description),
    })
}

/// Whether release `id` exists on `host` (a folder under `releases/`).
pub async fn release_exists(session: &SshSession, host: &Host, id: &str) -> Result<bool> {
    check_release_id(id)?;
    let dir = shell_quote(&format!("{}/releases/{id}", app_dir(host)));
    let out = session.exec(&format!("test -d {dir}"), SHORT).await?;
    Ok(out.exit_code == 0)
}

/// Checks every file of release `id` on `host` against its `CHECKSUM`
/// (`sha256sum -c`) and returns the release (with its digest).
///
/// Errors: `job.check_failed` naming the files that do not match (at most a
/// few) or are missing; the other errors of [`release_on_host`].
pub async fn verify_release(session: &SshSession, host: &Host, id: &str) -> Result<Release> {
    let release = release_on_host(session, host, id).await?;
    let dir = shell_quote(&format!("{}/releases/{id}", app_dir(host)));
    let out = session
        .exec(
            &format!("cd -- {dir} && LC_ALL=C sha256sum --quiet -c CHECKSUM 2>&1"),
            Duration::from_secs(120),
        )
        .await?;
    if out.exit_code != 0 {
        let bad: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.contains(": FAILED") || l.contains("No such file"))
            .take(5)
            .collect();
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "release {id} on host '{}' does not match its CHECKSUM: {}",
                host.name,
                if bad.is_empty() {
                    "sha256sum -c failed".to_owned()
                } else {
                    bad.join("; ")
                }
            ),
        )
        .hint("The artifact was changed or damaged after it was built; rebuild or redeploy it before promoting."));
    }
    Ok(release)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_ids_come_from_the_symlink_target() {
        assert_eq!(release_id_from_link("releases/v1\n").as_deref(), Some("v1"));
        assert_eq!(
            release_id_from_link("/srv/app/releases/v3-broken/").as_deref(),
            Some("v3-broken")
        );
        assert_eq!(release_id_from_link("releases/"), None);
        assert_eq!(
            release_id_from_link("releases/a;b"),
            None,
            "shell metacharacters never become an id"
        );
    }

    #[test]
    fn release_ids_are_single_safe_components() {
        assert!(check_release_id("v2").is_ok());
        assert!(check_release_id("2024-05-01T10-00-00Z").is_ok());
        for bad in ["", "..", "a/b", "v2 x", "$(id)"] {
            assert!(check_release_id(bad).is_err(), "{bad:?} must be refused");
        }
    }
}

//! What a promotion does on one host: bring the artifact over, switch the
//! `current` symlink atomically, reload PM2 gracefully.

use std::time::Duration;

use nfops_core::config::Host;
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::{shell_quote, SshSession};

use crate::release::{
    app_dir, check_release_id, release_exists, release_on_host, verify_release, Release, SHORT,
};
use crate::transfer::{copy_release, Ends, OnProgress, Transferred};

/// How long a `pm2 reload` may take (wait_ready + listen_timeout per instance).
const RELOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// The platform's PM2 apps on a host, by role.
pub fn apps_of(host: &Host) -> Vec<String> {
    let mut apps = Vec::new();
    if host.roles.iter().any(|r| r == "backend") {
        apps.push("nf-api".to_owned());
    }
    if host.roles.iter().any(|r| r == "worker") {
        apps.push("nf-worker".to_owned());
    }
    apps
}

fn pm2(host: &Host, args: &str) -> String {
    match &host.pm2_home {
        Some(h) => format!("PM2_HOME={} pm2 {args}", shell_quote(h)),
        None => format!("pm2 {args}"),
    }
}

/// How the artifact got to a production host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staged {
    /// The host already had the same artifact (same digest, every file checked).
    AlreadyThere(Release),
    /// Copied from the staging host and checked on arrival.
    Copied(Release, Transferred),
}

/// Makes sure `target` host holds the exact artifact `release` that
/// `source` host runs: when the host already has a folder with the same
/// digest whose files pass their CHECKSUM, nothing is copied; otherwise the
/// release is streamed from the source and checked on arrival (see
/// [`crate::transfer`]), with unchanged files hard-linked from
/// `running_on_target` when the console sealed it. Never rebuilds.
///
/// Errors: `job.check_failed` when the copy that arrived differs from the
/// source (digest or files), staging's release breaks the release rules, or
/// a different artifact with the same id is the host's running release (it
/// is never overwritten); SSH errors.
pub async fn stage_release(
    ends: &Ends<'_>,
    release: &Release,
    running_on_target: &str,
    progress: OnProgress<'_>,
) -> Result<Staged> {
    let (target, target_host) = (ends.target, ends.target_host);
    let id = &release.id;
    check_release_id(id)?;
    if release_exists(target, target_host, id).await? {
        match verify_release(target, target_host, id).await {
            Ok(r) if r.digest == release.digest => return Ok(Staged::AlreadyThere(r)),
            _ if running_on_target == id => {
                return Err(Error::new(
                    ErrorCode::CheckFailed,
                    format!(
                        "host '{}' runs a release {id} that is not the artifact staging runs (digest or files differ)",
                        target_host.name
                    ),
                )
                .hint("Two different builds carry the same id; give the new build a new id and promote again."));
            }
            _ => {}
        }
    }
    let base = (!running_on_target.is_empty()).then_some(running_on_target);
    let copied = copy_release(ends, release, base, progress).await?;
    let arrived = release_on_host(target, target_host, id).await?;
    if arrived.digest != release.digest {
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "release {id} on '{}' has digest {:.12}… after the copy, staging's is {:.12}…",
                target_host.name, arrived.digest, release.digest
            ),
        )
        .hint("Another deploy may be writing to the host; check it and promote again."));
    }
    Ok(Staged::Copied(arrived, copied))
}

/// Points `current` at `releases/<id>` atomically (`ln -sfn` to a temp link,
/// then `mv -T` over `current`) and reads the link back.
///
/// Errors: `job.check_failed` when the link reads back differently; SSH errors.
pub async fn switch_current(session: &SshSession, host: &Host, id: &str) -> Result<()> {
    check_release_id(id)?;
    let app = shell_quote(&app_dir(host));
    let target = shell_quote(&format!("releases/{id}"));
    let out = session
        .exec_checked(
            &format!(
                "cd -- {app} && test -d {target} && ln -sfn {target} current.tmp && mv -T current.tmp current && readlink current"
            ),
            SHORT,
        )
        .await?;
    if out.stdout.trim() != format!("releases/{id}") {
        return Err(Error::new(
            ErrorCode::CheckFailed,
            format!(
                "host '{}': current points at '{}' after the switch, not releases/{id}",
                host.name,
                out.stdout.trim()
            ),
        )
        .hint("Another deploy may be running on the host; check it and promote again."));
    }
    Ok(())
}

async fn pids(session: &SshSession, host: &Host, app: &str) -> Result<Vec<String>> {
    let out = session
        .exec_checked(&pm2(host, &format!("pid {}", shell_quote(app))), SHORT)
        .await?;
    let mut pids: Vec<String> = out
        .stdout
        .split_whitespace()
        .filter(|p| *p != "0")
        .map(str::to_owned)
        .collect();
    pids.sort();
    Ok(pids)
}

/// `pm2 reload` of the host's apps (graceful: one instance at a time, each
/// new one `ready` before the old one stops), checked by their process ids:
/// every process must be new. Returns "nf-api 2 → 2 new pids, …".
///
/// Errors: `job.check_failed` when an old process survived or none runs; SSH errors.
pub async fn reload_apps(session: &SshSession, host: &Host) -> Result<String> {
    let mut done = Vec::new();
    for app in apps_of(host) {
        let before = pids(session, host, &app).await?;
        session
            .exec_checked(
                &pm2(host, &format!("reload {}", shell_quote(&app))),
                RELOAD_TIMEOUT,
            )
            .await?;
        let after = pids(session, host, &app).await?;
        if after.is_empty() || after.iter().any(|p| before.contains(p)) {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "pm2 reload {app} on '{}' left processes that were not restarted ({} before, {} after)",
                    host.name,
                    before.len(),
                    after.len()
                ),
            )
            .hint(format!("Check `pm2 ls` on {}.", host.name)));
        }
        done.push(format!("{app} {} → {} new pids", before.len(), after.len()));
    }
    Ok(done.join(", "))
}

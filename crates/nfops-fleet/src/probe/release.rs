//! The release a host runs: the target of `<app_dir>/current`, and since
//! when (the link's own modification time: a deploy replaces the link).

use std::time::Duration;

use chrono::{DateTime, Utc};

use nfops_core::config::Host;
use nfops_core::{Error, ErrorCode, Result};

use crate::ssh::{shell_quote, stderr_tail, SshSession};

/// Reads the `current` symlink over `session`: the release id, and when the
/// link was switched (None when the host's `stat` cannot say).
///
/// Errors: `service.unhealthy` when there is no `current` symlink or its
/// target is not a release folder; SSH errors as they come.
pub(super) async fn probe(
    session: &SshSession,
    host: &Host,
    timeout: Duration,
) -> Result<(String, Option<DateTime<Utc>>)> {
    let link = format!("{}/current", host.app_dir.trim_end_matches('/'));
    let quoted = shell_quote(&link);
    // The switch time first, on a line of its own (`-` when unknown), then
    // the link: a link target holding a newline stays one piece that
    // `release_id_from_link` refuses. `stat` without -L reads the link
    // itself; a host without GNU stat only loses the "since".
    let out = session
        .exec(
            &format!("{{ stat -c %Y -- {quoted} 2>/dev/null || echo -; }} && readlink -- {quoted}"),
            timeout,
        )
        .await?;
    if out.exit_code != 0 {
        let tail = stderr_tail(&out.stderr, 200);
        let mut message = format!(
            "host '{}': {link} is missing or not a symlink, so no release is active",
            host.name
        );
        if !tail.is_empty() {
            message.push_str(&format!(" ({tail})"));
        }
        return Err(Error::new(ErrorCode::Unhealthy, message).hint(format!(
            "Check app_dir in environments.toml ({}) or deploy a release to the host.",
            host.app_dir
        )));
    }
    let (since, target) = read_output(&out.stdout);
    let id = release_id_from_link(target).ok_or_else(|| {
        Error::new(
            ErrorCode::Unhealthy,
            format!(
                "host '{}': {link} points at '{}', not at a release folder",
                host.name,
                super::bounded(target.trim(), 120)
            ),
        )
        .hint("The current symlink should point at releases/<id>; redeploy or fix the link.")
    })?;
    Ok((id, since))
}

/// The probe command's output: the switch time's line, then the link target
/// (all the rest, so a target holding a newline stays whole).
fn read_output(stdout: &str) -> (Option<DateTime<Utc>>, &str) {
    let (first, target) = stdout.split_once('\n').unwrap_or(("", stdout));
    (switched_at(first), target)
}

/// `stat -c %Y` output (seconds since the epoch) as a time; None when it is not one.
fn switched_at(line: &str) -> Option<DateTime<Utc>> {
    let secs: i64 = line.trim().parse().ok()?;
    DateTime::from_timestamp(secs, 0)
}

/// `releases/v1` (relative or absolute, trailing slash or not) → `v1`.
///
/// The id is the path component after the last `releases`; a link without a
/// `releases` component yields its last component. `None` for an empty link,
/// `.`/`..`, or text with whitespace inside.
pub(crate) fn release_id_from_link(link: &str) -> Option<String> {
    let parts: Vec<&str> = link
        .trim()
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let id = match parts.iter().rposition(|p| *p == "releases") {
        Some(i) => *parts.get(i + 1)?,
        None => *parts.last()?,
    };
    (id != ".." && !id.chars().any(char::is_whitespace)).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::{read_output, release_id_from_link, switched_at};

    #[test]
    fn a_link_target_with_a_newline_is_not_read_as_a_release_and_a_time() {
        let (since, target) = read_output("1733500000\nreleases/v1\n");
        assert_eq!(since.map(|t| t.timestamp()), Some(1_733_500_000));
        assert_eq!(release_id_from_link(target).as_deref(), Some("v1"));
        let (since, target) = read_output("-\nreleases/v1\n");
        assert!(
            since.is_none(),
            "no GNU stat: no time, the release still read"
        );
        assert_eq!(release_id_from_link(target).as_deref(), Some("v1"));
        let (_, target) = read_output("1733500000\nreleases/v1\n1733500001\n");
        assert_eq!(
            release_id_from_link(target),
            None,
            "a target with a newline is refused"
        );
    }

    #[test]
    fn the_switch_time_is_read_from_stat_or_left_out() {
        let t = switched_at("1733500000\n").expect("a time");
        assert_eq!(t.timestamp(), 1_733_500_000);
        assert!(switched_at("stat: illegal option -- c").is_none());
        assert!(switched_at("").is_none());
    }

    #[test]
    fn release_ids_come_from_the_symlink_target() {
        assert_eq!(release_id_from_link("releases/v1\n").as_deref(), Some("v1"));
        assert_eq!(
            release_id_from_link("/srv/app/releases/2024-05-01T10-00-00Z/").as_deref(),
            Some("2024-05-01T10-00-00Z")
        );
        assert_eq!(release_id_from_link("./releases/v2").as_deref(), Some("v2"));
        assert_eq!(
            release_id_from_link("/opt/releases/app/releases/v3").as_deref(),
            Some("v3"),
            "the last releases/ wins"
        );
        assert_eq!(release_id_from_link("v4").as_deref(), Some("v4"));
        assert_eq!(
            release_id_from_link("releases/"),
            None,
            "no id after releases/"
        );
        assert_eq!(release_id_from_link(""), None);
        assert_eq!(release_id_from_link(".."), None);
        assert_eq!(release_id_from_link("releases/a b"), None);
    }
}

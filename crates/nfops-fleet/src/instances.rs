//! PM2 processes of a host (`pm2 jlist`) and scaling a cluster-mode app
//! (`pm2 scale APP N`), over SSH.
//!
//! `pm2 jlist` prints each process's whole environment, secrets included:
//! only the fields below are read, and the raw text is never logged or put
//! into an error message.

use std::time::Duration;

use nfops_core::config::Host;
use nfops_core::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};

use crate::ssh::{shell_quote, stderr_tail, SshSession};

/// One PM2 process as `pm2 jlist` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pm2Process {
    pub name: String,
    pub pm_id: u32,
    /// `NODE_APP_INSTANCE` (cluster mode), when set.
    pub instance: Option<u32>,
    /// `online`, `stopped`, `errored`, `launching`, ...
    pub status: String,
    /// `cluster_mode` or `fork_mode`.
    pub exec_mode: String,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub restarts: u32,
}

#[derive(Deserialize)]
struct RawProcess {
    name: String,
    pm_id: u32,
    #[serde(default)]
    monit: RawMonit,
    pm2_env: RawEnv,
}

#[derive(Deserialize, Default)]
struct RawMonit {
    #[serde(default)]
    memory: u64,
    #[serde(default)]
    cpu: f64,
}

#[derive(Deserialize)]
struct RawEnv {
    #[serde(default)]
    status: String,
    #[serde(default)]
    exec_mode: String,
    #[serde(rename = "NODE_APP_INSTANCE", default)]
    node_app_instance: Option<serde_json::Value>,
    #[serde(default)]
    restart_time: u32,
}

/// The processes in `pm2 jlist` output. PM2 may print a banner before the
/// JSON (when it had to start its daemon, `[PM2] Spawning ...`): the list
/// starts at the first line opening with `[{` or `[]`.
///
/// Errors: `service.unhealthy` when no JSON list can be read; the message
/// never quotes the output (it holds the processes' environments).
pub fn parse_jlist(host: &str, text: &str) -> Result<Vec<Pm2Process>> {
    let mut start = text.len();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let rest: String = line
            .trim_start()
            .chars()
            .filter(|c| !c.is_whitespace())
            .take(2)
            .collect();
        if rest == "[{" || rest == "[]" {
            start = offset;
            break;
        }
        offset += line.len();
    }
    let raw: Vec<RawProcess> = serde_json::from_str(text[start..].trim()).map_err(|e| {
        Error::new(
            ErrorCode::Unhealthy,
            format!("host '{host}': `pm2 jlist` did not print a process list (JSON error at line {}, column {})", e.line(), e.column()),
        )
        .hint("Check that PM2 runs on the host for this user and that pm2_home in environments.toml is right.")
    })?;
    Ok(raw
        .into_iter()
        .map(|p| Pm2Process {
            instance: p.pm2_env.node_app_instance.and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            }),
            name: p.name,
            pm_id: p.pm_id,
            status: p.pm2_env.status,
            exec_mode: p.pm2_env.exec_mode,
            cpu_percent: p.monit.cpu,
            memory_bytes: p.monit.memory,
            restarts: p.pm2_env.restart_time,
        })
        .collect())
}

/// `pm2 <args>` on `host`, with its `PM2_HOME` when configured.
fn pm2_command(host: &Host, args: &str) -> String {
    match &host.pm2_home {
        Some(home) => format!("PM2_HOME={} pm2 {args}", shell_quote(home)),
        None => format!("pm2 {args}"),
    }
}

/// The PM2 processes of `host`.
///
/// Errors: SSH errors; `ssh.command` when `pm2 jlist` fails (stderr tail in
/// the message); `service.unhealthy` when its output is not a list.
pub async fn list(session: &SshSession, host: &Host, timeout: Duration) -> Result<Vec<Pm2Process>> {
    let out = session.exec(&pm2_command(host, "jlist"), timeout).await?;
    if out.exit_code != 0 {
        return Err(Error::new(
            ErrorCode::SshCommand,
            format!(
                "host '{}': `pm2 jlist` exited with status {}: {}",
                host.name,
                out.exit_code,
                stderr_tail(&out.stderr, 200)
            ),
        )
        .hint("Check that pm2 is installed and on the PATH of the SSH user."));
    }
    parse_jlist(&host.name, &out.stdout)
}

/// `pm2 scale <app> <instances>` on `host`. PM2 waits for new instances to
/// signal ready (`wait_ready`), so this can take the app's listen timeout per
/// instance; the caller checks the result with [`list`].
///
/// Errors: `input.invalid` for an app name that is not a plain PM2 name;
/// SSH errors; `ssh.command` when pm2 refuses (stderr tail in the message).
pub async fn scale(
    session: &SshSession,
    host: &Host,
    app: &str,
    instances: u32,
    timeout: Duration,
) -> Result<()> {
    if app.is_empty()
        || !app
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!("'{app}' is not a PM2 app name"),
        ));
    }
    let cmd = pm2_command(host, &format!("scale {} {instances}", shell_quote(app)));
    session.exec_checked(&cmd, timeout).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_processes_and_ignores_their_environment() {
        let text = r#"[PM2] Spawning PM2 daemon
[{"pid":1,"name":"nf-api","pm_id":0,"monit":{"memory":1000,"cpu":2.5},
  "pm2_env":{"status":"online","exec_mode":"cluster_mode","NODE_APP_INSTANCE":0,"restart_time":3,
             "env":{"DB_PASSWORD":"hunter2"}}},
 {"pid":2,"name":"nf-worker","pm_id":1,"monit":{"memory":5,"cpu":0},
  "pm2_env":{"status":"stopped","exec_mode":"fork_mode","NODE_APP_INSTANCE":"1"}}]"#;
        let p = parse_jlist("h", text).expect("a list");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].instance, Some(0));
        assert_eq!(p[1].instance, Some(1), "a string instance is read too");
        assert_eq!(
            (p[0].restarts, p[0].cpu_percent, p[0].memory_bytes),
            (3, 2.5, 1000)
        );
        assert!(
            !format!("{p:?}").contains("hunter2"),
            "the environment is never kept"
        );
    }

    #[test]
    fn garbage_is_an_error_that_does_not_quote_it() {
        let e = parse_jlist("h", "[{\"SECRET=abc\"").expect_err("not JSON");
        assert_eq!(e.code(), ErrorCode::Unhealthy);
        assert!(!e.message().contains("SECRET"), "{}", e.message());
    }
}

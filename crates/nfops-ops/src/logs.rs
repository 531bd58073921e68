//! Logs: the structured JSON logs of an environment's hosts, read from
//! PM2's log files over SSH (`<pm2_home>/logs/*.log`), or from Loki when the
//! environment names a `monitoring.loki_url`.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use nfops_core::config::Host;
use nfops_core::jobs::CancellationToken;
use nfops_core::{Error, Result};
use nfops_fleet::{shell_quote, SshSession};
use nfops_metrics::logs::{loki_query, newest, parse_line, LogEntry, LogFilter};
use serde::Serialize;

use crate::Console;

/// Most lines one tail returns.
pub const MAX_LINES: usize = 2000;
const TAIL_TIMEOUT: Duration = Duration::from_secs(20);
/// How often follow mode polls the hosts.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);
/// Loki is asked about this far back.
const LOKI_SINCE_SECONDS: u64 = 24 * 3600;

/// The newest lines of an environment, and the hosts that could not be read.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogTail {
    /// `pm2` (files over SSH) or `loki`.
    pub source: String,
    pub entries: Vec<LogEntry>,
    /// Hosts whose logs could not be read, with why.
    pub failed_hosts: Vec<(String, nfops_core::WireError)>,
}

impl Console {
    /// The newest `lines` entries of `env` that `filter` keeps, oldest first.
    ///
    /// Errors: `config.*`; `input.invalid` for a bad filter or a host the
    /// environment lacks; Loki's errors when it is the source. An
    /// unreachable host does not fail the tail: it is listed in `failed_hosts`.
    pub async fn logs_tail(&self, env: &str, filter: &LogFilter, lines: usize) -> Result<LogTail> {
        filter.validate()?;
        let lines = lines.clamp(1, MAX_LINES);
        let config = self.config()?;
        let environment = config.environment(env)?;
        if let Some(loki) = environment
            .monitoring
            .as_ref()
            .and_then(|m| m.loki_url.as_deref())
        {
            let selector = environment
                .monitoring
                .as_ref()
                .and_then(|m| m.selector.clone())
                .unwrap_or_else(|| format!("env=\"{env}\""));
            let got = loki_query(loki, &selector, MAX_LINES, LOKI_SINCE_SECONDS).await?;
            let kept = got.into_iter().filter(|e| filter.keeps(e)).collect();
            return Ok(LogTail {
                source: "loki".into(),
                entries: newest(kept, lines),
                failed_hosts: Vec::new(),
            });
        }
        let hosts = self.log_hosts(env, filter)?;
        // A selective filter needs more raw lines to find `lines` matches.
        let per_file = if filter.level.is_some() || filter.category.is_some() {
            (lines * 5).min(5000)
        } else {
            lines
        };
        let read = join_all(hosts.iter().map(|h| self.read_host_logs(h, per_file))).await;
        let mut entries = Vec::new();
        let mut failed_hosts = Vec::new();
        for (host, r) in hosts.iter().zip(read) {
            match r {
                Ok(e) => entries.extend(e.into_iter().filter(|e| filter.keeps(e))),
                Err(e) => failed_hosts.push((host.name.clone(), e.to_wire())),
            }
        }
        Ok(LogTail {
            source: "pm2".into(),
            entries: newest(entries, lines),
            failed_hosts,
        })
    }

    /// Follow mode: the tail, then every new entry as it appears (polled
    /// every 2 s), until `cancel` fires.
    ///
    /// Errors: as [`Console::logs_tail`] for the first read; later failed
    /// reads are logged and retried.
    pub async fn logs_follow(
        &self,
        env: &str,
        filter: &LogFilter,
        lines: usize,
        cancel: CancellationToken,
        mut on_entry: impl FnMut(&LogEntry) + Send,
    ) -> Result<()> {
        let first = self.logs_tail(env, filter, lines).await?;
        let mut last_ts = String::new();
        let mut seen_at_last: HashSet<String> = HashSet::new();
        let mut emit =
            |entries: Vec<LogEntry>, last_ts: &mut String, seen: &mut HashSet<String>| {
                for e in entries {
                    if e.ts < *last_ts || (e.ts == *last_ts && seen.contains(&e.raw)) {
                        continue;
                    }
                    if e.ts > *last_ts {
                        *last_ts = e.ts.clone();
                        seen.clear();
                    }
                    seen.insert(e.raw.clone());
                    on_entry(&e);
                }
            };
        emit(first.entries, &mut last_ts, &mut seen_at_last);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(FOLLOW_EVERY) => {}
            }
            match self.logs_tail(env, filter, 200).await {
                Ok(t) => emit(t.entries, &mut last_ts, &mut seen_at_last),
                Err(e) => {
                    tracing::warn!(category = "error", code = %e.code(), "logs follow: a read failed, retrying: {e}")
                }
            }
        }
    }

    fn log_hosts(&self, env: &str, filter: &LogFilter) -> Result<Vec<Host>> {
        let config = self.config()?;
        let hosts: Vec<Host> = config
            .environment(env)?
            .hosts
            .iter()
            .map(|h| h.get_ref().clone())
            .filter(|h| filter.host.as_deref().is_none_or(|n| n == h.name))
            .collect();
        if hosts.is_empty() {
            return Err(Error::new(
                nfops_core::ErrorCode::InvalidInput,
                match &filter.host {
                    Some(h) => format!("environment {env} has no host named {h}"),
                    None => format!("environment {env} has no hosts"),
                },
            )
            .hint("Pick one of the environment's hosts, or none for all."));
        }
        Ok(hosts)
    }

    /// The last `per_file` lines of every PM2 log file of `host`.
    async fn read_host_logs(&self, host: &Host, per_file: usize) -> Result<Vec<LogEntry>> {
        let dir = match &host.pm2_home {
            Some(h) => shell_quote(&format!("{}/logs", h.trim_end_matches('/'))),
            // Left to the remote shell to expand; a constant, never a file name.
            None => "\"$HOME/.pm2/logs\"".to_owned(),
        };
        let session =
            SshSession::connect(host, self.keyring().as_ref(), &self.known_hosts()).await?;
        let out = session
            .exec_checked(&tail_command(&dir, per_file), TAIL_TIMEOUT)
            .await;
        session.disconnect().await;
        Ok(parse_tail(&out?.stdout, &host.name))
    }
}

/// The remote command that prints the last `per_file` lines of every `*.log`
/// in `dir` (already shell-quoted), each file introduced by a NUL, its name
/// and a NUL.
///
/// File names are chosen by whoever can write the log folder, so they are
/// only ever expanded as quoted shell words (`"$f"`), never put inside a
/// program text: an earlier version added the name to each line with
/// `sed "s|^|$f\t|"`, and a name like `x|;e touch y;#.log` ran a command
/// (GNU sed's `e`). NULs inside the files (holes left by a truncated log) are
/// dropped so they cannot fake a header.
fn tail_command(dir: &str, per_file: usize) -> String {
    format!(
        "cd {dir} && for f in *.log; do [ -f \"$f\" ] || continue; printf '\\000%s\\000' \"$f\"; tail -n {per_file} -- \"$f\" | tr -d '\\000'; done; true"
    )
}

/// Entries of [`tail_command`]'s output. The app of a non-JSON line is taken
/// from its file's name (`nf-api-out-0.log` → `nf-api`).
fn parse_tail(stdout: &str, host: &str) -> Vec<LogEntry> {
    let mut parts = stdout.split('\0');
    // Whatever precedes the first header (nothing, normally) has no file.
    parts.next();
    let mut out = Vec::new();
    while let (Some(file), Some(body)) = (parts.next(), parts.next()) {
        let app = file
            .split("-out-")
            .next()
            .and_then(|a| a.split("-error-").next())
            .unwrap_or(file);
        out.extend(body.lines().filter_map(|l| parse_line(l, host, app)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_stay_data_and_lines_keep_their_file() {
        let cmd = tail_command("'/srv/pm2/logs'", 50);
        assert!(
            !cmd.contains("sed") && !cmd.contains("awk"),
            "no program text is built around file names: {cmd}"
        );
        let out = "\0nf-api-out-0.log\0{\"ts\":\"1\",\"msg\":\"a\"}\nplain text\n\0x|;e touch y;#\tz.log\0{\"ts\":\"2\",\"msg\":\"b\"}\n";
        let got = parse_tail(out, "h1");
        let seen: Vec<(&str, &str, &str)> = got
            .iter()
            .map(|e| (e.app.as_str(), e.msg.as_str(), e.host.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("nf-api", "a", "h1"),
                ("nf-api", "plain text", "h1"),
                ("x|;e touch y;#\tz.log", "b", "h1")
            ],
            "each line keeps the file it came from, whatever that file is called"
        );
    }
}

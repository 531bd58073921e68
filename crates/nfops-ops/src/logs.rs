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
            Some(h) => format!("{}/logs", h.trim_end_matches('/')),
            None => "$HOME/.pm2/logs".to_owned(),
        };
        let dir_arg = if host.pm2_home.is_some() {
            shell_quote(&dir)
        } else {
            format!("\"{dir}\"")
        };
        // Each line prefixed with its file's name, for the app of non-JSON lines.
        let cmd = format!(
            "cd {dir_arg} && for f in *.log; do [ -f \"$f\" ] && tail -n {per_file} -- \"$f\" | sed \"s|^|$f\t|\"; done; true"
        );
        let session =
            SshSession::connect(host, self.keyring().as_ref(), &self.known_hosts()).await?;
        let out = session.exec_checked(&cmd, TAIL_TIMEOUT).await;
        session.disconnect().await;
        let out = out?;
        Ok(out
            .stdout
            .lines()
            .filter_map(|l| {
                let (file, line) = l.split_once('\t')?;
                let app = file
                    .split("-out-")
                    .next()
                    .and_then(|a| a.split("-error-").next())
                    .unwrap_or(file);
                parse_line(line, &host.name, app)
            })
            .collect())
    }
}

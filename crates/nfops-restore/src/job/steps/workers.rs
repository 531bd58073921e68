//! The workers step: `pm2 reload` of the app's processes on every host over
//! SSH, then wait until every process is online again with a start time
//! after the reload (pm2 jlist), i.e. really restarted and running.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use nfops_core::config::Environment;
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::{shell_quote, SshSession};

/// The workers step of a restore.
pub struct WorkersStep {
    pub environment: String,
    pub env: Environment,
    pub creds: Arc<dyn CredentialSource>,
    pub known_hosts: PathBuf,
    /// How long each host may take to be online again.
    pub timeout: Duration,
}

fn pm2(home: Option<&str>, args: &str) -> String {
    match home {
        Some(h) => format!("PM2_HOME={} pm2 {args}", shell_quote(h)),
        None => format!("pm2 {args}"),
    }
}

/// (name, status, pm_uptime ms) of every PM2 process on the host.
fn processes(json: &str) -> Vec<(String, String, i64)> {
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap_or_default();
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or_default().to_owned(),
                        p["pm2_env"]["status"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        p["pm2_env"]["pm_uptime"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

impl WorkersStep {
    /// The step as planned: how many hosts reload.
    pub fn planned(&self) -> nfops_core::jobs::PlannedStep {
        nfops_core::jobs::PlannedStep {
            name: "workers".into(),
            description: format!(
                "pm2 reload on {} host(s) over SSH; wait until every process is online again",
                self.env.hosts.len()
            ),
        }
    }
}

#[async_trait]
impl Step for WorkersStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let hosts: Vec<_> = self.env.hosts.iter().map(|h| h.get_ref().clone()).collect();
        let mut evidence = Vec::new();
        for (i, host) in hosts.iter().enumerate() {
            cx.check_cancelled()?;
            cx.message(format!("restarting PM2 processes on {}", host.name));
            let ssh = SshSession::connect(host, self.creds.as_ref(), &self.known_hosts).await?;
            let home = host.pm2_home.as_deref();
            let before = processes(
                &ssh.exec_checked(&pm2(home, "jlist"), Duration::from_secs(30))
                    .await?
                    .stdout,
            );
            if before.is_empty() {
                evidence.push(format!("{}: no PM2 processes", host.name));
                continue;
            }
            // Remote clock: jlist's pm_uptime is the host's epoch milliseconds.
            let since: i64 = ssh
                .exec_checked("date +%s%3N", Duration::from_secs(10))
                .await?
                .stdout
                .trim()
                .parse()
                .unwrap_or(0);
            ssh.exec_checked(&pm2(home, "reload all"), Duration::from_secs(120))
                .await?;
            let deadline = Instant::now() + self.timeout;
            loop {
                let now = processes(
                    &ssh.exec_checked(&pm2(home, "jlist"), Duration::from_secs(30))
                        .await?
                        .stdout,
                );
                let restarted = now
                    .iter()
                    .filter(|(_, s, up)| s == "online" && *up >= since)
                    .count();
                if restarted == now.len() && now.len() >= before.len() {
                    evidence.push(format!(
                        "{}: {} process(es) online, started after the reload",
                        host.name,
                        now.len()
                    ));
                    break;
                }
                if Instant::now() > deadline {
                    let bad: Vec<String> = now
                        .iter()
                        .filter(|(_, s, up)| s != "online" || *up < since)
                        .map(|(n, s, _)| format!("{n} ({s})"))
                        .collect();
                    return Err(Error::new(
                        ErrorCode::Unhealthy,
                        format!(
                            "on host {}, {} did not come back online within {}s after pm2 reload",
                            host.name,
                            bad.join(", "),
                            self.timeout.as_secs()
                        ),
                    )
                    .hint("Check the processes' logs with `pm2 logs` on that host."));
                }
                cx.check_cancelled()?;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            ssh.disconnect().await;
            cx.advance(i as u64 + 1, Some(hosts.len() as u64), "hosts");
        }
        Ok(Verified::by(evidence.join("; ")))
    }
}

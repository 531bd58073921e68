//! One host of a scale job: `pm2 scale`, then a step completes only when
//! `pm2 jlist` shows exactly the target count online.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use nfops_core::config::Host;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::instances;
use nfops_fleet::SshSession;

use super::{online, LIST_TIMEOUT, SCALE_TIMEOUT};
use crate::Console;

/// One host of a scale job: `pm2 scale`, then wait for the count online.
pub(super) struct ScaleHost {
    pub(super) console: Console,
    pub(super) environment: String,
    pub(super) host: Host,
    pub(super) app: String,
    pub(super) target: u32,
}

#[async_trait]
impl Step for ScaleHost {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let host = &self.host;
        let c = &self.console;
        let session = SshSession::connect(host, c.keyring().as_ref(), &c.known_hosts()).await?;
        let result = async {
            cx.message(format!("pm2 scale {} {} on {}", self.app, self.target, host.name));
            instances::scale(&session, host, &self.app, self.target, SCALE_TIMEOUT).await?;
            // PM2 returns once the new instances are launched; wait for them to be online.
            let until = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                cx.check_cancelled()?;
                let now_online = online(&instances::list(&session, host, LIST_TIMEOUT).await?);
                if now_online == self.target {
                    return Ok(now_online);
                }
                if tokio::time::Instant::now() >= until {
                    return Err(Error::new(
                        ErrorCode::CheckFailed,
                        format!("host {}: {} runs {now_online} instances online after scaling to {}", host.name, self.app, self.target),
                    )
                    .hint("Look at the host's logs (nfops logs --host ...) for instances that fail to start."));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        .await;
        session.disconnect().await;
        let reached = result?;
        c.record_instances(
            &self.environment,
            &host.name,
            Utc::now().timestamp_millis(),
            reached,
            reached,
        )
        .await?;
        Ok(Verified::by(format!(
            "pm2 jlist on {}: {reached} {} online == {}",
            host.name, self.app, self.target
        )))
    }
}

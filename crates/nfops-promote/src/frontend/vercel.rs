//! Vercel: `GET /v9/projects/{id}` (live production deployment in
//! `targets.production.id`), `GET /v6/deployments?projectId=…&target=preview&state=READY&limit=1`
//! (the candidate), `POST /v10/projects/{id}/promote/{deploymentId}` (promote
//! without rebuilding; 201 or 202, applied asynchronously, so the live
//! deployment is polled until it changes), `POST /v1/projects/{id}/rollback/{deploymentId}`.

use std::time::Duration;

use async_trait::async_trait;
use nfops_core::{Error, ErrorCode, Result};
use reqwest::Method;
use serde_json::Value;
use tokio::time::Instant;

use super::{missing, segment, Api, FrontendDriver};

/// How long an accepted promotion may take to show as live.
const SETTLE: Duration = Duration::from_secs(60);

pub struct Vercel {
    api: Api,
    project: String,
}

impl Vercel {
    pub(crate) fn new(api: Api, project: &str) -> Self {
        Self {
            api,
            project: project.to_owned(),
        }
    }

    async fn wait_live(&self, deploy: &str) -> Result<()> {
        let until = Instant::now() + SETTLE;
        loop {
            let live = self.live_deploy().await?;
            if live == deploy {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(Error::new(
                    ErrorCode::CheckFailed,
                    format!(
                        "Vercel still serves {live} {}s after switching to {deploy}",
                        SETTLE.as_secs()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[async_trait]
impl FrontendDriver for Vercel {
    async fn live_deploy(&self) -> Result<String> {
        let p = self
            .api
            .call(
                Method::GET,
                &format!("/v9/projects/{}", segment(&self.project)?),
            )
            .await?;
        p.pointer("/targets/production/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| missing("Vercel", "which deployment is in production"))
    }

    async fn candidate_deploy(&self) -> Result<String> {
        let d = self
            .api
            .call(
                Method::GET,
                &format!(
                    "/v6/deployments?projectId={}&target=preview&state=READY&limit=1",
                    segment(&self.project)?
                ),
            )
            .await?;
        d.pointer("/deployments/0/uid")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| missing("Vercel", "a ready preview deployment to promote"))
    }

    async fn promote(&self, deploy: &str) -> Result<()> {
        self.api
            .call(
                Method::POST,
                &format!(
                    "/v10/projects/{}/promote/{}",
                    segment(&self.project)?,
                    segment(deploy)?
                ),
            )
            .await?;
        self.wait_live(deploy).await
    }

    async fn rollback(&self, deploy: &str) -> Result<()> {
        self.api
            .call(
                Method::POST,
                &format!(
                    "/v1/projects/{}/rollback/{}",
                    segment(&self.project)?,
                    segment(deploy)?
                ),
            )
            .await?;
        self.wait_live(deploy).await
    }
}

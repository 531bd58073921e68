//! Netlify: `GET /sites/{site_id}` (live deploy in `published_deploy.id`),
//! `GET /sites/{site_id}/deploys?state=ready` (the candidate: the newest
//! ready deploy that is not the live one and not a production build),
//! `POST /sites/{site_id}/deploys/{deploy_id}/restore` (publish it), then
//! `POST /deploys/{deploy_id}/lock` so auto publishing cannot replace it.
//! Rollback restores and locks the previous deploy the same way.

use async_trait::async_trait;
use nfops_core::{Error, ErrorCode, Result};
use reqwest::Method;
use serde_json::Value;

use super::{missing, segment, Api, FrontendDriver};

pub struct Netlify {
    api: Api,
    site: String,
}

impl Netlify {
    pub(crate) fn new(api: Api, site: &str) -> Self {
        Self {
            api,
            site: site.to_owned(),
        }
    }

    async fn publish(&self, deploy: &str) -> Result<()> {
        let site = segment(&self.site)?;
        let d = segment(deploy)?;
        self.api
            .call(Method::POST, &format!("/sites/{site}/deploys/{d}/restore"))
            .await?;
        let locked = self
            .api
            .call(Method::POST, &format!("/deploys/{d}/lock"))
            .await?;
        if locked.get("locked").and_then(Value::as_bool) == Some(false) {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("Netlify did not lock deploy {deploy} after publishing it"),
            ));
        }
        let live = self.live_deploy().await?;
        if live != deploy {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("Netlify serves {live} after restoring {deploy}"),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl FrontendDriver for Netlify {
    async fn live_deploy(&self) -> Result<String> {
        let s = self
            .api
            .call(Method::GET, &format!("/sites/{}", segment(&self.site)?))
            .await?;
        s.pointer("/published_deploy/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| missing("Netlify", "which deploy is published"))
    }

    async fn candidate_deploy(&self) -> Result<String> {
        let live = self.live_deploy().await.ok();
        let list = self
            .api
            .call(
                Method::GET,
                &format!(
                    "/sites/{}/deploys?state=ready&per_page=20",
                    segment(&self.site)?
                ),
            )
            .await?;
        list.as_array()
            .into_iter()
            .flatten()
            .find(|d| {
                let id = d.get("id").and_then(Value::as_str);
                id.is_some()
                    && id != live.as_deref()
                    && d.get("context").and_then(Value::as_str) != Some("production")
            })
            .and_then(|d| d.get("id").and_then(Value::as_str))
            .map(str::to_owned)
            .ok_or_else(|| missing("Netlify", "a ready deploy to promote"))
    }

    async fn promote(&self, deploy: &str) -> Result<()> {
        self.publish(deploy).await
    }

    async fn rollback(&self, deploy: &str) -> Result<()> {
        self.publish(deploy).await
    }
}

//! Frontend providers (Vercel, Netlify): which deploy is live, promote one,
//! roll back to one. Tokens come from a [`CredentialSource`] (the keyring)
//! and are sent only as `Authorization: Bearer`; they never reach an error.
//!
//! Both drivers follow the providers' documented REST APIs; `api_url` in the
//! config points them at another server (tests use a local one implementing
//! the same endpoints).

mod netlify;
mod vercel;

use std::time::Duration;

use async_trait::async_trait;
use nfops_core::config::{Frontend, FrontendProvider};
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, ErrorCode, Result, SecretString};
use serde_json::Value;

pub use netlify::Netlify;
pub use vercel::Vercel;

/// A static frontend's deploys, as its provider's REST API sees them.
#[async_trait]
pub trait FrontendDriver: Send + Sync {
    /// The deploy production serves now.
    async fn live_deploy(&self) -> Result<String>;
    /// The deploy to promote: the newest ready non-production deploy (what
    /// staging serves).
    async fn candidate_deploy(&self) -> Result<String>;
    /// Makes `deploy` the live production deploy (and keeps it there).
    async fn promote(&self, deploy: &str) -> Result<()>;
    /// Puts `deploy` (the one live before) back.
    async fn rollback(&self, deploy: &str) -> Result<()>;
}

/// The driver for `frontend`, with its token read from `creds` now.
///
/// Errors: the credential source's errors; `internal` when no HTTP client.
pub fn driver_for(
    frontend: &Frontend,
    creds: &dyn CredentialSource,
) -> Result<std::sync::Arc<dyn FrontendDriver>> {
    let token = creds.get(&frontend.token_credential)?;
    let api = Api::new(frontend.api_url.clone(), token, frontend.provider)?;
    Ok(match frontend.provider {
        FrontendProvider::Vercel => std::sync::Arc::new(Vercel::new(api, &frontend.project)),
        FrontendProvider::Netlify => std::sync::Arc::new(Netlify::new(api, &frontend.project)),
    })
}

/// An authenticated JSON client for one provider.
pub(crate) struct Api {
    base: String,
    token: SecretString,
    http: reqwest::Client,
    provider: &'static str,
}

impl Api {
    pub(crate) fn new(
        base: Option<String>,
        token: SecretString,
        provider: FrontendProvider,
    ) -> Result<Self> {
        let (default, name) = match provider {
            FrontendProvider::Vercel => ("https://api.vercel.com", "Vercel"),
            FrontendProvider::Netlify => ("https://api.netlify.com/api/v1", "Netlify"),
        };
        Ok(Self {
            base: base
                .unwrap_or_else(|| default.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            token,
            http: nfops_core::http::client_builder()
                .timeout(Duration::from_secs(20))
                .build()
                .map_err(|e| Error::internal(format!("cannot build an HTTP client: {e}")))?,
            provider: name,
        })
    }

    /// `method path` with the bearer token; the JSON answer on 2xx.
    ///
    /// Errors: `service.unreachable` when no answer; `service.unhealthy` with
    /// the provider's status and its `error.message` / `message` otherwise.
    pub(crate) async fn call(&self, method: reqwest::Method, path: &str) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(self.token.expose())
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .map_err(|e| {
                Error::new(
                    ErrorCode::Unreachable,
                    format!("{} API did not answer {method} {path}", self.provider),
                )
                .hint("Check the network and frontend.api_url in environments.toml.")
                .source(e.without_url())
            })?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let said = body
            .pointer("/error/message")
            .or_else(|| body.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        let hint = if status.as_u16() == 401 || status.as_u16() == 403 {
            "The token was refused: store a valid one under frontend.token_credential."
        } else {
            "See the provider's dashboard for the deploy's state."
        };
        Err(Error::new(
            ErrorCode::Unhealthy,
            format!(
                "{} API answered HTTP {} to {method} {path}{}",
                self.provider,
                status.as_u16(),
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                }
            ),
        )
        .hint(hint))
    }
}

/// A path segment for a provider URL (ids are alphanumeric; anything else is refused).
pub(crate) fn segment(id: &str) -> Result<&str> {
    if !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Ok(id)
    } else {
        Err(Error::new(
            ErrorCode::InvalidInput,
            format!("'{id}' is not a deploy or project id"),
        ))
    }
}

pub(crate) fn missing(provider: &str, what: &str) -> Error {
    Error::new(
        ErrorCode::CheckFailed,
        format!("{provider} did not say {what}"),
    )
    .hint("The project may have no deploy yet; deploy it once from the provider.")
}

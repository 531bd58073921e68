//! Frontend providers (Vercel, Netlify): which deploy is live, promote one,
//! roll back to one. Tokens come from a [`CredentialSource`] (the keyring).
//!
//! [`CredentialSource`]: nfops_core::credentials::CredentialSource

use async_trait::async_trait;
use nfops_core::Result;

/// A static frontend's deploys, as its provider's REST API sees them.
#[async_trait]
pub trait FrontendDriver: Send + Sync {
    /// The deploy production serves now.
    async fn live_deploy(&self) -> Result<String>;
    /// The deploy to promote (what the source environment serves).
    async fn candidate_deploy(&self) -> Result<String>;
    /// Makes `deploy` the live production deploy.
    async fn promote(&self, deploy: &str) -> Result<()>;
    /// Puts `deploy` (the one live before) back.
    async fn rollback(&self, deploy: &str) -> Result<()>;
}

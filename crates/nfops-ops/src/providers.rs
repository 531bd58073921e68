//! Provider modes per environment (`[providers.*]`): what each backend
//! host's `.env` says about payments, email… (mock, test, live), and what a
//! production tier refuses. Read-only; shown on the Overview and by
//! `nfops providers`, and checked again by the promotion's gate.

use nfops_core::config::Tier;
use nfops_core::Result;
use nfops_promote::providers::{read_modes, refusals, HostModes};
use serde::{Deserialize, Serialize};

use crate::Console;
use nfops_vault::KeyringSource;

/// One environment's provider modes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvProviderModes {
    pub environment: String,
    pub tier: Tier,
    /// Each backend host, in config order.
    pub hosts: Vec<HostModes>,
    /// What a production or region tier refuses (empty when fine).
    pub refusals: Vec<String>,
}

impl Console {
    /// Provider modes of `only` (or every environment with backend hosts),
    /// in config order. Empty when the config declares no provider.
    ///
    /// # Errors
    /// `config.*` for an unknown environment.
    pub async fn provider_modes(&self, only: Option<&str>) -> Result<Vec<EnvProviderModes>> {
        let config = self.config()?;
        if let Some(name) = only {
            config.environment(name)?;
        }
        let providers = config.providers();
        if providers.is_empty() {
            return Ok(Vec::new());
        }
        let creds = KeyringSource(self.keyring().clone());
        let known_hosts = self.known_hosts();
        let mut out = Vec::new();
        for (name, env) in config.environments() {
            if only.is_some_and(|o| o != name) || nfops_promote::plan::backend_hosts(env).is_empty()
            {
                continue;
            }
            let hosts = read_modes(env, providers, &creds, &known_hosts).await;
            out.push(EnvProviderModes {
                environment: name.to_owned(),
                tier: env.tier,
                refusals: refusals(name, env.tier, providers, &hosts),
                hosts,
            });
        }
        Ok(out)
    }
}

//! The Overview: live state of every environment from real probes.

use std::collections::HashMap;

use nfops_core::config::Environment;
use nfops_core::credentials::CredentialSource;
use nfops_core::{Error, Result, SecretString, WireError};
use nfops_fleet::probe::{probe_environment, EnvironmentStatus};

use crate::Console;

impl Console {
    /// Probes every environment concurrently. Fails only when the config
    /// cannot be read; each probe reports its own failure.
    pub async fn overview(&self) -> Result<Vec<EnvironmentStatus>> {
        let started = std::time::Instant::now();
        let config = self.config()?;
        let known_hosts = self.known_hosts();
        let mut runs = Vec::new();
        for (name, env) in config.environments() {
            let creds = self.prefetch(env).await?;
            let known_hosts = known_hosts.clone();
            runs.push(async move { probe_environment(name, env, &creds, &known_hosts).await });
        }
        let statuses = futures::future::join_all(runs).await;
        let failing = statuses
            .iter()
            .flat_map(|s| &s.probes)
            .filter(|p| p.error.is_some())
            .count();
        tracing::info!(
            category = "application",
            environments = statuses.len(),
            failing,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "overview probed"
        );
        Ok(statuses)
    }

    /// Probes one environment.
    pub async fn probe(&self, name: &str) -> Result<EnvironmentStatus> {
        let config = self.config()?;
        let env = config.environment(name)?;
        let creds = self.prefetch(env).await?;
        Ok(probe_environment(name, env, &creds, &self.known_hosts()).await)
    }

    /// Reads every credential `env` needs in one blocking task, so probes
    /// never block the async runtime on the keyring.
    pub(crate) async fn prefetch(&self, env: &Environment) -> Result<Prefetched> {
        let names = needed_credentials(env);
        let keyring = self.keyring().clone();
        tokio::task::spawn_blocking(move || {
            let values = names.into_iter().map(|n| {
                let v = keyring.get(&n).map_err(|e| e.to_wire());
                (n, v)
            });
            Prefetched(values.collect())
        })
        .await
        .map_err(|e| Error::internal(format!("keyring task failed: {e}")))
    }
}

fn needed_credentials(env: &Environment) -> Vec<String> {
    let mut n: Vec<String> = env
        .hosts
        .iter()
        .filter_map(|h| h.get_ref().key_credential().map(str::to_owned))
        .collect();
    n.extend(env.database.as_ref().map(|d| d.password_credential.clone()));
    n.extend(env.database.iter().flat_map(|d| {
        d.replicas
            .iter()
            .filter_map(|r| r.password_credential.clone())
    }));
    if let Some(s) = &env.storage {
        n.push(s.access_key_credential.clone());
        n.push(s.secret_key_credential.clone());
    }
    n.extend(
        env.cache
            .as_ref()
            .and_then(|c| c.password_credential.clone()),
    );
    n.sort();
    n.dedup();
    n
}

/// Credentials read ahead of a probe run; a failed read is replayed as the
/// same error to the probe that needs it.
pub(crate) struct Prefetched(HashMap<String, std::result::Result<SecretString, WireError>>);

impl CredentialSource for Prefetched {
    fn get(&self, name: &str) -> Result<SecretString> {
        match self.0.get(name) {
            Some(Ok(v)) => Ok(v.clone()),
            Some(Err(w)) => Err(Error::from(w.clone())),
            None => Err(nfops_core::credentials::missing(name)),
        }
    }
}

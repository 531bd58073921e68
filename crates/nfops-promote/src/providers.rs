//! Provider modes on an environment's hosts: each backend host's
//! `shared/.env` read over SSH and told apart by the config's
//! `[providers.*]` rules (see [`nfops_core::config::providers`]), and what a
//! production-tier environment refuses: any provider that is not live, on
//! any host, or a host whose `.env` cannot be read (fail closed).

use std::collections::BTreeMap;
use std::path::Path;

use nfops_core::config::providers::{classify_all, Mode, Provider, ProviderMode};
use nfops_core::config::{Environment, Tier};
use nfops_core::credentials::CredentialSource;
use nfops_core::Result;
use nfops_fleet::SshSession;
use serde::{Deserialize, Serialize};

use crate::plan::backend_hosts;
use crate::plan::env_file::read_env_file;

/// The providers' modes on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostModes {
    pub host: String,
    /// In config order; empty when `error` is set.
    pub modes: Vec<ProviderMode>,
    /// Why the host's `.env` could not be read.
    pub error: Option<String>,
}

impl HostModes {
    /// Modes from a `.env` read (or the reason it could not be).
    pub fn from_env_file(
        host: &str,
        providers: &[(String, Provider)],
        env_file: std::result::Result<&BTreeMap<String, String>, String>,
    ) -> Self {
        match env_file {
            Ok(e) => Self {
                host: host.to_owned(),
                modes: classify_all(providers, e),
                error: None,
            },
            Err(why) => Self {
                host: host.to_owned(),
                modes: Vec::new(),
                error: Some(why),
            },
        }
    }
}

/// Whether `tier` must run every provider live.
pub fn live_required(tier: Tier) -> bool {
    matches!(tier, Tier::Production | Tier::Region)
}

/// Why `env` may not run as its hosts say: on a production or region tier,
/// each provider that is not live on a host, and each host whose modes are
/// unknown because its `.env` could not be read. Empty when nothing is
/// declared, or the tier does not require live providers.
pub fn refusals(
    env: &str,
    tier: Tier,
    providers: &[(String, Provider)],
    hosts: &[HostModes],
) -> Vec<String> {
    if providers.is_empty() || !live_required(tier) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for h in hosts {
        if let Some(e) = &h.error {
            out.push(format!(
                "{env} host {}: provider modes cannot be read ({e}); a {} environment must show live providers",
                h.host,
                tier.as_str()
            ));
            continue;
        }
        for m in h.modes.iter().filter(|m| m.mode != Mode::Live) {
            out.push(format!(
                "{} would run in {} mode on {env} host {} ({}); a {} environment needs live providers",
                m.label,
                m.mode.as_str(),
                h.host,
                m.evidence,
                tier.as_str()
            ));
        }
    }
    out
}

/// One line per host: `prod-app-1: Payments live, Email live`.
pub fn summary(hosts: &[HostModes]) -> String {
    hosts
        .iter()
        .map(|h| match &h.error {
            Some(e) => format!("{}: unreadable ({e})", h.host),
            None => format!(
                "{}: {}",
                h.host,
                h.modes
                    .iter()
                    .map(|m| format!("{} {}", m.label, m.mode.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads every backend host of `env` and classifies its `.env`. A host
/// that cannot be reached or read carries its error instead of modes.
pub async fn read_modes(
    env: &Environment,
    providers: &[(String, Provider)],
    creds: &dyn CredentialSource,
    known_hosts: &Path,
) -> Vec<HostModes> {
    let mut out = Vec::new();
    for h in backend_hosts(env) {
        let file: Result<BTreeMap<String, String>> = async {
            let s = SshSession::connect(&h, creds, known_hosts).await?;
            let r = read_env_file(&s, &h).await;
            s.disconnect().await;
            r
        }
        .await;
        out.push(HostModes::from_env_file(
            &h.name,
            providers,
            file.as_ref().map_err(|e| e.message().to_owned()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use toml::Spanned;

    fn providers() -> Vec<(String, Provider)> {
        let r = |s: &str| vec![Spanned::new(0..0, s.to_owned())];
        vec![(
            "payments".to_owned(),
            Provider {
                label: Some("Payments".into()),
                mock: r("PAYMENT_PROVIDER=mock"),
                test: r("PAYMENT_SECRET_KEY=sk_test_*"),
                live: r("PAYMENT_SECRET_KEY=sk_live_*"),
            },
        )]
    }

    fn host(name: &str, key: &str) -> HostModes {
        let env: BTreeMap<String, String> =
            [("PAYMENT_SECRET_KEY".to_owned(), key.to_owned())].into();
        HostModes::from_env_file(name, &providers(), Ok(&env))
    }

    #[test]
    fn production_refuses_any_host_not_live_and_unreadable_hosts() {
        let p = providers();
        let live = [host("a", "sk_live_1"), host("b", "sk_live_2")];
        assert!(refusals("production", Tier::Production, &p, &live).is_empty());
        let mixed = [host("a", "sk_live_1"), host("b", "sk_test_2")];
        let r = refusals("production", Tier::Production, &p, &mixed);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(
            r[0].contains("Payments would run in test mode on production host b")
                && r[0].contains("PAYMENT_SECRET_KEY=sk_test_*"),
            "{r:?}"
        );
        assert!(!r[0].contains("sk_test_2"), "never the value: {r:?}");
        let gone = [
            host("a", "sk_live_1"),
            HostModes::from_env_file("b", &p, Err("connection refused".into())),
        ];
        let r = refusals("eu", Tier::Region, &p, &gone);
        assert!(r.len() == 1 && r[0].contains("cannot be read"), "{r:?}");
        let unknown = [host("a", "whatever")];
        assert_eq!(
            refusals("production", Tier::Production, &p, &unknown).len(),
            1,
            "unknown fails closed"
        );
    }

    #[test]
    fn a_plan_without_declared_providers_shows_no_modes() {
        let hosts = vec![HostModes::from_env_file("a", &[], Ok(&BTreeMap::new()))];
        let none = crate::plan::ProviderModes::new(&[], hosts.clone(), hosts, Tier::Production);
        assert!(none.source.is_empty() && none.target.is_empty() && !none.target_live_required);
        let p = providers();
        let declared = crate::plan::ProviderModes::new(
            &p,
            vec![host("s", "sk_test_1")],
            vec![host("a", "sk_live_1")],
            Tier::Production,
        );
        assert_eq!((declared.source.len(), declared.target.len()), (1, 1));
        assert!(declared.target_live_required);
    }

    #[test]
    fn lower_tiers_and_undeclared_providers_refuse_nothing() {
        let mixed = [host("a", "sk_test_1")];
        assert!(refusals("staging", Tier::Staging, &providers(), &mixed).is_empty());
        assert!(refusals("production", Tier::Production, &[], &mixed).is_empty());
        assert_eq!(
            summary(&mixed),
            "a: Payments test",
            "the summary names host, provider and mode"
        );
    }
}

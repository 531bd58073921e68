//! Which mode each of the platform's outside providers (payments, email…)
//! runs in on an environment: mock, test or live, told from the
//! environment's `.env` by rules the config declares.
//!
//! ```toml
//! [providers.payments]
//! label = "Payments"
//! mock = ["PAYMENT_PROVIDER=mock"]
//! test = ["PAYMENT_SECRET_KEY=sk_test_*"]
//! live = ["PAYMENT_SECRET_KEY=sk_live_*"]
//! ```
//!
//! A rule is `KEY=pattern`: it matches when the `.env` has `KEY` and its
//! value matches the pattern, where `*` stands for any run of characters and
//! everything else is literal. Rules are tried mock first, then test, then
//! live, so a mock switch wins over a live-looking key. When no rule matches,
//! the mode is *unknown*, which a production promotion treats like a mock:
//! it fails closed. Values are never shown, only which rule matched.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{invalid, is_plain_name};
use crate::error::Result;

/// `[providers.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Shown instead of the table's name.
    pub label: Option<String>,
    #[serde(default)]
    pub mock: Vec<Spanned<String>>,
    #[serde(default)]
    pub test: Vec<Spanned<String>>,
    #[serde(default)]
    pub live: Vec<Spanned<String>>,
}

/// How a provider runs on an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Mock,
    Test,
    Live,
    /// No rule matched.
    Unknown,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Mock => "mock",
            Mode::Test => "test",
            Mode::Live => "live",
            Mode::Unknown => "unknown",
        }
    }
}

/// One provider's mode on one `.env`, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderMode {
    /// The table's name (`payments`).
    pub provider: String,
    pub label: String,
    pub mode: Mode,
    /// The rule that matched (`PAYMENT_SECRET_KEY=sk_test_*`), or which keys
    /// were looked at when none did. Never a value.
    pub evidence: String,
}

impl Provider {
    fn rules(&self) -> [(Mode, &[Spanned<String>]); 3] {
        [
            (Mode::Mock, &self.mock),
            (Mode::Test, &self.test),
            (Mode::Live, &self.live),
        ]
    }

    /// What to call the provider of table `name`: its label, else the name.
    pub fn label_for(&self, name: &str) -> String {
        self.label.clone().unwrap_or_else(|| name.to_owned())
    }

    /// The mode `env` (an `.env`'s keys and values) gives this provider.
    pub fn classify(&self, name: &str, env: &BTreeMap<String, String>) -> ProviderMode {
        let label = self.label_for(name);
        for (mode, rules) in self.rules() {
            for r in rules {
                let Some((key, pattern)) = r.get_ref().split_once('=') else {
                    continue;
                };
                if env.get(key).is_some_and(|v| glob_match(pattern, v)) {
                    return ProviderMode {
                        provider: name.to_owned(),
                        label,
                        mode,
                        evidence: format!("{} matches {mode_rule}", key, mode_rule = r.get_ref()),
                    };
                }
            }
        }
        let mut keys: Vec<&str> = self
            .rules()
            .iter()
            .flat_map(|(_, rules)| rules.iter())
            .filter_map(|r| r.get_ref().split_once('=').map(|(k, _)| k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let seen = keys
            .iter()
            .map(|k| {
                if env.contains_key(*k) {
                    format!("{k} set")
                } else {
                    format!("{k} missing")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        ProviderMode {
            provider: name.to_owned(),
            label,
            mode: Mode::Unknown,
            evidence: format!("no mock, test or live rule matches ({seen})"),
        }
    }
}

/// Every provider's mode on `env`, in config order.
pub fn classify_all(
    providers: &[(String, Provider)],
    env: &BTreeMap<String, String>,
) -> Vec<ProviderMode> {
    providers.iter().map(|(n, p)| p.classify(n, env)).collect()
}

/// `*` matches any run (empty included); everything else is literal.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    let tail: Vec<&str> = parts.collect();
    let Some((last, middle)) = tail.split_last() else {
        // No `*`: the whole value must be the pattern.
        return rest.is_empty();
    };
    for m in middle {
        match rest.find(m) {
            Some(i) => rest = &rest[i + m.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Refuses a provider without rules, a rule that is not `KEY=pattern`, or
/// a provider name that is not a plain word.
pub(super) fn validate_providers(
    path: &Path,
    text: &str,
    providers: &BTreeMap<String, Spanned<Provider>>,
) -> Result<Vec<(String, Provider)>> {
    let mut out = Vec::new();
    for (name, p) in providers {
        let at = p.span().start;
        if !is_plain_name(name) {
            return Err(invalid(
                path,
                text,
                at,
                &format!("provider name '{name}' is not allowed"),
                "Use letters, digits, '-' and '_' only, e.g. [providers.payments].",
            ));
        }
        let p = p.get_ref();
        if p.rules().iter().all(|(_, r)| r.is_empty()) {
            return Err(invalid(
                path,
                text,
                at,
                &format!("provider '{name}' has no mock, test or live rule"),
                "Add at least a live rule, e.g. live = [\"PAYMENT_SECRET_KEY=sk_live_*\"]; without rules every environment would read as unknown.",
            ));
        }
        for (mode, rules) in p.rules() {
            for r in rules {
                let key = r.get_ref().split_once('=').map(|(k, _)| k);
                let plain = key.is_some_and(|k| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
                if !plain {
                    return Err(invalid(
                        path,
                        text,
                        r.span().start,
                        &format!(
                            "rule '{}' of provider '{name}' ({}) is not KEY=pattern",
                            r.get_ref(),
                            mode.as_str()
                        ),
                        "Write the .env key, '=', then the value pattern ('*' stands for anything), e.g. \"PAYMENT_SECRET_KEY=sk_test_*\".",
                    ));
                }
            }
        }
        out.push((name.clone(), p.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: &[&str]) -> Vec<Spanned<String>> {
        v.iter()
            .map(|s| Spanned::new(0..0, (*s).to_owned()))
            .collect()
    }

    fn payments() -> Provider {
        Provider {
            label: Some("Payments".into()),
            mock: rules(&["PAYMENT_PROVIDER=mock"]),
            test: rules(&["PAYMENT_SECRET_KEY=sk_test_*"]),
            live: rules(&["PAYMENT_SECRET_KEY=sk_live_*"]),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn globs_match_whole_values_with_stars_for_runs() {
        assert!(glob_match("sk_live_*", "sk_live_abc"));
        assert!(glob_match("sk_live_*", "sk_live_"));
        assert!(!glob_match("sk_live_*", "xsk_live_abc"));
        assert!(glob_match("mock", "mock"));
        assert!(!glob_match("mock", "mocked"));
        assert!(!glob_match("mock", ""));
        assert!(glob_match("*.mailtrap.io", "smtp.mailtrap.io"));
        assert!(!glob_match("*.mailtrap.io", "smtp.mailtrap.io.evil"));
        assert!(glob_match("a*b*c", "a--b--c"));
        assert!(!glob_match("a*b*c", "a--c--b"));
        assert!(!glob_match("ab*ba", "aba"), "the ends do not overlap");
        assert!(glob_match("*", ""));
        assert!(glob_match("", ""));
    }

    #[test]
    fn mock_wins_then_test_then_live_and_nothing_matching_is_unknown() {
        let p = payments();
        let m = |pairs: &[(&str, &str)]| p.classify("payments", &env(pairs));
        let mock = m(&[
            ("PAYMENT_PROVIDER", "mock"),
            ("PAYMENT_SECRET_KEY", "sk_live_1"),
        ]);
        assert_eq!(mock.mode, Mode::Mock, "a mock switch wins over a live key");
        assert_eq!(
            mock.evidence,
            "PAYMENT_PROVIDER matches PAYMENT_PROVIDER=mock"
        );
        let test = m(&[
            ("PAYMENT_PROVIDER", "stripe"),
            ("PAYMENT_SECRET_KEY", "sk_test_9"),
        ]);
        assert_eq!(test.mode, Mode::Test);
        assert_eq!(test.label, "Payments");
        let live = m(&[("PAYMENT_SECRET_KEY", "sk_live_very-secret")]);
        assert_eq!(live.mode, Mode::Live);
        assert!(!live.evidence.contains("very-secret"));
        let unknown = m(&[("PAYMENT_SECRET_KEY", "rk_live_super-secret")]);
        assert_eq!(unknown.mode, Mode::Unknown);
        assert_eq!(
            unknown.evidence,
            "no mock, test or live rule matches (PAYMENT_PROVIDER missing, PAYMENT_SECRET_KEY set)"
        );
        assert!(!unknown.evidence.contains("super-secret"));
        assert_eq!(m(&[]).mode, Mode::Unknown, "an empty .env is unknown");
    }

    #[test]
    fn every_provider_in_config_order() {
        let providers = vec![
            ("payments".to_owned(), payments()),
            (
                "email".to_owned(),
                Provider {
                    label: None,
                    mock: rules(&["EMAIL_PROVIDER=mock", "EMAIL_PROVIDER=console"]),
                    test: Vec::new(),
                    live: rules(&["EMAIL_PROVIDER=smtp"]),
                },
            ),
        ];
        let got = classify_all(&providers, &env(&[("EMAIL_PROVIDER", "console")]));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].provider, "payments");
        assert_eq!(got[0].mode, Mode::Unknown);
        assert_eq!((got[1].label.as_str(), got[1].mode), ("email", Mode::Mock));
    }
}

//! Which settings of an environment's `.env` are public: their values may be
//! shown (old → new) in promotion plans, on screen and in stored plans.
//!
//! ```toml
//! [environments.production.settings]
//! public = ["NODE_ENV", "LOG_LEVEL"]
//! ```
//!
//! Everything not listed stays name-only. A listed name that looks like a
//! secret is a config error: marking `SMTP_PASS` public by mistake must not
//! print it.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::{invalid, Environment};
use crate::error::Result;

/// `[environments.<name>.settings]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `.env` keys whose values plans may show.
    #[serde(default)]
    pub public: Vec<Spanned<String>>,
}

impl Settings {
    /// Whether `key`'s value may be shown (listed, exactly as written).
    pub fn is_public(&self, key: &str) -> bool {
        self.public.iter().any(|p| p.get_ref() == key)
    }

    /// The public names, in config order.
    pub fn public_names(&self) -> Vec<String> {
        self.public.iter().map(|p| p.get_ref().clone()).collect()
    }
}

/// Words in a setting's name that mark it as a secret. One list for the
/// plan's secret detection and this check.
const SECRET_WORDS: &[&str] = &[
    "PASS",
    "SECRET",
    "TOKEN",
    "KEY",
    "CREDENTIAL",
    "PRIVATE",
    "DSN",
    "AUTH",
    "SALT",
    "WEBHOOK",
];

/// Whether a setting's name marks it as a secret (the value is not looked at).
pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// Refuses a public name that looks secret, or is not a plain `.env` key.
pub(super) fn validate_settings(
    path: &Path,
    text: &str,
    name: &str,
    env: &Environment,
) -> Result<()> {
    for p in &env.settings.public {
        let key = p.get_ref();
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !plain {
            return Err(invalid(
                path,
                text,
                p.span().start,
                &format!("settings.public of environment '{name}' lists '{key}', which is not an .env key"),
                "List .env key names only (letters, digits, '_').",
            ));
        }
        if looks_secret(key) {
            return Err(invalid(
                path,
                text,
                p.span().start,
                &format!(
                    "settings.public of environment '{name}' lists '{key}', which looks like a secret; its value would be shown in promotion plans"
                ),
                format!("Remove '{key}' from settings.public; secrets are compared by parity only, never shown."),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::error::ErrorCode;

    fn parse(public: &str) -> Result<Config> {
        Config::parse(
            Path::new("environments.toml"),
            &format!("version = 1\n[environments.staging]\ntier = \"staging\"\n[environments.staging.settings]\npublic = {public}\n"),
        )
    }

    #[test]
    fn public_settings_are_read_and_looked_up_by_exact_name() {
        let c = parse("[\"NODE_ENV\", \"LOG_LEVEL\"]").expect("valid");
        let s = &c.environment("staging").expect("env").settings;
        assert!(s.is_public("NODE_ENV") && s.is_public("LOG_LEVEL"));
        assert!(!s.is_public("node_env"), "names match exactly");
        assert!(!s.is_public("APP_URL"), "unlisted settings stay name-only");
    }

    #[test]
    fn a_public_name_that_looks_secret_is_a_config_error_naming_it() {
        for name in [
            "SMTP_PASS",
            "STRIPE_WEBHOOK_URL",
            "SENTRY_DSN",
            "PASSWORD_SALT",
            "api_token",
            "JWT_PRIVATE_PEM",
        ] {
            let e = parse(&format!("[\"NODE_ENV\", \"{name}\"]"))
                .err()
                .unwrap_or_else(|| panic!("{name} must not be allowed public"));
            assert_eq!(e.code(), ErrorCode::ConfigInvalid);
            assert!(
                e.message().contains(name) && e.message().contains("looks like a secret"),
                "the error names the setting: {}",
                e.message()
            );
        }
        assert!(parse("[\"A=B\"]").is_err(), "only plain key names");
    }
}

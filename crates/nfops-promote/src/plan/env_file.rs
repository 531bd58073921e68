//! The target's and source's `shared/.env`: settings compared by name and
//! kind of difference, secrets by name and parity; no value leaves here
//! (not even hashed: a low-entropy value's plain hash can be guessed),
//! except the old and new values of settings both environments' config
//! marks public (`[environments.<name>.settings] public = [...]`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use nfops_core::config::Host;
use nfops_core::Result;
use nfops_fleet::{shell_quote, SshSession};
use sha2::{Digest, Sha256};

use super::{PublicValues, SecretParity, SettingChange, SettingDiff};
use crate::release::app_dir;

/// Whether an `.env` key holds a secret (by name; the value is never looked
/// at). One list with the config's check of public settings.
pub fn is_secret_key(key: &str) -> bool {
    nfops_core::config::looks_secret(key)
}

/// `KEY=value` lines of an `.env` (comments and blanks skipped, quotes stripped).
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

fn hash(v: &str) -> [u8; 32] {
    Sha256::digest(v.as_bytes()).into()
}

/// Whether a value carries credentials by its shape: a URL with a
/// `user:password@` part (`mysql://app:pw@db/…`), whatever its key is called.
fn has_userinfo(value: &str) -> bool {
    value.split_once("://").is_some_and(|(_, rest)| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        authority.contains('@')
    })
}

/// Settings that differ (names and kind; values only for `public` names
/// that do not look secret), and secret parity.
pub fn compare_env(
    from: &BTreeMap<String, String>,
    to: &BTreeMap<String, String>,
    public: &BTreeSet<String>,
) -> (Vec<SettingDiff>, SecretParity) {
    let mut diff = Vec::new();
    let mut parity = SecretParity::default();
    let keys: BTreeSet<&String> = from.keys().chain(to.keys()).collect();
    for k in keys {
        let (a, b) = (from.get(k), to.get(k));
        let secret = is_secret_key(k)
            || a.is_some_and(|v| has_userinfo(v))
            || b.is_some_and(|v| has_userinfo(v));
        if secret {
            match (a, b) {
                (Some(_), None) => parity.missing_on_target.push(k.clone()),
                (None, Some(_)) => parity.only_on_target.push(k.clone()),
                (Some(a), Some(b)) if hash(a) == hash(b) => parity.same_value.push(k.clone()),
                (Some(_), Some(_)) => parity.different_value.push(k.clone()),
                (None, None) => {}
            }
        } else if let Some(change) = match (a, b) {
            (Some(_), None) => Some(SettingChange::Added),
            (None, Some(_)) => Some(SettingChange::Removed),
            (Some(a), Some(b)) if a != b => Some(SettingChange::Changed),
            _ => None,
        } {
            // `secret` is false here, so a public value carries no userinfo.
            let shown = public.contains(k.as_str());
            diff.push(SettingDiff {
                key: k.clone(),
                change,
                values: shown.then(|| PublicValues {
                    target: b.cloned(),
                    source: a.cloned(),
                }),
            });
        }
    }
    (diff, parity)
}

/// The `.env` of `host`'s app (empty when it has none).
pub(crate) async fn read_env_file(
    session: &SshSession,
    host: &Host,
) -> Result<BTreeMap<String, String>> {
    let path = shell_quote(&format!("{}/shared/.env", app_dir(host)));
    let out = session
        .exec_checked(
            &format!("if [ -e {path} ]; then cat -- {path}; fi"),
            Duration::from_secs(30),
        )
        .await?;
    Ok(parse_env(&out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_compare_settings_by_value_and_secrets_by_hash() {
        let a = parse_env(
            "# c\nNF_ENV=staging\nDB_PASSWORD=\"s1\"\nAPI_TOKEN=t\nONLY_A=1\nS3_ACCESS_KEY_ID=k\nDATABASE_URL=mysql://app:s3cr3t@db/x\n",
        );
        let b = parse_env("NF_ENV=production\nDB_PASSWORD=s2\nAPI_TOKEN=t\nREDIS_PASSWORD=r\nDATABASE_URL=mysql://app:other@db/x\n");
        let (diff, parity) = compare_env(&a, &b, &BTreeSet::new());
        let keys: Vec<(&str, SettingChange)> =
            diff.iter().map(|d| (d.key.as_str(), d.change)).collect();
        assert_eq!(
            keys,
            vec![
                ("NF_ENV", SettingChange::Changed),
                ("ONLY_A", SettingChange::Added)
            ],
            "non-secret keys are listed by name and kind of change"
        );
        assert_eq!(parity.missing_on_target, vec!["S3_ACCESS_KEY_ID"]);
        assert_eq!(parity.only_on_target, vec!["REDIS_PASSWORD"]);
        assert_eq!(parity.same_value, vec!["API_TOKEN"]);
        assert_eq!(
            parity.different_value,
            vec!["DATABASE_URL", "DB_PASSWORD"],
            "a URL with user:password@ is a secret whatever its key"
        );
        let json = serde_json::to_string(&(diff, parity)).expect("json");
        assert!(
            !json.contains("s1") && !json.contains("s2") && !json.contains("s3cr3t"),
            "secret values never leave: {json}"
        );
    }

    #[test]
    fn no_value_reaches_the_plan_whatever_the_key_is_called() {
        // Keys the secret-word list misses, and a plain one: all leave no value.
        let staging = parse_env(
            "SMTP_PASS=smtp-staging-1\nSLACK_WEBHOOK_URL=https://hooks.example/T1/B1/stg\nSENTRY_DSN=https://k1@sentry.example/1\nHASH_SALT=salt-stg\nFOO=foo-stg\n",
        );
        let production = parse_env(
            "SMTP_PASS=other-smtp-prod\nSLACK_WEBHOOK_URL=https://hooks.example/T1/B1/prd\nSENTRY_DSN=https://k2@sentry.example/2\nHASH_SALT=salt-prd\nFOO=foo-prd\n",
        );
        let (diff, parity) = compare_env(&staging, &production, &BTreeSet::new());
        let json = serde_json::to_string(&(&diff, &parity)).expect("json");
        for v in staging.values().chain(production.values()) {
            assert!(
                !json.contains(v.as_str()),
                "value {v:?} leaked into the plan: {json}"
            );
        }
        let named: Vec<&str> = diff
            .iter()
            .map(|d| d.key.as_str())
            .chain(parity.different_value.iter().map(String::as_str))
            .collect();
        for k in [
            "SMTP_PASS",
            "SLACK_WEBHOOK_URL",
            "SENTRY_DSN",
            "HASH_SALT",
            "FOO",
        ] {
            assert!(
                named.contains(&k),
                "{k} is still named as differing: {named:?}"
            );
        }
    }

    #[test]
    fn public_settings_show_old_and_new_values_and_nothing_else_does() {
        let a = parse_env("NODE_ENV=staging\nLOG_LEVEL=debug\nAPP_URL=https://s.example\nSMTP_PASS=p1\nSENTRY_URL=https://u:pw@sentry/1\n");
        let b = parse_env("NODE_ENV=production\nLOG_LEVEL=debug\nAPP_URL=https://p.example\nSMTP_PASS=p2\nSENTRY_URL=https://u:other@sentry/1\n");
        // SMTP_PASS and SENTRY_URL listed too: a config check refuses the
        // first, and the second carries a password; neither may be shown.
        let public: BTreeSet<String> = ["NODE_ENV", "LOG_LEVEL", "SMTP_PASS", "SENTRY_URL"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let (diff, parity) = compare_env(&a, &b, &public);
        let node = diff
            .iter()
            .find(|d| d.key == "NODE_ENV")
            .expect("NODE_ENV differs");
        let v = node
            .values
            .as_ref()
            .expect("a public setting carries its values");
        assert_eq!(
            (v.target.as_deref(), v.source.as_deref()),
            (Some("production"), Some("staging")),
            "old (target) and new (source) values"
        );
        let url = diff
            .iter()
            .find(|d| d.key == "APP_URL")
            .expect("APP_URL differs");
        assert!(url.values.is_none(), "an unlisted setting stays name-only");
        assert_eq!(parity.different_value, vec!["SENTRY_URL", "SMTP_PASS"]);
        let json = serde_json::to_string(&(diff, parity)).expect("json");
        for secret in ["p1", "p2", "pw@", "other@", "s.example", "p.example"] {
            assert!(
                !json.contains(secret),
                "{secret} must not reach the plan: {json}"
            );
        }
        assert!(
            json.contains("\"production\"") && json.contains("\"staging\""),
            "{json}"
        );
    }
}

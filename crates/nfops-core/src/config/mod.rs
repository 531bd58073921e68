//! Loading and validating `environments.toml`.
//!
//! Errors point at the file, line and column, and say how to fix the input.

mod database_tls;
pub mod edit;
mod host_auth;
mod model;
pub mod providers;
mod settings;

use std::path::{Path, PathBuf};

pub use host_auth::HostAuth;
pub use model::*;
pub use settings::{looks_secret, Settings};

use crate::error::{Error, ErrorCode, Result};

/// A loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    environments: Vec<(String, Environment)>,
    secrets_dir: Option<PathBuf>,
    update_endpoints: Vec<String>,
    providers: Vec<(String, providers::Provider)>,
}

impl Config {
    /// Reads and validates the file at `path`.
    ///
    /// Errors: `config.not_found` when it does not exist, `config.invalid`
    /// with `file:line:column` when it does not parse or validate.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorCode::ConfigNotFound,
                    format!("no environments file at {}", path.display()),
                )
                .hint("Run `nfops init` (or open the app: it sets one up step by step), pass --config, or set NFOPS_CONFIG."));
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        Self::parse(path, &text)
    }

    /// Parses `text` as if read from `path` (used in messages only).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            let message = e.message().trim().to_owned();
            let hint = hint_for_parse_error(&message);
            invalid(path, text, at, &message, hint)
        })?;
        validate(path, text, file)
    }

    /// An empty configuration (no environments), for first start.
    pub fn empty(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            environments: Vec::new(),
            secrets_dir: None,
            update_endpoints: Vec::new(),
            providers: Vec::new(),
        }
    }

    /// The secrets store folder (`[secrets] dir`, resolved against the config
    /// file's folder), when configured.
    pub fn secrets_dir(&self) -> Option<&Path> {
        self.secrets_dir.as_deref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `[updates] endpoints`: the update manifest URLs of a company mirror,
    /// in order; empty means the ones built into the app.
    pub fn update_endpoints(&self) -> &[String] {
        &self.update_endpoints
    }

    /// `[providers.*]`: the outside providers whose mode (mock, test, live)
    /// each environment's `.env` tells, in name order.
    pub fn providers(&self) -> &[(String, providers::Provider)] {
        &self.providers
    }

    /// Environments ordered by tier (local, staging, production, region), then name.
    pub fn environments(&self) -> impl Iterator<Item = (&str, &Environment)> {
        self.environments.iter().map(|(n, e)| (n.as_str(), e))
    }

    /// The environment called `name`, or `config.unknown_environment`.
    pub fn environment(&self, name: &str) -> Result<&Environment> {
        self.environments
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e)
            .ok_or_else(|| {
                let known: Vec<&str> = self.environments.iter().map(|(n, _)| n.as_str()).collect();
                Error::new(
                    ErrorCode::UnknownEnvironment,
                    format!("no environment named '{name}' in {}", self.path.display()),
                )
                .hint(if known.is_empty() {
                    "The file defines no environment yet.".to_owned()
                } else {
                    format!("Known environments: {}.", known.join(", "))
                })
            })
    }

    /// Every credential name the configuration refers to, sorted, unique.
    pub fn credential_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (_, env) in &self.environments {
            // Agent hosts need no keyring credential.
            names.extend(
                env.hosts
                    .iter()
                    .filter_map(|h| h.get_ref().key_credential().map(str::to_owned)),
            );
            if let Some(db) = &env.database {
                names.push(db.password_credential.clone());
            }
            if let Some(s) = &env.storage {
                names.push(s.access_key_credential.clone());
                names.push(s.secret_key_credential.clone());
            }
            if let Some(c) = env
                .cache
                .as_ref()
                .and_then(|c| c.password_credential.clone())
            {
                names.push(c);
            }
            if let Some(f) = &env.frontend {
                names.push(f.token_credential.clone());
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

fn hint_for_parse_error(message: &str) -> &'static str {
    let secretish = [
        "`password`",
        "`secret`",
        "`token`",
        "`secret_key`",
        "`access_key`",
        "`ssh_key`",
        "`private_key`",
    ];
    if message.contains("unknown field") && secretish.iter().any(|s| message.contains(s)) {
        "Secrets are never written in environments.toml: store the value with `nfops credentials set NAME` and reference it by name with the matching `*_credential` key."
    } else if message.contains("unknown field") {
        "Check the key's spelling against README, \"environments.toml\"."
    } else if message.contains("unknown variant") {
        "Use one of the values the message lists."
    } else {
        "Fix the TOML at that position; README, \"environments.toml\", shows a complete example."
    }
}

/// 1-based line and column of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

fn invalid(path: &Path, text: &str, at: usize, message: &str, hint: impl Into<String>) -> Error {
    let (line, col) = line_col(text, at);
    Error::new(
        ErrorCode::ConfigInvalid,
        format!("{}:{line}:{col}: {message}", path.display()),
    )
    .hint(hint)
}

/// A name of the file's own tables (environments, providers): letters,
/// digits, '-' and '_', not empty.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn validate(path: &Path, text: &str, file: ConfigFile) -> Result<Config> {
    if *file.version.get_ref() != 1 {
        return Err(invalid(
            path,
            text,
            file.version.span().start,
            &format!("unsupported version {}", file.version.get_ref()),
            "This console reads version = 1.",
        ));
    }
    let secrets_dir = match &file.secrets {
        None => None,
        Some(s) => {
            let dir = s.dir.get_ref().trim();
            if dir.is_empty() {
                return Err(invalid(
                    path,
                    text,
                    s.dir.span().start,
                    "secrets.dir is empty",
                    "Name the folder holding <env>.env.age and <env>.recipients, e.g. dir = \"secrets\".",
                ));
            }
            let base = path.parent().unwrap_or(Path::new("."));
            Some(base.join(dir))
        }
    };
    let update_endpoints = validate_update_endpoints(path, text, &file)?;
    let providers = providers::validate_providers(path, text, &file.providers)?;
    let mut environments = Vec::new();
    for (name, env) in file.environments {
        let span = env.span();
        let mut env = env.into_inner();
        if !is_plain_name(&name) {
            return Err(invalid(
                path,
                text,
                span.start,
                &format!("environment name '{name}' is not allowed"),
                "Use letters, digits, '-' and '_' only.",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for h in &env.hosts {
            if !seen.insert(h.get_ref().name.clone()) {
                return Err(invalid(
                    path,
                    text,
                    h.span().start,
                    &format!(
                        "host name '{}' appears twice in environment '{name}'",
                        h.get_ref().name
                    ),
                    "Give each host of an environment its own name.",
                ));
            }
        }
        let replica_vias = env
            .database
            .iter()
            .flat_map(|d| d.replicas.iter().filter_map(|r| r.via.as_ref()));
        validate_host_keys(path, text, &name, &env)?;
        host_auth::validate_host_auth(path, text, &name, &env)?;
        settings::validate_settings(path, text, &name, &env)?;
        let vias = [
            env.database.as_ref().and_then(|d| d.via.as_ref()),
            env.cache.as_ref().and_then(|c| c.via.as_ref()),
        ];
        for via in vias.into_iter().flatten().chain(replica_vias) {
            if !env.hosts.iter().any(|h| &h.get_ref().name == via.get_ref()) {
                return Err(invalid(
                    path,
                    text,
                    via.span().start,
                    &format!("'via' names host '{}', which environment '{name}' does not define", via.get_ref()),
                    "Name one of this environment's [[hosts]], or remove 'via' to connect directly.",
                ));
            }
        }
        if let Some(s) = &env.storage {
            if s.buckets.get_ref().is_empty() {
                return Err(invalid(
                    path,
                    text,
                    s.buckets.span().start,
                    "storage.buckets is empty",
                    "List the environment's buckets.",
                ));
            }
            if let Some(b) = s
                .buckets
                .get_ref()
                .iter()
                .find(|b| b.len() < 3 || b.len() > 63)
            {
                return Err(invalid(
                    path,
                    text,
                    s.buckets.span().start,
                    &format!("bucket name '{b}' must be 3 to 63 characters"),
                    "Use the bucket's exact S3 name.",
                ));
            }
        }
        if let Some(r) = env.backup.as_ref().and_then(|b| b.recipients.as_ref()) {
            let keys = r.get_ref();
            let bad = keys.iter().find(|k| {
                !(k.starts_with("age1")
                    && k.len() > 50
                    && k.chars().all(|c| c.is_ascii_alphanumeric()))
            });
            if keys.is_empty() || bad.is_some() {
                let secret =
                    bad.is_some_and(|k| k.to_ascii_uppercase().starts_with("AGE-SECRET-KEY"));
                return Err(invalid(
                    path,
                    text,
                    r.span().start,
                    if secret {
                        "backup.recipients holds a secret key"
                    } else {
                        "backup.recipients must list age public keys (age1…)"
                    },
                    if secret {
                        "Never write a secret key here: list only public keys (`age-keygen -y KEYFILE` prints one) and remove this key from the file's history."
                    } else {
                        "List the team's age X25519 public keys, e.g. recipients = [\"age1…\"], or remove the key to use your own."
                    },
                ));
            }
        }
        if let Some(s) = env.backup.as_ref().and_then(|b| b.signers.as_ref()) {
            if let Some((name, key)) = s
                .get_ref()
                .iter()
                .find(|(n, k)| !signer_name_ok(n) || !signer_key_ok(k))
            {
                let secret = key.to_ascii_uppercase().contains("SECRET");
                return Err(invalid(
                    path,
                    text,
                    s.span().start,
                    &if secret {
                        format!("backup.signers.{name} holds a secret key")
                    } else {
                        format!("backup.signers.{name} is not a signer's public key (ed25519:<64 hex digits>) under a plain name")
                    },
                    if secret {
                        "Never write a signing key here: list only public keys (`nfops backup signing-key` prints yours) and remove this key from the file's history."
                    } else {
                        "Add each operator's key as printed by `nfops backup signing-key`, e.g. alice = \"ed25519:…\"."
                    },
                ));
            }
        }
        if let Some(b) = &env.backup {
            let (min, max) = (*b.min_age_days.get_ref(), *b.max_age_days.get_ref());
            if min > max {
                return Err(invalid(
                    path,
                    text,
                    b.min_age_days.span().start,
                    &format!("backup.min_age_days ({min}) is greater than max_age_days ({max})"),
                    "The platform keeps backups 30 to 180 days: min_age_days = 30, max_age_days = 180.",
                ));
            }
        }
        if let Some(o) = env.backup.as_ref().and_then(|b| b.offsite.as_ref()) {
            let e = o.endpoint.get_ref();
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(invalid(
                    path,
                    text,
                    o.endpoint.span().start,
                    "backup.offsite.endpoint must start with http:// or https://",
                    "Give the S3 API URL, e.g. https://s3.eu-central-1.amazonaws.com.",
                ));
            }
            let b = o.bucket.get_ref();
            if b.len() < 3 || b.len() > 63 || b.contains('/') {
                return Err(invalid(
                    path,
                    text,
                    o.bucket.span().start,
                    &format!(
                        "backup.offsite.bucket '{b}' must be a bucket name of 3 to 63 characters"
                    ),
                    "Use the bucket's exact S3 name; put folders in backup.offsite.prefix.",
                ));
            }
        }
        if let Some(u) = &env.health_url {
            if !(u.get_ref().starts_with("http://") || u.get_ref().starts_with("https://")) {
                return Err(invalid(
                    path,
                    text,
                    u.span().start,
                    "health_url must start with http:// or https://",
                    "Give the full URL, e.g. https://api.example.com/health.",
                ));
            }
        }
        validate_uptime(path, text, &name, &env)?;
        database_tls::resolve(path, text, &name, &mut env)?;
        environments.push((name, env));
    }
    environments.sort_by(|a, b| a.1.tier.cmp(&b.1.tier).then_with(|| a.0.cmp(&b.0)));
    Ok(Config {
        path: path.to_owned(),
        environments,
        secrets_dir,
        update_endpoints,
        providers,
    })
}

/// `[updates] endpoints`: full http(s) URLs, at least one when the table is
/// there (an empty list would silently mean "the built-in server").
fn validate_update_endpoints(path: &Path, text: &str, file: &ConfigFile) -> Result<Vec<String>> {
    let Some(updates) = &file.updates else {
        return Ok(Vec::new());
    };
    if updates.endpoints.is_empty() {
        return Err(invalid(
            path,
            text,
            0,
            "updates.endpoints is empty",
            "List the latest.json URLs of your mirror, or remove [updates] to use the built-in one.",
        ));
    }
    let mut urls = Vec::new();
    for e in &updates.endpoints {
        let url = e.get_ref().trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(invalid(
                path,
                text,
                e.span().start,
                "updates.endpoints entries must start with https:// (or http:// for a test server)",
                "Give the full URL of the manifest, e.g. https://mirror.example.com/nfops/latest.json.",
            ));
        }
        urls.push(url.to_owned());
    }
    Ok(urls)
}

/// The uptime probes of one environment: unique names, intervals of at
/// least 20 s, targets that fit the check.
/// Production and region hosts must pin their SSH host key: trusting the
/// first key seen would let whoever answers first on that address (a
/// spoofed DNS name, a hijacked IP) become "production" for good, with the
/// deploy key and the database tunnel handed to it. Staging and local hosts
/// may still be trusted on first use (recorded in known_hosts). Any
/// `host_key` given must be a `SHA256:` fingerprint.
fn validate_host_keys(path: &Path, text: &str, name: &str, env: &Environment) -> Result<()> {
    let pinned_tier = matches!(env.tier, Tier::Production | Tier::Region);
    for h in &env.hosts {
        let host = h.get_ref();
        // The host's span may start at its environment; point at its name.
        let start = h.span().start.min(text.len());
        let at = text[start..]
            .find(&format!("\"{}\"", host.name))
            .map_or(start, |i| start + i);
        match host.host_key.as_deref().map(str::trim) {
            None | Some("") if pinned_tier => {
                return Err(invalid(
                    path,
                    text,
                    at,
                    &format!(
                        "host '{}' of {} environment '{name}' has no host_key: {} hosts must pin their SSH host key",
                        host.name,
                        env.tier.as_str(),
                        env.tier.as_str()
                    ),
                    format!(
                        "Read the fingerprint on the host itself (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) or over a channel you trust, and add host_key = \"SHA256:…\" to host '{}'.",
                        host.name
                    ),
                ));
            }
            Some(k)
                if !k
                    .split_whitespace()
                    .any(|t| t.len() > 7 && t.starts_with("SHA256:")) =>
            {
                return Err(invalid(
                    path,
                    text,
                    at,
                    &format!("host_key of host '{}' is not a SHA256 fingerprint", host.name),
                    "Write it as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it, e.g. host_key = \"SHA256:abc…\" (MD5 fingerprints are not accepted).",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn validate_uptime(path: &Path, text: &str, name: &str, env: &Environment) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for p in &env.uptime {
        let probe = p.get_ref();
        if !seen.insert(probe.name.as_str()) {
            return Err(invalid(
                path,
                text,
                p.span().start,
                &format!(
                    "uptime probe '{}' appears twice in environment '{name}'",
                    probe.name
                ),
                "Give each uptime probe of an environment its own name.",
            ));
        }
        if *probe.interval_seconds.get_ref() < 20 {
            return Err(invalid(
                path,
                text,
                probe.interval_seconds.span().start,
                &format!(
                    "uptime probe '{}': interval_seconds {} is below the minimum of 20",
                    probe.name,
                    probe.interval_seconds.get_ref()
                ),
                "Use interval_seconds = 20 or more.",
            ));
        }
        let target = probe.target.get_ref();
        let fits = match probe.check {
            UptimeCheck::Http => target.starts_with("http://") || target.starts_with("https://"),
            UptimeCheck::Tcp | UptimeCheck::Tls => target
                .rsplit_once(':')
                .is_some_and(|(h, port)| !h.is_empty() && port.parse::<u16>().is_ok()),
        };
        if !fits {
            return Err(invalid(
                path,
                text,
                probe.target.span().start,
                &format!(
                    "uptime probe '{}': target '{target}' does not fit the check",
                    probe.name
                ),
                "http probes take a URL (https://host/health); tcp and tls probes take host:port.",
            ));
        }
    }
    Ok(())
}

/// A signer's name in `backup.signers`: letters, digits, `-`, `_`, `.`.
fn signer_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A signer's public key: `ed25519:` and 64 hex digits (checked as a curve
/// point where it is used, in `nfops_backup::signature`).
fn signer_key_ok(key: &str) -> bool {
    key.strip_prefix("ed25519:")
        .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests;

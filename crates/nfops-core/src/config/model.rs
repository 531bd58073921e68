//! The environment model as written in `environments.toml`.
//!
//! The file holds no secret: every credential is a *name* (`*_credential`)
//! whose value lives in the OS keyring. Unknown keys are rejected so a typo
//! never silently disables a setting.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Format version of the file; only `1` exists.
    #[serde(default = "default_version")]
    pub version: Spanned<u32>,
    #[serde(default)]
    pub environments: BTreeMap<String, Spanned<Environment>>,
    /// Where the age-encrypted secrets store lives.
    pub secrets: Option<SecretsStore>,
    /// Where the desktop app looks for updates (a company mirror).
    pub updates: Option<Updates>,
    /// The outside providers (payments, email…) and the rules that tell
    /// their mode from an environment's `.env`.
    #[serde(default)]
    pub providers: BTreeMap<String, Spanned<super::providers::Provider>>,
}

/// `[updates]`: the update manifests (`latest.json`) the desktop app reads
/// instead of the ones built into it, e.g. a company S3 bucket or any static
/// server. Tried in order; the first that answers wins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Updates {
    pub endpoints: Vec<Spanned<String>>,
}

/// `[secrets]`: the folder holding `<env>.env.age` and `<env>.recipients`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsStore {
    /// The folder, relative to the config file's folder unless absolute.
    pub dir: Spanned<String>,
}

fn default_version() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

/// How critical an environment is; drives ordering, confirmations and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Local,
    Staging,
    Production,
    Region,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Local => "local",
            Tier::Staging => "staging",
            Tier::Production => "production",
            Tier::Region => "region",
        }
    }
}

/// One environment: where each part of the platform runs and how to reach it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub tier: Tier,
    /// Human label shown on cards; defaults to the environment's name.
    pub label: Option<String>,
    /// Backend health URL, through the load balancer / nginx.
    pub health_url: Option<Spanned<String>>,
    #[serde(default)]
    pub hosts: Vec<Spanned<Host>>,
    pub database: Option<Database>,
    pub storage: Option<Storage>,
    pub cache: Option<Cache>,
    pub monitoring: Option<Monitoring>,
    pub frontend: Option<Frontend>,
    pub backup: Option<BackupPolicy>,
    /// Uptime probes (`[[environments.<name>.uptime]]`). When none is given
    /// and `health_url` is set, the console probes `health_url` for a 200.
    #[serde(default)]
    pub uptime: Vec<Spanned<UptimeProbe>>,
    /// Settings whose values plans may show (`[environments.<name>.settings]`).
    #[serde(default)]
    pub settings: super::Settings,
}

/// A VPS host running backends and workers under PM2, reached over SSH.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub name: String,
    pub address: String,
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    pub user: String,
    /// Keyring credential holding the OpenSSH private key (with the default
    /// `ssh_auth = "key"`).
    pub ssh_key_credential: Option<String>,
    /// How the host is logged in to: `key` (default: the keyring key above)
    /// or `agent` (the running ssh-agent; Pageant or the OpenSSH agent's pipe
    /// on Windows). See [`Host::auth`].
    pub ssh_auth: Option<SshAuth>,
    /// With `ssh_auth = "agent"`: the `SHA256:` fingerprint of the one agent
    /// identity to use. Without it each identity the agent offers is tried.
    pub agent_key: Option<String>,
    /// With `ssh_auth = "agent"`: the agent's socket (a Windows pipe name on
    /// Windows) instead of `SSH_AUTH_SOCK` / the default pipe and Pageant;
    /// for agents such as 1Password or Secretive that listen elsewhere.
    pub agent_socket: Option<String>,
    /// Expected host key fingerprint (`SHA256:...`). When absent the first key
    /// seen is trusted and remembered (trust on first use).
    pub host_key: Option<String>,
    /// Folder with `releases/<id>/` and the `current` symlink.
    pub app_dir: String,
    /// `PM2_HOME` on the host, when not the user's default.
    pub pm2_home: Option<String>,
    /// Roles of the host: `backend`, `worker`, `bastion`.
    #[serde(default = "default_roles")]
    pub roles: Vec<String>,
}

/// See [`Host::ssh_auth`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SshAuth {
    Key,
    Agent,
}

fn default_ssh_port() -> u16 {
    22
}

fn default_roles() -> Vec<String> {
    vec!["backend".into(), "worker".into()]
}

/// The MySQL/MariaDB database of the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub host: String,
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password_credential: String,
    /// Name of a host of this environment to tunnel through (the DB is
    /// firewalled); the connection then goes to `host:port` as seen from it.
    pub via: Option<Spanned<String>>,
    /// Replicas of this database (GTID replication). A restore refuses to
    /// start unless each one replicates with bounded lag, and checks after
    /// the swap that each one holds the same tables (README, Restores).
    #[serde(default)]
    pub replicas: Vec<Replica>,
    /// TLS for the connections to this database and its replicas (none:
    /// plain, even when the server offers TLS). README, "Database TLS".
    pub tls: Option<DatabaseTls>,
    /// A PEM file of the CA that signed the server's certificate, trusted
    /// besides the OS trust store (`tls = "verify-ca"` only). Relative to
    /// the config file's folder; resolved to that full path when loaded.
    pub tls_ca: Option<Spanned<String>>,
}

/// `database.tls`: how the console's MySQL connections are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum DatabaseTls {
    /// Encrypted, the server's certificate not checked (as `mysql
    /// --ssl-mode=REQUIRED`): stops eavesdroppers, not an impostor.
    #[serde(rename = "required")]
    Required,
    /// Encrypted, and the certificate must chain to the OS trust store or
    /// `tls_ca`; its host name is not checked, so it also fits a database
    /// reached through an SSH tunnel's 127.0.0.1.
    #[serde(rename = "verify-ca")]
    VerifyCa,
}

impl DatabaseTls {
    /// As written in environments.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseTls::Required => "required",
            DatabaseTls::VerifyCa => "verify-ca",
        }
    }
}

/// A replica of the environment's database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replica {
    /// How the operator knows it ("prod-db-2").
    pub name: String,
    pub host: String,
    pub port: u16,
    /// Defaults to the database's user and credential.
    pub user: Option<String>,
    pub password_credential: Option<String>,
    /// A host of this environment to tunnel through, as for the database.
    pub via: Option<Spanned<String>>,
    /// The most replication lag a restore accepts before it starts (default 30 s).
    pub max_lag_seconds: Option<u64>,
}

impl Replica {
    /// The lag bound a restore accepts.
    pub fn max_lag(&self) -> u64 {
        self.max_lag_seconds.unwrap_or(30)
    }
}

/// S3-compatible object storage with versioned buckets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    pub endpoint: String,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default)]
    pub path_style: bool,
    pub buckets: Spanned<Vec<String>>,
    pub access_key_credential: String,
    pub secret_key_credential: String,
}

fn default_region() -> String {
    "us-east-1".into()
}

/// Redis, used as cache and queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub db: u16,
    /// Every key of this environment starts with it; flushes touch only these.
    pub key_prefix: Option<String>,
    pub password_credential: Option<String>,
    pub via: Option<Spanned<String>>,
}

/// Prometheus and friends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    pub prometheus_url: String,
    /// Label matcher selecting this environment's series, e.g. `env="production"`.
    pub selector: Option<String>,
    pub loki_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrontendProvider {
    Vercel,
    Netlify,
}

/// The static frontend on Vercel or Netlify.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frontend {
    pub provider: FrontendProvider,
    /// Vercel project id or Netlify site id.
    pub project: String,
    /// API base URL; defaults to the provider's public API.
    pub api_url: Option<String>,
    pub token_credential: String,
}

/// Retention and schedule of backups (grandfather-father-son).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupPolicy {
    #[serde(default = "d7")]
    pub keep_daily: u32,
    #[serde(default = "d4")]
    pub keep_weekly: u32,
    #[serde(default = "d6")]
    pub keep_monthly: u32,
    #[serde(default = "d30")]
    pub min_age_days: Spanned<u32>,
    #[serde(default = "d180")]
    pub max_age_days: Spanned<u32>,
    /// Warn when the newest good backup is older than this many hours.
    #[serde(default = "d26")]
    pub max_staleness_hours: u32,
    /// Warn (on the Overview) when the last successful restore drill of the
    /// environment is older than this many days, or there is none.
    #[serde(default = "d30_days")]
    pub drill_max_age_days: u32,
    /// age X25519 public keys (`age1…`) backups are encrypted to (the team's
    /// keys). When absent, the operator's own key (`nfops/age-identity`).
    pub recipients: Option<Spanned<Vec<String>>>,
    /// Who may sign this environment's backups: name → ed25519 public key
    /// (`ed25519:<64 hex>`, printed by `nfops backup signing-key`). Verify,
    /// restore and drill refuse a backup not signed by one of them.
    #[serde(default)]
    pub signers: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// Local folder for backups; default `$NFOPS_HOME/backups`, else
    /// `backups` in the console's data folder.
    pub destination: Option<String>,
    /// An S3 bucket as the backup destination (instead of a local folder):
    /// each backup is written locally under `destination` first, uploaded
    /// (manifest last), read back, and then removed locally.
    pub s3: Option<ObjectDestination>,
    /// An S3 bucket that receives a verified copy of each backup.
    pub offsite: Option<ObjectDestination>,
    /// What a backup does when a bucket of `storage` has versioning off (its
    /// snapshot could not bring anything back): `refuse` (default) fails the
    /// backup; `warn` takes it without that bucket's snapshot and says so in
    /// the manifest and the job.
    #[serde(default)]
    pub unversioned_buckets: UnversionedBuckets,
}

/// See [`BackupPolicy::unversioned_buckets`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnversionedBuckets {
    #[default]
    Refuse,
    Warn,
}

/// An S3-compatible bucket holding backup copies under
/// `<prefix>/<env>/<backup-id>/`. Keys come from the keyring (the same
/// credential names as `storage` may be reused).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectDestination {
    pub endpoint: Spanned<String>,
    #[serde(default = "default_region")]
    pub region: String,
    #[serde(default)]
    pub path_style: bool,
    pub bucket: Spanned<String>,
    /// Key prefix (no leading or trailing `/`); empty puts `<env>/` at the root.
    #[serde(default)]
    pub prefix: String,
    pub access_key_credential: String,
    pub secret_key_credential: String,
}

fn d7() -> u32 {
    7
}
fn d4() -> u32 {
    4
}
fn d6() -> u32 {
    6
}
fn d26() -> u32 {
    26
}
fn d30_days() -> u32 {
    30
}
fn d30() -> Spanned<u32> {
    Spanned::new(0..0, 30)
}
fn d180() -> Spanned<u32> {
    Spanned::new(0..0, 180)
}

/// What an uptime probe checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UptimeCheck {
    /// `GET target` (a URL): up when the status is `expect_status` and the
    /// body contains `keyword` (when given).
    Http,
    /// A TCP connect to `target` (`host:port`).
    Tcp,
    /// A TLS handshake with `target` (`host:port`): up when the certificate
    /// is valid and expires in more than `min_cert_days` days.
    Tls,
}

/// One uptime probe of an environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UptimeProbe {
    /// Unique within the environment; names the probe's history.
    pub name: String,
    pub check: UptimeCheck,
    /// A URL for `http`, `host:port` for `tcp` and `tls`.
    pub target: Spanned<String>,
    /// `http` only: the status that means up (default 200).
    pub expect_status: Option<u16>,
    /// `http` only: text the body must contain.
    pub keyword: Option<String>,
    /// Seconds between checks; at least 20.
    #[serde(default = "d60")]
    pub interval_seconds: Spanned<u32>,
    /// Consecutive failures before the probe counts as down (and notifies).
    #[serde(default = "d3")]
    pub failures_before_down: u32,
    /// `tls` only: fewer days left on the certificate than this is a failure.
    #[serde(default = "d14")]
    pub min_cert_days: u32,
}

fn d60() -> Spanned<u32> {
    Spanned::new(0..0, 60)
}
fn d3() -> u32 {
    3
}
fn d14() -> u32 {
    14
}

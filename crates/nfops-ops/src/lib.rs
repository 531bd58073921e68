//! The console's use cases, shared by the desktop app and the `nfops` CLI.
//!
//! [`Console`] is the one entry point both front ends hold: it owns the
//! resolved paths, the state database, the audit log and the keyring, and
//! reads `environments.toml` fresh on every call so edits take effect
//! without a restart.
//!
//! Wiring and audit only: a use case opens the config, looks up credentials,
//! calls the domain crate that owns the work (its steps live there, never
//! here) and records the audit entry. Depends on every domain crate; must
//! never depend on `tauri`, a UI or the CLI, so both front ends share it.

mod backup;
mod cache_charts;
mod cockpit;
mod credentials;
mod exports;
mod guard;
mod logs;
mod markers;
mod metrics;
mod overview;
mod promote;
mod providers;
mod restore;
mod scale;
mod secrets;
mod secrets_push;
mod setup;
mod uptime;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use backup::{forget_ids, ForgetOutcome, OffsitePlan, Staleness};
pub use cockpit::{BackupFact, Change, Cockpit, DrillFact, PromotionFact};
pub use credentials::{CredentialState, CredentialStatus};
pub use guard::needs_typed_confirmation;
pub use logs::{LogTail, MAX_LINES};
pub use nfops_backup::BackupOutcome;
use nfops_core::audit::AuditLog;
use nfops_core::config::Config;
use nfops_core::jobs::{JobRunner, JobStore};
pub use nfops_core::lease::ProcessKind;
use nfops_core::paths::Paths;
use nfops_core::state::State;
use nfops_core::Result;
use nfops_vault::Keyring;
pub use promote::{FinalHost, PromotionOutcome, PromotionRecord, PromotionState};
pub use providers::EnvProviderModes;
pub use restore::{
    drill_staleness, Drill, DrillStaleness, RestoreRun, RestoreScope, SavedReport,
    DEFAULT_DRILL_MAX_AGE_DAYS,
};
pub use scale::{
    CapacityForecast, EnvironmentInstances, HostInstances, HostScale, ScaleOutcome, ScalePlan,
    BACKEND_APP, CPU_LIMIT, CPU_TARGET,
};
pub use secrets::{RecipientChange, SecretsDiff, SecretsListing};
pub use secrets_push::{HostPushPlan, PushOutcome, PushPlan};
pub use setup::{ConfigPreview, InitOutcome};
pub use uptime::{UptimeEvent, UptimeReport};

/// The console: paths, state, audit log and keyring, opened once per process.
#[derive(Clone)]
pub struct Console {
    paths: Paths,
    state: State,
    audit: AuditLog,
    jobs: JobStore,
    keyring: Arc<Keyring>,
    /// This machine's metrics, sampled while the process runs (no-Prometheus fallback).
    local_metrics: Arc<nfops_metrics::LocalMetrics>,
    /// Which front end this is, recorded in the environment leases it holds.
    process_kind: ProcessKind,
    /// The lease this console acts under (set by [`Console::holding`]): its
    /// jobs stop once it is lost.
    lease_watch: Option<nfops_core::lease::LeaseWatch>,
}

impl Console {
    /// Resolves paths, opens (and migrates) the state database and marks jobs
    /// left running by a crashed process as interrupted.
    pub async fn open(config_override: Option<&Path>) -> Result<Self> {
        let paths = Paths::resolve(config_override)?;
        let state = State::open(&paths.state_dir).await?;
        let jobs = JobStore::new(state.clone());
        let interrupted = jobs
            .recover_interrupted(chrono::Duration::seconds(30))
            .await?;
        for id in &interrupted {
            tracing::warn!(category = "worker", job = %id, "job was interrupted by a crash or kill; it shows as interrupted");
        }
        let keyring = Arc::new(Keyring::new());
        let audit = AuditLog::new(state.clone(), keyring.clone());
        // A move of an older version's folders made while resolving the
        // paths is audited now that the log is open; if it cannot be, the
        // note stays for the next start.
        if let Err(e) = nfops_core::paths::record_pending_move(&paths.state_dir, &audit).await {
            tracing::warn!(category = "application", error = %e, "the move of the console's files could not be audited yet; retried at the next start");
        }
        Ok(Self {
            audit,
            jobs,
            state,
            paths,
            keyring,
            local_metrics: Arc::new(nfops_metrics::LocalMetrics::new()),
            process_kind: ProcessKind::Cli,
            lease_watch: None,
        })
    }

    /// The same console recorded as `kind` in the leases it takes (the app
    /// says `App`; the default is `Cli`).
    #[must_use]
    pub fn with_process_kind(mut self, kind: ProcessKind) -> Self {
        self.process_kind = kind;
        self
    }

    pub fn process_kind(&self) -> ProcessKind {
        self.process_kind
    }

    /// Who holds `env`'s lease now (live or expired), for the UI and CLI.
    pub async fn lease_holder(&self, env: &str) -> Result<Option<nfops_core::lease::Holder>> {
        nfops_core::lease::holder(&self.state, env).await
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn config_path(&self) -> &Path {
        &self.paths.config_file
    }

    /// Reads and validates `environments.toml` now.
    pub fn config(&self) -> Result<Config> {
        Config::load(&self.paths.config_file)
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub fn jobs(&self) -> &JobStore {
        &self.jobs
    }

    pub fn job_runner(&self) -> JobRunner {
        JobRunner::new(self.jobs.clone()).watching(self.lease_watch.clone())
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    /// Where trusted SSH host keys are remembered (trust on first use).
    pub fn known_hosts(&self) -> PathBuf {
        self.paths.state_dir.join("known_hosts")
    }
}

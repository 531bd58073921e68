//! The promotion job (`promote.apply`) and its rollback job
//! (`promote.rollback`), one file per step:
//!
//! - [`gates`]: every gate evaluated (every finding, not only the first);
//!   the backup is taken last, only when every other gate passed.
//! - [`stage`]: the artifact onto each target host, checked on arrival.
//! - [`switch`]: one host's `current` symlink and `pm2 reload`, then health;
//!   the frontend deploy.
//! - [`migrations`]: the release's migrations recorded in the target database.
//! - [`verify`]: health and metrics against the baseline for the window.
//! - [`rollback`]: every switched host and the frontend back, then checked.
//! - [`outcome`]: how the promotion ended, in words, for history and audit.
//!
//! Invariants:
//! - A host is recorded as switched *before* its symlink command is sent, so
//!   a connection lost mid-command still gets the host rolled back (rolling
//!   back a host that did not switch is harmless: same link, one reload).
//! - The SSH session used to switch a host is kept for its rollback: a
//!   session that is already open survives sshd going away; when it is dead
//!   too, the rollback reconnects for up to [`RECONNECT_FOR`].
//! - Only one production host changes at a time; the next starts after the
//!   previous one answered healthy through the entry point.

pub mod gates;
pub mod migrations;
pub mod outcome;
pub mod rollback;
pub mod stage;
pub mod switch;
pub mod verify;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nfops_core::config::providers::Provider;
use nfops_core::config::{Environment, Host};
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{
    CancellationToken, JobReport, JobRunner, JobState, Plan, PlannedStep, Progress, Step, StepState,
};
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::SshSession;
use nfops_metrics::Prometheus;
use serde::{Deserialize, Serialize};

use crate::frontend::FrontendDriver;
use crate::health::client;
use crate::plan::{backend_hosts, PromotionPlan};
use crate::release::current_release;
use crate::verify::Measurement;
use gates::{Backups, GateResult};

/// How long a rollback keeps trying to reach a host whose session died.
pub const RECONNECT_FOR: Duration = Duration::from_secs(60);

/// One verification sample, kept with the promotion.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifySample {
    /// Seconds since the verification started.
    pub at_secs: f64,
    pub release: String,
    pub health_ok: bool,
    pub metrics: Option<Measurement>,
    pub problem: Option<String>,
}

/// What a run found out, shared by its steps.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// Hosts whose switch was attempted, with the release they ran before.
    pub switched: Vec<(String, String)>,
    /// The pre-promotion baseline of the target's running release.
    pub baseline: Option<Measurement>,
    pub verification: Vec<VerifySample>,
    pub rollback_verification: Vec<VerifySample>,
    /// The frontend deploy live before, when the frontend was switched.
    pub frontend_switched_from: Option<String>,
    pub frontend_to: Option<String>,
}

/// Everything the steps of one promotion share.
pub struct Run {
    pub plan: PromotionPlan,
    pub from_env: Environment,
    pub to_env: Environment,
    pub creds: Arc<dyn CredentialSource>,
    pub known_hosts: PathBuf,
    pub record: Mutex<RunRecord>,
    pub frontend: Option<Arc<dyn FrontendDriver>>,
    /// `[providers.*]` of the config, for the provider-modes gate.
    pub providers: Vec<(String, Provider)>,
    sessions: tokio::sync::Mutex<HashMap<String, Arc<SshSession>>>,
    http: reqwest::Client,
}

impl Run {
    /// Errors: `internal` when the HTTP client cannot be built.
    pub fn new(
        plan: PromotionPlan,
        from_env: Environment,
        to_env: Environment,
        creds: Arc<dyn CredentialSource>,
        known_hosts: PathBuf,
        frontend: Option<Arc<dyn FrontendDriver>>,
        providers: Vec<(String, Provider)>,
    ) -> Result<Self> {
        Ok(Self {
            plan,
            from_env,
            to_env,
            creds,
            known_hosts,
            record: Mutex::new(RunRecord::default()),
            frontend,
            providers,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
            http: client()?,
        })
    }

    pub fn record(&self) -> RunRecord {
        self.record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether any host or the frontend was (or may have been) switched.
    pub fn changed_anything(&self) -> bool {
        let rec = self.record();
        !rec.switched.is_empty() || rec.frontend_switched_from.is_some()
    }

    fn with_record(&self, f: impl FnOnce(&mut RunRecord)) {
        f(&mut self.record.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn release_id(&self) -> &str {
        self.plan.release.as_ref().map_or("", |r| r.id.as_str())
    }

    /// The target's entry point health URL.
    ///
    /// Errors: `input.invalid` when the environment has no `health_url`.
    pub fn health_url(&self, env: &Environment, name: &str) -> Result<String> {
        env.health_url
            .as_ref()
            .map(|u| u.get_ref().clone())
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidInput,
                    format!("environment '{name}' has no health_url; promotions check health through it"),
                )
                .hint("Set health_url (the entry point, e.g. nginx) in environments.toml.")
            })
    }

    pub fn prometheus(&self) -> Result<(Prometheus, Option<String>)> {
        let m = self.to_env.monitoring.as_ref().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidInput,
                format!("environment '{}' has no monitoring.prometheus_url; a promotion cannot be verified without metrics", self.plan.to_env),
            )
            .hint("Configure [environments.<env>.monitoring] in environments.toml.")
        })?;
        Ok((
            Prometheus::new(&m.prometheus_url, Duration::from_secs(5))?,
            m.selector.clone(),
        ))
    }

    fn host(&self, env: &Environment, name: &str) -> Result<Host> {
        backend_hosts(env)
            .into_iter()
            .find(|h| h.name == name)
            .ok_or_else(|| {
                Error::internal(format!("host '{name}' is not in the environment any more"))
            })
    }

    async fn connect(&self, host: &Host) -> Result<SshSession> {
        SshSession::connect(host, self.creds.as_ref(), &self.known_hosts).await
    }

    /// The kept session of `host`, or a new one (kept).
    async fn session(&self, host: &Host) -> Result<Arc<SshSession>> {
        if let Some(s) = self.sessions.lock().await.get(&host.name) {
            return Ok(Arc::clone(s));
        }
        let s = Arc::new(self.connect(host).await?);
        self.sessions
            .lock()
            .await
            .insert(host.name.clone(), Arc::clone(&s));
        Ok(s)
    }

    async fn forget_session(&self, host: &str) {
        self.sessions.lock().await.remove(host);
    }

    /// Closes every kept session.
    pub async fn close(&self) {
        let all: Vec<Arc<SshSession>> =
            self.sessions.lock().await.drain().map(|(_, s)| s).collect();
        for s in all {
            s.disconnect().await;
        }
    }

    /// Reads what every target host runs now (for gates, the rollback check
    /// and the final report). Uses a kept session when there is one, else a
    /// fresh one that is closed again (so only switch steps keep sessions).
    pub async fn target_releases(&self) -> Vec<(String, std::result::Result<String, String>)> {
        let mut out = Vec::new();
        for h in backend_hosts(&self.to_env) {
            let kept = self.sessions.lock().await.get(&h.name).cloned();
            let r = match kept {
                Some(s) => match current_release(&s, &h).await {
                    Ok(r) => Ok(r.id),
                    Err(e) => {
                        self.forget_session(&h.name).await;
                        Err(e.message().to_owned())
                    }
                },
                None => match self.connect(&h).await {
                    Ok(s) => {
                        let r = current_release(&s, &h).await;
                        s.disconnect().await;
                        r.map(|r| r.id).map_err(|e| e.message().to_owned())
                    }
                    Err(e) => Err(e.message().to_owned()),
                },
            };
            out.push((h.name.clone(), r));
        }
        out
    }
}

/// One step of a promotion job as planned (what the operator reads) and as run.
pub(crate) type JobStep = (PlannedStep, Box<dyn Step>);

/// What the `promote.apply` job did.
pub struct Applied {
    /// The job's report; when the state database failed mid-job, a failed
    /// report carrying that error (the hosts may still need putting back).
    pub report: JobReport,
    /// Every gate's result, in the order they ran.
    pub gates: Vec<GateResult>,
}

impl Applied {
    /// The first step that did not complete.
    pub fn failed_step(&self) -> Option<String> {
        self.report
            .steps
            .iter()
            .find(|(_, s, _)| !matches!(s, StepState::Completed))
            .map(|(n, _, _)| n.clone())
    }

    /// Whether the verification step ran (it is audited as `promote.verify`).
    pub fn verify_ran(&self) -> bool {
        self.report
            .steps
            .iter()
            .any(|(n, s, _)| n == "verify" && !matches!(s, StepState::Skipped))
    }

    /// Whether the job ended without success after something changed, so the
    /// rollback job must run.
    pub fn needs_rollback(&self, run: &Run) -> bool {
        self.report.state != JobState::Succeeded && run.changed_anything()
    }
}

/// Runs the `promote.apply` job: gates, staging on every host, one switch at
/// a time (the migrations check after the first), frontend, verification.
/// `jobs_gate` is the "no other job" result, taken before this job existed
/// so it does not see itself; `backups` serve the backup gate.
pub async fn apply(
    run: &Arc<Run>,
    runner: &JobRunner,
    jobs_gate: GateResult,
    backups: Arc<dyn Backups>,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
) -> Applied {
    let plan = &run.plan;
    let results = Arc::new(Mutex::new(Vec::<GateResult>::new()));
    let mut job: Vec<JobStep> = vec![gates::step(run, jobs_gate, backups, &results)];
    job.extend(plan.hosts.iter().map(|h| stage::step(run, h)));
    for (i, h) in plan.hosts.iter().enumerate() {
        job.push(switch::host_step(run, h));
        if i == 0 && !plan.pending_migrations.is_empty() {
            job.push(migrations::step(run));
        }
    }
    if run.frontend.is_some() {
        job.push(switch::frontend_step(run));
    }
    job.push(verify::step(run));
    let (planned, steps): (Vec<PlannedStep>, Vec<Box<dyn Step>>) = job.into_iter().unzip();
    let job_plan = Plan {
        kind: "promote.apply".into(),
        environment: Some(plan.to_env.clone()),
        summary: format!(
            "promote {} from {} to {} ({} hosts)",
            plan.release.as_ref().map_or("?", |r| r.id.as_str()),
            plan.from_env,
            plan.to_env,
            plan.hosts.len()
        ),
        steps: planned,
    };
    let report = match runner.run(job_plan, steps, progress, cancel).await {
        Ok(r) => r,
        // The state database failed mid-job: still try to put hosts back.
        Err(e) => JobReport {
            job_id: String::new(),
            state: JobState::Failed,
            error: Some(e.to_wire()),
            steps: Vec::new(),
        },
    };
    let gates = results.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Applied { report, gates }
}

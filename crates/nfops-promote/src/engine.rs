//! The job steps of a promotion and of its rollback.
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

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::config::{Environment, Host};
use nfops_core::credentials::CredentialSource;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use nfops_fleet::SshSession;
use nfops_metrics::Prometheus;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::frontend::FrontendDriver;
use crate::health::{all_healthy, client, wait_release_healthy};
use crate::host::{reload_apps, stage_release, switch_current, Staged};
use crate::plan::{backend_hosts, PromotionPlan};
use crate::release::current_release;
use crate::verify::{judge, measure, Measurement};

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
    ) -> Result<Self> {
        Ok(Self {
            plan,
            from_env,
            to_env,
            creds,
            known_hosts,
            record: Mutex::new(RunRecord::default()),
            frontend,
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

/// Brings the artifact to one target host and checks it there.
pub struct StageStep {
    pub run: Arc<Run>,
    pub host: String,
}

#[async_trait]
impl Step for StageStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let release = run
            .plan
            .release
            .clone()
            .ok_or_else(|| Error::internal("a promotion without a release reached apply"))?;
        let src_name = run.plan.source_host.clone().unwrap_or_default();
        let src_host = run.host(&run.from_env, &src_name)?;
        let dst_host = run.host(&run.to_env, &self.host)?;
        let running = run
            .plan
            .hosts
            .iter()
            .find(|h| h.host == self.host)
            .and_then(|h| h.from.clone())
            .unwrap_or_default();
        cx.message(format!("checking {} on {}", release.id, self.host));
        let src = run.connect(&src_host).await?;
        let dst = run.connect(&dst_host).await?;
        let staged = stage_release(&src, &src_host, &dst, &dst_host, &release, &running).await;
        src.disconnect().await;
        dst.disconnect().await;
        Ok(Verified::by(match staged? {
            Staged::AlreadyThere(r) => format!(
                "{} already on {} with digest {:.12}… (every file checked)",
                r.id, self.host, r.digest
            ),
            Staged::Copied(r) => format!(
                "{} copied from {src_name}, digest {:.12}… == staging's, sha256sum -c passed on arrival",
                r.id, r.digest
            ),
        }))
    }
}

/// Switches one target host and waits until the new release answers healthy.
pub struct SwitchStep {
    pub run: Arc<Run>,
    pub host: String,
}

#[async_trait]
impl Step for SwitchStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let to = run.release_id().to_owned();
        let host = run.host(&run.to_env, &self.host)?;
        let from = run
            .plan
            .hosts
            .iter()
            .find(|h| h.host == self.host)
            .and_then(|h| h.from.clone())
            .ok_or_else(|| {
                Error::internal(format!("no previous release known for {}", self.host))
            })?;
        let url = run.health_url(&run.to_env, &run.plan.to_env)?;
        let session = run.session(&host).await?;
        cx.message(format!("{}: current → releases/{to}", self.host));
        run.with_record(|r| r.switched.push((self.host.clone(), from.clone())));
        switch_current(&session, &host, &to).await?;
        cx.check_cancelled()?;
        cx.message(format!("{}: pm2 reload", self.host));
        let reloaded = reload_apps(&session, &host).await?;
        cx.message(format!(
            "{}: waiting for {to} to answer healthy through {url}",
            self.host
        ));
        let health = wait_release_healthy(&run.http, &url, &to, 5, Duration::from_secs(45)).await?;
        Ok(Verified::by(format!(
            "current → releases/{to} (read back); {reloaded}; {health}"
        )))
    }
}

/// Promotes the frontend through its provider.
pub struct FrontendStep {
    pub run: Arc<Run>,
}

#[async_trait]
impl Step for FrontendStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let driver = self
            .run
            .frontend
            .clone()
            .ok_or_else(|| Error::internal("frontend step without a driver"))?;
        let live = driver.live_deploy().await?;
        let target = driver.candidate_deploy().await?;
        cx.message(format!("frontend: {live} → {target}"));
        self.run.with_record(|r| {
            r.frontend_switched_from = Some(live.clone());
            r.frontend_to = Some(target.clone());
        });
        driver.promote(&target).await?;
        let now = driver.live_deploy().await?;
        if now != target {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("the frontend serves deploy {now} after promoting {target}"),
            ));
        }
        Ok(Verified::by(format!(
            "frontend live deploy {live} → {now} (read back)"
        )))
    }
}

/// Watches the new release for the verification window.
pub struct VerifyStep {
    pub run: Arc<Run>,
}

/// Health every second and Prometheus every other second for `secs`;
/// any failure stops at once. Returns the last measurement.
async fn watch(
    run: &Run,
    cx: &StepContext<'_>,
    release: &str,
    secs: u64,
    rollback: bool,
) -> Result<Measurement> {
    let url = run.health_url(&run.to_env, &run.plan.to_env)?;
    let (prom, selector) = run.prometheus()?;
    let started = Instant::now();
    let until = started + Duration::from_secs(secs.max(4));
    // Past the window, at most this long more for the first data to show up.
    let grace = until + Duration::from_secs(20);
    let window = secs.max(10);
    let mut last: Option<Measurement> = None;
    let mut tick = 0u64;
    loop {
        cx.check_cancelled()?;
        let health = all_healthy(&run.http, &url, Some(release), 2).await;
        let metrics = if tick.is_multiple_of(2) || Instant::now() >= until || last.is_none() {
            Some(measure(&prom, selector.as_deref(), release, window).await)
        } else {
            None
        };
        let problem = match (&health, &metrics) {
            (Err(e), _) | (_, Some(Err(e))) => Some(e.message().to_owned()),
            _ => None,
        };
        let sample = VerifySample {
            at_secs: started.elapsed().as_secs_f64(),
            release: release.to_owned(),
            health_ok: health.is_ok(),
            metrics: metrics.as_ref().and_then(|m| m.as_ref().ok().copied()),
            problem: problem.clone(),
        };
        run.with_record(|r| {
            if rollback {
                r.rollback_verification.push(sample)
            } else {
                r.verification.push(sample)
            }
        });
        health?;
        // Prometheus down or refusing fails at once; no data yet is allowed
        // while the new processes' first scrapes come in, but not at the end.
        let metrics = match metrics {
            Some(Err(e)) if e.code() == ErrorCode::CheckFailed && Instant::now() < grace => {
                cx.message(format!("{release}: waiting for metrics ({})", e.message()));
                None
            }
            other => other,
        };
        if let Some(m) = metrics {
            let m = m?;
            cx.message(format!(
                "{release}: {:.1} req/s, errors {:.2}%, p95 {:.0} ms",
                m.requests_per_sec,
                m.error_ratio * 100.0,
                m.p95_seconds * 1000.0
            ));
            last = Some(m);
        }
        if Instant::now() >= until && last.is_some() {
            break;
        }
        tick += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    last.ok_or_else(|| {
        Error::new(
            ErrorCode::CheckFailed,
            "no metrics were measured during verification",
        )
    })
}

#[async_trait]
impl Step for VerifyStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let release = run.release_id().to_owned();
        let baseline = run.record().baseline.ok_or_else(|| {
            Error::new(
                ErrorCode::CheckFailed,
                "no pre-promotion baseline was measured",
            )
        })?;
        let last = watch(run, cx, &release, run.plan.options.verify_secs, false).await?;
        let summary = judge(&baseline, &last, &run.plan.options.tolerance)?;
        Ok(Verified::by(format!(
            "healthy through the entry point for {}s; {summary}",
            run.plan.options.verify_secs.max(4)
        )))
    }
}

/// Puts one host back on its previous release.
pub struct RollbackHostStep {
    pub run: Arc<Run>,
    pub host: String,
    pub release: String,
}

#[async_trait]
impl Step for RollbackHostStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let host = run.host(&run.to_env, &self.host)?;
        let deadline = Instant::now() + RECONNECT_FOR;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let r = async {
                let s = run.session(&host).await?;
                switch_current(&s, &host, &self.release).await?;
                reload_apps(&s, &host).await
            }
            .await;
            match r {
                Ok(reloaded) => {
                    let url = run.health_url(&run.to_env, &run.plan.to_env)?;
                    let health = wait_release_healthy(
                        &run.http,
                        &url,
                        &self.release,
                        3,
                        Duration::from_secs(45),
                    )
                    .await?;
                    return Ok(Verified::by(format!(
                        "current → releases/{} (read back); {reloaded}; {health}",
                        self.release
                    )));
                }
                Err(e)
                    if matches!(e.code(), ErrorCode::SshConnect | ErrorCode::SshCommand)
                        && Instant::now() < deadline =>
                {
                    run.forget_session(&self.host).await;
                    cx.message(format!(
                        "{}: {} — retrying (attempt {attempt})",
                        self.host,
                        e.message()
                    ));
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Puts the frontend back on the deploy that was live before.
pub struct FrontendRollbackStep {
    pub run: Arc<Run>,
    pub deploy: String,
}

#[async_trait]
impl Step for FrontendRollbackStep {
    async fn run(&self, _cx: &StepContext<'_>) -> Result<Verified> {
        let driver = self
            .run
            .frontend
            .clone()
            .ok_or_else(|| Error::internal("frontend rollback without a driver"))?;
        driver.rollback(&self.deploy).await?;
        let now = driver.live_deploy().await?;
        if now != self.deploy {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "the frontend serves {now} after rolling back to {}",
                    self.deploy
                ),
            ));
        }
        Ok(Verified::by(format!(
            "frontend live deploy back on {now} (read back)"
        )))
    }
}

/// Verifies the rollback: every target host reads back its old release and
/// the entry point answers healthy from it; metrics are measured the same
/// way as for the promotion and reported (a rollback is not undone when
/// they cannot be read, but the evidence says so).
pub struct VerifyRollbackStep {
    pub run: Arc<Run>,
}

#[async_trait]
impl Step for VerifyRollbackStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let mut wrong = Vec::new();
        let mut releases = Vec::new();
        // A host that cannot be reached is retried (SSH may come back); a
        // host on the wrong release fails at once.
        let deadline = Instant::now() + RECONNECT_FOR;
        let mut found = run.target_releases().await;
        while found.iter().any(|(_, r)| r.is_err()) && Instant::now() < deadline {
            cx.message("some hosts cannot be read yet; retrying");
            tokio::time::sleep(Duration::from_secs(2)).await;
            found = run.target_releases().await;
        }
        for (host, r) in found {
            let want = run
                .plan
                .hosts
                .iter()
                .find(|h| h.host == host)
                .and_then(|h| h.from.clone())
                .unwrap_or_default();
            match r {
                Ok(id) if id == want => releases.push(format!("{host} on {id}")),
                Ok(id) => wrong.push(format!("{host} on {id} (expected {want})")),
                Err(e) => wrong.push(format!("{host}: {e}")),
            }
        }
        if !wrong.is_empty() {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("after the rollback: {}", wrong.join("; ")),
            )
            .hint("Put those hosts back by hand (ln -sfn releases/<old> current.tmp && mv -T current.tmp current; pm2 reload)."));
        }
        let old = run
            .plan
            .hosts
            .first()
            .and_then(|h| h.from.clone())
            .unwrap_or_default();
        let metrics = match watch(run, cx, &old, run.plan.options.verify_secs.min(10), true).await {
            Ok(m) => format!(
                "{:.1} req/s, errors {:.2}%, p95 {:.0} ms",
                m.requests_per_sec,
                m.error_ratio * 100.0,
                m.p95_seconds * 1000.0
            ),
            Err(e) if e.code() == ErrorCode::Unhealthy => return Err(e),
            Err(e) => format!("metrics not verified: {}", e.message()),
        };
        Ok(Verified::by(format!(
            "{}; healthy through the entry point; {metrics}",
            releases.join(", ")
        )))
    }
}

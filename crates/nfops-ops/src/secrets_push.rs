//! Pushing an environment's secrets to its hosts as the app's `.env`.
//!
//! Plan first: per host, the NAMES of keys that the push adds, removes or
//! changes (values compared in memory, never shown). Then a job with one step
//! per host that changes: the content goes over SSH on standard input to a
//! temp file next to `<app_dir>/shared/.env` (mode 0600), which is renamed
//! over it; the step is verified by the remote file's SHA-256 and mode, then
//! the host's PM2 apps are reloaded with `--update-env` and the reload is
//! verified by their new process ids.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::audit::{Action, Outcome};
use nfops_core::config::Host;
use nfops_core::jobs::{
    CancellationToken, JobReport, Plan, PlannedStep, Progress, Step, StepContext, Verified,
};
use nfops_core::lease::LeaseAction;
use nfops_core::{Error, ErrorCode, Result, SecretString};
use nfops_fleet::{shell_quote, SshSession};
use nfops_secrets::{KeyChanges, Secrets};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Console;

const TIMEOUT: Duration = Duration::from_secs(60);

/// What a push changes on one host, by key name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostPushPlan {
    pub host: String,
    /// `<app_dir>/shared/.env`.
    pub path: String,
    pub changes: KeyChanges,
    /// The PM2 apps reloaded after the write.
    pub apps: Vec<String>,
}

/// The dry run of a push.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushPlan {
    pub environment: String,
    pub keys: usize,
    pub hosts: Vec<HostPushPlan>,
}

impl PushPlan {
    /// Whether no host changes.
    pub fn is_noop(&self) -> bool {
        self.hosts.iter().all(|h| h.changes.is_empty())
    }
}

/// How a push ended: its plan and, unless it was a no-op, the job's report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushOutcome {
    pub plan: PushPlan,
    pub job: Option<JobReport>,
}

/// The platform's PM2 app names by host role.
fn apps_of(host: &Host) -> Vec<String> {
    let mut apps = Vec::new();
    if host.roles.iter().any(|r| r == "backend") {
        apps.push("nf-api".to_owned());
    }
    if host.roles.iter().any(|r| r == "worker") {
        apps.push("nf-worker".to_owned());
    }
    apps
}

fn env_path(host: &Host) -> String {
    format!("{}/shared/.env", host.app_dir.trim_end_matches('/'))
}

fn pm2(host: &Host, args: &str) -> String {
    match &host.pm2_home {
        Some(h) => format!("PM2_HOME={} pm2 {args}", shell_quote(h)),
        None => format!("pm2 {args}"),
    }
}

impl Console {
    async fn push_inputs(&self, env: &str) -> Result<(Vec<Host>, Secrets)> {
        let config = self.config()?;
        let hosts: Vec<Host> = config
            .environment(env)?
            .hosts
            .iter()
            .map(|h| h.get_ref().clone())
            .collect();
        if hosts.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("environment '{env}' has no hosts to push to"),
            )
            .hint("Add [[environments.<env>.hosts]] to environments.toml."));
        }
        let store = self.secrets_store()?;
        let me = self.age_identity().await?;
        let opened = store.open(env, &me)?;
        if opened.file_hash().is_none() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("{} does not exist yet", store.secrets_path(env).display()),
            )
            .hint(
                "Set the environment's secrets first; pushing nothing would empty the app's .env.",
            ));
        }
        Ok((hosts, opened.secrets))
    }

    /// The dry run: per host, the names of keys that change.
    ///
    /// # Errors
    /// The store's errors; SSH errors naming the host; `input.invalid` when a
    /// host's current `.env` has a bad line (by number).
    pub async fn secrets_push_plan(&self, env: &str) -> Result<PushPlan> {
        let (hosts, secrets) = self.push_inputs(env).await?;
        self.plan_hosts(env, &hosts, &secrets).await
    }

    async fn plan_hosts(&self, env: &str, hosts: &[Host], secrets: &Secrets) -> Result<PushPlan> {
        let mut plans = Vec::new();
        for host in hosts {
            let session =
                SshSession::connect(host, self.keyring().as_ref(), &self.known_hosts()).await?;
            let path = env_path(host);
            let q = shell_quote(&path);
            let out = session
                .exec_checked(&format!("if [ -e {q} ]; then cat -- {q}; fi"), TIMEOUT)
                .await;
            session.disconnect().await;
            let out = out?;
            let current = Secrets::parse(&format!("{}:{path}", host.name), &out.stdout);
            drop(out);
            plans.push(HostPushPlan {
                host: host.name.clone(),
                changes: KeyChanges::between(&current?, secrets),
                path,
                apps: apps_of(host),
            });
        }
        Ok(PushPlan {
            environment: env.to_owned(),
            keys: secrets.len(),
            hosts: plans,
        })
    }

    /// Pushes `env`'s secrets to every host whose `.env` differs, as a job.
    /// A push that changes nothing runs no job. Audited (`secrets.push`, key names only).
    ///
    /// On production and region tiers `confirm` must be `env`'s name; the
    /// environment's lease is held and a `started` entry written before any
    /// host is touched.
    pub async fn secrets_push(
        &self,
        env: &str,
        confirm: Option<&str>,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<PushOutcome> {
        let lease = self
            .begin_destructive(env, LeaseAction::SecretsPush, "secrets.push", None, confirm)
            .await?;
        let result = self.holding(&lease).push_inner(env, progress, cancel).await;
        self.release(lease).await;
        let (outcome, details) = match &result {
            Ok(o) => (
                match o.job.as_ref().map(|j| j.state) {
                    None | Some(nfops_core::jobs::JobState::Succeeded) => Outcome::Succeeded,
                    Some(nfops_core::jobs::JobState::Cancelled) => Outcome::Cancelled,
                    Some(_) => Outcome::Failed,
                },
                serde_json::json!({ "hosts": o.plan.hosts, "job": o.job.as_ref().map(|j| j.job_id.clone()) }),
            ),
            Err(e) => (
                Outcome::Failed,
                serde_json::json!({ "error": e.code().as_str() }),
            ),
        };
        self.audit()
            .record(Action {
                action: "secrets.push",
                environment: Some(env),
                target: None,
                outcome,
                details,
            })
            .await?;
        result
    }

    async fn push_inner(
        &self,
        env: &str,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<PushOutcome> {
        let (hosts, secrets) = self.push_inputs(env).await?;
        let plan = self.plan_hosts(env, &hosts, &secrets).await?;
        if plan.is_noop() {
            return Ok(PushOutcome { plan, job: None });
        }
        let content = secrets.render();
        let mut planned = Vec::new();
        let mut steps: Vec<Box<dyn Step>> = Vec::new();
        for (host, hp) in hosts.iter().zip(&plan.hosts) {
            if hp.changes.is_empty() {
                continue;
            }
            let c = &hp.changes;
            planned.push(PlannedStep {
                name: format!("write .env on {}", host.name),
                description: format!(
                    "{}: add {:?}, remove {:?}, change {:?}; then pm2 reload {} --update-env",
                    hp.path,
                    c.added,
                    c.removed,
                    c.changed,
                    hp.apps.join(", ")
                ),
            });
            steps.push(Box::new(PushHost {
                host: host.clone(),
                content: content.clone(),
                console: self.clone(),
            }));
        }
        let job_plan = Plan {
            kind: "secrets.push".into(),
            environment: Some(env.to_owned()),
            summary: format!(
                "push {} keys of {env} to {} host(s)",
                plan.keys,
                steps.len()
            ),
            steps: planned,
        };
        let report = self
            .job_runner()
            .run(job_plan, steps, progress, cancel)
            .await?;
        Ok(PushOutcome {
            plan,
            job: Some(report),
        })
    }
}

/// Writes the `.env` of one host and reloads its apps.
struct PushHost {
    host: Host,
    content: SecretString,
    console: Console,
}

impl PushHost {
    async fn pids(&self, session: &SshSession, app: &str) -> Result<Vec<String>> {
        let out = session
            .exec_checked(
                &pm2(&self.host, &format!("pid {}", shell_quote(app))),
                TIMEOUT,
            )
            .await?;
        let mut pids: Vec<String> = out
            .stdout
            .split_whitespace()
            .filter(|p| *p != "0")
            .map(str::to_owned)
            .collect();
        pids.sort();
        Ok(pids)
    }
}

#[async_trait]
impl Step for PushHost {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let h = &self.host;
        let session = SshSession::connect(
            h,
            self.console.keyring().as_ref(),
            &self.console.known_hosts(),
        )
        .await?;
        let path = env_path(h);
        let q = shell_quote(&path);
        let want = hex::encode(Sha256::digest(self.content.expose().as_bytes()));
        cx.message(format!("writing {path} on {}", h.name));
        let write = format!(
            "set -e; umask 077; d=$(dirname -- {q}); t=$(mktemp \"$d/.env.nfops.XXXXXX\"); \
             trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; chmod 0600 \"$t\"; mv -f -- \"$t\" {q}; trap - EXIT; \
             sha256sum -- {q} | cut -c1-64; stat -c %a -- {q}"
        );
        let out = session
            .exec_checked_with_input(&write, self.content.expose().as_bytes(), TIMEOUT)
            .await?;
        let mut lines = out.stdout.lines();
        let (got, mode) = (
            lines.next().unwrap_or("").trim(),
            lines.next().unwrap_or("").trim(),
        );
        if got != want || mode != "600" {
            session.disconnect().await;
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("{path} on {} does not match what was sent (sha256 {got:.12}… vs {want:.12}…, mode {mode})", h.name),
            )
            .hint("Another process may be writing that file; push again."));
        }
        cx.check_cancelled()?;
        let mut reloaded = Vec::new();
        for app in apps_of(h) {
            let before = self.pids(&session, &app).await?;
            cx.message(format!("pm2 reload {app} on {}", h.name));
            session
                .exec_checked(
                    &pm2(h, &format!("reload {} --update-env", shell_quote(&app))),
                    Duration::from_secs(120),
                )
                .await?;
            let after = self.pids(&session, &app).await?;
            if after.is_empty() || after.iter().any(|p| before.contains(p)) {
                session.disconnect().await;
                return Err(Error::new(
                    ErrorCode::CheckFailed,
                    format!("pm2 reload {app} on {} left processes running that were not restarted ({} before, {} after)", h.name, before.len(), after.len()),
                )
                .hint(format!("Check `pm2 ls` on {}; the new .env is in place.", h.name)));
            }
            reloaded.push(format!("{app} {} → {} new pids", before.len(), after.len()));
        }
        session.disconnect().await;
        Ok(Verified::by(format!(
            "{path} sha256 {:.12}… == local, mode 600; {}",
            want,
            reloaded.join(", ")
        )))
    }
}

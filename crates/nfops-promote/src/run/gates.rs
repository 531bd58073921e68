//! The gates a promotion passes before any host changes, in the order they
//! run (see [`specs`]), and the `gates` step that evaluates them all: every
//! finding, not only the first; the backup is taken only when every other
//! gate passed.
//!
//! Every gate fails closed: no data, an error or a timeout is a failure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveTime, Timelike, Utc};
use nfops_core::audit::current_actor;
use nfops_core::config::providers::Provider;
use nfops_core::config::Tier;
use nfops_core::jobs::{
    CancellationToken, JobState, JobStore, PlannedStep, Step, StepContext, Verified,
};
use nfops_core::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{JobStep, Run};
use crate::health::{all_healthy, client};
use crate::plan::{backend_hosts, GateSpec, PromotionOptions};
use crate::providers::{live_required, read_modes, refusals, summary};
use crate::release::verify_release;
use crate::verify::measure;

/// How one gate ended; kept with the promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateResult {
    pub name: String,
    pub passed: bool,
    /// What was checked, or why it failed.
    pub detail: String,
}

impl GateResult {
    pub fn pass(name: &str, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            passed: true,
            detail: detail.into(),
        }
    }

    pub fn fail(name: &str, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            passed: false,
            detail: detail.into(),
        }
    }

    /// Passed with `Ok`'s evidence, failed with the error's message.
    pub fn from_result(name: &str, r: Result<String>) -> Self {
        match r {
            Ok(d) => Self::pass(name, d),
            Err(e) => Self::fail(name, e.message().to_owned()),
        }
    }
}

/// Parses a UTC change window `HH:MM-HH:MM` (may wrap midnight).
///
/// Errors: `input.invalid` with the expected form.
pub fn parse_window(text: &str) -> Result<(NaiveTime, NaiveTime)> {
    let bad = || {
        Error::new(
            ErrorCode::InvalidInput,
            format!("change window '{text}' is not HH:MM-HH:MM (UTC)"),
        )
        .hint("For example 22:00-02:00 allows promotions from 22:00 to 02:00 UTC.")
    };
    let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
    let start = NaiveTime::parse_from_str(a.trim(), "%H:%M").map_err(|_| bad())?;
    let end = NaiveTime::parse_from_str(b.trim(), "%H:%M").map_err(|_| bad())?;
    Ok((start, end))
}

/// The change-window gate at time `now` (UTC).
pub fn window_gate(window: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> GateResult {
    const NAME: &str = "change window";
    let Some(w) = window else {
        return GateResult::pass(NAME, "no change window set");
    };
    match parse_window(w) {
        Err(e) => GateResult::fail(NAME, e.message().to_owned()),
        Ok((start, end)) => {
            let t = NaiveTime::from_hms_opt(now.hour(), now.minute(), 0).unwrap_or(start);
            let inside = if start <= end {
                t >= start && t < end
            } else {
                t >= start || t < end
            };
            let hm = now.format("%H:%M");
            if inside {
                GateResult::pass(NAME, format!("{hm} UTC is inside {w}"))
            } else {
                GateResult::fail(NAME, format!("{hm} UTC is outside the change window {w}"))
            }
        }
    }
}

/// The second-approver gate.
pub fn approver_gate(required: bool, approver: Option<&str>, actor: &str) -> GateResult {
    const NAME: &str = "second approver";
    match approver.map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) if a == actor => GateResult::fail(
            NAME,
            format!("the approver ({a}) must be someone other than the operator"),
        ),
        Some(a) => GateResult::pass(NAME, format!("approved by {a} (recorded in the audit log)")),
        None if required => {
            GateResult::fail(NAME, "a second approver is required and none was named")
        }
        None => GateResult::pass(NAME, "not required"),
    }
}

/// The gates every promotion passes, in the order they run, as the plan
/// describes them.
pub fn specs(
    plan_opts: &PromotionOptions,
    from: &str,
    (to, tier): (&str, Tier),
    providers: &[(String, Provider)],
) -> Vec<GateSpec> {
    let g = |n: &str, d: String| GateSpec {
        name: n.to_owned(),
        description: d,
    };
    let names = providers
        .iter()
        .map(|(n, p)| p.label_for(n))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        g(
            "artifact",
            format!("the release {from} runs passes `sha256sum -c CHECKSUM` on its host"),
        ),
        g(
            "source healthy",
            format!("{from}'s entry point answers HTTP 200"),
        ),
        g(
            "target healthy",
            format!(
                "{to}'s entry point answers HTTP 200 and its hosts still run what the plan says"
            ),
        ),
        g("no other job", format!("no other job is running on {to}")),
        g(
            "provider modes",
            if providers.is_empty() {
                "no [providers.*] declared in environments.toml".to_owned()
            } else if live_required(tier) {
                format!("{names}: live on every {to} host (read from each host's .env now)")
            } else {
                format!(
                    "{names}: modes recorded; a {} tier does not require live",
                    tier.as_str()
                )
            },
        ),
        g(
            "change window",
            match &plan_opts.change_window {
                Some(w) => format!("now is inside {w} UTC"),
                None => "no change window set".to_owned(),
            },
        ),
        g(
            "second approver",
            if plan_opts.require_approver {
                "a second approver must be named (recorded in the audit log)".to_owned()
            } else {
                "optional; recorded in the audit log when named".to_owned()
            },
        ),
        g(
            "metrics baseline",
            format!("Prometheus has error rate and p95 of {to}'s current release (no data fails)"),
        ),
        g(
            "backup",
            if plan_opts.skip_backup {
                "skipped by the operator".to_owned()
            } else {
                format!(
                    "a verified {to} backup newer than {}h, else one is taken now",
                    plan_opts.backup_max_age_hours
                )
            },
        ),
    ]
}

/// The "no other job" gate: no job is running on `env`. Evaluate it before
/// the promotion's own job exists, so it does not see itself.
pub async fn no_other_job_gate(jobs: &JobStore, env: &str) -> GateResult {
    const NAME: &str = "no other job";
    match jobs.list(200).await {
        Err(e) => GateResult::fail(NAME, e.message().to_owned()),
        Ok(jobs) => {
            let busy: Vec<String> = jobs
                .iter()
                .filter(|j| j.state == JobState::Running && j.environment.as_deref() == Some(env))
                .map(|j| format!("{} ({})", j.kind, j.id))
                .collect();
            if busy.is_empty() {
                GateResult::pass(NAME, format!("no job is running on {env}"))
            } else {
                GateResult::fail(NAME, format!("running on {env}: {}", busy.join(", ")))
            }
        }
    }
}

/// The target's backups as the backup gate needs them. The catalog and the
/// backup job live outside this crate; the console provides them.
#[async_trait]
pub trait Backups: Send + Sync {
    /// Verified backups of `env`: id and age in hours at `now`.
    async fn verified(&self, env: &str, now: DateTime<Utc>) -> Result<Vec<(String, f64)>>;
    /// Takes a backup of `env` now and says whether it succeeded verified.
    async fn take(&self, env: &str, cancel: CancellationToken) -> Result<TakenBackup>;
}

/// How a backup taken for the gate ended.
pub enum TakenBackup {
    /// Taken and verified: its id.
    Verified(String),
    /// The backup job ended without success: why.
    NotSucceeded(String),
}

/// The backup gate: a verified backup of `env` young enough, else one taken now.
async fn backup_gate(
    backups: &dyn Backups,
    env: &str,
    opts: &PromotionOptions,
    cx: &StepContext<'_>,
) -> GateResult {
    const NAME: &str = "backup";
    if opts.skip_backup {
        return GateResult::pass(NAME, "skipped by the operator (recorded in the audit log)");
    }
    match backups.verified(env, Utc::now()).await {
        Err(e) => return GateResult::fail(NAME, e.message().to_owned()),
        Ok(found) => {
            let fresh = found
                .into_iter()
                .filter(|(_, a)| *a <= opts.backup_max_age_hours)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((id, age)) = fresh {
                return GateResult::pass(
                    NAME,
                    format!(
                        "verified backup {id} is {age:.1}h old (max {}h)",
                        opts.backup_max_age_hours
                    ),
                );
            }
        }
    }
    cx.message(format!(
        "no verified {env} backup newer than {}h: taking one now",
        opts.backup_max_age_hours
    ));
    match backups.take(env, cx.cancel_token().clone()).await {
        Ok(TakenBackup::Verified(id)) => GateResult::pass(
            NAME,
            format!("pre-promotion backup {id} taken and verified now"),
        ),
        Ok(TakenBackup::NotSucceeded(why)) => GateResult::fail(
            NAME,
            format!("the pre-promotion backup did not succeed: {why}"),
        ),
        Err(e) => GateResult::fail(
            NAME,
            format!("the pre-promotion backup failed: {}", e.message()),
        ),
    }
}

/// The gates step; each result is also pushed to `results` as it is known.
pub(crate) fn step(
    run: &Arc<Run>,
    jobs_gate: GateResult,
    backups: Arc<dyn Backups>,
    results: &Arc<Mutex<Vec<GateResult>>>,
) -> JobStep {
    (
        PlannedStep {
            name: "gates".into(),
            description: run
                .plan
                .gates
                .iter()
                .map(|g| format!("{}: {}", g.name, g.description))
                .collect::<Vec<_>>()
                .join("; "),
        },
        Box::new(GatesStep {
            run: Arc::clone(run),
            jobs_gate,
            backups,
            results: Arc::clone(results),
        }),
    )
}

/// The gates, all evaluated (every finding, not only the first); the backup
/// is taken only when every other gate passed.
struct GatesStep {
    run: Arc<Run>,
    jobs_gate: GateResult,
    backups: Arc<dyn Backups>,
    results: Arc<Mutex<Vec<GateResult>>>,
}

impl GatesStep {
    fn push(&self, g: GateResult, cx: &StepContext<'_>) {
        cx.message(format!(
            "gate {}: {} — {}",
            g.name,
            if g.passed { "passed" } else { "FAILED" },
            g.detail
        ));
        self.results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(g);
    }

    fn results(&self) -> Vec<GateResult> {
        self.results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn artifact(&self) -> Result<String> {
        let run = &self.run;
        let release = run
            .plan
            .release
            .clone()
            .ok_or_else(|| Error::internal("no release in plan"))?;
        let src = run.plan.source_host.clone().unwrap_or_default();
        let host = backend_hosts(&run.from_env)
            .into_iter()
            .find(|h| h.name == src)
            .ok_or_else(|| Error::internal("source host vanished"))?;
        let s = run.connect(&host).await?;
        let r = verify_release(&s, &host, &release.id).await;
        s.disconnect().await;
        let r = r?;
        if r.digest != release.digest {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!(
                    "release {} on {src} changed since the plan (digest {:.12}… vs {:.12}…)",
                    r.id, r.digest, release.digest
                ),
            ));
        }
        Ok(format!(
            "{} on {src}: every file matches CHECKSUM, digest {:.12}…",
            r.id, r.digest
        ))
    }

    /// Healthy means the environment answers 200. Processes still running
    /// an older release than `current` (switched, not reloaded) are said,
    /// not refused: the artifact gate is what pins the release promoted.
    async fn source_healthy(&self, http: &reqwest::Client) -> Result<String> {
        let run = &self.run;
        let u = run.health_url(&run.from_env, &run.plan.from_env)?;
        let seen = all_healthy(http, &u, None, 3).await?;
        let rid = run.release_id();
        Ok(if seen.iter().all(|r| r == rid) {
            format!("3 × HTTP 200 from {rid} via {u}")
        } else {
            format!(
                "3 × HTTP 200 via {u}, answered by {} while current → {rid} (not reloaded since the switch)",
                seen.join(", ")
            )
        })
    }

    async fn target_healthy(&self, http: &reqwest::Client) -> Result<String> {
        let run = &self.run;
        let url = run.health_url(&run.to_env, &run.plan.to_env)?;
        let seen = all_healthy(http, &url, None, 4).await?;
        let mut drift = Vec::new();
        for (host, r) in run.target_releases().await {
            let want = run
                .plan
                .hosts
                .iter()
                .find(|h| h.host == host)
                .and_then(|h| h.from.clone());
            match r {
                Ok(id) if Some(&id) == want.as_ref() => {}
                Ok(id) => drift.push(format!(
                    "{host} runs {id}, the plan said {}",
                    want.unwrap_or_default()
                )),
                Err(e) => drift.push(format!("{host}: {e}")),
            }
        }
        if !drift.is_empty() {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("hosts changed since the plan: {}", drift.join("; ")),
            ));
        }
        Ok(format!(
            "4 × HTTP 200 via {url} (releases {})",
            seen.join(", ")
        ))
    }

    /// Reads every target host's `.env` again (it may have changed since the
    /// plan) and refuses a production tier with any provider not live.
    async fn provider_modes(&self) -> Result<String> {
        let run = &self.run;
        if run.providers.is_empty() {
            return Ok("no [providers.*] declared".to_owned());
        }
        let hosts = read_modes(
            &run.to_env,
            &run.providers,
            run.creds.as_ref(),
            &run.known_hosts,
        )
        .await;
        let refused = refusals(&run.plan.to_env, run.to_env.tier, &run.providers, &hosts);
        if !refused.is_empty() {
            return Err(Error::new(ErrorCode::CheckFailed, refused.join("; ")));
        }
        Ok(summary(&hosts))
    }

    async fn baseline(&self, http: &reqwest::Client) -> Result<String> {
        let run = &self.run;
        let (prom, selector) = run.prometheus()?;
        let url = run.health_url(&run.to_env, &run.plan.to_env)?;
        let old = run
            .plan
            .hosts
            .first()
            .and_then(|h| h.from.clone())
            .unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Some traffic of our own, so a quiet environment still has data.
            let _ = all_healthy(http, &url, None, 3).await;
            match measure(&prom, selector.as_deref(), &old, 300).await {
                Ok(m) => {
                    run.with_record(|r| r.baseline = Some(m));
                    return Ok(format!(
                        "{old}: {:.1} req/s, errors {:.2}%, p95 {:.0} ms over 5 min",
                        m.requests_per_sec,
                        m.error_ratio * 100.0,
                        m.p95_seconds * 1000.0
                    ));
                }
                Err(e) if e.code() == ErrorCode::CheckFailed && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[async_trait]
impl Step for GatesStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let run = &self.run;
        let http = client()?;
        let artifact = self.artifact().await;
        self.push(GateResult::from_result("artifact", artifact), cx);
        let source = self.source_healthy(&http).await;
        self.push(GateResult::from_result("source healthy", source), cx);
        let target = self.target_healthy(&http).await;
        self.push(GateResult::from_result("target healthy", target), cx);
        self.push(self.jobs_gate.clone(), cx);
        let modes = self.provider_modes().await;
        self.push(GateResult::from_result("provider modes", modes), cx);
        let opts = &run.plan.options;
        self.push(window_gate(opts.change_window.as_deref(), Utc::now()), cx);
        self.push(
            approver_gate(
                opts.require_approver,
                opts.approver.as_deref(),
                &current_actor(),
            ),
            cx,
        );
        let baseline = self.baseline(&http).await;
        self.push(GateResult::from_result("metrics baseline", baseline), cx);
        cx.check_cancelled()?;
        if self.results().iter().all(|g| g.passed) {
            let g = backup_gate(self.backups.as_ref(), &run.plan.to_env, opts, cx).await;
            self.push(g, cx);
        } else {
            self.push(
                GateResult::fail("backup", "not taken: an earlier gate failed"),
                cx,
            );
        }
        let results = self.results();
        let failed: Vec<String> = results
            .iter()
            .filter(|g| !g.passed)
            .map(|g| format!("{}: {}", g.name, g.detail))
            .collect();
        if !failed.is_empty() {
            return Err(Error::new(
                ErrorCode::CheckFailed,
                format!("gates failed: {}", failed.join("; ")),
            )
            .hint("Nothing was changed. Fix what the failed gates report and promote again."));
        }
        Ok(Verified::by(
            results
                .iter()
                .map(|g| format!("{}: {}", g.name, g.detail))
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn change_windows_include_start_exclude_end_and_may_wrap() {
        let at = |h, m| chrono::Utc.with_ymd_and_hms(2026, 1, 1, h, m, 0).unwrap();
        assert!(window_gate(Some("09:00-17:00"), at(9, 0)).passed);
        assert!(!window_gate(Some("09:00-17:00"), at(17, 0)).passed);
        assert!(window_gate(Some("22:00-02:00"), at(1, 30)).passed);
        assert!(!window_gate(Some("22:00-02:00"), at(12, 0)).passed);
        assert!(
            !window_gate(Some("9-5"), at(12, 0)).passed,
            "bad windows fail closed"
        );
        assert!(window_gate(None, at(12, 0)).passed);
    }

    #[test]
    fn approvers_are_someone_else() {
        assert!(!approver_gate(true, None, "ann").passed);
        assert!(!approver_gate(true, Some("ann"), "ann").passed);
        assert!(approver_gate(true, Some("bob"), "ann").passed);
        assert!(approver_gate(false, None, "ann").passed);
    }
}

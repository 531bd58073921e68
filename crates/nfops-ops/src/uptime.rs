//! Uptime: run every probe of the environments, keep the history, and say
//! when a probe went down (after its N failures in a row) or recovered.
//!
//! The desktop app runs [`Console::uptime_watch`] in the background and turns
//! its events into desktop notifications; `nfops uptime` runs one round
//! ([`Console::uptime_check`]) or the same watch loop.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use nfops_core::jobs::CancellationToken;
use nfops_core::Result;
use nfops_metrics::uptime::{
    check, probes_of, uptime_charts, AlertState, Probe, ProbeSummary, Sample, Transition,
    UptimeHistory,
};
use nfops_metrics::{ChartOutcome, Drawing};
use serde::Serialize;

use crate::Console;

/// One check of one probe, with what it changed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UptimeEvent {
    pub environment: String,
    pub probe: String,
    pub target: String,
    pub sample: Sample,
    pub state: AlertState,
    /// Set when this check made the probe go down or recover: the moment
    /// to notify someone.
    pub transition: Option<Transition>,
}

/// The probes of one environment over a time range, with both charts.
#[derive(Debug)]
pub struct UptimeReport {
    pub environment: String,
    pub probes: Vec<(Probe, ProbeSummary)>,
    pub start: f64,
    pub end: f64,
    pub charts: Vec<ChartOutcome>,
}

impl Console {
    pub(crate) fn uptime_history(&self) -> UptimeHistory {
        UptimeHistory::new(self.state().clone())
    }

    /// The probes of `env`, or of every environment when `None`.
    ///
    /// Errors: `config.*` for an unreadable config or an unknown environment.
    pub fn uptime_probes(&self, env: Option<&str>) -> Result<Vec<(String, Probe)>> {
        let config = self.config()?;
        let mut out = Vec::new();
        match env {
            Some(name) => {
                let e = config.environment(name)?;
                out.extend(probes_of(e).into_iter().map(|p| (name.to_owned(), p)));
            }
            None => {
                for (name, e) in config.environments() {
                    out.extend(probes_of(e).into_iter().map(|p| (name.to_owned(), p)));
                }
            }
        }
        Ok(out)
    }

    /// Runs every probe of `env` (all environments when `None`) once, now,
    /// concurrently, and records the samples.
    ///
    /// Errors: `config.*` as [`Console::uptime_probes`]; `state.error` when
    /// the history cannot be written.
    pub async fn uptime_check(&self, env: Option<&str>) -> Result<Vec<UptimeEvent>> {
        let probes = self.uptime_probes(env)?;
        self.run_probes(&probes).await
    }

    async fn run_probes(&self, probes: &[(String, Probe)]) -> Result<Vec<UptimeEvent>> {
        let samples = futures::future::join_all(probes.iter().map(|(_, p)| check::run(p))).await;
        let history = self.uptime_history();
        let mut events = Vec::with_capacity(probes.len());
        for ((env, probe), sample) in probes.iter().zip(samples) {
            let (state, transition) = history
                .record(env, &probe.name, &sample, probe.failures_before_down)
                .await?;
            if let Some(t) = transition {
                tracing::warn!(
                    category = "application",
                    environment = %env,
                    probe = %probe.name,
                    transition = ?t,
                    detail = %sample.detail,
                    "uptime probe changed state"
                );
            }
            events.push(UptimeEvent {
                environment: env.clone(),
                probe: probe.name.clone(),
                target: probe.target.clone(),
                sample,
                state,
                transition,
            });
        }
        Ok(events)
    }

    /// Runs the probes of `env` (all when `None`) each at its own interval
    /// until `cancel` fires, calling `on_event` after every check. The config
    /// is re-read every round, so added or edited probes are picked up.
    ///
    /// Errors: only when the state database fails; a config that cannot be
    /// read is logged and retried on the next round (the file may be mid-edit).
    pub async fn uptime_watch(
        &self,
        env: Option<&str>,
        cancel: CancellationToken,
        mut on_event: impl FnMut(&UptimeEvent) + Send,
    ) -> Result<()> {
        let mut next_due: HashMap<(String, String), Instant> = HashMap::new();
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let probes = match self.uptime_probes(env) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(category = "error", code = %e.code(), "uptime: config unreadable, retrying: {e}");
                    Vec::new()
                }
            };
            let now = Instant::now();
            let due: Vec<(String, Probe)> = probes
                .into_iter()
                .filter(|(e, p)| {
                    next_due
                        .get(&(e.clone(), p.name.clone()))
                        .is_none_or(|at| *at <= now)
                })
                .collect();
            for (e, p) in &due {
                next_due.insert(
                    (e.clone(), p.name.clone()),
                    now + Duration::from_secs(u64::from(p.interval_seconds)),
                );
            }
            if !due.is_empty() {
                for event in self.run_probes(&due).await? {
                    on_event(&event);
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// The probes of `env` over `drawing.range`: summaries and the uptime
    /// and latency charts.
    ///
    /// Errors: `config.*` for an unknown environment; `state.error`.
    pub async fn uptime_report(&self, env: &str, drawing: Drawing) -> Result<UptimeReport> {
        let probes = self.uptime_probes(Some(env))?;
        let end = Utc::now().timestamp_millis() as f64 / 1000.0;
        let start = end - drawing.range.seconds() as f64;
        let since = chrono::DateTime::from_timestamp(start as i64, 0).unwrap_or_default();
        let history = self.uptime_history();
        let mut rows = Vec::new();
        let mut series = Vec::new();
        for (_, probe) in probes {
            let summary = history.summary(env, &probe.name, since).await?;
            series.push((
                probe.name.clone(),
                history.samples(env, &probe.name, since).await?,
            ));
            rows.push((probe, summary));
        }
        let mut charts = uptime_charts(&series, (start, end), drawing);
        self.mark_charts(env, &mut charts, drawing.theme).await;
        Ok(UptimeReport {
            environment: env.to_owned(),
            probes: rows,
            start,
            end,
            charts,
        })
    }
}

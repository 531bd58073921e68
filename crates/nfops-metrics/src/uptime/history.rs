//! Uptime history in the state database (tables of migration 0004): every
//! sample, each probe's alert state, and summaries over a time range.

use chrono::{DateTime, TimeZone, Utc};
use nfops_core::state::State;
use nfops_core::Result;
use serde::Serialize;

use super::alert::{AlertState, ProbeStatus, Transition};
use super::check::Sample;

/// Samples older than this are deleted when new ones are recorded.
const KEEP_DAYS: i64 = 30;

/// Samples and alert states of every environment's probes.
#[derive(Clone, Debug)]
pub struct UptimeHistory {
    state: State,
}

/// A probe over a time range, for the page and `nfops uptime`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSummary {
    pub probe: String,
    pub status: ProbeStatus,
    pub consecutive_failures: u32,
    pub checks: u64,
    pub failures: u64,
    /// Good checks over all checks, in percent; `None` without checks.
    pub uptime_percent: Option<f64>,
    pub mean_latency_ms: Option<f64>,
    pub last: Option<Sample>,
}

impl UptimeHistory {
    pub fn new(state: State) -> Self {
        Self { state }
    }

    /// Stores `sample` of `probe`, advances its alert state with
    /// `threshold`, and returns the new state and the transition, if any.
    /// State and sample are written in one transaction, so two processes
    /// watching the same probe raise a transition once.
    ///
    /// Errors: `state.error` when SQLite refuses the write.
    pub async fn record(
        &self,
        environment: &str,
        probe: &str,
        sample: &Sample,
        threshold: u32,
    ) -> Result<(AlertState, Option<Transition>)> {
        let mut tx = self.state.pool().begin().await?;
        let at = sample.at.timestamp_millis();
        sqlx::query(
            "INSERT OR REPLACE INTO uptime_samples(environment, probe, at, ok, latency_ms, detail) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(environment)
        .bind(probe)
        .bind(at)
        .bind(sample.ok)
        .bind(sample.latency_ms)
        .bind(&sample.detail)
        .execute(&mut *tx)
        .await?;
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT status, consecutive_failures FROM uptime_state WHERE environment = ? AND probe = ?",
        )
        .bind(environment)
        .bind(probe)
        .fetch_optional(&mut *tx)
        .await?;
        let before = row.map_or_else(AlertState::default, |(s, n)| AlertState {
            status: ProbeStatus::parse(&s),
            consecutive_failures: u32::try_from(n).unwrap_or(0),
        });
        let (after, transition) = before.advance(sample.ok, threshold);
        let changed_at = if after.status != before.status {
            at
        } else {
            sqlx::query_as::<_, (i64,)>(
                "SELECT changed_at FROM uptime_state WHERE environment = ? AND probe = ?",
            )
            .bind(environment)
            .bind(probe)
            .fetch_optional(&mut *tx)
            .await?
            .map_or(at, |r| r.0)
        };
        sqlx::query(
            "INSERT INTO uptime_state(environment, probe, status, consecutive_failures, changed_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT(environment, probe) DO UPDATE SET status = excluded.status,
               consecutive_failures = excluded.consecutive_failures, changed_at = excluded.changed_at",
        )
        .bind(environment)
        .bind(probe)
        .bind(after.status.as_str())
        .bind(i64::from(after.consecutive_failures))
        .bind(changed_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM uptime_samples WHERE at < ?")
            .bind(at - KEEP_DAYS * 86_400_000)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((after, transition))
    }

    /// Samples of `probe` since `since`, oldest first.
    pub async fn samples(
        &self,
        environment: &str,
        probe: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<Sample>> {
        let rows: Vec<(i64, bool, Option<f64>, String)> = sqlx::query_as(
            "SELECT at, ok, latency_ms, detail FROM uptime_samples
             WHERE environment = ? AND probe = ? AND at >= ? ORDER BY at",
        )
        .bind(environment)
        .bind(probe)
        .bind(since.timestamp_millis())
        .fetch_all(self.state.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(at, ok, latency_ms, detail)| Sample {
                at: Utc.timestamp_millis_opt(at).single().unwrap_or_default(),
                ok,
                latency_ms,
                detail,
            })
            .collect())
    }

    /// The summary of `probe` since `since`, with its current alert state.
    pub async fn summary(
        &self,
        environment: &str,
        probe: &str,
        since: DateTime<Utc>,
    ) -> Result<ProbeSummary> {
        let (checks, failures, mean): (i64, i64, Option<f64>) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(1 - ok), 0), AVG(latency_ms) FROM uptime_samples
             WHERE environment = ? AND probe = ? AND at >= ?",
        )
        .bind(environment)
        .bind(probe)
        .bind(since.timestamp_millis())
        .fetch_one(self.state.pool())
        .await?;
        let last: Option<(i64, bool, Option<f64>, String)> = sqlx::query_as(
            "SELECT at, ok, latency_ms, detail FROM uptime_samples
             WHERE environment = ? AND probe = ? ORDER BY at DESC LIMIT 1",
        )
        .bind(environment)
        .bind(probe)
        .fetch_optional(self.state.pool())
        .await?;
        let state = self.alert_state(environment, probe).await?;
        let checks = u64::try_from(checks).unwrap_or(0);
        let failures = u64::try_from(failures).unwrap_or(0);
        Ok(ProbeSummary {
            probe: probe.to_owned(),
            status: state.status,
            consecutive_failures: state.consecutive_failures,
            checks,
            failures,
            uptime_percent: (checks > 0)
                .then(|| 100.0 * (checks - failures) as f64 / checks as f64),
            mean_latency_ms: mean,
            last: last.map(|(at, ok, latency_ms, detail)| Sample {
                at: Utc.timestamp_millis_opt(at).single().unwrap_or_default(),
                ok,
                latency_ms,
                detail,
            }),
        })
    }

    /// The alert state of `probe` (unknown when never checked).
    pub async fn alert_state(&self, environment: &str, probe: &str) -> Result<AlertState> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT status, consecutive_failures FROM uptime_state WHERE environment = ? AND probe = ?",
        )
        .bind(environment)
        .bind(probe)
        .fetch_optional(self.state.pool())
        .await?;
        Ok(row.map_or_else(AlertState::default, |(s, n)| AlertState {
            status: ProbeStatus::parse(&s),
            consecutive_failures: u32::try_from(n).unwrap_or(0),
        }))
    }
}

/// Uptime percentage per bucket of `bucket_seconds`, as chart points
/// `(unix seconds of the bucket's start, percent)`; buckets without a sample
/// are left out (a gap, not 0 %).
pub fn uptime_buckets(samples: &[Sample], start: f64, bucket_seconds: f64) -> Vec<(f64, f64)> {
    let mut buckets: std::collections::BTreeMap<i64, (u32, u32)> = Default::default();
    for s in samples {
        let t = s.at.timestamp_millis() as f64 / 1000.0;
        let idx = ((t - start) / bucket_seconds).floor() as i64;
        let e = buckets.entry(idx).or_default();
        e.0 += u32::from(s.ok);
        e.1 += 1;
    }
    buckets
        .into_iter()
        .map(|(i, (good, all))| {
            (
                start + i as f64 * bucket_seconds,
                100.0 * f64::from(good) / f64::from(all),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_s: i64, ok: bool) -> Sample {
        Sample {
            at: Utc.timestamp_opt(at_s, 0).single().expect("time"),
            ok,
            latency_ms: ok.then_some(5.0),
            detail: String::new(),
        }
    }

    #[tokio::test]
    async fn records_samples_and_raises_down_once_then_recovery() {
        let dir = tempfile::tempdir().expect("tempdir");
        let h = UptimeHistory::new(State::open(dir.path()).await.expect("state"));
        let t0 = Utc::now().timestamp();
        let mut transitions = Vec::new();
        for (i, ok) in [true, false, false, false, true].into_iter().enumerate() {
            let (_, t) = h
                .record("production", "health", &sample(t0 + i as i64 * 20, ok), 2)
                .await
                .expect("record");
            transitions.push(t);
        }
        assert_eq!(
            transitions,
            vec![
                None,
                None,
                Some(Transition::WentDown),
                None,
                Some(Transition::Recovered)
            ]
        );
        let since = Utc.timestamp_opt(t0 - 1, 0).single().expect("time");
        let s = h
            .summary("production", "health", since)
            .await
            .expect("summary");
        assert_eq!((s.checks, s.failures), (5, 3));
        assert_eq!(s.uptime_percent, Some(40.0));
        assert_eq!(s.status, ProbeStatus::Up);
        assert!(
            s.last.as_ref().is_some_and(|l| l.ok),
            "the newest sample is the good one"
        );
        let other = h
            .summary("staging", "health", since)
            .await
            .expect("summary");
        assert_eq!(other.checks, 0, "environments do not share history");
        assert_eq!(other.uptime_percent, None);
    }

    #[test]
    fn buckets_give_percentages_and_leave_gaps() {
        let samples = [sample(0, true), sample(10, false), sample(125, true)];
        assert_eq!(
            uptime_buckets(&samples, 0.0, 60.0),
            vec![(0.0, 50.0), (120.0, 100.0)],
            "the empty minute 60..120 is a gap"
        );
    }
}

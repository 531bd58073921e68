//! Redis charts (memory, hit ratio) from Redis's own `INFO` counters,
//! sampled by the console into SQLite: no Redis exporter is needed (the
//! local stack has none). Each Metrics refresh of an environment takes a
//! sample, and so does the desktop's background watch, every 30 s.

use std::time::Duration;

use chrono::Utc;
use nfops_core::Result;
use nfops_metrics::catalog::{ChartSpec, Unit};
use nfops_metrics::{render_svg_spanning, ChartData, ChartOutcome, Drawing, Series};

use crate::Console;

static REDIS_MEMORY: ChartSpec = ChartSpec {
    id: "redis-memory",
    title: "Redis memory used (bytes)",
    source: "redis",
    unit: Unit::Count,
    host_scoped: false,
    lines: &[],
};

static REDIS_HIT_RATIO: ChartSpec = ChartSpec {
    id: "redis-hit-ratio",
    title: "Redis hit ratio",
    source: "redis",
    unit: Unit::Percent,
    host_scoped: false,
    lines: &[],
};

/// Samples older than this are dropped.
const KEEP_DAYS: i64 = 30;

impl Console {
    /// Reads Redis `INFO` of `env` now and records it.
    ///
    /// Errors: `config.*`; `input.invalid` without a cache; the cache's
    /// connection errors; `state.error`.
    pub async fn cache_sample(&self, env: &str) -> Result<nfops_fleet::CacheStats> {
        let config = self.config()?;
        let environment = config.environment(env)?;
        let stats = nfops_fleet::cache_stats(
            environment,
            self.keyring().as_ref(),
            &self.known_hosts(),
            Duration::from_secs(5),
        )
        .await?;
        let at = Utc::now().timestamp_millis();
        sqlx::query("INSERT OR REPLACE INTO cache_samples(environment, at, used_memory, keyspace_hits, keyspace_misses) VALUES (?, ?, ?, ?, ?)")
            .bind(env)
            .bind(at)
            .bind(i64::try_from(stats.used_memory_bytes).unwrap_or(i64::MAX))
            .bind(i64::try_from(stats.keyspace_hits).unwrap_or(i64::MAX))
            .bind(i64::try_from(stats.keyspace_misses).unwrap_or(i64::MAX))
            .execute(self.state().pool())
            .await?;
        sqlx::query("DELETE FROM cache_samples WHERE at < ?")
            .bind(at - KEEP_DAYS * 86_400_000)
            .execute(self.state().pool())
            .await?;
        Ok(stats)
    }

    /// The Redis memory and hit-ratio charts of `env` over `drawing.range`,
    /// after taking a fresh sample (a failed sample is the charts' error).
    pub(crate) async fn cache_charts(&self, env: &str, drawing: Drawing) -> Vec<ChartOutcome> {
        let sampled = self.cache_sample(env).await;
        let end = Utc::now().timestamp_millis() as f64 / 1000.0;
        let start = end - drawing.range.seconds() as f64;
        let rows: Result<Vec<(i64, i64, i64, i64)>> = sqlx::query_as(
            "SELECT at, used_memory, keyspace_hits, keyspace_misses FROM cache_samples WHERE environment = ? AND at >= ? ORDER BY at",
        )
        .bind(env)
        .bind((start * 1000.0) as i64)
        .fetch_all(self.state().pool())
        .await
        .map_err(Into::into);
        let failure = match (&sampled, &rows) {
            (Err(e), _) | (_, Err(e)) => Some(e.to_wire()),
            _ => None,
        };
        let (memory, ratio) = match (failure, rows) {
            (Some(w), _) => {
                return [&REDIS_MEMORY, &REDIS_HIT_RATIO]
                    .into_iter()
                    .map(|spec| ChartOutcome {
                        spec,
                        queries: Vec::new(),
                        result: Err(nfops_core::Error::from(w.clone())),
                        failed_query: None,
                    })
                    .collect();
            }
            (None, Ok(rows)) => series(&rows),
            (None, Err(_)) => (Vec::new(), Vec::new()),
        };
        [(&REDIS_MEMORY, memory), (&REDIS_HIT_RATIO, ratio)]
            .into_iter()
            .map(|(spec, points)| {
                let series = vec![Series {
                    name: env.to_owned(),
                    points,
                }];
                ChartOutcome {
                    spec,
                    queries: Vec::new(),
                    result: render_svg_spanning(
                        &series,
                        &[],
                        Some((start, end)),
                        spec.unit,
                        drawing.theme,
                        drawing.size,
                    )
                    .map(|rendered| ChartData {
                        series,
                        omitted: 0,
                        rendered,
                    })
                    .map_err(|why| {
                        nfops_core::Error::internal(format!(
                            "chart {} could not be drawn: {why}",
                            spec.id
                        ))
                    }),
                    failed_query: None,
                }
            })
            .collect()
    }
}

/// Memory points, and the hit ratio between consecutive samples (a gap when
/// no lookup happened in between or the counters went back: a restart).
/// Chart points: `(unix seconds, value)`.
type Points = Vec<(f64, f64)>;

fn series(rows: &[(i64, i64, i64, i64)]) -> (Points, Points) {
    let memory = rows
        .iter()
        .map(|r| (r.0 as f64 / 1000.0, r.1 as f64))
        .collect();
    let ratio = rows
        .windows(2)
        .map(|w| {
            let (hits, misses) = (w[1].2 - w[0].2, w[1].3 - w[0].3);
            let t = w[1].0 as f64 / 1000.0;
            if hits < 0 || misses < 0 || hits + misses == 0 {
                (t, f64::NAN)
            } else {
                (t, 100.0 * hits as f64 / (hits + misses) as f64)
            }
        })
        .collect();
    (memory, ratio)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hit_ratio_is_per_interval_and_resets_are_gaps() {
        let rows = [
            (1000, 10, 0, 0),
            (2000, 11, 30, 10),
            (3000, 12, 30, 10),
            (4000, 12, 5, 0),
        ];
        let (memory, ratio) = super::series(&rows);
        assert_eq!(memory.len(), 4);
        assert_eq!(ratio[0], (2.0, 75.0));
        assert!(ratio[1].1.is_nan(), "no lookups: a gap, not 0 %");
        assert!(ratio[2].1.is_nan(), "counters went back (restart): a gap");
    }
}

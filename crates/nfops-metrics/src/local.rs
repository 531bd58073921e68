//! The local machine's own CPU and memory (sysinfo), so the Metrics page
//! is never empty when no Prometheus is configured.
//!
//! There is no history to query: samples are taken when asked (at most one
//! per second) and kept in memory for up to a week, so the charts grow while
//! the app runs.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sysinfo::System;

use crate::chart::Series;

/// Samples kept: a week at one per 30 s refresh, bounded whatever the rate.
const KEEP: usize = 20_160;

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    cpu: f64,
    memory: f64,
}

struct Inner {
    system: System,
    samples: VecDeque<Sample>,
    last: Option<Instant>,
}

/// This machine's metrics, sampled on demand. Share one per process.
pub struct LocalMetrics {
    inner: Mutex<Inner>,
}

impl Default for LocalMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalMetrics {
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                system: System::new(),
                samples: VecDeque::new(),
                last: None,
            }),
        }
    }

    /// Takes a sample now (unless one was taken in the last second) and
    /// returns the `cpu` and `memory` series since `since` (unix seconds).
    /// Blocks for about 0.2 s on the first call: CPU use is a difference of
    /// two readings. Call it from a blocking task.
    pub fn sample(&self, since: f64) -> LocalSeries {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = inner
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1));
        if !fresh {
            if inner.last.is_none() {
                inner.system.refresh_cpu_usage();
                std::thread::sleep(
                    sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.max(Duration::from_millis(200)),
                );
            }
            inner.system.refresh_cpu_usage();
            inner.system.refresh_memory();
            let total = inner.system.total_memory() as f64;
            let memory = if total > 0.0 {
                100.0 * inner.system.used_memory() as f64 / total
            } else {
                f64::NAN
            };
            let at = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default();
            let cpu = f64::from(inner.system.global_cpu_usage());
            inner.samples.push_back(Sample { at, cpu, memory });
            while inner.samples.len() > KEEP {
                inner.samples.pop_front();
            }
            inner.last = Some(Instant::now());
        }
        let recent: Vec<Sample> = inner
            .samples
            .iter()
            .filter(|s| s.at >= since)
            .copied()
            .collect();
        LocalSeries {
            cpu: Series {
                name: "this machine".into(),
                points: recent.iter().map(|s| (s.at, s.cpu)).collect(),
            },
            memory: Series {
                name: "this machine".into(),
                points: recent.iter().map(|s| (s.at, s.memory)).collect(),
            },
        }
    }
}

/// What [`LocalMetrics::sample`] returns.
pub struct LocalSeries {
    pub cpu: Series,
    pub memory: Series,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_percentages_and_accumulate() {
        let m = LocalMetrics::new();
        let a = m.sample(0.0);
        assert_eq!(a.cpu.points.len(), 1, "the first call takes one sample");
        let (_, cpu) = a.cpu.points[0];
        let (_, mem) = a.memory.points[0];
        assert!((0.0..=100.0).contains(&cpu), "cpu {cpu}");
        assert!(
            mem > 0.0 && mem <= 100.0,
            "a running machine uses some memory: {mem}"
        );
        assert_eq!(
            m.sample(0.0).cpu.points.len(),
            1,
            "no second sample within a second"
        );
        assert!(
            m.sample(f64::MAX).cpu.points.is_empty(),
            "only samples since the asked time"
        );
    }
}

//! Progress reporting, as a trait the domain receives.
//!
//! The desktop shell forwards events over a Tauri channel, the CLI draws
//! progress bars. [`Throttled`] keeps chatty steps from flooding either.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::WireError;

use super::{JobState, StepState};

/// What happened in a job, in order.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum ProgressEvent {
    #[serde(rename_all = "camelCase")]
    JobStarted {
        job_id: String,
        kind: String,
        steps: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    StepStarted { index: usize, name: String },
    /// `done` of `total` units (rows, bytes, objects); `total` when known.
    #[serde(rename_all = "camelCase")]
    StepProgress {
        index: usize,
        done: u64,
        total: Option<u64>,
        unit: String,
    },
    #[serde(rename_all = "camelCase")]
    StepMessage { index: usize, message: String },
    #[serde(rename_all = "camelCase")]
    StepFinished {
        index: usize,
        state: StepState,
        evidence: Option<String>,
        error: Option<WireError>,
    },
    #[serde(rename_all = "camelCase")]
    JobFinished {
        job_id: String,
        state: JobState,
        error: Option<WireError>,
    },
}

/// Receives progress. Must be cheap and must not block: it is called from the
/// job's task.
pub trait Progress: Send + Sync {
    fn event(&self, event: &ProgressEvent);
}

/// Discards everything.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: &ProgressEvent) {}
}

/// Passes every event through except `StepProgress` events that arrive less
/// than `interval` after the previous one of the same step passed; the first
/// and the last progress of a step (done == total) always pass.
pub struct Throttled<P> {
    inner: P,
    interval: Duration,
    /// Step index and time of the last progress event that passed.
    last: Mutex<Option<(usize, Instant)>>,
}

impl<P: Progress> Throttled<P> {
    pub fn new(inner: P, interval: Duration) -> Self {
        Self {
            inner,
            interval,
            last: Mutex::new(None),
        }
    }
}

impl<P: Progress> Progress for Throttled<P> {
    fn event(&self, event: &ProgressEvent) {
        if let ProgressEvent::StepProgress {
            index, done, total, ..
        } = event
        {
            let finished = total.is_some_and(|t| *done >= t);
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let recent =
                last.is_some_and(|(i, at)| i == *index && now.duration_since(at) < self.interval);
            if !finished && recent {
                return;
            }
            *last = Some((*index, now));
        }
        self.inner.event(event);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    struct Count(Arc<AtomicUsize>);
    impl Progress for Count {
        fn event(&self, _e: &ProgressEvent) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn throttle_drops_bursts_but_keeps_the_end() {
        let n = Arc::new(AtomicUsize::new(0));
        let t = Throttled::new(Count(n.clone()), Duration::from_secs(60));
        for done in 0..1000 {
            t.event(&ProgressEvent::StepProgress {
                index: 0,
                done,
                total: Some(1000),
                unit: "rows".into(),
            });
        }
        t.event(&ProgressEvent::StepProgress {
            index: 0,
            done: 1000,
            total: Some(1000),
            unit: "rows".into(),
        });
        assert_eq!(
            n.load(Ordering::SeqCst),
            2,
            "first event and the final one pass, the burst is dropped"
        );
        t.event(&ProgressEvent::StepProgress {
            index: 1,
            done: 1,
            total: Some(10),
            unit: "rows".into(),
        });
        assert_eq!(
            n.load(Ordering::SeqCst),
            3,
            "a new step's first progress is not swallowed by the previous step's timer"
        );
    }
}

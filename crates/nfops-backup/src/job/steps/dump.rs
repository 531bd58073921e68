//! Step "dump": one consistent snapshot of the database, every table streamed
//! as SQL through zstd and age into the `.partial` folder. Its evidence: every
//! file is on disk with the size the writer counted.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nfops_core::jobs::{Step, StepContext, Verified};
use nfops_core::{Error, ErrorCode, Result};
use nfops_mysql::{DumpCounters, DumpOutcome, FileEntry};

use crate::job::{database_route, Shared};
use crate::sink::LocalSink;

pub(crate) struct DumpStep(pub(crate) Arc<Shared>);

#[async_trait]
impl Step for DumpStep {
    async fn run(&self, cx: &StepContext<'_>) -> Result<Verified> {
        let s = &self.0;
        let route = database_route(&s.req).await?;
        let target = route.target.clone();
        *s.route.lock().await = Some(route);
        let sink = Arc::new(LocalSink::new(&s.dir, s.req.recipients.clone()));
        let counters = Arc::new(DumpCounters::default());
        let dump = nfops_mysql::dump(&target, sink, &s.req.options, counters.clone());
        tokio::pin!(dump);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let started = std::time::Instant::now();
        let outcome = loop {
            tokio::select! {
                r = &mut dump => break r?,
                _ = tick.tick() => {
                    let rows = counters.rows.load(Ordering::Relaxed);
                    cx.advance(rows, Some(s.est_rows.max(rows).max(1)), "rows");
                    cx.message(DumpRate {
                        parts_done: counters.items_done.load(Ordering::Relaxed),
                        parts_total: counters.items_total.load(Ordering::Relaxed),
                        rows,
                        est_rows: s.est_rows,
                        sql_bytes: counters.sql_bytes.load(Ordering::Relaxed),
                        elapsed: started.elapsed(),
                    }.describe());
                }
            }
        };
        *s.route.lock().await = None;
        let rows: u64 = outcome.tables.iter().map(|t| t.rows).sum();
        cx.advance(rows, Some(rows), "rows");
        // Check: every file exists with the size the writer counted.
        let files = all_files(&outcome);
        let mut stored = 0;
        for f in &files {
            let len = std::fs::metadata(s.dir.join(&f.name))
                .map(|m| m.len())
                .map_err(|e| Error::io(format!("checking backup file {}", f.name), e))?;
            if len != f.bytes {
                return Err(Error::new(
                    ErrorCode::CheckFailed,
                    format!(
                        "backup file {} has {len} bytes on disk, {} were written",
                        f.name, f.bytes
                    ),
                ));
            }
            stored += len;
        }
        let evidence = format!(
            "{} tables, {rows} rows in {} files; {stored} bytes on disk == bytes written",
            outcome.tables.len(),
            files.len()
        );
        *s.dump.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        Ok(Verified::by(evidence))
    }
}

/// Live figures of a running dump: what the progress message shows.
#[derive(Debug, Clone, Copy)]
pub struct DumpRate {
    pub parts_done: u64,
    pub parts_total: u64,
    pub rows: u64,
    /// The plan's estimate (information_schema), 0 when unknown.
    pub est_rows: u64,
    pub sql_bytes: u64,
    pub elapsed: Duration,
}

impl DumpRate {
    /// Rows per second so far (0 before the first second of data).
    pub fn rows_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs < 0.5 {
            0.0
        } else {
            self.rows as f64 / secs
        }
    }

    /// SQL bytes per second so far.
    pub fn bytes_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs < 0.5 {
            0.0
        } else {
            self.sql_bytes as f64 / secs
        }
    }

    /// Time left at the current row rate, against the estimate; `None` while
    /// there is no rate yet or the estimate is already passed.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rows_per_sec();
        if rate <= 0.0 || self.est_rows <= self.rows {
            return None;
        }
        Some(Duration::from_secs_f64(
            (self.est_rows - self.rows) as f64 / rate,
        ))
    }

    /// `3/7 parts (tables and chunks), 12,000 rows, 14 MB of SQL, 5,000 rows/s, 6.1 MB/s, ETA 12 s`.
    pub fn describe(&self) -> String {
        let eta = match self.eta() {
            Some(d) if d.as_secs() >= 60 => {
                format!("ETA {} min {} s", d.as_secs() / 60, d.as_secs() % 60)
            }
            Some(d) => format!("ETA {} s", d.as_secs()),
            None if self.rows_per_sec() > 0.0 => "ETA: finishing".into(),
            None => "ETA: measuring".into(),
        };
        format!(
            "{}/{} parts (tables and chunks), {} rows, {} MB of SQL, {:.0} rows/s, {:.1} MB/s, {eta}",
            self.parts_done,
            self.parts_total,
            self.rows,
            self.sql_bytes / 1_000_000,
            self.rows_per_sec(),
            self.bytes_per_sec() / 1e6
        )
    }
}

pub(crate) fn all_files(d: &DumpOutcome) -> Vec<FileEntry> {
    let mut v = vec![d.schema_file.clone()];
    v.extend(d.data_files.iter().cloned());
    v.push(d.post_file.clone());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_eta_follow_the_rows() {
        let r = DumpRate {
            parts_done: 2,
            parts_total: 8,
            rows: 1000,
            est_rows: 5000,
            sql_bytes: 2_000_000,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(r.rows_per_sec(), 500.0);
        assert_eq!(r.bytes_per_sec(), 1_000_000.0);
        assert_eq!(r.eta(), Some(Duration::from_secs(8)));
        let text = r.describe();
        assert!(text.contains("2/8 parts"), "{text}");
        assert!(text.contains("500 rows/s"), "{text}");
        assert!(text.contains("1.0 MB/s"), "{text}");
        assert!(text.contains("ETA 8 s"), "{text}");
    }

    #[test]
    fn no_eta_without_a_rate_or_past_the_estimate() {
        let mut r = DumpRate {
            parts_done: 0,
            parts_total: 3,
            rows: 0,
            est_rows: 100,
            sql_bytes: 0,
            elapsed: Duration::from_millis(100),
        };
        assert_eq!(r.eta(), None);
        assert!(r.describe().contains("ETA: measuring"));
        r.rows = 200;
        r.elapsed = Duration::from_secs(125);
        assert_eq!(r.eta(), None, "the estimate was low: no negative ETA");
        r.est_rows = 200 + 8 * 60;
        assert!(r.describe().contains("ETA 5 min 0 s"), "{}", r.describe());
    }
}

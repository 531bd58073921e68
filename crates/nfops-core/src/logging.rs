//! Structured logs: JSON lines, timestamped, daily rolling files.
//!
//! Every event should carry a `category` field, one of [`category`]'s names,
//! as the platform's logging architecture defines them. Never log a secret:
//! secrets are `Sensitive` and print as `[redacted]` anyway.

use std::path::Path;

pub use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::error::{Error, ErrorCode, Result};

/// Log categories.
pub mod category {
    pub const APPLICATION: &str = "application";
    pub const ERROR: &str = "error";
    pub const ACCESS: &str = "access";
    pub const SECURITY: &str = "security";
    pub const WORKER: &str = "worker";
}

/// Starts logging to `<log_dir>/<component>.YYYY-MM-DD.jsonl`, keeping 14
/// files. Keep the guard alive for the life of the process: dropping it
/// flushes. `NFOPS_LOG` sets the filter (default `info`).
pub fn init(log_dir: &Path, component: &str) -> Result<WorkerGuard> {
    // Logs name hosts, databases and what the servers answered: the user's only.
    crate::paths::private_dir(log_dir, "log folder")?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(component)
        .filename_suffix("jsonl")
        .max_log_files(14)
        .build(log_dir)
        .map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot open log files in {}", log_dir.display()),
            )
            .source(e)
        })?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("NFOPS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer);
    // A second init in the same process (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
    Ok(guard)
}

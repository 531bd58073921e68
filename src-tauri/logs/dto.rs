//! Wire types of the Logs page.

use serde::Serialize;
use specta::Type;

use crate::failure::Failure;

/// One structured log line.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub ts: String,
    pub level: String,
    pub category: String,
    pub msg: String,
    pub app: String,
    pub host: String,
    /// The whole line as JSON text (every field).
    pub raw: String,
}

/// A host whose logs could not be read.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LogHostFailure {
    pub host: String,
    pub error: Failure,
}

/// The newest lines of an environment.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LogTail {
    /// `pm2` (files over SSH) or `loki`.
    pub source: String,
    pub lines: Vec<LogLine>,
    pub failed_hosts: Vec<LogHostFailure>,
}

impl From<nfops_ops::LogTail> for LogTail {
    fn from(t: nfops_ops::LogTail) -> Self {
        Self {
            source: t.source,
            lines: t
                .entries
                .into_iter()
                .map(|e| LogLine {
                    ts: e.ts,
                    level: e.level,
                    category: e.category,
                    msg: e.msg,
                    app: e.app,
                    host: e.host,
                    raw: e.raw,
                })
                .collect(),
            failed_hosts: t
                .failed_hosts
                .into_iter()
                .map(|(host, e)| LogHostFailure {
                    host,
                    error: e.into(),
                })
                .collect(),
        }
    }
}

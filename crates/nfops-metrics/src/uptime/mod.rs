//! Uptime: probes per environment (HTTP status/keyword, TCP connect, TLS
//! certificate expiry), their history in the state database, and the
//! alerting rule that calls a probe down only after N failures in a row.
//!
//! - [`check`]: runs one probe once and says what it saw.
//! - [`alert`]: the pure state machine turning samples into down/recovered
//!   transitions.
//! - [`history`]: samples and alert state in SQLite (migration 0004), and
//!   the uptime percentage and latency over a time range.
//! - [`cert`]: reads `notAfter` from a DER certificate.

pub mod alert;
pub mod cert;
pub mod charts;
pub mod check;
pub mod history;

pub use alert::{AlertState, ProbeStatus, Transition};
pub use charts::{uptime_charts, UPTIME_LATENCY, UPTIME_PERCENT};
pub use check::{probes_of, Probe, Sample};
pub use history::{ProbeSummary, UptimeHistory};

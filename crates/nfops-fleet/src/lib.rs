//! NewFinity Ops fleet access: reaching the platform's hosts and services.
//!
//! - [`ssh`]: SSH sessions to the VPS hosts (key from a [`CredentialSource`],
//!   pinned or trust-on-first-use host keys), remote commands with timeouts,
//!   and local port forwarding (tunnels through a bastion).
//! - [`route`]: the one route to a database or cache, direct or through the
//!   SSH tunnel of the `via` host (backup, restore, promotion and the probes
//!   all reach the database through it).
//! - [`probe`]: the Overview's live state of one environment: backend health,
//!   running release per host, database, cache, storage and monitoring, probed
//!   concurrently, each reporting its own failure.
//!
//! Errors are [`nfops_core::Error`] with stable codes; driver text is kept as
//! the error's source, never as its message, and credential values never
//! appear in messages or logs.
//!
//! Never depends on Tauri, on the job crates (`nfops-backup`, `nfops-restore`,
//! `nfops-promote`) or on `nfops-ops`: they all reach the fleet through it.
//! Its only workspace dependencies are `nfops-core` and `nfops-mysql` (for
//! the routed database [`Target`](nfops_mysql::Target)).
//!
//! [`CredentialSource`]: nfops_core::credentials::CredentialSource

pub mod instances;
pub mod probe;
pub mod route;
pub mod s3;
pub mod ssh;

pub use probe::{
    cache_stats, probe_environment, probe_environment_with, CacheStats, EnvironmentStatus,
    ProbeKind, ProbeOptions, ProbeResult, ProbeState,
};
pub use route::{Endpoint, Route};
pub use ssh::{scan_host_key, shell_quote, ExecOutput, ScannedKey, SshSession, Tunnel};

//! Tauri commands, one file per feature. Each is a few lines: take state and
//! arguments, call the domain, convert to wire types.

pub mod app;
pub mod audit;
pub mod backups;
pub mod credentials;
pub mod exports;
pub mod logs;
pub mod metrics;
pub mod overview;
pub mod promote;
pub mod restore;
pub mod scaling;
pub mod secrets;
pub mod uptime;

//! NewFinity Ops core: the environment model, the error type that crosses to
//! the UI and CLI, secrets that cannot leak, the job engine, the audit log and
//! the console's local state. Knows nothing of Tauri.

pub mod audit;
pub mod config;
pub mod credentials;
pub mod error;
pub mod host;
pub mod http;
pub mod jobs;
pub mod lease;
pub mod logging;
pub mod paths;
pub mod sensitive;
pub mod state;

pub use error::{Error, ErrorCode, Result, WireError};
pub use sensitive::{SecretString, Sensitive};

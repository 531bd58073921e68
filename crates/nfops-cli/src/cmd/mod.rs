pub mod audit;
pub mod backup;
pub mod config;
pub mod credentials;
pub mod jobs;
pub mod metrics;
pub mod secrets;
pub mod status;

pub mod audit;
pub mod config;
pub mod credentials;
pub mod jobs;
pub mod status;

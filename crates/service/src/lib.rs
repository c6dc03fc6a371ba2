//! gauntlet as a service: `gauntlet serve` (sources polled, submissions queued, local workers,
//! reports, `/metrics`) and `gauntlet worker` (more workers, on any host that reaches the
//! database and the data directory), from one configuration file ([`config`]).
//!
//! The work itself is the pipeline's, one queued job at a time
//! (`gauntlet_pipeline::Pipeline::execute`); the queue, its leases and the delivery ledger are
//! the store's. This crate only puts them together: [`sources`] → [`dispatch`] → [`worker`]s →
//! [`reporter`].

pub mod config;
pub mod dispatch;
pub mod metrics;
pub mod reporter;
pub mod serve;
pub mod sources;
pub mod worker;

pub use config::{Config, ConfigError, Mail, Publish, Queue, Source, SourceKind, Transport};
pub use serve::Service;

/// Why the service cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("store: {0}")]
    Store(#[from] gauntlet_store::Error),
    #[error("pipeline: {0}")]
    Pipeline(#[from] gauntlet_pipeline::Error),
    #[error("Patchwork: {0}")]
    Patchwork(#[from] gauntlet_patchwork::Error),
    #[error("ingest: {0}")]
    Ingest(#[from] gauntlet_ingest::Error),
    #[error("report: {0}")]
    Report(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<String> for ConfigError {
    fn from(message: String) -> ConfigError {
        ConfigError::Invalid {
            path: std::path::PathBuf::new(),
            problems: vec![message],
        }
    }
}

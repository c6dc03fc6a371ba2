//! gauntlet as a service: what `gauntlet serve` and `gauntlet worker` run from.
//!
//! For now the configuration ([`config`]): its sources, projects, reporters and labs, read and
//! checked as a whole. The service loops themselves (polling, the durable queue's workers, the
//! exactly-once reporters) are built on it.

pub mod config;

pub use config::{Config, ConfigError, Mail, Publish, Queue, Source, SourceKind, Transport};

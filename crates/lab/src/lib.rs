//! Where tests run.
//!
//! The test stage hands the lab a built tree and the project's tests; the lab runs them and
//! returns, per test suite, the results and a status. Backends:
//! * [`host`]: the host's sandbox, for projects whose build is a program (the `command`
//!   recipe): a LAVA test definition's steps, or an LKP job compiled by job2sh, run confined with
//!   the project's time and output limits, their output read as it streams (LAVA signals, KTAP,
//!   `parse:` patterns);
//! * the QEMU and LAVA backends boot a kernel (issue 6).
//!
//! Infrastructure failures are [`Error`]s (the pipeline's ERROR); what a test did, including
//! failing or hanging, is a [`SuiteRun`].

pub mod host;
pub mod initramfs;
pub mod lava;
pub mod qemu;
mod tree_copy;

use std::path::PathBuf;

use gauntlet_results::{Counts, TestResult};
use gauntlet_verdict::Status;
use serde::{Deserialize, Serialize};

pub use host::HostLab;

/// Why tests could not be run (never the patch's fault).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sandbox: {0}")]
    Sandbox(#[from] gauntlet_sandbox::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Results(#[from] gauntlet_results::Error),
    #[error("LKP job {path}: {message}")]
    Job { path: String, message: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Lava(#[from] gauntlet_lava::Error),
    #[error("{0}")]
    Qemu(#[from] qemu::Error),
    #[error("{0}")]
    Initramfs(#[from] initramfs::Error),
}

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// One test suite's run: a LAVA definition, or one atomic LKP job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteRun {
    /// The definition's `metadata.name`, or the atomic job's name.
    pub suite: String,
    pub test_file: PathBuf,
    pub status: Status,
    /// One line.
    pub reason: String,
    pub results: Vec<TestResult>,
    pub counts: Counts,
    /// The run's whole output (capped).
    pub log: PathBuf,
    pub duration_ms: u128,
}

impl SuiteRun {
    /// Results that passed, and results in all (the report's "You have passed N tests on M").
    pub fn passed_of(&self) -> (u64, u64) {
        (self.counts.get(Status::Pass), self.counts.total())
    }
}

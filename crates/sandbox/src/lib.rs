//! placeholder
mod capture;
mod cgroup;
mod command;
mod detect;
mod error;
mod outcome;
mod plan;
mod procs;
mod run;

pub use capture::{LogStats, MAX_LINE};
pub use cgroup::CgroupVersion;
pub use command::{Command, Limits};
pub use detect::{
    Choice, Confinement, ConfinementKind, DetectOptions, Enforcement, Mechanism, Sandbox, Warning,
};
pub use error::Error;
pub use outcome::{Exit, Outcome, Termination};
pub use plan::{DEFAULT_PATH, HOSTNAME};

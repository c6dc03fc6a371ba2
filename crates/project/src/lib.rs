//! How users tell gauntlet what to do with the mails of their list.
//!
//! * A **project file** ([`Project`]) says which submissions a project takes, which tree they
//!   apply to, which checks run and how severe they are, how it is built (the kernel's kbuild or
//!   a plain command) for which architectures and configuration fragments, which tests run on
//!   which builds, and how results are reported. It extends the course seed's format:
//!
//!   ```yaml
//!   name: Proctree Syscall
//!   builds:
//!     - arch: x86_64
//!       config: [config/proctree_syscall, config/virtio_net]
//!       lava: True
//!     - arch: powerpc64
//!       config: [config/proctree_syscall]
//!   tests:
//!     path: epita/proctree.yaml
//!   ```
//! * A **LAVA test definition** ([`TestDefinition`]) is one kind of test file; the other is an
//!   LKP job file, which crate `gauntlet-job` loads.
//!
//! Loading is strict: unknown keys, wrong types, missing files, unknown architectures and bad
//! patterns are errors, every one of them reported with `file:line:column` and what was
//! expected, all of them at once. Relative paths resolve against the file that names them.

pub mod arch;
pub mod checks;
mod error;
mod project;
pub mod testdef;
pub mod units;
mod yaml;

pub use arch::{ARCHES, Arch};
pub use checks::{CheckSettings, OptionValue};
pub use error::{Error, Errors, Location};
pub use project::{
    Accepts, BaseConfig, Build, Candidate, CheckEntry, ChecksOn, DEFAULT_SIGNATURE, Limits,
    MailPolicy, MailSettings, PatchworkSettings, Project, Recipe, Report, Test, TestSuite, Tree,
    TreeSource, check_syntax, load_suite,
};
pub use testdef::{TestDefinition, Warning};

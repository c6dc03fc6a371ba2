//! LKP job files, with LKP's semantics.
//!
//! ```text
//! job.yaml ──JobFile::load──► documents ──expand──► AtomicJob… ──to_shell──► job.sh
//!          comments, includes,        hosts, defaults, hash_i,       LKP's job2sh, with
//!          {{ }} protection, ERB      overrides, matrix, {{ }}       correct quoting
//! ```
//!
//! * [`JobFile::load`] reads a job file as `lkp split-job` does: comment preservation,
//!   `<< : FILE` includes (LKP's search order), `{{ }}` protection, the ERB subset, then a
//!   Psych-compatible YAML stream ([`yaml`]).
//! * [`JobFile::expand`] streams the atomic jobs: hash_0, then hash_0 + hash_i for each later
//!   document; the hosts file of `-t`, auto-includes, command-line revisions ([`revise`]),
//!   matrix expansion and `{{ }}` evaluation ([`expr`]), LKP's file names.
//! * [`AtomicJob::to_shell`] is job2sh; [`ProgramTree`] says which keys are programs, from
//!   gauntlet's own embedded tree ([`ProgramTree::builtin`], [`builtin_tree_write`]) or an LKP
//!   source tree ([`ProgramTree::lkp_src`]).
//!
//! Errors that come from a file carry a `file:line:column` ([`Location`]).

mod defaults;
pub mod error;
mod expand;
pub mod expr;
mod job;
mod params;
pub mod revise;
mod shell;
mod source;
mod template;
mod tree;
pub mod value;
pub mod yaml;

pub use error::{Error, Location, Result};
pub use expand::{EXPAND_DIMS, rootfs_filename};
pub use job::{AtomicJob, ExpandOptions, Expansion, JobFile, LoadOptions, Override, tbox_group};
pub use params::expand_params;
pub use shell::{is_shell_name, shell_value, single_quote};
pub use tree::{
    Kind, Layout, Program, ProgramOption, ProgramTree, builtin_files, builtin_tree_write,
    parse_options,
};
pub use value::{Map, MapExt, StrKey, Value};
pub use yaml::Limits;

//! Git trees for the apply stage: a local bare mirror of a project's tree, a pool of working
//! copies of it, the inspection that refuses hostile patches, and applying a series with
//! `git am -3` on the base the cascade chooses.
//!
//! ```text
//! Mirror::open(cache, source) ──► Pool::new(mirror, n) ──► pool.lease() ──► Lease
//!                                                                          │
//!   inspect(patches) ─► choose_base_and_apply(&mut lease, patches, base-commit, branches)
//!                         base-commit → branch 1 → branch 2 … : lease.apply(base, patches)
//!                         └► ApplyReport { outcome, tried }   (the lease now holds the series)
//! ```
//!
//! * [`Mirror`]: `cache_dir/mirrors/<name>-<hash>.git`, created by cloning, refreshed by
//!   [`Mirror::fetch`] under a lock; resolves branches and commit ids.
//! * [`Pool`] / [`Lease`]: `git worktree`s of the mirror under `cache_dir/worktrees/<mirror>/`,
//!   leased with an exclusive `flock` that dies with the process; reset to a new base by
//!   rewriting only the files that differ.
//! * [`inspect`]: `..`, absolute and `.git` paths, symbolic links out of the tree, binaries
//!   and series over the limits are refused before anything runs.
//! * [`Lease::apply`]: one `git am -3` for the series; the failing patch, files and hunks;
//!   already-applied patches confirmed by `git patch-id --stable`.
//! * [`choose_base_and_apply`]: the base cascade, recorded in an [`ApplyReport`].
//! * [`publish`]: an applied submission pushed to a remote as
//!   `gauntlet/<project>/<series id>-v<revision>`, its base in a note (`refs/notes/gauntlet`);
//!   old branches expired.
//!
//! Every git command runs with `-C dir`, a clean environment, a timeout and bounded output
//! ([`GitSettings`]). Infrastructure failures are [`Error`]s (the pipeline's ERROR); a series
//! that does not apply is never an `Error` (the pipeline's FAIL).

mod apply;
mod binary;
mod cascade;
mod error;
mod git;
mod inspect;
mod lock;
mod mirror;
mod patch;
mod patchid;
mod pool;
pub mod publish;

pub use apply::{
    AlreadyApplied, Applied, ApplyFailure, ApplyOptions, FailureKind, FileFailure, PatchFailure,
    PatchOutcome,
};
pub use cascade::{
    ApplyReport, Attempt, AttemptResult, Base, BaseKind, Outcome, choose_base_and_apply,
};
pub use error::{Error, Result};
pub use git::{COMMITTER_EMAIL, COMMITTER_NAME, GitSettings};
pub use inspect::{InspectLimits, Problem, ProblemKind, Refusal, inspect};
pub use mirror::Mirror;
pub use patch::{Patch, PatchRef};
pub use pool::{Lease, Pool, default_size};

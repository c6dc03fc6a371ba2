//! Infrastructure errors: what is never the patch's fault.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Something went wrong that is not the patch's fault: git is missing or too old, a command
/// timed out or failed unexpectedly, the mirror cannot be fetched, the disk is full. The
/// pipeline maps it to ERROR (retried, never blamed on the patch). "The series does not apply"
/// is never an `Error`: it is an [`crate::ApplyReport`] outcome or [`crate::ApplyFailure::NotApplicable`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `git` could not be started at all.
    #[error("cannot run git: {source}")]
    GitMissing {
        #[source]
        source: std::io::Error,
    },
    /// The installed git is older than what this crate relies on.
    #[error("git {found} is too old: gauntlet needs git {needed} or newer")]
    GitTooOld { found: String, needed: String },
    /// A git command did not finish in time (it was killed).
    #[error("`git {command}` in {} did not finish within {}s", dir.display(), timeout.as_secs())]
    Timeout {
        command: String,
        dir: PathBuf,
        timeout: Duration,
    },
    /// A git command failed where failure is not about the patch.
    #[error("`git {command}` in {} failed ({status}): {message}", dir.display())]
    Git {
        command: String,
        dir: PathBuf,
        status: String,
        /// git's own message (bounded).
        message: String,
    },
    /// git said something this crate cannot make sense of (a bug here, or a git that behaves
    /// differently from the one it was written against).
    #[error("unexpected git behaviour in {}: {message}", dir.display())]
    Unexpected { dir: PathBuf, message: String },
    /// A file-system operation of this crate failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The tree source cannot be used (a path that does not exist, an empty repository).
    #[error("tree {source_name}: {message}")]
    Source {
        source_name: String,
        message: String,
    },
    /// A name cannot become a git ref (a project whose name has nothing ref-safe, or a branch
    /// `git check-ref-format` refuses).
    #[error("{name:?} cannot name a published branch: {reason}")]
    InvalidName { name: String, reason: String },
    /// Publishing to (or expiring on) a remote failed for a reason git did not report as a
    /// failed command: a commit that is not in the repository, a notes ref that kept moving.
    #[error("publishing to {remote}: {message}")]
    Publish { remote: String, message: String },
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn unexpected(dir: &Path, message: impl Into<String>) -> Error {
        Error::Unexpected {
            dir: dir.to_path_buf(),
            message: message.into(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

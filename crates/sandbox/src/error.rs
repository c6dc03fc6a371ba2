use std::io;
use std::path::PathBuf;

/// Why a command could not be run, or could not be run to the end, through no fault of its own.
///
/// Every variant is an infrastructure failure: the pipeline reports it as ERROR (retried, never
/// blamed on the patch). What the command itself did, including failing, timing out or being cut
/// at a limit, is an [`Outcome`](crate::Outcome), never an `Error`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command was built wrongly (relative path, bad environment name, no log file, …).
    #[error("invalid sandboxed command: {0}")]
    Invalid(String),

    /// The program is not an executable file the sandbox can see.
    #[error(
        "program `{program}` is not an executable visible in the sandbox (searched {searched})"
    )]
    ProgramNotFound { program: String, searched: String },

    /// The working directory or the source of a bind does not exist.
    #[error("{what} `{}` is missing: {source}", path.display())]
    MissingPath {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    /// The log file could not be created or written.
    #[error("cannot write the log `{}`: {source}", path.display())]
    Log { path: PathBuf, source: io::Error },

    /// The sandbox's first process could not be started at all.
    #[error("cannot start `{program}`: {source}")]
    Spawn { program: String, source: io::Error },

    /// The sandbox started but failed before the command ran: bubblewrap could not set up its
    /// namespaces or mounts, the cgroup could not be joined, a limit could not be set.
    #[error("the sandbox failed before the command started ({status}): {message}")]
    Setup { status: String, message: String },

    /// Something else the sandbox needs failed (a pipe, a thread, the process table).
    #[error("sandbox I/O error ({context}): {source}")]
    Io {
        context: &'static str,
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { context, source }
    }
}

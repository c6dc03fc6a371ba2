//! Errors. Every error that comes from a file says where: `file:line:column`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A place in a source file (line and column are 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<str>,
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn new(file: impl Into<Arc<str>>, line: usize, column: usize) -> Location {
        Location {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{location}: invalid UTF-8: {message}")]
    Utf8 { location: Location, message: String },
    /// The YAML does not parse, or is not a job (e.g. a top-level list).
    #[error("{location}: {message}")]
    Yaml { location: Location, message: String },
    /// A safety limit: alias expansion budget, nesting depth, include depth.
    #[error("{location}: {message}")]
    Limit { location: Location, message: String },
    /// A `<< : FILE` include that cannot be found, or that includes itself.
    #[error("{location}: {message}")]
    Include { location: Location, message: String },
    /// ERB outside the supported subset, or a template that does not parse.
    #[error("{location}: {message}")]
    Template { location: Location, message: String },
    /// A `{{ }}` or `<%= %>` expression failed: unknown variable, division by zero, type error.
    #[error("{location}: {message}")]
    Eval { location: Location, message: String },
    /// An incremental key (`a-:`, `a.b.c:`) that cannot be applied.
    #[error("{location}: {message}")]
    Revise { location: Location, message: String },
    /// Something wrong with the job as a whole (no hosts file, not an atomic job, …).
    #[error("{location}: {message}")]
    Job { location: Location, message: String },
    /// A program tree problem (a program that cannot be read).
    #[error("{}: {message}", path.display())]
    Tree { path: PathBuf, message: String },
}

impl Error {
    /// Where the error is, when it comes from a file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Io { .. } | Error::Tree { .. } => None,
            Error::Utf8 { location, .. }
            | Error::Yaml { location, .. }
            | Error::Limit { location, .. }
            | Error::Include { location, .. }
            | Error::Template { location, .. }
            | Error::Eval { location, .. }
            | Error::Revise { location, .. }
            | Error::Job { location, .. } => Some(location),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

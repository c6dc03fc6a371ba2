//! Errors that name the file, line and column they are about.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a file: 1-based line and column (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl Location {
    pub fn new(file: &Path, line: u64, column: u64) -> Location {
        Location {
            file: file.to_path_buf(),
            line,
            column,
        }
    }

    /// The start of the file (for errors about the file as a whole).
    pub fn file(file: &Path) -> Location {
        Location::new(file, 0, 0)
    }

    pub(crate) fn of(file: &Path, at: &serde_saphyr::Location) -> Location {
        Location::new(file, at.line(), at.column())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        Ok(())
    }
}

/// Why a project file or a test definition cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML, or not the YAML this format expects (a wrong type, an unknown key).
    #[error("{at}: {message}{}", snippet_suffix(.snippet))]
    Syntax {
        at: Location,
        message: String,
        /// The offending lines, with a caret, when they could be shown.
        snippet: Option<String>,
    },
    /// Well-formed, but wrong: a missing file, an unknown architecture, a bad pattern.
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
}

fn snippet_suffix(snippet: &Option<String>) -> String {
    match snippet {
        Some(s) if !s.is_empty() => format!("\n{s}"),
        _ => String::new(),
    }
}

impl Error {
    pub(crate) fn invalid(at: Location, message: impl Into<String>) -> Error {
        Error::Invalid {
            at,
            message: message.into(),
        }
    }

    /// Where the error is.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Read { .. } => None,
            Error::Syntax { at, .. } | Error::Invalid { at, .. } => Some(at),
        }
    }
}

/// Several errors found in one pass: a project file is checked as a whole, so that a user fixes
/// every mistake in one go.
#[derive(Debug)]
pub struct Errors(pub Vec<Error>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

impl From<Error> for Errors {
    fn from(error: Error) -> Errors {
        Errors(vec![error])
    }
}

//! The errors of this crate. Parsing itself has none: bad input is data (a [`crate::Problem`],
//! a MISS); errors are for what the caller asked that cannot be done.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid parse pattern `{pattern}`: {source}")]
    Pattern {
        pattern: String,
        #[source]
        source: Box<regex::Error>,
    },
    #[error("parse pattern `{pattern}` has no named group `{group}` (write it `(?P<{group}>...)`)")]
    PatternGroup {
        pattern: String,
        group: &'static str,
    },
    #[error("cannot read the stream: {0}")]
    Read(#[source] io::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

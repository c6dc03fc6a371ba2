//! What can go wrong talking to a LAVA lab. Every one of these is the infrastructure's problem
//! (gauntlet's ERROR), never the patch's.

use std::time::Duration;

/// A LAVA request that did not give an answer to use.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401 or 403: the lab does not accept the token (or none was given).
    #[error("LAVA at {server} refused the token (HTTP {status}): {detail}")]
    TokenRefused {
        server: String,
        status: u16,
        detail: String,
    },
    /// Nothing answered: connection refused, no route, DNS, TLS, or no answer in time.
    #[error("LAVA at {server} is unreachable: {why}")]
    Unreachable { server: String, why: String },
    /// 400 and LAVA's own `message` (a definition LAVA refuses, a device type it does not have).
    #[error("LAVA refused the request: {message}")]
    Rejected { message: String },
    /// The object asked for does not exist (or is not visible to this token's user).
    #[error("LAVA has no {what}")]
    NotFound { what: String },
    /// Any other status, after the retries.
    #[error("LAVA at {server} answered HTTP {status} to {path}: {detail}")]
    Http {
        server: String,
        path: String,
        status: u16,
        detail: String,
    },
    /// An answer that is not what LAVA's API gives (or bigger than we read).
    #[error("unexpected answer from LAVA to {path}: {why}")]
    Protocol { path: String, why: String },
    /// The job did not finish in the time the follower was given.
    #[error("LAVA job {job} did not finish within {}s", .after.as_secs())]
    FollowTimeout { job: u64, after: Duration },
    /// A setting that cannot work (a URL that is not one…).
    #[error("{0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Definition(#[from] crate::job::DefinitionError),
    #[error("reading the job's console: {0}")]
    Results(#[from] gauntlet_results::Error),
}

impl Error {
    /// Whether trying the same request again later may work.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }
}

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

//! The write actions the API offers (rerun, cancel), as a trait that `gauntlet serve`
//! implements: queueing a series again needs the pipeline and the projects, which this crate
//! does not depend on.

use futures::future::BoxFuture;
use gauntlet_store::Id;

/// What an action could not do.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such run (answered 404).
    #[error("{0}")]
    NotFound(String),
    /// Not in this state (answered 409): a run that has ended, a project no longer served.
    #[error("{0}")]
    Conflict(String),
    /// Anything else (answered 500; the message goes to the log only).
    #[error("{0}")]
    Failed(String),
}

/// Rerun and cancel, as the service does them.
pub trait Actions: Send + Sync {
    /// Queues the series and project of run `run` again; returns the new run.
    fn rerun(&self, run: Id) -> BoxFuture<'_, Result<Id, ActionError>>;
    /// Cancels run `run` (queued jobs at once, running ones at their next renewal).
    fn cancel(&self, run: Id) -> BoxFuture<'_, Result<(), ActionError>>;
}

impl From<ActionError> for crate::Error {
    fn from(e: ActionError) -> crate::Error {
        match e {
            ActionError::NotFound(m) => crate::Error::NotFound(m),
            ActionError::Conflict(m) => crate::Error::Conflict(m),
            ActionError::Failed(m) => crate::Error::Io {
                context: "the action failed".into(),
                source: std::io::Error::other(m),
            },
        }
    }
}

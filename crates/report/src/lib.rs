//! What gauntlet tells the submitter, in the course's words.
//!
//! The pipeline fills a [`Report`] (who, which project and patch, the verdict, what failed and
//! why); a [`Template`] — the built-in one, in the seed's words, or the project's own minijinja
//! template — turns it into text; [`compose_reply`] makes it a reply mail threaded under the
//! series; [`Outbox`] drops mails into a maildir (the dry run); [`Mailer`] sends them, by SMTP
//! or into the outbox, and says whether a failure is worth a retry; [`should_mail`] is the
//! project's mail policy. With the feature `sink`, `sink::Sink` is an SMTP server for tests.
//!
//! The crate does not decide anything about the submission: it only words it (and, when told
//! to, sends the words).

mod mail;
mod outbox;
mod policy;
#[cfg(feature = "sink")]
pub mod sink;
mod smtp;
mod template;

use serde::Serialize;

pub use lettre::Message;
pub use lettre::address::Envelope;
pub use mail::{Addressee, Reply, compose_reply, reply_subject, stable_message_id};
pub use outbox::Outbox;
pub use policy::{MailConfig, MailPolicy, Recipients, should_mail};
pub use smtp::{
    Class, DEFAULT_SMTP_TIMEOUT, Delivery, Mailer, Security, SendError, SmtpAuth, SmtpMailer,
    SmtpSettings, envelope, reply_envelope,
};
pub use template::{DEFAULT_TEMPLATE, Template};

/// The verdict as the report words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accepted,
    Rejected,
    /// The infrastructure failed: nothing is blamed on the patches.
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::Error => "error",
        }
    }
}

/// One thing that went wrong, as the submitter should read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// `checks`, `apply`, `build`, `test`.
    pub stage: String,
    /// What failed: `patch 2/3`, `x86_64`, `proctree/basic`.
    pub what: String,
    /// One line.
    pub reason: String,
    /// The lines that show it (a compiler error, a test's output), short.
    pub excerpt: Option<String>,
    /// Where the full log is.
    pub link: Option<String>,
}

/// Everything a report says.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The submitter's name as they write it (or their address when they give none).
    pub name: String,
    pub email: String,
    pub project: String,
    /// `[v9] syscall: add dummy system call`
    pub patch: String,
    /// The test suites that ran or were meant to run.
    pub suites: Vec<String>,
    pub verdict: Verdict,
    /// Whether tests ran at all (a series rejected by a check is never tested).
    pub tests_ran: bool,
    pub passed: usize,
    pub total: usize,
    pub failures: Vec<Failure>,
    /// Findings that do not reject (warnings), one line each.
    pub warnings: Vec<String>,
    pub logs_url: Option<String>,
    pub signature: String,
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {message}")]
    Template { path: String, message: String },
    #[error("cannot read the template {path}: {source}")]
    ReadTemplate {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the reply cannot be composed: {0}")]
    Mail(String),
    #[error("outbox {path}: {source}")]
    Outbox {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

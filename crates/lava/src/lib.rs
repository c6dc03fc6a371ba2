//! A client of LAVA labs (LAVA 2023.01's REST API v0.2), independent of gauntlet's pipeline.
//!
//! | module | responsibility |
//! |---|---|
//! | `job` | typed job definitions ([`JobDefinition`], [`Action`], [`Deploy`], [`Boot`], [`Test`], [`Monitor`]…), to and from YAML |
//! | `client` | [`Client`]: submit, validate, job status, incremental logs, tests, cancel, version, whoami; timeouts, bounded retries, bounded answers |
//! | `api` | the answers read: [`JobInfo`] ([`JobState`], [`JobHealth`]), [`TestCase`], [`SuiteInfo`] |
//! | `follow` | [`Follower`]: polls a job to its end, tails its log into a [`gauntlet_results::StreamParser`]; [`Followed::verdict`] |
//! | `artifacts` | [`ArtifactServer`]: a directory served read-only over HTTP for the dispatcher; [`file_url`] |
//! | `error` | [`Error`]: token refused, lab unreachable, LAVA's refusal with its message… |
//! | `fake` | (feature `fake`) a fake LAVA on 127.0.0.1 for tests |
//!
//! # Statuses
//!
//! | LAVA says | gauntlet's status | why |
//! |---|---|---|
//! | health `Complete`, the test suites' results | PASS / FAIL (SKIP, MISS as the results say) | LAVA did its part; the results are the patch's |
//! | health `Complete`, a failure in LAVA's `lava` suite | ERROR | one of LAVA's own actions failed |
//! | health `Incomplete` | ERROR, with `failure_comment` or the `lava` suite's `job` error | infrastructure, boot or job failure: nothing proves the patch did it |
//! | health `Incomplete`, and the console shows a kernel panic, BUG or oops | FAIL | the kernel under test broke |
//! | health `Canceled` | ERROR "canceled" | |
//! | token refused, lab unreachable, definition refused | [`Error`] (the pipeline's ERROR) | |
//!
//! # Bounds
//!
//! Every request has a connect timeout and a total timeout and reads at most
//! `max_response_bytes`; retries are bounded and back off exponentially; a follow has a deadline,
//! reads at most `max_log_lines` lines and writes at most `max_log_bytes` of log; messages and
//! results kept are capped; the console reader is `gauntlet-results`' (bounded itself); pages of
//! a list read are capped. A LAVA server is untrusted input: nothing it sends can panic this
//! crate.

mod api;
mod artifacts;
mod client;
mod error;
#[cfg(feature = "fake")]
pub mod fake;
mod follow;
mod job;
pub mod settings;

pub use api::{JobHealth, JobInfo, JobState, SuiteInfo, TestCase};
pub use artifacts::{ArtifactServer, file_url};
pub use client::{Client, ClientConfig};
pub use error::Error;
pub use follow::{
    Canceller, FollowOptions, Followed, Follower, LogMessage, LogResult, Timings, Verdict,
};
pub use job::{
    Action, Boot, DefinitionError, DefinitionMetadata, DefinitionRef, Deploy, Image,
    InlineDefinition, JobDefinition, Map, Monitor, Parse, Priority, Repository, Run, Test, Timeout,
    Timeouts, Visibility,
};

//! Test output to test results.
//!
//! Everything that turns what a test run prints into results, for the three places that run
//! tests: the local test stage (a test definition's steps run on the host, their stdout read
//! here), the QEMU lab (a kernel's serial console, read as it streams) and the LAVA backend (a
//! LAVA job log). All three feed the same front end, [`StreamParser`], so that a result means
//! the same thing wherever it was produced.
//!
//! # Modules
//!
//! | module | responsibility |
//! |---|---|
//! | `model` | [`TestResult`], [`TestPath`], [`Suite`], [`Outcome`], [`Excerpt`], [`Counts`], [`Problems`] |
//! | `text` | cutting a byte stream into lines ([`LineSplitter`]), what a terminal shows ([`visible`]), kernel console prefixes ([`strip_console_prefix`]) |
//! | `cap` | [`LogCap`]: the head and the tail of a stream, the rest counted, line numbers exact |
//! | `lava` | LAVA signals ([`signals`], [`LavaCollector`]), LAVA result words, decimals |
//! | `pattern` | a test definition's `parse:` pattern and `fixupdict` ([`LavaPattern`]) |
//! | `ktap` | the KTAP/TAP parser ([`KtapParser`]) and its tree ([`KtapDocument`], [`KtapNode`]) |
//! | `console` | kernel console milestones and reports, stop decisions ([`ConsoleClassifier`], [`Action`]), [`SilenceWatch`] |
//! | `stream` | the front end ([`StreamParser`], [`StreamReport`], [`parse_stream`]) |
//! | `joblog` | LAVA job logs ([`read_job_log`], [`JobLogReport`]) |
//! | `flow` | the one-line YAML flow collections of a job log (private) |
//! | `helpers` | the `lava-test-*` shell scripts we ship ([`HELPERS`], [`write_helpers`]) |
//! | `error` | [`Error`]: what the caller asked that cannot be done |
//!
//! # Invariants
//!
//! * **Pure.** No processes, no network, no clock; input only through the `Read` or the byte
//!   slices given; the only file writes are [`write_helpers`]'. Time-based decisions (hangs)
//!   are the runner's; [`SilenceWatch`] only does the arithmetic on times it is given.
//! * **Never panics, never fails on input.** Bad input becomes data: a [`Problem`], a MISS, a
//!   replacement character. [`Error`] is only for a bad `parse:` pattern, a failing reader or
//!   a failing write.
//! * **Bounded.** Every buffer has a limit: line length ([`StreamConfig::max_line`]), the log
//!   ([`LogCap`]), excerpts, kernel reports kept, results kept per suite (more are counted in
//!   [`Suite::dropped`] and still weigh in its status), synthesized MISS tests, KTAP nesting,
//!   open LAVA cases, problems. A flood costs time, not memory.
//! * **Streaming.** Results do not depend on how the bytes were chunked.
//! * **One numbering.** Line numbers are 1-based and shared by every reader and the capped log
//!   of one stream (a job log's console has its own, mapped back by [`JobLogReport::log_line`]).
//! * **One vocabulary.** Statuses are [`gauntlet_verdict::Status`]; wholes are combined with
//!   [`Status::summarize`](gauntlet_verdict::Status::summarize) (the heaviest part wins).
//!
//! # Status mappings
//!
//! | input | status | why |
//! |---|---|---|
//! | LAVA `pass` / `fail` / `skip` | PASS / FAIL / SKIP | |
//! | LAVA `unknown` (and unrecognised words) | MISS | the case gave no answer: nothing to blame, nothing to pass |
//! | `lava-test-raise` (`TESTRAISE`) | ERROR, the run's outcome | the definition says its setup failed: infrastructure, not the patch |
//! | no `ENDRUN` for a `STARTRUN` | MISS, the run's outcome | the definition did not finish: part of it did not run |
//! | `STARTTC` without a result | MISS | it started and never answered |
//! | a failure in LAVA's suite `lava` (job log) | ERROR | LAVA's own actions: the lab failed, not the patch |
//! | KTAP `ok` / `not ok` | PASS / FAIL | |
//! | `# SKIP` (after `ok` or `not ok`) | SKIP | skipped either way |
//! | `not ok # TODO` / `ok # TODO` | SKIP / PASS | a known failure does not count (TAP); a TODO that works passes |
//! | `# XFAIL` | PASS | kselftest's expected failure happened |
//! | `# TIMEOUT` | FAIL | kselftest's runner killed a hung test |
//! | `# ERROR` | ERROR | KTAP: the harness failed, not the code under test |
//! | planned test without a result, test running at a crash or at the end | MISS | meant to run, did not: never PASS |
//! | `Bail out!` | MISS for what is left, ERROR for the document | the test program gave up |
//! | kernel panic, BUG, oops, GPF, KASAN/KFENCE/UBSAN, lockup, RCU stall, hung task | FAIL (console) | the kernel under test broke |
//! | `WARNING:` | FAIL (console), unless `warnings_fail` is off | a kernel assertion failed |
//! | timeout or silence without a kernel report | ERROR (console) | nothing proves the patch did it |
//! | no `Linux version` on a kernel console | ERROR (console) | boot loader, QEMU or console failure |
//! | done marker with `rc=N`, N ≠ 0 | FAIL (console) | the tests said so |

mod cap;
mod console;
mod error;
mod flow;
mod helpers;
mod joblog;
mod ktap;
mod lava;
mod model;
mod pattern;
mod stream;
mod text;

pub use cap::{CappedLog, LogCap};
pub use console::{
    Action, ConsoleClassifier, ConsoleConfig, ConsoleEvent, ConsoleSummary, Done, End, LineEvent,
    ReportKind, ReportPolicy, SilenceWatch, StopReason, classify_report,
};
pub use error::Error;
pub use helpers::{HELPERS, write_helpers};
pub use joblog::{JobLogReport, JobMessage, read_job_log};
pub use ktap::{
    Directive, KtapDocument, KtapNode, KtapOptions, KtapParser, KtapReport, parse_ktap_text,
    result_status,
};
pub use lava::{
    LavaCollector, LavaOptions, LavaReport, PatternMatch, Signal, lava_status, parse_decimal,
    signals,
};
pub use model::{
    Counts, Excerpt, Measurement, Origin, Outcome, Problem, Problems, Suite, TestPath, TestResult,
};
pub use pattern::{LavaPattern, PatternOutcome};
pub use stream::{StreamConfig, StreamParser, StreamReport, parse_stream};
pub use text::{LineSplitter, RawLine, clip, flattened, strip_console_prefix, visible};

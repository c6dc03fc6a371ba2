//! Following a job to its end.
//!
//! [`Follower::run`] polls the job's state every `poll_interval`, and tails its log
//! incrementally (`logs/?start=N&end=M`, complete lines only: lines are stable once LAVA wrote
//! them). Each log line is one `{dt, lvl, msg}` entry: `lvl: target` lines (the device's
//! console) go to a [`StreamParser`] as they come, `lvl: results` entries (LAVA's own results)
//! and `error`/`exception` messages are kept, and every line is appended to the job's log file.
//! When the job is `Finished`, the rest of the log is read, LAVA's results are fetched
//! (`tests/`), and [`Followed`] says it all; [`Followed::verdict`] maps it to a status.
//!
//! A [`Canceller`] (from [`Follower::canceller`]) asks LAVA to cancel the job (a newer revision
//! superseded it) and makes the follower stop: it waits at most `cancel_grace` for LAVA to
//! finish the job, then returns what it has, with [`Followed::canceled`] set.
//!
//! Everything is bounded: lines per request, bytes per answer (the client's limit), bytes
//! written to the log file, lines read in all, messages and results kept, and the whole follow
//! (`deadline`).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gauntlet_results::{
    Action, End, Measurement, Origin, StreamConfig, StreamParser, StreamReport, Suite, TestPath,
    TestResult, clip, lava_status, parse_decimal,
};
use gauntlet_verdict::{Severity, Status};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::api::{JobHealth, JobInfo, JobState, TestCase};
use crate::client::Client;
use crate::error::{Error, io};

/// How to follow a job.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Between two looks at the job's state and log.
    pub poll_interval: Duration,
    /// Log lines asked for in one request.
    pub log_page_lines: u64,
    /// Log lines read in all; past this the log is no longer read (the state still is).
    pub max_log_lines: u64,
    /// Bytes of log written to the log file; past this lines are counted, not written.
    pub max_log_bytes: u64,
    /// The whole follow, queueing included: past it the job is canceled and the follow fails
    /// with [`Error::FollowTimeout`].
    pub deadline: Duration,
    /// After a cancel, the time given to LAVA to finish the job.
    pub cancel_grace: Duration,
    /// Cancel the job as soon as the console shows it cannot go on (a kernel panic): LAVA
    /// would otherwise wait for its own timeout.
    pub cancel_on_console_stop: bool,
    /// How the console is read.
    pub console: StreamConfig,
    /// `error`/`exception` messages and `results` entries kept.
    pub max_messages: usize,
    pub max_results: usize,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll_interval: Duration::from_secs(3),
            log_page_lines: 2000,
            max_log_lines: 2_000_000,
            max_log_bytes: 256 << 20,
            deadline: Duration::from_secs(3600),
            cancel_grace: Duration::from_secs(60),
            cancel_on_console_stop: false,
            console: StreamConfig::kernel_console(),
            max_messages: 200,
            max_results: 20_000,
        }
    }
}

/// One `lvl: results` entry of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogResult {
    /// 1-based line of the job log.
    pub line: u64,
    /// The suite: `lava`, `0_<definition>`, a monitor's name.
    pub definition: String,
    pub case: String,
    pub result: String,
    #[serde(default)]
    pub set: Option<String>,
    #[serde(default)]
    pub measurement: Option<String>,
    #[serde(default)]
    pub units: Option<String>,
    /// For LAVA's own failures: `error_type` and `error_msg` (the `job` case), or `extra.fail`.
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub error_msg: Option<String>,
}

/// An `error` or `exception` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMessage {
    pub line: u64,
    pub level: String,
    pub message: String,
}

/// Times of a followed job, from the moment the follower started (right after submission).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// First seen `Running` (or later).
    pub running_after: Option<Duration>,
    /// Seen `Finished`, and its results read: the submit-to-result latency.
    pub finished_after: Duration,
}

/// Everything the follower saw.
#[derive(Debug, Clone)]
pub struct Followed {
    pub job: JobInfo,
    /// Our reading of the console (`lvl: target` lines).
    pub console: StreamReport,
    /// LAVA's `lvl: results` entries, in the log's order.
    pub log_results: Vec<LogResult>,
    pub messages: Vec<LogMessage>,
    /// LAVA's results from `tests/` (empty if they could not be read: see `problems`).
    pub tests: Vec<TestCase>,
    /// Log lines read, and where they were written.
    pub log_lines: u64,
    pub log_file: Option<PathBuf>,
    /// This follower canceled the job (a [`Canceller`], the deadline, or the console).
    pub canceled: Option<String>,
    pub timings: Timings,
    /// Odd things seen: unreadable log lines, results that could not be fetched.
    pub problems: Vec<String>,
}

/// How a job went, in gauntlet's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub status: Status,
    /// One line.
    pub reason: String,
    /// The infrastructure failed (the job is ERROR whatever the tests said).
    pub infrastructure: bool,
}

impl Followed {
    /// The job's status: a Complete job is its tests' results (PASS/FAIL, and ERROR if one of
    /// LAVA's own actions failed); an Incomplete job is ERROR with LAVA's reason, unless the
    /// console shows the kernel under test crashed (FAIL: the patch broke it); a Canceled job
    /// is ERROR.
    pub fn verdict(&self, suites: &[Suite]) -> Verdict {
        let kernel_broke = self.kernel_report();
        match &self.job.health {
            JobHealth::Complete => {
                let lava_error = self.lava_error();
                let tests = Status::summarize(suites.iter().map(Suite::status));
                let console = self.console.console.outcome.status;
                let total: u64 = suites.iter().map(|s| s.counts().total()).sum();
                let failed: u64 = suites.iter().map(|s| s.counts().get(Status::Fail)).sum();
                if let Some(reason) = kernel_broke {
                    return fail(reason);
                }
                if tests == Status::Fail {
                    return fail(format!("{failed} of {total} failed"));
                }
                if console == Status::Fail {
                    return fail(self.console.console.outcome.reason.clone());
                }
                if let Some(reason) = lava_error {
                    return error(reason);
                }
                if total == 0 {
                    return fail("the job reported no result".to_owned());
                }
                let status = tests.combine(Status::Pass);
                let passed: u64 = suites.iter().map(|s| s.counts().get(Status::Pass)).sum();
                Verdict {
                    status,
                    reason: format!("{passed} of {total} passed"),
                    infrastructure: status == Status::Error,
                }
            }
            JobHealth::Incomplete => {
                if let Some(reason) = kernel_broke {
                    return fail(reason);
                }
                error(format!(
                    "LAVA job {} incomplete: {}",
                    self.job.id,
                    self.lava_error()
                        .unwrap_or_else(|| "no reason given".to_owned())
                ))
            }
            JobHealth::Canceled => error(match &self.canceled {
                Some(why) => format!("canceled: {why}"),
                None => "canceled".to_owned(),
            }),
            other => error(format!(
                "LAVA job {} finished with health {other}",
                self.job.id
            )),
        }
    }

    /// A fatal or error-severity kernel report on the console (a panic, BUG, oops…).
    fn kernel_report(&self) -> Option<String> {
        self.console
            .console
            .events
            .iter()
            .find(|e| e.kind.is_fatal() || e.severity == Severity::Error)
            .map(|e| {
                format!(
                    "the kernel under test broke: {} at console line {}: {}",
                    e.kind.as_str(),
                    e.line,
                    clip(&e.text, 300)
                )
            })
    }

    /// LAVA's reason for an infrastructure failure: the `failure_comment`, else the `lava`
    /// suite's `job` case (`error_type`, `error_msg`), else the first failed action of the
    /// `lava` suite, else the last exception in the log.
    pub fn lava_error(&self) -> Option<String> {
        if let Some(comment) = self.job.failure_comment.as_deref().map(str::trim)
            && !comment.is_empty()
        {
            return Some(clip(comment, 500));
        }
        let failed = |r: &&LogResult| r.definition == "lava" && r.result == "fail";
        let describe = |r: &LogResult| {
            let detail = r.error_msg.as_deref().map_or("failed", str::trim);
            match &r.error_type {
                Some(kind) => format!("{kind} error: {}", clip(detail, 500)),
                None => format!("{}: {}", r.case, clip(detail, 500)),
            }
        };
        if let Some(job) = self
            .log_results
            .iter()
            .filter(failed)
            .find(|r| r.case == "job")
        {
            return Some(describe(job));
        }
        if let Some(first) = self.log_results.iter().find(failed) {
            return Some(describe(first));
        }
        if let Some(case) = self
            .tests
            .iter()
            .find(|t| t.suite_name == "lava" && t.result == "fail")
        {
            return Some(format!("LAVA action {} failed", case.name));
        }
        if self.job.health == JobHealth::Incomplete {
            return self
                .messages
                .iter()
                .rev()
                .find(|m| m.level == "exception")
                .or(self.messages.last())
                .map(|m| clip(&m.message, 500));
        }
        None
    }

    /// LAVA's view of the results, per suite: `tests/` if it was read, else the log's
    /// `results` entries. A failure in the `lava` suite is ERROR (LAVA's own action failed).
    pub fn lava_suites(&self) -> Vec<Suite> {
        let mut suites: Vec<Suite> = Vec::new();
        let mut add = |suite: &str, result: TestResult| {
            let index = match suites.iter().position(|s| s.name == suite) {
                Some(i) => i,
                None => {
                    suites.push(Suite::new(suite));
                    suites.len() - 1
                }
            };
            suites[index].add(result, MAX_RESULTS_PER_SUITE);
        };
        if !self.tests.is_empty() {
            for t in &self.tests {
                let set = match &t.test_set {
                    Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    _ => None,
                };
                let units = (!t.unit.is_empty()).then(|| t.unit.clone());
                let result = lava_result(
                    &t.suite_name,
                    set,
                    &t.name,
                    &t.result,
                    t.measurement.as_deref(),
                    units,
                    None,
                );
                add(&t.suite_name, result);
            }
        } else {
            for r in &self.log_results {
                let result = lava_result(
                    &r.definition,
                    r.set.clone(),
                    &r.case,
                    &r.result,
                    r.measurement.as_deref(),
                    r.units.clone(),
                    r.error_msg.clone(),
                );
                add(&r.definition, result);
            }
        }
        suites
    }
}

const MAX_RESULTS_PER_SUITE: usize = 10_000;

fn lava_result(
    suite: &str,
    set: Option<String>,
    case: &str,
    word: &str,
    measurement: Option<&str>,
    units: Option<String>,
    reason: Option<String>,
) -> TestResult {
    let mut status = lava_status(word).unwrap_or(Status::Miss);
    let mut reason = reason.map(|r| clip(&r, 500));
    if suite == "lava" && status == Status::Fail {
        status = Status::Error;
        reason = Some(match reason {
            Some(r) => format!("LAVA: {r}"),
            None => format!("LAVA's action {case} failed"),
        });
    }
    TestResult {
        path: TestPath::new(suite, set, case),
        status,
        measurement: measurement
            .and_then(parse_decimal)
            .map(|value| Measurement { value, units }),
        reason,
        excerpt: None,
        origin: Origin::LavaJob,
    }
}

fn fail(reason: String) -> Verdict {
    Verdict {
        status: Status::Fail,
        reason,
        infrastructure: false,
    }
}

fn error(reason: String) -> Verdict {
    Verdict {
        status: Status::Error,
        reason,
        infrastructure: true,
    }
}

/// Asks the follower's job to be canceled.
#[derive(Clone)]
pub struct Canceller {
    sender: watch::Sender<Option<String>>,
}

impl fmt::Debug for Canceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Canceller").finish_non_exhaustive()
    }
}

impl Canceller {
    /// Cancel, saying why ("superseded by v3"). The follower sends LAVA the cancel.
    pub fn cancel(&self, why: impl Into<String>) {
        let why = why.into();
        self.sender.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(why);
                true
            } else {
                false
            }
        });
    }
}

/// Follows one job.
pub struct Follower<'a> {
    client: &'a Client,
    job: u64,
    options: FollowOptions,
    cancel: watch::Receiver<Option<String>>,
    cancel_sender: watch::Sender<Option<String>>,
    progress: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
}

impl fmt::Debug for Follower<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower")
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

/// The state of the log reader.
struct Tail {
    parser: StreamParser,
    next_line: u64,
    file: Option<std::io::BufWriter<std::fs::File>>,
    path: Option<PathBuf>,
    written: u64,
    unwritten: u64,
    log_results: Vec<LogResult>,
    messages: Vec<LogMessage>,
    problems: Vec<String>,
    dropped: u64,
    action: Action,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    lvl: String,
    #[serde(default)]
    msg: serde_json::Value,
}

impl<'a> Follower<'a> {
    pub fn new(client: &'a Client, job: u64, options: FollowOptions) -> Follower<'a> {
        let (cancel_sender, cancel) = watch::channel(None);
        Follower {
            client,
            job,
            options,
            cancel,
            cancel_sender,
            progress: None,
        }
    }

    /// Console lines are sent here as they are read (dropped when the receiver is slow).
    pub fn progress(mut self, sender: tokio::sync::mpsc::Sender<Vec<u8>>) -> Self {
        self.progress = Some(sender);
        self
    }

    pub fn canceller(&self) -> Canceller {
        Canceller {
            sender: self.cancel_sender.clone(),
        }
    }

    /// Follows the job to its end; the log is written to `log_file` if given.
    pub async fn run(mut self, log_file: Option<&Path>) -> Result<Followed, Error> {
        let started = Instant::now();
        let file = match log_file {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(io(format!("creating {}", dir.display())))?;
                }
                Some(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .map_err(io(format!("creating {}", path.display())))?,
                ))
            }
            None => None,
        };
        let mut tail = Tail {
            parser: StreamParser::new(self.options.console.clone()),
            next_line: 0,
            file,
            path: log_file.map(Path::to_path_buf),
            written: 0,
            unwritten: 0,
            log_results: Vec::new(),
            messages: Vec::new(),
            problems: Vec::new(),
            dropped: 0,
            action: Action::Continue,
        };
        let mut running_after = None;
        let mut canceled: Option<String> = None;
        let mut cancel_sent_at: Option<Instant> = None;
        let job = loop {
            let info = self.client.job(self.job).await?;
            if running_after.is_none()
                && matches!(
                    info.state,
                    JobState::Running | JobState::Canceling | JobState::Finished
                )
            {
                running_after = Some(started.elapsed());
            }
            let finished = info.is_finished();
            if matches!(
                info.state,
                JobState::Running | JobState::Canceling | JobState::Finished
            ) {
                self.read_log(&mut tail, finished).await?;
            }
            if finished {
                break info;
            }
            if canceled.is_none() {
                let why = if let Some(why) = self.cancel.borrow().clone() {
                    Some(why)
                } else if started.elapsed() > self.options.deadline {
                    Some(format!(
                        "not finished after {}s",
                        self.options.deadline.as_secs()
                    ))
                } else if self.options.cancel_on_console_stop && tail.action.is_stop() {
                    Some("the console showed the kernel stopped".to_owned())
                } else {
                    None
                };
                if let Some(why) = why {
                    tracing::info!(job = self.job, %why, "LAVA: canceling the job");
                    self.client.cancel(self.job).await?;
                    canceled = Some(why);
                    cancel_sent_at = Some(Instant::now());
                }
            }
            if let Some(at) = cancel_sent_at
                && at.elapsed() > self.options.cancel_grace
            {
                tracing::warn!(job = self.job, "LAVA: the canceled job does not finish");
                if self.cancel.borrow().is_none() {
                    return Err(Error::FollowTimeout {
                        job: self.job,
                        after: started.elapsed(),
                    });
                }
                break info;
            }
            let wait = self.options.poll_interval;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.cancel.changed(), if canceled.is_none() => {}
            }
        };
        let tests = if job.is_finished() {
            match self.client.tests(self.job).await {
                Ok(tests) => tests,
                Err(e) => {
                    tail.problems
                        .push(format!("LAVA's results could not be read: {e}"));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        if let Some(mut file) = tail.file.take() {
            file.flush()
                .map_err(io(format!("writing the log of job {}", self.job)))?;
        }
        if tail.unwritten > 0 {
            tail.problems.push(format!(
                "{} log bytes past the limit of {} were not written",
                tail.unwritten, self.options.max_log_bytes
            ));
        }
        if tail.dropped > 0 {
            tail.problems.push(format!(
                "{} messages or results past the limits were not kept",
                tail.dropped
            ));
        }
        let end = if canceled.is_some() {
            End::Stopped
        } else {
            End::Eof
        };
        Ok(Followed {
            console: tail.parser.finish(end),
            log_results: tail.log_results,
            messages: tail.messages,
            tests,
            log_lines: tail.next_line,
            log_file: tail.path,
            canceled,
            timings: Timings {
                running_after,
                finished_after: started.elapsed(),
            },
            problems: tail.problems,
            job,
        })
    }

    /// Reads the log lines LAVA has written since the last call; all of them when `to_end`.
    async fn read_log(&self, tail: &mut Tail, to_end: bool) -> Result<(), Error> {
        let page = self.options.log_page_lines.max(1);
        // A few pages per poll while running (the state is looked at between), all at the end.
        let mut pages = if to_end { u64::MAX } else { 8 };
        while pages > 0 && tail.next_line < self.options.max_log_lines {
            pages -= 1;
            let start = tail.next_line;
            let Some(bytes) = self.client.logs(self.job, start, start + page).await? else {
                return Ok(());
            };
            let mut complete = 0u64;
            let mut rest: &[u8] = &bytes;
            while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
                let (line, after) = rest.split_at(nl);
                rest = &after[1..];
                complete += 1;
                self.entry(tail, start + complete, line);
            }
            // A last line without its newline is being written: it is read again next time.
            tail.next_line = start + complete;
            if complete < page {
                return Ok(());
            }
        }
        if tail.next_line >= self.options.max_log_lines {
            tracing::warn!(
                job = self.job,
                "LAVA: log line limit reached; the rest is not read"
            );
        }
        Ok(())
    }

    /// One log line (1-based `number`).
    fn entry(&self, tail: &mut Tail, number: u64, line: &[u8]) {
        if let Some(file) = &mut tail.file {
            let len = line.len() as u64 + 1;
            if tail.written + len <= self.options.max_log_bytes {
                let ok = file.write_all(line).and_then(|_| file.write_all(b"\n"));
                if let Err(e) = ok {
                    tail.problems.push(format!("writing the log: {e}"));
                    tail.file = None;
                }
                tail.written += len;
            } else {
                tail.unwritten += len;
            }
        }
        let text = String::from_utf8_lossy(line);
        let body = text.trim();
        if body.is_empty() {
            return;
        }
        let entry = match serde_saphyr::from_str::<Vec<Entry>>(body) {
            Ok(mut entries) if entries.len() == 1 => entries.remove(0),
            Ok(_) | Err(_) => {
                if tail.problems.len() < self.options.max_messages {
                    tail.problems.push(format!(
                        "log line {number} is not a log entry: {}",
                        clip(body, 120)
                    ));
                } else {
                    tail.dropped += 1;
                }
                return;
            }
        };
        match entry.lvl.as_str() {
            "target" => {
                let text = match &entry.msg {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                for piece in text.strip_suffix('\n').unwrap_or(&text).split('\n') {
                    tail.action = tail.parser.feed_line(piece.as_bytes());
                    if let Some(progress) = &self.progress {
                        let _ = progress.try_send(piece.as_bytes().to_vec());
                    }
                }
            }
            "results" => {
                if tail.log_results.len() >= self.options.max_results {
                    tail.dropped += 1;
                } else if let Some(result) = log_result(number, &entry.msg) {
                    tail.log_results.push(result);
                }
            }
            "error" | "exception" => {
                if tail.messages.len() >= self.options.max_messages {
                    tail.dropped += 1;
                } else {
                    let message = match &entry.msg {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    tail.messages.push(LogMessage {
                        line: number,
                        level: entry.lvl.clone(),
                        message: clip(&message, 2000),
                    });
                }
            }
            _ => {}
        }
    }
}

/// A `results` entry's fields (values are text in LAVA's logs, numbers are accepted).
fn log_result(line: u64, msg: &serde_json::Value) -> Option<LogResult> {
    let field = |key: &str| -> Option<String> {
        match msg.get(key)? {
            serde_json::Value::String(s) => Some(clip(s, 2000)),
            serde_json::Value::Null => None,
            other => Some(clip(&other.to_string(), 2000)),
        }
    };
    let error_msg = field("error_msg").or_else(|| {
        msg.get("extra")
            .and_then(|e| e.get("fail"))
            .map(|v| match v {
                serde_json::Value::String(s) => clip(s, 2000),
                other => clip(&other.to_string(), 2000),
            })
    });
    Some(LogResult {
        line,
        definition: field("definition")?,
        case: field("case")?,
        result: field("result").unwrap_or_default(),
        set: field("set"),
        measurement: field("measurement"),
        units: field("units"),
        error_type: field("error_type"),
        error_msg,
    })
}

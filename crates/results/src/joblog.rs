//! LAVA job logs (`GET /api/v0.2/jobs/<id>/logs/`, `job*.log.yaml`): a YAML list with one
//! `{dt, lvl, msg}` entry per line.
//!
//! * `lvl: target` entries are the device's serial console: their `msg` lines go, in order,
//!   through the same [`StreamParser`] as a local QEMU console (KTAP, signals, kernel reports,
//!   capped log). Console lines are numbered 1, 2, 3… as a stream of their own;
//!   [`JobLogReport::log_line`] maps them back to job log lines (LAVA's `starttc`/`endtc` and
//!   its log viewer count those).
//! * `lvl: results` entries are LAVA's own results, kept apart in [`JobLogReport::lava`]. The
//!   suite `lava` holds LAVA's actions (`validate`, `auto-login-action`, `0_<definition>`, `job`):
//!   a failure there is the infrastructure's, so it is ERROR, not FAIL. In the other suites
//!   `pass`/`fail`/`skip`/`unknown` map as for signals.
//! * `lvl: error` and `lvl: exception` entries are kept as messages (bounded).
//!
//! Each line is read on its own ([`crate::flow`]); a line that does not parse is a problem, and
//! the rest of the log is still read.

use std::io::Read;

use gauntlet_verdict::Status;
use serde::{Deserialize, Serialize};

use crate::cap::LogCap;
use crate::console::End;
use crate::error::Error;
use crate::flow::{self, Flow};
use crate::lava::{lava_status, parse_decimal};
use crate::model::{Excerpt, Measurement, Origin, Problems, Suite, TestPath, TestResult};
use crate::stream::{StreamConfig, StreamParser, StreamReport};
use crate::text::{LineSplitter, clip};

/// An `error` or `exception` entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub line: u64,
    pub level: String,
    pub message: String,
}

/// Consecutive console lines that come from consecutive log lines (or, for a multi-line
/// `msg`, all from the same log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Run {
    console_first: u64,
    log_first: u64,
    len: u64,
    same_log_line: bool,
}

/// What a job log holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobLogReport {
    /// Our reading of the console (`lvl: target`).
    pub console: StreamReport,
    /// LAVA's own results (`lvl: results`), per suite, in the log's order.
    pub lava: Vec<Suite>,
    pub messages: Vec<JobMessage>,
    pub dropped_messages: u64,
    /// Entries that could not be read.
    pub problems: Problems,
    /// Entries read.
    pub entries: u64,
    map: Vec<Run>,
}

impl JobLogReport {
    /// The job log line a console line came from.
    pub fn log_line(&self, console_line: u64) -> Option<u64> {
        let i = self
            .map
            .partition_point(|r| r.console_first + r.len <= console_line);
        let run = self.map.get(i)?;
        (run.console_first <= console_line).then(|| {
            if run.same_log_line {
                run.log_first
            } else {
                run.log_first + (console_line - run.console_first)
            }
        })
    }

    /// The first console line at or after a job log line.
    pub fn console_line(&self, log_line: u64) -> Option<u64> {
        let i = self.map.partition_point(|r| {
            let last = if r.same_log_line {
                r.log_first
            } else {
                r.log_first + r.len - 1
            };
            last < log_line
        });
        let run = self.map.get(i)?;
        Some(if run.same_log_line || log_line <= run.log_first {
            run.console_first
        } else {
            run.console_first + (log_line - run.log_first)
        })
    }

    /// The last console line at or before a job log line.
    fn console_line_before(&self, log_line: u64) -> Option<u64> {
        let i = self.map.partition_point(|r| r.log_first <= log_line);
        let run = self.map.get(i.checked_sub(1)?)?;
        Some(if run.same_log_line {
            run.console_first + run.len - 1
        } else {
            run.console_first + (log_line - run.log_first).min(run.len - 1)
        })
    }
}

/// A `lvl: results` entry, kept until the console is complete (for its excerpt).
#[derive(Debug)]
struct RawResult {
    line: u64,
    suite: String,
    case: String,
    set: Option<String>,
    status: Status,
    measurement: Option<Measurement>,
    reason: Option<String>,
    range: Option<(u64, u64)>,
}

const MAX_MESSAGES: usize = 100;
const MAX_ENTRY: usize = 4 << 20;

struct Reader {
    parser: StreamParser,
    results: Vec<RawResult>,
    messages: Vec<JobMessage>,
    dropped_messages: u64,
    problems: Problems,
    entries: u64,
    map: Vec<Run>,
}

impl Reader {
    fn entry(&mut self, line: u64, bytes: &[u8], truncated: bool) {
        if truncated {
            self.problems.push(
                line,
                format!("entry longer than {MAX_ENTRY} bytes: skipped"),
            );
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        let body = text.trim();
        if body.is_empty() {
            return;
        }
        let Some(item) = body.strip_prefix("- ").or_else(|| body.strip_prefix('-')) else {
            self.problems
                .push(line, "not a list item (`- {…}`): skipped");
            return;
        };
        let entry = match flow::parse(item) {
            Ok(entry) => entry,
            Err(why) => {
                self.problems
                    .push(line, format!("unreadable entry ({why}): skipped"));
                return;
            }
        };
        self.entries += 1;
        let level = entry.get("lvl").and_then(Flow::as_str).unwrap_or_default();
        let msg = entry.get("msg").unwrap_or(&Flow::Null);
        match level {
            "target" => self.target(line, msg),
            "results" => self.result(line, msg),
            "error" | "exception" => {
                if self.messages.len() < MAX_MESSAGES {
                    self.messages.push(JobMessage {
                        line,
                        level: level.to_owned(),
                        message: clip(&msg.to_text(), 2000),
                    });
                } else {
                    self.dropped_messages += 1;
                }
            }
            _ => {}
        }
    }

    fn target(&mut self, line: u64, msg: &Flow) {
        let text = match msg {
            Flow::Str(s) => s.clone(),
            Flow::Null => String::new(),
            other => other.to_text(),
        };
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let first = self.parser.lines() + 1;
        self.parser.feed_line(text.as_bytes());
        let len = self.parser.lines() + 1 - first;
        let same = len > 1;
        if let Some(last) = self.map.last_mut()
            && !same
            && !last.same_log_line
            && last.console_first + last.len == first
            && last.log_first + last.len == line
        {
            last.len += len;
            return;
        }
        self.map.push(Run {
            console_first: first,
            log_first: line,
            len,
            same_log_line: same,
        });
    }

    fn result(&mut self, line: u64, msg: &Flow) {
        let field = |key: &str| msg.get(key).and_then(Flow::as_str);
        let (Some(suite), Some(case)) = (field("definition"), field("case")) else {
            self.problems.push(
                line,
                "results entry without `definition` or `case`: skipped",
            );
            return;
        };
        let word = field("result").unwrap_or_default();
        let mut status = lava_status(word).unwrap_or_else(|| {
            self.problems.push(
                line,
                format!(
                    "result `{}` is not pass, fail, skip or unknown: MISS",
                    clip(word, 50)
                ),
            );
            Status::Miss
        });
        let infrastructure = suite == "lava";
        let mut reason = None;
        if infrastructure && status == Status::Fail {
            status = Status::Error;
            let detail = field("error_msg").map(str::to_owned).or_else(|| {
                msg.get("extra")
                    .and_then(|e| e.get("fail"))
                    .map(Flow::to_text)
            });
            reason = Some(match (field("error_type"), detail) {
                (Some(kind), Some(detail)) => format!("LAVA {kind} error: {}", clip(&detail, 500)),
                (None, Some(detail)) => format!("LAVA: {}", clip(&detail, 500)),
                (Some(kind), None) => format!("LAVA {kind} error"),
                (None, None) => "LAVA marked this action as failed".to_owned(),
            });
        }
        let measurement = field("measurement")
            .and_then(parse_decimal)
            .map(|value| Measurement {
                value,
                units: field("units").filter(|u| !u.is_empty()).map(str::to_owned),
            });
        let number = |key: &str| field(key).and_then(|v| v.trim().parse::<u64>().ok());
        let range = match (number("starttc"), number("endtc")) {
            (Some(a), Some(b)) => Some((a, b.max(a))),
            (Some(a), None) | (None, Some(a)) => Some((a, a)),
            (None, None) => None,
        };
        self.results.push(RawResult {
            line,
            suite: suite.to_owned(),
            case: case.to_owned(),
            set: field("set").map(str::to_owned),
            status,
            measurement,
            reason,
            range,
        });
    }
}

/// Reads a LAVA job log; `config` is the console's (see [`StreamConfig::kernel_console`]).
pub fn read_job_log<R: Read>(mut reader: R, config: StreamConfig) -> Result<JobLogReport, Error> {
    let excerpt_bytes = config.lava.excerpt_bytes;
    let max_results = config.lava.max_results;
    let mut state = Reader {
        parser: StreamParser::new(config),
        results: Vec::new(),
        messages: Vec::new(),
        dropped_messages: 0,
        problems: Problems::default(),
        entries: 0,
        map: Vec::new(),
    };
    let mut splitter = LineSplitter::new(MAX_ENTRY);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Read(e)),
        };
        splitter.push(&buf[..n], |l| state.entry(l.number, l.bytes, l.truncated));
    }
    splitter.finish(|l| state.entry(l.number, l.bytes, l.truncated));
    let Reader {
        parser,
        results,
        messages,
        dropped_messages,
        problems,
        entries,
        map,
    } = state;
    let mut report = JobLogReport {
        console: parser.finish(End::Eof),
        lava: Vec::new(),
        messages,
        dropped_messages,
        problems,
        entries,
        map,
    };
    for raw in results {
        let excerpt = raw
            .range
            .map(|(a, b)| excerpt_of(&report, a, b, raw.line, excerpt_bytes));
        let index = match report.lava.iter().position(|s| s.name == raw.suite) {
            Some(i) => i,
            None => {
                report.lava.push(Suite::new(raw.suite.clone()));
                report.lava.len() - 1
            }
        };
        let result = TestResult {
            path: TestPath::new(raw.suite, raw.set, raw.case),
            status: raw.status,
            measurement: raw.measurement,
            reason: raw.reason,
            excerpt,
            origin: Origin::LavaJob,
        };
        report.lava[index].add(result, max_results);
    }
    Ok(report)
}

/// The console lines that LAVA's `starttc..=endtc` (job log lines) cover, from the capped log.
fn excerpt_of(report: &JobLogReport, start: u64, end: u64, at: u64, bytes: usize) -> Excerpt {
    let first = report.console_line(start).unwrap_or(0);
    let last = report.console_line_before(end).unwrap_or(first).max(first);
    if first == 0 {
        return Excerpt {
            first_line: 0,
            last_line: 0,
            text: String::new(),
            dropped_bytes: 0,
        };
    }
    let half = bytes / 2;
    let mut cap = LogCap::starting_at(half, half, first);
    for (n, line) in report.console.log.lines() {
        if (first..=last).contains(&n) {
            cap.push_line(line);
        }
    }
    tracing::trace!(at, first, last, "joblog: excerpt of a LAVA result");
    cap.finish().into_excerpt(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"- {"dt": "1", "lvl": "info", "msg": "start"}
- {"dt": "2", "lvl": "target", "msg": "<LAVA_SIGNAL_STARTTC uname>"}
- {"dt": "3", "lvl": "debug", "msg": "Received signal"}
- {"dt": "4", "lvl": "target", "msg": "Linux (none) 6.1"}
- {"dt": "5", "lvl": "target", "msg": "<LAVA_SIGNAL_ENDTC uname>"}
- {"dt": "6", "lvl": "target", "msg": "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=uname RESULT=pass>"}
- {"dt": "7", "lvl": "results", "msg": {"case": "uname", "definition": "0_smoke", "endtc": ! "5", "result": "pass", "starttc": ! "2"}}
this line is broken
- {"dt": "8", "lvl": "target", "msg": "two\nlines"}
- {"dt": "9", "lvl": "error", "msg": "Marking unfinished test run as failed"}
- {"dt": "10", "lvl": "results", "msg": {"case": "auto-login-action", "definition": "lava", "extra": {"fail": "timed out"}, "result": "fail"}}
- {"dt": "11", "lvl": "results", "msg": {"case": "job", "definition": "lava", "error_msg": "boom", "error_type": "Infrastructure", "result": "fail"}}
"#;

    #[test]
    fn a_small_job_log() {
        let report = read_job_log(LOG.as_bytes(), StreamConfig::kernel_console())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.entries, 11);
        assert_eq!(report.problems.list.len(), 1);
        assert_eq!(report.problems.list[0].line, 8);
        assert_eq!(report.console.lines, 6);
        assert_eq!(
            (1..=6).map(|c| report.log_line(c)).collect::<Vec<_>>(),
            [Some(2), Some(4), Some(5), Some(6), Some(9), Some(9)]
        );
        assert_eq!(report.console_line(3), Some(2));
        assert_eq!(report.log_line(7), None);
        let ours = &report.console.lava[0].results[0];
        assert_eq!(ours.path.to_string(), "tests/uname");
        let theirs = &report.lava[0].results[0];
        assert_eq!(theirs.path.to_string(), "0_smoke/uname");
        assert_eq!(theirs.status, Status::Pass);
        let range = |e: &Option<Excerpt>| e.as_ref().map(|e| (e.first_line, e.last_line));
        assert_eq!(range(&theirs.excerpt), range(&ours.excerpt));
        assert!(
            theirs
                .excerpt
                .as_ref()
                .is_some_and(|e| e.text.contains("Linux (none)"))
        );
        let lava = &report.lava[1];
        assert_eq!(lava.name, "lava");
        assert_eq!(lava.results[0].status, Status::Error);
        assert_eq!(lava.results[0].reason.as_deref(), Some("LAVA: timed out"));
        assert_eq!(
            lava.results[1].reason.as_deref(),
            Some("LAVA Infrastructure error: boom")
        );
        assert_eq!(lava.status(), Status::Error);
        assert_eq!(report.messages.len(), 1);
    }
}

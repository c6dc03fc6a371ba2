//! One front end for every stream: the stdout of a test run on the host, a QEMU serial
//! console, the console lines of a LAVA job log.
//!
//! Bytes go in as they arrive ([`StreamParser::feed`]); each completed line goes, once, to the
//! console classifier, the LAVA signal reader, the definition's `parse:` patterns and the KTAP
//! parser, and the raw bytes go to the capped log. A fatal kernel report interrupts the KTAP
//! parser (the running test and the planned ones become MISS), other reports are remembered for
//! the reasons of tests cut short later. The runner asks [`StreamParser::action`] after each
//! feed, and calls [`StreamParser::finish`] with how the stream ended.

use std::io::{self, Read};

use gauntlet_verdict::Status;
use serde::{Deserialize, Serialize};

use crate::cap::{CappedLog, LogCap};
use crate::console::{
    Action, ConsoleClassifier, ConsoleConfig, ConsoleEvent, ConsoleSummary, End, LineEvent,
};
use crate::error::Error;
use crate::ktap::{KtapOptions, KtapParser, KtapReport};
use crate::lava::{LavaCollector, LavaOptions, LavaReport};
use crate::model::{Counts, Problems, Suite};
use crate::pattern::{LavaPattern, PatternOutcome};
use crate::text::{LineSplitter, RawLine, strip_console_prefix, visible};

/// Settings of a stream.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub console: ConsoleConfig,
    pub ktap: KtapOptions,
    pub lava: LavaOptions,
    /// The `parse:` patterns of the test definition being run, if any.
    pub patterns: Vec<LavaPattern>,
    /// Bytes of the start of the stream kept in the capped log.
    pub log_head: usize,
    /// Bytes of the end of the stream kept in the capped log.
    pub log_tail: usize,
    /// Longer lines are cut (what is past the limit is still in the capped log's counts).
    pub max_line: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig::kernel_console()
    }
}

impl StreamConfig {
    /// A kernel's serial console (QEMU, LAVA): kernel expected, markers and reports on, KTAP
    /// documents start only at version lines.
    pub fn kernel_console() -> Self {
        StreamConfig {
            console: ConsoleConfig::default(),
            ktap: KtapOptions::default(),
            lava: LavaOptions::default(),
            patterns: Vec::new(),
            log_head: 1 << 20,
            log_tail: 4 << 20,
            max_line: 64 << 10,
        }
    }

    /// The output of a program run on the host (the local test stage): no kernel, no reports,
    /// a plan or result line starts a TAP document.
    pub fn host_process() -> Self {
        StreamConfig {
            console: ConsoleConfig::host_process(),
            ktap: KtapOptions {
                require_version: false,
                ..KtapOptions::default()
            },
            ..StreamConfig::kernel_console()
        }
    }
}

/// Everything read from a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamReport {
    pub console: ConsoleSummary,
    /// Results of LAVA signals and `parse:` patterns.
    pub lava: Vec<Suite>,
    pub ktap: KtapReport,
    pub log: CappedLog,
    pub lines: u64,
    pub bytes: u64,
    /// Odd input: bad signals, numbering gaps, cut lines…
    pub problems: Problems,
}

impl StreamReport {
    /// The LAVA suites, then one suite per KTAP document.
    pub fn suites(&self) -> Vec<Suite> {
        let mut suites = self.lava.clone();
        suites.extend(self.ktap.suites());
        suites
    }

    /// Results per status over every suite.
    pub fn counts(&self) -> Counts {
        self.suites()
            .iter()
            .fold(Counts::default(), |acc, s| acc.merged(s.counts()))
    }

    /// The whole: the console's outcome combined with every suite's status.
    pub fn status(&self) -> Status {
        Status::summarize(
            self.suites()
                .iter()
                .map(Suite::status)
                .chain([self.console.outcome.status]),
        )
    }
}

/// The line readers, apart from the splitter that feeds them.
#[derive(Debug)]
struct Readers {
    console: ConsoleClassifier,
    lava: LavaCollector,
    ktap: KtapParser,
    patterns: Vec<LavaPattern>,
    problems: Problems,
    max_line: usize,
}

impl Readers {
    fn line(&mut self, line: RawLine<'_>) {
        let number = line.number;
        if line.truncated {
            self.problems.push(
                number,
                format!(
                    "line longer than {} bytes: only its start is read",
                    self.max_line
                ),
            );
        }
        let text = visible(line.bytes);
        let message = strip_console_prefix(&text);
        let event = self.console.line_with_message(number, &text, message);
        self.lava.line(number, line.bytes, &text);
        for pattern in &mut self.patterns {
            match pattern.apply(&text) {
                Some(PatternOutcome::Result(found, note)) => {
                    if let Some(note) = note {
                        self.lava.problem(number, note);
                    }
                    self.lava.pattern_result(number, &text, found);
                }
                Some(PatternOutcome::Dropped(why)) => self
                    .lava
                    .problem(number, format!("parse pattern match dropped: {why}")),
                None => {}
            }
        }
        self.ktap.line_with_message(number, &text, message);
        if let Some(LineEvent::Report(kind)) = event {
            if kind.is_fatal() {
                self.ktap.interrupt(number, message);
            } else {
                self.ktap.kernel_report(number, message);
            }
        }
    }
}

/// The streaming front end (see the module documentation).
#[derive(Debug)]
pub struct StreamParser {
    splitter: LineSplitter,
    readers: Readers,
    log: LogCap,
    bytes: u64,
}

impl StreamParser {
    pub fn new(config: StreamConfig) -> Self {
        StreamParser {
            splitter: LineSplitter::new(config.max_line),
            log: LogCap::new(config.log_head, config.log_tail),
            readers: Readers {
                console: ConsoleClassifier::new(config.console),
                lava: LavaCollector::new(config.lava),
                ktap: KtapParser::new(config.ktap),
                patterns: config.patterns,
                problems: Problems::default(),
                max_line: config.max_line,
            },
            bytes: 0,
        }
    }

    /// Feeds bytes as they arrive (any chunking); says what the runner should do.
    pub fn feed(&mut self, data: &[u8]) -> Action {
        self.bytes += data.len() as u64;
        self.log.push(data);
        let readers = &mut self.readers;
        self.splitter.push(data, |line| readers.line(line));
        self.readers.console.action()
    }

    /// Feeds one line without its terminator (a line of a LAVA job log, say). Same as feeding
    /// the line and a `\n`.
    pub fn feed_line(&mut self, line: &[u8]) -> Action {
        self.feed(line);
        self.feed(b"\n")
    }

    /// Reads a whole stream; stops early only on an I/O error.
    pub fn read_from<R: Read>(&mut self, mut reader: R) -> Result<Action, Error> {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(self.action()),
                Ok(n) => {
                    self.feed(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Read(e)),
            }
        }
    }

    pub fn action(&self) -> Action {
        self.readers.console.action()
    }

    /// The kernel reports seen so far.
    pub fn events(&self) -> &[ConsoleEvent] {
        self.readers.console.events()
    }

    /// Complete lines read so far.
    pub fn lines(&self) -> u64 {
        self.splitter.lines()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The end of the stream: what is still open is closed (MISS), and everything is returned.
    pub fn finish(mut self, end: End) -> StreamReport {
        let readers = &mut self.readers;
        self.splitter.finish(|line| readers.line(line));
        let lines = self.splitter.lines();
        let how = match end {
            End::Eof | End::Stopped => "the stream ended",
            End::Timeout => "the run timed out",
            End::Silence => "the output went silent",
        };
        let Readers {
            console,
            lava,
            ktap,
            mut problems,
            ..
        } = self.readers;
        let LavaReport {
            suites,
            problems: lava_problems,
            ..
        } = lava.finish(lines, how);
        let ktap = ktap.finish(lines);
        problems.extend(lava_problems);
        StreamReport {
            console: console.finish(end),
            lava: suites,
            ktap,
            log: self.log.finish(),
            lines,
            bytes: self.bytes,
            problems,
        }
    }
}

/// Reads a whole stream with `config` (a file, a pipe).
pub fn parse_stream<R: Read>(
    reader: R,
    config: StreamConfig,
    end: End,
) -> Result<StreamReport, Error> {
    let mut parser = StreamParser::new(config);
    parser.read_from(reader)?;
    Ok(parser.finish(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: &str = "\
Linux version 6.1.0 (gcc)
[    0.5] KTAP version 1
[    0.5] 1..2
[    0.5]     KTAP version 1
[    0.5]     # Subtest: s
[    0.5]     1..2
[    0.5]     ok 1 a
[    0.6] BUG: kernel NULL pointer dereference, address: 0000000000000000
[    0.6] Call Trace:
[    0.6] ---[ end trace 0000000000000000 ]---
[    0.6] Kernel panic - not syncing: Fatal exception
";

    #[test]
    fn a_panic_mid_suite_reaches_every_reader() {
        for chunk in [1usize, 5, 4096] {
            let mut parser = StreamParser::new(StreamConfig::kernel_console());
            let mut stopped = None;
            for piece in BOOT.as_bytes().chunks(chunk) {
                if parser.feed(piece).is_stop() && stopped.is_none() {
                    stopped = Some(parser.lines());
                }
            }
            assert_eq!(stopped, Some(11), "chunk {chunk}");
            let report = parser.finish(End::Stopped);
            let rows: Vec<String> = report
                .suites()
                .iter()
                .flat_map(|s| s.results.iter())
                .map(|r| {
                    format!(
                        "{} {} {}",
                        r.path,
                        r.status,
                        r.reason.as_deref().unwrap_or("")
                    )
                })
                .collect();
            assert_eq!(
                rows,
                [
                    "ktap/s/a PASS ",
                    "ktap/s/#2 MISS crashed: Kernel panic - not syncing: Fatal exception (line 11)",
                    "ktap/#2 MISS not run: the kernel crashed at line 11",
                ],
                "chunk {chunk}"
            );
            assert_eq!(report.console.outcome.status, Status::Fail);
            assert_eq!(report.status(), Status::Fail);
            assert_eq!(report.lines, 11);
            assert!(report.log.is_complete());
            let crashed = &report.suites()[0].results[1];
            let excerpt = crashed
                .excerpt
                .as_ref()
                .map(|e| (e.first_line, e.last_line));
            assert_eq!(excerpt, Some((8, 11)), "chunk {chunk}");
        }
    }

    #[test]
    fn signals_patterns_and_ktap_from_one_host_process() {
        let pattern = LavaPattern::new(
            r"^(?P<test_case_id>\w+)=(?P<result>PASS|FAIL)$",
            [("PASS", "pass"), ("FAIL", "fail")],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let config = StreamConfig {
            patterns: vec![pattern],
            ..StreamConfig::host_process()
        };
        let out = "\
<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=signalled RESULT=pass>
matched=FAIL
1..1
not ok 1 tapped # exit=1
";
        let report =
            parse_stream(out.as_bytes(), config, End::Eof).unwrap_or_else(|e| panic!("{e}"));
        let rows: Vec<String> = report
            .suites()
            .iter()
            .flat_map(|s| s.results.iter())
            .map(|r| format!("{} {}", r.path, r.status))
            .collect();
        assert_eq!(
            rows,
            [
                "tests/signalled PASS",
                "tests/matched FAIL",
                "ktap/tapped FAIL"
            ]
        );
        assert_eq!(report.console.outcome.status, Status::Pass);
        assert_eq!(report.status(), Status::Fail);
        assert_eq!(report.counts().to_string(), "3 tests: 1 PASS, 2 FAIL");
    }

    #[test]
    fn signals_behind_printk_noise_and_carriage_returns() {
        let console = "Linux version 6.1\n[    2.0] random: crng init done\r<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=a RESULT=pass>\r\r\n<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=b RESULT=fail>\r[    2.1] noise after\r\r\nGAUNTLET-DONE rc=0\r\r\n";
        let mut parser = StreamParser::new(StreamConfig::kernel_console());
        let action = parser.feed(console.as_bytes());
        assert_eq!(
            action,
            Action::Stop(crate::StopReason::Done {
                line: 4,
                rc: Some(0)
            })
        );
        let report = parser.finish(End::Stopped);
        let rows: Vec<String> = report.lava[0]
            .results
            .iter()
            .map(|r| format!("{} {}", r.path, r.status))
            .collect();
        assert_eq!(rows, ["tests/a PASS", "tests/b FAIL"]);
        assert_eq!(report.console.outcome.status, Status::Pass);
        assert_eq!(report.status(), Status::Fail);
    }
}

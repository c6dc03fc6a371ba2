//! LAVA's result signals: what the `lava-test-*` helpers print and what LAVA's dispatcher makes
//! of them.
//!
//! A signal is `<LAVA_SIGNAL_KIND PARAMS>` anywhere in a line (LAVA matches
//! `<LAVA_SIGNAL_(\S+) ([^>]+)>` on the raw serial stream, so a signal may follow printk noise
//! or a carriage return on the same line, and one line may hold several). The kinds read here:
//!
//! | signal | effect |
//! |---|---|
//! | `TESTCASE TEST_CASE_ID=N RESULT=R [UNITS=U] [MEASUREMENT=M]` | a result in the current run's suite and set |
//! | `STARTTC N` … `ENDTC N` | the lines of case `N`: its excerpt |
//! | `TESTSET START N` / `TESTSET STOP` | the set of the following cases |
//! | `STARTRUN 0_name UUID` / `ENDRUN 0_name UUID` | the run (suite `0_name`); no `ENDRUN` = unfinished |
//! | `TESTRAISE MESSAGE` | the run is aborted by its own definition |
//! | `TESTREFERENCE …` | a result that links elsewhere |
//!
//! Status mapping: `pass` → PASS, `fail` → FAIL, `skip` → SKIP, `unknown` → MISS (the case
//! gave no answer: nothing to blame, nothing to pass). A `TESTRAISE` gives the run the outcome
//! ERROR (the definition said its setup failed: infrastructure, not the patch); a run without
//! `ENDRUN` gets MISS (part of it did not run). Cases already reported keep their own status,
//! and as everywhere in gauntlet a FAIL among them still outweighs both
//! ([`Status::summarize`]). A case started with `STARTTC` that never reported a result is MISS.

use std::collections::HashMap;
use std::sync::LazyLock;

use gauntlet_verdict::Status;
use memchr::memmem;

use crate::cap::LogCap;
use crate::model::{Excerpt, Measurement, Origin, Outcome, Problems, Suite, TestPath, TestResult};
use crate::text::{clip, flattened};

const SIGNAL_PREFIX: &str = "<LAVA_SIGNAL_";

/// Built once: this search runs on every line.
static SIGNAL_FINDER: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(SIGNAL_PREFIX));

/// One signal found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal<'a> {
    TestCase {
        id: &'a str,
        result: &'a str,
        measurement: Option<&'a str>,
        units: Option<&'a str>,
    },
    StartTc(&'a str),
    EndTc(&'a str),
    TestSetStart(&'a str),
    TestSetStop,
    TestRaise(&'a str),
    StartRun {
        name: &'a str,
        uuid: &'a str,
    },
    EndRun {
        name: &'a str,
        uuid: &'a str,
    },
    TestReference {
        id: &'a str,
        result: &'a str,
        url: &'a str,
    },
    /// A signal kind this crate does not act on (`TESTEVENT`, `TESTFEEDBACK`…).
    Other {
        kind: &'a str,
        params: &'a str,
    },
    /// A known kind whose parameters do not make sense (`TESTCASE` without `RESULT=`…).
    Malformed {
        kind: &'a str,
        params: &'a str,
        why: &'static str,
    },
}

/// The signals in one line, in order.
pub fn signals(line: &str) -> impl Iterator<Item = Signal<'_>> {
    let finder = &*SIGNAL_FINDER;
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let found = finder.find(&line.as_bytes()[at..])?;
            let start = at + found + SIGNAL_PREFIX.len();
            at = start;
            if let Some((signal, end)) = parse_one(line, start) {
                at = end;
                return Some(signal);
            }
        }
    })
}

/// Parses the signal whose kind starts at `start`; returns it and the index after its `>`.
fn parse_one(line: &str, start: usize) -> Option<(Signal<'_>, usize)> {
    let rest = &line[start..];
    let kind_len = rest.find(|c: char| c.is_whitespace())?;
    let kind = &rest[..kind_len];
    if kind.is_empty() || kind.contains('>') || !rest[kind_len..].starts_with(' ') {
        return None;
    }
    let after = &rest[kind_len + 1..];
    let close = after.find('>')?;
    let params = &after[..close];
    if params.is_empty() {
        return None;
    }
    let end = start + kind_len + 1 + close + 1;
    Some((interpret(kind, params), end))
}

fn interpret<'a>(kind: &'a str, params: &'a str) -> Signal<'a> {
    let malformed = |why| Signal::Malformed { kind, params, why };
    let mut words = params.split_whitespace();
    match kind {
        "TESTCASE" => {
            let (mut id, mut result, mut measurement, mut units) = (None, None, None, None);
            for word in words {
                match word.split_once('=') {
                    Some(("TEST_CASE_ID", v)) => id = Some(v),
                    Some(("RESULT", v)) => result = Some(v),
                    Some(("MEASUREMENT", v)) => measurement = Some(v),
                    Some(("UNITS", v)) => units = Some(v),
                    _ => {}
                }
            }
            match (id, result) {
                (Some(id), Some(result)) if !id.is_empty() => Signal::TestCase {
                    id,
                    result,
                    measurement,
                    units,
                },
                (Some(id), None) if !id.is_empty() => malformed("no RESULT="),
                _ => malformed("no TEST_CASE_ID="),
            }
        }
        "STARTTC" | "ENDTC" => match words.next() {
            Some(name) if kind == "STARTTC" => Signal::StartTc(name),
            Some(name) => Signal::EndTc(name),
            None => malformed("no test case name"),
        },
        "TESTSET" => match (words.next(), words.next()) {
            (Some("START"), Some(name)) => Signal::TestSetStart(name),
            (Some("STOP"), _) => Signal::TestSetStop,
            _ => malformed("expected `START name` or `STOP`"),
        },
        "TESTRAISE" => Signal::TestRaise(params.trim()),
        "STARTRUN" | "ENDRUN" => {
            let name = words.next().unwrap_or_default();
            let uuid = words.next().unwrap_or_default();
            if kind == "STARTRUN" {
                Signal::StartRun { name, uuid }
            } else {
                Signal::EndRun { name, uuid }
            }
        }
        "TESTREFERENCE" => {
            let words: Vec<&str> = params.split_whitespace().collect();
            if words.iter().any(|w| w.contains('=')) {
                let get = |key: &str| {
                    words
                        .iter()
                        .find_map(|w| w.split_once('=').filter(|(k, _)| *k == key))
                        .map(|(_, v)| v)
                };
                match (get("TEST_CASE_ID"), get("RESULT"), get("REFERENCE")) {
                    (Some(id), Some(result), Some(url)) => {
                        Signal::TestReference { id, result, url }
                    }
                    _ => malformed("expected TEST_CASE_ID=, RESULT= and REFERENCE="),
                }
            } else {
                match words.as_slice() {
                    [id, result, url, ..] => Signal::TestReference { id, result, url },
                    _ => malformed("expected `name result url`"),
                }
            }
        }
        _ => Signal::Other { kind, params },
    }
}

/// The status of a LAVA result word (`pass`, `fail`, `skip`, `unknown`; case is ignored).
pub fn lava_status(word: &str) -> Option<Status> {
    [
        ("pass", Status::Pass),
        ("fail", Status::Fail),
        ("skip", Status::Skip),
        ("unknown", Status::Miss),
    ]
    .into_iter()
    .find(|(name, _)| name.eq_ignore_ascii_case(word))
    .map(|(_, status)| status)
}

/// A decimal number as LAVA and our helpers accept it: an optional sign, digits with an
/// optional fraction (`42`, `-1.5`, `.5`, `3.`), and an optional exponent (`1e-3`). No `nan`,
/// no `inf`, no hexadecimal.
pub fn parse_decimal(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    i += int;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac;
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        i += usize::from(matches!(b.get(i), Some(b'+' | b'-')));
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    if i != b.len() {
        return None;
    }
    s.parse().ok().filter(|v: &f64| v.is_finite())
}

/// Settings of the signal reader.
#[derive(Debug, Clone)]
pub struct LavaOptions {
    /// The suite of results reported outside a `STARTRUN`/`ENDRUN` pair (a definition run on
    /// the host by the local test stage prints no `STARTRUN`).
    pub default_suite: String,
    /// Bound on each case's excerpt (half head, half tail).
    pub excerpt_bytes: usize,
    /// Cases whose lines are being collected at once (`STARTTC` without `ENDTC` yet).
    pub max_open_cases: usize,
    /// Results kept per suite; more are only counted ([`Suite::dropped`]).
    pub max_results: usize,
}

impl Default for LavaOptions {
    fn default() -> Self {
        LavaOptions {
            default_suite: "tests".to_owned(),
            excerpt_bytes: 8 << 10,
            max_open_cases: 8,
            max_results: 100_000,
        }
    }
}

/// What a test definition's pattern found in a line (see [`crate::LavaPattern`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PatternMatch {
    pub test_case_id: String,
    pub status: Status,
    pub measurement: Option<Measurement>,
}

#[derive(Debug)]
struct OpenCase {
    name: String,
    lines: LogCap,
}

#[derive(Debug)]
struct Run {
    name: String,
    uuid: String,
    line: u64,
    suite: usize,
}

/// The results of LAVA signals (and `parse:` patterns) in a stream.
#[derive(Debug, Clone, Default)]
pub struct LavaReport {
    /// One suite per run (`0_name`), plus the default suite when results came outside a run.
    pub suites: Vec<Suite>,
    pub problems: Problems,
    /// Signals seen (all kinds).
    pub signals: u64,
}

/// Reads the signals of a stream, line by line.
#[derive(Debug)]
pub struct LavaCollector {
    options: LavaOptions,
    suites: Vec<Suite>,
    by_name: HashMap<String, usize>,
    run: Option<Run>,
    set: Option<String>,
    open: Vec<OpenCase>,
    /// The last case closed by `ENDTC`, waiting for its `TESTCASE`.
    ended: Option<(String, Excerpt)>,
    problems: Problems,
    signals: u64,
}

impl LavaCollector {
    pub fn new(options: LavaOptions) -> Self {
        LavaCollector {
            options,
            suites: Vec::new(),
            by_name: HashMap::new(),
            run: None,
            set: None,
            open: Vec::new(),
            ended: None,
            problems: Problems::default(),
            signals: 0,
        }
    }

    /// Reads one line: `raw` is searched for signals (nothing before a carriage return is
    /// lost), `visible` is what goes into excerpts. Cheap when the line holds no signal.
    pub fn line(&mut self, number: u64, raw: &[u8], visible: &str) {
        if !self.open.is_empty() {
            for case in &mut self.open {
                case.lines.push_line(visible.as_bytes());
            }
        }
        if SIGNAL_FINDER.find(raw).is_none() {
            return;
        }
        let text = flattened(raw);
        for signal in signals(&text) {
            self.signals += 1;
            self.signal(number, &text, signal);
        }
    }

    fn signal(&mut self, number: u64, text: &str, signal: Signal<'_>) {
        match signal {
            Signal::TestCase {
                id,
                result,
                measurement,
                units,
            } => self.test_case(number, text, id, result, measurement, units),
            Signal::StartTc(name) => self.start_case(number, text, name),
            Signal::EndTc(name) => self.end_case(number, name),
            Signal::TestSetStart(name) => self.set = Some(name.to_owned()),
            Signal::TestSetStop => self.set = None,
            Signal::TestRaise(message) => self.raise(number, message),
            Signal::StartRun { name, uuid } => self.start_run(number, name, uuid),
            Signal::EndRun { name, uuid } => self.end_run(number, name, uuid),
            Signal::TestReference { id, result, url } => {
                let status = self.status_of(number, result);
                let reason = Some(format!("reference: {url}"));
                let excerpt = line_excerpt(number, text);
                self.push(id, status, None, reason, Some(excerpt), Origin::LavaSignal);
            }
            Signal::Other { .. } => {}
            Signal::Malformed { kind, params, why } => self.problems.push(
                number,
                format!("ignored <LAVA_SIGNAL_{kind} {}>: {why}", clip(params, 200)),
            ),
        }
    }

    fn status_of(&mut self, number: u64, word: &str) -> Status {
        lava_status(word).unwrap_or_else(|| {
            self.problems.push(
                number,
                format!(
                    "result `{}` is not pass, fail, skip or unknown: taken as unknown (MISS)",
                    clip(word, 80)
                ),
            );
            Status::Miss
        })
    }

    fn test_case(
        &mut self,
        number: u64,
        text: &str,
        id: &str,
        result: &str,
        measurement: Option<&str>,
        units: Option<&str>,
    ) {
        let status = self.status_of(number, result);
        let measurement = match measurement {
            Some(m) => match parse_decimal(m) {
                Some(value) => Some(Measurement {
                    value,
                    units: units.map(str::to_owned),
                }),
                None => {
                    self.problems.push(
                        number,
                        format!("case {id}: measurement `{}` is not decimal", clip(m, 80)),
                    );
                    None
                }
            },
            None => None,
        };
        let ended = match self.ended.take() {
            Some((name, excerpt)) if name == id => Some(excerpt),
            other => {
                self.ended = other;
                None
            }
        };
        if self.suite_is_full(status) {
            return;
        }
        let excerpt = ended.unwrap_or_else(|| line_excerpt(number, text));
        self.push(
            id,
            status,
            measurement,
            None,
            Some(excerpt),
            Origin::LavaSignal,
        );
    }

    /// The current suite keeps no more results: this one is only counted (so that a flood
    /// costs no allocation per result).
    fn suite_is_full(&mut self, status: Status) -> bool {
        let index = self.current_suite();
        let suite = &mut self.suites[index];
        let full = suite.results.len() >= self.options.max_results;
        if full {
            suite.dropped.add(status);
        }
        full
    }

    fn start_case(&mut self, number: u64, text: &str, name: &str) {
        if self.open.len() >= self.options.max_open_cases {
            self.problems.push(
                number,
                format!("STARTTC {name}: too many cases open at once; its lines are not kept"),
            );
            return;
        }
        let half = self.options.excerpt_bytes / 2;
        let mut lines = LogCap::starting_at(half, half, number);
        lines.push_line(text.as_bytes());
        self.open.push(OpenCase {
            name: name.to_owned(),
            lines,
        });
    }

    fn end_case(&mut self, number: u64, name: &str) {
        match self.open.iter().rposition(|c| c.name == name) {
            Some(i) => {
                let case = self.open.remove(i);
                if let Some((previous, excerpt)) = self.ended.take() {
                    self.unanswered(&previous, excerpt, "ENDTC without a TESTCASE result");
                }
                self.ended = Some((case.name, case.lines.finish().into_excerpt(number)));
            }
            None => self
                .problems
                .push(number, format!("ENDTC {name} without STARTTC")),
        }
    }

    /// A case that started but never gave a result.
    fn unanswered(&mut self, name: &str, excerpt: Excerpt, why: &str) {
        let reason = Some(format!("{why} (started at line {})", excerpt.first_line));
        self.push(
            name,
            Status::Miss,
            None,
            reason,
            Some(excerpt),
            Origin::LavaSignal,
        );
    }

    fn raise(&mut self, number: u64, message: &str) {
        let index = self.current_suite();
        let outcome = Outcome::new(
            Status::Error,
            format!("lava-test-raise: {}", clip(message, 500)),
            Some(number),
        );
        self.suites[index].outcome = Some(outcome);
    }

    fn start_run(&mut self, number: u64, name: &str, uuid: &str) {
        if let Some(previous) = self.run.take() {
            self.unfinished(previous, number);
        }
        let suite = self.suite_index(name);
        self.run = Some(Run {
            name: name.to_owned(),
            uuid: uuid.to_owned(),
            line: number,
            suite,
        });
        self.set = None;
    }

    fn end_run(&mut self, number: u64, name: &str, uuid: &str) {
        match self.run.take() {
            Some(run) if run.name == name => {
                if run.uuid != uuid {
                    self.problems.push(
                        number,
                        format!(
                            "ENDRUN {name}: uuid {uuid} differs from STARTRUN's {}",
                            run.uuid
                        ),
                    );
                }
            }
            Some(run) => {
                self.problems.push(
                    number,
                    format!("ENDRUN {name} while run {} is open", run.name),
                );
                self.run = Some(run);
            }
            None => self
                .problems
                .push(number, format!("ENDRUN {name} without STARTRUN")),
        }
        self.set = None;
    }

    fn unfinished(&mut self, run: Run, at: u64) {
        let suite = &mut self.suites[run.suite];
        if suite.outcome.is_none() {
            suite.outcome = Some(Outcome::new(
                Status::Miss,
                format!(
                    "the run {} (started at line {}) did not finish: no ENDRUN before line {at}",
                    run.name, run.line
                ),
                Some(run.line),
            ));
        }
    }

    /// Adds a result found by a `parse:` pattern in line `number`.
    pub fn pattern_result(&mut self, number: u64, text: &str, found: PatternMatch) {
        if self.suite_is_full(found.status) {
            return;
        }
        let excerpt = line_excerpt(number, text);
        self.push(
            &found.test_case_id,
            found.status,
            found.measurement,
            None,
            Some(excerpt),
            Origin::LavaPattern,
        );
    }

    pub fn problem(&mut self, number: u64, message: impl Into<String>) {
        self.problems.push(number, message);
    }

    fn current_suite(&mut self) -> usize {
        match &self.run {
            Some(run) => run.suite,
            None => {
                let name = self.options.default_suite.clone();
                self.suite_index(&name)
            }
        }
    }

    fn suite_index(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        self.suites.push(Suite::new(name));
        self.by_name.insert(name.to_owned(), self.suites.len() - 1);
        self.suites.len() - 1
    }

    fn push(
        &mut self,
        case: &str,
        status: Status,
        measurement: Option<Measurement>,
        reason: Option<String>,
        excerpt: Option<Excerpt>,
        origin: Origin,
    ) {
        let index = self.current_suite();
        let path = TestPath::new(
            self.suites[index].name.clone(),
            self.set.clone(),
            case.to_owned(),
        );
        let result = TestResult {
            path,
            status,
            measurement,
            reason,
            excerpt,
            origin,
        };
        self.suites[index].add(result, self.options.max_results);
    }

    /// The results; `last_line` is the stream's last line, `why` says how it ended (for the
    /// reasons of what was left open).
    pub fn finish(mut self, last_line: u64, why: &str) -> LavaReport {
        if let Some((name, excerpt)) = self.ended.take() {
            self.unanswered(&name, excerpt, "ENDTC without a TESTCASE result");
        }
        for case in std::mem::take(&mut self.open) {
            let excerpt = case.lines.finish().into_excerpt(last_line);
            let reason = format!("STARTTC without ENDTC: {why}");
            self.unanswered(&case.name, excerpt, &reason);
        }
        if let Some(run) = self.run.take() {
            let at = last_line.saturating_add(1);
            self.unfinished(run, at);
        }
        LavaReport {
            suites: self.suites,
            problems: self.problems,
            signals: self.signals,
        }
    }
}

fn line_excerpt(number: u64, text: &str) -> Excerpt {
    Excerpt {
        first_line: number,
        last_line: number,
        text: format!("{}\n", clip(text, 4096)),
        dropped_bytes: text.len().saturating_sub(4096) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str) -> LavaReport {
        let mut collector = LavaCollector::new(LavaOptions::default());
        for (i, line) in text.lines().enumerate() {
            collector.line(i as u64 + 1, line.as_bytes(), line);
        }
        collector.finish(text.lines().count() as u64, "the stream ended")
    }

    #[test]
    fn signals_are_found_anywhere_in_a_line() {
        let line = "[   3.2] random: crng init done\r<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=a-b.c RESULT=pass UNITS=ms MEASUREMENT=4.5>x<LAVA_SIGNAL_TESTSET STOP>";
        let found: Vec<_> = signals(line).collect();
        assert_eq!(
            found,
            vec![
                Signal::TestCase {
                    id: "a-b.c",
                    result: "pass",
                    measurement: Some("4.5"),
                    units: Some("ms")
                },
                Signal::TestSetStop
            ]
        );
        assert_eq!(signals("<LAVA_SIGNAL_ENDRUN>").count(), 0);
        assert_eq!(signals("<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=x").count(), 0);
        assert!(matches!(
            signals("<LAVA_SIGNAL_TESTCASE RESULT=pass>").next(),
            Some(Signal::Malformed { .. })
        ));
        assert!(matches!(
            signals("<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=x>").next(),
            Some(Signal::Malformed {
                why: "no RESULT=",
                ..
            })
        ));
    }

    #[test]
    fn decimals_are_strict() {
        for ok in ["42", "-1.5", "+3", ".5", "3.", "1e3", "2.5E-2"] {
            assert!(parse_decimal(ok).is_some(), "{ok}");
        }
        for bad in [
            "", ".", "-", "1e", "1.2.3", "nan", "inf", "0x10", "1,5", " 1", "1e400",
        ] {
            assert!(parse_decimal(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_run_with_sets_cases_and_excerpts() {
        let log = "\
<LAVA_SIGNAL_STARTRUN 0_smoke 4_1.1>
<LAVA_SIGNAL_TESTSET START basics>
<LAVA_SIGNAL_STARTTC uname>
Linux (none) 6.1
<LAVA_SIGNAL_ENDTC uname>
<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=uname RESULT=pass>
<LAVA_SIGNAL_TESTSET STOP>
<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=measured RESULT=pass UNITS=ms MEASUREMENT=42>
<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=odd RESULT=unknown>
<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=weird RESULT=PASSED>
<LAVA_SIGNAL_ENDRUN 0_smoke 4_1.1>
";
        let report = collect(log);
        assert_eq!(report.suites.len(), 1);
        let suite = &report.suites[0];
        assert_eq!(suite.name, "0_smoke");
        assert_eq!(suite.outcome, None);
        let uname = &suite.results[0];
        assert_eq!(uname.path.to_string(), "0_smoke/basics/uname");
        let excerpt = uname.excerpt.as_ref().map(|e| (e.first_line, e.last_line));
        assert_eq!(excerpt, Some((3, 5)));
        assert!(
            uname
                .excerpt
                .as_ref()
                .is_some_and(|e| e.text.contains("Linux (none)"))
        );
        let measured = &suite.results[1];
        assert_eq!(measured.path.to_string(), "0_smoke/measured");
        assert_eq!(
            measured.measurement,
            Some(Measurement {
                value: 42.0,
                units: Some("ms".into())
            })
        );
        assert_eq!(suite.results[2].status, Status::Miss);
        assert_eq!(suite.results[3].status, Status::Miss);
        assert_eq!(report.problems.list.len(), 1);
        assert_eq!(suite.status(), Status::Miss);
    }

    #[test]
    fn raise_is_an_error_and_a_missing_endrun_a_miss() {
        let raised = collect(
            "<LAVA_SIGNAL_STARTRUN 0_a u>\n<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=x RESULT=pass>\n<LAVA_SIGNAL_TESTRAISE setup failed: no disk>\n",
        );
        let suite = &raised.suites[0];
        assert_eq!(suite.status(), Status::Error);
        let outcome = suite
            .outcome
            .as_ref()
            .map(|o| (o.status, o.reason.as_str(), o.line));
        assert_eq!(
            outcome,
            Some((
                Status::Error,
                "lava-test-raise: setup failed: no disk",
                Some(3)
            ))
        );

        let unfinished =
            collect("<LAVA_SIGNAL_STARTRUN 0_a u>\n<LAVA_SIGNAL_STARTTC hang>\nstill running\n");
        let suite = &unfinished.suites[0];
        assert_eq!(suite.status(), Status::Miss);
        assert_eq!(suite.results.len(), 1);
        assert_eq!(suite.results[0].status, Status::Miss);
        assert_eq!(
            suite.results[0]
                .excerpt
                .as_ref()
                .map(|e| (e.first_line, e.last_line)),
            Some((2, 3))
        );
        // A failure still outweighs the missing end.
        let failed = collect(
            "<LAVA_SIGNAL_STARTRUN 0_a u>\n<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=x RESULT=fail>\n",
        );
        assert_eq!(failed.suites[0].status(), Status::Fail);
    }

    #[test]
    fn results_outside_a_run_go_to_the_default_suite() {
        let report = collect("<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=a RESULT=skip>\n");
        assert_eq!(report.suites[0].name, "tests");
        assert_eq!(report.suites[0].results[0].status, Status::Skip);
        let reference = collect("<LAVA_SIGNAL_TESTREFERENCE doc pass http://example.invalid/x>\n");
        assert_eq!(
            reference.suites[0].results[0].reason.as_deref(),
            Some("reference: http://example.invalid/x")
        );
    }
}

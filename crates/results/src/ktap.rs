//! KTAP and TAP, as kernels and their test runners print them on a console.
//!
//! The parser is fed one line at a time (the visible text, see [`crate::visible`]) and keeps
//! only the open tests, so it streams. What it accepts, point by point:
//!
//! * **Start.** A document starts at a version line (`KTAP version 1`, `TAP version 13`/`14`)
//!   found *anywhere* in a line: whatever precedes the version (a console timestamp, a `<6>`
//!   level, a shell prompt) is the line prefix, measured on that line. Kernel prefixes
//!   (timestamps, levels, caller ids) are removed from every line; a literal prefix (the
//!   prompt) is removed from the lines that have it. With
//!   [`KtapOptions::require_version`] off (files, host programs), a plan or a result line also
//!   starts a document.
//! * **Lines.** `\r\n`, `\r\r\n`, escape sequences and unrelated lines (printk noise) anywhere;
//!   unknown lines never change results.
//! * **Nesting**, by any of: indentation (2 spaces in KTAP, 4 in KUnit 6.1); version lines
//!   (a version line inside an unfinished document opens a subtest, even unindented); KUnit's
//!   and TAP 14's `# Subtest: NAME`; kselftest's `# ` prefix (the runner prefixes the output
//!   of each test with `# `, so its TAP reads `# TAP version 13`, `# ok 1 …`, and the runner's
//!   `# selftests: dir: test` header names it until its result line comes). A subtest ends
//!   at the result line at its parent's level (or, unindented, when its plan is complete or the
//!   result carries its `# Subtest:` name).
//! * **Plans**: present, absent, trailing (`1..N` after the results), `1..0 # SKIP why`.
//!   Planned tests that never print a result are MISS.
//! * **Results**: `ok`/`not ok`, optional number (defaults to the next one), optional `- `,
//!   descriptions with spaces (`\#` for a literal `#`), then `# DIRECTIVE text` or a
//!   diagnostic (`# exit=1`). YAML blocks (`---` … `...`) after a result belong to it.
//! * **`Bail out!`** stops the (sub)document it is in: its missing tests are MISS, and a
//!   top-level bail out gives the document the outcome ERROR.
//! * **Crashes**: the caller reports kernel trouble ([`KtapParser::kernel_report`]) and fatal
//!   crashes ([`KtapParser::interrupt`]); at a crash or at the end of the stream, the test that
//!   was running and every planned test without a result are MISS, with the crash as reason;
//!   everything parsed before is kept.
//! * **Summaries** (`# Totals: pass:4 …`, `# suite: pass:2 …`) are diagnostics: counts are
//!   recomputed from the results, never read from there.
//!
//! Status mapping (README-ready):
//!
//! | line | status | why |
//! |---|---|---|
//! | `ok` | PASS | |
//! | `not ok` | FAIL | |
//! | `ok # SKIP`, `not ok # SKIP` | SKIP | skipped either way; the result word does not matter |
//! | `not ok # TODO` | SKIP | a known failure: TAP says it does not count, so it cannot fail the patch |
//! | `ok # TODO` | PASS | it unexpectedly works |
//! | `# XFAIL` | PASS | kselftest's expected failure happened as expected |
//! | `# TIMEOUT` | FAIL | kselftest's runner killed a test that hung |
//! | `# ERROR` | ERROR | KTAP: the harness, not the code under test, failed |
//! | other `# text` | by `ok`/`not ok` | a diagnostic (`# exit=1`), kept as the reason |
//! | planned, no result line | MISS | it was meant to run and did not (a crash, an early end) |
//! | subtest without its own result line | MISS at least | its children say the rest |
//!
//! A subtest's status is the combination of its own result line and its children's.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::LazyLock;

use gauntlet_verdict::Status;
use memchr::memmem;
use serde::{Deserialize, Serialize};

use crate::cap::LogCap;
use crate::model::{Counts, Excerpt, Origin, Outcome, Problems, Suite, TestPath, TestResult};
use crate::text::{clip, strip_console_prefix};

/// Settings of the parser.
#[derive(Debug, Clone)]
pub struct KtapOptions {
    /// The suite name of the first document; later ones in the same stream get `-2`, `-3`…
    pub name: String,
    /// Only a version line starts a document (right for a console, where a stray `ok 1` in a
    /// boot log is not a test). Off: a plan or a result line starts one too.
    pub require_version: bool,
    /// Nesting deeper than this is read as plain lines (and reported once as a problem).
    pub max_depth: usize,
    /// Planned-but-missing tests made into MISS results per document; more are only counted.
    pub max_missing: usize,
    /// Tests kept; more are only counted (their statuses still count).
    pub max_results: usize,
    /// Bound on each test's excerpt (half head, half tail).
    pub excerpt_bytes: usize,
    /// Keep the excerpt text of passing tests too (their line range is always kept).
    pub excerpt_text_for_passes: bool,
}

impl Default for KtapOptions {
    fn default() -> Self {
        KtapOptions {
            name: "ktap".to_owned(),
            require_version: true,
            max_depth: 1024,
            max_missing: 10_000,
            max_results: 100_000,
            excerpt_bytes: 8 << 10,
            excerpt_text_for_passes: false,
        }
    }
}

/// A result line's directive (`# SKIP`, case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Directive {
    Skip,
    Todo,
    Xfail,
    Timeout,
    Error,
}

/// The status of a result line (see the table in the module documentation).
pub fn result_status(ok: bool, directive: Option<Directive>) -> Status {
    match (directive, ok) {
        (Some(Directive::Skip), _) => Status::Skip,
        (Some(Directive::Todo), true) => Status::Pass,
        (Some(Directive::Todo), false) => Status::Skip,
        (Some(Directive::Xfail), _) => Status::Pass,
        (Some(Directive::Timeout), _) => Status::Fail,
        (Some(Directive::Error), _) => Status::Error,
        (None, true) => Status::Pass,
        (None, false) => Status::Fail,
    }
}

/// One test of a document, with its subtests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KtapNode {
    pub number: u64,
    /// The description, else the `# Subtest:` name, else `#N`.
    pub name: String,
    /// Its own result combined with its children's.
    pub status: Status,
    pub directive: Option<Directive>,
    pub reason: Option<String>,
    pub first_line: u64,
    pub last_line: u64,
    /// For tests without subtests.
    pub excerpt: Option<Excerpt>,
    pub children: Vec<KtapNode>,
    /// No result line was seen for it (a planned test that never ran, a subtest cut short).
    pub missing: bool,
    /// Descendants beyond the limits, counted but not kept.
    pub dropped: Counts,
}

impl KtapNode {
    /// The statuses of the tests without subtests below (or of this one if it has none).
    pub fn leaf_counts(&self) -> Counts {
        if self.children.is_empty() && self.dropped.total() == 0 {
            return Counts::of([self.status]);
        }
        self.children
            .iter()
            .fold(self.dropped, |acc, c| acc.merged(c.leaf_counts()))
    }
}

/// One KTAP/TAP document: a top-level version line (or first line) and everything under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KtapDocument {
    /// The suite name of its results.
    pub name: String,
    /// The version line (`KTAP version 1`), or `(no version line)`.
    pub header: String,
    /// A top-level `# Subtest:` name, if any.
    pub title: Option<String>,
    pub plan: Option<u64>,
    pub tests: Vec<KtapNode>,
    /// Set when the document did not end normally: cut short (MISS), bailed out (ERROR),
    /// `1..0 # SKIP` (SKIP).
    pub outcome: Option<Outcome>,
    pub first_line: u64,
    pub last_line: u64,
    /// Top-level tests beyond the limits, counted but not kept.
    pub dropped: Counts,
}

impl KtapDocument {
    /// Counts of the tests without subtests (what `kunit.py parse` counts).
    pub fn counts(&self) -> Counts {
        self.tests
            .iter()
            .fold(self.dropped, |acc, t| acc.merged(t.leaf_counts()))
    }

    /// The document as a suite: one result per test without subtests (path
    /// `name/parents…/test`), plus one for each subtest whose own status is heavier than its
    /// children's and says something is wrong (FAIL, ERROR, MISS: a suite whose init failed, a
    /// subtest that never printed its result line).
    pub fn to_suite(&self) -> Suite {
        let mut suite = Suite::new(self.name.clone());
        suite.outcome = self.outcome.clone();
        suite.dropped = self.dropped;
        let mut parents = Vec::new();
        flatten(&self.tests, &mut parents, &mut suite);
        suite
    }
}

fn flatten<'a>(nodes: &'a [KtapNode], parents: &mut Vec<&'a str>, suite: &mut Suite) {
    for node in nodes {
        if node.children.is_empty() && node.dropped.total() == 0 {
            push_result(node, parents, suite);
            continue;
        }
        parents.push(&node.name);
        flatten(&node.children, parents, suite);
        parents.pop();
        suite.dropped = suite.dropped.merged(node.dropped);
        let below = Status::summarize(
            node.children
                .iter()
                .map(|c| c.status)
                .chain(node.dropped.statuses()),
        );
        let problem = matches!(node.status, Status::Fail | Status::Error | Status::Miss);
        if problem && below.combine(node.status) != below {
            push_result(node, parents, suite);
        }
    }
}

fn push_result(node: &KtapNode, parents: &[&str], suite: &mut Suite) {
    let set = (!parents.is_empty()).then(|| parents.join("/"));
    suite.results.push(TestResult {
        path: TestPath::new(suite.name.clone(), set, node.name.clone()),
        status: node.status,
        measurement: None,
        reason: node.reason.clone(),
        excerpt: node.excerpt.clone(),
        origin: Origin::Ktap,
    });
}

/// Everything the parser found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KtapReport {
    pub documents: Vec<KtapDocument>,
    pub problems: Problems,
}

impl KtapReport {
    pub fn suites(&self) -> Vec<Suite> {
        self.documents.iter().map(KtapDocument::to_suite).collect()
    }

    pub fn counts(&self) -> Counts {
        self.documents
            .iter()
            .fold(Counts::default(), |acc, d| acc.merged(d.counts()))
    }
}

/// Where a line sits: how many kselftest `# ` prefixes, then how much indentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Level {
    hash: u32,
    indent: u32,
}

const TOP: Level = Level { hash: 0, indent: 0 };

#[derive(Debug)]
enum Line<'a> {
    Version(&'a str),
    Plan {
        count: u64,
        comment: Option<&'a str>,
    },
    Result(ResultLine<'a>),
    Subtest(&'a str),
    BailOut(&'a str),
}

#[derive(Debug)]
struct ResultLine<'a> {
    ok: bool,
    number: Option<u64>,
    description: Cow<'a, str>,
    directive: Option<Directive>,
    comment: Option<&'a str>,
}

fn leading_ws(s: &str) -> (u32, &str) {
    let n = s.bytes().take_while(|&b| b == b' ' || b == b'\t').count();
    (u32::try_from(n).unwrap_or(u32::MAX), &s[n..])
}

/// The structural meaning of a line and its level; `None` for diagnostics and noise. The `# `
/// prefixes of kselftest are peeled one at a time, and the first reading that is structural
/// wins (so `# Subtest: x` is a header, `# ok 1 x` a nested result, `# hello` a diagnostic).
fn locate(s: &str) -> Option<(Level, Line<'_>)> {
    let (indent, mut rest) = leading_ws(s);
    let mut level = Level { hash: 0, indent };
    loop {
        if let Some(line) = classify(rest) {
            return Some((level, line));
        }
        let after = rest.strip_prefix('#')?;
        let after = match after.strip_prefix(' ') {
            Some(a) => a,
            None if after.is_empty() => after,
            None => return None,
        };
        let (inner, r) = leading_ws(after);
        level.hash = level.hash.saturating_add(1);
        level.indent = indent.saturating_add(inner);
        rest = r;
    }
}

fn classify(s: &str) -> Option<Line<'_>> {
    match s.as_bytes().first()? {
        b'o' | b'n' => parse_result(s).map(Line::Result),
        b'K' | b'T' => parse_version(s).map(Line::Version),
        b'1' => parse_plan(s),
        b'#' => parse_subtest(s).map(Line::Subtest),
        b'B' => s.strip_prefix("Bail out!").map(|r| Line::BailOut(r.trim())),
        _ => None,
    }
}

fn parse_version(s: &str) -> Option<&str> {
    let t = s.trim_end();
    let number = t
        .strip_prefix("KTAP version ")
        .or_else(|| t.strip_prefix("TAP version "))?;
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then_some(t)
}

fn digits_value(digits: &str) -> u64 {
    digits.bytes().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    })
}

fn parse_plan(s: &str) -> Option<Line<'_>> {
    let rest = s.strip_prefix("1..")?;
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    let after = rest[n..].trim();
    let comment = match after.strip_prefix('#') {
        Some(c) => Some(c.trim()),
        None if after.is_empty() => None,
        None => return None,
    };
    Some(Line::Plan {
        count: digits_value(&rest[..n]),
        comment,
    })
}

fn parse_subtest(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('#')?.trim_start().strip_prefix("Subtest")?;
    match rest.strip_prefix(':') {
        Some(name) => Some(name.trim()),
        None if rest.trim().is_empty() => Some(""),
        None => None,
    }
}

fn parse_result(s: &str) -> Option<ResultLine<'_>> {
    let (ok, rest) = match s.strip_prefix("not ok") {
        Some(rest) => (false, rest),
        None => (true, s.strip_prefix("ok")?),
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let mut rest = rest.trim_start();
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    let mut number = None;
    if n > 0 && rest[n..].chars().next().is_none_or(char::is_whitespace) {
        number = Some(digits_value(&rest[..n]));
        rest = rest[n..].trim_start();
    }
    if let Some(r) = rest.strip_prefix("- ") {
        rest = r;
    } else if rest == "-" {
        rest = "";
    }
    let (description, comment) = match directive_start(rest) {
        Some(i) => (&rest[..i], Some(rest[i + 1..].trim())),
        None => (rest, None),
    };
    let description = description.trim();
    let description = if description.contains("\\#") {
        Cow::Owned(description.replace("\\#", "#"))
    } else {
        Cow::Borrowed(description)
    };
    let directive = comment.and_then(directive_of);
    Some(ResultLine {
        ok,
        number,
        description,
        directive,
        comment: comment.filter(|c| !c.is_empty()),
    })
}

/// Index of the `#` that starts the directive: at the start or after whitespace, not `\#`.
fn directive_start(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len()).find(|&i| b[i] == b'#' && (i == 0 || b[i - 1] == b' ' || b[i - 1] == b'\t'))
}

fn directive_of(comment: &str) -> Option<Directive> {
    let word: String = comment
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match word.as_str() {
        w if w.starts_with("skip") => Some(Directive::Skip),
        "todo" => Some(Directive::Todo),
        "xfail" => Some(Directive::Xfail),
        "timeout" => Some(Directive::Timeout),
        "error" => Some(Directive::Error),
        _ => None,
    }
}

/// Built once: this search runs on every line outside a document.
static VERSION_FINDER: LazyLock<memmem::FinderRev<'static>> =
    LazyLock::new(|| memmem::FinderRev::new(b"TAP version "));

/// Finds a version line at the end of `msg`; returns where it starts.
fn version_at_end(msg: &str) -> Option<usize> {
    let t = msg.trim_end();
    // The shortest version line is `TAP version N`: look only at the end.
    let from = t.len().saturating_sub(40);
    let pos = from + VERSION_FINDER.rfind(&t.as_bytes()[from..])?;
    let number = &t[pos + "TAP version ".len()..];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(if pos > 0 && t.as_bytes()[pos - 1] == b'K' {
        pos - 1
    } else {
        pos
    })
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    count: u64,
}

#[derive(Debug)]
struct Frame {
    /// `None` until the first line of a subtest announced by `# Subtest:` at its parent's level.
    level: Option<Level>,
    min_level: Level,
    name: Option<String>,
    plan: Option<Plan>,
    plan_skip: Option<String>,
    children: Vec<KtapNode>,
    next: u64,
    first_line: u64,
    bailed: Option<String>,
    dropped: Counts,
}

impl Frame {
    fn new(level: Option<Level>, min_level: Level, first_line: u64) -> Self {
        Frame {
            level,
            min_level,
            name: None,
            plan: None,
            plan_skip: None,
            children: Vec::new(),
            next: 1,
            first_line,
            bailed: None,
            dropped: Counts::default(),
        }
    }

    fn level(&self) -> Level {
        self.level.unwrap_or(self.min_level)
    }

    fn fresh(&self) -> bool {
        self.plan.is_none() && self.next == 1
    }

    fn satisfied(&self) -> bool {
        self.plan.is_some_and(|p| self.next > p.count)
    }

    fn status_with(&self, own: Status) -> Status {
        Status::summarize(
            self.children
                .iter()
                .map(|c| c.status)
                .chain(self.dropped.statuses())
                .chain([own]),
        )
    }
}

#[derive(Debug)]
struct Doc {
    name: String,
    header: String,
    first_line: u64,
    missing_budget: usize,
}

/// Why open tests are being closed.
#[derive(Debug, Clone)]
enum Cause {
    /// The kernel crashed (the reason names the report and its line).
    Crash(String, u64),
    /// The stream ended.
    End(u64),
    /// A new top-level document started.
    NewDocument(u64),
    /// `Bail out!`.
    Bail(String, u64),
}

impl Cause {
    /// The reasons for the test that was running, for the planned tests that did not run,
    /// and for the subtests (and the document) cut short.
    fn reasons(&self, after: &str) -> (String, String, String) {
        match self {
            Cause::Crash(what, line) => (
                format!("crashed: {what} (line {line})"),
                format!("not run: the kernel crashed at line {line}"),
                format!("cut short: the kernel crashed at line {line}"),
            ),
            Cause::End(line) => (
                format!("no result: the output ended at line {line}{after}"),
                format!("not run: the output ended at line {line}{after}"),
                format!("cut short: the output ended at line {line}{after}"),
            ),
            Cause::NewDocument(line) => (
                format!("no result: a new TAP document started at line {line}"),
                format!("not run: a new TAP document started at line {line}"),
                format!("cut short: a new TAP document started at line {line}"),
            ),
            Cause::Bail(why, line) => (
                format!("not run: Bail out! {why} (line {line})"),
                format!("not run: Bail out! {why} (line {line})"),
                format!("cut short: Bail out! {why} (line {line})"),
            ),
        }
    }
}

/// The streaming KTAP/TAP parser.
#[derive(Debug)]
pub struct KtapParser {
    options: KtapOptions,
    frames: Vec<Frame>,
    doc: Option<Doc>,
    documents: Vec<KtapDocument>,
    problems: Problems,
    /// Lines since the last result: the excerpt of the next test.
    pending: LogCap,
    /// A literal prefix measured on the version line (a prompt glued to it).
    prefix: Option<String>,
    /// Inside a YAML block that belongs to the last result at this level.
    yaml: Option<Level>,
    after_result: Option<Level>,
    last_report: Option<(u64, String)>,
    stored: usize,
    depth_warned: bool,
    /// While closing everything at a crash or an end: the next test left without a result is
    /// the one that was running (it gets the crash as reason, and the lines since the last
    /// result as excerpt).
    blame_next: bool,
    /// The last `# selftests: dir: test` header of the kselftest runner, and the depth of the
    /// frame it was printed in: it names the subtest that the test's own TAP opens.
    kselftest_header: Option<(usize, String)>,
}

impl KtapParser {
    pub fn new(options: KtapOptions) -> Self {
        let half = options.excerpt_bytes / 2;
        KtapParser {
            pending: LogCap::new(half, half),
            options,
            frames: Vec::new(),
            doc: None,
            documents: Vec::new(),
            problems: Problems::default(),
            prefix: None,
            yaml: None,
            after_result: None,
            last_report: None,
            stored: 0,
            depth_warned: false,
            blame_next: false,
            kselftest_header: None,
        }
    }

    /// A document is open.
    pub fn in_document(&self) -> bool {
        !self.frames.is_empty()
    }

    /// Reads one line (its visible text).
    pub fn line(&mut self, number: u64, text: &str) {
        self.line_with_message(number, text, strip_console_prefix(text));
    }

    /// [`KtapParser::line`] when the caller already has the message (the text after its
    /// console prefix, [`strip_console_prefix`]).
    pub fn line_with_message(&mut self, number: u64, text: &str, msg: &str) {
        if self.frames.is_empty() {
            self.look_for_start(number, msg, text);
            return;
        }
        self.pending.push_line(text.as_bytes());
        let s = match &self.prefix {
            Some(p) => msg.strip_prefix(p.as_str()).unwrap_or(msg),
            None => msg,
        };
        let after_result = self.after_result.take();
        let located = locate(s);
        if let Some(base) = self.yaml {
            match &located {
                Some((level, _)) if *level <= base => self.yaml = None,
                _ => {
                    if s.trim() == "..." {
                        self.yaml = None;
                    }
                    self.amend_last(number, text);
                    return;
                }
            }
        } else if let Some(base) = after_result
            && s.trim_end().ends_with("---")
            && s.trim() == "---"
            && leading_ws(s).0 >= base.indent
        {
            self.yaml = Some(base);
            self.amend_last(number, text);
            return;
        }
        match located {
            Some((level, line)) => self.handle(number, level, line, text),
            None => {
                if let Some(header) = s.trim_start().strip_prefix("# selftests: ") {
                    let name = format!("selftests: {}", header.trim());
                    self.kselftest_header = Some((self.frames.len(), clip(&name, 500)));
                }
            }
        }
    }

    fn look_for_start(&mut self, number: u64, msg: &str, text: &str) {
        if let Some(start) = version_at_end(msg) {
            let before = &msg[..start];
            let header = msg[start..].trim_end();
            let only_nesting = before.bytes().all(|b| b == b'#' || b == b' ' || b == b'\t');
            let level = match locate(msg) {
                Some((level, Line::Version(_))) if only_nesting => {
                    self.prefix = None;
                    level
                }
                _ => {
                    self.prefix = (!before.is_empty()).then(|| before.to_owned());
                    TOP
                }
            };
            self.start_document(number, level, header, text);
            return;
        }
        if self.options.require_version {
            return;
        }
        if let Some((level, line @ (Line::Plan { .. } | Line::Result(_)))) = locate(msg) {
            self.prefix = None;
            self.start_document(number, level, "(no version line)", text);
            self.handle(number, level, line, text);
        }
    }

    fn start_document(&mut self, number: u64, level: Level, header: &str, text: &str) {
        let n = self.documents.len() + 1;
        let name = if n == 1 {
            self.options.name.clone()
        } else {
            format!("{}-{n}", self.options.name)
        };
        tracing::debug!(line = number, %name, header, "ktap: document starts");
        self.doc = Some(Doc {
            name,
            header: header.to_owned(),
            first_line: number,
            missing_budget: self.options.max_missing,
        });
        self.frames.push(Frame::new(Some(level), level, number));
        self.pending.reset(number);
        self.pending.push_line(text.as_bytes());
        self.yaml = None;
        self.after_result = None;
        self.blame_next = false;
    }

    fn handle(&mut self, number: u64, level: Level, line: Line<'_>, text: &str) {
        match line {
            Line::Result(r) => self.on_result(number, level, r),
            Line::Version(header) => self.on_version(number, level, header, text),
            Line::Plan { count, comment } => self.on_plan(number, level, count, comment),
            Line::Subtest(name) => self.on_subtest(number, level, name),
            Line::BailOut(why) => self.on_bail(number, level, why),
        }
    }

    /// Resolves a lazy innermost frame against a line's level; returns its level.
    fn innermost_level(&mut self, level: Level) -> Level {
        let Some(f) = self.frames.last_mut() else {
            return TOP;
        };
        if f.level.is_none() && level >= f.min_level {
            f.level = Some(level);
        }
        f.level()
    }

    fn parent_level(&self) -> Option<Level> {
        let n = self.frames.len();
        (n >= 2).then(|| self.frames[n - 2].level())
    }

    fn push_child(&mut self, number: u64, level: Option<Level>, min_level: Level) -> bool {
        if self.frames.len() >= self.options.max_depth {
            if !self.depth_warned {
                self.depth_warned = true;
                self.problems.push(
                    number,
                    format!(
                        "nesting deeper than {} levels: deeper lines are read as plain lines",
                        self.options.max_depth
                    ),
                );
            }
            return false;
        }
        let mut frame = Frame::new(level, min_level, number);
        if let Some((depth, _)) = &self.kselftest_header
            && *depth == self.frames.len()
        {
            frame.name = self.kselftest_header.take().map(|(_, name)| name);
        }
        self.frames.push(frame);
        true
    }

    fn on_result(&mut self, number: u64, level: Level, r: ResultLine<'_>) {
        loop {
            let depth = self.frames.len();
            if depth == 0 {
                return;
            }
            let f_level = self.innermost_level(level);
            if self.frames[depth - 1].bailed.is_some() && level >= f_level {
                return;
            }
            match level.cmp(&f_level) {
                Ordering::Greater => {
                    if !self.push_child(number, Some(level), level) {
                        return;
                    }
                }
                Ordering::Equal => {
                    let closes = self.parent_level() == Some(level) && self.innermost_ends_with(&r);
                    if closes {
                        self.close_with(number, level, r);
                    } else {
                        self.add_leaf(number, level, r);
                    }
                    return;
                }
                Ordering::Less => {
                    match self.parent_level() {
                        None => return, // shallower than the document: not ours
                        Some(p) if p <= level => {
                            self.close_with(number, level, r);
                            return;
                        }
                        Some(_) => {
                            self.pop_incomplete(number, "no result line for this subtest");
                        }
                    }
                }
            }
        }
    }

    /// For an unindented subtest: does this result line at its own level end it?
    fn innermost_ends_with(&self, r: &ResultLine<'_>) -> bool {
        let Some(f) = self.frames.last() else {
            return false;
        };
        match f.plan {
            Some(_) => f.satisfied(),
            None => f.name.as_deref() == Some(&*r.description),
        }
    }

    fn judge(&self, r: &ResultLine<'_>) -> (Status, Option<String>) {
        (
            result_status(r.ok, r.directive),
            r.comment.map(|c| clip(c, 500)),
        )
    }

    fn take_excerpt(&mut self, last_line: u64, status: Status) -> Excerpt {
        let keep_text = status != Status::Pass || self.options.excerpt_text_for_passes;
        self.pending.take_excerpt(last_line, keep_text)
    }

    fn add_leaf(&mut self, number: u64, level: Level, r: ResultLine<'_>) {
        let (status, reason) = self.judge(&r);
        let next = self.frames.last().map_or(1, |f| f.next);
        let n = r.number.unwrap_or(next);
        if self.stored >= self.options.max_results {
            // Only counted (in `store`): no name, no excerpt, no allocation.
            self.pending.reset(number + 1);
            let mut node = missing_node(n, String::new(), number, String::new());
            (node.status, node.reason, node.missing) = (status, None, false);
            self.attach(number, node);
            self.after_result = Some(level);
            return;
        }
        let excerpt = self.take_excerpt(number, status);
        let node = KtapNode {
            number: n,
            name: name_or_number(&r.description, None, n),
            status,
            directive: r.directive,
            reason,
            first_line: excerpt.first_line,
            last_line: number,
            excerpt: Some(excerpt),
            children: Vec::new(),
            missing: false,
            dropped: Counts::default(),
        };
        self.attach(number, node);
        self.after_result = Some(level);
    }

    /// Adds a test to the innermost frame, checking its number against the frame's.
    fn attach(&mut self, number: u64, node: KtapNode) {
        let Some(f) = self.frames.last() else {
            return;
        };
        if self
            .kselftest_header
            .as_ref()
            .is_some_and(|(depth, _)| *depth == self.frames.len())
        {
            self.kselftest_header = None;
        }
        let (expected, plan) = (f.next, f.plan);
        let n = node.number;
        if n > expected {
            self.problems.push(
                number,
                format!("test number {n} where {expected} was expected: the ones between are MISS"),
            );
            let why = format!(
                "no result line: the numbering jumped from {} to {n} at line {number}",
                expected - 1
            );
            self.synthesize_missing(number, expected, n - 1, &why, &why);
        } else if n < expected {
            self.problems.push(
                number,
                format!("test number {n} comes after {}", expected - 1),
            );
        }
        if let Some(p) = plan
            && n > p.count
        {
            self.problems.push(
                number,
                format!("test {n} is beyond the plan 1..{}", p.count),
            );
        }
        self.store(node);
        if let Some(f) = self.frames.last_mut() {
            f.next = f.next.max(n.saturating_add(1));
        }
        if self.frames.len() == 1 && self.frames[0].satisfied() {
            self.end_document(number, None);
        }
    }

    fn store(&mut self, node: KtapNode) {
        let Some(f) = self.frames.last_mut() else {
            return;
        };
        if self.stored < self.options.max_results {
            self.stored += 1;
            f.children.push(node);
        } else {
            f.dropped = f.dropped.merged(node.leaf_counts());
        }
    }

    /// MISS results for tests `from..=to` of the innermost frame (bounded; the rest counted).
    fn synthesize_missing(&mut self, line: u64, from: u64, to: u64, first: &str, rest: &str) {
        let mut k = from;
        while k <= to {
            let budget = self.doc.as_ref().map_or(0, |d| d.missing_budget);
            if budget == 0 || self.stored >= self.options.max_results {
                if let Some(f) = self.frames.last_mut() {
                    f.dropped.miss += to - k + 1;
                }
                break;
            }
            if let Some(doc) = self.doc.as_mut() {
                doc.missing_budget -= 1;
            }
            let mut node = missing_node(k, format!("#{k}"), line, rest.to_owned());
            if std::mem::take(&mut self.blame_next) {
                node.reason = Some(first.to_owned());
                node.excerpt = Some(self.take_excerpt(line, Status::Miss));
            }
            self.store(node);
            if k == u64::MAX {
                break;
            }
            k += 1;
        }
        if let Some(f) = self.frames.last_mut() {
            f.next = f.next.max(to.saturating_add(1));
        }
    }

    fn fill_plan(&mut self, line: u64, first: &str, rest: &str) {
        let Some(f) = self.frames.last() else {
            return;
        };
        if let Some(p) = f.plan
            && f.next <= p.count
        {
            let from = f.next;
            self.synthesize_missing(line, from, p.count, first, rest);
        }
    }

    /// The innermost frame ends with its own result line `r` (which belongs to its parent).
    fn close_with(&mut self, number: u64, level: Level, r: ResultLine<'_>) {
        let why = match self.frames.last().and_then(|f| f.bailed.clone()) {
            Some(bail) => format!("not run: Bail out! {bail}"),
            None => format!("planned, but no result line before its parent's (line {number})"),
        };
        self.fill_plan(number, &why, &why);
        let Some(f) = self.frames.pop() else {
            return;
        };
        let (own, reason) = self.judge(&r);
        let mut status = f.status_with(own);
        if f.plan_skip.is_some() && f.children.is_empty() && own == Status::Pass {
            status = Status::Skip;
        }
        if let Some(header) = &f.name
            && !r.description.is_empty()
            && header != &*r.description
        {
            self.problems.push(
                number,
                format!(
                    "subtest `{}` ends with the result line of `{}`",
                    clip(header, 100),
                    clip(&r.description, 100)
                ),
            );
        }
        let next = self.frames.last().map_or(1, |p| p.next);
        let n = r.number.unwrap_or(next);
        let node = KtapNode {
            number: n,
            name: name_or_number(&r.description, f.name.as_deref(), n),
            status,
            directive: r.directive,
            reason: reason.or(f.plan_skip.clone()),
            first_line: f.first_line,
            last_line: number,
            excerpt: None,
            children: f.children,
            missing: false,
            dropped: f.dropped,
        };
        self.pending.reset(number + 1);
        self.attach(number, node);
        self.after_result = Some(level);
    }

    /// The innermost frame ends without its result line (a shallower line came).
    fn pop_incomplete(&mut self, number: u64, why: &str) {
        let node = format!("no result line for this subtest: {why} (line {number})");
        let planned = format!("planned, but no result line: {why} (line {number})");
        self.pop_incomplete_with(number, &node, &planned, &planned);
    }

    /// Pops the innermost frame as a subtest without result line (reason `unfinished`); its
    /// planned tests without results get `first` (the running one, when being blamed) and
    /// `rest`.
    fn pop_incomplete_with(&mut self, number: u64, unfinished: &str, first: &str, rest: &str) {
        self.fill_plan(number, first, rest);
        let Some(f) = self.frames.pop() else {
            return;
        };
        let next = self.frames.last().map_or(1, |p| p.next);
        let name = name_or_number("", f.name.as_deref(), next);
        let mut node = missing_node(next, name, number, unfinished.to_owned());
        if std::mem::take(&mut self.blame_next) {
            node.reason = Some(first.to_owned());
            node.excerpt = Some(self.take_excerpt(number, Status::Miss));
        }
        node.status = f.status_with(Status::Miss);
        node.first_line = f.first_line;
        node.children = f.children;
        node.dropped = f.dropped;
        self.attach(number, node);
    }

    /// Ends the subtests deeper than a line at `level` (without their result lines) and says
    /// how the line compares with the innermost test left (`Less` only at the top level);
    /// `None` when no document is open.
    fn settle(&mut self, number: u64, level: Level, why: &str) -> Option<Ordering> {
        loop {
            if self.frames.is_empty() {
                return None;
            }
            let order = level.cmp(&self.innermost_level(level));
            if order != Ordering::Less || self.frames.len() == 1 {
                return Some(order);
            }
            self.pop_incomplete(number, why);
        }
    }

    fn on_version(&mut self, number: u64, level: Level, header: &str, text: &str) {
        match self.settle(number, level, "a shallower version line came") {
            None => {}
            Some(Ordering::Greater) => {
                self.push_child(number, Some(level), level);
            }
            Some(Ordering::Equal) => {
                let depth = self.frames.len();
                let f = &self.frames[depth - 1];
                if f.fresh() {
                    return; // the header of a subtest already opened (or a repeated one)
                }
                if depth >= 2 && (f.satisfied() || f.bailed.is_some()) {
                    self.pop_incomplete(number, "the next subtest started");
                }
                self.push_child(number, Some(level), level);
            }
            Some(Ordering::Less) => {
                // Shallower than the document itself: a new document.
                self.close_all(number, &Cause::NewDocument(number));
                self.start_document(number, level, header, text);
            }
        }
    }

    fn on_subtest(&mut self, number: u64, level: Level, name: &str) {
        let opened = match self.settle(number, level, "a shallower subtest header came") {
            None | Some(Ordering::Less) => false,
            Some(Ordering::Greater) => self.push_child(number, Some(level), level),
            Some(Ordering::Equal) => {
                let f = &self.frames[self.frames.len() - 1];
                if f.fresh() && f.name.is_none() {
                    true
                } else {
                    // A header at its parent's level: the subtest's own lines may be indented.
                    self.push_child(number, None, level)
                }
            }
        };
        if opened && let Some(f) = self.frames.last_mut() {
            f.name = Some(name.to_owned());
        }
    }

    fn on_plan(&mut self, number: u64, level: Level, count: u64, comment: Option<&str>) {
        let skip = comment
            .filter(|c| directive_of(c) == Some(Directive::Skip))
            .map(|c| clip(c, 500));
        match self.settle(number, level, "a shallower plan came") {
            None | Some(Ordering::Less) => {}
            Some(Ordering::Greater) => {
                if self.push_child(number, Some(level), level) {
                    self.set_plan(number, count, skip);
                }
            }
            Some(Ordering::Equal) => {
                if self.frames.last().is_some_and(|f| f.plan.is_some()) {
                    self.problems
                        .push(number, "a second plan in the same test: ignored");
                } else {
                    self.set_plan(number, count, skip);
                }
            }
        }
    }

    fn set_plan(&mut self, number: u64, count: u64, skip: Option<String>) {
        let Some(f) = self.frames.last_mut() else {
            return;
        };
        f.plan = Some(Plan { count });
        f.plan_skip = skip.filter(|_| count == 0);
        if self.frames.len() == 1 && self.frames[0].satisfied() {
            let outcome = self.frames[0]
                .plan_skip
                .clone()
                .filter(|_| self.frames[0].children.is_empty())
                .map(|why| Outcome::new(Status::Skip, why, Some(number)));
            self.end_document(number, outcome);
        }
    }

    fn on_bail(&mut self, number: u64, level: Level, why: &str) {
        // The frame the line belongs to: the innermost one at or above its level.
        while self.frames.len() > 1 && self.innermost_level(level) > level {
            self.pop_incomplete(number, &format!("Bail out! {why}"));
        }
        let cause = Cause::Bail(clip(why, 500), number);
        if self.frames.len() == 1 {
            self.close_all(number, &cause);
            return;
        }
        let (first, rest, _) = cause.reasons("");
        self.fill_plan(number, &first, &rest);
        if let Some(f) = self.frames.last_mut() {
            f.bailed = Some(clip(why, 500));
        }
    }

    /// The last line of the last test, extended by a YAML block.
    fn amend_last(&mut self, number: u64, text: &str) {
        let limit = self.options.excerpt_bytes;
        if let Some(node) = self.frames.last_mut().and_then(|f| f.children.last_mut()) {
            node.last_line = number;
            if let Some(excerpt) = node.excerpt.as_mut() {
                excerpt.last_line = number;
                if !excerpt.text.is_empty() && excerpt.text.len() + text.len() < limit {
                    excerpt.text.push_str(text);
                    excerpt.text.push('\n');
                } else {
                    excerpt.dropped_bytes += text.len() as u64 + 1;
                }
            }
        }
        self.pending.reset(number + 1);
    }

    /// Remembers a kernel report (`BUG:`, `WARNING:`…) for the reasons of tests cut short later.
    pub fn kernel_report(&mut self, number: u64, text: &str) {
        self.last_report = Some((number, clip(text.trim(), 200)));
    }

    /// The kernel crashed at line `number`: the open tests and the planned ones are MISS.
    pub fn interrupt(&mut self, number: u64, what: &str) {
        if !self.frames.is_empty() {
            tracing::debug!(line = number, what, "ktap: document interrupted by a crash");
            self.close_all(number, &Cause::Crash(clip(what.trim(), 200), number));
        }
    }

    fn close_all(&mut self, number: u64, cause: &Cause) {
        let after = match (&self.last_report, cause) {
            (Some((line, what)), Cause::End(_)) => format!(", after `{what}` at line {line}"),
            _ => String::new(),
        };
        let (first, rest, unfinished) = cause.reasons(&after);
        self.blame_next = !matches!(cause, Cause::Bail(..));
        let interrupted = self.frames.len() > 1
            || self
                .frames
                .first()
                .is_some_and(|f| f.plan.is_some_and(|p| f.next <= p.count));
        while self.frames.len() > 1 {
            self.pop_incomplete_with(number, &unfinished, &first, &rest);
        }
        self.fill_plan(number, &first, &rest);
        self.blame_next = false;
        let outcome = match cause {
            Cause::Bail(why, line) => Some(Outcome::new(
                Status::Error,
                format!("Bail out! {why}"),
                Some(*line),
            )),
            Cause::Crash(..) => Some(Outcome::new(Status::Miss, unfinished, Some(number))),
            Cause::End(_) | Cause::NewDocument(_) if interrupted => {
                Some(Outcome::new(Status::Miss, unfinished, Some(number)))
            }
            Cause::End(_) | Cause::NewDocument(_) => {
                if self.frames.first().is_some_and(|f| f.plan.is_none()) {
                    self.problems
                        .push(number, "the document ended without a plan (1..N)");
                }
                None
            }
        };
        self.end_document(number, outcome);
    }

    fn end_document(&mut self, number: u64, outcome: Option<Outcome>) {
        let Some(root) = self.frames.pop() else {
            return;
        };
        self.frames.clear();
        let Some(doc) = self.doc.take() else {
            return;
        };
        tracing::debug!(line = number, name = %doc.name, "ktap: document ends");
        self.documents.push(KtapDocument {
            name: doc.name,
            header: doc.header,
            title: root.name,
            plan: root.plan.map(|p| p.count),
            tests: root.children,
            outcome,
            first_line: doc.first_line,
            last_line: number,
            dropped: root.dropped,
        });
        self.prefix = None;
        self.yaml = None;
        self.after_result = None;
    }

    /// Ends the stream at `last_line`: what is still open is MISS.
    pub fn finish(mut self, last_line: u64) -> KtapReport {
        if !self.frames.is_empty() {
            self.close_all(last_line, &Cause::End(last_line));
        }
        KtapReport {
            documents: self.documents,
            problems: self.problems,
        }
    }
}

fn name_or_number(description: &str, header: Option<&str>, n: u64) -> String {
    if !description.is_empty() {
        return clip(description, 500);
    }
    match header {
        Some(h) if !h.is_empty() => clip(h, 500),
        _ => format!("#{n}"),
    }
}

fn missing_node(number: u64, name: String, line: u64, reason: String) -> KtapNode {
    KtapNode {
        number,
        name,
        status: Status::Miss,
        directive: None,
        reason: Some(reason),
        first_line: line,
        last_line: line,
        excerpt: None,
        children: Vec::new(),
        missing: true,
        dropped: Counts::default(),
    }
}

/// Parses a whole text (tests and tools; the streaming front end is [`crate::StreamParser`]).
pub fn parse_ktap_text(text: &str, options: KtapOptions) -> KtapReport {
    let mut parser = KtapParser::new(options);
    let mut last = 0;
    for (i, line) in text.lines().enumerate() {
        last = i as u64 + 1;
        parser.line(last, &crate::text::visible(line.as_bytes()));
    }
    parser.finish(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> KtapReport {
        parse_ktap_text(text, KtapOptions::default())
    }

    fn loose(text: &str) -> KtapReport {
        parse_ktap_text(
            text,
            KtapOptions {
                require_version: false,
                ..KtapOptions::default()
            },
        )
    }

    /// `path STATUS` per result of the first document.
    fn rows(report: &KtapReport) -> Vec<String> {
        report
            .suites()
            .iter()
            .flat_map(|s| s.results.iter())
            .map(|r| format!("{} {}", r.path, r.status))
            .collect()
    }

    #[test]
    fn result_lines_in_all_their_forms() {
        let r = parse_result("ok 1 - a test with spaces # SKIP no hardware")
            .unwrap_or_else(|| panic!());
        assert!(r.ok);
        assert_eq!(r.number, Some(1));
        assert_eq!(r.description, "a test with spaces");
        assert_eq!(r.directive, Some(Directive::Skip));
        assert_eq!(r.comment, Some("SKIP no hardware"));
        let r = parse_result("not ok 12 x # exit=1").unwrap_or_else(|| panic!());
        assert_eq!(
            (r.ok, r.directive, r.comment),
            (false, None, Some("exit=1"))
        );
        let r = parse_result("ok 3 # skip").unwrap_or_else(|| panic!());
        assert_eq!(
            (r.description.as_ref(), r.directive),
            ("", Some(Directive::Skip))
        );
        let r = parse_result("ok a\\#b #todo later").unwrap_or_else(|| panic!());
        assert_eq!((r.number, r.description.as_ref()), (None, "a#b"));
        assert_eq!(r.directive, Some(Directive::Todo));
        let r = parse_result("ok 4 c#d").unwrap_or_else(|| panic!());
        assert_eq!((r.description.as_ref(), r.comment), ("c#d", None));
        assert!(parse_result("okay 1").is_none());
        assert!(parse_result("nothing").is_none());
        for (comment, directive) in [
            ("XFAIL known", Directive::Xfail),
            ("TIMEOUT 45 seconds", Directive::Timeout),
            ("Error: harness", Directive::Error),
            ("Skipped: nope", Directive::Skip),
        ] {
            assert_eq!(directive_of(comment), Some(directive), "{comment}");
        }
        assert_eq!(directive_of("rcode=0"), None);
    }

    #[test]
    fn status_mapping() {
        use Directive::*;
        assert_eq!(result_status(true, None), Status::Pass);
        assert_eq!(result_status(false, None), Status::Fail);
        assert_eq!(result_status(false, Some(Skip)), Status::Skip);
        assert_eq!(result_status(true, Some(Skip)), Status::Skip);
        assert_eq!(result_status(false, Some(Todo)), Status::Skip);
        assert_eq!(result_status(true, Some(Todo)), Status::Pass);
        assert_eq!(result_status(true, Some(Xfail)), Status::Pass);
        assert_eq!(result_status(false, Some(Timeout)), Status::Fail);
        assert_eq!(result_status(false, Some(Error)), Status::Error);
    }

    #[test]
    fn levels_peel_kselftest_prefixes_only_when_that_makes_sense() {
        let level = |s: &str| locate(s).map(|(l, _)| (l.hash, l.indent));
        assert_eq!(level("    ok 1 a"), Some((0, 4)));
        assert_eq!(level("# ok 1 a"), Some((1, 0)));
        assert_eq!(level("# # ok 1 a"), Some((2, 0)));
        assert_eq!(level("#   ok 1 a"), Some((1, 2)));
        assert_eq!(level("    # Subtest: x"), Some((0, 4)));
        assert_eq!(level("# # Subtest: x"), Some((1, 0)));
        assert_eq!(level("# selftests: a: b"), None);
        assert_eq!(level("# Totals: pass:4 fail:0"), None);
        assert_eq!(level("#ok 1"), None);
    }

    #[test]
    fn indented_subtests_with_headers() {
        let report = parse(
            "KTAP version 1\n1..2\n  KTAP version 1\n  # Subtest: suite_a\n  1..2\n  ok 1 case_1\n  not ok 2 case_2\nnot ok 1 suite_a\n  KTAP version 1\n  # Subtest: suite_b\n  1..1\n  ok 1 case_1 # SKIP nope\nok 2 suite_b\n",
        );
        assert_eq!(
            rows(&report),
            [
                "ktap/suite_a/case_1 PASS",
                "ktap/suite_a/case_2 FAIL",
                "ktap/suite_b/case_1 SKIP"
            ]
        );
        let doc = &report.documents[0];
        assert_eq!(doc.tests[0].status, Status::Fail);
        assert_eq!(doc.tests[1].status, Status::Pass);
        assert_eq!(doc.outcome, None);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    #[test]
    fn unindented_subtests_nest_by_version_lines() {
        let report = parse(
            "KTAP version 1\n1..2\nKTAP version 1\n# Subtest: a\n1..2\nok 1 x\nok 2 y\nok 1 a\nKTAP version 1\n# Subtest: b\nok 1 z\nok 2 b\n",
        );
        assert_eq!(
            rows(&report),
            ["ktap/a/x PASS", "ktap/a/y PASS", "ktap/b/z PASS"]
        );
        assert_eq!(report.documents[0].tests.len(), 2);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    #[test]
    fn tap14_subtest_header_at_the_parent_level() {
        let report = parse(
            "TAP version 14\n1..2\n# Subtest: foo.tap\n    1..2\n    ok 1\n    ok 2 - this passed\nok 1 - foo.tap\nok 2 - bar\n",
        );
        assert_eq!(
            rows(&report),
            [
                "ktap/foo.tap/#1 PASS",
                "ktap/foo.tap/this passed PASS",
                "ktap/bar PASS"
            ]
        );
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    #[test]
    fn missing_planned_tests_and_gaps_are_miss() {
        let report = parse("TAP version 13\n1..5\nok 1 a\nok 3 c\nok 4 d\n");
        assert_eq!(
            rows(&report),
            [
                "ktap/a PASS",
                "ktap/#2 MISS",
                "ktap/c PASS",
                "ktap/d PASS",
                "ktap/#5 MISS"
            ]
        );
        let doc = &report.documents[0];
        assert_eq!(doc.outcome.as_ref().map(|o| o.status), Some(Status::Miss));
        assert_eq!(doc.to_suite().status(), Status::Miss);
        assert_eq!(report.problems.list.len(), 1);
    }

    #[test]
    fn a_crash_cuts_the_open_tests() {
        let mut parser = KtapParser::new(KtapOptions::default());
        let lines = [
            "KTAP version 1",
            "1..3",
            "    KTAP version 1",
            "    # Subtest: s",
            "    1..3",
            "    ok 1 a",
            "    ok 2 b",
            "BUG: kernel NULL pointer dereference, address: 0000000000000000",
        ];
        for (i, line) in lines.iter().enumerate() {
            parser.line(i as u64 + 1, line);
        }
        parser.kernel_report(8, lines[7]);
        parser.interrupt(9, "Kernel panic - not syncing: Fatal exception");
        parser.line(10, "ok 3 c");
        let report = parser.finish(10);
        assert_eq!(
            rows(&report),
            [
                "ktap/s/a PASS",
                "ktap/s/b PASS",
                "ktap/s/#3 MISS",
                "ktap/#2 MISS",
                "ktap/#3 MISS"
            ]
        );
        let suite = &report.suites()[0];
        assert_eq!(
            suite.results[2].reason.as_deref(),
            Some("crashed: Kernel panic - not syncing: Fatal exception (line 9)")
        );
        assert_eq!(
            suite.results[3].reason.as_deref(),
            Some("not run: the kernel crashed at line 9")
        );
        assert_eq!(report.documents[0].tests[0].status, Status::Miss);
        assert_eq!(suite.status(), Status::Miss);
    }

    #[test]
    fn end_of_stream_names_the_last_kernel_report() {
        let mut parser = KtapParser::new(KtapOptions::default());
        parser.line(1, "TAP version 13");
        parser.line(2, "1..2");
        parser.line(3, "ok 1 a");
        parser.kernel_report(4, "watchdog: BUG: soft lockup - CPU#0 stuck for 22s!");
        let report = parser.finish(5);
        let suite = &report.suites()[0];
        assert_eq!(
            suite.results[1].reason.as_deref(),
            Some(
                "no result: the output ended at line 5, after `watchdog: BUG: soft lockup - CPU#0 stuck for 22s!` at line 4"
            )
        );
    }

    #[test]
    fn plans_skip_and_bail_out() {
        let skipped = parse("TAP version 13\n1..0 # SKIP not on this machine\n");
        let doc = &skipped.documents[0];
        assert_eq!(
            doc.outcome,
            Some(Outcome::new(
                Status::Skip,
                "SKIP not on this machine",
                Some(2)
            ))
        );
        assert_eq!(doc.to_suite().status(), Status::Skip);

        let bailed = parse("TAP version 13\n1..3\nok 1 a\nBail out! no database\nok 2 b\n");
        let suite = &bailed.suites()[0];
        assert_eq!(
            rows(&bailed),
            ["ktap/a PASS", "ktap/#2 MISS", "ktap/#3 MISS"]
        );
        assert_eq!(suite.status(), Status::Error);
        assert_eq!(
            suite.outcome.as_ref().map(|o| o.reason.as_str()),
            Some("Bail out! no database")
        );

        let trailing = parse("TAP version 13\nok 1 a\nnot ok 2 b # TODO later\n1..2\nok 3 after\n");
        assert_eq!(rows(&trailing), ["ktap/a PASS", "ktap/b SKIP"]);
        assert_eq!(trailing.documents[0].outcome, None);
    }

    #[test]
    fn console_prefixes_prompts_and_noise() {
        let report = parse(
            "[    0.100000] random noise\n[    0.200000] KTAP version 1\n[    0.200001] 1..2\n[    0.300000] Freeing initrd memory: 1072K\n[    0.300001]     KTAP version 1\n[    0.300002]     # Subtest: s\n[    0.300003]     1..1\n[    0.300004]     ok 1 t\n[    0.300005] ok 1 s\n[    0.400000] ok 2 last\nok 3 after the end\n",
        );
        assert_eq!(rows(&report), ["ktap/s/t PASS", "ktap/last PASS"]);
        let prompt = parse("ci-shell# TAP version 13\n1..1\nci-shell# ok 1 glued\n");
        assert_eq!(rows(&prompt), ["ktap/glued PASS"]);
        let nothing = parse("ok 1 not a document\n1..3\n");
        assert!(nothing.documents.is_empty());
        let files = loose("1..2\nok 1 a\nnot ok 2 b\n");
        assert_eq!(rows(&files), ["ktap/a PASS", "ktap/b FAIL"]);
    }

    #[test]
    fn yaml_blocks_belong_to_their_result() {
        let report =
            loose("1..2\nnot ok 1 a\n ---\n - ok 5 inside yaml\n  message: \"x\"\n ...\nok 2 b\n");
        assert_eq!(rows(&report), ["ktap/a FAIL", "ktap/b PASS"]);
        let a = &report.suites()[0].results[0];
        let excerpt = a.excerpt.as_ref().map(|e| (e.first_line, e.last_line));
        assert_eq!(excerpt, Some((1, 6)));
        assert!(
            a.excerpt
                .as_ref()
                .is_some_and(|e| e.text.contains("inside yaml"))
        );
    }

    #[test]
    fn later_documents_get_their_own_suite() {
        let report = parse("KTAP version 1\n1..1\nok 1 a\nTAP version 13\n1..1\nnot ok 1 b\n");
        assert_eq!(rows(&report), ["ktap/a PASS", "ktap-2/b FAIL"]);
    }

    #[test]
    fn a_parent_worse_than_its_children_is_kept() {
        let report = parse(
            "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..1\n    ok 1 a\nnot ok 1 s # exit failed\n",
        );
        assert_eq!(rows(&report), ["ktap/s/a PASS", "ktap/s FAIL"]);
    }
}

//! The result model every parser of this crate produces.

use std::fmt;

use gauntlet_verdict::Status;
use serde::{Deserialize, Serialize};

/// Where a result sits. Results are keyed by their whole path: the same case name under two
/// sets or two suites is normal (KTAP reuses `ok 1 …` at every level).
///
/// * LAVA: `suite` is the run (`0_kernel-smoke`, or `lava` for LAVA's own actions), `set` the
///   `lava-test-set` in force, `case` the `TEST_CASE_ID`.
/// * KTAP/TAP: `suite` is the document (named by the caller, `kunit` say), `set` the names of
///   the enclosing subtests joined by `/` (none for a top-level test), `case` the test's own
///   name (`#N` when it has none, or when it never printed a result line).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TestPath {
    pub suite: String,
    pub set: Option<String>,
    pub case: String,
}

impl TestPath {
    pub fn new(suite: impl Into<String>, set: Option<String>, case: impl Into<String>) -> Self {
        TestPath {
            suite: suite.into(),
            set,
            case: case.into(),
        }
    }
}

impl fmt::Display for TestPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.set {
            Some(set) => write!(f, "{}/{}/{}", self.suite, set, self.case),
            None => write!(f, "{}/{}", self.suite, self.case),
        }
    }
}

/// A number a test reported about itself (`lava-test-case … --measurement 42 --units ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub value: f64,
    pub units: Option<String>,
}

/// A slice of the stream a result comes from: its line range (1-based, inclusive) and the text
/// of those lines, cut to a bounded size (head and tail kept, see [`crate::LogCap`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excerpt {
    pub first_line: u64,
    pub last_line: u64,
    pub text: String,
    /// Bytes of the range that are not in `text`.
    pub dropped_bytes: u64,
}

/// Which reader produced a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// A `<LAVA_SIGNAL_…>` line printed by the helpers.
    LavaSignal,
    /// A match of a test definition's `parse: pattern`.
    LavaPattern,
    /// A KTAP or TAP result line (or a planned test that has none).
    Ktap,
    /// A `lvl: results` entry of a LAVA job log: LAVA's own view.
    LavaJob,
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub path: TestPath,
    pub status: Status,
    pub measurement: Option<Measurement>,
    /// Why: a directive and its text (`SKIP no hardware`), a diagnostic (`exit=1`), or what
    /// stopped it (`crashed: Kernel panic - not syncing: … (line 106)`).
    pub reason: Option<String>,
    pub excerpt: Option<Excerpt>,
    pub origin: Origin,
}

/// The status of a whole (a suite, a run, a boot) beside the statuses of its parts, with the
/// reason and the line that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    pub reason: String,
    pub line: Option<u64>,
}

impl Outcome {
    pub fn new(status: Status, reason: impl Into<String>, line: Option<u64>) -> Self {
        Outcome {
            status,
            reason: reason.into(),
            line,
        }
    }
}

/// Results grouped under one suite name, in the order they were reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    pub name: String,
    pub results: Vec<TestResult>,
    /// The suite's own status when it says more than its cases: a LAVA run that raised
    /// (`ERROR`) or never finished (`MISS`), a KTAP document that bailed out or was cut short.
    pub outcome: Option<Outcome>,
    /// Results beyond the limit a reader keeps (a flood of a million results), counted here
    /// and still weighed in [`Suite::status`], but not kept one by one.
    pub dropped: Counts,
}

impl Suite {
    pub fn new(name: impl Into<String>) -> Self {
        Suite {
            name: name.into(),
            results: Vec::new(),
            outcome: None,
            dropped: Counts::default(),
        }
    }

    /// Adds a result, or only counts it when the suite already keeps `limit` results.
    pub fn add(&mut self, result: TestResult, limit: usize) {
        if self.results.len() < limit {
            self.results.push(result);
        } else {
            self.dropped.add(result.status);
        }
    }

    /// The combination of the cases' statuses (kept or only counted) and the suite's own
    /// outcome ([`Status::summarize`]: the heaviest wins; `SKIP` when there is nothing).
    pub fn status(&self) -> Status {
        Status::summarize(
            self.results
                .iter()
                .map(|r| r.status)
                .chain(self.dropped.statuses())
                .chain(self.outcome.as_ref().map(|o| o.status)),
        )
    }

    /// Cases per status, kept or only counted.
    pub fn counts(&self) -> Counts {
        Counts::of(self.results.iter().map(|r| r.status)).merged(self.dropped)
    }
}

/// How many results have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub pass: u64,
    pub fail: u64,
    pub error: u64,
    pub skip: u64,
    pub miss: u64,
    pub done: u64,
}

impl Counts {
    pub fn of(statuses: impl IntoIterator<Item = Status>) -> Self {
        let mut counts = Counts::default();
        for status in statuses {
            counts.add(status);
        }
        counts
    }

    pub fn add(&mut self, status: Status) {
        let slot = match status {
            Status::Pass => &mut self.pass,
            Status::Fail => &mut self.fail,
            Status::Error => &mut self.error,
            Status::Skip => &mut self.skip,
            Status::Miss => &mut self.miss,
            Status::Done => &mut self.done,
        };
        *slot += 1;
    }

    pub fn get(&self, status: Status) -> u64 {
        match status {
            Status::Pass => self.pass,
            Status::Fail => self.fail,
            Status::Error => self.error,
            Status::Skip => self.skip,
            Status::Miss => self.miss,
            Status::Done => self.done,
        }
    }

    /// The statuses with a non-zero count.
    pub fn statuses(&self) -> impl Iterator<Item = Status> + '_ {
        Status::ALL.into_iter().filter(|&s| self.get(s) > 0)
    }

    pub fn total(&self) -> u64 {
        self.pass + self.fail + self.error + self.skip + self.miss + self.done
    }

    #[must_use]
    pub fn merged(self, other: Counts) -> Counts {
        Counts {
            pass: self.pass + other.pass,
            fail: self.fail + other.fail,
            error: self.error + other.error,
            skip: self.skip + other.skip,
            miss: self.miss + other.miss,
            done: self.done + other.done,
        }
    }
}

impl fmt::Display for Counts {
    /// `24 tests: 22 PASS, 2 SKIP` (statuses with a zero count are left out).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        write!(f, "{total} test{}", if total == 1 { "" } else { "s" })?;
        let mut sep = ": ";
        for status in Status::ALL {
            let n = self.get(status);
            if n > 0 {
                write!(f, "{sep}{n} {status}")?;
                sep = ", ";
            }
        }
        Ok(())
    }
}

/// Something odd in the input that did not stop the parse (a bad signal, a numbering gap…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub line: u64,
    pub message: String,
}

/// A bounded list of [`Problem`]s: a flood of bad lines cannot grow it without limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problems {
    pub list: Vec<Problem>,
    /// Problems beyond the limit, counted but not kept.
    pub dropped: u64,
}

impl Problems {
    /// At most this many problems are kept per parser.
    pub const LIMIT: usize = 100;

    pub fn push(&mut self, line: u64, message: impl Into<String>) {
        if self.list.len() < Self::LIMIT {
            let message = message.into();
            tracing::debug!(line, %message, "results: problem in the input");
            self.list.push(Problem { line, message });
        } else {
            self.dropped += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.dropped == 0
    }

    pub fn extend(&mut self, other: Problems) {
        for problem in other.list {
            self.push(problem.line, problem.message);
        }
        self.dropped += other.dropped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(status: Status) -> TestResult {
        TestResult {
            path: TestPath::new("s", None, "c"),
            status,
            measurement: None,
            reason: None,
            excerpt: None,
            origin: Origin::Ktap,
        }
    }

    #[test]
    fn a_suite_is_the_combination_of_its_cases_and_its_outcome() {
        let mut suite = Suite::new("s");
        assert_eq!(suite.status(), Status::Skip);
        suite.results.push(result(Status::Pass));
        suite.results.push(result(Status::Skip));
        assert_eq!(suite.status(), Status::Pass);
        suite.outcome = Some(Outcome::new(Status::Miss, "no ENDRUN", Some(3)));
        assert_eq!(suite.status(), Status::Miss);
        suite.results.push(result(Status::Fail));
        assert_eq!(suite.status(), Status::Fail);
        assert_eq!(
            suite.counts().to_string(),
            "3 tests: 1 PASS, 1 FAIL, 1 SKIP"
        );
    }

    #[test]
    fn paths_print_with_and_without_a_set() {
        assert_eq!(TestPath::new("a", None, "c").to_string(), "a/c");
        assert_eq!(
            TestPath::new("a", Some("b".into()), "c").to_string(),
            "a/b/c"
        );
    }

    #[test]
    fn counts_merge_and_problems_are_bounded() {
        let a = Counts::of([Status::Pass, Status::Pass, Status::Miss]);
        let b = Counts::of([Status::Pass, Status::Fail]);
        let m = a.merged(b);
        assert_eq!((m.pass, m.fail, m.miss, m.total()), (3, 1, 1, 5));
        let mut problems = Problems::default();
        for i in 0..1000 {
            problems.push(i, "x");
        }
        assert_eq!(problems.list.len(), Problems::LIMIT);
        assert_eq!(problems.dropped, 900);
    }
}

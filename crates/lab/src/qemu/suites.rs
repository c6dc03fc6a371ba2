//! From one boot's console to one [`SuiteRun`] per suite (and one for the boot itself).
//!
//! While the console streams, the [`Tracker`] follows the protocol's lines (which suite runs,
//! from which line to which, with which exit status, whether it timed out) and applies each
//! definition's `parse:` pattern to the lines of its own suite only. Afterwards,
//! [`attribute`] hands every result to the suite whose lines hold it:
//!
//! * LAVA signals: the run of the same name (`STARTRUN 0_smoke` … `ENDRUN`);
//! * KTAP documents: the suite whose lines hold the document's first line, named by the
//!   document's own top-level `# Subtest:` title, else `ktap` (`kunit` at boot), `-2`, `-3`…
//!   when a suite prints several;
//! * kernel reports (panic, BUG, oops, WARNING…): the suite running when they came, as a FAIL
//!   result carrying the report's excerpt; before any suite, the boot's.
//!
//! Statuses: see [`attribute`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_results::{
    ConsoleEvent, Counts, End, KtapDocument, LavaPattern, Origin, PatternMatch, PatternOutcome,
    Suite, TestPath, TestResult, strip_console_prefix, visible,
};
use gauntlet_verdict::{Severity, Status};
use memchr::memmem;

use super::boot::{BootOutcome, LineObserver};
use super::guest::SUITE_MARKER;
use crate::SuiteRun;

/// A suite's lines and end, as the protocol said.
#[derive(Debug, Clone, Default)]
pub(crate) struct Track {
    pub(crate) start: Option<(u64, Duration)>,
    pub(crate) end: Option<(u64, Duration, i32)>,
    pub(crate) timed_out: Option<u64>,
    pattern: Option<LavaPattern>,
    matches: Vec<(u64, PatternMatch, String)>,
    dropped: Counts,
}

/// Pattern results kept per suite (more are counted).
const MAX_MATCHES: usize = 100_000;

/// Follows the protocol on the console (a [`LineObserver`]).
#[derive(Debug)]
pub(crate) struct Tracker {
    pub(crate) tracks: Vec<Track>,
    current: Option<usize>,
    finder: memmem::Finder<'static>,
}

impl Tracker {
    /// One track per guest suite, with its definition's pattern if any.
    pub(crate) fn new(patterns: Vec<Option<LavaPattern>>) -> Tracker {
        Tracker {
            tracks: patterns
                .into_iter()
                .map(|pattern| Track {
                    pattern,
                    ..Track::default()
                })
                .collect(),
            current: None,
            finder: memmem::Finder::new(SUITE_MARKER.as_bytes()).into_owned(),
        }
    }

    fn marker(&mut self, number: u64, raw: &[u8], at_index: usize, at: Duration) {
        let text = visible(raw);
        let message = strip_console_prefix(&text);
        if message.starts_with("+ ") {
            return;
        }
        let Some(rest) = raw.get(at_index + SUITE_MARKER.len()..) else {
            return;
        };
        let rest = String::from_utf8_lossy(rest);
        let mut words = rest.split_whitespace();
        let Some(index) = words.next().and_then(|w| w.parse::<usize>().ok()) else {
            return;
        };
        let Some(track) = self.tracks.get_mut(index) else {
            return;
        };
        match words.next() {
            Some("START") if track.start.is_none() => {
                track.start = Some((number, at));
                self.current = Some(index);
            }
            Some("TIMEOUT") => {
                track.timed_out.get_or_insert(number);
            }
            Some("END") => {
                let rc = words
                    .next()
                    .and_then(|w| w.strip_prefix("rc="))
                    .and_then(|n| n.parse::<i32>().ok())
                    .unwrap_or(-1);
                if track.start.is_some() && track.end.is_none() {
                    track.end = Some((number, at, rc));
                    if self.current == Some(index) {
                        self.current = None;
                    }
                }
            }
            _ => {}
        }
    }
}

impl LineObserver for Tracker {
    fn line(&mut self, number: u64, raw: &[u8], at: Duration) {
        if let Some(i) = self.finder.find(raw) {
            self.marker(number, raw, i, at);
            return;
        }
        let Some(current) = self.current else { return };
        let Some(track) = self.tracks.get_mut(current) else {
            return;
        };
        let Some(pattern) = track.pattern.as_mut() else {
            return;
        };
        let text = visible(raw);
        if let Some(PatternOutcome::Result(found, _)) = pattern.apply(&text) {
            if track.matches.len() < MAX_MATCHES {
                track.matches.push((number, found, text.into_owned()));
            } else {
                track.dropped.add(found.status);
            }
        }
    }
}

/// A suite of the project, as planned before the boot.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    /// `SuiteRun::suite`: the definition's name, the atomic job's name.
    pub(crate) name: String,
    /// Its LAVA run name, `<index>_<name>`.
    pub(crate) run_name: String,
    pub(crate) test_file: PathBuf,
    pub(crate) timeout: Duration,
    /// Decided on the host without booting (a prepare that failed, a definition that is not
    /// valid shell, a job that does not expand).
    pub(crate) decided: Option<SuiteRun>,
    /// Its position in the guest's list (`None` when decided).
    pub(crate) guest: Option<usize>,
}

/// What the suites' statuses are made of.
pub(crate) struct Boot<'a> {
    pub(crate) outcome: &'a BootOutcome,
    pub(crate) tracker: Tracker,
    pub(crate) kernel: &'a Path,
    /// The console's setting: a WARNING fails.
    pub(crate) warnings_fail: bool,
}

/// One [`SuiteRun`] for the boot (first), then one per planned suite, in order.
///
/// * **boot** (`test_file`: the kernel image): its results are the KTAP documents the kernel
///   printed before any suite (KUnit at boot) and the kernel reports of that time. Its status is
///   the console's verdict when the machine never got to a suite (panic → FAIL, no `Linux
///   version` → ERROR, silence or timeout without a report → ERROR, a flood → FAIL…), else
///   PASS, unless its own results say otherwise.
/// * **a suite that ran to its end**: a kernel report while it ran → FAIL with the report;
///   killed at its timeout → FAIL; `lava-test-raise` → ERROR; it reported nothing → FAIL; its
///   steps stopped with a non-zero status → FAIL; a failed result → FAIL; else the combination of
///   its results (PASS).
/// * **a suite running when the machine stopped**: a kernel report → FAIL with the report; a
///   flood → FAIL; otherwise (silence, the deadline) what its results say, the unfinished run
///   being MISS, with the reason of the stop (nothing proves the patch did it).
/// * **a suite that never started**: MISS, with why the machine stopped before it.
pub(crate) fn attribute(planned: &[Planned], boot: Boot<'_>) -> Vec<SuiteRun> {
    let Boot {
        outcome,
        tracker,
        kernel,
        warnings_fail,
    } = boot;
    let report = &outcome.report;
    let tracks = tracker.tracks;
    // Line ranges of the suites that started: [start, end] (end: the last line when open).
    let last_line = report.lines.max(1);
    let ranges: Vec<Option<(u64, u64)>> = tracks
        .iter()
        .map(|t| {
            t.start
                .map(|(s, _)| (s, t.end.map_or(last_line, |(e, _, _)| e)))
        })
        .collect();
    let owner = |line: u64| -> Option<usize> {
        ranges
            .iter()
            .position(|r| r.is_some_and(|(s, e)| s <= line && line <= e))
    };
    let mut docs: Vec<Vec<&KtapDocument>> = vec![Vec::new(); tracks.len()];
    let mut boot_docs: Vec<&KtapDocument> = Vec::new();
    for doc in &report.ktap.documents {
        match owner(doc.first_line) {
            Some(i) => docs[i].push(doc),
            None => boot_docs.push(doc),
        }
    }
    let mut events: Vec<Vec<&ConsoleEvent>> = vec![Vec::new(); tracks.len()];
    let mut boot_events: Vec<&ConsoleEvent> = Vec::new();
    for event in &report.console.events {
        match owner(event.line) {
            Some(i) => events[i].push(event),
            None => boot_events.push(event),
        }
    }
    let run_names: Vec<&str> = planned.iter().map(|p| p.run_name.as_str()).collect();
    let boot_lava: Vec<&Suite> = report
        .lava
        .iter()
        .filter(|s| !run_names.contains(&s.name.as_str()))
        .collect();
    let capped = (outcome.log_dropped_bytes > 0).then(|| {
        format!(
            " (console log capped: {} of {} bytes dropped)",
            outcome.log_dropped_bytes, outcome.output_bytes
        )
    });

    let mut runs = Vec::with_capacity(planned.len() + 1);
    let any_started = tracks.iter().any(|t| t.start.is_some());
    runs.push(boot_run(BootPart {
        outcome,
        kernel,
        any_started,
        docs: &boot_docs,
        events: &boot_events,
        lava: &boot_lava,
        warnings_fail,
        capped: capped.as_deref(),
    }));
    // Why suites that never started did not: the first started suite left open, else the boot.
    let stopped_during = planned.iter().find_map(|p| {
        let g = p.guest?;
        let t = tracks.get(g)?;
        (t.start.is_some() && t.end.is_none()).then_some(p.name.as_str())
    });
    let why_not_run = match stopped_during {
        Some(name) => format!(
            "did not run: the machine stopped during suite {name} ({})",
            outcome.reason()
        ),
        None => format!("did not run: {}", outcome.reason()),
    };
    for p in planned {
        if let Some(decided) = &p.decided {
            runs.push(decided.clone());
            continue;
        }
        let Some(g) = p.guest else { continue };
        let Some(track) = tracks.get(g) else { continue };
        let lava = report.lava.iter().find(|s| s.name == p.run_name);
        runs.push(suite_run(SuitePart {
            planned: p,
            track,
            outcome,
            docs: &docs[g],
            events: &events[g],
            lava,
            warnings_fail,
            why_not_run: &why_not_run,
            capped: capped.as_deref(),
        }));
    }
    runs
}

struct BootPart<'a> {
    outcome: &'a BootOutcome,
    kernel: &'a Path,
    any_started: bool,
    docs: &'a [&'a KtapDocument],
    events: &'a [&'a ConsoleEvent],
    lava: &'a [&'a Suite],
    warnings_fail: bool,
    capped: Option<&'a str>,
}

fn boot_run(part: BootPart<'_>) -> SuiteRun {
    let outcome = part.outcome;
    let mut results = Vec::new();
    let mut dropped = Counts::default();
    for suite in part.lava {
        results.extend(suite.results.iter().cloned());
        dropped = dropped.merged(suite.dropped);
    }
    dropped = dropped.merged(push_documents(&mut results, part.docs, "kunit"));
    push_events(&mut results, part.events, "boot", part.warnings_fail);
    let counts = Counts::of(results.iter().map(|r| r.status)).merged(dropped);
    let console = &outcome.report.console;
    let (mut status, mut reason) = if part.any_started {
        let at = outcome
            .timings
            .userspace
            .map(|t| format!(" in {:.2}s", t.as_secs_f64()))
            .unwrap_or_default();
        let line = console
            .userspace
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        (Status::Pass, format!("booted to userspace{at}{line}"))
    } else {
        (outcome.status(), outcome.reason())
    };
    if let Some(first) = part
        .events
        .iter()
        .find(|e| {
            e.severity == Severity::Error || (part.warnings_fail && e.severity == Severity::Warning)
        })
        .filter(|_| part.any_started)
    {
        status = Status::Fail;
        reason = report_reason(first, "during the boot");
    }
    let parts = Status::summarize(results.iter().map(|r| r.status).chain(dropped.statuses()));
    if !results.is_empty() || dropped.total() > 0 {
        status = status.combine(parts);
    }
    if part.any_started && parts == Status::Fail && !reason.contains("kernel") {
        reason = format!(
            "{reason}; {} of {} boot tests failed",
            counts.fail,
            counts.total()
        );
    }
    if let Some(capped) = part.capped {
        reason.push_str(capped);
    }
    let duration = outcome.timings.userspace.unwrap_or(outcome.timings.total);
    SuiteRun {
        suite: "boot".to_owned(),
        test_file: part.kernel.to_path_buf(),
        status,
        reason,
        results,
        counts,
        log: outcome.log.clone(),
        duration_ms: duration.as_millis(),
    }
}

struct SuitePart<'a> {
    planned: &'a Planned,
    track: &'a Track,
    outcome: &'a BootOutcome,
    docs: &'a [&'a KtapDocument],
    events: &'a [&'a ConsoleEvent],
    lava: Option<&'a Suite>,
    warnings_fail: bool,
    why_not_run: &'a str,
    capped: Option<&'a str>,
}

fn suite_run(part: SuitePart<'_>) -> SuiteRun {
    let p = part.planned;
    let track = part.track;
    let outcome = part.outcome;
    let done =
        |status, reason: String, results: Vec<TestResult>, counts: Counts, ms: u128| SuiteRun {
            suite: p.name.clone(),
            test_file: p.test_file.clone(),
            status,
            reason,
            results,
            counts,
            log: outcome.log.clone(),
            duration_ms: ms,
        };
    let Some((_, started)) = track.start else {
        return done(
            Status::Miss,
            part.why_not_run.to_owned(),
            Vec::new(),
            Counts::default(),
            0,
        );
    };
    let mut results: Vec<TestResult> = Vec::new();
    let mut dropped = track.dropped;
    let mut raised = None;
    if let Some(lava) = part.lava {
        results.extend(lava.results.iter().cloned());
        dropped = dropped.merged(lava.dropped);
        raised = lava.outcome.clone();
    }
    for (line, found, text) in &track.matches {
        results.push(TestResult {
            path: TestPath::new(p.run_name.clone(), None, found.test_case_id.clone()),
            status: found.status,
            measurement: found.measurement.clone(),
            reason: None,
            excerpt: Some(gauntlet_results::Excerpt {
                first_line: *line,
                last_line: *line,
                text: format!("{text}\n"),
                dropped_bytes: 0,
            }),
            origin: Origin::LavaPattern,
        });
    }
    dropped = dropped.merged(push_documents(&mut results, part.docs, "ktap"));
    push_events(&mut results, part.events, &p.run_name, part.warnings_fail);
    let counts = Counts::of(results.iter().map(|r| r.status)).merged(dropped);
    let statuses = Status::summarize(results.iter().map(|r| r.status).chain(dropped.statuses()));
    let failed = counts.fail;
    let total = counts.total();
    let ended_at = track.end.map_or(outcome.timings.total, |(_, at, _)| at);
    let ms = ended_at.saturating_sub(started).as_millis();
    let report = part.events.iter().find(|e| {
        e.severity == Severity::Error || (part.warnings_fail && e.severity == Severity::Warning)
    });
    let (status, mut reason) = if let Some(event) = report {
        (Status::Fail, report_reason(event, "while it ran"))
    } else if let Some((_, _, rc)) = track.end {
        if track.timed_out.is_some() {
            (
                Status::Fail,
                format!(
                    "killed at its timeout ({}s) after {total} result(s)",
                    p.timeout.as_secs()
                ),
            )
        } else if let Some(raised) = raised.filter(|o| o.status == Status::Error) {
            (Status::Error, raised.reason)
        } else if total == 0 {
            (
                Status::Fail,
                if rc == 0 {
                    "the tests reported no result".to_owned()
                } else {
                    format!("the steps stopped (rc={rc}) before reporting any result")
                },
            )
        } else if rc != 0 {
            (
                Status::Fail,
                format!("the steps stopped (rc={rc}) after {total} result(s), {failed} failed"),
            )
        } else if failed > 0 || statuses == Status::Fail {
            (Status::Fail, format!("{failed} of {total} failed"))
        } else {
            (
                statuses.combine(Status::Pass),
                format!("{} of {total} passed", counts.pass),
            )
        }
    } else if outcome.flooded {
        (
            Status::Fail,
            format!(
                "it flooded the console: QEMU was killed after {} bytes of output",
                outcome.output_bytes
            ),
        )
    } else {
        let why = match outcome.end {
            End::Silence => "the machine went silent while it ran",
            End::Timeout => "the lab's deadline passed while it ran",
            _ => "the machine stopped while it ran",
        };
        (
            statuses.combine(Status::Miss),
            format!("{why}, after {total} result(s): {}", outcome.reason()),
        )
    };
    if let Some(capped) = part.capped {
        reason.push_str(capped);
    }
    done(status, reason, results, counts, ms)
}

fn report_reason(event: &ConsoleEvent, when: &str) -> String {
    format!(
        "{} at line {} {when}: {}",
        event.kind.as_str(),
        event.line,
        event.text
    )
}

/// Adds the results of `docs`, renamed by their titles (`fallback` without one); returns the
/// counts of results the parser only counted.
fn push_documents(results: &mut Vec<TestResult>, docs: &[&KtapDocument], fallback: &str) -> Counts {
    let mut used: Vec<String> = Vec::new();
    let mut dropped = Counts::default();
    for doc in docs {
        let base = doc
            .title
            .as_deref()
            .map(|t| {
                t.chars()
                    .map(|c| {
                        if c.is_whitespace() || c == '/' {
                            '_'
                        } else {
                            c
                        }
                    })
                    .collect::<String>()
            })
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| fallback.to_owned());
        let mut label = base.clone();
        let mut n = 1;
        while used.contains(&label) {
            n += 1;
            label = format!("{base}-{n}");
        }
        used.push(label.clone());
        let suite = doc.to_suite();
        dropped = dropped.merged(suite.dropped);
        let empty = suite.results.is_empty();
        for mut result in suite.results {
            result.path.suite = label.clone();
            results.push(result);
        }
        // A document that bailed out, or that has no result at all (`1..0 # SKIP`), says so
        // with its own outcome; one cut short already has its missing tests as MISS.
        if let Some(outcome) = &suite.outcome
            && (empty || outcome.status == Status::Error)
        {
            results.push(TestResult {
                path: TestPath::new(label.clone(), None, "document".to_owned()),
                status: outcome.status,
                measurement: None,
                reason: Some(outcome.reason.clone()),
                excerpt: None,
                origin: Origin::Ktap,
            });
        }
    }
    dropped
}

/// The kernel's reports that fail the boot as results (FAIL, with the report's excerpt); a
/// WARNING is one only when warnings fail.
fn push_events(
    results: &mut Vec<TestResult>,
    events: &[&ConsoleEvent],
    suite: &str,
    warnings_fail: bool,
) {
    for event in events {
        if event.severity == Severity::Warning && !warnings_fail {
            continue;
        }
        results.push(TestResult {
            path: TestPath::new(
                suite.to_owned(),
                None,
                event.kind.as_str().replace(' ', "-"),
            ),
            status: Status::Fail,
            measurement: None,
            reason: Some(format!("line {}: {}", event.line, event.text)),
            excerpt: Some(event.excerpt.clone()),
            origin: Origin::LavaJob,
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::qemu::boot::Timings;
    use crate::qemu::machine::Accel;
    use gauntlet_results::{StreamConfig, StreamParser};

    /// Feeds `console` to a parser and a tracker as a boot would, and attributes.
    fn attribute_console(
        console: &str,
        planned: &[Planned],
        patterns: Vec<Option<LavaPattern>>,
        end: End,
    ) -> Vec<SuiteRun> {
        let mut config = StreamConfig::kernel_console();
        config.lava.default_suite = "boot".to_owned();
        let mut parser = StreamParser::new(config);
        let mut tracker = Tracker::new(patterns);
        for (i, line) in console.lines().enumerate() {
            tracker.line(
                i as u64 + 1,
                line.as_bytes(),
                Duration::from_millis(i as u64),
            );
            parser.feed_line(line.as_bytes());
        }
        let report = parser.finish(end);
        let outcome = BootOutcome {
            report,
            end,
            accel: Accel::Tcg,
            command: Vec::new(),
            log: PathBuf::from("console.log"),
            output_bytes: console.len() as u64,
            log_dropped_bytes: 0,
            flooded: false,
            timings: Timings::default(),
            termination: "cancelled".to_owned(),
        };
        attribute(
            planned,
            Boot {
                outcome: &outcome,
                tracker,
                kernel: Path::new("bzImage"),
                warnings_fail: true,
            },
        )
    }

    fn planned(names: &[&str]) -> Vec<Planned> {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| Planned {
                name: (*name).to_owned(),
                run_name: format!("{i}_{name}"),
                test_file: PathBuf::from(format!("{name}.yaml")),
                timeout: Duration::from_secs(60),
                decided: None,
                guest: Some(i),
            })
            .collect()
    }

    fn rows(run: &SuiteRun) -> Vec<String> {
        run.results
            .iter()
            .map(|r| format!("{} {}", r.path, r.status))
            .collect()
    }

    const CRASH: &str = "\
Linux version 6.1.0
KTAP version 1
1..1
ok 1 boot_test
GAUNTLET-BOOT-OK
GAUNTLET-SUITE 0 START
<LAVA_SIGNAL_STARTRUN 0_first gauntlet-0>
<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=a RESULT=pass>
RESULT b FAIL
<LAVA_SIGNAL_ENDRUN 0_first gauntlet-0>
GAUNTLET-SUITE 0 END rc=0
GAUNTLET-SUITE 1 START
<LAVA_SIGNAL_STARTRUN 1_second gauntlet-1>
RESULT c PASS
KTAP version 1
1..3
ok 1 x
Kernel panic - not syncing: sysrq triggered crash
";

    #[test]
    fn results_go_to_the_suite_whose_lines_hold_them() {
        let pattern = LavaPattern::new(
            r"^RESULT (?P<test_case_id>\w+) (?P<result>PASS|FAIL)$",
            [("PASS", "pass"), ("FAIL", "fail")],
        )
        .unwrap();
        let runs = attribute_console(
            CRASH,
            &planned(&["first", "second", "third"]),
            vec![Some(pattern), None, None],
            End::Stopped,
        );
        let summary: Vec<String> = runs
            .iter()
            .map(|r| format!("{} {}", r.suite, r.status))
            .collect();
        assert_eq!(
            summary,
            ["boot PASS", "first FAIL", "second FAIL", "third MISS"]
        );
        assert_eq!(rows(&runs[0]), ["kunit/boot_test PASS"]);
        // The pattern of the first suite only reads the first suite's lines.
        assert_eq!(rows(&runs[1]), ["0_first/a PASS", "0_first/b FAIL"]);
        assert_eq!(runs[1].reason, "1 of 2 failed");
        assert_eq!(
            rows(&runs[2]),
            [
                "ktap/x PASS",
                "ktap/#2 MISS",
                "ktap/#3 MISS",
                "1_second/kernel-panic FAIL"
            ]
        );
        assert!(
            runs[2]
                .reason
                .starts_with("kernel panic at line 18 while it ran"),
            "{}",
            runs[2].reason
        );
        assert!(
            runs[3].reason.contains("during suite second"),
            "{}",
            runs[3].reason
        );
    }

    #[test]
    fn a_boot_that_never_reaches_a_suite_is_the_boots_verdict() {
        let runs = attribute_console(
            "Linux version 6.1.0\nKernel panic - not syncing: VFS: Unable to mount root fs\n",
            &planned(&["only"]),
            vec![None],
            End::Eof,
        );
        assert_eq!(runs[0].status, Status::Fail);
        assert!(
            runs[0].reason.starts_with("kernel panic"),
            "{}",
            runs[0].reason
        );
        assert_eq!(rows(&runs[0]), ["boot/kernel-panic FAIL"]);
        assert_eq!(runs[1].status, Status::Miss);
        let silent = attribute_console("SeaBIOS\n", &planned(&["only"]), vec![None], End::Silence);
        assert_eq!(silent[0].status, Status::Error);
        assert_eq!(silent[1].status, Status::Miss);
    }

    #[test]
    fn an_unfinished_suite_at_a_silence_is_what_its_results_say() {
        let console = "Linux version 6.1.0\nGAUNTLET-BOOT-OK\nGAUNTLET-SUITE 0 START\n<LAVA_SIGNAL_STARTRUN 0_hang gauntlet-0>\n<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=a RESULT=pass>\n";
        let runs = attribute_console(console, &planned(&["hang"]), vec![None], End::Silence);
        assert_eq!(runs[0].status, Status::Pass);
        assert_eq!(runs[1].status, Status::Miss, "{}", runs[1].reason);
        assert!(
            runs[1]
                .reason
                .starts_with("the machine went silent while it ran, after 1 result(s)"),
            "{}",
            runs[1].reason
        );
        let timed_out = "Linux version 6.1.0\nGAUNTLET-BOOT-OK\nGAUNTLET-SUITE 0 START\nGAUNTLET-SUITE 0 TIMEOUT\nGAUNTLET-SUITE 0 END rc=137\nGAUNTLET-DONE rc=1\n";
        let runs = attribute_console(timed_out, &planned(&["slow"]), vec![None], End::Stopped);
        assert_eq!(runs[1].status, Status::Fail);
        assert_eq!(
            runs[1].reason,
            "killed at its timeout (60s) after 0 result(s)"
        );
        // A fake marker for a suite that does not exist changes nothing.
        let fake = "Linux version 6.1.0\nGAUNTLET-BOOT-OK\nGAUNTLET-SUITE 7 START\n+ echo GAUNTLET-SUITE 0 START\nGAUNTLET-DONE rc=0\n";
        let runs = attribute_console(fake, &planned(&["never"]), vec![None], End::Stopped);
        assert_eq!(runs[1].status, Status::Miss);
    }
}

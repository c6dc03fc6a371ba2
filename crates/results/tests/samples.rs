//! The real captures in `../shared/reference/lava-samples/` (outside the repository, never
//! copied in): KUnit boots complete and cut by a panic, LAVA's TAP and JUnit exports, and LAVA
//! job logs. Each test says SKIPPED and passes when the directory is absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use gauntlet_results::{
    Action, Counts, End, JobLogReport, KtapOptions, LavaPattern, Origin, StopReason, StreamConfig,
    StreamParser, StreamReport, Suite, parse_stream, read_job_log,
};
use gauntlet_verdict::Status;

fn samples() -> Option<PathBuf> {
    let dir = std::env::var_os("GAUNTLET_LAVA_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/lava-samples")
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (../shared lives outside the repository; GAUNTLET_LAVA_SAMPLES can point elsewhere)",
            dir.display()
        );
        None
    }
}

/// The console of the captured KUnit boots: their init prints `BOOT-OK` and `TEST-DONE rc=N`.
fn kunit_config() -> StreamConfig {
    let mut config = StreamConfig::kernel_console();
    config.console.userspace_marker = Some("BOOT-OK".into());
    config.console.done_marker = Some("TEST-DONE".into());
    config.ktap = KtapOptions {
        name: "kunit".into(),
        ..KtapOptions::default()
    };
    config
}

fn stream(bytes: &[u8], config: StreamConfig, chunk: usize) -> StreamReport {
    let mut parser = StreamParser::new(config);
    for piece in bytes.chunks(chunk) {
        parser.feed(piece);
    }
    parser.finish(End::Eof)
}

fn paths(suite: &Suite) -> Vec<String> {
    suite.results.iter().map(|r| r.path.to_string()).collect()
}

fn counts(pass: u64, fail: u64, skip: u64, miss: u64) -> Counts {
    Counts {
        pass,
        fail,
        skip,
        miss,
        ..Counts::default()
    }
}

#[test]
fn kunit_full_log_agrees_with_kunit_py() {
    let Some(dir) = samples() else { return };
    let bytes = fs::read(dir.join("kunit_full.log")).unwrap();
    let report = stream(&bytes, kunit_config(), 1 << 16);
    // `kunit.py parse`: "Ran 24 tests: passed: 22, skipped: 2".
    assert_eq!(report.ktap.counts(), counts(22, 0, 2, 0));
    assert_eq!(
        report.ktap.documents.len(),
        1,
        "the trailing `ok 1 - …` is not KTAP"
    );
    let suite = &report.ktap.suites()[0];
    assert_eq!(suite.status(), Status::Pass);
    assert_eq!(suite.outcome, None);
    assert!(
        report.ktap.problems.is_empty(),
        "{:?}",
        report.ktap.problems
    );
    let unique: BTreeSet<_> = paths(suite).into_iter().collect();
    assert_eq!(unique.len(), 24);
    assert!(unique.contains("kunit/kunit-resource-test/kunit_resource_test_named"));
    let skipped: Vec<_> = suite
        .results
        .iter()
        .filter(|r| r.status == Status::Skip)
        .map(|r| (r.path.case.as_str(), r.reason.as_deref()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "example_skip_test",
                Some("SKIP this test should be skipped")
            ),
            (
                "example_mark_skipped_test",
                Some("SKIP this test should be skipped")
            )
        ]
    );
    // The kernel line glued after SeaBIOS's escapes, the markers, the done status.
    assert_eq!(report.console.kernel_started, Some(8));
    assert_eq!(report.console.userspace, Some(163));
    assert_eq!(
        report.console.done.map(|d| (d.line, d.rc)),
        Some((167, Some(0)))
    );
    assert_eq!(report.console.outcome.status, Status::Pass);
    assert!(report.console.events.is_empty());
    assert_eq!(report.status(), Status::Pass);
    assert_eq!((report.lines, report.bytes), (171, bytes.len() as u64));
    assert!(report.log.is_complete());
    assert_eq!(report.log.text().as_bytes(), &bytes[..]);
    // The same bytes fed one at a time give the same results.
    let bytewise = stream(&bytes, kunit_config(), 1);
    assert_eq!(bytewise.ktap, report.ktap);
    assert_eq!(bytewise.console, report.console);
}

#[test]
fn kunit_log_cut_by_a_panic_agrees_with_kunit_py() {
    let Some(dir) = samples() else { return };
    let bytes = fs::read(dir.join("kunit_trunc.log")).unwrap();
    let mut parser = StreamParser::new(kunit_config());
    let mut first_stop = None;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if let Action::Stop(reason) = parser.feed(line)
            && first_stop.is_none()
        {
            first_stop = Some((parser.lines(), reason));
        }
    }
    assert_eq!(first_stop, Some((106, StopReason::Fatal { line: 106 })));
    let report = parser.finish(End::Eof);
    // `kunit.py parse`: "Ran 18 tests: passed: 9, crashed: 9".
    assert_eq!(report.ktap.counts(), counts(9, 0, 0, 9));
    let suite = &report.ktap.suites()[0];
    let missing: Vec<_> = suite
        .results
        .iter()
        .filter(|r| r.status == Status::Miss)
        .map(|r| r.path.to_string())
        .collect();
    assert_eq!(
        missing,
        [
            "kunit/kunit-resource-test/#4",
            "kunit/kunit-resource-test/#5",
            "kunit/kunit-resource-test/#6",
            "kunit/kunit-resource-test/#7",
            "kunit/kunit-resource-test/#8",
            "kunit/#4",
            "kunit/#5",
            "kunit/#6",
            "kunit/#7"
        ]
    );
    let crashed = suite
        .results
        .iter()
        .find(|r| r.status == Status::Miss)
        .unwrap();
    assert_eq!(
        crashed.reason.as_deref(),
        Some("crashed: Kernel panic - not syncing: Fatal exception (line 106)")
    );
    let excerpt = crashed.excerpt.as_ref().unwrap();
    assert_eq!((excerpt.first_line, excerpt.last_line), (106, 106));
    assert!(excerpt.text.contains("Kernel panic"));
    // Everything before the panic is kept, and agrees with the complete boot.
    let full = stream(
        &fs::read(dir.join("kunit_full.log")).unwrap(),
        kunit_config(),
        1 << 16,
    );
    let passed: Vec<_> = suite
        .results
        .iter()
        .filter(|r| r.status == Status::Pass)
        .map(|r| r.path.to_string())
        .collect();
    let full_paths = paths(&full.ktap.suites()[0]);
    assert_eq!(passed, full_paths[..9]);
    assert_eq!(suite.status(), Status::Miss);
    // The console blames the kernel; the whole is a failure.
    assert_eq!(report.console.outcome.status, Status::Fail);
    assert_eq!(report.console.events.len(), 1);
    let panic = &report.console.events[0];
    assert_eq!(panic.line, 106);
    assert_eq!(panic.excerpt.first_line, 86, "20 lines of context");
    assert!(
        panic
            .excerpt
            .text
            .contains("kunit_resource_test_destroy_resource")
    );
    assert_eq!(report.status(), Status::Fail);
}

/// Test names and statuses of a LAVA JUnit export, read with plain string search.
fn junit(text: &str) -> Vec<(String, Status)> {
    text.split("<testcase ")
        .skip(1)
        .map(|case| {
            let name = case
                .split("name=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap()
                .to_owned();
            let open_end = case.find('>').unwrap();
            let status = if case[..open_end].ends_with('/') {
                Status::Pass
            } else {
                let body = &case[..case.find("</testcase>").unwrap()];
                if body.contains("<failure") {
                    Status::Fail
                } else if body.contains("<skipped") {
                    Status::Skip
                } else {
                    Status::Pass
                }
            };
            (name, status)
        })
        .collect()
}

#[test]
fn lava_tap_exports_agree_with_lava_junit_exports() {
    let Some(dir) = samples() else { return };
    for (tap, xml, expected) in [
        ("job1.tap13", "job1.junit", counts(9, 0, 0, 0)),
        ("job4.tap", "job4.junit.xml", counts(14, 2, 1, 0)),
    ] {
        let report = parse_stream(
            fs::File::open(dir.join(tap)).unwrap(),
            StreamConfig::host_process(),
            End::Eof,
        )
        .unwrap();
        assert_eq!(report.ktap.counts(), expected, "{tap}");
        assert!(
            report.ktap.problems.is_empty(),
            "{tap}: {:?}",
            report.ktap.problems
        );
        let ours: Vec<_> = report.ktap.suites()[0]
            .results
            .iter()
            .map(|r| (r.path.case.clone(), r.status))
            .collect();
        let theirs = junit(&fs::read_to_string(dir.join(xml)).unwrap());
        assert_eq!(ours, theirs, "{tap} vs {xml}");
    }
    // job4's failing case carries its YAML block.
    let report = parse_stream(
        fs::File::open(dir.join("job4.tap")).unwrap(),
        StreamConfig::host_process(),
        End::Eof,
    )
    .unwrap();
    let must_fail = &report.ktap.suites()[0].results[14];
    assert_eq!(must_fail.path.case, "must-fail");
    let excerpt = must_fail.excerpt.as_ref().unwrap();
    assert_eq!((excerpt.first_line, excerpt.last_line), (18, 21));
    assert!(
        excerpt
            .text
            .contains("Received signal: <STARTTC> must-fail")
    );
}

fn job_log(dir: &Path, name: &str, config: StreamConfig) -> JobLogReport {
    read_job_log(fs::File::open(dir.join(name)).unwrap(), config).unwrap()
}

fn lava_console() -> StreamConfig {
    let mut config = StreamConfig::kernel_console();
    config.console.userspace_marker = Some("BOOT-OK".into());
    config.console.done_marker = None;
    config
}

fn suite<'a>(suites: &'a [Suite], name: &str) -> &'a Suite {
    suites.iter().find(|s| s.name == name).unwrap()
}

/// (set, case, status, measurement) of each result.
fn cases(suite: &Suite) -> Vec<(Option<String>, String, Status, Option<f64>)> {
    suite
        .results
        .iter()
        .map(|r| {
            (
                r.path.set.clone(),
                r.path.case.clone(),
                r.status,
                r.measurement.as_ref().map(|m| m.value),
            )
        })
        .collect()
}

/// LAVA's `starttc`/`endtc` for a case, read from the raw log text.
fn lava_tc(log: &str, case: &str) -> (u64, u64) {
    let entry = log
        .lines()
        .find(|l| l.contains(r#""lvl": "results""#) && l.contains(&format!(r#""case": "{case}""#)))
        .unwrap();
    let number = |key: &str| -> u64 {
        let rest = &entry[entry.find(&format!(r#""{key}": ! ""#)).unwrap() + key.len() + 7..];
        rest[..rest.find('"').unwrap()].parse().unwrap()
    };
    (number("starttc"), number("endtc"))
}

#[test]
fn job_logs_signals_agree_with_lavas_own_results() {
    let Some(dir) = samples() else { return };
    for (name, finished) in [("job4.log.yaml", false), ("job8.log.yaml", true)] {
        let report = job_log(&dir, name, lava_console());
        assert!(report.problems.is_empty(), "{name}: {:?}", report.problems);
        let ours = suite(&report.console.lava, "0_kernel-smoke");
        let theirs = suite(&report.lava, "0_kernel-smoke");
        assert_eq!(cases(ours), cases(theirs), "{name}");
        assert!(ours.results.iter().all(|r| r.origin == Origin::LavaSignal));
        assert!(theirs.results.iter().all(|r| r.origin == Origin::LavaJob));
        assert_eq!(
            ours.results[3]
                .measurement
                .as_ref()
                .and_then(|m| m.units.as_deref()),
            Some("ms")
        );
        // Our excerpts, mapped back to job log lines, are where LAVA put `starttc`/`endtc` or
        // a little before: LAVA notes the log's position when its dispatcher gets to the
        // signal, at or after the line that printed it (11 lines later at worst here).
        let log = fs::read_to_string(dir.join(name)).unwrap();
        for result in &ours.results {
            let excerpt = result.excerpt.as_ref().unwrap();
            let ours_range = (
                report.log_line(excerpt.first_line).unwrap(),
                report.log_line(excerpt.last_line).unwrap(),
            );
            let lava_range = lava_tc(&log, &result.path.case);
            let near = |o: u64, l: u64| o <= l && l - o <= 16;
            assert!(
                near(ours_range.0, lava_range.0) && near(ours_range.1, lava_range.1),
                "{name} {}: {ours_range:?} vs LAVA's {lava_range:?}",
                result.path
            );
        }
        let uname = &ours.results[0];
        assert!(
            uname
                .excerpt
                .as_ref()
                .unwrap()
                .text
                .contains("Linux (none) 6.1.0-56-amd64")
        );
        // job4's run.sh died of a syntax error before ENDRUN: the run did not finish, and
        // LAVA says the same in its infrastructure suite, as an error.
        let lava = suite(&report.lava, "lava");
        let definition = lava
            .results
            .iter()
            .find(|r| r.path.case == "0_kernel-smoke")
            .unwrap();
        if finished {
            assert_eq!(ours.outcome, None, "{name}");
            assert_eq!(definition.status, Status::Pass, "{name}");
            assert_eq!(lava.status(), Status::Pass);
        } else {
            let outcome = ours.outcome.as_ref().unwrap();
            assert_eq!(outcome.status, Status::Miss);
            assert!(outcome.reason.contains("no ENDRUN"), "{}", outcome.reason);
            assert_eq!(definition.status, Status::Error, "{name}");
            assert_eq!(lava.status(), Status::Error);
            assert!(
                report
                    .messages
                    .iter()
                    .any(|m| m.message == "Marking unfinished test run as failed")
            );
        }
        assert_eq!(ours.status(), Status::Fail, "must-fail fails");
        assert!(report.console.console.kernel_started.is_some());
        assert_eq!(report.console.console.events.len(), 0);
    }
}

#[test]
fn job_log_patterns_match_per_line_where_lava_did_not() {
    let Some(dir) = samples() else { return };
    // job8's definition: LAVA found none of its three lines (§2.3: `\r?\n` misses `\r\r\n`).
    let pattern = LavaPattern::new(
        r"^(?P<result>ok|not ok) \d+ (?P<test_case_id>[^\s#]+)[^\r\n]*\r?\n",
        [("not ok", "fail"), ("ok", "pass")],
    )
    .unwrap();
    let mut config = lava_console();
    config.patterns = vec![pattern];
    let report = job_log(&dir, "job8.log.yaml", config);
    let ours = suite(&report.console.lava, "0_kernel-smoke");
    let matched: Vec<_> = ours
        .results
        .iter()
        .filter(|r| r.origin == Origin::LavaPattern)
        .map(|r| (r.path.case.as_str(), r.status))
        .collect();
    assert_eq!(
        matched,
        [
            ("ktap_case_a", Status::Pass),
            ("ktap_case_b", Status::Fail),
            ("ktap_case_c", Status::Pass)
        ]
    );
    let theirs = suite(&report.lava, "0_kernel-smoke");
    assert!(
        theirs
            .results
            .iter()
            .all(|r| !r.path.case.starts_with("ktap_"))
    );
}

#[test]
fn job_log_ktap_and_infrastructure_failures() {
    let Some(dir) = samples() else { return };
    // job1: the kernel's init prints KTAP; LAVA's monitor took the SKIP for a pass.
    let report = job_log(&dir, "job1.log.yaml", lava_console());
    assert_eq!(report.console.ktap.counts(), counts(2, 0, 1, 0));
    let theirs = suite(&report.lava, "ktap-smoke");
    assert_eq!(theirs.counts(), counts(3, 0, 0, 0));
    assert_eq!(suite(&report.lava, "lava").status(), Status::Pass);

    // job3: the login timed out; every failure in LAVA's own suite is an ERROR, not a FAIL.
    let report = job_log(&dir, "job3.log.yaml", lava_console());
    let lava = suite(&report.lava, "lava");
    let failed: Vec<_> = lava
        .results
        .iter()
        .filter(|r| r.status != Status::Pass)
        .map(|r| {
            (
                r.path.case.as_str(),
                r.status,
                r.reason.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            (
                "auto-login-action",
                Status::Error,
                "LAVA: auto-login-action timed out after 180 seconds"
            ),
            (
                "boot-image-retry",
                Status::Error,
                "LAVA: auto-login-action timed out after 180 seconds"
            ),
            (
                "job",
                Status::Error,
                "LAVA Job error: auto-login-action timed out after 180 seconds"
            ),
        ]
    );
    assert_eq!(lava.status(), Status::Error);
    assert!(!lava.results.iter().any(|r| r.status == Status::Fail));
    assert_eq!(report.messages.len(), 4);
    assert_eq!(report.console.lines, 15);
}

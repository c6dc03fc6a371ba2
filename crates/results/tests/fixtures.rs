//! Realistic outputs written for these tests: the kselftest runner, KUnit with parameters and
//! failures, a kselftest run cut by a panic, a console with timestamps and escapes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gauntlet_results::{
    End, KtapOptions, StreamConfig, StreamParser, StreamReport, parse_ktap_text,
};
use gauntlet_verdict::Status;

/// `path STATUS (reason)` for every result.
fn rows(report: &StreamReport) -> Vec<String> {
    report
        .suites()
        .iter()
        .flat_map(|s| s.results.iter())
        .map(|r| match &r.reason {
            Some(reason) => format!("{} {} ({reason})", r.path, r.status),
            None => format!("{} {}", r.path, r.status),
        })
        .collect()
}

fn console(text: &str, name: &str) -> StreamReport {
    let mut config = StreamConfig::kernel_console();
    config.ktap.name = name.to_owned();
    let mut parser = StreamParser::new(config);
    parser.feed(text.as_bytes());
    parser.finish(End::Eof)
}

/// What `run_kselftest.sh` prints (tools/testing/selftests/kselftest/runner.sh): a top-level
/// TAP 13 document, a `# selftests: dir: test` header per test, each test's own output prefixed
/// with `# `, and the runner's verdicts (`# SKIP` for exit 4, `# TIMEOUT`, `# exit=N`).
const KSELFTEST: &str = "\
TAP version 13
1..5
# selftests: timers: posix_timers
# TAP version 13
# 1..4
# ok 1 Passed check_itimer virtual
# ok 2 Passed check_itimer prof
[   31.402113] random: crng init done
# ok 3 Passed check_itimer real
# ok 4 Passed check_timer_create thread
# # Totals: pass:4 fail:0 xfail:0 xpass:0 skip:0 error:0
ok 1 selftests: timers: posix_timers
# selftests: timers: rtcpie
# timeout set to 45
# Periodic IRQ rate is 1Hz.
# Counting 20 interrupts at:
not ok 2 selftests: timers: rtcpie # TIMEOUT 45 seconds
# selftests: timers: set-timer-lat
# Not running as root, skipping
ok 3 selftests: timers: set-timer-lat # SKIP
# selftests: net: reuseport_bpf
# TAP version 13
# 1..4
# ok 1 # SKIP requires CAP_NET_ADMIN
# ok 2 # XFAIL known broken on this arch
# not ok 3 ipv6 reuse
# # ipv6 reuse: expected 4 got 3
# not ok 4 ipv4 reuse # TODO flaky since 6.1
# # Totals: pass:0 fail:1 xfail:1 xpass:0 skip:1 error:0
not ok 4 selftests: net: reuseport_bpf # exit=1
# selftests: kvm: kvm_create_max_vcpus
# TAP version 13
# 1..0 # SKIP /dev/kvm not available
ok 5 selftests: kvm: kvm_create_max_vcpus # SKIP
";

#[test]
fn kselftest_runner_output() {
    let report = console(KSELFTEST, "kselftest");
    assert_eq!(
        rows(&report),
        [
            "kselftest/selftests: timers: posix_timers/Passed check_itimer virtual PASS",
            "kselftest/selftests: timers: posix_timers/Passed check_itimer prof PASS",
            "kselftest/selftests: timers: posix_timers/Passed check_itimer real PASS",
            "kselftest/selftests: timers: posix_timers/Passed check_timer_create thread PASS",
            "kselftest/selftests: timers: rtcpie FAIL (TIMEOUT 45 seconds)",
            "kselftest/selftests: timers: set-timer-lat SKIP (SKIP)",
            "kselftest/selftests: net: reuseport_bpf/#1 SKIP (SKIP requires CAP_NET_ADMIN)",
            "kselftest/selftests: net: reuseport_bpf/#2 PASS (XFAIL known broken on this arch)",
            "kselftest/selftests: net: reuseport_bpf/ipv6 reuse FAIL",
            "kselftest/selftests: net: reuseport_bpf/ipv4 reuse SKIP (TODO flaky since 6.1)",
            "kselftest/selftests: kvm: kvm_create_max_vcpus SKIP (SKIP)",
        ]
    );
    let doc = &report.ktap.documents[0];
    assert_eq!(doc.tests.len(), 5);
    assert_eq!(doc.tests[3].status, Status::Fail);
    assert_eq!(doc.tests[3].reason.as_deref(), Some("exit=1"));
    assert_eq!(doc.outcome, None);
    assert!(
        report.ktap.problems.is_empty(),
        "{:?}",
        report.ktap.problems
    );
    // The failing subtest's excerpt holds the diagnostic printed before its result line.
    let suite = &report.ktap.suites()[0];
    let ipv6 = suite
        .results
        .iter()
        .find(|r| r.path.case == "ipv6 reuse")
        .unwrap();
    let excerpt = ipv6.excerpt.as_ref().unwrap();
    assert!(
        excerpt.text.contains("# not ok 3 ipv6 reuse"),
        "{excerpt:?}"
    );
    assert_eq!(
        report.ktap.counts().to_string(),
        "11 tests: 5 PASS, 2 FAIL, 4 SKIP"
    );
}

#[test]
fn kselftest_cut_by_a_panic() {
    let cut = KSELFTEST.lines().take(24).collect::<Vec<_>>().join("\n");
    let text = format!(
        "{cut}\n[   40.1] BUG: unable to handle page fault for address: ffffffffffffffff\n[   40.1] Oops: 0000 [#1] PREEMPT SMP\n[   40.1] Call Trace:\n[   40.1] ---[ end trace 0000000000000000 ]---\n[   40.1] Kernel panic - not syncing: Fatal exception in interrupt\n"
    );
    let report = console(&text, "kselftest");
    let rows = rows(&report);
    assert_eq!(
        rows[6..],
        [
            "kselftest/selftests: net: reuseport_bpf/#1 SKIP (SKIP requires CAP_NET_ADMIN)",
            "kselftest/selftests: net: reuseport_bpf/#2 MISS (crashed: Kernel panic - not syncing: Fatal exception in interrupt (line 29))",
            "kselftest/selftests: net: reuseport_bpf/#3 MISS (not run: the kernel crashed at line 29)",
            "kselftest/selftests: net: reuseport_bpf/#4 MISS (not run: the kernel crashed at line 29)",
            "kselftest/#5 MISS (not run: the kernel crashed at line 29)",
        ]
    );
    assert_eq!(
        report.console.events.len(),
        2,
        "the BUG (with its oops and trace) and the panic"
    );
    assert_eq!(report.console.outcome.status, Status::Fail);
    let crashed = &report.ktap.suites()[0].results[7];
    let excerpt = crashed.excerpt.as_ref().unwrap();
    assert_eq!((excerpt.first_line, excerpt.last_line), (25, 29));
    assert!(excerpt.text.contains("BUG: unable to handle page fault"));
}

#[test]
fn kunit_parameters_failures_and_attributes() {
    let text = "\
[    0.912000] KTAP version 1
[    0.912001] 1..2
[    0.912002]     KTAP version 1
[    0.912003]     # Subtest: example
[    0.912004]     # module: kunit_example_test
[    0.912005]     1..3
[    0.912006]     ok 1 example_simple_test
[    0.912007]         KTAP version 1
[    0.912008]         # Subtest: example_params_test
[    0.912009]         ok 1 example value 3 # SKIP unsupported param value 3
[    0.912010]         ok 2 example value 2
[    0.912011]         ok 3 example value 1
[    0.912012]     ok 2 example_params_test
[    0.912013]     # example_fail: EXPECTATION FAILED at lib/kunit/kunit-example-test.c:30
[    0.912014]     Expected 1 + 1 == 3, but
[    0.912015]         1 + 1 == 2 (0x2)
[    0.912016]     not ok 3 example_fail
[    0.912017] # example: pass:2 fail:1 skip:0 total:3
[    0.912018] # Totals: pass:3 fail:1 skip:1 total:5
[    0.912019] not ok 1 example
[    0.912020]     KTAP version 1
[    0.912021]     # Subtest: init_fails
[    0.912022]     1..2
[    0.912023] # init_fails: initialization failed
[    0.912024] not ok 2 init_fails
";
    let report = console(text, "kunit");
    assert_eq!(
        rows(&report),
        [
            "kunit/example/example_simple_test PASS",
            "kunit/example/example_params_test/example value 3 SKIP (SKIP unsupported param value 3)",
            "kunit/example/example_params_test/example value 2 PASS",
            "kunit/example/example_params_test/example value 1 PASS",
            "kunit/example/example_fail FAIL",
            "kunit/init_fails/#1 MISS (planned, but no result line before its parent's (line 25))",
            "kunit/init_fails/#2 MISS (planned, but no result line before its parent's (line 25))",
            "kunit/init_fails FAIL",
        ]
    );
    let fail = &report.ktap.suites()[0].results[4];
    let excerpt = fail.excerpt.as_ref().unwrap();
    assert_eq!((excerpt.first_line, excerpt.last_line), (14, 17));
    assert!(excerpt.text.contains("Expected 1 + 1 == 3"));
    // Counts of the tests without subtests (as `kunit.py` counts), and of the suite's results
    // (which also keep the failed suite `init_fails` itself).
    assert_eq!(
        report.ktap.counts().to_string(),
        "7 tests: 3 PASS, 1 FAIL, 1 SKIP, 2 MISS"
    );
    assert_eq!(
        report.ktap.suites()[0].counts().to_string(),
        "8 tests: 3 PASS, 2 FAIL, 1 SKIP, 2 MISS"
    );
}

#[test]
fn a_console_with_escapes_and_carriage_returns() {
    let text = "\x1bc\x1b[?7l\x1b[2JSeaBIOS\r\r\nBooting from ROM..\x1bc\x1b[2JLinux version 6.1.0\r\r\n[    1.0] \x1b[0;32mKTAP version 1\x1b[0m\r\r\n[    1.0] 1..2\r\r\n[    1.1] ok 1 first\r\n[    1.2] progress 50%\rnot ok 2 second # exit=3\r\r\n";
    let report = console(text, "ktap");
    assert_eq!(
        rows(&report),
        ["ktap/first PASS", "ktap/second FAIL (exit=3)"]
    );
    assert_eq!(report.console.kernel_started, Some(2));
}

#[test]
fn directives_are_case_insensitive_and_diagnostics_are_kept() {
    let report = parse_ktap_text(
        "TAP version 14\n1..6\nok 1 - a # skip lower\nnot ok 2 - b # Todo later\nok 3 c # xfail\nnot ok 4 d # timeout 300 seconds\nnot ok 5 e # ERROR harness\nok 6 f # rcode=0\n",
        KtapOptions::default(),
    );
    let got: Vec<_> = report.suites()[0]
        .results
        .iter()
        .map(|r| {
            (
                r.path.case.clone(),
                r.status,
                r.reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    let expected = [
        ("a", Status::Skip, "skip lower"),
        ("b", Status::Skip, "Todo later"),
        ("c", Status::Pass, "xfail"),
        ("d", Status::Fail, "timeout 300 seconds"),
        ("e", Status::Error, "ERROR harness"),
        ("f", Status::Pass, "rcode=0"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(n, s, r)| (n.to_string(), *s, r.to_string()))
        .collect();
    assert_eq!(got, expected);
}

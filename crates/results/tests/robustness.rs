//! Bad and huge input: no panic, bounded memory (what is kept is capped and the rest counted),
//! bounded time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gauntlet_results::{
    End, KtapOptions, LogCap, StreamConfig, StreamParser, StreamReport, parse_ktap_text,
    read_job_log,
};
use gauntlet_verdict::Status;

/// Generous (the tests also run unoptimised, on a shared machine): the point is to catch
/// quadratic behaviour, which on these sizes would take hours.
const TIME: Duration = Duration::from_secs(if cfg!(debug_assertions) { 300 } else { 60 });

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 56) as u8).collect()
    }
}

fn small_config() -> StreamConfig {
    StreamConfig {
        log_head: 64 << 10,
        log_tail: 64 << 10,
        ..StreamConfig::kernel_console()
    }
}

fn feed_all(config: StreamConfig, data: &[u8], chunk: usize) -> StreamReport {
    let mut parser = StreamParser::new(config);
    for piece in data.chunks(chunk) {
        parser.feed(piece);
    }
    parser.finish(End::Eof)
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let elapsed = start.elapsed();
    eprintln!("{what}: {elapsed:?}");
    assert!(elapsed < TIME, "{what} took {elapsed:?}");
    out
}

#[test]
fn binary_junk() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut data = rng.bytes(8 << 20);
    // Sprinkle fragments of every syntax in the junk.
    for (i, piece) in [
        &b"\nKTAP version 1\n"[..],
        b"\n1..99999999999999999999999\n",
        b"\nok 18446744073709551615 x\n",
        b"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=\xff RESULT=\xfe>",
        b"\n    # Subtest: \xc3\n",
        b"\nKernel panic - not syncing\n",
        b"\x1b[",
        b"\n---\n",
    ]
    .iter()
    .enumerate()
    {
        let at = i * (1 << 20) + 1000;
        data[at..at + piece.len()].copy_from_slice(piece);
    }
    let report = timed("8 MB of junk", || feed_all(small_config(), &data, 4093));
    assert_eq!(report.bytes, data.len() as u64);
    assert!(report.log.head.len() + report.log.tail.len() <= 128 << 10);
    assert_eq!(report.log.total_bytes, data.len() as u64);
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    assert!(report.lines == newlines || report.lines == newlines + 1);
}

#[test]
fn a_50_mb_line() {
    let mut data = b"KTAP version 1\n1..1\nok 1 ".to_vec();
    data.resize(data.len() + (50 << 20), b'x');
    data.extend_from_slice(b"\nnot ok 2 after # exit=1\n");
    let report = timed("a 50 MB line", || feed_all(small_config(), &data, 1 << 20));
    assert_eq!(report.lines, 4);
    assert!(
        report
            .problems
            .list
            .iter()
            .any(|p| p.line == 3 && p.message.contains("longer than"))
    );
    let suite = &report.ktap.suites()[0];
    assert_eq!(suite.results.len(), 1);
    assert_eq!(suite.results[0].status, Status::Pass);
    assert!(suite.results[0].path.case.len() <= 1000);
    assert!(report.log.head.len() + report.log.tail.len() <= 128 << 10);
    assert_eq!(
        report.log.dropped_bytes,
        data.len() as u64 - (report.log.head.len() + report.log.tail.len()) as u64
    );
}

#[test]
fn a_million_results_are_counted_exactly_and_kept_up_to_the_limit() {
    let mut text = String::from("[    0.1] KTAP version 1\n[    0.1] 1..1000000\n");
    for i in 1..=1_000_000u32 {
        let verdict = if i % 1000 == 0 { "not ok" } else { "ok" };
        text.push_str(&format!("[    0.2] {verdict} {i} case_{i}\n"));
    }
    let report = timed("1,000,000 KTAP results", || {
        feed_all(small_config(), text.as_bytes(), 1 << 16)
    });
    assert_eq!(report.lines, 1_000_002);
    let suite = &report.ktap.suites()[0];
    assert_eq!(suite.results.len(), 100_000, "the default limit");
    let counts = suite.counts();
    assert_eq!(
        (counts.pass, counts.fail, counts.total()),
        (999_000, 1000, 1_000_000)
    );
    assert_eq!(suite.status(), Status::Fail);
    assert_eq!(report.ktap.counts(), counts);
}

#[test]
fn a_million_signals() {
    let mut text = String::new();
    for i in 0..1_000_000u32 {
        let result = if i == 999_999 { "fail" } else { "pass" };
        text.push_str(&format!(
            "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=t{i} RESULT={result}>\n"
        ));
    }
    let report = timed("1,000,000 signals", || {
        feed_all(StreamConfig::host_process(), text.as_bytes(), 1 << 16)
    });
    let suite = &report.lava[0];
    assert_eq!(suite.results.len(), 100_000);
    assert_eq!(suite.counts().total(), 1_000_000);
    assert_eq!(
        suite.status(),
        Status::Fail,
        "the dropped failure still counts"
    );
}

#[test]
fn invalid_utf8_everywhere() {
    let data = b"KTAP version 1\n1..2\nok 1 caf\xe9 \xff\xfe\n<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=n\xc3\x28 RESULT=pass>\nnot ok 2 \xed\xa0\x80surrogate\n";
    let report = feed_all(StreamConfig::host_process(), data, 7);
    let names: Vec<_> = report
        .suites()
        .iter()
        .flat_map(|s| s.results.iter())
        .map(|r| (r.path.case.clone(), r.status))
        .collect();
    assert_eq!(
        names,
        [
            ("n\u{fffd}(".to_owned(), Status::Pass),
            ("caf\u{fffd} \u{fffd}\u{fffd}".to_owned(), Status::Pass),
            ("\u{fffd}\u{fffd}\u{fffd}surrogate".to_owned(), Status::Fail),
        ]
    );
    let log = read_job_log(
        &b"- {\"lvl\": \"target\", \"msg\": \"\xff\xfe\"}\n\xff\xff\n"[..],
        StreamConfig::kernel_console(),
    )
    .unwrap();
    assert_eq!(log.entries, 1);
    assert_eq!(log.problems.list.len(), 1);
}

/// A document nested `depth` levels by indentation, with one test at the bottom.
fn nested(depth: usize) -> String {
    let mut text = String::new();
    for level in 0..depth {
        let pad = " ".repeat(level * 2);
        text.push_str(&format!(
            "{pad}KTAP version 1\n{pad}# Subtest: level{level}\n{pad}1..1\n"
        ));
    }
    text.push_str(&format!("{}ok 1 bottom\n", " ".repeat((depth - 1) * 2)));
    for level in (1..depth).rev() {
        let pad = " ".repeat((level - 1) * 2);
        text.push_str(&format!("{pad}ok 1 level{level}\n"));
    }
    text
}

#[test]
fn a_thousand_levels_of_nesting() {
    let report = timed("1,000 levels", || {
        parse_ktap_text(&nested(1000), KtapOptions::default())
    });
    let suite = &report.suites()[0];
    assert_eq!(suite.results.len(), 1);
    let bottom = &suite.results[0];
    assert_eq!(bottom.path.case, "bottom");
    assert_eq!(bottom.status, Status::Pass);
    assert_eq!(
        bottom.path.set.as_deref().map(|s| s.split('/').count()),
        Some(999)
    );
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.documents[0].outcome, None);
}

#[test]
fn nesting_beyond_the_limit_is_read_as_plain_lines() {
    // 200,000 unindented version lines with plans: each opens a subtest of the previous one.
    let text = "KTAP version 1\n1..1\n".repeat(200_000) + "ok 1 deep\n";
    let report = timed("200,000 nested version lines", || {
        parse_ktap_text(&text, KtapOptions::default())
    });
    assert!(
        report
            .problems
            .list
            .iter()
            .any(|p| p.message.contains("nesting deeper than 1024"))
    );
    let counts = report.counts();
    assert_eq!(counts.pass, 1);
    // Deeply nested results are dropped with their stack, iteratively enough not to overflow.
    drop(report);
}

#[test]
fn numbering_gaps_and_absurd_plans_stay_bounded() {
    let gap = timed("a gap to 10^12", || {
        parse_ktap_text(
            "TAP version 13\nok 1 a\nok 1000000000000 b\n1..1000000000000\n",
            KtapOptions::default(),
        )
    });
    let suite = &gap.suites()[0];
    assert!(suite.results.len() <= 10_002);
    assert_eq!(suite.counts().total(), 1_000_000_000_000);
    assert_eq!(suite.counts().miss, 999_999_999_998);
    assert_eq!(suite.status(), Status::Miss);

    let plan = timed("1..1000000 with one result", || {
        parse_ktap_text(
            "KTAP version 1\n1..1000000\nok 1 only\n",
            KtapOptions::default(),
        )
    });
    let suite = &plan.suites()[0];
    assert_eq!(suite.results.len(), 10_001);
    let counts = suite.counts();
    assert_eq!(
        (counts.pass, counts.miss, counts.total()),
        (1, 999_999, 1_000_000)
    );

    let huge = parse_ktap_text(
        "KTAP version 1\n1..99999999999999999999999999\nok 18446744073709551615 max\n",
        KtapOptions::default(),
    );
    assert_eq!(huge.suites()[0].status(), Status::Miss);
}

#[test]
fn the_log_cap_keeps_exact_line_numbers_under_a_flood() {
    let mut cap = LogCap::new(1 << 16, 1 << 16);
    let mut expected_total = 0u64;
    let mut line = 0u64;
    let mut chunk = Vec::with_capacity(1 << 20);
    let start = Instant::now();
    while expected_total < 64 << 20 {
        chunk.clear();
        while chunk.len() < 1 << 20 {
            line += 1;
            chunk.extend_from_slice(format!("[{line:>12}] flood line {line}\n").as_bytes());
        }
        expected_total += chunk.len() as u64;
        cap.push(&chunk);
    }
    let log = cap.finish();
    eprintln!("64 MB through the cap: {:?}", start.elapsed());
    assert_eq!(log.total_bytes, expected_total);
    assert_eq!(log.total_lines, line);
    assert!(log.head.len() + log.tail.len() <= 2 << 16);
    for (number, text) in log.lines() {
        assert!(
            text.ends_with(format!(" flood line {number}").as_bytes()),
            "{number}"
        );
    }
    let (_, last) = log.lines().last().unwrap();
    assert!(last.ends_with(format!(" {line}").as_bytes()));
}

#[test]
fn chunking_never_changes_the_result() {
    let text = "Linux version 6.1\n[ 0.1] KTAP version 1\r\r\n[ 0.1] 1..3\r\n    KTAP version 1\n    # Subtest: s\n    1..1\n    ok 1 a\nok 1 s\n<LAVA_SIGNAL_STARTTC x>\nhello\n<LAVA_SIGNAL_ENDTC x>\n<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=x RESULT=fail>\nnot ok 2 b # TIMEOUT 45 seconds\nWARNING: CPU: 0 PID: 1 at x.c:1\nCall Trace:\n---[ end trace ]---\n";
    let whole = feed_all(StreamConfig::kernel_console(), text.as_bytes(), usize::MAX);
    let mut rng = Rng(42);
    for _ in 0..200 {
        let mut parser = StreamParser::new(StreamConfig::kernel_console());
        let mut rest = text.as_bytes();
        while !rest.is_empty() {
            let n = (rng.next() % 9 + 1) as usize;
            let n = n.min(rest.len());
            parser.feed(&rest[..n]);
            rest = &rest[n..];
        }
        let report = parser.finish(End::Eof);
        assert_eq!(report, whole);
    }
}

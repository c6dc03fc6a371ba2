//! Hostile and broken input: every check finishes in bounded time and says what it saw.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write;
use std::time::{Duration, Instant};

use common::{Patch, Posting, linux_tree, types};
use gauntlet_checks::{Context, Registry, Target};
use gauntlet_verdict::Status;

const ME: &str = "Jane Developer <jane@example.org>";

/// Generous for a debug build on a loaded 2-core machine; a release build is far faster.
const BOUND: Duration = Duration::from_secs(30);

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = f();
    let elapsed = started.elapsed();
    eprintln!("{what}: {elapsed:?}");
    assert!(elapsed < BOUND, "{what} took {elapsed:?}");
    value
}

fn context() -> Context {
    match linux_tree("bad input against the kernel tree") {
        Some(tree) if common::have_perl() => Context::with_tree(tree),
        _ => Context::new(),
    }
}

#[test]
fn a_mail_without_a_diff() {
    let p = Patch::new(
        ME,
        "kernel/sys: thoughts about the locking",
        "I wonder whether the lock in do_sys_thing() is needed at all.\n\nSigned-off-by: Jane Developer <jane@example.org>\n",
        "",
    );
    let posting = Posting::of(&[p]);
    let report = timed("no diff", || {
        posting.check_with(&Registry::builtin().defaults(), &context())
    });
    let at = Target::Patch { index: 0 };
    let ds = report.result("diff-sanity", &at).unwrap();
    assert_eq!(ds.status, Status::Fail);
    assert!(
        ds.summary.contains("the mail has no diff: 6 lines of text"),
        "{}",
        ds.summary
    );
    for check in ["whitespace", "signed-off-by", "commit-message", "fixes-tag"] {
        let r = report.result(check, &at).unwrap();
        assert_eq!(r.status, Status::Skip, "{check}: {}", r.summary);
        assert!(r.summary.contains("no diff"), "{check}: {}", r.summary);
    }
}

#[test]
fn a_fifty_megabyte_diff() {
    let mut diff = String::with_capacity(52 << 20);
    let lines = 1_100_000;
    write!(
        diff,
        "diff --git a/drivers/huge.c b/drivers/huge.c\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/drivers/huge.c\n@@ -0,0 +1,{lines} @@\n"
    )
    .unwrap();
    for i in 0..lines {
        // Every thousandth line has trailing whitespace.
        let tail = if i % 1000 == 0 { " " } else { "" };
        writeln!(diff, "+static const int table_{i:07} = {i:012};{tail}").unwrap();
    }
    assert!(diff.len() > 50 << 20);
    let mut p = Patch::good(ME);
    p.diff = diff;
    let posting = timed("parse 50 MB", || Posting::of(&[p]));
    let report = timed("check 50 MB", || {
        posting.check_with(&Registry::builtin().defaults(), &context())
    });
    let at = Target::Patch { index: 0 };
    let ds = report.result("diff-sanity", &at).unwrap();
    assert_eq!(ds.status, Status::Fail);
    assert_eq!(types(&report, "diff-sanity", 0), vec!["too-big"]);
    assert!(
        ds.findings[0]
            .message
            .contains("MiB, more than the 10.0 MiB allowed"),
        "{}",
        ds.findings[0].message
    );
    let ws = report.result("whitespace", &at).unwrap();
    assert_eq!(ws.errors, 1100, "{}", ws.summary);
    assert!(ws.findings.len() <= gauntlet_checks::MAX_FINDINGS + 1);
    let cp = report.result("checkpatch", &at).unwrap();
    assert_eq!(cp.status, Status::Skip, "{}", cp.summary);
    if context().tree.is_some() {
        let kinds = common::series_types(&report, "maintainers");
        assert!(kinds.contains(&"headers-only".to_string()), "{kinds:?}");
    }
}

#[test]
fn ten_thousand_files() {
    let mut diff = String::new();
    for i in 0..10_000 {
        write!(
            diff,
            "diff --git a/drivers/gen/f{i}.c b/drivers/gen/f{i}.c\nindex 1111111..2222222 100644\n--- a/drivers/gen/f{i}.c\n+++ b/drivers/gen/f{i}.c\n@@ -1 +1 @@\n-int a;\n+int b;\n"
        )
        .unwrap();
    }
    let mut p = Patch::good(ME);
    p.diff = diff;
    let posting = Posting::of(&[p]);
    let report = timed("10,000 files", || {
        posting.check_with(&Registry::builtin().defaults(), &context())
    });
    let at = Target::Patch { index: 0 };
    assert_eq!(types(&report, "diff-sanity", 0), vec!["too-many-files"]);
    let ds = report.result("diff-sanity", &at).unwrap();
    assert!(
        ds.summary
            .contains("10000 files, more than the 1000 allowed"),
        "{}",
        ds.summary
    );
    let m = report.result("maintainers", &Target::Series).unwrap();
    assert_eq!(m.status, Status::Skip, "{}", m.summary);
    let cp = report.result("checkpatch", &at).unwrap();
    assert_eq!(cp.status, Status::Skip, "{}", cp.summary);
}

#[test]
fn invalid_utf8_in_the_diff() {
    let mut p = Patch::good(ME);
    p.diff = "diff --git a/lib/x.c b/lib/x.c\n--- a/lib/x.c\n+++ b/lib/x.c\n@@ -1,2 +1,2 @@\n a\n-b\n+/* caf\u{1} */ \n".replace('\u{1}', "\u{fffd}");
    let mut raw = p.bytes();
    // Put a raw Latin-1 byte where the replacement character is.
    let marker = "\u{fffd}".as_bytes();
    let at = raw.windows(marker.len()).position(|w| w == marker).unwrap();
    raw.splice(at..at + marker.len(), [0xe9u8]);
    let text_line = 1 + raw[..at].iter().filter(|b| **b == b'\n').count();
    let posting = Posting::new(vec![raw]);
    let report = timed("invalid UTF-8", || posting.check());
    let target = Target::Patch { index: 0 };
    let ds = report.result("diff-sanity", &target).unwrap();
    assert_eq!(types(&report, "diff-sanity", 0), vec!["undecodable"]);
    let f = &ds.findings[0];
    assert_eq!(
        f.location.patch_line,
        Some(u32::try_from(text_line).unwrap())
    );
    assert_eq!(f.snippet.as_deref(), Some("+/* caf\u{fffd} */ "));
    // The other checks still read the bytes.
    assert_eq!(types(&report, "whitespace", 0), vec!["trailing-whitespace"]);
}

#[test]
fn garbage_does_not_panic() {
    let inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\n\n\n".to_vec(),
        b"From: x\n\n@@ -1 +1 @@\n+".to_vec(),
        b"Subject: [PATCH 99999999999/0] x\n\ndiff --git \"a/\\777 b/\n+++ \n@@ -4294967295,4294967295 +4294967295,4294967295 @@\n+x\n".to_vec(),
        (0..=255u8).cycle().take(100_000).collect(),
    ];
    let posting = Posting::new(inputs);
    let report = timed("garbage", || posting.check());
    assert!(!report.results.is_empty());
}

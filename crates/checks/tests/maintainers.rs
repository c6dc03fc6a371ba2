//! `maintainers` against the kernel tree's MAINTAINERS (SKIPPED without `GAUNTLET_LINUX_TREE`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Patch, Posting, linux_tree, one_line_diff, series_types};
use gauntlet_checks::{Context, Registry, Target};
use gauntlet_verdict::Status;

const ME: &str = "Jane Developer <jane@example.org>";

fn io_uring_patch(cc: &str) -> Patch {
    let mut p = Patch::good(ME).header(&format!("To: Jens Axboe <AXBOE@kernel.dk>\nCc: {cc}"));
    p.subject = "io_uring: return early when nothing is queued".into();
    p.diff = one_line_diff("io_uring/io_uring.c", 400, "\treturn 0;", "\treturn ret;");
    p
}

#[test]
fn missing_reviewers_and_lists_are_named() {
    let Some(tree) = linux_tree("missing_reviewers_and_lists_are_named") else {
        return;
    };
    if !common::have_perl() {
        eprintln!("SKIPPED missing_reviewers_and_lists_are_named: perl is not installed");
        return;
    }
    let context = Context::with_tree(&tree);
    let configured = Registry::builtin().defaults();
    let partial = Posting::of(&[io_uring_patch("io-uring@vger.kernel.org")]);
    let report = partial.check_with(&configured, &context);
    let r = report.result("maintainers", &Target::Series).unwrap();
    assert_eq!(r.status, Status::Pass, "warnings only: {}", r.summary);
    assert_eq!(
        series_types(&report, "maintainers"),
        vec!["missing-maintainer", "missing-list"]
    );
    assert!(
        r.findings[0]
            .message
            .contains("Pavel Begunkov <asml.silence@gmail.com> (reviewer:IO_URING)"),
        "{:?}",
        r.findings
    );
    assert!(
        r.findings[1]
            .message
            .contains("linux-kernel@vger.kernel.org"),
        "{:?}",
        r.findings
    );

    let everyone = Posting::of(&[io_uring_patch(
        "io-uring@vger.kernel.org, Pavel Begunkov <asml.silence@gmail.com>, linux-kernel@vger.kernel.org",
    )]);
    let report = everyone.check_with(&configured, &context);
    let r = report.result("maintainers", &Target::Series).unwrap();
    assert_eq!(
        (r.status, r.findings.len()),
        (Status::Pass, 0),
        "{:?}",
        r.findings
    );
    assert!(r.summary.contains("all sent the series"), "{}", r.summary);
}

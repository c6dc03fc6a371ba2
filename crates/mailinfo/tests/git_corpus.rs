//! git's own t5100 mailinfo test data, replayed through `run_git_corpus`.

use std::path::Path;

use gauntlet_mailinfo::run_git_corpus;

#[test]
fn git_t5100_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/git-mailinfo");
    if !dir.is_dir() {
        assert!(
            std::env::var("GAUNTLET_REQUIRE_CORPUS").as_deref() != Ok("1"),
            "../shared/corpus/git-mailinfo not found and GAUNTLET_REQUIRE_CORPUS=1"
        );
        println!(
            "SKIPPED: ../shared/corpus/git-mailinfo not found (conformance data is outside the repository)"
        );
        return;
    }
    let report = match run_git_corpus(&dir, &gauntlet_mbox::git_mailsplit) {
        Ok(report) => report,
        Err(e) => panic!("cannot read {}: {e}", dir.display()),
    };
    let total = report.passed + report.failed;
    println!("git t5100 corpus: {}/{total} cases pass", report.passed);
    assert!(
        report.failed == 0,
        "{} of {total} git t5100 cases fail:\n\n{}",
        report.failed,
        report.failures.join("\n\n")
    );
    assert!(total >= 50, "only {total} cases found in {}", dir.display());
}

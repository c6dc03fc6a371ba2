//! git's own `mailinfo` test data (`corpus/git-mailinfo`, git's `t/t5100`), replayed through
//! `gauntlet-mailinfo`, with mboxes split as `git mailsplit` splits them.

use std::path::Path;

use crate::{Error, Report};

/// Runs every case and reports it in the runner's format.
pub fn check(corpus: &Path) -> Result<Report, Error> {
    let dir = corpus.join("git-mailinfo");
    let r = gauntlet_mailinfo::run_git_corpus(&dir, &gauntlet_mbox::git_mailsplit)?;
    Ok(Report {
        title: "git mailinfo t5100".to_string(),
        passed: r.passed,
        failed: r.failed,
        deviations: Vec::new(),
        failures: r.failures,
    })
}

//! The checks a patch series meets before it is applied and built.
//!
//! ```text
//! mails ──► Series::assemble ──► Registry::builtin().configure(project.checks) ──► Configured::run
//!                                                                   │
//!                        Report (serde) ◄── per check: per patch or for the series: Status,
//!                          │                findings (severity, type, message, location), summary
//!                          ├─► render_human (like a compiler), --json
//!                          └─► must_reject: the pipeline stops before building
//! ```
//!
//! * **Input** ([`Series`], [`Patch`], [`Context`]): parsed mails (`gauntlet_mail::Mail`) with
//!   their raw bytes, and the optional git tree the series will apply to (a working copy or a
//!   bare repository). Checks never write anywhere but temporary directories.
//! * **Registry** ([`Registry`], [`Configured`]): each check has a stable context name, a scope
//!   (per patch or per series), typed options, and known finding types; a project tunes them in
//!   its `checks:` section (severity overrides, ignore lists, options), and mistakes there are
//!   [`ConfigError`]s with the entry's `file:line:column`.
//! * **Status rule** (one for every check): could not run (no tree where one is needed and the
//!   project asked for the check, a tool missing, a crash, a timeout) → ERROR, never FAIL; not
//!   applicable → SKIP; otherwise FAIL when some finding has severity `error` after the
//!   project's overrides, PASS otherwise — a PASS may carry warnings, which Patchwork shows as
//!   `warning` ([`CheckResult::patchwork_state`]).
//! * **Output** ([`Report`], [`render_human`], [`must_reject`]).
//! * **Threads**: the checks that run programs (`fixes-tag`'s `git cat-file`, `maintainers`,
//!   `checkpatch`) get a thread each, so Perl and git overlap; the others run on the calling
//!   thread — all of them take about half a millisecond on a 30-patch series, less than
//!   spreading them over threads would cost.
//!
//! The checks: `signed-off-by`, `subject`, `commit-message`, `fixes-tag`, `series`,
//! `whitespace`, `diff-sanity`, `maintainers`, `checkpatch` (see each module in [`checks`]
//! and [`checkpatch`]).

pub mod checkpatch;
pub mod checks;
mod diff;
mod finding;
mod input;
mod names;
mod obsolete;
mod options;
mod process;
mod registry;
mod render;
mod report;
mod text;
mod tree;

pub use finding::{Finding, Location, SNIPPET_MAX, snippet};
pub use input::{Context, Patch, Series, Source, format_patch_name};
pub use options::{OptionKind, OptionSpec};
pub use registry::{
    CheckInfo, ConfigError, Configured, FindingType, MAX_FINDINGS, Registry, Scope,
};
pub use render::render_human;
pub use report::{CheckResult, PatchInfo, Report, SeriesInfo, Target, must_reject};

/// The name in `names` closest to `wanted` (edit distance, case-insensitive), when it is close
/// enough to be a typo.
pub(crate) fn closest<'n>(wanted: &str, names: &[&'n str]) -> Option<&'n str> {
    let wanted = wanted.to_lowercase();
    let best = names
        .iter()
        .map(|name| (distance(&wanted, &name.to_lowercase()), *name))
        .min_by_key(|(d, _)| *d)?;
    let limit = (wanted.chars().count() / 3).max(2);
    (best.0 <= limit).then_some(best.1)
}

/// Levenshtein distance, in characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let names = ["signed-off-by", "subject", "checkpatch"];
        assert_eq!(closest("signed-of-by", &names), Some("signed-off-by"));
        assert_eq!(closest("CheckPatch", &names), Some("checkpatch"));
        assert_eq!(closest("build", &names), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }
}

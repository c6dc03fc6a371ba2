//! The built-in checks, one module each. Every module has an `INFO` (name, scope, options,
//! finding types, as the registry lists them) and a `configure` that reads the options.

pub mod commit_message;
pub mod diff_sanity;
pub mod fixes_tag;
pub mod maintainers;
pub mod series;
pub mod signed_off_by;
pub mod subject;
pub mod whitespace;

use gauntlet_mail::Person;

use crate::finding::Raw;
use crate::input::Input;
use crate::registry::{Builtin, Ran};

/// Every built-in check, in the order they run and report.
pub(crate) fn builtins() -> Vec<Builtin> {
    type Configure = fn(&mut crate::options::Options<'_>) -> Box<dyn crate::registry::Check>;
    let all: [(&'static crate::registry::CheckInfo, Configure); 9] = [
        (&series::INFO, series::configure),
        (&subject::INFO, subject::configure),
        (&signed_off_by::INFO, signed_off_by::configure),
        (&commit_message::INFO, commit_message::configure),
        (&fixes_tag::INFO, fixes_tag::configure),
        (&whitespace::INFO, whitespace::configure),
        (&diff_sanity::INFO, diff_sanity::configure),
        (&maintainers::INFO, maintainers::configure),
        (&crate::checkpatch::INFO, crate::checkpatch::configure),
    ];
    all.into_iter()
        .map(|(info, configure)| Builtin { info, configure })
        .collect()
}

/// `Name <address>`, or the address alone.
pub(crate) fn person(p: &Person) -> String {
    match p.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} <{}>", p.email),
        None => format!("<{}>", p.email),
    }
}

/// Runs a per-patch check on every patch (pull requests are skipped).
pub(crate) fn each_patch(
    input: &Input<'_>,
    mut run: impl FnMut(&crate::input::Prepared<'_>) -> Raw,
) -> Ran {
    Ran::Patches(
        input
            .patches
            .iter()
            .map(|p| {
                if p.mail().pull_url.is_some() {
                    Raw::skipped(PULL_REQUEST)
                } else {
                    run(p)
                }
            })
            .collect(),
    )
}

/// Why the per-patch checks skip a `git request-pull` mail.
pub(crate) const PULL_REQUEST: &str =
    "a pull request: its commits are checked where they were posted as patches";

/// Why a patch has no commit to look at.
pub(crate) const NO_COMMIT: &str =
    "no commit: git am would make none of this mail (no diff, or no author)";

/// The index of the first line of the last paragraph (0 when there is one paragraph or none).
pub(crate) fn last_paragraph_start(lines: &[&str]) -> usize {
    let Some(end) = lines.iter().rposition(|l| !l.trim().is_empty()) else {
        return 0;
    };
    lines[..end]
        .iter()
        .rposition(|l| l.trim().is_empty())
        .map_or(0, |b| b + 1)
}

/// Where the trailer block of a commit message (without its subject) starts: the index of
/// the last paragraph's first line when that paragraph is trailers (`Key: value` lines and
/// their continuations, or a quarter of them with a `Signed-off-by:`), else `lines.len()`.
pub(crate) fn trailer_block_start(lines: &[&str]) -> usize {
    let Some(end) = lines.iter().rposition(|l| !l.trim().is_empty()) else {
        return lines.len();
    };
    let start = last_paragraph_start(lines);
    let block = &lines[start..=end];
    let is_trailer = |l: &&str| {
        l.split_once(':').is_some_and(|(key, _)| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    };
    let trailers = block.iter().filter(|l| is_trailer(l)).count();
    let continuations = block.iter().filter(|l| l.starts_with([' ', '\t'])).count();
    let others = block.len() - trailers - continuations;
    let signed = block
        .iter()
        .any(|l| l.to_ascii_lowercase().starts_with("signed-off-by:"));
    if trailers > 0 && (others == 0 || (signed && trailers * 4 >= trailers + others)) {
        start
    } else {
        lines.len()
    }
}

/// `n thing` or `n things`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    let suffix = match (n, word.ends_with("ch") || word.ends_with('s')) {
        (1, _) => "",
        (_, true) => "es",
        (_, false) => "s",
    };
    format!("{n} {word}{suffix}")
}

//! `subject`: `[PATCH …] subsystem: summary`, and the same version and numbering as the rest of
//! the series.
//!
//! The summary is git's reading of the subject (what the commit will be called: the first
//! `[…]` group removed). It must have a `subsystem: ` prefix (`net: stmmac: `, `io_uring/net: `;
//! `Revert "…"` is exempt), a non-empty summary after it, at most `max-length` characters, no
//! final period, and nothing left of a mail client's `Re:`/`Fwd:` or of a second `[PATCH]`.

use gauntlet_verdict::Severity;

use super::{NO_COMMIT, each_patch};
use crate::finding::{Finding, Raw};
use crate::input::{Input, Prepared};
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::{Check, CheckInfo, FindingType, Ran, RunContext, Scope};
use crate::text::header_line;

const TYPES: &[FindingType] = &[
    FindingType {
        name: "no-patch-tag",
        severity: Severity::Warning,
        help: "the subject has no [PATCH …] tag",
    },
    FindingType {
        name: "no-subsystem",
        severity: Severity::Warning,
        help: "the summary has no `subsystem: ` prefix",
    },
    FindingType {
        name: "empty-summary",
        severity: Severity::Error,
        help: "nothing after the prefixes",
    },
    FindingType {
        name: "too-long",
        severity: Severity::Warning,
        help: "the summary is longer than max-length",
    },
    FindingType {
        name: "trailing-period",
        severity: Severity::Warning,
        help: "the summary ends with a period",
    },
    FindingType {
        name: "mangled",
        severity: Severity::Warning,
        help: "Re:, Fwd: or a second [PATCH] left in the summary",
    },
    FindingType {
        name: "version-mismatch",
        severity: Severity::Error,
        help: "another version than the series'",
    },
    FindingType {
        name: "total-mismatch",
        severity: Severity::Error,
        help: "another patch count than the series'",
    },
    FindingType {
        name: "no-number",
        severity: Severity::Error,
        help: "no x/n number in a series of several patches",
    },
];

const OPTIONS: &[OptionSpec] = &[OptionSpec {
    name: "max-length",
    kind: OptionKind::Int { min: 20, max: 500 },
    default: "75",
    help: "longest summary, in characters",
}];

pub static INFO: CheckInfo = CheckInfo {
    name: "subject",
    scope: Scope::Patch,
    summary: "`[PATCH vN x/n] subsystem: summary`, short, no final period, numbered like the series",
    options: OPTIONS,
    types: TYPES,
    external: false,
};

struct Subject {
    max_length: usize,
}

pub(crate) fn configure(options: &mut Options<'_>) -> Box<dyn Check> {
    Box::new(Subject {
        max_length: options.count("max-length", 75),
    })
}

impl Check for Subject {
    fn run(&self, input: &Input<'_>, _rc: &RunContext<'_>) -> Ran {
        let several = input.series.patches.len() > 1 || input.series.total.is_some_and(|n| n > 1);
        each_patch(input, |p| self.check(input, p, several))
    }
}

/// The tokens of the leading `[…]` groups of a subject.
fn tag_tokens(subject: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut rest = subject.trim_start();
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            break;
        };
        tokens.extend(
            inner[..close]
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        );
        rest = inner[close + 1..].trim_start();
    }
    tokens
}

fn is_patch_token(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    lower == "patch"
        || lower.strip_prefix("patch").is_some_and(|rest| {
            rest.starts_with('v') && rest[1..].bytes().all(|b| b.is_ascii_digit())
        })
}

/// `subsystem: ` prefixes and the summary after them.
fn split_summary(subject: &str) -> (Vec<&str>, &str) {
    let mut prefixes = Vec::new();
    let mut rest = subject;
    while let Some(colon) = rest.find(": ") {
        let head = &rest[..colon];
        if head.is_empty() || head.contains(char::is_whitespace) || head.len() > 60 {
            break;
        }
        prefixes.push(head);
        rest = rest[colon + 2..].trim_start();
    }
    if let Some(head) = rest.strip_suffix(':')
        && !head.is_empty()
        && !head.contains(char::is_whitespace)
    {
        prefixes.push(head);
        rest = "";
    }
    (prefixes, rest)
}

impl Subject {
    fn check(&self, input: &Input<'_>, p: &Prepared<'_>, several: bool) -> Raw {
        let mail = p.mail();
        let raw_subject = mail.subject.as_deref().unwrap_or("");
        let line = header_line(p.patch.raw, "Subject");
        let at = |f: Finding| {
            f.at_mail(line)
                .quoting(format!("Subject: {raw_subject}").as_bytes())
        };
        let mut findings = Vec::new();
        if !tag_tokens(raw_subject).iter().any(|t| is_patch_token(t)) {
            findings.push(at(Finding::warning(
                "no-patch-tag",
                "the subject has no [PATCH] tag: lists and tools take mails without one for discussion",
            )));
        }
        let series = input.series;
        if mail.version != series.version {
            findings.push(at(Finding::error(
                "version-mismatch",
                format!(
                    "this patch is v{} but the series is v{}",
                    mail.version, series.version
                ),
            )));
        }
        match (mail.marker, series.total) {
            (Some((_, n)), Some(total)) if n != total => findings.push(at(Finding::error(
                "total-mismatch",
                format!("this patch says it is one of {n}, the series has {total}"),
            ))),
            (None, _) if several => findings.push(at(Finding::error(
                "no-number",
                format!(
                    "no x/n number in a series of {}: use git format-patch -n (or --cover-letter)",
                    series
                        .total
                        .unwrap_or(0)
                        .max(u32::try_from(series.patches.len()).unwrap_or(u32::MAX))
                ),
            ))),
            _ => {}
        }
        let Some(commit) = &mail.commit else {
            return if findings.is_empty() {
                Raw::skipped(NO_COMMIT)
            } else {
                Raw::ran("", findings)
            };
        };
        let summary = commit.subject.trim();
        let lower = summary.to_ascii_lowercase();
        if lower.starts_with("re:") || lower.starts_with("fwd:") || lower.starts_with("fw:") {
            findings.push(at(Finding::warning(
                "mangled",
                format!(
                    "the commit would be called `{summary}`: a reply or forward marker is left"
                ),
            )));
        } else if lower.contains("[patch") {
            findings.push(at(Finding::warning(
                "mangled",
                format!("the commit would be called `{summary}`: a second [PATCH] tag is left"),
            )));
        }
        let revert = summary.starts_with("Revert \"");
        let (prefixes, rest) = split_summary(summary);
        if summary.is_empty() || (!prefixes.is_empty() && rest.trim().is_empty()) {
            findings.push(at(Finding::error(
                "empty-summary",
                "the subject has no summary: say what the patch does after `subsystem: `",
            )));
        } else if prefixes.is_empty() && !revert {
            findings.push(at(Finding::warning(
                "no-subsystem",
                format!(
                    "`{summary}` has no `subsystem: ` prefix (see `git log --oneline` of the files it touches)"
                ),
            )));
        }
        let length = summary.chars().count();
        if length > self.max_length {
            findings.push(at(Finding::warning(
                "too-long",
                format!(
                    "the summary has {length} characters, more than {}",
                    self.max_length
                ),
            )));
        }
        if summary.ends_with('.') && !summary.ends_with("...") {
            findings.push(at(Finding::warning(
                "trailing-period",
                "the summary ends with a period",
            )));
        }
        Raw::ran(format!("`{summary}` ({length} characters)"), findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_prefixes() {
        assert_eq!(
            tag_tokens("[PATCH net-next v2 1/3] net: x"),
            vec!["PATCH", "net-next", "v2", "1/3"]
        );
        assert!(
            tag_tokens("[RFC PATCHv3] x")
                .iter()
                .any(|t| is_patch_token(t))
        );
        assert!(!tag_tokens("[RFC] x").iter().any(|t| is_patch_token(t)));
        assert_eq!(
            split_summary("net: stmmac: fix the thing"),
            (vec!["net", "stmmac"], "fix the thing")
        );
        assert_eq!(
            split_summary("io_uring/net: x"),
            (vec!["io_uring/net"], "x")
        );
        assert_eq!(
            split_summary("Fix the bug: it crashed"),
            (vec![], "Fix the bug: it crashed")
        );
        assert_eq!(split_summary("net:"), (vec!["net"], ""));
    }
}

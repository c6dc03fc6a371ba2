//! `commit-message`: a body that explains the change, wrapped lines, no Gerrit `Change-Id:`.
//!
//! The body is git's commit message without its subject and without the trailer block. A line
//! longer than `max-line-length` is reported unless it is something that must not be wrapped:
//! an indented quote (logs, code, oopses), a line with a URL or with no blank in it, a
//! trailer-like `Key: value` line, or a kernel log line (`[   12.345678] …`).

use gauntlet_verdict::Severity;

use super::{NO_COMMIT, each_patch};
use crate::finding::{Finding, Raw};
use crate::input::{Input, Prepared};
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::{Check, CheckInfo, FindingType, Ran, RunContext, Scope};
use crate::text::header_line;

const TYPES: &[FindingType] = &[
    FindingType {
        name: "no-body",
        severity: Severity::Error,
        help: "the message has only a subject and trailers",
    },
    FindingType {
        name: "long-line",
        severity: Severity::Warning,
        help: "a line longer than max-line-length",
    },
    FindingType {
        name: "change-id",
        severity: Severity::Error,
        help: "a Gerrit Change-Id: line",
    },
];

const OPTIONS: &[OptionSpec] = &[OptionSpec {
    name: "max-line-length",
    kind: OptionKind::Int { min: 40, max: 1000 },
    default: "75",
    help: "longest line of the body, in characters",
}];

pub static INFO: CheckInfo = CheckInfo {
    name: "commit-message",
    scope: Scope::Patch,
    summary: "a body beyond the trailers, wrapped lines, no Change-Id:",
    options: OPTIONS,
    types: TYPES,
    external: false,
};

struct CommitMessage {
    max_line: usize,
}

pub(crate) fn configure(options: &mut Options<'_>) -> Box<dyn Check> {
    Box::new(CommitMessage {
        max_line: options.count("max-line-length", 75),
    })
}

impl Check for CommitMessage {
    fn run(&self, input: &Input<'_>, _rc: &RunContext<'_>) -> Ran {
        each_patch(input, |p| self.check(p))
    }
}

/// A line that must not be wrapped.
fn exempt(line: &str) -> bool {
    let trimmed = line.trim();
    line.starts_with(char::is_whitespace)
        || trimmed.contains("://")
        || !trimmed.contains(char::is_whitespace)
        || trimmed.starts_with('[')
        || trimmed.starts_with('>')
        || trailer_key(trimmed).is_some()
}

/// The key of a `Key: value` line whose key is one word.
fn trailer_key(line: &str) -> Option<&str> {
    let (key, _) = line.split_once(": ")?;
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')).then_some(key)
}

impl CommitMessage {
    fn check(&self, p: &Prepared<'_>) -> Raw {
        let mail = p.mail();
        let Some(commit) = &mail.commit else {
            return Raw::skipped(NO_COMMIT);
        };
        let lines: Vec<&str> = commit.message.lines().collect();
        let end = super::trailer_block_start(&lines);
        let mut finder = p.message_lines();
        let mut findings = Vec::new();
        let mut body_lines = 0usize;
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mail_line = finder.find(line);
            if line
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("change-id:")
            {
                findings.push(
                    Finding::error(
                        "change-id",
                        "a Gerrit Change-Id: does not belong in a mailed patch: remove it",
                    )
                    .at_mail(mail_line)
                    .quoting(line.as_bytes()),
                );
                continue;
            }
            if i >= end {
                continue;
            }
            body_lines += 1;
            let width = line.chars().count();
            if width > self.max_line && !exempt(line) {
                findings.push(
                    Finding::warning(
                        "long-line",
                        format!(
                            "line of {width} characters: wrap the message at {}",
                            self.max_line
                        ),
                    )
                    .at_mail(mail_line)
                    .quoting(line.as_bytes()),
                );
            }
        }
        if body_lines == 0 {
            findings.push(
                Finding::error(
                    "no-body",
                    "the commit message has no body: explain what the patch changes and why",
                )
                .at_mail(header_line(p.patch.raw, "Subject")),
            );
        }
        Raw::ran(
            format!("{} of message", super::plural(body_lines, "line")),
            findings,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exemptions() {
        assert!(exempt(
            "  BUG: KASAN: slab-out-of-bounds in foo+0x1/0x2 [some_module] and more words"
        ));
        assert!(exempt(
            "Link: https://lore.kernel.org/all/very-long-message-id@example.org/"
        ));
        assert!(exempt(
            "[   12.345678] general protection fault, probably for non-canonical address"
        ));
        assert!(!exempt(
            "This is a sentence that goes on and on and on without being wrapped at all."
        ));
    }
}

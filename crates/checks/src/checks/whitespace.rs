//! `whitespace`: what `git apply --whitespace=error` and maintainers object to, in the lines a
//! patch adds: trailing whitespace, a space before a tab in the indentation, a CRLF line ending,
//! no newline at the end of a file, blank lines added at the end of a file. Each finding names
//! the mail line and `file:line` of the new file.
//!
//! A mail whose every line ends in CRLF (its headers too) was stored that way by a mail system,
//! and `git am` strips those: that is noted once, not reported per line.

use gauntlet_verdict::Severity;

use super::{each_patch, plural};
use crate::diff::{AddedLine, LineKind};
use crate::finding::{Finding, Location, Raw};
use crate::input::{Input, Prepared};
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::{Check, CheckInfo, FindingType, MAX_FINDINGS, Ran, RunContext, Scope};

const TYPES: &[FindingType] = &[
    FindingType {
        name: "trailing-whitespace",
        severity: Severity::Error,
        help: "blanks at the end of an added line",
    },
    FindingType {
        name: "space-before-tab",
        severity: Severity::Warning,
        help: "a space before a tab in the indentation",
    },
    FindingType {
        name: "crlf",
        severity: Severity::Error,
        help: "an added line ending in CRLF (git am strips the CR)",
    },
    FindingType {
        name: "no-newline-at-eof",
        severity: Severity::Warning,
        help: "the file does not end with a newline",
    },
    FindingType {
        name: "blank-line-at-eof",
        severity: Severity::Warning,
        help: "blank lines added at the end of a file",
    },
    FindingType {
        name: "crlf-mail",
        severity: Severity::Info,
        help: "the whole mail has CRLF line endings",
    },
];

const OPTIONS: &[OptionSpec] = &[OptionSpec {
    name: "skip-files",
    kind: OptionKind::List,
    default: "[]",
    help: "files not checked: `*.ext`, `dir/`, or a path",
}];

pub static INFO: CheckInfo = CheckInfo {
    name: "whitespace",
    scope: Scope::Patch,
    summary: "no trailing whitespace, space before tab, CRLF or missing final newline in added lines",
    options: OPTIONS,
    types: TYPES,
    external: false,
};

struct Whitespace {
    skip: Vec<String>,
}

pub(crate) fn configure(options: &mut Options<'_>) -> Box<dyn Check> {
    Box::new(Whitespace {
        skip: options.list("skip-files"),
    })
}

impl Check for Whitespace {
    fn run(&self, input: &Input<'_>, _rc: &RunContext<'_>) -> Ran {
        each_patch(input, |p| self.check(p))
    }
}

fn skipped(patterns: &[String], path: &str) -> bool {
    patterns.iter().any(|pattern| {
        if let Some(ext) = pattern.strip_prefix("*.") {
            path.rsplit_once('.').is_some_and(|(_, e)| e == ext)
        } else if pattern.ends_with('/') {
            path.starts_with(pattern.as_str())
        } else {
            path == pattern
        }
    })
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0b | 0x0c)
}

/// Findings past this many are counted per type instead of listed.
const LISTED: usize = MAX_FINDINGS;

struct Collector {
    findings: Vec<Finding>,
    /// Counted beyond [`LISTED`], per type.
    more: Vec<(&'static str, Severity, usize)>,
}

impl Collector {
    fn push(&mut self, finding: Finding, kind: &'static str) {
        if self.findings.len() < LISTED {
            self.findings.push(finding);
            return;
        }
        match self.more.iter_mut().find(|(k, _, _)| *k == kind) {
            Some(entry) => entry.2 += 1,
            None => self.more.push((kind, finding.severity, 1)),
        }
    }
}

impl Whitespace {
    fn check(&self, p: &Prepared<'_>) -> Raw {
        let diff = &p.diff;
        if diff.is_empty() {
            return Raw::skipped("no diff");
        }
        let crlf_mail = p
            .patch
            .raw
            .split(|&b| b == b'\n')
            .next()
            .is_some_and(|l| l.ends_with(b"\r"));
        let mut out = Collector {
            findings: Vec::new(),
            more: Vec::new(),
        };
        if crlf_mail {
            out.findings.push(Finding::info(
                "crlf-mail",
                "the mail has CRLF line endings (git am removes them): CRs in added lines cannot be told apart",
            ));
        }
        let mut checked = 0usize;
        for line in &diff.added_lines {
            let Some(file) = diff.files.get(line.file) else {
                continue;
            };
            let path = file.path();
            if file.binary || skipped(&self.skip, path) {
                continue;
            }
            checked += 1;
            let text = diff.text(&p.segments, line);
            let at = |f: Finding| {
                let mut shown = Vec::with_capacity(text.len() + 1);
                shown.push(b'+');
                shown.extend_from_slice(text);
                f.at(Location::source(line.mail_line, path, line.new_line))
                    .quoting(&shown)
            };
            if line.cr && !crlf_mail {
                out.push(
                    at(Finding::error(
                        "crlf",
                        "line ends with CRLF (a DOS line ending)",
                    )),
                    "crlf",
                );
            }
            let trailing = text.iter().rev().take_while(|b| is_blank(**b)).count();
            if trailing > 0 {
                let what = if trailing == text.len() {
                    "a line of only whitespace".to_string()
                } else {
                    format!("trailing whitespace ({})", plural(trailing, "character"))
                };
                out.push(
                    at(Finding::error("trailing-whitespace", what)),
                    "trailing-whitespace",
                );
            }
            let indent = text.iter().take_while(|b| is_blank(**b)).count();
            if text[..indent].windows(2).any(|w| w == b" \t") {
                out.push(
                    at(Finding::warning(
                        "space-before-tab",
                        "space before tab in the indentation",
                    )),
                    "space-before-tab",
                );
            }
            if line.no_newline {
                out.push(
                    at(Finding::warning(
                        "no-newline-at-eof",
                        format!("no newline at the end of {path}"),
                    )),
                    "no-newline-at-eof",
                );
            }
        }
        self.blank_lines_at_eof(p, &mut out);
        let Collector { findings, more } = out;
        let mut raw = Raw::ran(
            format!("{} added, clean", plural(checked, "line")),
            findings,
        );
        raw.more = more;
        raw
    }

    /// A hunk that ends the file (no context after its last added lines) and adds blank lines
    /// there.
    fn blank_lines_at_eof(&self, p: &Prepared<'_>, out: &mut Collector) {
        let diff = &p.diff;
        let mut by_file: Vec<Vec<&AddedLine>> = vec![Vec::new(); diff.files.len()];
        for line in &diff.added_lines {
            if let Some(v) = by_file.get_mut(line.file) {
                v.push(line);
            }
        }
        for (index, file) in diff.files.iter().enumerate() {
            if file.binary || skipped(&self.skip, file.path()) {
                continue;
            }
            let Some(last_hunk) = file.hunks.last() else {
                continue;
            };
            let ends_with_added = last_hunk
                .kinds
                .iter()
                .rev()
                .find(|k| **k != LineKind::Marker)
                .is_some_and(|k| *k == LineKind::Added);
            // With context lines around every hunk, a hunk that ends on an added line ends the
            // file (or the patch has no context at all: new files).
            let has_context = last_hunk.kinds.contains(&LineKind::Context);
            if !ends_with_added || !(has_context || file.new_file) {
                continue;
            }
            let Some(last) = by_file[index].last() else {
                continue;
            };
            if diff.text(&p.segments, last).iter().all(|b| is_blank(*b)) {
                out.push(
                    Finding::warning(
                        "blank-line-at-eof",
                        format!("blank line added at the end of {}", file.path()),
                    )
                    .at(Location::source(last.mail_line, file.path(), last.new_line))
                    .quoting(b"+"),
                    "blank-line-at-eof",
                );
            }
        }
    }
}

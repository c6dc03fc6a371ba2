//! `diff-sanity`: what the apply stage refuses, said before it runs: no diff at all, a diff the
//! mail's charset cannot decode, more bytes or files than the project allows, paths that leave
//! the tree (absolute, `..`, `.git/`), binary files, submodules, symbolic links, executable
//! sources, and hunks that do not add up (a mailer that wrapped lines).

use gauntlet_verdict::Severity;

use super::plural;
use crate::finding::{Finding, Raw};
use crate::input::{Input, Prepared};
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::{Check, CheckInfo, FindingType, Ran, RunContext, Scope};
use crate::text::{lines, strip_cr};

const TYPES: &[FindingType] = &[
    FindingType {
        name: "no-diff",
        severity: Severity::Error,
        help: "the mail has no diff",
    },
    FindingType {
        name: "undecodable",
        severity: Severity::Error,
        help: "the text is not valid in its charset: Patchwork and gauntlet do not see the diff",
    },
    FindingType {
        name: "too-big",
        severity: Severity::Error,
        help: "a diff larger than max-bytes",
    },
    FindingType {
        name: "too-many-files",
        severity: Severity::Error,
        help: "more files than max-files",
    },
    FindingType {
        name: "bad-path",
        severity: Severity::Error,
        help: "an absolute path, `..`, or a path into .git",
    },
    FindingType {
        name: "binary",
        severity: Severity::Error,
        help: "a binary file (unless allow-binary)",
    },
    FindingType {
        name: "binary-without-data",
        severity: Severity::Error,
        help: "`Binary files … differ`: nothing to apply",
    },
    FindingType {
        name: "submodule",
        severity: Severity::Error,
        help: "a submodule (mode 160000)",
    },
    FindingType {
        name: "symlink",
        severity: Severity::Warning,
        help: "a symbolic link (mode 120000)",
    },
    FindingType {
        name: "executable-source",
        severity: Severity::Warning,
        help: "a source file made executable",
    },
    FindingType {
        name: "corrupt-hunk",
        severity: Severity::Error,
        help: "a hunk whose lines do not match its header",
    },
];

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "max-bytes",
        kind: OptionKind::Int {
            min: 1,
            max: 1 << 40,
        },
        default: "10485760",
        help: "largest diff, in bytes",
    },
    OptionSpec {
        name: "max-files",
        kind: OptionKind::Int {
            min: 1,
            max: 10_000_000,
        },
        default: "1000",
        help: "most files one patch may touch",
    },
    OptionSpec {
        name: "allow-binary",
        kind: OptionKind::Bool,
        default: "false",
        help: "accept GIT binary patches",
    },
];

pub static INFO: CheckInfo = CheckInfo {
    name: "diff-sanity",
    scope: Scope::Patch,
    summary: "a diff that applies inside the tree: size, files, paths, binaries, intact hunks",
    options: OPTIONS,
    types: TYPES,
    external: false,
};

struct DiffSanity {
    max_bytes: usize,
    max_files: usize,
    allow_binary: bool,
}

pub(crate) fn configure(options: &mut Options<'_>) -> Box<dyn Check> {
    Box::new(DiffSanity {
        max_bytes: options.count("max-bytes", 10 << 20),
        max_files: options.count("max-files", 1000),
        allow_binary: options.bool("allow-binary", false),
    })
}

impl Check for DiffSanity {
    fn run(&self, input: &Input<'_>, _rc: &RunContext<'_>) -> Ran {
        super::each_patch(input, |p| self.check(p))
    }
}

/// What is wrong with a path, if anything.
fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("an empty path");
    }
    if path.starts_with('/') || path.starts_with('~') {
        return Some("an absolute path");
    }
    if path.contains('\0') {
        return Some("a path with a NUL byte");
    }
    for part in path.split(['/', '\\']) {
        if part == ".." {
            return Some("a path that climbs out of the tree (`..`)");
        }
        if part.eq_ignore_ascii_case(".git") {
            return Some("a path into the repository's .git");
        }
    }
    None
}

fn size(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    // Display only: precision loss on huge sizes does not matter.
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / KIB / KIB)
    }
}

impl DiffSanity {
    fn check(&self, p: &Prepared<'_>) -> Raw {
        let mail = p.mail();
        let diff = &p.diff;
        let mut findings = Vec::new();
        if diff.is_empty() {
            let text_lines: usize = p.segments.iter().map(|s| lines(&s.bytes).count()).sum();
            let what = if p.segments.is_empty() {
                "the mail has no text part at all".to_string()
            } else {
                format!(
                    "the mail has no diff: {} of text and no `diff --git` or `---`/`+++`/`@@` lines",
                    plural(text_lines, "line")
                )
            };
            findings.push(Finding::error("no-diff", what));
            return Raw::ran("", findings);
        }
        if mail.diff().is_none()
            && let Some(finding) = undecodable(p)
        {
            findings.push(finding);
        }
        if diff.bytes > self.max_bytes {
            findings.push(
                Finding::error(
                    "too-big",
                    format!(
                        "the diff is {}, more than the {} allowed",
                        size(diff.bytes),
                        size(self.max_bytes)
                    ),
                )
                .at_mail(diff.first_mail_line),
            );
        }
        if diff.files.len() > self.max_files {
            findings.push(
                Finding::error(
                    "too-many-files",
                    format!(
                        "the patch touches {} files, more than the {} allowed",
                        diff.files.len(),
                        self.max_files
                    ),
                )
                .at_mail(diff.first_mail_line),
            );
        }
        for file in &diff.files {
            let at = |f: Finding| f.at_mail(file.header_line);
            for path in [&file.old_path, &file.new_path].into_iter().flatten() {
                if let Some(problem) = path_problem(path) {
                    findings.push(at(Finding::error(
                        "bad-path",
                        format!("`{path}` is {problem}"),
                    )));
                }
            }
            if file.binary_without_data {
                findings.push(at(Finding::error(
                    "binary-without-data",
                    format!(
                        "{} is binary and the patch has no data for it (git format-patch --binary)",
                        file.path()
                    ),
                )));
            } else if file.binary && !self.allow_binary {
                findings.push(at(Finding::error(
                    "binary",
                    format!("{} is a binary file: not accepted here", file.path()),
                )));
            }
            match file.new_mode {
                Some(0o160000) => findings.push(at(Finding::error(
                    "submodule",
                    format!("{} is a submodule", file.path()),
                ))),
                Some(0o120000) => findings.push(at(Finding::warning(
                    "symlink",
                    format!("{} is a symbolic link", file.path()),
                ))),
                Some(mode) if mode & 0o111 != 0 => {
                    let path = file.path();
                    let source = [".c", ".h", ".S", ".rs", ".dts", ".dtsi"]
                        .iter()
                        .any(|ext| path.ends_with(ext));
                    if source {
                        findings.push(at(Finding::warning(
                            "executable-source",
                            format!("{path} is made executable (mode {mode:o})"),
                        )));
                    }
                }
                _ => {}
            }
        }
        for c in &diff.corrupt {
            let path = diff.files.get(c.file).map_or("?", |f| f.path());
            let what = if c.line.is_empty() {
                format!(
                    "the last hunk of {path} is cut short: {} old and {} new lines missing",
                    c.missing_old, c.missing_new
                )
            } else {
                format!(
                    "corrupt hunk in {path}: a line that is not context, `+` or `-` ({} old and {} new lines still expected): was the patch wrapped by a mailer?",
                    c.missing_old, c.missing_new
                )
            };
            let mut f = Finding::error("corrupt-hunk", what).at_mail(c.mail_line);
            if !c.line.is_empty() {
                f = f.quoting(&c.line);
            }
            findings.push(f);
        }
        let added: usize = diff.files.iter().map(|f| f.added).sum();
        let removed: usize = diff.files.iter().map(|f| f.removed).sum();
        Raw::ran(
            format!(
                "{}, +{added} -{removed} lines, {}",
                plural(diff.files.len(), "file"),
                size(diff.bytes)
            ),
            findings,
        )
    }
}

/// The diff is there, but Patchwork's reading of the mail dropped its text: bytes that are not
/// valid in the declared charset (only UTF-8 and ASCII can be invalid; without a charset,
/// Patchwork falls back to Latin-1, which never fails).
fn undecodable(p: &Prepared<'_>) -> Option<Finding> {
    let (segment_index, _) = p.diff.start?;
    let segment = p.segments.get(segment_index)?;
    let charset = segment.charset.clone()?;
    let valid: fn(&[u8]) -> bool = match charset.as_str() {
        "utf-8" | "utf8" => |l| std::str::from_utf8(l).is_ok(),
        "us-ascii" | "ascii" => |l| l.is_ascii(),
        _ => return None,
    };
    let (index, line) = lines(&segment.bytes)
        .enumerate()
        .find(|(_, l)| !valid(strip_cr(l)))?;
    let at = segment.mail_line(u32::try_from(index).unwrap_or(u32::MAX));
    Some(
        Finding::error(
            "undecodable",
            format!(
                "the text is not valid {charset}: Patchwork (and gauntlet's reading of the mail) sees no diff; send it as UTF-8 (git send-email does)"
            ),
        )
        .at_mail(at)
        .quoting(line),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(path_problem("kernel/sys.c"), None);
        assert!(path_problem("/etc/passwd").is_some());
        assert!(path_problem("a/../../x").is_some());
        assert!(path_problem(".git/hooks/pre-commit").is_some());
        assert!(path_problem("sub/.GIT/config").is_some());
        assert_eq!(path_problem("x..y/z"), None);
        assert_eq!(size(100), "100 B");
        assert_eq!(size(52_428_800), "50.0 MiB");
    }
}

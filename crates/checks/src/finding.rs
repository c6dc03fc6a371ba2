//! What a check says about a patch: findings, where they are, and the raw outcome a check hands
//! to the registry before the project's severities are applied.

use gauntlet_verdict::Severity;
use serde::{Deserialize, Serialize};

/// Where a finding is.
///
/// `patch_line` is a line of the patch mail as it was given (1-based, counting every line of the
/// raw mail, headers included, as an editor or `checkpatch.pl` counts them). `file` and `line`
/// are the source file and the line in the *new* version of that file (computed from the hunk
/// headers), when the finding is about a line the patch adds or keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Location {
    /// A line of the patch mail.
    pub fn mail(line: Option<u32>) -> Location {
        Location {
            patch_line: line,
            ..Location::default()
        }
    }

    /// A line of the patch mail that is also `file:line` of the new source.
    pub fn source(patch_line: Option<u32>, file: &str, line: u32) -> Location {
        Location {
            patch_line,
            file: Some(file.to_string()),
            line: Some(line),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.patch_line.is_none() && self.file.is_none()
    }
}

/// One problem found by a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// After the project's overrides.
    pub severity: Severity,
    /// The finding's type, stable and unique within its check (`trailing-whitespace`,
    /// checkpatch's `LONG_LINE`): what `ignore:` and `types:` in the project file name.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Location::is_empty")]
    pub location: Location,
    /// The offending line as written (lossy UTF-8, at most [`SNIPPET_MAX`] characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

/// Longest snippet kept with a finding, in characters.
pub const SNIPPET_MAX: usize = 240;

impl Finding {
    pub fn new(severity: Severity, kind: &str, message: impl Into<String>) -> Finding {
        Finding {
            severity,
            kind: kind.to_string(),
            message: message.into(),
            location: Location::default(),
            snippet: None,
        }
    }

    pub fn error(kind: &str, message: impl Into<String>) -> Finding {
        Finding::new(Severity::Error, kind, message)
    }

    pub fn warning(kind: &str, message: impl Into<String>) -> Finding {
        Finding::new(Severity::Warning, kind, message)
    }

    pub fn info(kind: &str, message: impl Into<String>) -> Finding {
        Finding::new(Severity::Info, kind, message)
    }

    #[must_use]
    pub fn at(mut self, location: Location) -> Finding {
        self.location = location;
        self
    }

    #[must_use]
    pub fn at_mail(self, line: Option<u32>) -> Finding {
        self.at(Location::mail(line))
    }

    /// Quotes the offending line (bytes, shown as lossy UTF-8 and shortened).
    #[must_use]
    pub fn quoting(mut self, line: &[u8]) -> Finding {
        self.snippet = Some(snippet(line));
        self
    }
}

/// A line for display: lossy UTF-8, without its line ending, at most [`SNIPPET_MAX`] characters.
pub fn snippet(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let head = &line[..line.len().min(SNIPPET_MAX * 4)];
    let text = String::from_utf8_lossy(head);
    let mut out: String = text.chars().take(SNIPPET_MAX).collect();
    if out.len() < text.len() || head.len() < line.len() {
        out.push('…');
    }
    out
}

/// How a check's run went, before the project's severities are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawState {
    /// It ran; the text says what it saw when there is nothing to report.
    Ran(String),
    /// Not applicable here, and why.
    Skipped(String),
    /// It could not run, and why (never the patch's fault).
    Failed(String),
}

/// What one run of a check on one target (a patch, or the series) produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Raw {
    pub(crate) state: RawState,
    pub(crate) findings: Vec<Finding>,
    /// Findings counted but not made (a check that stops listing after many): type, severity,
    /// how many.
    pub(crate) more: Vec<(&'static str, Severity, usize)>,
}

impl Raw {
    pub(crate) fn ran(summary: impl Into<String>, findings: Vec<Finding>) -> Raw {
        Raw {
            state: RawState::Ran(summary.into()),
            findings,
            more: Vec::new(),
        }
    }

    pub(crate) fn skipped(why: impl Into<String>) -> Raw {
        Raw {
            state: RawState::Skipped(why.into()),
            findings: Vec::new(),
            more: Vec::new(),
        }
    }

    pub(crate) fn failed(why: impl Into<String>) -> Raw {
        Raw {
            state: RawState::Failed(why.into()),
            findings: Vec::new(),
            more: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_bounded_and_lossy() {
        assert_eq!(snippet(b"a\tb  \r\n"), "a\tb  ");
        assert_eq!(snippet(b"caf\xe9"), "caf\u{fffd}");
        let long = vec![b'x'; 10_000];
        let s = snippet(&long);
        assert_eq!(s.chars().count(), SNIPPET_MAX + 1);
        assert!(s.ends_with('…'));
    }
}

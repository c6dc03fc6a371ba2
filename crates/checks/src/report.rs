//! The result of running the checks on a series: serialisable for `--json`, and what the
//! pipeline decides from.

use gauntlet_verdict::{PatchworkState, Status};
use serde::{Deserialize, Serialize};

use crate::finding::Finding;

/// What a result is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "lowercase")]
pub enum Target {
    /// The series as a whole (Patchwork has no series checks: a reporter copies these onto
    /// every patch).
    Series,
    /// The patch at this index of [`SeriesInfo::patches`].
    Patch { index: usize },
}

/// One check's verdict on one patch, or on the series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's context name (a slug).
    pub check: String,
    pub target: Target,
    pub status: Status,
    /// One line, for a Patchwork check's `description`.
    pub summary: String,
    /// After the project's severities and ignores, at most [`crate::MAX_FINDINGS`].
    pub findings: Vec<Finding>,
    /// Findings beyond the cap, counted but not kept.
    pub omitted: usize,
    pub errors: usize,
    pub warnings: usize,
    pub duration_ms: u64,
}

impl CheckResult {
    /// The Patchwork state to report: `warning` for a pass with warnings, otherwise the
    /// status' own.
    pub fn patchwork_state(&self) -> PatchworkState {
        if self.status == Status::Pass && self.warnings > 0 {
            PatchworkState::Warning
        } else {
            self.status.patchwork_state()
        }
    }
}

/// A patch, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchInfo {
    pub index: usize,
    pub number: Option<u32>,
    pub label: String,
    pub subject: String,
    pub message_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesInfo {
    pub name: String,
    pub version: u32,
    pub total: Option<u32>,
    /// The cover letter's subject.
    pub cover: Option<String>,
    pub patches: Vec<PatchInfo>,
}

/// Everything the checks found on a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub series: SeriesInfo,
    /// Series results first, then each patch's, in check order.
    pub results: Vec<CheckResult>,
    /// The heaviest status of all results.
    pub status: Status,
    /// Some check failed: the series is rejected before it is built.
    pub rejected: bool,
    pub errors: usize,
    pub warnings: usize,
}

impl Report {
    pub(crate) fn new(series: SeriesInfo, results: Vec<CheckResult>) -> Report {
        let status = Status::summarize(results.iter().map(|r| r.status));
        let rejected = results.iter().any(is_rejecting);
        let errors = results.iter().map(|r| r.errors).sum();
        let warnings = results.iter().map(|r| r.warnings).sum();
        Report {
            series,
            results,
            status,
            rejected,
            errors,
            warnings,
        }
    }

    /// The results about the series as a whole.
    pub fn series_results(&self) -> impl Iterator<Item = &CheckResult> {
        self.results.iter().filter(|r| r.target == Target::Series)
    }

    /// The results about the patch at `index`.
    pub fn patch_results(&self, index: usize) -> impl Iterator<Item = &CheckResult> {
        self.results
            .iter()
            .filter(move |r| r.target == Target::Patch { index })
    }

    /// The result of `check` on a target.
    pub fn result(&self, check: &str, target: &Target) -> Option<&CheckResult> {
        self.results
            .iter()
            .find(|r| r.check == check && &r.target == target)
    }

    /// Some check failed (`gauntlet check` exits 1).
    pub fn has_failures(&self) -> bool {
        self.rejected
    }
}

fn is_rejecting(result: &CheckResult) -> bool {
    result.status == Status::Fail && result.errors > 0
}

/// Whether the series must be rejected before it is built: some check FAILed, with an error
/// finding (after the project's severities). Errors of the checks themselves (ERROR: a tool
/// missing, a timeout) never reject.
pub fn must_reject(report: &Report) -> bool {
    report.results.iter().any(is_rejecting)
}

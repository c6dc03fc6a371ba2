//! The words every stage of the pipeline uses for its results.
//!
//! A result's [`Status`] is KCIDB's vocabulary. The one distinction that matters most is between
//! [`Status::Fail`] (the patch is at fault: it is rejected) and [`Status::Error`] (the
//! infrastructure failed: nothing is blamed on the patch, the work is retried or reported as an
//! error). Findings of checks and compilers carry a [`Severity`].
//!
//! The crate has no logic beyond ordering and naming, and depends on nothing of gauntlet.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The outcome of a check, a stage, a job or a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// It ran and everything it looked at is fine.
    Pass,
    /// It ran and found the patch at fault.
    Fail,
    /// It could not run, or could not finish, for a reason that is not the patch's fault.
    Error,
    /// It was not meant to run here (not applicable, disabled, nothing to look at).
    Skip,
    /// It was meant to run but did not: a test after a crash, a stage after a failed one.
    Miss,
    /// It ran, and it has no opinion (a step that only produces something).
    Done,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pass,
        Status::Fail,
        Status::Error,
        Status::Skip,
        Status::Miss,
        Status::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
            Status::Skip => "SKIP",
            Status::Miss => "MISS",
            Status::Done => "DONE",
        }
    }

    /// How much this status weighs when results are summed up: the heaviest wins.
    /// A failure blames the patch even if something else broke too; an error says only that
    /// we do not know; a miss means part of the answer is absent.
    fn weight(self) -> u8 {
        match self {
            Status::Skip => 0,
            Status::Done => 1,
            Status::Pass => 2,
            Status::Miss => 3,
            Status::Error => 4,
            Status::Fail => 5,
        }
    }

    /// The status of a whole made of parts with `self` and `other`.
    #[must_use]
    pub fn combine(self, other: Status) -> Status {
        if other.weight() > self.weight() {
            other
        } else {
            self
        }
    }

    /// The status of a whole made of these parts; `Skip` when there are none.
    pub fn summarize<I: IntoIterator<Item = Status>>(parts: I) -> Status {
        parts.into_iter().fold(Status::Skip, Status::combine)
    }

    /// The patch is at fault.
    pub fn is_failure(self) -> bool {
        self == Status::Fail
    }

    /// The state of a Patchwork check that reports this status.
    pub fn patchwork_state(self) -> PatchworkState {
        match self {
            Status::Pass | Status::Done | Status::Skip => PatchworkState::Success,
            Status::Fail => PatchworkState::Fail,
            Status::Error | Status::Miss => PatchworkState::Warning,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of KCIDB's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown status `{}` (expected PASS, FAIL, ERROR, SKIP, MISS or DONE)",
            self.0
        )
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// The states a Patchwork check can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchworkState {
    Pending,
    Success,
    Warning,
    Fail,
}

impl PatchworkState {
    pub fn as_str(self) -> &'static str {
        match self {
            PatchworkState::Pending => "pending",
            PatchworkState::Success => "success",
            PatchworkState::Warning => "warning",
            PatchworkState::Fail => "fail",
        }
    }
}

impl fmt::Display for PatchworkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not `error`, `warning` or `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSeverity(pub String);

impl fmt::Display for UnknownSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown severity `{}` (expected error, warning or info)",
            self.0
        )
    }
}

impl std::error::Error for UnknownSeverity {}

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Severity::Info, Severity::Warning, Severity::Error]
            .into_iter()
            .find(|severity| severity.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heaviest_part_decides() {
        use Status::*;
        assert_eq!(Status::summarize([]), Skip);
        assert_eq!(Status::summarize([Pass, Skip, Done]), Pass);
        assert_eq!(Status::summarize([Pass, Miss]), Miss);
        assert_eq!(Status::summarize([Pass, Error, Miss]), Error);
        // A failure blames the patch even when another part could not run.
        assert_eq!(Status::summarize([Error, Fail, Pass]), Fail);
        assert_eq!(Fail.combine(Error), Fail);
        assert_eq!(Error.combine(Fail), Fail);
    }

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!("pass".parse::<Status>(), Ok(Status::Pass));
        assert!("passed".parse::<Status>().is_err());
        assert_eq!("Warning".parse::<Severity>(), Ok(Severity::Warning));
        assert!(Severity::Error > Severity::Warning && Severity::Warning > Severity::Info);
    }

    #[test]
    fn errors_are_never_reported_as_failures_to_patchwork() {
        assert_eq!(Status::Error.patchwork_state(), PatchworkState::Warning);
        assert_eq!(Status::Miss.patchwork_state(), PatchworkState::Warning);
        assert_eq!(Status::Fail.patchwork_state(), PatchworkState::Fail);
        assert_eq!(Status::Pass.patchwork_state(), PatchworkState::Success);
    }
}

//! Choosing the base: the `base-commit:` of the series when the tree has it, then the
//! project's branches in order (none: the tree's default branch). The first base on which the
//! whole series applies wins (or on which it is all already applied: then the series is
//! reported as such, and nothing further is tried). Every base tried is recorded with why it
//! was tried and why it was rejected.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::apply::{Applied, ApplyFailure, ApplyOptions, PatchFailure};
use crate::error::Error;
use crate::inspect::{Refusal, inspect};
use crate::mirror::is_hex;
use crate::patch::Patch;
use crate::pool::Lease;

/// What the apply stage found, for the store and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub outcome: Outcome,
    /// Every base considered, in order, the winner last.
    pub tried: Vec<Attempt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The series applies on `base`; the working copy now has it.
    Applied {
        base: Base,
        why: String,
        applied: Applied,
    },
    /// Every patch of the series is already in `base`.
    AlreadyApplied {
        base: Base,
        why: String,
        applied: Applied,
    },
    /// No base takes the whole series (see `tried`).
    DoesNotApply,
    /// The series is refused by the inspection; nothing was applied.
    Refused { refusal: Refusal },
}

/// A base: what names it, and the commit it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    pub kind: BaseKind,
    /// The commit id of a `base-commit:`, a branch name, or `HEAD`.
    pub name: String,
    /// The commit (`None` when it does not exist in the tree).
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaseKind {
    /// The series' `base-commit:` trailer.
    BaseCommit,
    /// A branch of the project.
    Branch,
    /// The tree's default branch (the project names none).
    Head,
}

impl fmt::Display for Base {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            BaseKind::BaseCommit => write!(f, "base-commit {}", self.name)?,
            BaseKind::Branch => write!(f, "branch {}", self.name)?,
            BaseKind::Head => write!(f, "the default branch")?,
        }
        match &self.commit {
            Some(c) if self.kind != BaseKind::BaseCommit || !c.starts_with(&self.name) => {
                write!(f, " ({})", short(c))
            }
            _ => Ok(()),
        }
    }
}

/// One base tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub base: Base,
    /// Why it was tried.
    pub why: String,
    pub result: AttemptResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AttemptResult {
    Applied,
    AlreadyApplied,
    /// The base does not exist (no such commit, no such branch).
    Missing {
        reason: String,
    },
    /// The same commit as a base tried before: not tried again.
    SameAsEarlier {
        earlier: String,
    },
    DoesNotApply {
        failure: PatchFailure,
    },
    /// Applied, but the result is refused (a symbolic link leading out of the tree).
    Refused {
        refusal: Refusal,
    },
}

impl fmt::Display for AttemptResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptResult::Applied => f.write_str("the whole series applies"),
            AttemptResult::AlreadyApplied => f.write_str("the whole series is already applied"),
            AttemptResult::Missing { reason } => f.write_str(reason),
            AttemptResult::SameAsEarlier { earlier } => write!(f, "the same commit as {earlier}"),
            AttemptResult::DoesNotApply { failure } => write!(f, "{failure}"),
            AttemptResult::Refused { refusal } => write!(f, "{refusal}"),
        }
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Applied { base, applied, .. } => {
                let already = applied
                    .patches
                    .iter()
                    .filter(|p| p.already_applied.is_some())
                    .count();
                write!(f, "applied on {base}: {} patches", applied.patches.len())?;
                if already > 0 {
                    write!(f, ", {already} of them already applied")?;
                }
            }
            Outcome::AlreadyApplied { base, .. } => write!(f, "already applied on {base}")?,
            Outcome::DoesNotApply => f.write_str("does not apply on any base")?,
            Outcome::Refused { refusal } => return write!(f, "refused: {refusal}"),
        }
        for attempt in &self.tried {
            write!(f, "\n  {}: {}", attempt.base, attempt.result)?;
        }
        Ok(())
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Inspects the series, then tries the bases in order on the leased working copy: the
/// `base-commit:` (fetching the mirror first when it does not have it and
/// [`ApplyOptions::fetch_unknown_base`] is set), then each of `branches` (none: the tree's
/// default branch). On `Outcome::Applied` the working copy holds the applied series.
///
/// `Err` only for infrastructure failures; a series that does not apply is an `Ok` report.
pub async fn choose_base_and_apply(
    lease: &mut Lease,
    patches: &[Patch],
    base_commit: Option<&str>,
    branches: &[String],
    options: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    if let Err(refusal) = inspect(patches, &options.limits) {
        return Ok(ApplyReport {
            outcome: Outcome::Refused { refusal },
            tried: Vec::new(),
        });
    }
    let mut tried: Vec<Attempt> = Vec::new();
    let mut specs: Vec<(BaseKind, String, String)> = Vec::new();
    if let Some(bc) = base_commit.map(str::trim).filter(|s| !s.is_empty()) {
        specs.push((
            BaseKind::BaseCommit,
            bc.to_string(),
            "the series names it in its base-commit: trailer".to_string(),
        ));
    }
    if branches.is_empty() {
        specs.push((
            BaseKind::Head,
            "HEAD".to_string(),
            "the project names no branch: the tree's default branch".to_string(),
        ));
    }
    for (i, branch) in branches.iter().enumerate() {
        specs.push((
            BaseKind::Branch,
            branch.clone(),
            format!("the project's branch {} of {}", i + 1, branches.len()),
        ));
    }
    for (kind, name, why) in specs {
        let (commit, missing) = resolve(lease, kind, &name, options).await?;
        let base = Base {
            kind,
            name,
            commit: commit.clone(),
        };
        let Some(commit) = commit else {
            tried.push(Attempt {
                base,
                why,
                result: AttemptResult::Missing {
                    reason: missing.unwrap_or_else(|| "not in the tree".to_string()),
                },
            });
            continue;
        };
        if let Some(earlier) = tried
            .iter()
            .find(|a| a.base.commit.as_deref() == Some(commit.as_str()))
        {
            let earlier = earlier.base.to_string();
            tried.push(Attempt {
                base,
                why,
                result: AttemptResult::SameAsEarlier { earlier },
            });
            continue;
        }
        tracing::info!(base = %base, "trying base");
        match lease.apply(&commit, patches, options).await {
            Ok(applied) => {
                let all = applied.all_already_applied();
                let won = winner_why(&why, &tried, all);
                tried.push(Attempt {
                    base: base.clone(),
                    why,
                    result: if all {
                        AttemptResult::AlreadyApplied
                    } else {
                        AttemptResult::Applied
                    },
                });
                let outcome = if all {
                    Outcome::AlreadyApplied {
                        base,
                        why: won,
                        applied,
                    }
                } else {
                    Outcome::Applied {
                        base,
                        why: won,
                        applied,
                    }
                };
                return Ok(ApplyReport { outcome, tried });
            }
            Err(ApplyFailure::NotApplicable(failure)) => tried.push(Attempt {
                base,
                why,
                result: AttemptResult::DoesNotApply { failure },
            }),
            Err(ApplyFailure::Refused(refusal)) => {
                tried.push(Attempt {
                    base,
                    why,
                    result: AttemptResult::Refused {
                        refusal: refusal.clone(),
                    },
                });
                return Ok(ApplyReport {
                    outcome: Outcome::Refused { refusal },
                    tried,
                });
            }
            Err(ApplyFailure::Infra(error)) => return Err(error),
        }
    }
    Ok(ApplyReport {
        outcome: Outcome::DoesNotApply,
        tried,
    })
}

/// The commit a base names, or why it names none.
async fn resolve(
    lease: &Lease,
    kind: BaseKind,
    name: &str,
    options: &ApplyOptions,
) -> Result<(Option<String>, Option<String>), Error> {
    let mirror = lease.mirror();
    match kind {
        BaseKind::Head => Ok((
            mirror.head().await?,
            Some("the tree has no default branch".to_string()),
        )),
        BaseKind::Branch => Ok((
            mirror.resolve_branch(name).await?,
            Some(format!("the tree has no branch {name}")),
        )),
        BaseKind::BaseCommit => {
            if !(7..=64).contains(&name.len()) || !is_hex(name) {
                return Ok((None, Some(format!("{name:?} is not a commit id"))));
            }
            if let Some(id) = mirror.resolve(name).await? {
                return Ok((Some(id), None));
            }
            if !options.fetch_unknown_base {
                return Ok((None, Some("the tree has no such commit".to_string())));
            }
            mirror.fetch().await?;
            if let Some(id) = mirror.resolve(name).await? {
                return Ok((Some(id), None));
            }
            if (name.len() == 40 || name.len() == 64) && mirror.fetch_commit(name).await? {
                return Ok((mirror.resolve(name).await?, None));
            }
            Ok((
                None,
                Some("the tree has no such commit, even after fetching".to_string()),
            ))
        }
    }
}

fn winner_why(why: &str, tried: &[Attempt], all_applied: bool) -> String {
    let what = if all_applied {
        "the whole series is already applied there"
    } else {
        "the whole series applies there"
    };
    if tried.is_empty() {
        return format!("{why}; {what}");
    }
    let earlier: Vec<String> = tried
        .iter()
        .map(|a| format!("{}: {}", a.base, a.result))
        .collect();
    format!(
        "{why}; {what}; the bases before it were rejected ({})",
        earlier.join("; ")
    )
}

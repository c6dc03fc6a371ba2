//! Applying a series with `git am -3` in a leased working copy.
//!
//! The whole series goes to **one** `git am` (an mboxrd of all its mails): on a kernel tree a
//! `git am` start costs ~0.1 s of index reading and refreshing, so one per patch would cost
//! more than the whole series does in one. Nothing is lost: when `am` stops, its state names
//! the patch it stopped at (`rebase-apply/next`, checked against `rebase-apply/last`), and
//! each patch's `Applying:` line in its output says which patches made no change.
//!
//! Policies (each is a constant of this module, written once):
//! * committer `gauntlet <gauntlet@localhost>`, committer date = author date
//!   (`--committer-date-is-author-date`): the same series on the same base gives the same
//!   commit ids, every time, on every machine;
//! * `--whitespace=nowarn`: whitespace is neither fixed nor fatal, exactly as the author sent
//!   it; it is reported per patch by `git log --check` over the new commits (precise file and
//!   line, and attributable to a patch, which `am`'s own warnings are not);
//! * `--no-keep-cr`: CRLF line endings of the mail are made LF, as `git am` does by default (a
//!   mail transport adds CRs; a patch that really adds CRs must be sent encoded);
//! * `-3`: a patch whose context moved but whose blobs the tree has still applies, as it
//!   would for the maintainer.
//!
//! A patch that makes no change (`No changes -- Patch already applied.`) is **already
//! applied**; so is a patch that does not apply but whose `git patch-id --stable` is that of a
//! commit among the base's last [`ApplyOptions::patch_id_depth`] commits (then `git am --skip`
//! goes on with the next patch). Either way the commit with the same patch-id is named when
//! there is one.

use std::ffi::OsString;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::git::{self, Output, bounded, without_hints};
use crate::inspect::{self, InspectLimits, Problem, ProblemKind, Refusal, inspect};
use crate::patch::{Patch, PatchRef, mboxrd};
use crate::patchid;
use crate::pool::Lease;

/// How a series is applied.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub limits: InspectLimits,
    /// How many of the base's most recent commits are searched for a patch's patch-id
    /// (default 1000, as NIPA searches titles).
    pub patch_id_depth: usize,
    /// Whether an unknown `base-commit:` makes the cascade fetch the mirror (default true; a
    /// local run without network may turn it off).
    pub fetch_unknown_base: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            limits: InspectLimits::default(),
            patch_id_depth: 1000,
            fetch_unknown_base: true,
        }
    }
}

/// A series applied: the base, the resulting head, one entry per patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub base: String,
    pub head: String,
    pub patches: Vec<PatchOutcome>,
}

impl Applied {
    /// No patch made a change: the whole series is in the base already.
    pub fn all_already_applied(&self) -> bool {
        self.patches.iter().all(|p| p.already_applied.is_some())
    }

    /// The commit of each patch, in order (`None` for a patch already applied).
    pub fn commits(&self) -> Vec<Option<&str>> {
        self.patches.iter().map(|p| p.commit.as_deref()).collect()
    }
}

/// What became of one patch of an applied series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchOutcome {
    pub patch: PatchRef,
    /// The commit it made (`None` when it was already applied).
    pub commit: Option<String>,
    pub already_applied: Option<AlreadyApplied>,
    /// Whitespace errors it introduces (`git log --check`: `file:line: trailing whitespace`).
    pub whitespace: Vec<String>,
}

/// Why a patch counts as already applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlreadyApplied {
    /// In words: "it makes no change to the tree" or "it does not apply, but …".
    pub reason: String,
    pub patch_id: Option<String>,
    /// The base's commit with the same patch-id, when one was found.
    pub commit: Option<String>,
}

/// Why a series could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyFailure {
    /// A patch does not apply: the patch's fault (FAIL).
    #[error("{0}")]
    NotApplicable(PatchFailure),
    /// The series is refused by the inspection, before or after applying (FAIL).
    #[error("{0}")]
    Refused(Refusal),
    /// The infrastructure failed (ERROR): nothing is known about the patches.
    #[error(transparent)]
    Infra(#[from] Error),
}

/// A patch that does not apply, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchFailure {
    pub patch: PatchRef,
    pub kind: FailureKind,
    /// The files that failed, in git's order.
    pub files: Vec<FileFailure>,
    /// git's own words (its messages for this patch, without hints; bounded).
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A hunk does not apply (and the three-way fallback could not help).
    DoesNotApply,
    /// The three-way merge left conflicts.
    Conflict,
    /// git finds no diff in the mail.
    Empty,
}

/// One file of a failed patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFailure {
    pub path: String,
    /// The old-file line where each failing hunk starts (`patch failed: FILE:LINE`).
    pub hunks: Vec<u64>,
    /// What git says about the file (`patch does not apply`, `merge conflict (content)`, …).
    pub problems: Vec<String>,
}

impl fmt::Display for PatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FailureKind::Empty => return write!(f, "{}: git finds no diff in it", self.patch),
            FailureKind::Conflict => write!(f, "{} conflicts", self.patch)?,
            FailureKind::DoesNotApply => write!(f, "{} does not apply", self.patch)?,
        }
        for (i, file) in self.files.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            f.write_str(&file.path)?;
            match file.hunks.as_slice() {
                [] => {}
                [one] => write!(f, " (hunk at line {one})")?,
                many => {
                    let lines: Vec<String> = many.iter().map(u64::to_string).collect();
                    write!(f, " (hunks at lines {})", lines.join(", "))?;
                }
            }
            if !file.problems.is_empty() {
                write!(f, ": {}", file.problems.join(", "))?;
            }
        }
        if self.files.is_empty() {
            let first = self.message.lines().next().unwrap_or("");
            write!(f, ": {first}")?;
        }
        Ok(())
    }
}

/// Messages that say the machine, not the patch, is in trouble.
const INFRA_MARKERS: &[&str] = &[
    "No space left on device",
    "Disk quota exceeded",
    "Read-only file system",
    "Cannot allocate memory",
    "Out of memory",
    "Too many open files",
    "Permission denied",
    "Input/output error",
    "index.lock': File exists",
    "unable to write new index file",
    "unable to write new_index file",
    "could not write index",
    "not a git repository",
    "is corrupt",
    "bad object",
    "unable to read tree",
];

/// The machine's trouble git reports, if any: looked for only in git's own `error:` and
/// `fatal:` lines (a subject or a path could contain the same words).
fn infra_marker(out: &Output) -> Option<&'static str> {
    let text = format!("{}\n{}", out.stdout_text(), out.stderr_text());
    text.lines()
        .filter(|l| l.starts_with("error: ") || l.starts_with("fatal: "))
        .filter(|l| !l.starts_with("error: patch failed: ") && !l.ends_with("patch does not apply"))
        .find_map(|l| INFRA_MARKERS.iter().copied().find(|m| l.contains(m)))
}

/// How one patch fared in `am`, before commits are known.
#[derive(Debug, Clone)]
enum Seen {
    Applied,
    NoChange,
    SamePatchId { patch_id: String, commit: String },
}

impl Lease {
    /// Resets the working copy to `base` and applies the series on it, patch by patch, with
    /// one `git am -3`. The series is inspected first ([`inspect`]); after applying, the
    /// symbolic links it changed are checked on the files themselves. On failure the working
    /// copy is back at `base` (`git am --abort`).
    pub async fn apply(
        &mut self,
        base: &str,
        patches: &[Patch],
        options: &ApplyOptions,
    ) -> Result<Applied, ApplyFailure> {
        inspect(patches, &options.limits).map_err(ApplyFailure::Refused)?;
        let base = self.reset(base).await?;
        if patches.is_empty() {
            return Ok(Applied {
                head: base.clone(),
                base,
                patches: Vec::new(),
            });
        }
        let mbox = self.scratch().join("series.mbox");
        tokio::fs::write(&mbox, mboxrd(patches))
            .await
            .map_err(|e| Error::io(&mbox, e))?;
        let mut seen: Vec<Option<Seen>> = vec![None; patches.len()];
        let mut first = 0usize;
        let mut out = self
            .git()?
            .args([
                "am",
                "-3",
                "--whitespace=nowarn",
                "--no-keep-cr",
                "--committer-date-is-author-date",
                "--patch-format=mboxrd",
            ])
            .arg(&mbox)
            .output()
            .await?;
        loop {
            record_no_changes(&out, first, &mut seen);
            if out.success() {
                break;
            }
            let stopped = self.stopped_at(&out, patches.len()).await?;
            if stopped < first {
                // `am --skip` did not move on: never loop on it.
                return Err(git::failed("am --skip", self.path(), &out).into());
            }
            for s in seen.iter_mut().take(stopped).skip(first) {
                s.get_or_insert(Seen::Applied);
            }
            let patch = &patches[stopped];
            let empty = out.stdout_text().contains("Patch is empty.");
            if !empty && let Some(same) = self.same_patch_id(patch, &base, options).await? {
                tracing::info!(patch = patch.number, commit = %same.1, "already applied (patch-id)");
                seen[stopped] = Some(Seen::SamePatchId {
                    patch_id: same.0,
                    commit: same.1,
                });
                first = stopped + 1;
                out = self.git()?.args(["am", "--skip"]).output().await?;
                continue;
            }
            let failure = self
                .describe_failure(&out, patch, patches.len(), empty)
                .await?;
            self.abort(&base).await?;
            return Err(ApplyFailure::NotApplicable(failure));
        }
        for s in seen.iter_mut().skip(first) {
            s.get_or_insert(Seen::Applied);
        }
        let head = self.rev_parse_head().await?;
        self.head = Some(head.clone());
        let applied = self.outcomes(&base, &head, patches, seen, options).await?;
        if let Err(refusal) = self.check_links(&base, &head, &applied).await? {
            self.reset(&base).await?;
            return Err(ApplyFailure::Refused(refusal));
        }
        Ok(applied)
    }

    /// The 0-based index of the patch `am` stopped at, from its state directory.
    async fn stopped_at(&self, out: &Output, total: usize) -> Result<usize> {
        if let Some(marker) = infra_marker(out) {
            tracing::warn!(marker, "git am failed for a reason of the machine");
            return Err(git::failed("am", self.path(), out));
        }
        let state = self.gitdir().join("rebase-apply");
        let read = |name: &str| -> Option<usize> {
            std::fs::read_to_string(state.join(name))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        match (read("next"), read("last")) {
            (Some(next), Some(last)) if last == total && next >= 1 && next <= total => Ok(next - 1),
            (Some(next), Some(last)) => Err(Error::unexpected(
                self.path(),
                format!("git am stopped at mail {next} of {last}, but the series has {total}"),
            )),
            _ => Err(git::failed("am", self.path(), out)),
        }
    }

    /// The patch-id of `patch` and the base's commit that has it, if any.
    async fn same_patch_id(
        &self,
        patch: &Patch,
        base: &str,
        options: &ApplyOptions,
    ) -> Result<Option<(String, String)>> {
        let Some(id) = patchid::of_patch(self.mirror(), &patch.diff()).await? else {
            return Ok(None);
        };
        let commit = patchid::find_commit(self.mirror(), base, &id, options.patch_id_depth).await?;
        Ok(commit.map(|c| (id, c)))
    }

    /// What failed, and where: git's messages from `am`, then, for the hunks, `git apply
    /// --reject` of the patch on the state `am` stopped in (it names every failing hunk).
    async fn describe_failure(
        &self,
        out: &Output,
        patch: &Patch,
        total: usize,
        empty: bool,
    ) -> Result<PatchFailure> {
        let stdout = out.stdout_text();
        let since_last = match stdout.rfind("Applying: ") {
            Some(i) => &stdout[i..],
            None => stdout.as_str(),
        };
        let mut text = String::new();
        for line in since_last.lines().skip(1) {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&without_hints(&out.stderr_text()));
        let kind = if empty {
            FailureKind::Empty
        } else if text.contains("CONFLICT (") {
            FailureKind::Conflict
        } else {
            FailureKind::DoesNotApply
        };
        let mut files = Files::default();
        files.parse(&text);
        if !empty {
            let diff = self.gitdir().join("rebase-apply").join("patch");
            if diff.is_file() {
                self.git()?
                    .args(["reset", "--quiet", "--hard", "HEAD"])
                    .run()
                    .await?;
                let probe = self
                    .git()?
                    .args(["apply", "--reject", "--verbose", "--whitespace=nowarn"])
                    .arg(&diff)
                    .output()
                    .await?;
                files.parse(&probe.stderr_text());
                if files.0.iter().all(|f| f.hunks.is_empty())
                    && let Ok(bytes) = std::fs::read(&diff)
                {
                    files.conflicting_hunks(&bytes);
                }
            }
        }
        Ok(PatchFailure {
            patch: PatchRef::new(patch, total),
            kind,
            files: files.0,
            message: bounded(text.trim(), 4000),
        })
    }

    async fn abort(&mut self, base: &str) -> Result<()> {
        let out = self.git()?.args(["am", "--abort"]).output().await?;
        if !out.success() {
            tracing::warn!(message = %git::message_of(&out), "git am --abort failed; resetting");
            self.git()?.args(["am", "--quit"]).output().await?;
        }
        self.reset(base).await?;
        Ok(())
    }

    async fn rev_parse_head(&self) -> Result<String> {
        let out = self
            .git()?
            .args(["rev-parse", "--verify", "HEAD"])
            .run()
            .await?;
        Ok(out.first_line())
    }

    /// Pairs the new commits with the patches that made one, confirms the no-change patches
    /// by patch-id, and collects whitespace errors per commit.
    async fn outcomes(
        &self,
        base: &str,
        head: &str,
        patches: &[Patch],
        seen: Vec<Option<Seen>>,
        options: &ApplyOptions,
    ) -> Result<Applied> {
        let range = format!("{base}..{head}");
        let out = self
            .git()?
            .args(["rev-list", "--reverse", &range])
            .run()
            .await?;
        let commits: Vec<String> = out.stdout_text().lines().map(str::to_string).collect();
        let making = seen
            .iter()
            .filter(|s| matches!(s, Some(Seen::Applied)))
            .count();
        if commits.len() != making {
            return Err(Error::unexpected(
                self.path(),
                format!(
                    "git am made {} commits for {making} patches that changed the tree",
                    commits.len()
                ),
            ));
        }
        let whitespace = self.whitespace(&range).await?;
        let mut commits = commits.into_iter();
        let mut outcomes = Vec::with_capacity(patches.len());
        for (patch, seen) in patches.iter().zip(seen) {
            let mut outcome = PatchOutcome {
                patch: PatchRef::new(patch, patches.len()),
                commit: None,
                already_applied: None,
                whitespace: Vec::new(),
            };
            match seen {
                Some(Seen::Applied) | None => {
                    outcome.commit = commits.next();
                    if let Some(c) = &outcome.commit {
                        outcome.whitespace = whitespace
                            .iter()
                            .filter(|(commit, _)| commit == c)
                            .map(|(_, w)| w.clone())
                            .collect();
                    }
                }
                Some(Seen::NoChange) => {
                    let same = self.same_patch_id(patch, base, options).await?;
                    outcome.already_applied = Some(AlreadyApplied {
                        reason: match &same {
                            Some(_) => "it makes no change to the tree".to_string(),
                            None => format!(
                                "it makes no change to the tree (no commit with its patch-id \
                                 among the base's last {} commits)",
                                options.patch_id_depth
                            ),
                        },
                        patch_id: same.as_ref().map(|s| s.0.clone()),
                        commit: same.map(|s| s.1),
                    });
                }
                Some(Seen::SamePatchId { patch_id, commit }) => {
                    outcome.already_applied = Some(AlreadyApplied {
                        reason: "it does not apply, but the base has a commit with the same \
                                 patch-id"
                            .to_string(),
                        patch_id: Some(patch_id),
                        commit: Some(commit),
                    });
                }
            }
            outcomes.push(outcome);
        }
        Ok(Applied {
            base: base.to_string(),
            head: head.to_string(),
            patches: outcomes,
        })
    }

    /// `(commit, "file:line: problem")` for each whitespace error the new commits add.
    async fn whitespace(&self, range: &str) -> Result<Vec<(String, String)>> {
        let out = self
            .git()?
            .args(["log", "--check", "--no-color", "--format=commit %H", range])
            .output()
            .await?;
        if !matches!(out.status.code(), Some(0..=2)) {
            return Err(git::failed("log --check", self.path(), &out));
        }
        let mut found = Vec::new();
        let mut commit = String::new();
        for line in out.stdout_text().lines() {
            if let Some(c) = line.strip_prefix("commit ") {
                commit = c.trim().to_string();
            } else if !line.is_empty() && !line.starts_with('+') && !line.starts_with(' ') {
                found.push((commit.clone(), line.trim_end_matches('.').to_string()));
            }
        }
        Ok(found)
    }

    /// The symbolic links the series created or changed, checked on disk: each must stay
    /// inside the working copy, however it is reached.
    async fn check_links(
        &self,
        base: &str,
        head: &str,
        applied: &Applied,
    ) -> Result<Result<(), Refusal>> {
        let out = self
            .git()?
            .args([
                "diff",
                "--raw",
                "-z",
                "--no-renames",
                "--no-abbrev",
                base,
                head,
            ])
            .run()
            .await?;
        let mut problems = Vec::new();
        let root = std::fs::canonicalize(self.path()).map_err(|e| Error::io(self.path(), e))?;
        let mut fields = out.stdout.split(|&b| b == 0);
        while let Some(meta) = fields.next() {
            let Some(path) = fields.next() else {
                break;
            };
            let new_mode = meta.split(|&b| b == b' ').nth(1);
            if new_mode != Some(b"120000".as_slice()) {
                continue;
            }
            let rel = String::from_utf8_lossy(path).into_owned();
            if let Some(reason) = link_leaves(&root, &rel) {
                let patch = self.patch_touching(base, head, &rel, applied).await?;
                problems.push(Problem {
                    patch,
                    path: Some(rel),
                    kind: ProblemKind::SymlinkOutside,
                    reason,
                });
            }
        }
        Ok(if problems.is_empty() {
            Ok(())
        } else {
            Err(Refusal { problems })
        })
    }

    /// The patch whose commit last changed `path` (the last patch when it cannot be told).
    async fn patch_touching(
        &self,
        base: &str,
        head: &str,
        path: &str,
        applied: &Applied,
    ) -> Result<PatchRef> {
        let out = self
            .git()?
            .args([
                "log",
                "-1",
                "--format=%H",
                &format!("{base}..{head}"),
                "--",
                path,
            ])
            .run()
            .await?;
        let commit = out.first_line();
        let found = applied
            .patches
            .iter()
            .find(|p| p.commit.as_deref() == Some(commit.as_str()))
            .or(applied.patches.last());
        found.map(|p| p.patch.clone()).ok_or_else(|| {
            Error::unexpected(self.path(), "a symbolic link changed by an empty series")
        })
    }
}

/// Why the symbolic link at `rel` (relative to the canonical `root`) leads outside the
/// working copy or into `.git`, if it does: its target is resolved from the link's directory,
/// following every symbolic link met on the way (the tree's own links included), as the
/// kernel would.
fn link_leaves(root: &Path, rel: &str) -> Option<String> {
    let full = root.join(rel);
    let meta = std::fs::symlink_metadata(&full).ok()?;
    if !meta.file_type().is_symlink() {
        return None;
    }
    let target = std::fs::read_link(&full).ok()?;
    let mut hops = 0;
    let parent = Path::new(rel).parent().unwrap_or(Path::new(""));
    let result = resolve_in_tree(root, &[], parent, &mut hops)
        .and_then(|dir| resolve_in_tree(root, &dir, &target, &mut hops));
    result
        .err()
        .map(|why| format!("symbolic link to {}: {why}", target.display()))
}

/// The components (below `root`) that `path`, taken from directory `dir`, resolves to.
fn resolve_in_tree(
    root: &Path,
    dir: &[OsString],
    path: &Path,
    hops: &mut u32,
) -> std::result::Result<Vec<OsString>, String> {
    let mut stack = dir.to_vec();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute path, outside the working copy".to_string());
            }
            Component::ParentDir => {
                if stack.pop().is_none() {
                    return Err("it leads out of the working copy".to_string());
                }
            }
            Component::Normal(name) => {
                if name.eq_ignore_ascii_case(".git") {
                    return Err("it leads into .git".to_string());
                }
                stack.push(name.to_os_string());
                let here: PathBuf = std::iter::once(root.as_os_str())
                    .chain(stack.iter().map(OsString::as_os_str))
                    .collect();
                let Ok(meta) = std::fs::symlink_metadata(&here) else {
                    continue;
                };
                if meta.file_type().is_symlink() {
                    *hops += 1;
                    if *hops > 40 {
                        return Err("too many levels of symbolic links".to_string());
                    }
                    let next = std::fs::read_link(&here).map_err(|e| e.to_string())?;
                    stack.pop();
                    stack = resolve_in_tree(root, &stack, &next, hops)?;
                }
            }
        }
    }
    Ok(stack)
}

/// Marks the patches whose `Applying:` block says `No changes -- Patch already applied.`.
/// `first` is the index of the patch of the first block of this `am` run.
fn record_no_changes(out: &Output, first: usize, seen: &mut [Option<Seen>]) {
    let mut index: Option<usize> = None;
    for line in out.stdout_text().lines() {
        if line.starts_with("Applying: ") {
            index = Some(index.map_or(first, |i| i + 1));
        } else if line.starts_with("No changes -- Patch already applied.")
            && let Some(slot) = index.and_then(|i| seen.get_mut(i))
        {
            *slot = Some(Seen::NoChange);
        }
    }
}

/// The failed files of a patch, as git's messages name them.
#[derive(Default)]
struct Files(Vec<FileFailure>);

impl Files {
    fn entry(&mut self, path: &str) -> &mut FileFailure {
        let i = match self.0.iter().position(|f| f.path == path) {
            Some(i) => i,
            None => {
                self.0.push(FileFailure {
                    path: path.to_string(),
                    hunks: Vec::new(),
                    problems: Vec::new(),
                });
                self.0.len() - 1
            }
        };
        &mut self.0[i]
    }

    fn problem(&mut self, path: &str, problem: &str) {
        let entry = self.entry(path);
        if !entry.problems.iter().any(|p| p == problem) {
            entry.problems.push(problem.to_string());
        }
    }

    fn parse(&mut self, text: &str) {
        for line in text.lines() {
            self.parse_line(line.trim_end());
        }
    }

    fn parse_line(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix("error: patch failed: ") {
            if let Some((path, at)) = rest.rsplit_once(':')
                && let Ok(at) = at.parse::<u64>()
            {
                let entry = self.entry(path);
                if !entry.hunks.contains(&at) {
                    entry.hunks.push(at);
                }
            }
            return;
        }
        if let Some(rest) = line.strip_prefix("CONFLICT (") {
            let Some((kind, what)) = rest.split_once("): ") else {
                return;
            };
            let path = match what.strip_prefix("Merge conflict in ") {
                Some(path) => path,
                None => what.split(' ').next().unwrap_or(what),
            };
            self.problem(path, &format!("merge conflict ({kind})"));
            return;
        }
        if let Some(rest) = line.strip_prefix("error: sha1 information is lacking or useless (") {
            let path = rest.trim_end_matches(").").trim_end_matches(')');
            self.problem(path, "its index line names a blob this tree does not have");
            return;
        }
        for (prefix, problem) in [
            (
                "error: cannot apply binary patch to '",
                "binary patch without full index line",
            ),
            ("error: affected file '", "beyond a symbolic link"),
            ("error: invalid path '", "invalid path"),
        ] {
            if let Some(rest) = line.strip_prefix(prefix)
                && let Some((path, _)) = rest.split_once('\'')
            {
                self.problem(path, problem);
                return;
            }
        }
        if let Some(rest) = line.strip_prefix("error: ") {
            for known in [
                "patch does not apply",
                "does not exist in index",
                "does not exist in working tree",
                "No such file or directory",
                "already exists in index",
                "already exists in working directory",
                "does not match index",
                "wrong type",
            ] {
                if let Some(path) = rest.strip_suffix(known).and_then(|p| p.strip_suffix(": ")) {
                    self.problem(path, known);
                    return;
                }
            }
        }
    }

    /// When git named no hunk (a conflict), every hunk of the conflicting files is a suspect:
    /// name their start lines from the patch itself.
    fn conflicting_hunks(&mut self, diff: &[u8]) {
        for (path, starts) in inspect::hunk_starts(diff) {
            if let Some(entry) = self.0.iter_mut().find(|f| f.path == path)
                && entry.hunks.is_empty()
            {
                entry.hunks = starts;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn git_messages_name_files_and_hunks() {
        let mut files = Files::default();
        files.parse(
            "error: patch failed: net/core/dev.c:120\n\
             error: net/core/dev.c: patch does not apply\n\
             CONFLICT (content): Merge conflict in kernel/fork.c\n\
             CONFLICT (modify/delete): mm/slab.c deleted in HEAD and modified in x.\n\
             error: sha1 information is lacking or useless (lib/x.c).\n\
             error: include/a.h: does not exist in index\n\
             error: patch failed: net/core/dev.c:300\n",
        );
        let got: Vec<(&str, &[u64], Vec<&str>)> = files
            .0
            .iter()
            .map(|f| {
                (
                    f.path.as_str(),
                    f.hunks.as_slice(),
                    f.problems.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "net/core/dev.c",
                    &[120u64, 300][..],
                    vec!["patch does not apply"]
                ),
                ("kernel/fork.c", &[][..], vec!["merge conflict (content)"]),
                ("mm/slab.c", &[][..], vec!["merge conflict (modify/delete)"]),
                (
                    "lib/x.c",
                    &[][..],
                    vec!["its index line names a blob this tree does not have"]
                ),
                ("include/a.h", &[][..], vec!["does not exist in index"]),
            ]
        );
    }

    #[test]
    fn failures_read_well() {
        let failure = PatchFailure {
            patch: PatchRef {
                number: 3,
                of: 5,
                subject: "net: fix".into(),
            },
            kind: FailureKind::DoesNotApply,
            files: vec![FileFailure {
                path: "net/core/dev.c".into(),
                hunks: vec![120],
                problems: vec!["patch does not apply".into()],
            }],
            message: String::new(),
        };
        assert_eq!(
            failure.to_string(),
            "patch 3/5 \"net: fix\" does not apply: net/core/dev.c (hunk at line 120): patch does not apply"
        );
    }
}

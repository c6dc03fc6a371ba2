//! Published trees: each applied submission pushed to a git remote as a branch, so that authors,
//! reviewers and other CI systems can fetch exactly what was tested (what 0-day and Patchew do).
//!
//! * **The branch** is `gauntlet/<project>/<series id>-v<revision>`, force-pushed: a rerun of
//!   the same submission may produce a different commit (a new base), and the branch must name
//!   what was tested last. The project's name is made ref-safe ([`ref_component`]) and the whole
//!   name is checked with `git check-ref-format`.
//! * **The base** is recorded in a git note on the head commit, under `refs/notes/gauntlet`,
//!   pushed together with the branch (`--atomic` where the remote supports it):
//!
//!   ```text
//!   branch: gauntlet/proctree-syscall/12-v3
//!   base-commit: 1f2e…
//!   series: 12
//!   revision: 3
//!   published-at: 1735689600
//!   ```
//!
//!   A note rather than the branch's description: `branch.<name>.description` is local
//!   configuration, which `git push` never sends, so nobody fetching the branch would see it.
//!   A note is an ordinary ref that travels with `git fetch origin refs/notes/gauntlet:…` and that
//!   `git log --notes=gauntlet` shows. The same commit can be published under several branches
//!   (two projects on one tree apply the same series to the same base and, with
//!   `--committer-date-is-author-date`, get the same commit): the note then holds one block per
//!   branch, separated by a blank line, and each publication replaces only its own block.
//! * **Concurrent publishers** (several workers) each build their note on the remote's notes ref
//!   as just fetched, in a temporary ref of their own (so that nothing local is shared), and push
//!   it without force: when another publisher got there first the push is refused as
//!   non-fast-forward and the whole publication is retried on top of theirs.
//! * **Expiry** ([`Publisher::expire`]) deletes the project's branches older than a maximum age,
//!   the age read from the note (`published-at:`), or, for a branch without one, from its
//!   commit's committer date. Deletion is leased (`--force-with-lease=<ref>:<commit seen>`), so
//!   a branch re-published since it was listed is kept; the notes of what was deleted are pruned.
//!   Only names of the form `<digits>-v<digits>` are ever deleted: a branch someone else put
//!   under the prefix is not gauntlet's to remove.
//! * Time is always passed in (`now`): tests use a fake clock, and the published time is the
//!   caller's notion of when the run ended.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::git::{self, Git, GitSettings, Output};
use crate::mirror::is_hex;

/// The notes ref that records what each published branch was built on.
pub const NOTES_REF: &str = "refs/notes/gauntlet";

/// Every published branch starts with this.
pub const BRANCH_PREFIX: &str = "gauntlet/";

/// How many times a publication or a notes update is retried when another publisher moved the
/// notes ref in between.
const ATTEMPTS: usize = 5;

/// At most this many branches are deleted by one `git push`.
const DELETE_CHUNK: usize = 200;

/// One submission to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The project's name, as its project file says (made ref-safe here).
    pub project: String,
    /// The series' id in the store.
    pub series_id: i64,
    /// The revision (v1, v2, …) of the series.
    pub revision: u32,
    /// The commit that holds the applied series (the tested tree).
    pub head: String,
    /// The commit the series was applied on.
    pub base: String,
}

/// What [`Publisher::publish`] pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// `gauntlet/<project>/<series id>-v<revision>` (without `refs/heads/`).
    pub branch: String,
    pub head: String,
    pub base: String,
    /// Unix time recorded in the note.
    pub published_at: u64,
}

/// Where the age of a branch came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeSource {
    /// `published-at:` in the branch's block of the note on its head.
    Note,
    /// No note for the branch: the head commit's committer date.
    CommitDate,
}

/// A published branch as found on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteBranch {
    /// Without `refs/heads/`.
    pub branch: String,
    pub head: String,
    /// Unix time of publication (or of the commit; see `age_from`).
    pub published_at: u64,
    pub age_from: AgeSource,
}

/// Publishes to and expires from one remote, from one local repository (a mirror, or any
/// repository that has the commits: a lease's worktree shares its mirror's objects).
#[derive(Debug, Clone)]
pub struct Publisher {
    repo: PathBuf,
    remote: String,
    settings: GitSettings,
}

/// [`Publisher::publish`] with the default [`GitSettings`].
pub async fn publish(
    repo: &Path,
    remote_url: &str,
    publication: &Publication,
    now: SystemTime,
) -> Result<Published> {
    Publisher::new(repo, remote_url)
        .publish(publication, now)
        .await
}

/// [`Publisher::expire`] with the default [`GitSettings`].
pub async fn expire(
    repo: &Path,
    remote_url: &str,
    project: &str,
    max_age: Duration,
    now: SystemTime,
) -> Result<Vec<RemoteBranch>> {
    Publisher::new(repo, remote_url)
        .expire(project, max_age, now)
        .await
}

/// Makes a project's name one ref-safe path component: ASCII letters (lowercased, so that two
/// names never differ by case only, which case-insensitive file systems would merge), digits,
/// `.`, `_` and `-`; any other run of characters becomes one `-`; no leading `.` or `-`, no
/// `..`, no trailing `.` or `.lock`. An empty result is an error. `Proctree Syscall` →
/// `proctree-syscall`.
pub fn ref_component(name: &str) -> Result<String> {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        let keep = c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
        let c = if keep { c } else { '-' };
        let previous = out.chars().last();
        if (c == '-' && previous == Some('-')) || (c == '.' && previous == Some('.')) {
            continue;
        }
        out.push(c);
    }
    let mut out = out.trim_matches(['-', '.']).to_string();
    while let Some(stem) = out.strip_suffix(".lock") {
        out = stem.trim_end_matches(['-', '.']).to_string();
    }
    if out.is_empty() {
        return Err(Error::InvalidName {
            name: name.to_string(),
            reason: "nothing ref-safe is left of it".to_string(),
        });
    }
    Ok(out)
}

/// `gauntlet/<project>/<series id>-v<revision>`, the project made ref-safe.
pub fn branch_name(project: &str, series_id: i64, revision: u32) -> Result<String> {
    if series_id < 0 {
        return Err(Error::InvalidName {
            name: series_id.to_string(),
            reason: "a series id is never negative".to_string(),
        });
    }
    let project = ref_component(project)?;
    Ok(format!("{BRANCH_PREFIX}{project}/{series_id}-v{revision}"))
}

/// One block of a note: the record of one branch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    branch: String,
    fields: Vec<(String, String)>,
}

impl Block {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn render(&self, out: &mut String) {
        out.push_str(&format!("branch: {}\n", self.branch));
        for (key, value) in &self.fields {
            out.push_str(&format!("{key}: {value}\n"));
        }
    }
}

/// The blocks of a note; text that is not `key: value` lines under a `branch:` line is kept as
/// it is (someone else's note on the same commit is not ours to drop).
fn parse_note(text: &str) -> (Vec<Block>, String) {
    let mut blocks = Vec::new();
    let mut other = String::new();
    for chunk in text.split("\n\n") {
        let mut lines = chunk.lines().filter(|l| !l.trim().is_empty());
        let Some(branch) = lines
            .clone()
            .next()
            .and_then(|l| l.strip_prefix("branch: "))
        else {
            if !chunk.trim().is_empty() {
                other.push_str(chunk.trim_end());
                other.push_str("\n\n");
            }
            continue;
        };
        lines.next();
        let fields = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect();
        blocks.push(Block {
            branch: branch.trim().to_string(),
            fields,
        });
    }
    (blocks, other)
}

fn render_note(blocks: &[Block], other: &str) -> String {
    let mut out = other.to_string();
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        block.render(&mut out);
    }
    out
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn is_object_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && is_hex(s)
}

/// A ref name private to this call, so that two publications in one repository never share a
/// local ref (the remote's is the only shared one). Under `refs/notes/` for notes (where
/// `git notes --ref` wants them), `refs/gauntlet-scratch/` for fetched branches.
fn scratch_ref(kind: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let namespace = if kind == "date" {
        "refs/gauntlet-scratch"
    } else {
        "refs/notes/gauntlet-scratch"
    };
    format!("{namespace}/{kind}/{}-{n}", std::process::id())
}

/// Parses `git push --porcelain` lines: `(flag, destination ref, summary)`.
fn porcelain(out: &Output) -> Vec<(char, String, String)> {
    out.stdout_text()
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let flag = parts.next()?.chars().next()?;
            let (_, to) = parts.next()?.split_once(':')?;
            let summary = parts.next().unwrap_or("").to_string();
            Some((flag, to.to_string(), summary))
        })
        .collect()
}

/// `<series id>-v<revision>`: the only names under a project's prefix that gauntlet made.
fn is_publication_name(name: &str) -> bool {
    let Some((series, revision)) = name.split_once("-v") else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(series) && digits(revision)
}

impl Publisher {
    /// Publishes from the repository at `repo` to `remote_url` (a URL, or the absolute path of
    /// a repository: a relative one would be read from `repo`), with the default
    /// [`GitSettings`].
    pub fn new(repo: &Path, remote_url: &str) -> Publisher {
        Publisher::with_settings(repo, remote_url, GitSettings::default())
    }

    pub fn with_settings(repo: &Path, remote_url: &str, settings: GitSettings) -> Publisher {
        Publisher {
            repo: repo.to_path_buf(),
            remote: remote_url.to_string(),
            settings,
        }
    }

    fn git(&self) -> Git<'_> {
        Git::new(&self.settings, &self.repo)
            // The notes commits need an author; the committer is set for every git already.
            .args([
                "-c",
                "user.name=gauntlet",
                "-c",
                "user.email=gauntlet@localhost",
            ])
    }

    /// `git fetch` from the remote into refs of the caller's choosing: no tags, no
    /// `FETCH_HEAD` (two fetches at once would race on it), the network's timeout.
    fn fetch_from_remote(&self) -> Git<'_> {
        self.git()
            .args([
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--",
            ])
            .arg(&self.remote)
            .fetch_timeout()
    }

    fn publish_error(&self, message: impl Into<String>) -> Error {
        Error::Publish {
            remote: self.remote.clone(),
            message: message.into(),
        }
    }

    /// Pushes `publication.head` to `refs/heads/gauntlet/<project>/<series id>-v<revision>`
    /// (forced) and the note recording its base to [`NOTES_REF`], in one push.
    pub async fn publish(&self, publication: &Publication, now: SystemTime) -> Result<Published> {
        let branch = branch_name(
            &publication.project,
            publication.series_id,
            publication.revision,
        )?;
        self.check_ref_format(&format!("refs/heads/{branch}"))
            .await?;
        for (what, id) in [("head", &publication.head), ("base", &publication.base)] {
            if !is_object_id(id) {
                return Err(self.publish_error(format!("the {what} {id:?} is not a commit id")));
            }
        }
        let present = self
            .git()
            .args(["cat-file", "-e", "--end-of-options"])
            .arg(format!("{}^{{commit}}", publication.head))
            .output()
            .await?;
        if !present.success() {
            return Err(self.publish_error(format!(
                "{} has no commit {}",
                self.repo.display(),
                publication.head
            )));
        }
        let published_at = unix(now);
        let block = Block {
            branch: branch.clone(),
            fields: vec![
                ("base-commit".to_string(), publication.base.clone()),
                ("series".to_string(), publication.series_id.to_string()),
                ("revision".to_string(), publication.revision.to_string()),
                ("published-at".to_string(), published_at.to_string()),
            ],
        };
        let mut atomic = true;
        for attempt in 1..=ATTEMPTS {
            let scratch = scratch_ref("publish");
            let pushed = self
                .push_with_note(&publication.head, &branch, &block, &scratch, atomic)
                .await;
            self.drop_ref(&scratch).await;
            match pushed? {
                Pushed::Done => {
                    tracing::info!(
                        remote = %self.remote,
                        branch = %branch,
                        head = %publication.head,
                        base = %publication.base,
                        "published"
                    );
                    return Ok(Published {
                        branch,
                        head: publication.head.clone(),
                        base: publication.base.clone(),
                        published_at,
                    });
                }
                Pushed::NotesMoved => {
                    tracing::debug!(attempt, branch = %branch, "notes ref moved meanwhile; again");
                    // Publishers that collided once would collide again in lockstep.
                    let spread = 20 * attempt as u64 + u64::from(std::process::id() % 7) * 5;
                    tokio::time::sleep(Duration::from_millis(spread)).await;
                }
                Pushed::NoAtomic => {
                    tracing::debug!(remote = %self.remote, "no atomic push; pushing refs one by one");
                    atomic = false;
                }
            }
        }
        Err(self.publish_error(format!(
            "{NOTES_REF} kept moving: gave up after {ATTEMPTS} attempts"
        )))
    }

    /// One attempt: the remote's notes fetched into `scratch`, this branch's block replaced,
    /// branch and notes pushed.
    async fn push_with_note(
        &self,
        head: &str,
        branch: &str,
        block: &Block,
        scratch: &str,
        atomic: bool,
    ) -> Result<Pushed> {
        let expected = self.fetch_notes(scratch).await?;
        let existing = self.note(scratch, head).await?;
        let (mut blocks, other) = parse_note(existing.as_deref().unwrap_or(""));
        blocks.retain(|b| b.branch != block.branch);
        blocks.push(block.clone());
        self.git()
            .args([
                "notes", "--ref", scratch, "add", "--force", "--file=-", head,
            ])
            .stdin_bytes(render_note(&blocks, &other).into_bytes())
            .run()
            .await?;
        let mut push = self.git().args(["push", "--porcelain", "--no-verify"]);
        if atomic {
            push = push.arg("--atomic");
        }
        let lease = match &expected {
            Some(old) => format!("--force-with-lease={NOTES_REF}:{old}"),
            None => format!("--force-with-lease={NOTES_REF}:"),
        };
        let out = push
            .arg(lease)
            .args(["--", &self.remote])
            .arg(format!("+{head}:refs/heads/{branch}"))
            .arg(format!("{scratch}:{NOTES_REF}"))
            .fetch_timeout()
            .output()
            .await?;
        if out.success() {
            return Ok(Pushed::Done);
        }
        let message = git::message_of(&out);
        if atomic && message.contains("does not support --atomic") {
            return Ok(Pushed::NoAtomic);
        }
        let notes_refused = porcelain(&out)
            .iter()
            .any(|(flag, to, _)| *flag == '!' && to == NOTES_REF);
        if notes_refused {
            return Ok(Pushed::NotesMoved);
        }
        Err(git::failed("push", &self.repo, &out))
    }

    /// `git check-ref-format`: what git itself refuses is refused here.
    async fn check_ref_format(&self, name: &str) -> Result<()> {
        let out = Git::new(&self.settings, &self.repo)
            .args(["check-ref-format", name])
            .output()
            .await?;
        if out.success() {
            return Ok(());
        }
        Err(Error::InvalidName {
            name: name.to_string(),
            reason: "git check-ref-format refuses it".to_string(),
        })
    }

    /// The remote's refs, `(commit, ref)`, of the given patterns.
    async fn ls_remote(&self, patterns: &[&str]) -> Result<Vec<(String, String)>> {
        let out = self
            .git()
            .args(["ls-remote", "--refs", "--", &self.remote])
            .args(patterns)
            .fetch_timeout()
            .run()
            .await?;
        Ok(out
            .stdout_text()
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter(|(id, _)| is_object_id(id))
            .map(|(id, name)| (id.to_string(), name.to_string()))
            .collect())
    }

    /// Fetches the remote's [`NOTES_REF`] into `scratch`; its commit, or `None` when the remote
    /// has no notes yet.
    async fn fetch_notes(&self, scratch: &str) -> Result<Option<String>> {
        let listed = self.ls_remote(&[NOTES_REF]).await?;
        if !listed.iter().any(|(_, name)| name == NOTES_REF) {
            return Ok(None);
        }
        self.fetch_from_remote()
            .arg(format!("+{NOTES_REF}:{scratch}"))
            .run()
            .await?;
        let out = self
            .git()
            .args(["rev-parse", "--verify", "--quiet", scratch])
            .run()
            .await?;
        Ok(Some(out.first_line()))
    }

    /// The note on `commit` in the notes ref `notes`, if any.
    async fn note(&self, notes: &str, commit: &str) -> Result<Option<String>> {
        let out = self
            .git()
            .args(["notes", "--ref", notes, "show", commit])
            .output()
            .await?;
        if out.success() {
            return Ok(Some(out.stdout_text()));
        }
        // `notes show` exits 1 for "no note found" (and when the notes ref does not exist).
        if out.status.code() == Some(1) {
            return Ok(None);
        }
        Err(git::failed("notes show", &self.repo, &out))
    }

    async fn drop_ref(&self, name: &str) {
        let removed = self.git().args(["update-ref", "-d", name]).output().await;
        if let Err(e) = removed {
            tracing::warn!(reference = name, error = %e, "cannot remove a scratch ref");
        }
    }

    /// The record of `branch` in the note on `head`, fetched from the remote: what a reviewer
    /// reads with `git fetch <remote> refs/notes/gauntlet:refs/notes/gauntlet` and
    /// `git notes --ref=gauntlet show <head>`. `None` when the remote has no such record.
    pub async fn record(
        &self,
        branch: &str,
        head: &str,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let scratch = scratch_ref("read");
        let found = async {
            if self.fetch_notes(&scratch).await?.is_none() {
                return Ok(None);
            }
            let note = self.note(&scratch, head).await?;
            let (blocks, _) = parse_note(note.as_deref().unwrap_or(""));
            Ok(blocks
                .into_iter()
                .find(|b| b.branch == branch)
                .map(|b| b.fields.into_iter().collect()))
        }
        .await;
        self.drop_ref(&scratch).await;
        found
    }

    /// The project's published branches on the remote, with their publication times.
    pub async fn list(&self, project: &str) -> Result<Vec<RemoteBranch>> {
        let scratch = scratch_ref("list");
        let listed = self.list_into(project, &scratch).await;
        self.drop_ref(&scratch).await;
        listed.map(|(branches, _)| branches)
    }

    /// Lists into `scratch` (which then holds the remote's notes): the branches, and the
    /// commit of the notes ref fetched.
    async fn list_into(
        &self,
        project: &str,
        scratch: &str,
    ) -> Result<(Vec<RemoteBranch>, Option<String>)> {
        let prefix = format!("refs/heads/{BRANCH_PREFIX}{}/", ref_component(project)?);
        let pattern = format!("{prefix}*");
        let heads: Vec<(String, String)> = self
            .ls_remote(&[&pattern])
            .await?
            .into_iter()
            .filter_map(|(id, name)| {
                let rest = name.strip_prefix(&prefix)?;
                let branch = name.strip_prefix("refs/heads/")?.to_string();
                is_publication_name(rest).then_some((id, branch))
            })
            .collect();
        if heads.is_empty() {
            return Ok((Vec::new(), None));
        }
        let notes = self.fetch_notes(scratch).await?;
        let mut times: HashMap<String, u64> = HashMap::new();
        if notes.is_some() {
            times = self.note_times(scratch, &heads).await?;
        }
        let undated: Vec<&(String, String)> = heads
            .iter()
            .filter(|(_, branch)| !times.contains_key(branch))
            .collect();
        let dates = if undated.is_empty() {
            HashMap::new()
        } else {
            self.commit_dates(&undated).await?
        };
        let mut branches = Vec::with_capacity(heads.len());
        for (head, branch) in &heads {
            let (published_at, age_from) = match times.get(branch) {
                Some(t) => (*t, AgeSource::Note),
                None => match dates.get(head) {
                    Some(t) => (*t, AgeSource::CommitDate),
                    None => {
                        return Err(self.publish_error(format!(
                            "cannot date {branch}: no note and its commit {head} cannot be read"
                        )));
                    }
                },
            };
            branches.push(RemoteBranch {
                branch: branch.clone(),
                head: head.clone(),
                published_at,
                age_from,
            });
        }
        branches.sort_by(|a, b| a.branch.cmp(&b.branch));
        Ok((branches, notes))
    }

    /// `published-at` of every branch whose head's note has a block for it: the notes listed
    /// once and their blobs read in one `git cat-file --batch`.
    async fn note_times(
        &self,
        notes: &str,
        heads: &[(String, String)],
    ) -> Result<HashMap<String, u64>> {
        let blobs = self.note_blobs(notes).await?;
        let wanted: Vec<(&String, &String)> = heads
            .iter()
            .filter_map(|(head, branch)| blobs.get(head).map(|blob| (blob, branch)))
            .collect();
        let texts = self
            .cat_blobs(wanted.iter().map(|(blob, _)| blob.as_str()))
            .await?;
        let mut times = HashMap::new();
        for (blob, branch) in wanted {
            let Some(text) = texts.get(blob) else {
                continue;
            };
            let (blocks, _) = parse_note(text);
            let at = blocks
                .iter()
                .find(|b| &b.branch == branch)
                .and_then(|b| b.get("published-at"))
                .and_then(|t| t.parse().ok());
            if let Some(at) = at {
                times.insert(branch.clone(), at);
            }
        }
        Ok(times)
    }

    /// `annotated object → note blob` of a notes ref.
    async fn note_blobs(&self, notes: &str) -> Result<HashMap<String, String>> {
        let out = self
            .git()
            .args(["notes", "--ref", notes, "list"])
            .run()
            .await?;
        Ok(out
            .stdout_text()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(blob, object)| (object.to_string(), blob.to_string()))
            .collect())
    }

    /// The contents of blobs, read by one `git cat-file --batch`.
    async fn cat_blobs<'b>(
        &self,
        ids: impl Iterator<Item = &'b str>,
    ) -> Result<HashMap<String, String>> {
        let mut input = String::new();
        for id in ids {
            input.push_str(id);
            input.push('\n');
        }
        if input.is_empty() {
            return Ok(HashMap::new());
        }
        let out = self
            .git()
            .args(["cat-file", "--batch"])
            .stdin_bytes(input.into_bytes())
            .run()
            .await?;
        let mut texts = HashMap::new();
        let mut rest = out.stdout.as_slice();
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let header = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = &rest[end + 1..];
            let fields: Vec<&str> = header.split(' ').collect();
            let [id, _, size] = fields.as_slice() else {
                continue; // `<id> missing`
            };
            let Ok(size) = size.parse::<usize>() else {
                return Err(Error::unexpected(
                    &self.repo,
                    format!("cat-file printed {header:?}"),
                ));
            };
            if rest.len() < size {
                return Err(Error::unexpected(&self.repo, "cat-file output cut short"));
            }
            texts.insert(
                id.to_string(),
                String::from_utf8_lossy(&rest[..size]).into_owned(),
            );
            rest = rest.get(size + 1..).unwrap_or(&[]);
        }
        Ok(texts)
    }

    /// Committer dates of branch heads, fetching the branches the repository lacks (another
    /// host published them) into a scratch namespace first.
    async fn commit_dates(&self, heads: &[&(String, String)]) -> Result<HashMap<String, u64>> {
        let mut query = String::new();
        for (head, _) in heads {
            query.push_str(head);
            query.push('\n');
        }
        let known = self
            .git()
            .args(["cat-file", "--batch-check=%(objectname) %(objecttype)"])
            .stdin_bytes(query.into_bytes())
            .run()
            .await?
            .stdout_text();
        let present: Vec<&str> = known
            .lines()
            .filter_map(|l| l.strip_suffix(" commit"))
            .collect();
        let mut refspecs = Vec::new();
        let mut scratch = Vec::new();
        for (i, (head, branch)) in heads.iter().enumerate() {
            if !present.contains(&head.as_str()) {
                let local = format!("{}/{i}", scratch_ref("date"));
                refspecs.push(format!("+refs/heads/{branch}:{local}"));
                scratch.push(local);
            }
        }
        if !refspecs.is_empty() {
            let fetched = self.fetch_from_remote().args(&refspecs).run().await;
            if let Err(e) = fetched {
                for name in &scratch {
                    self.drop_ref(name).await;
                }
                return Err(e);
            }
        }
        let out = self
            .git()
            .args([
                "show",
                "--no-patch",
                "--no-walk",
                "--format=%H %ct",
                "--end-of-options",
            ])
            .args(heads.iter().map(|(head, _)| head.as_str()))
            .run()
            .await;
        for name in &scratch {
            self.drop_ref(name).await;
        }
        Ok(out?
            .stdout_text()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter_map(|(id, t)| Some((id.to_string(), t.trim().parse().ok()?)))
            .collect())
    }

    /// Deletes the project's published branches older than `max_age` at `now` (leased: a
    /// branch re-published since it was listed stays), prunes their notes, and returns what
    /// was deleted.
    pub async fn expire(
        &self,
        project: &str,
        max_age: Duration,
        now: SystemTime,
    ) -> Result<Vec<RemoteBranch>> {
        let scratch = scratch_ref("expire");
        let listed = self.list_into(project, &scratch).await;
        self.drop_ref(&scratch).await;
        let (branches, _) = listed?;
        let now = unix(now);
        let old: Vec<RemoteBranch> = branches
            .into_iter()
            .filter(|b| now.saturating_sub(b.published_at) > max_age.as_secs())
            .collect();
        let mut deleted = Vec::new();
        for chunk in old.chunks(DELETE_CHUNK) {
            deleted.extend(self.delete(chunk).await?);
        }
        if !deleted.is_empty() {
            let gone: Vec<(String, String)> = deleted
                .iter()
                .map(|b| (b.branch.clone(), b.head.clone()))
                .collect();
            // The branches are gone whatever happens to their notes; a failed prune is retried
            // by the next expiry (its blocks name branches that no longer exist).
            if let Err(e) = self.prune_notes(&gone).await {
                tracing::warn!(remote = %self.remote, error = %e, "cannot prune the notes of expired branches");
            }
        }
        tracing::info!(
            remote = %self.remote,
            project,
            deleted = deleted.len(),
            "expired published branches"
        );
        Ok(deleted)
    }

    /// `git push --delete`, each ref leased on the commit it was seen at.
    async fn delete(&self, branches: &[RemoteBranch]) -> Result<Vec<RemoteBranch>> {
        let mut push = self.git().args(["push", "--porcelain", "--no-verify"]);
        for b in branches {
            push = push.arg(format!(
                "--force-with-lease=refs/heads/{}:{}",
                b.branch, b.head
            ));
        }
        let out = push
            .args(["--delete", "--", &self.remote])
            .args(branches.iter().map(|b| format!("refs/heads/{}", b.branch)))
            .fetch_timeout()
            .output()
            .await?;
        let results = porcelain(&out);
        if results.is_empty() && !out.success() {
            return Err(git::failed("push --delete", &self.repo, &out));
        }
        let mut deleted = Vec::new();
        for b in branches {
            let full = format!("refs/heads/{}", b.branch);
            match results.iter().find(|(_, to, _)| *to == full) {
                Some(('-', _, _)) => deleted.push(b.clone()),
                Some((_, _, summary)) => {
                    tracing::info!(branch = %b.branch, %summary, "published branch kept (changed since listed)");
                }
                None => tracing::warn!(branch = %b.branch, "git push said nothing of this branch"),
            }
        }
        Ok(deleted)
    }

    /// Removes the blocks of the deleted branches `(branch, head)` from the notes, retried
    /// when another publisher moved the notes ref meanwhile.
    async fn prune_notes(&self, gone: &[(String, String)]) -> Result<()> {
        for _ in 0..ATTEMPTS {
            let scratch = scratch_ref("prune");
            let pruned = self.prune_once(gone, &scratch).await;
            self.drop_ref(&scratch).await;
            if pruned? {
                return Ok(());
            }
        }
        Err(self.publish_error(format!(
            "{NOTES_REF} kept moving: gave up pruning after {ATTEMPTS} attempts"
        )))
    }

    /// `Ok(false)`: the notes ref moved; try again.
    async fn prune_once(&self, gone: &[(String, String)], scratch: &str) -> Result<bool> {
        let Some(expected) = self.fetch_notes(scratch).await? else {
            return Ok(true);
        };
        let mut changed = false;
        for (branch, head) in gone {
            let Some(note) = self.note(scratch, head).await? else {
                continue;
            };
            let (mut blocks, other) = parse_note(&note);
            let before = blocks.len();
            blocks.retain(|b| &b.branch != branch);
            if blocks.len() == before {
                continue;
            }
            changed = true;
            let rest = render_note(&blocks, &other);
            if rest.trim().is_empty() {
                self.git()
                    .args(["notes", "--ref", scratch, "remove", head])
                    .run()
                    .await?;
            } else {
                self.git()
                    .args([
                        "notes", "--ref", scratch, "add", "--force", "--file=-", head,
                    ])
                    .stdin_bytes(rest.into_bytes())
                    .run()
                    .await?;
            }
        }
        if !changed {
            return Ok(true);
        }
        let out = self
            .git()
            .args(["push", "--porcelain", "--no-verify"])
            .arg(format!("--force-with-lease={NOTES_REF}:{expected}"))
            .args(["--", &self.remote])
            .arg(format!("{scratch}:{NOTES_REF}"))
            .fetch_timeout()
            .output()
            .await?;
        if out.success() {
            return Ok(true);
        }
        if porcelain(&out).iter().any(|(flag, _, _)| *flag == '!') {
            return Ok(false);
        }
        Err(git::failed("push", &self.repo, &out))
    }
}

/// How one publication attempt ended.
enum Pushed {
    Done,
    /// The remote's notes moved since they were fetched: build on them again.
    NotesMoved,
    /// The remote refuses `--atomic`: push without.
    NoAtomic,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn project_names_become_ref_safe() {
        assert_eq!(
            ref_component("Proctree Syscall").unwrap(),
            "proctree-syscall"
        );
        assert_eq!(ref_component("linux/net-next").unwrap(), "linux-net-next");
        assert_eq!(ref_component("..a..b..").unwrap(), "a.b");
        assert_eq!(ref_component("x.lock").unwrap(), "x");
        assert_eq!(ref_component("a.lock.lock").unwrap(), "a");
        assert_eq!(ref_component("-dash").unwrap(), "dash");
        assert_eq!(ref_component("a@{b}~^:?*[c\\").unwrap(), "a-b-c");
        assert_eq!(ref_component("héllo wörld").unwrap(), "h-llo-w-rld");
        assert!(ref_component("").is_err());
        assert!(ref_component("///").is_err());
        assert_eq!(ref_component(".lock").unwrap(), "lock");
        assert!(ref_component("ééé").is_err());
        assert_eq!(
            branch_name("Course", 12, 3).unwrap(),
            "gauntlet/course/12-v3"
        );
        assert!(branch_name("Course", -1, 1).is_err());
    }

    #[test]
    fn notes_keep_other_blocks_and_foreign_text() {
        let text = "Some human note\n\nbranch: gauntlet/a/1-v1\nbase-commit: x\npublished-at: 5\n\n\
                    branch: gauntlet/b/1-v1\npublished-at: 7\n";
        let (mut blocks, other) = parse_note(text);
        assert_eq!(other, "Some human note\n\n");
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[1].get("published-at"), Some("7"));
        blocks.retain(|b| b.branch != "gauntlet/a/1-v1");
        assert_eq!(
            render_note(&blocks, &other),
            "Some human note\n\nbranch: gauntlet/b/1-v1\npublished-at: 7\n"
        );
        assert_eq!(parse_note(&render_note(&blocks, &other)).0, blocks);
    }

    #[test]
    fn only_gauntlet_names_are_publications() {
        assert!(is_publication_name("12-v3"));
        assert!(!is_publication_name("12-v"));
        assert!(!is_publication_name("my-branch"));
        assert!(!is_publication_name("sub/12-v3"));
    }
}

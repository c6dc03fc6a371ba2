//! public-inbox archives (lore.kernel.org, or any public-inbox) as a source of mails.
//!
//! A public-inbox **v2** inbox is a list of *epoch* git repositories, `git/0.git`, `git/1.git`,
//! …; lore serves epoch N of a list at `https://lore.kernel.org/<list>/<N>` for
//! `git clone --mirror`. Only the newest epoch grows; a new one starts when the current one gets
//! big. Each commit records one mail: its tree holds the raw message as the blob `m`, or, for a
//! removal (spam, `public-inbox-learn rm`, a purge), the removed message as `d` instead, which is
//! skipped here. A **v1** inbox is a single repository whose commits add each mail at a path
//! made of its Message-ID's SHA-1, `ab/cdef…`; it is read as epoch 0.
//!
//! Reading is what makes this source cheap enough to poll:
//!
//! * **Mirrors.** Each epoch is mirrored (`git clone --mirror`, then `git fetch`) under a
//!   directory the caller owns, one `<N>.git` per epoch, under a `flock` so that two pollers never
//!   fetch the same epoch at once. A local inbox is mirrored too (hard links, nearly free): the
//!   archive's owner may repack or purge it while it is being read.
//! * **One pass per poll.** The new commits come from one `git rev-list --reverse since..HEAD`
//!   and their mails from one `git cat-file --batch` process, whatever their number: a git per
//!   mail would cost more than parsing the mail.
//! * **Cursors.** What was read is remembered as the last commit read, per epoch
//!   ([`Cursors`]); the caller stores them. Losing a cursor costs time, never correctness:
//!   ingestion is idempotent (a mail already stored is recognised by its bytes).
//! * **Rewritten history.** public-inbox rewrites an epoch's history when mails are purged
//!   (`public-inbox-purge`, `-edit`). A cursor that is no longer an ancestor of the epoch's head
//!   is logged and reading restarts a bounded look-back ([`ArchiveOptions::lookback`]) before
//!   where the cursor stood, not from the beginning of an epoch of a million mails.
//!
//! Everything here runs git as a blocking child process (the crate's `tokio` has no process
//! support); [`Archive::poll`] and [`Archive::ingest`] move that work off the async runtime.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use gauntlet_mbox::{Origin, RawMail};
use gauntlet_store::Store;

use crate::{Options, Parsed, Summary, ingest_batch, parse};

/// A git object id in hexadecimal (40 digits for SHA-1 repositories, 64 for SHA-256).
pub type Oid = String;

/// The last commit read of each epoch, by epoch number. Epochs without a cursor are read from
/// their first commit.
pub type Cursors = BTreeMap<u32, Oid>;

/// Why an archive could not be read. None of these is about a mail: a mail is never refused
/// here, only by the ingestion that follows.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `git` could not be started at all.
    #[error("cannot run git: {source}")]
    GitMissing {
        #[source]
        source: io::Error,
    },
    /// A git command failed: `code` is its exit status, `None` when a signal killed it.
    #[error("`git {command}` in {} failed ({}): {message}", dir.display(), exit(code))]
    Git {
        command: String,
        dir: PathBuf,
        code: Option<i32>,
        /// git's standard error without its hints (bounded).
        message: String,
    },
    /// A git command did not finish in time and was killed.
    #[error("`git {command}` in {} did not finish within {}s", dir.display(), timeout.as_secs())]
    Timeout {
        command: String,
        dir: PathBuf,
        timeout: Duration,
    },
    /// git printed something this module does not understand.
    #[error("unexpected output of git in {}: {message}", dir.display())]
    Unexpected { dir: PathBuf, message: String },
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A local source that is neither a v2 inbox (`git/N.git`) nor a git repository.
    #[error("{} is not a public-inbox archive: no git/<N>.git and not a git repository", path.display())]
    NotAnArchive { path: PathBuf },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where an archive comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A local inbox directory: v2 when it holds `git/<N>.git`, else v1 when it is itself a
    /// git repository (bare or not).
    Local(PathBuf),
    /// A v2 inbox served over the network, e.g. `https://lore.kernel.org/io-uring`: epoch N is
    /// cloned from `<url>/<N>`.
    Remote(String),
    /// One git repository, a URL or a path: a v1 inbox, or a single epoch. Read as epoch 0.
    Repository(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Local(path) => write!(f, "{}", path.display()),
            Source::Remote(url) | Source::Repository(url) => f.write_str(url),
        }
    }
}

/// How archives are read.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// The git program (default `git`, found on `PATH`).
    pub git: PathBuf,
    /// Time limit of a local git command (default 5 minutes).
    pub timeout: Duration,
    /// Time limit of a clone or fetch (default 1 hour: a first clone of a big epoch is ~1 GB).
    pub fetch_timeout: Duration,
    /// When a cursor is no longer an ancestor of its epoch's head (history rewritten), reading
    /// restarts this many commits before the cursor's position (default 1000). Rewrites purge a
    /// few mails near the end; the mails they did not touch are still stored and are skipped.
    pub lookback: usize,
    /// For a [`Source::Remote`]: the epochs known to exist (say, from the inbox's
    /// `manifest.js.gz`). Empty: discovered by probing from epoch 0. Either way the epochs after
    /// the highest known one are probed on every [`Archive::epochs`], so a new epoch is noticed.
    pub epochs: Vec<u32>,
    /// A mail larger than this is kept truncated (and stored as an error), as the mbox reader
    /// does (default: [`gauntlet_mbox::Options`]' limit).
    pub max_mail_size: usize,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            git: PathBuf::from("git"),
            timeout: Duration::from_secs(5 * 60),
            fetch_timeout: Duration::from_secs(60 * 60),
            lookback: 1000,
            epochs: Vec::new(),
            max_mail_size: gauntlet_mbox::Options::default().max_mail_size,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running git

/// Environment variables a transport may need; everything else is cleared so that nothing of
/// the user's setup (aliases, `GIT_DIR`, a pager, hooks) changes what is read.
fn passed_through(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    matches!(
        name,
        "PATH" | "HOME" | "TMPDIR" | "SSH_AUTH_SOCK" | "GIT_SSH" | "GIT_SSH_COMMAND"
    ) || name.starts_with("SSL_CERT_")
        || name == "GIT_SSL_CAINFO"
        || name.to_ascii_lowercase().ends_with("_proxy")
}

/// One git command in one repository.
struct Git<'a> {
    options: &'a ArchiveOptions,
    dir: PathBuf,
    args: Vec<OsString>,
    timeout: Duration,
}

/// What a finished command printed.
struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl<'a> Git<'a> {
    fn new(options: &'a ArchiveOptions, dir: &Path) -> Git<'a> {
        Git {
            options,
            dir: dir.to_path_buf(),
            args: Vec::new(),
            timeout: options.timeout,
        }
    }

    fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    fn network(mut self) -> Self {
        self.timeout = self.options.fetch_timeout;
        self
    }

    fn line(&self) -> String {
        let words: Vec<String> = self
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut line = words.join(" ");
        cut(&mut line, 200);
        line
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.options.git);
        cmd.env_clear();
        for (name, value) in std::env::vars_os().filter(|(name, _)| passed_through(name)) {
            cmd.env(name, value);
        }
        cmd.envs([
            ("LC_ALL", "C"),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_CONFIG_GLOBAL", "/dev/null"),
            ("GIT_TERMINAL_PROMPT", "0"),
        ]);
        cmd.arg("-C").arg(&self.dir);
        for setting in [
            "core.hooksPath=/dev/null",
            "credential.helper=",
            "gc.auto=0",
        ] {
            cmd.arg("-c").arg(setting);
        }
        cmd.args(&self.args);
        cmd
    }

    fn spawn(&self, stdin: Stdio) -> Result<Child> {
        tracing::debug!(dir = %self.dir.display(), command = %self.line(), "git");
        self.command()
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that a timeout stops what git started too (a clone's
            // `index-pack`, a transport helper) and nothing writes into a mirror afterwards.
            .process_group(0)
            .spawn()
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => Error::GitMissing { source },
                _ => Error::Io {
                    path: self.options.git.clone(),
                    source,
                },
            })
    }

    /// Runs to the end (or the timeout); a non-zero exit is for the caller to judge.
    fn finish(self) -> Result<Finished> {
        let mut child = self.spawn(Stdio::null())?;
        let out = child.stdout.take().map(|s| thread::spawn(move || drain(s)));
        let err = child.stderr.take().map(|s| thread::spawn(move || drain(s)));
        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::from_micros(200);
        let status = loop {
            if let Some(status) = child.try_wait().map_err(io_error(&self.options.git))? {
                break status;
            }
            if Instant::now() >= deadline {
                kill_group(&mut child);
                // The reader threads end when the pipes close; they are not waited for, since
                // a grandchild that ignored the signal may still hold them.
                return Err(Error::Timeout {
                    command: self.line(),
                    dir: self.dir,
                    timeout: self.timeout,
                });
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        };
        let collect = |handle: Option<JoinHandle<Vec<u8>>>| {
            handle
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default()
        };
        Ok(Finished {
            status,
            stdout: collect(out),
            stderr: collect(err),
        })
    }

    /// Runs to the end; a non-zero exit is an [`Error::Git`]. Returns standard output.
    fn run(self) -> Result<Vec<u8>> {
        let (line, dir) = (self.line(), self.dir.clone());
        let done = self.finish()?;
        if done.status.success() {
            Ok(done.stdout)
        } else {
            Err(failure(line, dir, &done))
        }
    }
}

/// Kills `child`'s process group (the child leads it), then the child itself in case the
/// group could not be signalled, and reaps it.
fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !killed.is_ok_and(|status| status.success()) {
        let _ = child.kill();
    }
    let _ = child.wait();
}

fn drain(mut from: impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    let _ = from.read_to_end(&mut all);
    all
}

fn failure(command: String, dir: PathBuf, done: &Finished) -> Error {
    let text = String::from_utf8_lossy(&done.stderr);
    let mut message: String = text
        .lines()
        .filter(|l| !l.starts_with("hint:"))
        .collect::<Vec<_>>()
        .join("\n");
    cut(&mut message, 4000);
    Error::Git {
        command,
        dir,
        code: done.status.code(),
        message,
    }
}

/// Cuts `text` to at most `max` bytes, on a character boundary, marking the cut.
fn cut(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
}

/// How a failed git ended, for [`Error::Git`].
fn exit(code: &Option<i32>) -> String {
    match code {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    }
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = &str> {
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .map(str::trim)
        .filter(|l| !l.is_empty())
}

fn is_repository(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir()
}

/// Takes `path` as an exclusive `flock` (released when the file is dropped, or when the process
/// dies, however it dies).
fn lock(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_error(path))?;
    file.lock().map_err(io_error(path))?;
    Ok(file)
}

// ---------------------------------------------------------------------------------------------
// Epochs

/// How an epoch stores its mails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One commit per mail, the mail as the blob `m` (`d` for a removal).
    V2,
    /// Mails at `ab/cdef…` paths, added by commits, removed by commits that delete them.
    V1,
}

/// One epoch of an archive: where it comes from and its local mirror.
#[derive(Debug, Clone)]
pub struct Epoch {
    /// The epoch's number (0 for a v1 inbox or a [`Source::Repository`]).
    pub number: u32,
    /// What the mirror is cloned and fetched from (a URL or a path).
    pub upstream: String,
    /// The local mirror (`<mirror dir>/<N>.git`).
    pub mirror: PathBuf,
    options: ArchiveOptions,
}

/// A mail read from an epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedMail {
    /// The commit that added it.
    pub commit: Oid,
    /// The raw mail (cut at [`ArchiveOptions::max_mail_size`]).
    pub bytes: Vec<u8>,
    /// The mail was larger than the limit and `bytes` holds its start only.
    pub truncated: bool,
}

/// The commits to read: arguments for `rev-list`/`log` that select them, oldest first.
struct Range {
    args: Vec<String>,
}

impl Epoch {
    /// An epoch read from `upstream`, mirrored at `mirror`.
    pub fn new(
        number: u32,
        upstream: impl Into<String>,
        mirror: impl Into<PathBuf>,
        options: ArchiveOptions,
    ) -> Epoch {
        Epoch {
            number,
            upstream: upstream.into(),
            mirror: mirror.into(),
            options,
        }
    }

    fn git(&self) -> Git<'_> {
        Git::new(&self.options, &self.mirror)
    }

    /// Brings the mirror up to date: `git clone --mirror` the first time (into a temporary
    /// directory renamed at the end, so that an interrupted clone is never mistaken for a
    /// mirror), `git fetch --prune` afterwards, then `git gc --auto` so that a fetch every minute
    /// does not pile up packs. Under `<N>.lock` next to the mirror. Blocking.
    pub fn fetch(&self) -> Result<()> {
        let parent = self.mirror.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        let _lock = lock(&self.mirror.with_extension("lock"))?;
        let started = Instant::now();
        if is_repository(&self.mirror) {
            self.git()
                .args(["fetch", "--quiet", "--prune", "origin"])
                .network()
                .run()?;
            self.git()
                .args(["-c", "gc.auto=6700", "gc", "--auto", "--quiet"])
                .network()
                .run()?;
        } else {
            let partial = self.mirror.with_extension("partial");
            if partial.exists() {
                std::fs::remove_dir_all(&partial).map_err(io_error(&partial))?;
            }
            let mut upstream = OsString::from(&self.upstream);
            if !self.upstream.contains("://") && Path::new(&self.upstream).exists() {
                // A relative path must not be read from git's `-C` directory.
                let absolute =
                    std::path::absolute(&self.upstream).map_err(io_error(&self.mirror))?;
                upstream = absolute.into_os_string();
            }
            Git::new(&self.options, parent)
                .args([
                    OsStr::new("clone"),
                    OsStr::new("--mirror"),
                    OsStr::new("--quiet"),
                ])
                .args([OsStr::new("--"), &upstream, partial.as_os_str()])
                .network()
                .run()?;
            std::fs::rename(&partial, &self.mirror).map_err(io_error(&self.mirror))?;
        }
        tracing::info!(
            epoch = self.number,
            upstream = %self.upstream,
            seconds = started.elapsed().as_secs_f64(),
            "public-inbox epoch fetched"
        );
        Ok(())
    }

    /// The mirror's head commit; `None` for an empty (or not yet fetched) epoch.
    pub fn head(&self) -> Result<Option<Oid>> {
        if !is_repository(&self.mirror) {
            return Ok(None);
        }
        let done = self
            .git()
            .args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
            .finish()?;
        Ok(done
            .status
            .success()
            .then(|| lines(&done.stdout).next().map(str::to_string))
            .flatten())
    }

    /// The mails added after `since` (all of them when `None`), oldest first, each with the
    /// commit that added it. Reads everything into memory: for a whole epoch, prefer
    /// [`Epoch::read`], which streams. Blocking.
    pub fn new_mails(&self, since: Option<&str>) -> Result<Vec<(Oid, Vec<u8>)>> {
        self.read(since)?
            .map(|m| m.map(|m| (m.commit, m.bytes)))
            .collect()
    }

    /// Streams the mails added after `since` (all when `None`), oldest first. When `since` is
    /// no longer an ancestor of the head (history rewritten), warns and starts a look-back
    /// before where `since` stood. Blocking.
    pub fn read(&self, since: Option<&str>) -> Result<MailStream> {
        let Some(head) = self.head()? else {
            return Ok(MailStream::empty(self));
        };
        if since == Some(head.as_str()) {
            return Ok(MailStream::empty(self));
        }
        let range = self.range(since, &head)?;
        let layout = self.layout()?;
        let (commits, objects) = match layout {
            Layout::V2 => {
                let out = self
                    .git()
                    .args(["rev-list", "--reverse"])
                    .args(&range.args)
                    .run()?;
                let commits: Vec<Oid> = lines(&out).map(str::to_string).collect();
                let objects = commits.iter().map(|c| format!("{c}:m")).collect();
                (commits, objects)
            }
            Layout::V1 => self.v1_additions(&range)?,
        };
        tracing::debug!(
            epoch = self.number,
            ?layout,
            commits = commits.len(),
            "public-inbox commits to read"
        );
        MailStream::start(self, commits, objects, Some(head))
    }

    /// The commits after `since` up to `head`, or the look-back when `since` is not an
    /// ancestor of `head`.
    fn range(&self, since: Option<&str>, head: &str) -> Result<Range> {
        let Some(since) = since else {
            return Ok(Range {
                args: vec![head.to_string()],
            });
        };
        let check = self
            .git()
            .args(["merge-base", "--is-ancestor", since, head])
            .finish()?;
        if check.status.success() {
            return Ok(Range {
                args: vec![format!("{since}..{head}")],
            });
        }
        let total = self.count(head)?;
        let known = self
            .git()
            .args(["cat-file", "-e", &format!("{since}^{{commit}}")])
            .finish()?
            .status
            .success();
        let start = if known {
            // Where the cursor stood, minus the look-back; never before the last commit both
            // histories share, which was read already.
            let position = self.count(since)?;
            let shared = self.git().args(["merge-base", since, head]).finish()?;
            let shared = match lines(&shared.stdout).next() {
                Some(base) if shared.status.success() => self.count(base)?,
                _ => 0,
            };
            position.saturating_sub(self.options.lookback).max(shared)
        } else {
            // The cursor's commit is gone (the mirror was re-created or pruned): all that is
            // known is that the new history ends at the head.
            total.saturating_sub(self.options.lookback)
        };
        let take = total.saturating_sub(start);
        tracing::warn!(
            epoch = self.number,
            upstream = %self.upstream,
            cursor = since,
            head,
            cursor_known = known,
            rereading = take,
            "public-inbox history rewritten: the cursor is no longer an ancestor of the head; \
             re-reading the last commits"
        );
        Ok(Range {
            args: vec![format!("--max-count={take}"), head.to_string()],
        })
    }

    fn count(&self, commit: &str) -> Result<usize> {
        let out = self.git().args(["rev-list", "--count", commit]).run()?;
        lines(&out)
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Error::Unexpected {
                dir: self.mirror.clone(),
                message: format!("`rev-list --count {commit}` printed no number"),
            })
    }

    /// How the (fetched, non-empty) epoch stores mails: v2 when the head's tree is just `m`
    /// or `d`.
    pub fn layout(&self) -> Result<Layout> {
        let out = self.git().args(["ls-tree", "--name-only", "HEAD"]).run()?;
        let names: Vec<&str> = lines(&out).collect();
        Ok(match names.as_slice() {
            ["m"] | ["d"] => Layout::V2,
            _ => Layout::V1,
        })
    }

    /// For a v1 epoch: every mail blob a commit of the range added or replaced, as
    /// `(commit, blob)`, from one `git log --raw`.
    fn v1_additions(&self, range: &Range) -> Result<(Vec<Oid>, Vec<String>)> {
        let out = self
            .git()
            .args([
                "log",
                "--reverse",
                "--no-renames",
                "--raw",
                "--no-abbrev",
                "--format=commit %H",
            ])
            .args(&range.args)
            .run()?;
        let (mut commits, mut blobs) = (Vec::new(), Vec::new());
        let mut commit = None;
        for line in lines(&out) {
            if let Some(id) = line.strip_prefix("commit ") {
                commit = Some(id.to_string());
                continue;
            }
            // :100644 100644 <old> <new> M\tab/cdef…
            let Some((fields, path)) = line.split_once('\t') else {
                continue;
            };
            let fields: Vec<&str> = fields.split(' ').collect();
            let (Some(&new), Some(&status), Some(id)) = (fields.get(3), fields.get(4), &commit)
            else {
                continue;
            };
            if matches!(status, "A" | "M") && is_v1_mail_path(path) {
                commits.push(id.clone());
                blobs.push(new.to_string());
            }
        }
        Ok((commits, blobs))
    }
}

/// `ab/` + 38 hex digits: where v1 keeps a mail (the SHA-1 of its Message-ID).
fn is_v1_mail_path(path: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    match path.split_once('/') {
        Some((dir, rest)) => dir.len() == 2 && hex(dir) && rest.len() == 38 && hex(rest),
        None => false,
    }
}

/// The mails of a range of commits, read from one `git cat-file --batch`: a thread writes the
/// object names, the iterator reads the objects in the same order. Dropping it kills git.
pub struct MailStream {
    dir: PathBuf,
    process: Option<Batch>,
    commits: std::vec::IntoIter<Oid>,
    /// The last commit consumed, mail or not.
    position: Option<Oid>,
    /// The last commit of the range (the head), reached when the stream ends.
    tip: Option<Oid>,
    max_size: usize,
}

struct Batch {
    child: Child,
    stdout: BufReader<ChildStdout>,
    writer: Option<JoinHandle<()>>,
}

impl MailStream {
    fn empty(epoch: &Epoch) -> MailStream {
        MailStream {
            dir: epoch.mirror.clone(),
            process: None,
            commits: Vec::new().into_iter(),
            position: None,
            tip: None,
            max_size: epoch.options.max_mail_size,
        }
    }

    fn start(
        epoch: &Epoch,
        commits: Vec<Oid>,
        objects: Vec<String>,
        tip: Option<Oid>,
    ) -> Result<MailStream> {
        let mut stream = MailStream::empty(epoch);
        stream.tip = tip;
        if commits.is_empty() {
            stream.position = stream.tip.clone();
            return Ok(stream);
        }
        // `--buffer`: no flush per object (every request is written before git answers).
        let git = epoch.git().args(["cat-file", "--batch", "--buffer"]);
        let mut child = git.spawn(Stdio::piped())?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Unexpected {
                dir: epoch.mirror.clone(),
                message: "git cat-file started without pipes".to_string(),
            });
        };
        // Standard error is not read as the stream goes: cat-file only writes there on a
        // failure, which ends the stream anyway; a pipe buffer holds its few lines.
        let mut requests = Vec::with_capacity(objects.iter().map(|o| o.len() + 1).sum());
        for object in &objects {
            requests.extend_from_slice(object.as_bytes());
            requests.push(b'\n');
        }
        drop(objects);
        let writer = thread::spawn(move || {
            // git closing its end early (killed because the stream was dropped) is not an error.
            let _ = stdin.write_all(&requests);
        });
        stream.process = Some(Batch {
            child,
            stdout: BufReader::with_capacity(1 << 20, stdout),
            writer: Some(writer),
        });
        stream.commits = commits.into_iter();
        Ok(stream)
    }

    /// The last commit read so far, mail or removal: the cursor to store once everything read
    /// up to here is stored. At the end of the stream, the epoch's head.
    pub fn position(&self) -> Option<&str> {
        self.position.as_deref()
    }

    fn unexpected(&self, message: String) -> Error {
        Error::Unexpected {
            dir: self.dir.clone(),
            message,
        }
    }

    /// Reads the answer to one request: `Some(mail)`, or `None` for `<name> missing` (a v2
    /// removal commit has `d`, not `m`).
    fn read_one(&mut self) -> Result<Option<(Vec<u8>, bool)>> {
        let max_size = self.max_size;
        let dir = self.dir.clone();
        let Some(batch) = self.process.as_mut() else {
            return Err(self.unexpected("cat-file is not running".to_string()));
        };
        let mut header = Vec::new();
        let n = batch
            .stdout
            .read_until(b'\n', &mut header)
            .map_err(io_error(&dir))?;
        if n == 0 {
            let mut stderr = String::new();
            if let Some(mut err) = batch.child.stderr.take() {
                let _ = err.read_to_string(&mut stderr);
            }
            return Err(Error::Unexpected {
                dir,
                message: format!("git cat-file --batch ended early: {}", stderr.trim()),
            });
        }
        let header = String::from_utf8_lossy(&header);
        let header = header.trim_end();
        if header.ends_with(" missing") {
            return Ok(None);
        }
        // <oid> <type> <size>
        let mut fields = header.split(' ');
        let (Some(_), Some(kind), Some(size), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(Error::Unexpected {
                dir,
                message: format!("git cat-file --batch printed `{header}`"),
            });
        };
        let Ok(size) = size.parse::<usize>() else {
            return Err(Error::Unexpected {
                dir,
                message: format!("git cat-file --batch printed `{header}`"),
            });
        };
        let kept = size.min(max_size);
        let mut bytes = vec![0; kept];
        batch
            .stdout
            .read_exact(&mut bytes)
            .map_err(io_error(&dir))?;
        // The rest of an oversized object, and the newline after every object.
        let rest = (size - kept) as u64 + 1;
        let skipped = io::copy(&mut (&mut batch.stdout).take(rest), &mut io::sink())
            .map_err(io_error(&dir))?;
        if skipped != rest {
            return Err(Error::Unexpected {
                dir,
                message: "git cat-file --batch ended inside an object".to_string(),
            });
        }
        if kind != "blob" {
            // `m` is always a blob; anything else is not a mail.
            return Ok(None);
        }
        Ok(Some((bytes, size > kept)))
    }

    fn close(&mut self) {
        if let Some(mut batch) = self.process.take() {
            let _ = batch.child.kill();
            let _ = batch.child.wait();
            if let Some(writer) = batch.writer.take() {
                let _ = writer.join();
            }
        }
    }
}

impl Iterator for MailStream {
    type Item = Result<ArchivedMail>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(commit) = self.commits.next() else {
                if self.process.is_some() {
                    self.close();
                    self.position = self.tip.clone();
                }
                return None;
            };
            match self.read_one() {
                Ok(found) => {
                    self.position = Some(commit.clone());
                    if let Some((bytes, truncated)) = found {
                        return Some(Ok(ArchivedMail {
                            commit,
                            bytes,
                            truncated,
                        }));
                    }
                }
                Err(e) => {
                    self.commits = Vec::new().into_iter();
                    self.tip = self.position.clone();
                    self.close();
                    return Some(Err(e));
                }
            }
        }
    }
}

impl Drop for MailStream {
    fn drop(&mut self) {
        self.close();
    }
}

// ---------------------------------------------------------------------------------------------
// Archives

/// An archive: its epochs, mirrored under one directory.
#[derive(Debug, Clone)]
pub struct Archive {
    source: Source,
    mirrors: PathBuf,
    options: ArchiveOptions,
}

impl Archive {
    /// The archive at `source`, its epochs mirrored under `mirrors` (`<mirrors>/<N>.git`; one
    /// directory per archive, the caller's choice).
    pub fn new(source: Source, mirrors: impl Into<PathBuf>, options: ArchiveOptions) -> Archive {
        Archive {
            source,
            mirrors: mirrors.into(),
            options,
        }
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Epoch `number`, upstream and mirror.
    fn epoch(&self, number: u32) -> Epoch {
        let upstream = match &self.source {
            Source::Repository(location) => location.clone(),
            Source::Local(path) if path.join("git").is_dir() => {
                path.join(format!("git/{number}.git")).display().to_string()
            }
            Source::Local(path) => path.display().to_string(),
            Source::Remote(url) => format!("{}/{number}", url.trim_end_matches('/')),
        };
        Epoch::new(
            number,
            upstream,
            self.mirrors.join(format!("{number}.git")),
            self.options.clone(),
        )
    }

    /// The epochs mirrored locally already, in order (what [`Archive::ingest`] reads).
    pub fn mirrored(&self) -> Vec<Epoch> {
        epoch_numbers(&self.mirrors)
            .into_iter()
            .map(|n| self.epoch(n))
            .collect()
    }

    /// The archive's epochs, in order. Local v2: the `git/<N>.git` directories; local v1 or a
    /// [`Source::Repository`]: epoch 0; remote: the configured ones and those already mirrored,
    /// then the following numbers probed with `git ls-remote` until one does not answer, so
    /// that a new epoch is found the poll after it appears. Blocking (a remote probe is a
    /// network round trip).
    pub fn epochs(&self) -> Result<Vec<Epoch>> {
        let numbers = match &self.source {
            Source::Repository(_) => vec![0],
            Source::Local(path) if path.join("git").is_dir() => epoch_numbers(&path.join("git")),
            Source::Local(path) if is_repository(path) || path.join(".git").exists() => vec![0],
            Source::Local(path) => return Err(Error::NotAnArchive { path: path.clone() }),
            Source::Remote(url) => {
                let mut numbers = self.options.epochs.clone();
                numbers.extend(epoch_numbers(&self.mirrors));
                numbers.sort_unstable();
                numbers.dedup();
                let mut next = numbers.last().map_or(0, |n| n + 1);
                while self.answers(&self.epoch(next).upstream) {
                    tracing::info!(archive = %url, epoch = next, "new public-inbox epoch");
                    numbers.push(next);
                    next += 1;
                }
                numbers
            }
        };
        Ok(numbers.into_iter().map(|n| self.epoch(n)).collect())
    }

    /// Whether a repository answers at `url` (and has a commit).
    fn answers(&self, url: &str) -> bool {
        let probe = Git::new(&self.options, &std::env::temp_dir())
            .args(["ls-remote", "--", url, "HEAD"])
            .network()
            .finish();
        match probe {
            Ok(done) => done.status.success() && lines(&done.stdout).next().is_some(),
            Err(e) => {
                tracing::debug!(url, error = %e, "epoch probe failed");
                false
            }
        }
    }

    /// Finds the epochs and fetches every one of them (old epochs change only when mails are
    /// purged, which is why they are fetched too: a fetch with nothing new is one round trip).
    /// Blocking.
    pub fn fetch(&self) -> Result<Vec<Epoch>> {
        let epochs = self.epochs()?;
        for epoch in &epochs {
            epoch.fetch()?;
        }
        Ok(epochs)
    }

    /// Fetches the archive, then ingests what is new ([`Archive::ingest`]).
    pub async fn poll(
        &self,
        store: &Store,
        cursors: &mut Cursors,
        options: &Options,
    ) -> crate::Result<Summary> {
        let archive = self.clone();
        blocking(move || archive.fetch()).await?;
        self.ingest(store, cursors, options).await
    }

    /// Ingests the mails of every epoch after its cursor, in batches of
    /// `options.batch_mails`, each batch one transaction ([`crate::ingest_batch`]). A cursor
    /// moves after its batch is committed, so an interruption loses nothing; the caller persists
    /// `cursors` when this returns (or as it likes: a stale cursor only re-reads mails). Reads
    /// the mirrors as they are, without touching the network: call [`Archive::fetch`] first,
    /// or use [`Archive::poll`].
    pub async fn ingest(
        &self,
        store: &Store,
        cursors: &mut Cursors,
        options: &Options,
    ) -> crate::Result<Summary> {
        let started = Instant::now();
        let mut summary = Summary::default();
        for epoch in self.mirrored() {
            let number = epoch.number;
            let since = cursors.get(&number).cloned();
            let mut batches = read_batches(epoch, since, options);
            while let Some(item) = batches.recv().await {
                let (batch, position) = item?;
                if !batch.is_empty() {
                    let (_, s) = ingest_batch(store, batch, options).await?;
                    summary.tally.merge(&s.tally);
                    summary.already_stored += s.already_stored;
                    summary.truncated += s.truncated;
                }
                if let Some(position) = position {
                    cursors.insert(number, position);
                }
            }
        }
        summary.seconds = started.elapsed().as_secs_f64();
        tracing::info!(archive = %self.source, "{}", summary.line());
        Ok(summary)
    }
}

/// `N` of every `N.git` directory in `dir`, sorted.
fn epoch_numbers(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut numbers: Vec<u32> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let name = e.file_name();
            let n = name.to_str()?.strip_suffix(".git")?;
            // `0.git`, not `00.git` nor `+1.git`: the names public-inbox writes.
            (n == "0" || !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse().ok())
                .flatten()
        })
        .collect();
    numbers.sort_unstable();
    numbers
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(Error::Io {
            path: PathBuf::new(),
            source: io::Error::other(format!("public-inbox reader thread: {e}")),
        })
    })
}

type BatchItem = crate::Result<(Vec<Parsed>, Option<Oid>)>;

/// Reads and parses an epoch's new mails on a thread of its own, in batches, each with the
/// cursor to store once it is stored; at most one batch waits while another is being stored.
fn read_batches(
    epoch: Epoch,
    since: Option<Oid>,
    options: &Options,
) -> tokio::sync::mpsc::Receiver<BatchItem> {
    let (tx, rx) = tokio::sync::mpsc::channel::<BatchItem>(1);
    let parse_options = options.parse.clone();
    let (batch_mails, batch_bytes) = (options.batch_mails.max(1), options.batch_bytes.max(1));
    thread::spawn(move || {
        let mut stream = match epoch.read(since.as_deref()) {
            Ok(stream) => stream,
            Err(e) => {
                let _ = tx.blocking_send(Err(e.into()));
                return;
            }
        };
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(item) = stream.next() {
            let mail = match item {
                Ok(mail) => mail,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e.into()));
                    return;
                }
            };
            bytes += mail.bytes.len();
            let origin = Origin {
                file: format!("public-inbox:{}@{}", epoch.upstream, mail.commit),
                offset: 0,
            };
            let raw = RawMail {
                bytes: mail.bytes,
                envelope: None,
                offset: 0,
                truncated: mail.truncated,
            };
            batch.push(parse(origin, raw, &parse_options));
            if batch.len() >= batch_mails || bytes >= batch_bytes {
                let full = std::mem::take(&mut batch);
                bytes = 0;
                let position = stream.position().map(str::to_string);
                if tx.blocking_send(Ok((full, position))).is_err() {
                    return;
                }
            }
        }
        let position = stream.position().map(str::to_string);
        let _ = tx.blocking_send(Ok((batch, position)));
    });
    rx
}

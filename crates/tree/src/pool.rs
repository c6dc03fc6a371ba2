//! Pooled working copies: `git worktree`s of the mirror, leased one at a time.
//!
//! Slot `N` of a mirror is the worktree `cache_dir/worktrees/<mirror>/slot-N`, with its lock
//! file `slot-N.lock` and a scratch directory `slot-N.tmp` beside it (outside the worktree, so
//! a build never sees them). A [`Lease`] is an exclusive `flock` on the lock file: it dies with
//! the process however the process dies, and every git started for the lease holds it too
//! (see [`crate::lock`]), so a slot is never used by two leases and never leaked.
//!
//! Taking a lease repairs what an interrupted lease may have left: stale `*.lock` files in the
//! worktree's git directory, an `am` in progress (`git am --quit`), a worktree whose directory
//! or metadata is gone (re-created). [`Lease::reset`] then moves the worktree to a base with
//! `git checkout --force --detach` and `git clean -ffdx`: only the files that differ are
//! written, so the next series on the same tree pays only for what changed. Worktrees are
//! created once, checked out at the mirror's HEAD, and kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::git::Git;
use crate::lock::Lock;
use crate::mirror::{Mirror, remove_dir_if_exists};

/// A bounded set of working copies of one mirror. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    mirror: Mirror,
    dir: PathBuf,
    size: usize,
    released: Notify,
}

impl Pool {
    /// A pool of `size` working copies (at least one) of `mirror`, under
    /// `cache_dir/worktrees/<mirror name>` (the mirror's cache directory).
    pub fn new(mirror: Mirror, size: usize) -> Result<Pool> {
        let dir = mirror.cache_dir().join("worktrees").join(mirror.name());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Pool {
            inner: Arc::new(PoolInner {
                mirror,
                dir,
                size: size.max(1),
                released: Notify::new(),
            }),
        })
    }

    /// A pool with as many working copies as the machine has cores.
    pub fn with_default_size(mirror: Mirror) -> Result<Pool> {
        Pool::new(mirror, default_size())
    }

    pub fn mirror(&self) -> &Mirror {
        &self.inner.mirror
    }

    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// Where the slots live.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// Leases a working copy, waiting for one to be free (released by this process or by
    /// another one that shares the cache directory). The lowest free slot is taken, so warm
    /// slots are reused before cold ones are created.
    pub async fn lease(&self) -> Result<Lease> {
        let mut wait = Duration::from_millis(20);
        loop {
            let released = self.inner.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            for slot in 0..self.inner.size {
                if let Some(lock) = Lock::try_take(&self.lock_path(slot))? {
                    return self.prepare(slot, lock).await;
                }
            }
            // Released here: woken at once; released by another process: noticed by polling.
            tokio::select! {
                () = &mut released => {}
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_millis(500));
        }
    }

    /// Removes the working copies of slots beyond the pool's size (left by a larger pool
    /// earlier), and git's metadata of worktrees whose directory is gone. A slot that is
    /// leased right now is left alone. Returns how many slots were removed.
    pub async fn prune(&self) -> Result<usize> {
        let mut extra: Vec<usize> = Vec::new();
        let entries =
            std::fs::read_dir(&self.inner.dir).map_err(|e| Error::io(&self.inner.dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Some(rest) = name.strip_prefix("slot-") else {
                continue;
            };
            let digits = rest.split('.').next().unwrap_or("");
            if let Ok(n) = digits.parse::<usize>()
                && n >= self.inner.size
                && !extra.contains(&n)
            {
                extra.push(n);
            }
        }
        extra.sort_unstable();
        let mut removed = 0;
        for slot in extra {
            let lock_path = self.lock_path(slot);
            let Some(lock) = Lock::try_take(&lock_path)? else {
                continue;
            };
            let path = self.slot_path(slot);
            if path.exists() {
                let out = Git::new(self.inner.mirror.settings(), self.inner.mirror.path())
                    .args(["worktree", "remove", "--force", "--force"])
                    .arg(&path)
                    .stdin_file(lock.share()?)
                    .output()
                    .await?;
                if !out.success() {
                    remove_dir_if_exists(&path).await?;
                }
            }
            remove_dir_if_exists(&self.scratch_path(slot)).await?;
            // Removed while held: a process that opened the old file notices (see `lock`).
            let _ = std::fs::remove_file(lock.path());
            drop(lock);
            removed += 1;
        }
        self.prune_metadata().await?;
        Ok(removed)
    }

    async fn prune_metadata(&self) -> Result<()> {
        Git::new(self.inner.mirror.settings(), self.inner.mirror.path())
            .args(["worktree", "prune"])
            .run()
            .await?;
        Ok(())
    }

    fn slot_path(&self, slot: usize) -> PathBuf {
        self.inner.dir.join(format!("slot-{slot}"))
    }

    fn lock_path(&self, slot: usize) -> PathBuf {
        self.inner.dir.join(format!("slot-{slot}.lock"))
    }

    fn scratch_path(&self, slot: usize) -> PathBuf {
        self.inner.dir.join(format!("slot-{slot}.tmp"))
    }

    async fn prepare(&self, slot: usize, lock: Lock) -> Result<Lease> {
        let path = self.slot_path(slot);
        let scratch = self.scratch_path(slot);
        tokio::fs::create_dir_all(&scratch)
            .await
            .map_err(|e| Error::io(&scratch, e))?;
        let mut lease = Lease {
            pool: self.inner.clone(),
            slot,
            gitdir: PathBuf::new(),
            path,
            scratch,
            lock: Some(lock),
            base: None,
            head: None,
            recovered: Vec::new(),
        };
        match worktree_gitdir(&lease.path) {
            Some(gitdir) => {
                lease.gitdir = gitdir;
                lease.recover().await?;
            }
            None => lease.create().await?,
        }
        tracing::debug!(slot, path = %lease.path.display(), "leased");
        Ok(lease)
    }
}

/// The number of cores (the default pool size).
pub fn default_size() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The git directory of the worktree at `path`, when it is a valid worktree.
fn worktree_gitdir(path: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(path.join(".git")).ok()?;
    let gitdir = PathBuf::from(text.strip_prefix("gitdir: ")?.trim());
    (gitdir.join("HEAD").is_file() && gitdir.join("commondir").is_file()).then_some(gitdir)
}

/// A leased working copy. While it lives, nobody else (in this process or any other) uses the
/// slot. Dropping it releases the slot, leaving the files as they are: the next lease resets.
#[derive(Debug)]
pub struct Lease {
    pool: Arc<PoolInner>,
    slot: usize,
    path: PathBuf,
    gitdir: PathBuf,
    scratch: PathBuf,
    lock: Option<Lock>,
    pub(crate) base: Option<String>,
    pub(crate) head: Option<String>,
    recovered: Vec<String>,
}

impl Lease {
    /// The working copy (the build stage builds here, with its own `O=` directory).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn slot(&self) -> usize {
        self.slot
    }

    /// The commit the working copy was last reset to, if known in this lease.
    pub fn base(&self) -> Option<&str> {
        self.base.as_deref()
    }

    /// The commit checked out now (the base, or the last applied patch), if known.
    pub fn head(&self) -> Option<&str> {
        self.head.as_deref()
    }

    pub fn mirror(&self) -> &Mirror {
        &self.pool.mirror
    }

    /// What taking this lease had to repair, in words (empty for a clean slot).
    pub fn recovered(&self) -> &[String] {
        &self.recovered
    }

    pub(crate) fn scratch(&self) -> &Path {
        &self.scratch
    }

    pub(crate) fn gitdir(&self) -> &Path {
        &self.gitdir
    }

    /// A git command in the working copy, holding the lease's lock.
    pub(crate) fn git(&self) -> Result<Git<'_>> {
        let mut git = Git::new(self.pool.mirror.settings(), &self.path);
        if let Some(lock) = &self.lock {
            git = git.stdin_file(lock.share()?);
        }
        Ok(git)
    }

    /// Moves the working copy to `base` (a commit id or any commit-ish of the mirror), detached:
    /// `git checkout --force --detach` (rewrites only the files that differ between the
    /// current index and the base, and those changed behind git's back), then
    /// `git clean -ffdx` (untracked and ignored files: the build uses its own output
    /// directory). Returns the base's full commit id.
    pub async fn reset(&mut self, base: &str) -> Result<String> {
        let Some(id) = self.pool.mirror.resolve(base).await? else {
            return Err(Error::unexpected(
                self.pool.mirror.path(),
                format!("cannot reset to {base}: no such commit in the mirror"),
            ));
        };
        self.base = None;
        self.head = None;
        // An `am` an infrastructure error interrupted in this lease.
        self.abandon_operations().await?;
        // `--force` discards whatever an earlier lease left (changes, unmerged entries);
        // `--detach` never moves a branch of the mirror, even if something attached HEAD.
        self.git()?
            .args(["checkout", "--quiet", "--force", "--detach", &id])
            .run()
            .await?;
        self.git()?.args(["clean", "-ffdxq"]).run().await?;
        self.base = Some(id.clone());
        self.head = Some(id.clone());
        Ok(id)
    }

    async fn create(&mut self) -> Result<()> {
        let mirror = self.pool.mirror.clone();
        if self.path.exists() {
            self.recovered
                .push("the working copy was not a valid worktree: re-created".to_string());
            remove_dir_if_exists(&self.path).await?;
        }
        let start = match mirror.head().await? {
            Some(id) => id,
            None => first_branch(&mirror).await?.ok_or_else(|| Error::Source {
                source_name: mirror.source().as_git_arg(),
                message: "the tree has no commits".to_string(),
            })?,
        };
        Git::new(mirror.settings(), mirror.path())
            .args(["worktree", "prune"])
            .run()
            .await?;
        // The first checkout without a split index: filling a split index entry by entry costs
        // minutes of system time on a kernel tree (seconds without); it is split once full.
        let mut add = Git::new(mirror.settings(), mirror.path())
            .args([
                "-c",
                "core.splitIndex=false",
                "worktree",
                "add",
                "--quiet",
                "--detach",
            ])
            .arg(&self.path)
            .arg(&start);
        if let Some(lock) = &self.lock {
            add = add.stdin_file(lock.share()?);
        }
        add.run().await?;
        self.gitdir = worktree_gitdir(&self.path).ok_or_else(|| {
            Error::unexpected(&self.path, "git worktree add did not make a worktree")
        })?;
        self.git()?
            .args(["update-index", "--split-index"])
            .run()
            .await?;
        tracing::info!(slot = self.slot, path = %self.path.display(), "created working copy");
        Ok(())
    }

    /// Repairs what an interrupted lease left (we hold the lock: nothing else works here).
    async fn recover(&mut self) -> Result<()> {
        let mut repairs = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&self.gitdir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "lock") && path.is_file() {
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    repairs.push(format!(
                        "removed a stale {}",
                        entry.file_name().to_string_lossy()
                    ));
                }
            }
        }
        repairs.extend(self.abandon_operations().await?);
        if !repairs.is_empty() {
            tracing::warn!(slot = self.slot, ?repairs, "recovered a slot");
        }
        self.recovered = repairs;
        Ok(())
    }

    /// Abandons an `am` (or a rebase) in progress, keeping files as they are (the reset that
    /// follows makes them right). Says what it abandoned.
    async fn abandon_operations(&mut self) -> Result<Vec<String>> {
        let mut abandoned = Vec::new();
        for state in ["rebase-apply", "rebase-merge"] {
            let dir = self.gitdir.join(state);
            if !dir.exists() {
                continue;
            }
            let quit = if state == "rebase-apply" {
                self.git()?.args(["am", "--quit"]).output().await?.success()
            } else {
                self.git()?
                    .args(["rebase", "--quit"])
                    .output()
                    .await?
                    .success()
            };
            if !quit || dir.exists() {
                remove_dir_if_exists(&dir).await?;
            }
            abandoned.push(format!("an interrupted {state} was abandoned"));
        }
        Ok(abandoned)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.lock.take());
        self.pool.released.notify_waiters();
    }
}

async fn first_branch(mirror: &Mirror) -> Result<Option<String>> {
    let out = mirror
        .git()
        .args([
            "for-each-ref",
            "--count=1",
            "--format=%(objectname)",
            "refs/heads",
        ])
        .run()
        .await?;
    let id = out.first_line();
    Ok((!id.is_empty()).then_some(id))
}

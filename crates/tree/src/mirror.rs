//! The local bare mirror of a project's tree.
//!
//! `cache_dir/mirrors/<name>-<hash>.git` is a bare clone of the source (`git clone --bare`:
//! hard links for a local path on the same file system), set to fetch branches and tags
//! (`+refs/heads/*:refs/heads/*`, `+refs/tags/*:refs/tags/*`, pruned). `<hash>` is the start of
//! the SHA-256 of the source (its URL, or its canonical path), so two projects on the same
//! tree share one mirror and two trees with the same name never collide. Creation and fetches
//! happen under `cache_dir/mirrors/<name>-<hash>.lock`, so two processes never fetch at once.
//! Worktrees of the mirror share its objects (see [`crate::Pool`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gauntlet_project::TreeSource;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::git::{self, Git, GitSettings};
use crate::lock::Lock;
use crate::patchid::PatchIds;

/// Settings written into the mirror's configuration (they are shared by its worktrees).
const MIRROR_CONFIG: &[(&str, &str)] = &[
    // Working copies are reset hundreds of times: no reflog to grow, no commits kept alive.
    ("core.logAllRefUpdates", "false"),
    // A kernel index is ~8 MB: writing only the changed entries makes `git am` 3x faster.
    // (Not with `index.skipHash`: shared index files are named by the hash it skips, so they
    // all get the same name, and git 2.47 then corrupts the index.)
    ("core.splitIndex", "true"),
    // Old shared indexes (8 MB each) go after an hour unused; "now" would delete those that
    // `git am`'s own temporary indexes still use.
    ("splitIndex.sharedIndexExpire", "1.hour.ago"),
];

/// A bare mirror of one tree. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Mirror {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: TreeSource,
    /// `<name>-<hash>`: the mirror's directory name without `.git`.
    name: String,
    dir: PathBuf,
    lock_path: PathBuf,
    cache_dir: PathBuf,
    settings: GitSettings,
    patch_ids: Mutex<PatchIds>,
}

impl Mirror {
    /// Creates (by cloning) or reuses the mirror of `source` under `cache_dir`, with the
    /// default [`GitSettings`]. It does not fetch an existing mirror: call [`Mirror::fetch`].
    pub async fn open(cache_dir: &Path, source: &TreeSource) -> Result<Mirror> {
        Mirror::open_with(cache_dir, source, GitSettings::default()).await
    }

    /// [`Mirror::open`] with explicit settings.
    pub async fn open_with(
        cache_dir: &Path,
        source: &TreeSource,
        settings: GitSettings,
    ) -> Result<Mirror> {
        git::check_version(&settings).await?;
        let source = canonical_source(source)?;
        let name = mirror_name(&source);
        let mirrors = cache_dir.join("mirrors");
        std::fs::create_dir_all(&mirrors).map_err(|e| Error::io(&mirrors, e))?;
        let dir = mirrors.join(format!("{name}.git"));
        let lock_path = mirrors.join(format!("{name}.lock"));
        let mirror = Mirror {
            inner: Arc::new(Inner {
                patch_ids: Mutex::new(PatchIds::new(&dir)),
                source,
                name,
                dir,
                lock_path,
                cache_dir: cache_dir.to_path_buf(),
                settings,
            }),
        };
        if !mirror.is_valid() {
            let lock = Lock::take(&mirror.inner.lock_path).await?;
            if !mirror.is_valid() {
                mirror.create(&lock).await?;
            }
        }
        Ok(mirror)
    }

    /// The bare repository.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// `<name>-<hash>`, which also names the mirror's worktree directory.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn source(&self) -> &TreeSource {
        &self.inner.source
    }

    pub(crate) fn cache_dir(&self) -> &Path {
        &self.inner.cache_dir
    }

    pub fn settings(&self) -> &GitSettings {
        &self.inner.settings
    }

    pub(crate) fn git(&self) -> Git<'_> {
        Git::new(&self.inner.settings, &self.inner.dir)
    }

    pub(crate) fn patch_ids(&self) -> &Mutex<PatchIds> {
        &self.inner.patch_ids
    }

    fn is_valid(&self) -> bool {
        self.inner.dir.join("HEAD").is_file() && self.inner.dir.join("objects").is_dir()
    }

    async fn create(&self, lock: &Lock) -> Result<()> {
        let dir = &self.inner.dir;
        let tmp = dir.with_extension("git.tmp");
        remove_dir_if_exists(&tmp).await?;
        remove_dir_if_exists(dir).await?;
        let parent = dir.parent().unwrap_or(Path::new("."));
        let source = self.inner.source.as_git_arg();
        tracing::info!(source = %source, mirror = %dir.display(), "cloning mirror");
        let mut clone = Git::new(&self.inner.settings, parent)
            .args(["clone", "--bare", "--quiet"])
            .fetch_timeout()
            .stdin_file(lock.share()?);
        if matches!(self.inner.source, TreeSource::Path(_)) {
            clone = clone.arg("--local");
        }
        clone.arg("--").arg(&source).arg(&tmp).run().await?;
        let at = Git::new(&self.inner.settings, &tmp);
        for (key, value) in MIRROR_CONFIG {
            Git::new(&self.inner.settings, &tmp)
                .args(["config", key, value])
                .run()
                .await?;
        }
        at.args([
            "config",
            "--replace-all",
            "remote.origin.fetch",
            "+refs/heads/*:refs/heads/*",
        ])
        .run()
        .await?;
        Git::new(&self.inner.settings, &tmp)
            .args([
                "config",
                "--add",
                "remote.origin.fetch",
                "+refs/tags/*:refs/tags/*",
            ])
            .run()
            .await?;
        tokio::fs::rename(&tmp, dir)
            .await
            .map_err(|e| Error::io(dir, e))?;
        Ok(())
    }

    /// Fetches branches and tags from the source (pruning what it no longer has), follows its
    /// default branch, and lets git pack loose objects when there are many. Under the mirror's
    /// lock: a second process waits for the first fetch to end.
    pub async fn fetch(&self) -> Result<()> {
        let lock = Lock::take(&self.inner.lock_path).await?;
        self.remove_stale_ref_locks().await;
        tracing::info!(mirror = %self.inner.dir.display(), "fetching");
        self.git()
            .args(["fetch", "--quiet", "--prune", "origin"])
            .fetch_timeout()
            .stdin_file(lock.share()?)
            .run()
            .await?;
        self.follow_default_branch(&lock).await?;
        self.git()
            .args(["-c", "gc.auto=6700", "gc", "--auto", "--quiet"])
            .fetch_timeout()
            .stdin_file(lock.share()?)
            .run()
            .await?;
        Ok(())
    }

    /// Fetches one commit by id (servers that allow it), for a `base-commit:` that no branch
    /// has. `Ok(false)` when the source does not give it.
    pub(crate) async fn fetch_commit(&self, id: &str) -> Result<bool> {
        let lock = Lock::take(&self.inner.lock_path).await?;
        let out = self
            .git()
            .args(["fetch", "--quiet", "--no-tags", "origin", id])
            .fetch_timeout()
            .stdin_file(lock.share()?)
            .output()
            .await?;
        Ok(out.success())
    }

    async fn follow_default_branch(&self, lock: &Lock) -> Result<()> {
        let out = self
            .git()
            .args(["ls-remote", "--symref", "origin", "HEAD"])
            .fetch_timeout()
            .stdin_file(lock.share()?)
            .output()
            .await?;
        if !out.success() {
            return Ok(());
        }
        let text = out.stdout_text();
        let Some(target) = text
            .lines()
            .filter_map(|l| l.strip_prefix("ref: "))
            .filter_map(|l| l.strip_suffix("\tHEAD"))
            .next()
        else {
            return Ok(());
        };
        if target.starts_with("refs/heads/") && self.resolve_ref(target).await?.is_some() {
            self.git()
                .args(["symbolic-ref", "HEAD", target])
                .run()
                .await?;
        }
        Ok(())
    }

    /// Lock files a killed fetch may have left (we hold the mirror's lock: nobody else fetches).
    async fn remove_stale_ref_locks(&self) {
        let dir = self.inner.dir.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = std::fs::remove_file(dir.join("packed-refs.lock"));
            let _ = std::fs::remove_file(dir.join("shallow.lock"));
            remove_lock_files(&dir.join("refs"), 0);
        })
        .await;
    }

    /// The full id of the commit `rev` names (a commit id, possibly abbreviated, or any
    /// commit-ish), or `None` when the mirror has no such commit.
    pub async fn resolve(&self, rev: &str) -> Result<Option<String>> {
        if !plausible_rev(rev) {
            return Ok(None);
        }
        self.resolve_ref(rev).await
    }

    /// The commit at the tip of branch `name`, or `None` when there is no such branch.
    pub async fn resolve_branch(&self, name: &str) -> Result<Option<String>> {
        if !plausible_rev(name) {
            return Ok(None);
        }
        self.resolve_ref(&format!("refs/heads/{name}")).await
    }

    /// The commit the mirror's `HEAD` (the source's default branch) points to.
    pub async fn head(&self) -> Result<Option<String>> {
        self.resolve_ref("HEAD").await
    }

    /// Whether the mirror has the commit `id`.
    pub async fn has_commit(&self, id: &str) -> Result<bool> {
        Ok(self.resolve(id).await?.is_some())
    }

    async fn resolve_ref(&self, rev: &str) -> Result<Option<String>> {
        let out = self
            .git()
            .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{rev}^{{commit}}"))
            .output()
            .await?;
        if out.success() {
            let id = out.first_line();
            if is_hex(&id) && (id.len() == 40 || id.len() == 64) {
                return Ok(Some(id));
            }
            return Err(Error::unexpected(
                &self.inner.dir,
                format!("rev-parse printed {id:?} for {rev}"),
            ));
        }
        // `--verify --quiet` exits 1 for an unknown revision; anything else is trouble.
        if out.status.code() == Some(1) {
            return Ok(None);
        }
        let message = git::message_of(&out);
        if message.contains("ambiguous") || message.contains("unknown revision") {
            return Ok(None);
        }
        Err(git::failed("rev-parse", &self.inner.dir, &out))
    }
}

/// A revision a user or a mail may name: nothing git could take for an option, no whitespace
/// or control characters, nothing absurdly long.
fn plausible_rev(rev: &str) -> bool {
    !rev.is_empty()
        && rev.len() <= 256
        && !rev.starts_with('-')
        && !rev.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub(crate) fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn canonical_source(source: &TreeSource) -> Result<TreeSource> {
    match source {
        TreeSource::Url(url) => Ok(TreeSource::Url(url.trim().to_string())),
        TreeSource::Path(path) => match std::fs::canonicalize(path) {
            Ok(path) => Ok(TreeSource::Path(path)),
            Err(e) => Err(Error::Source {
                source_name: path.display().to_string(),
                message: e.to_string(),
            }),
        },
    }
}

/// `<readable name>-<12 hex of SHA-256 of the source>`.
pub(crate) fn mirror_name(source: &TreeSource) -> String {
    let key = source.as_git_arg();
    let trimmed = key.trim_end_matches('/');
    let mut base = trimmed
        .rsplit(['/', ':'])
        .find(|s| !s.is_empty() && *s != ".git")
        .unwrap_or("tree");
    base = base.strip_suffix(".git").unwrap_or(base);
    let mut name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert_str(0, "tree");
    }
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{name}-{hash}")
}

pub(crate) async fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

fn remove_lock_files(dir: &Path, depth: usize) {
    if depth > 16 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => remove_lock_files(&path, depth + 1),
            Ok(t) if t.is_file() && path.extension().is_some_and(|e| e == "lock") => {
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_and_distinct() {
        let a = mirror_name(&TreeSource::Url(
            "https://git.kernel.org/pub/scm/linux/kernel/git/netdev/net-next.git".into(),
        ));
        assert!(a.starts_with("net-next-"), "{a}");
        assert_eq!(a.len(), "net-next-".len() + 12);
        let b = mirror_name(&TreeSource::Url(
            "git@example.org:netdev/net-next.git".into(),
        ));
        assert!(b.starts_with("net-next-"));
        assert_ne!(a, b);
        let c = mirror_name(&TreeSource::Path("/srv/trees/linux/.git".into()));
        assert!(c.starts_with("linux-"), "{c}");
        let d = mirror_name(&TreeSource::Url("https://example.org/we ird$/".into()));
        assert!(d.starts_with("we_ird_-"), "{d}");
        let e = mirror_name(&TreeSource::Url("".into()));
        assert!(e.starts_with("tree-"), "{e}");
    }

    #[test]
    fn revisions_that_look_like_options_are_refused() {
        assert!(!plausible_rev("--upload-pack=evil"));
        assert!(!plausible_rev("a b"));
        assert!(!plausible_rev(""));
        assert!(plausible_rev("v6.1"));
        assert!(plausible_rev("0123abcd"));
    }
}

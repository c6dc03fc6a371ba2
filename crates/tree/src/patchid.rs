//! `git patch-id --stable`: is this patch already a commit of the base's recent history?
//!
//! The patch-ids of commits are cached in the mirror, in `gauntlet-patch-ids` (one line per
//! commit: `<commit> <patch-id>`, or `<commit> -` for a commit without one: a root commit, a
//! merge, an empty change). Commits never change, so the cache never goes stale; it is
//! append-only, and a line that does not parse (a concurrent append seen half-way) is ignored.
//! A lookup computes only the patch-ids of the commits the cache does not know, with one
//! `git diff-tree --stdin -p -M | git patch-id --stable` over all of them.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::mirror::{Mirror, is_hex};

const CACHE_FILE: &str = "gauntlet-patch-ids";

/// The in-memory view of the mirror's patch-id cache.
#[derive(Debug)]
pub(crate) struct PatchIds {
    file: PathBuf,
    loaded: bool,
    ids: HashMap<String, Option<String>>,
}

impl PatchIds {
    pub(crate) fn new(mirror_dir: &Path) -> PatchIds {
        PatchIds {
            file: mirror_dir.join(CACHE_FILE),
            loaded: false,
            ids: HashMap::new(),
        }
    }

    fn absorb(&mut self, text: &str) {
        for line in text.lines() {
            let mut parts = line.split(' ');
            let (Some(commit), Some(id), None) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            if !is_object_id(commit) {
                continue;
            }
            let id = if id == "-" {
                None
            } else if is_object_id(id) {
                Some(id.to_string())
            } else {
                continue;
            };
            self.ids.insert(commit.to_string(), id);
        }
        self.loaded = true;
    }
}

fn is_object_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && is_hex(s)
}

/// The stable patch-id of a patch (the diff part of a mail, as `git mailinfo` extracts it),
/// or `None` when it has no diff git recognises.
pub(crate) async fn of_patch(mirror: &Mirror, diff: &[u8]) -> Result<Option<String>> {
    if diff.is_empty() {
        return Ok(None);
    }
    let out = mirror
        .git()
        .args(["patch-id", "--stable"])
        .stdin_bytes(diff.to_vec())
        .run()
        .await?;
    let line = out.first_line();
    let id = line.split(' ').next().unwrap_or("");
    Ok(is_object_id(id).then(|| id.to_string()))
}

/// The most recent of the last `depth` non-merge commits of `base` whose patch-id is
/// `patch_id`.
pub(crate) async fn find_commit(
    mirror: &Mirror,
    base: &str,
    patch_id: &str,
    depth: usize,
) -> Result<Option<String>> {
    if depth == 0 {
        return Ok(None);
    }
    let out = mirror
        .git()
        .args(["rev-list", "--no-merges"])
        .arg(format!("--max-count={depth}"))
        .args(["--end-of-options", base])
        .run()
        .await?;
    let commits: Vec<String> = out
        .stdout_text()
        .lines()
        .map(str::trim)
        .filter(|l| is_object_id(l))
        .map(str::to_string)
        .collect();
    let unknown = unknown_commits(mirror, &commits).await?;
    if !unknown.is_empty() {
        compute(mirror, &unknown).await?;
    }
    let cache = lock(mirror)?;
    Ok(commits
        .into_iter()
        .find(|c| cache.ids.get(c).and_then(|id| id.as_deref()) == Some(patch_id)))
}

fn lock(mirror: &Mirror) -> Result<std::sync::MutexGuard<'_, PatchIds>> {
    mirror
        .patch_ids()
        .lock()
        .map_err(|_| Error::unexpected(mirror.path(), "patch-id cache lock poisoned"))
}

async fn unknown_commits(mirror: &Mirror, commits: &[String]) -> Result<Vec<String>> {
    let (loaded, file) = {
        let cache = lock(mirror)?;
        (cache.loaded, cache.file.clone())
    };
    if !loaded {
        let text = match tokio::fs::read(&file).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(&file, e)),
        };
        lock(mirror)?.absorb(&text);
    }
    let cache = lock(mirror)?;
    Ok(commits
        .iter()
        .filter(|c| !cache.ids.contains_key(*c))
        .cloned()
        .collect())
}

async fn compute(mirror: &Mirror, commits: &[String]) -> Result<()> {
    let mut list = commits.join("\n");
    list.push('\n');
    let diff = mirror
        .git()
        .args(["diff-tree", "--stdin", "-p", "-r", "-M", "--no-color"])
        .stdin_bytes(list.into_bytes());
    let ids = mirror.git().args(["patch-id", "--stable"]);
    let out = diff.pipe(ids).await?;
    let mut found: HashMap<String, String> = HashMap::new();
    for line in out.stdout_text().lines() {
        let mut parts = line.split(' ');
        if let (Some(id), Some(commit)) = (parts.next(), parts.next())
            && is_object_id(id)
            && is_object_id(commit)
        {
            found.insert(commit.to_string(), id.to_string());
        }
    }
    let mut lines = String::new();
    for commit in commits {
        let id = found.get(commit).map(String::as_str).unwrap_or("-");
        lines.push_str(commit);
        lines.push(' ');
        lines.push_str(id);
        lines.push('\n');
    }
    let file = lock(mirror)?.file.clone();
    let text = lines.clone();
    let appended = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)?;
        // One write: appends of whole buffers do not interleave with another process's.
        f.write_all(text.as_bytes())
    })
    .await;
    match appended {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot extend the patch-id cache"),
        Err(e) => tracing::warn!(error = %e, "cannot extend the patch-id cache"),
    }
    lock(mirror)?.absorb(&lines);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn cache_lines_that_do_not_parse_are_ignored() {
        let mut ids = PatchIds::new(Path::new("/nonexistent"));
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let c = "c".repeat(40);
        ids.absorb(&format!("{a} {b}\n{c} -\nzz yy\n{a}"));
        assert_eq!(ids.ids.get(&a), Some(&Some(b.clone())));
        assert_eq!(ids.ids.get(&c), Some(&None));
        assert_eq!(ids.ids.len(), 2);
    }
}

//! The git tree a series will apply to, as the checks read it: a working copy or a bare
//! repository, never written to.
//!
//! `checkpatch.pl` and `get_maintainer.pl` want to run from the top of a kernel tree, and
//! `checkpatch.pl --strict` writes a cache file (`.checkpatch-camelcase.*`) into its current
//! directory. So they run from a **scratch directory** that looks like the tree: for a working
//! copy, a temporary directory of symbolic links to the tree's top-level entries (`.git`
//! included, so that their `git log` calls work); for a bare repository, the few files they
//! read (`scripts/checkpatch.pl` and its data, `MAINTAINERS`, `scripts/get_maintainer.pl`, …)
//! taken from the revision with one `git cat-file --batch`, plus empty stand-ins for the other
//! entries they test for, with `GIT_DIR` pointing at the repository.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::obsolete::{self, Obsolete};
use crate::process;

/// The files a bare repository must provide for the scripts.
const SCRIPT_FILES: &[&str] = &[
    "MAINTAINERS",
    ".get_maintainer.ignore",
    ".mailmap",
    "scripts/checkpatch.pl",
    "scripts/spelling.txt",
    "scripts/const_structs.checkpatch",
    "scripts/get_maintainer.pl",
];

/// What `checkpatch.pl` tests for to recognise the top of a kernel tree.
const TOP_ENTRIES: &[(&str, bool)] = &[
    ("COPYING", false),
    ("CREDITS", false),
    ("Kbuild", false),
    ("Makefile", false),
    ("README", false),
    ("Documentation", true),
    ("arch", true),
    ("include", true),
    ("drivers", true),
    ("fs", true),
    ("init", true),
    ("ipc", true),
    ("kernel", true),
    ("lib", true),
];

/// A git tree.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    /// The directory given.
    pub(crate) path: PathBuf,
    /// The repository (`.git` of a working copy, or the bare repository itself).
    pub(crate) git_dir: PathBuf,
    pub(crate) bare: bool,
    /// The revision whose files a bare repository provides.
    pub(crate) revision: String,
    pub(crate) git: PathBuf,
}

impl Tree {
    pub(crate) fn open(path: &Path, revision: &str, git: &Path) -> Result<Tree, String> {
        if !path.is_dir() {
            return Err(format!("the tree {} is not a directory", path.display()));
        }
        let dot_git = path.join(".git");
        if dot_git.exists() {
            return Ok(Tree {
                path: path.to_path_buf(),
                git_dir: dot_git,
                bare: false,
                revision: revision.to_string(),
                git: git.to_path_buf(),
            });
        }
        if path.join("HEAD").is_file() && path.join("objects").is_dir() {
            return Ok(Tree {
                path: path.to_path_buf(),
                git_dir: path.to_path_buf(),
                bare: true,
                revision: revision.to_string(),
                git: git.to_path_buf(),
            });
        }
        Err(format!(
            "{} is neither a git working copy nor a bare repository",
            path.display()
        ))
    }

    /// A `git` command on this repository.
    pub(crate) fn git(&self) -> Command {
        let mut c = Command::new(&self.git);
        c.arg("--git-dir").arg(&self.git_dir);
        c.env("LANGUAGE", "C").env("LC_ALL", "C");
        c
    }
}

/// One answer of `git cat-file --batch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Object {
    Found {
        id: String,
        kind: String,
        content: Vec<u8>,
    },
    Missing,
    Ambiguous,
}

/// Looks every query up with one `git cat-file --batch` process.
pub(crate) fn cat_file(
    tree: &Tree,
    queries: &[String],
    timeout: Duration,
) -> Result<Vec<Object>, String> {
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    let mut input = Vec::new();
    for q in queries {
        // A query is one line: a newline in it would shift every answer.
        input.extend_from_slice(q.replace(['\n', '\r'], " ").as_bytes());
        input.push(b'\n');
    }
    let mut command = tree.git();
    command.args(["cat-file", "--batch"]);
    let out = process::run(command, Some(input), timeout, 64 << 20).map_err(|e| e.to_string())?;
    if out.timed_out() {
        return Err(format!(
            "git cat-file did not answer within {}s",
            timeout.as_secs()
        ));
    }
    if !out.status.is_some_and(|s| s.success()) {
        return Err(format!("git cat-file failed: {}", out.stderr_tail()));
    }
    let answers = parse_batch(&out.stdout, queries.len());
    if answers.len() != queries.len() {
        return Err(format!(
            "git cat-file gave {} answers to {} questions{}",
            answers.len(),
            queries.len(),
            if out.truncated {
                " (output too large)"
            } else {
                ""
            }
        ));
    }
    Ok(answers)
}

fn parse_batch(mut out: &[u8], expected: usize) -> Vec<Object> {
    let mut answers = Vec::with_capacity(expected);
    while !out.is_empty() && answers.len() < expected {
        let Some(eol) = memchr::memchr(b'\n', out) else {
            break;
        };
        let header = String::from_utf8_lossy(&out[..eol]).into_owned();
        out = &out[eol + 1..];
        let fields: Vec<&str> = header.split(' ').collect();
        match fields.as_slice() {
            [_, "missing"] => answers.push(Object::Missing),
            [_, "ambiguous"] => answers.push(Object::Ambiguous),
            [id, kind, size] => {
                let Ok(size) = size.parse::<usize>() else {
                    break;
                };
                let Some(content) = out.get(..size) else {
                    break;
                };
                answers.push(Object::Found {
                    id: (*id).to_string(),
                    kind: (*kind).to_string(),
                    content: content.to_vec(),
                });
                out = out.get(size + 1..).unwrap_or(b"");
            }
            _ => break,
        }
    }
    answers
}

/// A directory to run the tree's scripts from (see the module documentation). Removed when
/// dropped.
#[derive(Debug)]
pub(crate) struct Scratch {
    dir: tempfile::TempDir,
    /// `GIT_DIR` for the scripts (bare repositories).
    pub(crate) git_dir: Option<PathBuf>,
    has: HashMap<String, bool>,
    /// The tree's own `scripts/get_maintainer.pl`, when it has one.
    pub(crate) get_maintainer: Option<PathBuf>,
    /// The stand-in for checkpatch's status questions (working copies; see [`obsolete`]).
    pub(crate) stand_in: Option<StandIn>,
}

/// The stand-in `scripts/get_maintainer.pl` of a scratch directory.
#[derive(Debug, Clone)]
pub(crate) struct StandIn {
    path: PathBuf,
    real: PathBuf,
    root: PathBuf,
    table: std::sync::Arc<Obsolete>,
}

impl StandIn {
    /// Makes the stand-in answer for these files (and only these), replacing it atomically.
    pub(crate) fn answer<'f>(
        &self,
        files: impl IntoIterator<Item = &'f str>,
    ) -> Result<(), String> {
        let answers: std::collections::BTreeMap<String, bool> = files
            .into_iter()
            .map(|f| (f.to_string(), self.table.is_obsolete(&self.root, f)))
            .collect();
        let script = obsolete::stand_in(&self.real, &answers);
        let tmp = self.path.with_extension("pl.new");
        std::fs::write(&tmp, script).map_err(|e| format!("scratch: {e}"))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| format!("scratch: {e}"))
    }
}

impl Scratch {
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The scratch directory has the tree's `path` (one of [`SCRIPT_FILES`]).
    pub(crate) fn has(&self, path: &str) -> bool {
        self.has.get(path).copied().unwrap_or(false)
    }

    /// A command run from the scratch directory, seeing the tree's repository.
    pub(crate) fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(self.path());
        if let Some(git_dir) = &self.git_dir {
            c.env("GIT_DIR", git_dir);
        }
        c.env("LANGUAGE", "en_US.UTF-8");
        c
    }
}

/// Builds the scratch directory of `tree`.
pub(crate) fn scratch(tree: &Tree, timeout: Duration) -> Result<Scratch, String> {
    let dir = tempfile::Builder::new()
        .prefix("gauntlet-tree-")
        .tempdir()
        .map_err(|e| format!("cannot make a scratch directory: {e}"))?;
    let mut has = HashMap::new();
    if tree.bare {
        let queries: Vec<String> = SCRIPT_FILES
            .iter()
            .map(|p| format!("{}:{p}", tree.revision))
            .collect();
        let objects = cat_file(tree, &queries, timeout)?;
        for (path, object) in SCRIPT_FILES.iter().zip(objects) {
            let Object::Found { kind, content, .. } = object else {
                continue;
            };
            if kind != "blob" {
                continue;
            }
            let target = dir.path().join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("scratch: {e}"))?;
            }
            std::fs::write(&target, content).map_err(|e| format!("scratch: {e}"))?;
            has.insert((*path).to_string(), true);
        }
        for (name, is_dir) in TOP_ENTRIES {
            let target = dir.path().join(name);
            let made = if *is_dir {
                std::fs::create_dir_all(&target)
            } else {
                std::fs::write(&target, b"")
            };
            made.map_err(|e| format!("scratch: {e}"))?;
        }
        std::fs::create_dir_all(dir.path().join("scripts")).map_err(|e| format!("scratch: {e}"))?;
        if !has.contains_key("MAINTAINERS") {
            std::fs::write(dir.path().join("MAINTAINERS"), b"")
                .map_err(|e| format!("scratch: {e}"))?;
        }
        let get_maintainer = has
            .contains_key("scripts/get_maintainer.pl")
            .then(|| dir.path().join("scripts/get_maintainer.pl"));
        return Ok(Scratch {
            dir,
            git_dir: Some(tree.git_dir.clone()),
            has,
            get_maintainer,
            stand_in: None,
        });
    }
    link_entries(&tree.path, dir.path(), &["scripts"])?;
    let scripts = dir.path().join("scripts");
    std::fs::create_dir_all(&scripts).map_err(|e| format!("scratch: {e}"))?;
    link_entries(&tree.path.join("scripts"), &scripts, &["get_maintainer.pl"])?;
    for path in SCRIPT_FILES {
        has.insert((*path).to_string(), tree.path.join(path).is_file());
    }
    let real = tree.path.join("scripts/get_maintainer.pl");
    let get_maintainer = real.is_file().then(|| real.clone());
    let mut stand_in = None;
    if let Some(real) = &get_maintainer {
        let table = Obsolete::read(&tree.path);
        if table.is_none() {
            tracing::debug!("MAINTAINERS needs the real get_maintainer.pl for status questions");
        }
        match table {
            Some(table) => {
                let s = StandIn {
                    path: scripts.join("get_maintainer.pl"),
                    real: real.clone(),
                    root: tree.path.clone(),
                    table: std::sync::Arc::new(table),
                };
                s.answer([])?;
                stand_in = Some(s);
            }
            None => std::os::unix::fs::symlink(real, scripts.join("get_maintainer.pl"))
                .map_err(|e| format!("scratch: {e}"))?,
        }
    }
    Ok(Scratch {
        dir,
        git_dir: None,
        has,
        get_maintainer,
        stand_in,
    })
}

/// Symbolic links in `to` to every entry of `from`, but those `except`.
fn link_entries(from: &Path, to: &Path, except: &[&str]) -> Result<(), String> {
    let entries = std::fs::read_dir(from)
        .map_err(|e| format!("cannot read the tree {}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if except.iter().any(|e| name == std::ffi::OsStr::new(e)) {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), to.join(&name))
            .map_err(|e| format!("scratch: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn batch_answers() {
        let out = b"abc missing\n0123 ambiguous\n89ab commit 5\nhello\n";
        let answers = parse_batch(out, 3);
        assert_eq!(answers[0], Object::Missing);
        assert_eq!(answers[1], Object::Ambiguous);
        assert_eq!(
            answers[2],
            Object::Found {
                id: "89ab".into(),
                kind: "commit".into(),
                content: b"hello".to_vec()
            }
        );
    }
}

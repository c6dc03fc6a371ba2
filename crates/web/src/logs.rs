//! Logs, found by id and served by line ranges.
//!
//! A log is never named by a path from a URL: it is a job's log (the path the store recorded)
//! or the n-th file of a run's artifact directory. Either way the file must resolve, symbolic
//! links followed, to a regular file inside the artifacts directory.
//!
//! A line index (the offset of every [`STEP`]-th line) is built once per file with one pass of
//! `memchr` and kept in memory, keyed by the file's size and modification time: a range of a
//! 100 MB log is then a seek and a few kilobytes read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::Error;

/// Lines between two offsets kept by the index.
pub const STEP: u64 = 1024;
/// Most lines one range serves.
pub const MAX_LINES: u64 = 5000;
/// Most bytes one range reads (lines past it are left for the next range).
pub const MAX_BYTES: usize = 4 << 20;
/// Longest line shown, in characters (the rest is cut and marked).
pub const MAX_LINE_CHARS: usize = 4000;
/// Files listed per run.
const MAX_RUN_FILES: usize = 2000;
/// Indexes kept in memory.
const CACHE_ENTRIES: usize = 256;

/// Offsets of lines `1, 1 + STEP, 1 + 2·STEP, …` and the number of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    pub offsets: Vec<u64>,
    pub lines: u64,
    pub size: u64,
}

impl LineIndex {
    /// Reads `reader` to its end once.
    pub fn build(mut reader: impl Read) -> std::io::Result<LineIndex> {
        let mut offsets = vec![0];
        let mut buf = vec![0u8; 1 << 20];
        let mut pos: u64 = 0;
        // Lines started so far (the one in progress included once a byte of it is read).
        let mut newlines: u64 = 0;
        let mut last_byte_newline = true;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            for i in memchr::memchr_iter(b'\n', &buf[..n]) {
                newlines += 1;
                if newlines.is_multiple_of(STEP) {
                    offsets.push(pos + i as u64 + 1);
                }
            }
            last_byte_newline = buf[n - 1] == b'\n';
            pos += n as u64;
        }
        let lines = if last_byte_newline {
            newlines
        } else {
            newlines + 1
        };
        // An offset at the very end starts no line.
        while offsets.len() > 1 && offsets.last().is_some_and(|&o| o >= pos) {
            offsets.pop();
        }
        Ok(LineIndex {
            offsets,
            lines,
            size: pos,
        })
    }
}

/// Lines `from..=to` of a log (1-based), as far as the limits allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub from: u64,
    /// The last line served (`from - 1` when none).
    pub to: u64,
    pub lines: Vec<String>,
    /// Lines in the whole log.
    pub total: u64,
    pub size: u64,
}

/// One line as shown: lossy UTF-8, without its line end, control characters but tabs made
/// visible, cut at [`MAX_LINE_CHARS`].
fn show_line(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len().min(MAX_LINE_CHARS + 8));
    for (i, c) in text.chars().enumerate() {
        if i == MAX_LINE_CHARS {
            out.push_str(" [… line cut]");
            break;
        }
        match c {
            '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Reads lines `from..=to` of `path` with its `index`.
pub fn read_range(path: &Path, index: &LineIndex, from: u64, to: u64) -> std::io::Result<Range> {
    let from = from.max(1);
    let to = to.min(index.lines).min(from.saturating_add(MAX_LINES - 1));
    let mut range = Range {
        from,
        to: from - 1,
        lines: Vec::new(),
        total: index.lines,
        size: index.size,
    };
    if from > to {
        return Ok(range);
    }
    let slot = ((from - 1) / STEP) as usize;
    let slot = slot.min(index.offsets.len().saturating_sub(1));
    let mut line = slot as u64 * STEP + 1;
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(
        index.offsets.get(slot).copied().unwrap_or(0),
    ))?;
    let mut reader = BufReader::with_capacity(64 << 10, file);
    let mut buf = Vec::new();
    let mut bytes = 0;
    while line <= to {
        buf.clear();
        // A line longer than the byte budget is read only as far as it.
        let n = reader
            .by_ref()
            .take((MAX_BYTES + 1) as u64)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        if !buf.ends_with(b"\n") && n > MAX_BYTES {
            // Skip the rest of a huge line.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                let m = reader
                    .by_ref()
                    .take(MAX_BYTES as u64)
                    .read_until(b'\n', &mut rest)?;
                if m == 0 || rest.ends_with(b"\n") {
                    break;
                }
            }
        }
        if line >= from {
            bytes += n;
            range.lines.push(show_line(&buf));
            range.to = line;
            if bytes >= MAX_BYTES {
                break;
            }
        }
        line += 1;
    }
    Ok(range)
}

/// True when `path` (resolved) lies inside `root` (resolved).
fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let root = root.canonicalize().ok()?;
    let path = path.canonicalize().ok()?;
    (path.starts_with(&root) && path.is_file()).then_some(path)
}

/// The file a job's recorded log path names: relative to the artifacts directory (or absolute
/// inside it), without `..`, a regular file once links are followed.
pub fn job_log_path(artifacts: &Path, recorded: &str) -> Option<PathBuf> {
    let recorded = Path::new(recorded);
    if recorded
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return None;
    }
    let path = if recorded.is_absolute() {
        recorded.to_path_buf()
    } else {
        artifacts.join(recorded)
    };
    inside(artifacts, &path)
}

/// A file of a run's artifact directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFile {
    /// Its place in [`run_files`]' list: what URLs name it by.
    pub index: usize,
    /// Relative to the run's directory.
    pub name: String,
    pub size: u64,
}

/// The run's directory under the artifacts directory.
fn run_dir(artifacts: &Path, run: i64) -> PathBuf {
    artifacts.join("runs").join(run.to_string())
}

/// The regular files under `<artifacts>/runs/<run>/` (not following links), by name.
pub fn run_files(artifacts: &Path, run: i64) -> Vec<RunFile> {
    let root = run_dir(artifacts, run);
    let mut found: Vec<(String, u64)> = Vec::new();
    let mut pending = vec![(root.clone(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            let path = entry.path();
            if meta.is_dir() && depth < 6 {
                pending.push((path, depth + 1));
            } else if meta.is_file()
                && found.len() < MAX_RUN_FILES
                && let Ok(relative) = path.strip_prefix(&root)
            {
                found.push((relative.to_string_lossy().into_owned(), meta.len()));
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .enumerate()
        .map(|(index, (name, size))| RunFile { index, name, size })
        .collect()
}

/// The path of file `index` of run `run` (see [`run_files`]).
pub fn run_file_path(artifacts: &Path, run: i64, index: usize) -> Option<(RunFile, PathBuf)> {
    let file = run_files(artifacts, run).into_iter().nth(index)?;
    let path = run_dir(artifacts, run).join(&file.name);
    inside(artifacts, &path).map(|p| (file, p))
}

#[derive(Debug)]
struct Cached {
    size: u64,
    modified: Option<SystemTime>,
    used: u64,
    index: Arc<LineIndex>,
}

/// Line indexes of the logs served lately.
#[derive(Debug, Default)]
pub struct IndexCache {
    entries: Mutex<(u64, HashMap<PathBuf, Cached>)>,
}

impl IndexCache {
    /// The index of `path`, built now if the file changed since (or was never indexed).
    pub fn get(&self, path: &Path) -> Result<Arc<LineIndex>, Error> {
        let io = |source| Error::Io {
            context: format!("reading {}", path.display()),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        let modified = meta.modified().ok();
        if let Ok(mut guard) = self.entries.lock() {
            let (clock, entries) = &mut *guard;
            *clock += 1;
            if let Some(c) = entries.get_mut(path)
                && c.size == meta.len()
                && c.modified == modified
            {
                c.used = *clock;
                return Ok(c.index.clone());
            }
        }
        let started = std::time::Instant::now();
        let index = Arc::new(LineIndex::build(File::open(path).map_err(io)?).map_err(io)?);
        tracing::debug!(
            path = %path.display(),
            lines = index.lines,
            ms = started.elapsed().as_millis() as u64,
            "log indexed"
        );
        if let Ok(mut guard) = self.entries.lock() {
            let (clock, entries) = &mut *guard;
            if entries.len() >= CACHE_ENTRIES
                && let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, c)| c.used)
                    .map(|(p, _)| p.clone())
            {
                entries.remove(&oldest);
            }
            entries.insert(
                path.to_path_buf(),
                Cached {
                    size: index.size,
                    modified,
                    used: *clock,
                    index: index.clone(),
                },
            );
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn numbered(n: u64, last_newline: bool) -> String {
        let mut s: String = (1..=n).map(|i| format!("line {i}\n")).collect();
        if !last_newline {
            s.pop();
        }
        s
    }

    #[test]
    fn index_counts_lines_and_keeps_every_step() {
        for (n, newline) in [
            (0, true),
            (1, true),
            (1, false),
            (1024, true),
            (5000, false),
        ] {
            let text = numbered(n, newline);
            let index = LineIndex::build(text.as_bytes()).unwrap();
            assert_eq!(index.lines, n, "{n} {newline}");
            assert_eq!(index.size, text.len() as u64);
            for (k, &offset) in index.offsets.iter().enumerate().filter(|_| n > 0) {
                let line = k as u64 * STEP + 1;
                assert!(
                    text[offset as usize..].starts_with(&format!("line {line}\n"))
                        || text[offset as usize..] == format!("line {line}"),
                    "{n}: offset {k}"
                );
            }
        }
    }

    #[test]
    fn ranges_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, numbered(10_000, false)).unwrap();
        let index = LineIndex::build(File::open(&path).unwrap()).unwrap();
        let r = read_range(&path, &index, 2047, 2050).unwrap();
        assert_eq!(
            r.lines,
            ["line 2047", "line 2048", "line 2049", "line 2050"]
        );
        assert_eq!((r.from, r.to, r.total), (2047, 2050, 10_000));
        let r = read_range(&path, &index, 9999, 20_000).unwrap();
        assert_eq!(r.lines, ["line 9999", "line 10000"]);
        let r = read_range(&path, &index, 20_000, 20_010).unwrap();
        assert!(r.lines.is_empty());
        let r = read_range(&path, &index, 1, u64::MAX).unwrap();
        assert_eq!(r.lines.len() as u64, MAX_LINES);
    }

    #[test]
    fn lines_are_shown_safely() {
        assert_eq!(show_line(b"a\tb\x1b[31mc\r\n"), "a\tb\u{FFFD}[31mc");
        assert_eq!(show_line(b"\xff\n"), "\u{FFFD}");
        let long = "x".repeat(MAX_LINE_CHARS + 10);
        assert!(show_line(long.as_bytes()).ends_with("[… line cut]"));
    }

    #[test]
    fn recorded_paths_stay_inside_the_artifacts() {
        let dir = tempfile::tempdir().unwrap();
        let artifacts = dir.path().join("artifacts");
        std::fs::create_dir_all(artifacts.join("runs/1")).unwrap();
        std::fs::write(artifacts.join("runs/1/checks.txt"), "ok\n").unwrap();
        std::fs::write(dir.path().join("secret"), "no\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), artifacts.join("runs/1/link"))
            .unwrap();
        assert!(job_log_path(&artifacts, "runs/1/checks.txt").is_some());
        let absolute = artifacts.join("runs/1/checks.txt");
        assert!(job_log_path(&artifacts, &absolute.display().to_string()).is_some());
        assert!(job_log_path(&artifacts, "runs/1/../../secret").is_none());
        assert!(
            job_log_path(&artifacts, &dir.path().join("secret").display().to_string()).is_none()
        );
        assert!(job_log_path(&artifacts, "runs/1/link").is_none());
        assert!(job_log_path(&artifacts, "runs/1").is_none());
        let files = run_files(&artifacts, 1);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].name, "checks.txt");
        assert!(run_file_path(&artifacts, 1, 0).is_some());
        assert!(run_file_path(&artifacts, 1, 1).is_none());
    }
}

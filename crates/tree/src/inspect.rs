//! Refusing hostile or oversized patches before anything runs.
//!
//! The inspection reads each patch the way `git am` will: the diff part of the mail as git's
//! `mailinfo` extracts it ([`gauntlet_mailinfo`], so a base64 or quoted-printable body is
//! decoded first), and then git's patch format, parsed here (no process is started): the
//! `diff --git` header, `---`/`+++` lines (also of traditional diffs, which `git apply`
//! accepts too), `rename`/`copy` lines, modes, hunks (counted, so that a removed line that
//! starts with `--- ` is not taken for a header) and `GIT binary patch` data. It refuses:
//!
//! * a path with a `..` component, or an absolute path;
//! * a path with a component `.git`, in any case (on a case-insensitive file system `.GIT` is
//!   `.git`; NTFS and HFS+ have further aliases, `git~1` or ignorable code points, that git
//!   itself guards against with `core.protectNTFS`/`core.protectHFS`: they are not checked here);
//! * a symbolic link created or changed (mode `120000`) whose target is absolute, leaves the
//!   tree once `..` is resolved from the link's directory, or points into `.git`;
//! * a binary file larger than [`InspectLimits::binary_size`] (for a delta, the size of the
//!   result, read from the delta itself);
//! * a series larger than [`InspectLimits::series_size`] (the project's `patch_size`).
//!
//! git has its own protections (`git apply` refuses paths outside the tree and beyond
//! symbolic links): this is a second line, with reasons an author can act on. After applying,
//! [`crate::Lease::apply`] checks again, on the files themselves, that no symbolic link it
//! changed points outside the working copy.

use std::fmt;

use gauntlet_project::Limits;
use serde::{Deserialize, Serialize};

use crate::binary;
use crate::patch::{Patch, PatchRef, text};

/// Limits of the inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InspectLimits {
    /// The largest series, in bytes of mail (the project's `limits.patch_size`).
    pub series_size: u64,
    /// The largest binary file a patch may create or change (default 1 MiB).
    pub binary_size: u64,
}

impl Default for InspectLimits {
    fn default() -> Self {
        InspectLimits::from(&Limits::default())
    }
}

impl From<&Limits> for InspectLimits {
    fn from(limits: &Limits) -> Self {
        InspectLimits {
            series_size: limits.patch_size,
            binary_size: 1 << 20,
        }
    }
}

/// Why a series is refused: every problem found, in patch order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct Refusal {
    pub problems: Vec<Problem>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// One reason to refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub patch: PatchRef,
    /// The path concerned, as the patch writes it (none for the series' size).
    pub path: Option<String>,
    pub kind: ProblemKind,
    /// One line, for the author.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.patch)?;
        if let Some(path) = &self.path {
            write!(f, ": {path}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A `..` path component.
    ParentDirectory,
    AbsolutePath,
    /// A path into `.git`.
    GitDirectory,
    /// A symbolic link that points outside the tree (or into `.git`).
    SymlinkOutside,
    BinaryTooLarge,
    SeriesTooLarge,
}

/// Inspects a series before anything runs. `Err` lists every problem found.
pub fn inspect(patches: &[Patch], limits: &InspectLimits) -> Result<(), Refusal> {
    let mut problems = Vec::new();
    let mut total: u64 = 0;
    let mut over = false;
    for patch in patches {
        let at = PatchRef::new(patch, patches.len());
        total = total.saturating_add(patch.bytes.len() as u64);
        if total > limits.series_size && !over {
            over = true;
            problems.push(Problem {
                patch: at.clone(),
                path: None,
                kind: ProblemKind::SeriesTooLarge,
                reason: format!(
                    "the series reaches {total} bytes here, over the project's limit of {} bytes",
                    limits.series_size
                ),
            });
        }
        for (path, kind, reason) in inspect_diff(&patch.diff(), limits) {
            problems.push(Problem {
                patch: at.clone(),
                path: Some(path),
                kind,
                reason,
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Refusal { problems })
    }
}

type Found = (String, ProblemKind, String);

/// One file's header, as far as the checks need it.
#[derive(Default)]
struct FileDiff {
    /// The name the file has after the patch (for a symbolic link's directory).
    new_name: Option<Vec<u8>>,
    mode: Option<u32>,
    /// The `+` lines of its hunks (a symbolic link's target).
    added: Vec<u8>,
    added_lines: usize,
}

enum State {
    Header,
    Hunk {
        old: u64,
        new: u64,
    },
    /// Inside `GIT binary patch`: which block (0: forward, 1: reverse), and its data lines.
    Binary {
        block: u8,
        kind: Option<(bool, u64)>,
        data: Vec<Vec<u8>>,
    },
}

/// The problems of one patch's diff.
pub(crate) fn inspect_diff(diff: &[u8], limits: &InspectLimits) -> Vec<Found> {
    let mut found = Vec::new();
    let mut file: Option<FileDiff> = None;
    let mut state = State::Header;
    for raw in diff.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        // Hunk lines first: they may look like anything.
        if let State::Hunk { old, new } = state {
            if let Some(left) = consume(line, old, new) {
                if line.starts_with(b"+")
                    && let Some(f) = file.as_mut()
                {
                    if f.added_lines > 0 {
                        f.added.push(b'\n');
                    }
                    f.added.extend_from_slice(&line[1..]);
                    f.added_lines += 1;
                }
                state = match left {
                    (0, 0) => State::Header,
                    (old, new) => State::Hunk { old, new },
                };
                continue;
            }
            // Not a hunk line: a malformed hunk (git will say so); read it as a header.
            state = State::Header;
        }
        if let State::Binary { block, kind, data } = &mut state {
            if line.is_empty() {
                if *block == 0 {
                    if let Some((is_delta, size)) = *kind {
                        check_binary(is_delta, size, data, file.as_ref(), limits, &mut found);
                    }
                    state = State::Binary {
                        block: 1,
                        kind: None,
                        data: Vec::new(),
                    };
                } else {
                    state = State::Header;
                }
                continue;
            }
            if kind.is_none() {
                if let Some(size) = number_after(line, b"literal ") {
                    *kind = Some((false, size));
                    continue;
                }
                if let Some(size) = number_after(line, b"delta ") {
                    *kind = Some((true, size));
                    continue;
                }
                state = State::Header;
            } else {
                if *block == 0 {
                    data.push(line.to_vec());
                }
                continue;
            }
        }
        if let Some(rest) = line.strip_prefix(b"diff --git ") {
            if let Some(f) = file.take() {
                finish(f, &mut found);
            }
            let mut f = FileDiff::default();
            match header_names(rest) {
                Some((a, b)) => {
                    check_prefixed(&a, &mut found);
                    check_prefixed(&b, &mut found);
                    f.new_name = Some(strip_component(&b).to_vec());
                }
                None => check_tokens(rest, &mut found),
            }
            file = Some(f);
        } else if let Some(rest) = line
            .strip_prefix(b"--- ")
            .or_else(|| line.strip_prefix(b"+++ "))
        {
            let name = traditional_name(rest);
            if name != b"/dev/null" {
                check_prefixed(&name, &mut found);
                let f = file.get_or_insert_with(FileDiff::default);
                if line.starts_with(b"+++ ") {
                    f.new_name = Some(strip_component(&name).to_vec());
                }
            }
        } else if let Some(rest) = line
            .strip_prefix(b"rename from ")
            .or_else(|| line.strip_prefix(b"copy from "))
        {
            check_path(&unquoted(rest), &mut found);
        } else if let Some(rest) = line
            .strip_prefix(b"rename to ")
            .or_else(|| line.strip_prefix(b"copy to "))
        {
            let name = unquoted(rest);
            check_path(&name, &mut found);
            file.get_or_insert_with(FileDiff::default).new_name = Some(name);
        } else if let Some(rest) = line
            .strip_prefix(b"new file mode ")
            .or_else(|| line.strip_prefix(b"new mode "))
        {
            if let Some(f) = file.as_mut() {
                f.mode = parse_mode(rest);
            }
        } else if let Some(rest) = line.strip_prefix(b"index ") {
            // `index abc..def 120000`: the mode when it does not change.
            if let (Some(f), Some(mode)) = (
                file.as_mut(),
                rest.split(|&b| b == b' ').nth(1).and_then(parse_mode),
            ) {
                f.mode = f.mode.or(Some(mode));
            }
        } else if line.starts_with(b"@@ ") {
            if let Some((old, new)) = hunk_counts(line) {
                state = if old == 0 && new == 0 {
                    State::Header
                } else {
                    State::Hunk { old, new }
                };
            }
        } else if line == b"GIT binary patch" {
            state = State::Binary {
                block: 0,
                kind: None,
                data: Vec::new(),
            };
        }
    }
    if let State::Binary {
        block: 0,
        kind: Some((is_delta, size)),
        data,
    } = &state
    {
        check_binary(*is_delta, *size, data, file.as_ref(), limits, &mut found);
    }
    if let Some(f) = file.take() {
        finish(f, &mut found);
    }
    found.dedup();
    found
}

/// The checks that need the whole file header: a symbolic link's target.
fn finish(file: FileDiff, found: &mut Vec<Found>) {
    if file.mode != Some(0o120000) || file.added_lines == 0 {
        return;
    }
    let Some(name) = file.new_name else {
        return;
    };
    if let Some(reason) = link_escapes(&name, &file.added) {
        found.push((
            text(&name).into_owned(),
            ProblemKind::SymlinkOutside,
            reason,
        ));
    }
}

/// Why a link at `link` (a path in the tree) with target `target` leaves the tree, if it does.
pub(crate) fn link_escapes(link: &[u8], target: &[u8]) -> Option<String> {
    let shown = text(target);
    if target.starts_with(b"/") {
        return Some(format!(
            "symbolic link to the absolute path {shown}, outside the tree"
        ));
    }
    let mut stack: Vec<&[u8]> = link
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    stack.pop();
    for component in target.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => {
                if stack.pop().is_none() {
                    return Some(format!("symbolic link to {shown}, which leaves the tree"));
                }
            }
            c => {
                if c.eq_ignore_ascii_case(b".git") {
                    return Some(format!("symbolic link to {shown}, into .git"));
                }
                stack.push(c);
            }
        }
    }
    None
}

fn check_binary(
    is_delta: bool,
    size: u64,
    data: &[Vec<u8>],
    file: Option<&FileDiff>,
    limits: &InspectLimits,
    found: &mut Vec<Found>,
) {
    let name = file
        .and_then(|f| f.new_name.as_deref())
        .map(|n| text(n).into_owned())
        .unwrap_or_else(|| "(binary file)".to_string());
    let result = if is_delta {
        binary::decode_base85_lines(data.iter().map(Vec::as_slice))
            .and_then(|z| binary::delta_result_size(&z))
            .unwrap_or(size)
    } else {
        size
    };
    if result > limits.binary_size {
        found.push((
            name,
            ProblemKind::BinaryTooLarge,
            format!(
                "a binary file of {result} bytes, over the limit of {} bytes",
                limits.binary_size
            ),
        ));
    }
}

/// A path as written in a `diff --git`, `---` or `+++` line: absolute when written so, then
/// checked without its first component (`a/`, `b/`: what `git apply -p1` strips).
fn check_prefixed(name: &[u8], found: &mut Vec<Found>) {
    if name.starts_with(b"/") {
        found.push((
            text(name).into_owned(),
            ProblemKind::AbsolutePath,
            "an absolute path".to_string(),
        ));
        return;
    }
    check_path(strip_component(name), found);
}

/// A path relative to the tree's root.
fn check_path(path: &[u8], found: &mut Vec<Found>) {
    let shown = || text(path).into_owned();
    if path.starts_with(b"/") {
        found.push((
            shown(),
            ProblemKind::AbsolutePath,
            "an absolute path".to_string(),
        ));
        return;
    }
    for component in path.split(|&b| b == b'/') {
        if component == b".." {
            found.push((
                shown(),
                ProblemKind::ParentDirectory,
                "a `..` component leads out of the tree".to_string(),
            ));
            return;
        }
        if component.eq_ignore_ascii_case(b".git") {
            found.push((
                shown(),
                ProblemKind::GitDirectory,
                "a path into .git".to_string(),
            ));
            return;
        }
    }
}

/// When a `diff --git` line cannot be split into two names: refuse if any word looks bad.
fn check_tokens(rest: &[u8], found: &mut Vec<Found>) {
    let bad = rest
        .split(|&b| b == b' ' || b == b'/')
        .any(|t| t == b".." || t.eq_ignore_ascii_case(b".git"));
    if bad || rest.starts_with(b"/") {
        found.push((
            text(rest).into_owned(),
            ProblemKind::ParentDirectory,
            "the diff header names a path outside the tree or into .git".to_string(),
        ));
    }
}

/// Everything after the first `/` (git's `-p1`); the whole name when it has none.
fn strip_component(name: &[u8]) -> &[u8] {
    match memchr::memchr(b'/', name) {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// The two names of `diff --git A B`: quoted names are unquoted; two unquoted names are split
/// where both halves name the same path after their first component (git's rule when there is
/// no rename). `None` when that is ambiguous (a rename: its `rename` lines name the paths).
fn header_names(rest: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    if rest.starts_with(b"\"") {
        let (a, after) = unquote(rest)?;
        let after = after.strip_prefix(b" ")?;
        let b = if after.starts_with(b"\"") {
            unquote(after)?.0
        } else {
            after.to_vec()
        };
        return Some((a, b));
    }
    if let Some(i) = memchr::memmem::find(rest, b" \"") {
        let (b, _) = unquote(&rest[i + 1..])?;
        return Some((rest[..i].to_vec(), b));
    }
    for (i, _) in rest.iter().enumerate().filter(|(_, c)| **c == b' ') {
        let (a, b) = (&rest[..i], &rest[i + 1..]);
        if !a.is_empty() && strip_component(a) == strip_component(b) {
            return Some((a.to_vec(), b.to_vec()));
        }
    }
    None
}

/// The name of a `---`/`+++` line: quoted, or up to a tab (GNU diff puts a date after one).
fn traditional_name(rest: &[u8]) -> Vec<u8> {
    if rest.starts_with(b"\"")
        && let Some((name, _)) = unquote(rest)
    {
        return name;
    }
    let end = memchr::memchr(b'\t', rest).unwrap_or(rest.len());
    rest[..end].to_vec()
}

fn unquoted(rest: &[u8]) -> Vec<u8> {
    if rest.starts_with(b"\"")
        && let Some((name, _)) = unquote(rest)
    {
        return name;
    }
    rest.to_vec()
}

/// git's C-style quoting (`quote.c`): returns the name and what follows the closing quote.
fn unquote(s: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some((out, &s[i + 1..])),
            b'\\' => {
                let c = *s.get(i + 1)?;
                i += 2;
                let byte = match c {
                    b'a' => 7,
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'v' => 11,
                    b'f' => 12,
                    b'r' => b'\r',
                    b'"' | b'\\' => c,
                    b'0'..=b'3' => {
                        let d1 = *s.get(i)?;
                        let d2 = *s.get(i + 1)?;
                        if !(b'0'..=b'7').contains(&d1) || !(b'0'..=b'7').contains(&d2) {
                            return None;
                        }
                        i += 2;
                        ((c - b'0') << 6) | ((d1 - b'0') << 3) | (d2 - b'0')
                    }
                    _ => return None,
                };
                out.push(byte);
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

fn parse_mode(s: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(s).ok()?.trim();
    u32::from_str_radix(s, 8).ok()
}

fn number_after(line: &[u8], prefix: &[u8]) -> Option<u64> {
    std::str::from_utf8(line.strip_prefix(prefix)?)
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The line counts of `@@ -a[,b] +c[,d] @@`.
pub(crate) fn hunk_counts(line: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(line.get(3..)?).ok()?;
    let mut parts = text.split(' ');
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    let count = |range: &str| -> Option<u64> {
        match range.split_once(',') {
            Some((_, n)) => n.parse().ok(),
            None => range.parse::<u64>().ok().map(|_| 1),
        }
    };
    Some((count(old)?, count(new)?))
}

/// What is left of a hunk (old, new line counts) after `line`, or `None` when `line` is not
/// a line of the hunk.
fn consume(line: &[u8], old: u64, new: u64) -> Option<(u64, u64)> {
    match line.first() {
        // An empty line is a context line whose space was lost (git accepts it).
        None | Some(b' ') if old > 0 && new > 0 => Some((old - 1, new - 1)),
        Some(b'-') if old > 0 => Some((old - 1, new)),
        Some(b'+') if new > 0 => Some((old, new - 1)),
        Some(b'\\') => Some((old, new)),
        _ => None,
    }
}

/// The start lines (in the old file) of the hunks of each file of a diff, in order: to name
/// the hunk git rejected.
pub(crate) fn hunk_starts(diff: &[u8]) -> Vec<(String, Vec<u64>)> {
    let mut files: Vec<(String, Vec<u64>)> = Vec::new();
    let mut old_name: Option<String> = None;
    let mut remaining: Option<(u64, u64)> = None;
    for raw in diff.split(|&b| b == b'\n') {
        if let Some((old, new)) = remaining {
            if let Some(left) = consume(raw, old, new) {
                remaining = (left != (0, 0)).then_some(left);
                continue;
            }
            remaining = None;
        }
        if let Some(rest) = raw.strip_prefix(b"--- ") {
            let name = traditional_name(rest);
            old_name = (name != b"/dev/null").then(|| text(strip_component(&name)).into_owned());
        } else if let Some(rest) = raw.strip_prefix(b"+++ ") {
            let name = traditional_name(rest);
            let name = if name == b"/dev/null" {
                old_name.take().unwrap_or_default()
            } else {
                text(strip_component(&name)).into_owned()
            };
            files.push((name, Vec::new()));
        } else if raw.starts_with(b"@@ ") {
            let start = std::str::from_utf8(&raw[3..])
                .ok()
                .and_then(|t| t.split(' ').next())
                .and_then(|r| r.strip_prefix('-'))
                .and_then(|r| r.split(',').next())
                .and_then(|n| n.parse::<u64>().ok());
            if let (Some(start), Some(file)) = (start, files.last_mut()) {
                file.1.push(start);
            }
            remaining = hunk_counts(raw).filter(|c| *c != (0, 0));
        }
    }
    files
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn kinds(diff: &str) -> Vec<(String, ProblemKind)> {
        inspect_diff(diff.as_bytes(), &InspectLimits::default())
            .into_iter()
            .map(|(p, k, _)| (p, k))
            .collect()
    }

    #[test]
    fn a_clean_diff_passes() {
        let diff = "diff --git a/x.c b/x.c\nindex 1..2 100644\n--- a/x.c\n+++ b/x.c\n\
                    @@ -1,2 +1,2 @@\n--- a/../../etc/passwd\n+x\n ctx\n";
        assert!(kinds(diff).is_empty(), "{:?}", kinds(diff));
    }

    #[test]
    fn quoted_names_are_unquoted() {
        let (a, b) = header_names(br#""a/\303\251 x" "b/\303\251 x""#).unwrap();
        assert_eq!(a, "a/é x".as_bytes());
        assert_eq!(b, "b/é x".as_bytes());
        let (a, b) = header_names(b"a/with space b/with space").unwrap();
        assert_eq!(a, b"a/with space");
        assert_eq!(b, b"b/with space");
        assert!(header_names(b"a/x b/y").is_none());
    }

    #[test]
    fn symlink_targets_are_resolved_from_the_links_directory() {
        assert!(link_escapes(b"a/b/link", b"../c").is_none());
        assert!(link_escapes(b"a/b/link", b"../../c").is_none());
        assert!(link_escapes(b"a/b/link", b"../../../c").is_some());
        assert!(link_escapes(b"link", b"/etc/passwd").is_some());
        assert!(link_escapes(b"link", b"./x/../../y").is_some());
        assert!(link_escapes(b"link", b"sub/.GIT/config").is_some());
    }

    #[test]
    fn hunk_counts_default_to_one() {
        assert_eq!(hunk_counts(b"@@ -1 +1,3 @@ fn"), Some((1, 3)));
        assert_eq!(hunk_counts(b"@@ -0,0 +1 @@"), Some((0, 1)));
        assert_eq!(hunk_counts(b"@@ garbage"), None);
    }

    #[test]
    fn hunk_starts_follow_files() {
        let diff = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -3,1 +3,1 @@\n-a\n+b\n\
                    @@ -40 +40 @@\n-c\n+d\ndiff --git a/y b/y\n--- a/y\n+++ b/y\n@@ -7,2 +7 @@\n a\n-b\n";
        assert_eq!(
            hunk_starts(diff.as_bytes()),
            vec![("x".to_string(), vec![3, 40]), ("y".to_string(), vec![7])]
        );
    }
}

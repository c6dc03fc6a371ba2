//! Unified diffs read from bytes, the way `git apply` reads them: `diff --git` headers (or a
//! bare `---`/`+++` pair), extended headers, hunks counted by their headers, binary patches.
//!
//! The parser never fails: what does not fit is recorded ([`Diff::corrupt`]) and parsing goes on
//! in text mode. It is one pass over the lines and keeps, per line, one byte (its kind) and, for
//! added lines, a span, so a 50 MB diff costs a few tens of MB at most and a few tens of ms.

use crate::text::{Segment, lines, strip_cr};

/// Kind of one hunk line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    Context,
    Added,
    Removed,
    /// `\ No newline at end of file`.
    Marker,
}

/// A line added by the patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddedLine {
    /// Index into [`Diff::files`].
    pub(crate) file: usize,
    /// Line in the new version of the file.
    pub(crate) new_line: u32,
    pub(crate) mail_line: Option<u32>,
    pub(crate) segment: usize,
    /// Byte span of the line's text (after the `+`, before any `\r\n`) in its segment.
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// The line ended with `\r\n`.
    pub(crate) cr: bool,
    /// Followed by `\ No newline at end of file`.
    pub(crate) no_newline: bool,
}

/// One hunk: where it is and the kind of each of its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hunk {
    pub(crate) new_start: u32,
    /// Mail line of the first line after the `@@` header (when the segment is verbatim).
    pub(crate) first_mail_line: Option<u32>,
    pub(crate) kinds: Vec<LineKind>,
}

/// One file of a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FileDiff {
    /// Paths without their `a/`/`b/` prefix; `None` for `/dev/null`.
    pub(crate) old_path: Option<String>,
    pub(crate) new_path: Option<String>,
    /// Mail line of the file's first header line.
    pub(crate) header_line: Option<u32>,
    pub(crate) new_file: bool,
    pub(crate) deleted: bool,
    pub(crate) old_mode: Option<u32>,
    pub(crate) new_mode: Option<u32>,
    pub(crate) rename: bool,
    /// A `GIT binary patch` or `Binary files … differ`.
    pub(crate) binary: bool,
    /// `Binary files … differ`: binary, without the data to apply it.
    pub(crate) binary_without_data: bool,
    pub(crate) hunks: Vec<Hunk>,
    pub(crate) added: usize,
    pub(crate) removed: usize,
}

impl FileDiff {
    /// The path the file has after the patch (or had, when deleted).
    pub(crate) fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("(unnamed)")
    }
}

/// A hunk whose lines do not add up to its header's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corruption {
    pub(crate) file: usize,
    pub(crate) mail_line: Option<u32>,
    /// The line that ended the hunk early (lossy, short).
    pub(crate) line: Vec<u8>,
    pub(crate) missing_old: u32,
    pub(crate) missing_new: u32,
}

/// Everything read from the diffs of a mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Diff {
    pub(crate) files: Vec<FileDiff>,
    pub(crate) added_lines: Vec<AddedLine>,
    pub(crate) corrupt: Vec<Corruption>,
    /// Bytes and lines from the first diff line on.
    pub(crate) bytes: usize,
    pub(crate) lines: usize,
    /// Mail line of the first diff line.
    pub(crate) first_mail_line: Option<u32>,
    /// Segment and line index (0-based) of the first diff line.
    pub(crate) start: Option<(usize, usize)>,
}

/// At most this many corrupt hunks are recorded.
const MAX_CORRUPT: usize = 100;

impl Diff {
    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The text of an added line.
    pub(crate) fn text<'s>(&self, segments: &'s [Segment<'_>], line: &AddedLine) -> &'s [u8] {
        segments
            .get(line.segment)
            .and_then(|s| s.bytes.get(line.start..line.end))
            .unwrap_or(b"")
    }

    /// The source file and new-file line that a mail line shows, when it is an added or a
    /// context line of a hunk.
    pub(crate) fn source_of(&self, mail_line: u32) -> Option<(&str, u32)> {
        for file in &self.files {
            for hunk in &file.hunks {
                let Some(first) = hunk.first_mail_line else {
                    continue;
                };
                let len = u32::try_from(hunk.kinds.len()).unwrap_or(u32::MAX);
                if mail_line < first || mail_line >= first.saturating_add(len) {
                    continue;
                }
                let offset = usize::try_from(mail_line - first).ok()?;
                let kind = *hunk.kinds.get(offset)?;
                if !matches!(kind, LineKind::Added | LineKind::Context) {
                    return None;
                }
                let before = hunk.kinds[..offset]
                    .iter()
                    .filter(|k| matches!(k, LineKind::Added | LineKind::Context))
                    .count();
                let line = hunk
                    .new_start
                    .saturating_add(u32::try_from(before).unwrap_or(u32::MAX));
                return Some((file.path(), line));
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Commit message, diffstat, signature: not a diff.
    Text,
    /// Between `diff --git` (or `---`) and the first hunk.
    Header,
    Hunk {
        old: u32,
        new: u32,
    },
    /// After a complete hunk: another hunk, a marker, a new file or the end.
    AfterHunk,
    /// Binary patch data, up to the next file.
    Binary,
    /// After the signature separator: nothing more is a diff.
    Done,
}

/// Parses every diff in the mail's text segments.
pub(crate) fn parse(segments: &[Segment<'_>]) -> Diff {
    let mut diff = Diff::default();
    for (index, segment) in segments.iter().enumerate() {
        parse_segment(&mut diff, index, segment);
    }
    diff
}

struct Parser<'d> {
    diff: &'d mut Diff,
    segment_index: usize,
    state: State,
    new_line: u32,
    last_kind: Option<LineKind>,
}

fn parse_segment(diff: &mut Diff, segment_index: usize, segment: &Segment<'_>) {
    let bytes: &[u8] = &segment.bytes;
    let all: Vec<&[u8]> = lines(bytes).collect();
    let mut p = Parser {
        diff,
        segment_index,
        state: State::Text,
        new_line: 0,
        last_kind: None,
    };
    let base = bytes.as_ptr() as usize;
    let mut i = 0;
    while i < all.len() {
        let raw = all[i];
        let line = strip_cr(raw);
        let cr = line.len() < raw.len();
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let mail_line = segment.mail_line(index);
        let start = raw.as_ptr() as usize - base;
        let next = all.get(i + 1).map(|l| strip_cr(l));
        let reprocess = p.line(line, cr, mail_line, start, next, i);
        if !reprocess {
            if p.diff.start.is_some() {
                p.diff.lines += 1;
                p.diff.bytes += raw.len() + 1;
            }
            i += 1;
        }
    }
    p.finish_hunk_at_end();
}

impl Parser<'_> {
    fn mark_start(&mut self, mail_line: Option<u32>, index: usize) {
        if self.diff.start.is_none() {
            self.diff.start = Some((self.segment_index, index));
            self.diff.first_mail_line = mail_line;
        }
    }

    fn current(&mut self) -> Option<&mut FileDiff> {
        self.diff.files.last_mut()
    }

    fn new_file(&mut self, mail_line: Option<u32>, index: usize) {
        self.mark_start(mail_line, index);
        self.diff.files.push(FileDiff {
            header_line: mail_line,
            ..FileDiff::default()
        });
    }

    /// Handles one line; `true` when the line must be handled again in the new state.
    fn line(
        &mut self,
        line: &[u8],
        cr: bool,
        mail_line: Option<u32>,
        start: usize,
        next: Option<&[u8]>,
        index: usize,
    ) -> bool {
        match self.state {
            State::Done => false,
            State::Text | State::AfterHunk | State::Binary => {
                if let Some(rest) = line.strip_prefix(b"diff --git ") {
                    self.new_file(mail_line, index);
                    let (old, new) = git_header_paths(rest);
                    if let Some(f) = self.current() {
                        f.old_path = old;
                        f.new_path = new;
                    }
                    self.state = State::Header;
                    return false;
                }
                if self.state != State::Binary
                    && line.starts_with(b"--- ")
                    && next.is_some_and(|n| n.starts_with(b"+++ "))
                {
                    self.new_file(mail_line, index);
                    self.state = State::Header;
                    return true;
                }
                if self.state == State::AfterHunk {
                    if line.starts_with(b"@@ ") {
                        self.state = State::Header;
                        return true;
                    }
                    if line.starts_with(b"\\ ") {
                        self.marker();
                        return false;
                    }
                    if line == b"-- " {
                        self.state = State::Done;
                        return false;
                    }
                    self.state = State::Text;
                }
                false
            }
            State::Header => {
                self.header(line, mail_line, index);
                false
            }
            State::Hunk { old, new } => self.hunk_line(line, cr, mail_line, start, old, new),
        }
    }

    fn header(&mut self, line: &[u8], mail_line: Option<u32>, index: usize) {
        let Some(file) = self.diff.files.last_mut() else {
            self.state = State::Text;
            return;
        };
        if let Some(rest) = line.strip_prefix(b"--- ") {
            file.old_path = patch_path(rest);
        } else if let Some(rest) = line.strip_prefix(b"+++ ") {
            file.new_path = patch_path(rest);
        } else if line.starts_with(b"@@ ") {
            match hunk_header(line) {
                Some((old, new, new_start)) => {
                    file.hunks.push(Hunk {
                        new_start,
                        first_mail_line: mail_line.map(|l| l.saturating_add(1)),
                        kinds: Vec::new(),
                    });
                    self.new_line = new_start;
                    self.last_kind = None;
                    self.state = if old == 0 && new == 0 {
                        State::AfterHunk
                    } else {
                        State::Hunk { old, new }
                    };
                }
                None => {
                    let file_index = self.diff.files.len() - 1;
                    self.corrupt(file_index, mail_line, line, 0, 0);
                    self.state = State::Text;
                }
            }
        } else if let Some(mode) = line.strip_prefix(b"new file mode ") {
            file.new_file = true;
            file.new_mode = octal(mode);
        } else if let Some(mode) = line.strip_prefix(b"deleted file mode ") {
            file.deleted = true;
            file.old_mode = octal(mode);
        } else if let Some(mode) = line.strip_prefix(b"old mode ") {
            file.old_mode = octal(mode);
        } else if let Some(mode) = line.strip_prefix(b"new mode ") {
            file.new_mode = octal(mode);
        } else if let Some(rest) = line.strip_prefix(b"rename from ") {
            file.rename = true;
            file.old_path = Some(unquote(rest));
        } else if let Some(rest) = line.strip_prefix(b"rename to ") {
            file.rename = true;
            file.new_path = Some(unquote(rest));
        } else if let Some(rest) = line.strip_prefix(b"copy from ") {
            file.old_path = Some(unquote(rest));
        } else if let Some(rest) = line.strip_prefix(b"copy to ") {
            file.new_path = Some(unquote(rest));
        } else if let Some(rest) = line.strip_prefix(b"index ") {
            // `index abc..def 100644`: the mode of an unchanged-mode file.
            if let Some(mode) = rest.split(|&b| b == b' ').nth(1)
                && file.new_mode.is_none()
            {
                file.new_mode = octal(mode);
            }
        } else if line.starts_with(b"similarity index ")
            || line.starts_with(b"dissimilarity index ")
        {
        } else if line == b"GIT binary patch" {
            file.binary = true;
            self.state = State::Binary;
        } else if line.starts_with(b"Binary files ") && line.ends_with(b" differ") {
            file.binary = true;
            file.binary_without_data = true;
            self.state = State::AfterHunk;
        } else if line.starts_with(b"diff --git ") {
            // A file with extended headers only (mode change, rename, empty file).
            self.state = State::Text;
            self.line(line, false, mail_line, 0, None, index);
        } else {
            self.state = State::Text;
        }
    }

    fn hunk_line(
        &mut self,
        line: &[u8],
        cr: bool,
        mail_line: Option<u32>,
        start: usize,
        old: u32,
        new: u32,
    ) -> bool {
        let file_index = self.diff.files.len().saturating_sub(1);
        let first = line.first().copied();
        let (kind, old, new) = match first {
            Some(b'+') if new > 0 => (LineKind::Added, old, new - 1),
            Some(b'-') if old > 0 => (LineKind::Removed, old - 1, new),
            Some(b' ') | None if old > 0 && new > 0 => (LineKind::Context, old - 1, new - 1),
            Some(b'\\') => {
                self.marker();
                return false;
            }
            _ => {
                self.corrupt(file_index, mail_line, line, old, new);
                self.state = State::Text;
                return true;
            }
        };
        if kind == LineKind::Added {
            let new_line = self.new_line;
            let segment = self.segment_index;
            self.diff.added_lines.push(AddedLine {
                file: file_index,
                new_line,
                mail_line,
                segment,
                start: start + 1,
                end: start + line.len(),
                cr,
                no_newline: false,
            });
        }
        if matches!(kind, LineKind::Added | LineKind::Context) {
            self.new_line = self.new_line.saturating_add(1);
        }
        if let Some(file) = self.diff.files.last_mut() {
            match kind {
                LineKind::Added => file.added += 1,
                LineKind::Removed => file.removed += 1,
                _ => {}
            }
            if let Some(hunk) = file.hunks.last_mut() {
                hunk.kinds.push(kind);
            }
        }
        self.last_kind = Some(kind);
        self.state = if old == 0 && new == 0 {
            State::AfterHunk
        } else {
            State::Hunk { old, new }
        };
        false
    }

    /// `\ No newline at end of file`: about the line before it.
    fn marker(&mut self) {
        if let Some(hunk) = self.diff.files.last_mut().and_then(|f| f.hunks.last_mut()) {
            hunk.kinds.push(LineKind::Marker);
        }
        if self.last_kind == Some(LineKind::Added)
            && let Some(last) = self.diff.added_lines.last_mut()
        {
            last.no_newline = true;
        }
        self.last_kind = Some(LineKind::Marker);
    }

    fn corrupt(&mut self, file: usize, mail_line: Option<u32>, line: &[u8], old: u32, new: u32) {
        if self.diff.corrupt.len() < MAX_CORRUPT {
            self.diff.corrupt.push(Corruption {
                file,
                mail_line,
                line: line[..line.len().min(200)].to_vec(),
                missing_old: old,
                missing_new: new,
            });
        }
    }

    /// A segment that ends inside a hunk: the hunk is short.
    fn finish_hunk_at_end(&mut self) {
        if let State::Hunk { old, new } = self.state {
            let file = self.diff.files.len().saturating_sub(1);
            self.corrupt(file, None, b"", old, new);
        }
    }
}

/// `@@ -a[,b] +c[,d] @@`: the old and new counts and the new start.
fn hunk_header(line: &[u8]) -> Option<(u32, u32, u32)> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    let range = |r: &str| -> Option<(u32, u32)> {
        match r.split_once(',') {
            Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    let (_, old_count) = range(old)?;
    let (new_start, new_count) = range(new)?;
    Some((old_count, new_count, new_start))
}

fn octal(text: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(text).ok()?;
    u32::from_str_radix(text.trim(), 8).ok()
}

/// A path as written after `--- `/`+++ `: unquoted, timestamp removed, first component (`a/`)
/// dropped; `None` for `/dev/null`.
fn patch_path(rest: &[u8]) -> Option<String> {
    let name = if rest.first() == Some(&b'"') {
        unquote(rest)
    } else {
        let end = rest.iter().position(|&b| b == b'\t').unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..end]).trim_end().to_string()
    };
    if name == "/dev/null" {
        return None;
    }
    Some(strip_prefix_component(&name))
}

fn strip_prefix_component(name: &str) -> String {
    match name.split_once('/') {
        Some((first, rest)) if !first.is_empty() && !rest.is_empty() => rest.to_string(),
        _ => name.to_string(),
    }
}

/// The two paths of `diff --git a/x b/y` (prefixes dropped). Unquoted names with blanks are
/// ambiguous: git's rule is that both names are the same, which is what is tried.
fn git_header_paths(rest: &[u8]) -> (Option<String>, Option<String>) {
    if rest.first() == Some(&b'"') {
        let (first, len) = unquote_prefix(rest);
        let tail = rest.get(len..).unwrap_or(b"");
        let tail = tail.strip_prefix(b" ").unwrap_or(tail);
        let second = unquote(tail);
        return (
            Some(strip_prefix_component(&first)),
            Some(strip_prefix_component(&second)),
        );
    }
    let text = String::from_utf8_lossy(rest);
    let bytes = text.as_bytes();
    // Both names the same: the split is in the middle.
    if bytes.len() % 2 == 1 {
        let half = bytes.len() / 2;
        if bytes[half] == b' '
            && let (Some(a), Some(b)) = (text.get(..half), text.get(half + 1..))
            && strip_prefix_component(a) == strip_prefix_component(b)
        {
            let name = strip_prefix_component(a);
            return (Some(name.clone()), Some(name));
        }
    }
    match text.rfind(" b/") {
        Some(i) => (
            Some(strip_prefix_component(&text[..i])),
            Some(strip_prefix_component(&text[i + 1..])),
        ),
        None => (None, None),
    }
}

/// A C-quoted name (`"a/t\303\251st"`), or the text as it is.
fn unquote(text: &[u8]) -> String {
    if text.first() == Some(&b'"') {
        unquote_prefix(text).0
    } else {
        String::from_utf8_lossy(text).to_string()
    }
}

/// Unquotes the quoted string at the start of `text`: the name and the bytes it took.
fn unquote_prefix(text: &[u8]) -> (String, usize) {
    let mut out = Vec::new();
    let mut i = 1;
    while i < text.len() {
        match text[i] {
            b'"' => return (String::from_utf8_lossy(&out).into_owned(), i + 1),
            b'\\' if i + 1 < text.len() => {
                let c = text[i + 1];
                i += 2;
                match c {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'r' => out.push(b'\r'),
                    b'v' => out.push(11),
                    b'0'..=b'7' => {
                        let mut value = u32::from(c - b'0');
                        let mut digits = 1;
                        while digits < 3 && i < text.len() && (b'0'..=b'7').contains(&text[i]) {
                            value = value * 8 + u32::from(text[i] - b'0');
                            i += 1;
                            digits += 1;
                        }
                        out.push(u8::try_from(value & 0xff).unwrap_or(b'?'));
                    }
                    other => out.push(other),
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), text.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn seg(text: &[u8], first_line: Option<u32>) -> Segment<'_> {
        Segment {
            bytes: Cow::Borrowed(text),
            first_line,
            charset: None,
        }
    }

    const PATCH: &[u8] = b"Fix it.\n\nSigned-off-by: A <a@x.org>\n---\n kernel/sys.c | 3 ++-\n\ndiff --git a/kernel/sys.c b/kernel/sys.c\nindex 1111111..2222222 100644\n--- a/kernel/sys.c\n+++ b/kernel/sys.c\n@@ -120,3 +120,4 @@ static int x(void)\n a\n-b\n+b \n+c\r\n d\n@@ -200 +201 @@\n-x\n+y\n\\ No newline at end of file\n-- \n2.43.0\n";

    #[test]
    fn lines_and_new_file_numbers() {
        let segments = [seg(PATCH, Some(10))];
        let d = parse(&segments);
        assert_eq!(d.files.len(), 1);
        let f = &d.files[0];
        assert_eq!(f.path(), "kernel/sys.c");
        assert_eq!(f.old_path.as_deref(), Some("kernel/sys.c"));
        assert_eq!(f.new_mode, Some(0o100644));
        assert_eq!((f.added, f.removed, f.hunks.len()), (3, 2, 2));
        assert!(d.corrupt.is_empty(), "{:?}", d.corrupt);
        type Seen<'a> = (u32, Option<u32>, &'a [u8], bool, bool);
        let lines: Vec<Seen<'_>> = d
            .added_lines
            .iter()
            .map(|l| {
                (
                    l.new_line,
                    l.mail_line,
                    d.text(&segments, l),
                    l.cr,
                    l.no_newline,
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                (121, Some(23), &b"b "[..], false, false),
                (122, Some(24), &b"c"[..], true, false),
                (201, Some(28), &b"y"[..], false, true),
            ]
        );
        assert_eq!(d.first_mail_line, Some(16));
        assert_eq!(d.source_of(21), Some(("kernel/sys.c", 120)));
        assert_eq!(d.source_of(22), None); // the removed line
        assert_eq!(d.source_of(24), Some(("kernel/sys.c", 122)));
        assert_eq!(d.source_of(25), Some(("kernel/sys.c", 123)));
        assert_eq!(d.source_of(28), Some(("kernel/sys.c", 201)));
    }

    #[test]
    fn corrupt_hunk_is_recorded() {
        let text = b"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+c that was\nwrapped by a mailer\n d\n";
        let d = parse(&[seg(text, Some(1))]);
        assert_eq!(d.corrupt.len(), 1);
        assert_eq!(d.corrupt[0].mail_line, Some(8));
        assert_eq!((d.corrupt[0].missing_old, d.corrupt[0].missing_new), (1, 1));
    }

    #[test]
    fn short_hunk_at_the_end() {
        let d = parse(&[seg(b"--- a/f\n+++ b/f\n@@ -1,3 +1,4 @@\n a\n+b\n", None)]);
        assert_eq!(d.corrupt.len(), 1);
        assert_eq!(d.files[0].path(), "f");
    }

    #[test]
    fn extended_headers_binary_and_quoted_names() {
        let text = b"diff --git a/old name b/new name\nsimilarity index 100%\nrename from old name\nrename to new name\ndiff --git a/bin.png b/bin.png\nnew file mode 100644\nindex 0000000..1111111\nGIT binary patch\nliteral 3\nKcmZ?l\n\nliteral 0\nHcmV?d00001\n\ndiff --git \"a/t\\303\\251st\" \"b/t\\303\\251st\"\nnew file mode 120000\n--- /dev/null\n+++ \"b/t\\303\\251st\"\n@@ -0,0 +1 @@\n+target\n\\ No newline at end of file\ndiff --git a/x.bin b/x.bin\nBinary files a/x.bin and b/x.bin differ\n";
        let d = parse(&[seg(text, None)]);
        let paths: Vec<&str> = d.files.iter().map(FileDiff::path).collect();
        assert_eq!(paths, vec!["new name", "bin.png", "tést", "x.bin"]);
        assert!(d.files[0].rename);
        assert_eq!(d.files[0].old_path.as_deref(), Some("old name"));
        assert!(d.files[1].binary && d.files[1].new_file && !d.files[1].binary_without_data);
        assert_eq!(d.files[2].new_mode, Some(0o120000));
        assert_eq!(d.files[2].old_path, None);
        assert!(d.added_lines[0].no_newline);
        assert!(d.files[3].binary_without_data);
        assert!(d.corrupt.is_empty());
    }

    #[test]
    fn no_diff_and_plain_diffs() {
        assert!(parse(&[seg(b"just text\n--- not a diff\nmore\n", None)]).is_empty());
        let d = parse(&[seg(
            b"--- linux.orig/mm/a.c\t2024-01-01\n+++ linux/mm/a.c\t2024-01-02\n@@ -5 +5 @@\n-a\n+b\n",
            None,
        )]);
        assert_eq!(d.files[0].path(), "mm/a.c");
        assert_eq!(d.added_lines[0].new_line, 5);
    }

    #[test]
    fn header_parsing() {
        assert_eq!(hunk_header(b"@@ -1 +1 @@"), Some((1, 1, 1)));
        assert_eq!(hunk_header(b"@@ -0,0 +1,3 @@ fn"), Some((0, 3, 1)));
        assert_eq!(hunk_header(b"@@ -x +1 @@"), None);
        assert_eq!(
            git_header_paths(b"a/x y b/x y"),
            (Some("x y".into()), Some("x y".into()))
        );
        assert_eq!(
            git_header_paths(b"a/one b/two"),
            (Some("one".into()), Some("two".into()))
        );
    }
}

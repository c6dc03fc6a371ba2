//! The text of a patch mail as bytes, with the line numbers of the raw mail.
//!
//! `gauntlet-mail` decodes a mail as Patchwork does, and drops a text part that is not valid in
//! its charset: a diff with invalid UTF-8 vanishes from [`gauntlet_mail::Mail::content`]. The
//! checks that look at lines (whitespace, diff sanity, checkpatch's locations) read the bytes
//! instead, from the MIME parts (`gauntlet_mail::rfc822`), so that they see what `git am` sees
//! and can name the line of the mail a problem is on.

use std::borrow::Cow;

use gauntlet_mail::rfc822::{self, Body};

/// One text part of a mail: its decoded bytes and, when they are the mail's own bytes (no
/// base64 or quoted-printable), the mail line its first line is on.
#[derive(Debug, Clone)]
pub(crate) struct Segment<'a> {
    pub(crate) bytes: Cow<'a, [u8]>,
    pub(crate) first_line: Option<u32>,
    /// The declared charset, lower-cased.
    pub(crate) charset: Option<String>,
}

impl Segment<'_> {
    /// The mail line of the segment's `index`-th line (0-based).
    pub(crate) fn mail_line(&self, index: u32) -> Option<u32> {
        self.first_line.map(|first| first.saturating_add(index))
    }
}

/// The text parts of a mail (`text/plain`, `text/x-patch`, `text/x-diff`, and any other
/// `text/*`), in order.
pub(crate) fn segments(raw: &[u8]) -> Vec<Segment<'_>> {
    let root = rfc822::parse(raw);
    let mut out = Vec::new();
    for part in root.walk() {
        let Body::Data(data) = part.body else {
            continue;
        };
        let ctype = part.content_type();
        if !ctype.starts_with("text/") {
            continue;
        }
        let Some(bytes) = part.decoded() else {
            continue;
        };
        let verbatim = matches!(bytes, Cow::Borrowed(_));
        let first_line = if verbatim {
            offset_in(raw, data).map(|offset| line_of_offset(raw, offset))
        } else {
            None
        };
        out.push(Segment {
            bytes,
            first_line,
            charset: part.charset(),
        });
    }
    out
}

/// Where `inner` starts in `outer`, when it is a slice of it.
fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = outer.as_ptr() as usize;
    let at = inner.as_ptr() as usize;
    (at >= start && at + inner.len() <= start + outer.len()).then(|| at - start)
}

/// The 1-based line number of the byte at `offset`.
pub(crate) fn line_of_offset(raw: &[u8], offset: usize) -> u32 {
    let count = memchr::memchr_iter(b'\n', &raw[..offset.min(raw.len())]).count();
    u32::try_from(count).unwrap_or(u32::MAX).saturating_add(1)
}

/// The lines of `bytes`, split at `\n` (a final line without one counts; an empty final piece
/// does not), each without its `\n`.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = &[];
                Some(line)
            }
        }
    })
}

/// `line` without a final `\r`.
pub(crate) fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The 1-based mail line of the first header called `name` (case-insensitive).
pub(crate) fn header_line(raw: &[u8], name: &str) -> Option<u32> {
    for (i, line) in lines(raw).enumerate() {
        let line = strip_cr(line);
        if line.is_empty() {
            return None;
        }
        if line.len() > name.len()
            && line[name.len()] == b':'
            && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            return u32::try_from(i + 1).ok();
        }
    }
    None
}

/// The line `index` (1-based) of `raw`, without its line ending.
pub(crate) fn line_at(raw: &[u8], number: u32) -> Option<&[u8]> {
    let index = usize::try_from(number).ok()?.checked_sub(1)?;
    lines(raw).nth(index).map(strip_cr)
}

/// Finds the lines of a commit message in the mail's first segment, in order, so that findings
/// about the message can name a mail line. Lines that cannot be found (re-encoded text) get
/// `None`.
pub(crate) struct MessageLines<'a> {
    segment: Option<&'a Segment<'a>>,
    /// Lines of the segment, and the index the next search starts at.
    lines: Vec<&'a [u8]>,
    cursor: usize,
}

impl<'a> MessageLines<'a> {
    /// The lines of the first segment, up to (not including) line `end` (the diff's start).
    pub(crate) fn new(segments: &'a [Segment<'a>], end: usize) -> MessageLines<'a> {
        let segment = segments.first();
        let lines = segment
            .map(|s| lines(&s.bytes).take(end).map(strip_cr).collect())
            .unwrap_or_default();
        MessageLines {
            segment,
            lines,
            cursor: 0,
        }
    }

    /// The mail line of the next occurrence of `text` (as a whole line) at or after the cursor;
    /// the cursor moves past it when found.
    pub(crate) fn find(&mut self, text: &str) -> Option<u32> {
        let segment = self.segment?;
        let wanted = text.as_bytes();
        let found = self.lines[self.cursor.min(self.lines.len())..]
            .iter()
            .position(|line| *line == wanted)?;
        let index = self.cursor + found;
        self.cursor = index + 1;
        segment.mail_line(u32::try_from(index).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &[u8] = b"From: A <a@example.org>\nSubject: [PATCH] x: y\nContent-Type: text/plain; charset=utf-8\n\nBody line\n---\n x | 1 +\n";

    #[test]
    fn plain_mail_lines_are_the_mails() {
        let segs = segments(MAIL);
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].first_line, Some(5));
        assert_eq!(segs[0].charset.as_deref(), Some("utf-8"));
        assert_eq!(header_line(MAIL, "subject"), Some(2));
        assert_eq!(header_line(MAIL, "Cc"), None);
        assert_eq!(line_at(MAIL, 5), Some(&b"Body line"[..]));
        let mut finder = MessageLines::new(&segs, usize::MAX);
        assert_eq!(finder.find("---"), Some(6));
        assert_eq!(finder.find("Body line"), None);
    }

    #[test]
    fn encoded_parts_have_no_mail_lines() {
        let mail = b"From: A <a@x.org>\nContent-Transfer-Encoding: base64\n\nQm9keQo=\n";
        let segs = segments(mail);
        assert_eq!(segs.len(), 1);
        assert_eq!(&*segs[0].bytes, b"Body\n");
        assert_eq!(segs[0].first_line, None);
    }

    #[test]
    fn line_iteration() {
        let v: Vec<&[u8]> = lines(b"a\n\nb").collect();
        assert_eq!(v, vec![&b"a"[..], b"", b"b"]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"x\n").count(), 1);
    }
}

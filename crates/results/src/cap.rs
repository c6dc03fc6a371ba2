//! Keeping a bounded amount of a stream: the head and the tail.
//!
//! A test that floods the console, or a build that prints a gigabyte, must not exhaust memory or
//! disk, yet what a person needs is almost always at the start (what ran) and at the end (how it
//! died). [`LogCap`] keeps the first `head` bytes and the last `tail` bytes of everything written
//! to it, and counts the rest. When something was dropped, the kept head is cut after its last
//! complete line and the kept tail starts at a line boundary, so that every kept line keeps its
//! true line number; [`CappedLog::text`] puts a marker line between the two parts that says how
//! many lines and bytes are missing there.

use std::collections::VecDeque;
use std::io;

use memchr::memchr_iter;
use serde::{Deserialize, Serialize};

use crate::model::Excerpt;

/// An accumulator (and an [`io::Write`]) that keeps the head and the tail of a stream.
#[derive(Debug, Clone)]
pub struct LogCap {
    head_limit: usize,
    tail_limit: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    /// The byte just before the tail's first byte, once something was pushed out of the tail.
    before_tail: Option<u8>,
    total_bytes: u64,
    /// Newlines in the bytes dropped so far (the kept ones are counted at the end, so that
    /// small pushes cost no count at all).
    dropped_newlines: u64,
    first_line: u64,
}

impl LogCap {
    /// Keeps at most `head` + `tail` bytes.
    pub fn new(head: usize, tail: usize) -> Self {
        LogCap::starting_at(head, tail, 1)
    }

    /// The same, for a stream whose first line is numbered `first_line` (an excerpt).
    pub fn starting_at(head: usize, tail: usize, first_line: u64) -> Self {
        LogCap {
            head_limit: head,
            tail_limit: tail,
            head: Vec::new(),
            tail: VecDeque::new(),
            before_tail: None,
            total_bytes: 0,
            dropped_newlines: 0,
            first_line,
        }
    }

    /// Empties the accumulator (keeping its allocations) for a stream starting at `first_line`.
    pub fn reset(&mut self, first_line: u64) {
        self.head.clear();
        self.tail.clear();
        self.before_tail = None;
        self.total_bytes = 0;
        self.dropped_newlines = 0;
        self.first_line = first_line;
    }

    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.total_bytes == 0
    }

    /// Appends bytes.
    pub fn push(&mut self, mut data: &[u8]) {
        self.total_bytes += data.len() as u64;
        if self.head.len() < self.head_limit {
            let take = (self.head_limit - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        if data.is_empty() {
            return;
        }
        if data.len() >= self.tail_limit {
            // Everything in the tail goes, and the start of `data` with it.
            let cut = data.len() - self.tail_limit;
            let (a, b) = self.tail.as_slices();
            self.dropped_newlines += newlines(a) + newlines(b) + newlines(&data[..cut]);
            self.before_tail = if cut > 0 {
                Some(data[cut - 1])
            } else {
                self.tail.back().copied().or(self.before_tail)
            };
            self.tail.clear();
            self.tail.extend(&data[cut..]);
            return;
        }
        let excess = (self.tail.len() + data.len()).saturating_sub(self.tail_limit);
        if excess > 0 {
            let (a, b) = self.tail.as_slices();
            let from_a = excess.min(a.len());
            self.dropped_newlines += newlines(&a[..from_a]) + newlines(&b[..excess - from_a]);
            self.before_tail = self.tail.get(excess - 1).copied();
            self.tail.drain(..excess);
        }
        self.tail.extend(data);
    }

    /// Appends one line and its `\n`.
    pub fn push_line(&mut self, line: &[u8]) {
        self.push(line);
        self.push(b"\n");
    }

    /// The excerpt of what was pushed since the start (its text only with `keep_text`), and a
    /// reset for the lines that follow `last_line`. Keeps the allocations: no cost per excerpt
    /// when the text is not kept.
    pub fn take_excerpt(&mut self, last_line: u64, keep_text: bool) -> Excerpt {
        let excerpt = if keep_text {
            self.snapshot().into_excerpt(last_line)
        } else {
            Excerpt {
                first_line: self.first_line,
                last_line: last_line.max(self.first_line),
                text: String::new(),
                dropped_bytes: self.total_bytes,
            }
        };
        self.reset(last_line + 1);
        excerpt
    }

    /// What is kept so far, without consuming the accumulator.
    pub fn snapshot(&self) -> CappedLog {
        self.clone().finish()
    }

    /// The kept head and tail, with exact line numbers and counts of what was dropped.
    pub fn finish(self) -> CappedLog {
        let LogCap {
            mut head,
            tail,
            before_tail,
            total_bytes,
            dropped_newlines,
            first_line,
            ..
        } = self;
        let mut tail: Vec<u8> = tail.into();
        let original_newlines = newlines(&head) + dropped_newlines + newlines(&tail);
        let last_byte = tail
            .last()
            .copied()
            .or(before_tail)
            .or(head.last().copied());
        let dropped_anything = total_bytes > (head.len() + tail.len()) as u64;
        if !dropped_anything {
            head.extend_from_slice(&tail);
            let lines = count_lines(&head);
            return CappedLog {
                head,
                tail: Vec::new(),
                first_line,
                tail_first_line: first_line + lines,
                dropped_bytes: 0,
                dropped_lines: 0,
                total_bytes,
                total_lines: lines,
            };
        }
        // Cut the head after its last complete line, unless it has none (one huge line).
        if let Some(pos) = head.iter().rposition(|&b| b == b'\n') {
            head.truncate(pos + 1);
        }
        // Start the tail at a line boundary, unless it is the end of one huge line.
        if before_tail != Some(b'\n')
            && let Some(pos) = tail.iter().position(|&b| b == b'\n')
        {
            tail.drain(..=pos);
        }
        let tail_newlines = newlines(&tail);
        let head_newlines = newlines(&head);
        let total_newlines = original_newlines;
        let total_lines = total_newlines + u64::from(last_byte.is_some_and(|b| b != b'\n'));
        let tail_first_line = first_line + total_newlines - tail_newlines;
        CappedLog {
            dropped_bytes: total_bytes - (head.len() + tail.len()) as u64,
            dropped_lines: (tail_first_line - first_line).saturating_sub(head_newlines),
            head,
            tail,
            first_line,
            tail_first_line,
            total_bytes,
            total_lines,
        }
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    memchr_iter(b'\n', bytes).count() as u64
}

/// Lines in `bytes`, a last line without `\n` included.
fn count_lines(bytes: &[u8]) -> u64 {
    let newlines = memchr_iter(b'\n', bytes).count() as u64;
    newlines + u64::from(!bytes.is_empty() && bytes.last() != Some(&b'\n'))
}

impl io::Write for LogCap {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What a [`LogCap`] kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CappedLog {
    /// The start of the stream; it ends with a complete line when something was dropped (unless
    /// the first line alone is longer than the head).
    pub head: Vec<u8>,
    /// The end of the stream, starting at a line boundary; empty when nothing was dropped (then
    /// `head` holds everything).
    pub tail: Vec<u8>,
    /// The number of the head's first line.
    pub first_line: u64,
    /// The number of the tail's first line.
    pub tail_first_line: u64,
    pub dropped_bytes: u64,
    /// Lines not kept. A line that would straddle the end of the head or the start of the tail
    /// is dropped whole, and counted here (except the ends of a single line longer than the head
    /// or the tail, which are kept).
    pub dropped_lines: u64,
    pub total_bytes: u64,
    pub total_lines: u64,
}

impl CappedLog {
    pub fn is_complete(&self) -> bool {
        self.dropped_bytes == 0
    }

    /// The marker line put where bytes were dropped.
    pub fn marker(&self) -> String {
        format!(
            "[gauntlet: {} lines ({} bytes) not kept here; the next line is line {}]",
            self.dropped_lines, self.dropped_bytes, self.tail_first_line
        )
    }

    /// The kept text (invalid UTF-8 replaced), with the marker line where bytes were dropped.
    pub fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if !self.is_complete() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&self.marker());
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&self.tail));
        }
        text
    }

    /// The kept lines with their numbers (without their `\n`).
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> {
        numbered(&self.head, self.first_line).chain(numbered(&self.tail, self.tail_first_line))
    }

    /// This log as the excerpt of the lines `first_line..=last_line`.
    pub fn into_excerpt(self, last_line: u64) -> Excerpt {
        Excerpt {
            first_line: self.first_line,
            last_line: last_line.max(self.first_line),
            dropped_bytes: self.dropped_bytes,
            text: self.text(),
        }
    }
}

fn numbered(bytes: &[u8], first: u64) -> impl Iterator<Item = (u64, &[u8])> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let lines = if bytes.is_empty() {
        None
    } else {
        Some(body.split(|&b| b == b'\n'))
    };
    lines
        .into_iter()
        .flatten()
        .enumerate()
        .map(move |(i, line)| (first + i as u64, line))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn numbered_stream(lines: u64) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 1..=lines {
            data.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        data
    }

    #[test]
    fn a_small_stream_is_kept_whole() {
        let mut cap = LogCap::new(100, 100);
        cap.push(b"a\nb\nc");
        let log = cap.finish();
        assert!(log.is_complete());
        assert_eq!(log.text(), "a\nb\nc");
        assert_eq!(log.total_lines, 3);
        let lines: Vec<_> = log.lines().collect();
        assert_eq!(lines, vec![(1, &b"a"[..]), (2, &b"b"[..]), (3, &b"c"[..])]);
    }

    #[test]
    fn kept_lines_keep_their_numbers_whatever_the_chunking() {
        let data = numbered_stream(10_000);
        for chunk in [1usize, 3, 64, 1000, 100_000] {
            let mut cap = LogCap::new(100, 200);
            for piece in data.chunks(chunk) {
                cap.write_all(piece).unwrap_or_default();
            }
            let log = cap.finish();
            assert_eq!(log.total_bytes, data.len() as u64);
            assert_eq!(log.total_lines, 10_000);
            assert!(log.head.len() <= 100 && log.tail.len() <= 200);
            for (number, line) in log.lines() {
                assert_eq!(line, format!("line {number}").as_bytes(), "chunk {chunk}");
            }
            let kept = log.lines().count() as u64;
            assert_eq!(kept + log.dropped_lines, 10_000, "chunk {chunk}");
            assert_eq!(
                log.dropped_bytes,
                data.len() as u64 - (log.head.len() + log.tail.len()) as u64
            );
            assert!(log.text().contains("lines ("), "{}", log.text());
        }
    }

    #[test]
    fn one_huge_line_keeps_its_ends() {
        let mut cap = LogCap::new(10, 10);
        for _ in 0..1000 {
            cap.push(&[b'x'; 1000]);
        }
        let log = cap.finish();
        assert_eq!(log.head.len() + log.tail.len(), 20);
        assert_eq!(log.dropped_bytes, 1_000_000 - 20);
        assert_eq!(log.total_lines, 1);
    }

    #[test]
    fn a_tail_that_starts_exactly_on_a_line_is_not_cut() {
        let mut cap = LogCap::new(4, 4);
        cap.push(b"aaa\nbbb\nccc\n");
        let log = cap.finish();
        assert_eq!(log.head, b"aaa\n");
        assert_eq!(log.tail, b"ccc\n");
        assert_eq!(log.tail_first_line, 3);
        assert_eq!(log.dropped_lines, 1);
    }

    #[test]
    fn excerpts_start_at_their_first_line() {
        let mut cap = LogCap::starting_at(1000, 0, 41);
        cap.push_line(b"first");
        cap.push_line(b"second");
        let excerpt = cap.finish().into_excerpt(42);
        assert_eq!(
            (excerpt.first_line, excerpt.last_line, excerpt.text.as_str()),
            (41, 42, "first\nsecond\n")
        );
    }
}

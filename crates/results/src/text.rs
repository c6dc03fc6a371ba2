//! Lines of a console: cutting a byte stream into lines, and the text a reader should look at.
//!
//! * A line ends at `\n`; the `\r`s before it (`\r\n`, the `\r\r\n` of a serial console seen
//!   through a pty) are not part of it. A line longer than the limit is cut: its first bytes are
//!   kept and flagged, the rest is counted and skipped, so a 50 MB line costs the limit, not
//!   50 MB.
//! * [`visible`] is what a terminal would show: ANSI escape sequences and other control
//!   characters removed, invalid UTF-8 replaced, and for a line with a carriage return in the
//!   middle (`progress 10%\rprogress 20%`), the last segment that is not blank.
//! * [`strip_console_prefix`] removes what the kernel puts before a message: `<6>` levels,
//!   `[    0.123456]` timestamps and `[    T1]` caller ids.

use std::borrow::Cow;

use memchr::memchr;

/// One line cut out of a stream.
#[derive(Debug, Clone, Copy)]
pub struct RawLine<'a> {
    /// 1-based.
    pub number: u64,
    /// Without the `\n` and the `\r`s before it; at most the splitter's limit.
    pub bytes: &'a [u8],
    /// The line was longer than the limit and `bytes` holds only its start.
    pub truncated: bool,
}

/// Cuts a stream, fed in chunks of any size, into lines.
#[derive(Debug)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// The line being assembled is already longer than the limit.
    overflow: bool,
    /// Bytes of the current line seen so far (including those not kept).
    partial_len: usize,
    max_line: usize,
    next: u64,
}

impl LineSplitter {
    pub fn new(max_line: usize) -> Self {
        LineSplitter {
            partial: Vec::new(),
            overflow: false,
            partial_len: 0,
            max_line: max_line.max(1),
            next: 1,
        }
    }

    /// Lines emitted so far.
    pub fn lines(&self) -> u64 {
        self.next - 1
    }

    /// The number the next line will have.
    pub fn next_number(&self) -> u64 {
        self.next
    }

    /// Feeds bytes; calls `emit` for every line they complete.
    pub fn push(&mut self, mut data: &[u8], mut emit: impl FnMut(RawLine<'_>)) {
        while let Some(i) = memchr(b'\n', data) {
            let piece = &data[..i];
            data = &data[i + 1..];
            if self.partial_len == 0 {
                let truncated = piece.len() > self.max_line;
                let kept = if truncated {
                    &piece[..self.max_line]
                } else {
                    piece
                };
                let number = self.take_number();
                emit(RawLine {
                    number,
                    bytes: trim_cr(kept, truncated),
                    truncated,
                });
            } else {
                self.append(piece);
                self.flush(&mut emit);
            }
        }
        if !data.is_empty() {
            self.append(data);
        }
    }

    /// Emits the last line if the stream did not end with `\n`.
    pub fn finish(&mut self, mut emit: impl FnMut(RawLine<'_>)) {
        if self.partial_len > 0 {
            self.flush(&mut emit);
        }
    }

    fn take_number(&mut self) -> u64 {
        let number = self.next;
        self.next += 1;
        number
    }

    fn append(&mut self, piece: &[u8]) {
        self.partial_len = self.partial_len.saturating_add(piece.len());
        let room = self.max_line.saturating_sub(self.partial.len());
        if piece.len() > room {
            self.partial.extend_from_slice(&piece[..room]);
            self.overflow = true;
        } else {
            self.partial.extend_from_slice(piece);
        }
    }

    fn flush(&mut self, emit: &mut impl FnMut(RawLine<'_>)) {
        let number = self.take_number();
        let truncated = self.overflow;
        emit(RawLine {
            number,
            bytes: trim_cr(&self.partial, truncated),
            truncated,
        });
        self.partial.clear();
        self.overflow = false;
        self.partial_len = 0;
    }
}

fn trim_cr(bytes: &[u8], truncated: bool) -> &[u8] {
    if truncated {
        return bytes;
    }
    let mut end = bytes.len();
    while end > 0 && bytes[end - 1] == b'\r' {
        end -= 1;
    }
    &bytes[..end]
}

fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// The text of a line as a terminal would show it (see the module documentation).
/// Borrows when the line is clean UTF-8 without control characters, which is the common case.
pub fn visible(bytes: &[u8]) -> Cow<'_, str> {
    clean(bytes, true)
}

/// The whole text of a line, escapes and control characters removed, every carriage return
/// turned into a space: nothing before a `\r` is lost (what LAVA's dispatcher sees, for signals).
pub fn flattened(bytes: &[u8]) -> Cow<'_, str> {
    clean(bytes, false)
}

/// Any control character? Checked 32 bytes at a time without early exit, which the compiler
/// turns into vector instructions (this runs on every line).
fn has_control(bytes: &[u8]) -> bool {
    bytes
        .chunks(32)
        .any(|chunk| chunk.iter().fold(false, |acc, &b| acc | is_control(b)))
}

/// Valid UTF-8 borrowed as it is (the fast, common path), anything else with replacements.
fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

fn clean(bytes: &[u8], last_segment: bool) -> Cow<'_, str> {
    if !has_control(bytes) {
        return utf8(bytes);
    }
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    // The last non-blank segment before a carriage return, in case what follows it is blank.
    let mut previous: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            0x1b => i = skip_escape(bytes, i),
            b'\r' if last_segment => {
                if !is_blank(&out) {
                    previous.clear();
                    previous.extend_from_slice(&out);
                }
                out.clear();
                i += 1;
            }
            b'\r' => {
                out.push(b' ');
                i += 1;
            }
            _ if is_control(b) => i += 1,
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    if is_blank(&out) && !previous.is_empty() {
        out = previous;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| b.is_ascii_whitespace())
}

/// Returns the index just after the escape sequence that starts at `start` (an ESC byte).
fn skip_escape(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    let Some(&kind) = bytes.get(i) else {
        return i;
    };
    i += 1;
    match kind {
        // CSI: parameters and intermediates, then one final byte in 0x40..=0x7e.
        b'[' => {
            while let Some(&c) = bytes.get(i) {
                i += 1;
                if (0x40..=0x7e).contains(&c) {
                    break;
                }
                if !(0x20..=0x3f).contains(&c) {
                    // Not a well-formed sequence: stop before the odd byte.
                    return i - 1;
                }
            }
            i
        }
        // OSC, DCS, SOS, PM, APC: a string ended by BEL or ESC \.
        b']' | b'P' | b'X' | b'^' | b'_' => {
            while let Some(&c) = bytes.get(i) {
                i += 1;
                if c == 0x07 {
                    break;
                }
                if c == 0x1b && bytes.get(i) == Some(&b'\\') {
                    i += 1;
                    break;
                }
            }
            i
        }
        // Character set designations take one more byte (`ESC ( B`).
        b'(' | b')' | b'*' | b'+' | b'#' | b'%' => (i + 1).min(bytes.len()),
        // Two-byte sequences (`ESC c` reset, `ESC 7`, `ESC =`…).
        _ => i,
    }
}

/// Removes the kernel's prefixes from a console line: any run of `<N>` log levels,
/// `[   12.345678]` timestamps and `[    T1]`/`[  C0]` caller ids, with the single space the
/// kernel puts after the last bracket. The message's own indentation is kept.
pub fn strip_console_prefix(line: &str) -> &str {
    let mut s = line;
    let mut stripped_bracket = false;
    loop {
        if let Some(rest) = strip_level(s) {
            s = rest;
            continue;
        }
        if let Some(rest) = strip_bracket(s) {
            s = rest;
            stripped_bracket = true;
            continue;
        }
        break;
    }
    if stripped_bracket {
        s.strip_prefix(' ').unwrap_or(s)
    } else {
        s
    }
}

/// `<N>` with one to three digits.
fn strip_level(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('<')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=3).contains(&digits) {
        return None;
    }
    rest[digits..].strip_prefix('>')
}

/// `[ 12.345]` (a timestamp) or `[  T12]` / `[ C3]` (a printk caller id).
fn strip_bracket(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let mut i = 1;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let digits_from = |mut j: usize| {
        let start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        (j > start).then_some(j)
    };
    let end = if matches!(b.get(i), Some(b'T' | b'C')) {
        digits_from(i + 1)?
    } else {
        let dot = digits_from(i)?;
        if b.get(dot) != Some(&b'.') {
            return None;
        }
        digits_from(dot + 1)?
    };
    // Only ASCII was looked at, so `end + 1` is a character boundary.
    (b.get(end) == Some(&b']')).then(|| &s[end + 1..])
}

/// `s` cut to at most `max` bytes on a character boundary, with `…` when something was cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<(u64, Vec<u8>, bool)> {
        let mut splitter = LineSplitter::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, |l| {
                out.push((l.number, l.bytes.to_vec(), l.truncated))
            });
        }
        splitter.finish(|l| out.push((l.number, l.bytes.to_vec(), l.truncated)));
        out
    }

    #[test]
    fn lines_end_at_newline_and_lose_their_carriage_returns() {
        let out = split(&[b"a\r\r\nb", b"c\r\n\nlast"], 100);
        let texts: Vec<_> = out.iter().map(|(n, b, _)| (*n, b.as_slice())).collect();
        assert_eq!(
            texts,
            vec![
                (1, &b"a"[..]),
                (2, &b"bc"[..]),
                (3, &b""[..]),
                (4, &b"last"[..])
            ]
        );
    }

    #[test]
    fn long_lines_are_cut_and_flagged_whatever_the_chunking() {
        let line = vec![b'x'; 1000];
        for chunk in [1usize, 7, 100, 2000] {
            let mut data = line.clone();
            data.extend_from_slice(b"\nok\n");
            let chunks: Vec<&[u8]> = data.chunks(chunk).collect();
            let out = split(&chunks, 64);
            assert_eq!(out.len(), 2, "chunk {chunk}");
            assert_eq!(out[0].1.len(), 64);
            assert!(out[0].2);
            assert_eq!(
                (out[1].0, out[1].1.as_slice(), out[1].2),
                (2, &b"ok"[..], false)
            );
        }
    }

    #[test]
    fn visible_text_drops_escapes_and_keeps_the_last_segment() {
        let seabios = b"\x1bc\x1b[?7l\x1b[2JLinux version 6.1";
        assert_eq!(visible(seabios), "Linux version 6.1");
        assert_eq!(visible(b"\x1b[0;32mok\x1b[0m 1 x"), "ok 1 x");
        assert_eq!(visible(b"10%\r20%\rok 1 done"), "ok 1 done");
        assert_eq!(visible(b"ok 1 done\r  "), "ok 1 done");
        assert_eq!(visible(b"a\x00b\x07c\td"), "abc\td");
        assert_eq!(visible(b"\x1b]0;title\x07text"), "text");
        assert_eq!(visible(b"caf\xc3\xa9 \xff"), "caf\u{e9} \u{fffd}");
        assert_eq!(visible(b"trailing escape \x1b"), "trailing escape ");
        assert!(matches!(visible(b"plain"), Cow::Borrowed(_)));
        assert_eq!(flattened(b"<A x>\r\x1b[1mnoise"), "<A x> noise");
    }

    #[test]
    fn console_prefixes_are_stripped_but_indentation_is_kept() {
        assert_eq!(
            strip_console_prefix("[    0.123456] KTAP version 1"),
            "KTAP version 1"
        );
        assert_eq!(strip_console_prefix("[    0.1]     ok 1 a"), "    ok 1 a");
        assert_eq!(
            strip_console_prefix("<6>[   12.5][    T1] BUG: x"),
            "BUG: x"
        );
        assert_eq!(
            strip_console_prefix("<4>WARNING: CPU: 0"),
            "WARNING: CPU: 0"
        );
        assert_eq!(
            strip_console_prefix("[mem 0x0-0x1] usable"),
            "[mem 0x0-0x1] usable"
        );
        assert_eq!(strip_console_prefix("<html>"), "<html>");
        assert_eq!(strip_console_prefix("[1.] x"), "[1.] x");
    }

    #[test]
    fn clip_respects_character_boundaries() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc…");
        assert_eq!(clip("ééé", 3), "é…");
    }
}

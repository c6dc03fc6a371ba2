//! Header text as Patchwork sees it: `clean_header`, which is Python's `decode_header` +
//! `make_header` + `str()` (RFC 2047 encoded words, the spacing rules between encoded and plain
//! words, the fallback that turns every undecodable part into U+FFFD replacement characters),
//! then whitespace runs collapsed and NULs removed.
//!
//! One deliberate difference: a header with raw 8-bit bytes (not RFC 2047 encoded) is read as
//! UTF-8 (windows-1252 when that fails) and its encoded words are still decoded. Python turns each
//! such byte into U+FFFD and decodes nothing (`Rafa�� Mi��ecki`).

use crate::codec;

/// Python's `str.isspace()` for one character.
pub(crate) fn py_isspace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\x0b'
            | '\x0c'
            | '\r'
            | '\x1c'..='\x1f'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Python's `str.strip()`.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Patchwork's `normalise_space`: every run of whitespace becomes one space, ends trimmed.
pub fn normalise_space(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if py_isspace(c) {
            pending_space = true;
        } else {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out
}

/// Python's `str.splitlines()`.
fn py_splitlines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '\r' => {
                if let Some(&(_, '\n')) = chars.peek() {
                    chars.next();
                    i + 2
                } else {
                    i + 1
                }
            }
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => i + c.len_utf8(),
            _ => continue,
        };
        out.push(&s[start..i]);
        start = end;
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// One encoded word found in a line: byte range and its parts.
struct EncodedWord<'a> {
    start: usize,
    end: usize,
    charset: &'a str,
    encoding: u8,
    text: &'a str,
}

/// Python's `ecre` search: `=?charset?[QqBb]?text?=`, leftmost, shortest text.
fn find_encoded_word(line: &str, from: usize) -> Option<EncodedWord<'_>> {
    let bytes = line.as_bytes();
    let mut p = from;
    while let Some(off) = memchr::memmem::find(&bytes[p..], b"=?") {
        let start = p + off;
        let cs_start = start + 2;
        if let Some(q) = memchr::memchr(b'?', &bytes[cs_start..]) {
            let cs_end = cs_start + q;
            let enc_at = cs_end + 1;
            if let (Some(&enc), Some(&b'?')) = (bytes.get(enc_at), bytes.get(enc_at + 1))
                && matches!(enc, b'q' | b'Q' | b'b' | b'B')
            {
                let text_start = enc_at + 2;
                if let Some(t) = memchr::memmem::find(&bytes[text_start..], b"?=") {
                    let text_end = text_start + t;
                    return Some(EncodedWord {
                        start,
                        end: text_end + 2,
                        charset: &line[cs_start..cs_end],
                        encoding: enc.to_ascii_lowercase(),
                        text: &line[text_start..text_end],
                    });
                }
            }
        }
        p = start + 1;
    }
    None
}

/// A decoded word of `decode_header`: bytes in a charset, or plain text (charset `None`).
struct Word {
    bytes: Vec<u8>,
    charset: Option<String>,
}

/// The header could not be decoded at all (Python raised `HeaderParseError`).
#[derive(Debug)]
struct Unparsable;

/// Python's `decode_header` on a text value.
fn decode_header(h: &str) -> Result<Vec<Word>, Unparsable> {
    if find_encoded_word(h, 0).is_none() {
        return Ok(vec![Word {
            bytes: h.as_bytes().to_vec(),
            charset: None,
        }]);
    }
    // (text, encoding, charset): encoding 0 for plain text.
    let mut words: Vec<(&str, u8, &str)> = Vec::new();
    for line in py_splitlines(h) {
        let mut pos = 0;
        let mut first = true;
        loop {
            let found = find_encoded_word(line, pos);
            let plain_end = found.as_ref().map_or(line.len(), |w| w.start);
            let mut plain = &line[pos..plain_end];
            if first {
                plain = plain.trim_start_matches(py_isspace);
                first = false;
            }
            if !plain.is_empty() {
                words.push((plain, 0, ""));
            }
            match found {
                Some(w) => {
                    words.push((w.text, w.encoding, w.charset));
                    pos = w.end;
                }
                None => break,
            }
        }
    }
    // Whitespace between two encoded words goes.
    let mut drop = vec![false; words.len()];
    for n in 2..words.len() {
        if words[n].1 != 0 && words[n - 2].1 != 0 && is_all_space(words[n - 1].0) {
            drop[n - 1] = true;
        }
    }
    let mut out: Vec<Word> = Vec::new();
    for (i, (text, enc, charset)) in words.into_iter().enumerate() {
        if drop[i] {
            continue;
        }
        let (bytes, charset) = match enc {
            0 => (text.as_bytes().to_vec(), None),
            b'q' => (q_decode(text), Some(charset.to_lowercase())),
            _ => {
                let mut t = text.as_bytes().to_vec();
                let pad = t.len() % 4;
                if pad != 0 {
                    t.extend(std::iter::repeat_n(b'=', 4 - pad));
                }
                let decoded = codec::a2b_base64(&t).map_err(|_| Unparsable)?;
                (decoded, Some(charset.to_lowercase()))
            }
        };
        // Collapse runs of the same charset: plain words with a space, encoded ones glued.
        match out.last_mut() {
            Some(last) if last.charset == charset => {
                if charset.is_none() {
                    last.bytes.push(b' ');
                }
                last.bytes.extend_from_slice(&bytes);
            }
            _ => out.push(Word { bytes, charset }),
        }
    }
    Ok(out)
}

fn is_all_space(s: &str) -> bool {
    !s.is_empty() && s.chars().all(py_isspace)
}

/// `email.quoprimime.header_decode`: `_` is a space, `=XX` a byte.
fn q_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' if b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit) =>
            {
                let hi = hexval(b[i + 1]);
                let lo = hexval(b[i + 2]);
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn hexval(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b.wrapping_sub(b'A').wrapping_add(10),
    }
}

/// `email.charset.Charset(name).input_charset` and the codec Python decodes it with.
fn charset_codec(name: &str) -> (String, Option<codec::Codec>) {
    let name = name.to_lowercase();
    let aliased = match name.as_str() {
        "latin_1" | "latin-1" => "iso-8859-1",
        "latin_2" | "latin-2" => "iso-8859-2",
        "latin_3" | "latin-3" => "iso-8859-3",
        "latin_4" | "latin-4" => "iso-8859-4",
        "latin_5" | "latin-5" => "iso-8859-9",
        "latin_6" | "latin-6" => "iso-8859-10",
        "latin_7" | "latin-7" => "iso-8859-13",
        "latin_8" | "latin-8" => "iso-8859-14",
        "latin_9" | "latin-9" => "iso-8859-15",
        "latin_10" | "latin-10" => "iso-8859-16",
        "cp949" => "ks_c_5601-1987",
        "euc_jp" => "euc-jp",
        "euc_kr" => "euc-kr",
        "ascii" => "us-ascii",
        other => other,
    }
    .to_string();
    let codec = match aliased.as_str() {
        "gb2312" => Some(codec::Codec::Other(encoding_rs::GBK)),
        "big5" => Some(codec::Codec::Other(encoding_rs::BIG5)),
        other => codec::lookup(other),
    };
    (aliased, codec)
}

/// A chunk of `make_header`'s result: text and its (aliased) charset; `us-ascii` for plain text.
struct Chunk {
    text: String,
    charset: String,
}

const UNKNOWN_8BIT: &str = "unknown-8bit";

/// `make_header(decode_header(h))` with Patchwork's fallback: if any part does not decode in its
/// charset, every part becomes `unknown-8bit`, whose non-ASCII bytes read as U+FFFD.
fn make_header(words: &[Word], plain_text_is_utf8: bool) -> Vec<Chunk> {
    let mut chunks = Vec::with_capacity(words.len());
    let mut failed = false;
    for w in words {
        let (charset, text) = match &w.charset {
            None => {
                let text = if plain_text_is_utf8 {
                    std::str::from_utf8(&w.bytes).ok().map(str::to_string)
                } else {
                    w.bytes
                        .is_ascii()
                        .then(|| String::from_utf8_lossy(&w.bytes).into_owned())
                };
                ("us-ascii".to_string(), text)
            }
            Some(cs) => {
                let (aliased, codec) = charset_codec(cs);
                let text = codec
                    .and_then(|c| codec::decode_strict(c, &w.bytes))
                    .map(|t| t.into_owned());
                (aliased, text)
            }
        };
        match text {
            Some(text) => chunks.push(Chunk { text, charset }),
            None => {
                failed = true;
                break;
            }
        }
    }
    if failed {
        chunks = words
            .iter()
            .map(|w| Chunk {
                text: w
                    .bytes
                    .iter()
                    .map(|&b| {
                        if b.is_ascii() {
                            char::from(b)
                        } else {
                            '\u{fffd}'
                        }
                    })
                    .collect(),
                charset: UNKNOWN_8BIT.to_string(),
            })
            .collect();
    }
    // Header._normalize: adjacent chunks of one charset are joined with a space.
    let mut merged: Vec<Chunk> = Vec::with_capacity(chunks.len());
    for c in chunks {
        match merged.last_mut() {
            Some(last) if last.charset == c.charset => {
                last.text.push(' ');
                last.text.push_str(&c.text);
            }
            _ => merged.push(c),
        }
    }
    merged
}

/// `str(Header)`: chunks joined, with a space added where an encoded chunk meets plain text
/// that does not already have one.
fn header_str(chunks: &[Chunk]) -> String {
    fn nonctext(c: char) -> bool {
        py_isspace(c) || matches!(c, '(' | ')' | '\\')
    }
    let plain = |cs: &str| cs == "us-ascii";
    let mut out = String::new();
    let mut last_cs: Option<String> = None;
    let mut last_space = false;
    for (i, chunk) in chunks.iter().enumerate() {
        let mut next_cs = chunk.charset.clone();
        if i > 0 {
            let has_space = chunk.text.chars().next().is_some_and(nonctext);
            let last_plain = last_cs.as_deref().is_none_or(plain);
            if !last_plain {
                if plain(&next_cs) && !has_space {
                    out.push(' ');
                    next_cs = "us-ascii".to_string();
                }
            } else if !plain(&next_cs) && !last_space {
                out.push(' ');
            }
        }
        last_space = chunk.text.chars().last().is_some_and(nonctext);
        last_cs = Some(next_cs);
        out.push_str(&chunk.text);
    }
    out
}

/// Patchwork's `clean_header`: the decoded, unfolded header text, or `None` where Patchwork
/// finds the header unparsable (an encoded word whose base64 cannot be decoded, or a value made
/// only of folding whitespace).
pub fn clean_header(raw: &[u8]) -> Option<String> {
    if !raw.is_empty() && raw.iter().all(|&b| b.is_ascii_whitespace()) {
        return None;
    }
    let eight_bit = !raw.is_ascii();
    let text = codec::decode_lossy(raw);
    let words = decode_header(&text).ok()?;
    let chunks = make_header(&words, eight_bit);
    let s = header_str(&chunks);
    let mut s = normalise_space(&s);
    if s.contains('\0') {
        s.retain(|c| c != '\0');
    }
    Some(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn clean(s: &str) -> String {
        clean_header(s.as_bytes()).unwrap()
    }

    #[test]
    fn encoded_words_and_spacing() {
        assert_eq!(clean("=?utf-8?q?test=20s=c3=bcbject?="), "test sübject");
        assert_eq!(
            clean("=?utf-8?q?=C3=A9xample=20user?= <user@example.com>"),
            "éxample user <user@example.com>"
        );
        // Whitespace between encoded words disappears; plain text keeps its own.
        assert_eq!(clean("=?utf-8?q?a?= =?utf-8?q?b?= c"), "ab c");
        assert_eq!(clean("Hello =?utf-8?q?W?= there"), "Hello W there");
        // A space is added where an encoded word touches plain text.
        assert_eq!(clean("x=?utf-8?q?y?=z"), "x y z");
        assert_eq!(clean("=?UTF-8?B?w6E=?=user"), "á user");
        assert_eq!(clean("foo\n\tbar"), "foo bar");
    }

    #[test]
    fn undecodable_parts_become_replacement_characters() {
        // Invalid UTF-8 in an encoded word: every part falls back to unknown-8bit.
        assert_eq!(clean("A =?utf-8?q?=C3=28?= B"), "A \u{fffd}( B");
        // An unknown charset likewise.
        assert_eq!(clean("=?x-unknown?q?caf=E9?="), "caf\u{fffd}");
        // Base64 that does not decode makes the whole header unparsable.
        assert_eq!(clean_header(b"=?utf-8?b?QUJDRA?=x=?utf-8?b?Q?="), None);
        assert_eq!(clean_header(b"\n "), None);
        assert_eq!(clean_header(b"").as_deref(), Some(""));
    }

    #[test]
    fn raw_utf8_headers_are_read_as_utf8() {
        assert_eq!(
            clean_header("Rafał Miłecki <zajec5@gmail.com>".as_bytes()).unwrap(),
            "Rafał Miłecki <zajec5@gmail.com>"
        );
        assert_eq!(clean_header(b"caf\xe9").unwrap(), "café");
    }

    #[test]
    fn latin1_and_charset_aliases() {
        assert_eq!(clean("=?ISO-8859-1?Q?Andr=E9?= Pirard"), "André Pirard");
        assert_eq!(clean("=?latin-1?q?=E9?="), "é");
        assert_eq!(clean("=?us-ascii?q?a?= b"), "a b");
    }
}

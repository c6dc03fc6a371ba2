//! Byte-level helpers that reproduce the exact string handling of git's mailinfo: its notion
//! of whitespace, its C-string truncation at NUL bytes, its decoders and its line classifiers.

use memchr::{memchr, memmem};

/// git's `isspace`: only space, tab, LF and CR (not VT or FF, unlike C's).
#[inline]
pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// The bytes a C string function would see: everything before the first NUL.
#[inline]
pub(crate) fn cstr(s: &[u8]) -> &[u8] {
    match memchr(0, s) {
        Some(i) => &s[..i],
        None => s,
    }
}

/// Removes trailing whitespace (git's `strbuf_rtrim`).
pub(crate) fn rtrim(v: &mut Vec<u8>) {
    let keep = v.iter().rposition(|&c| !is_space(c)).map_or(0, |i| i + 1);
    v.truncate(keep);
}

/// Removes leading and trailing whitespace (git's `strbuf_trim`).
pub(crate) fn trim(v: &mut Vec<u8>) {
    rtrim(v);
    let lead = v.iter().take_while(|&&c| is_space(c)).count();
    if lead > 0 {
        v.drain(..lead);
    }
}

/// Turns every run of whitespace into one space (git's `cleanup_space`).
pub(crate) fn cleanup_space(v: &mut Vec<u8>) {
    let mut w = 0;
    let mut i = 0;
    let len = v.len();
    while i < len {
        let c = v[i];
        if is_space(c) {
            v[w] = b' ';
            w += 1;
            i += 1;
            while i < len && is_space(v[i]) {
                i += 1;
            }
        } else {
            v[w] = c;
            w += 1;
            i += 1;
        }
    }
    v.truncate(w);
}

/// Case-insensitive (ASCII) search of `needle` in `hay`, like `strcasestr` on C strings.
pub(crate) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if hay.len() < needle.len() {
        return None;
    }
    let first = needle[0].to_ascii_lowercase();
    (0..=hay.len() - needle.len()).find(|&i| {
        hay[i].to_ascii_lowercase() == first
            && hay[i..i + needle.len()].eq_ignore_ascii_case(needle)
    })
}

/// `Name:` (case-insensitive name, colon right after it) followed by optional whitespace: the
/// value, as git's `skip_header` finds it. The line is read as a C string.
pub(crate) fn skip_header<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let line = cstr(line);
    let n = name.len();
    if line.len() <= n || !line[..n].eq_ignore_ascii_case(name) || line[n] != b':' {
        return None;
    }
    let mut val = &line[n + 1..];
    while let Some((&c, rest)) = val.split_first() {
        if !is_space(c) {
            break;
        }
        val = rest;
    }
    Some(val)
}

/// git's `slurp_attr`: the value after the first (case-insensitive) occurrence of `name`
/// (which includes the `=`), either up to the closing quote or up to `;`, space or tab.
pub(crate) fn slurp_attr<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let line = cstr(line);
    let at = find_ci(line, name)?;
    let mut ap = &line[at + name.len()..];
    let end = if ap.first() == Some(&b'"') {
        ap = &ap[1..];
        ap.iter().position(|&c| c == b'"')
    } else {
        ap.iter().position(|&c| matches!(c, b';' | b' ' | b'\t'))
    };
    Some(&ap[..end.unwrap_or(ap.len())])
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Quoted-printable decoding as git does it (`decode_q_segment`): `=XX` with two hex digits is a
/// byte, `=` at the end of the data or before a newline ends the decoding (soft line break),
/// any other `=` is kept as is; with `rfc2047`, `_` is a space. Stops at a NUL byte.
pub(crate) fn decode_q(src: &[u8], rfc2047: bool, out: &mut Vec<u8>) {
    let src = cstr(src);
    out.reserve(src.len());
    let mut i = 0;
    while i < src.len() {
        let mut c = src[i];
        i += 1;
        if c == b'=' {
            let d = src.get(i).copied().unwrap_or(0);
            if d == b'\n' || d == 0 {
                break;
            }
            if let (Some(hi), Some(lo)) = (hexval(d), src.get(i + 1).copied().and_then(hexval)) {
                out.push((hi << 4) | lo);
                i += 2;
                continue;
            }
        }
        if rfc2047 && c == b'_' {
            c = b' ';
        }
        out.push(c);
    }
}

/// Base64 decoding as git does it (`decode_b_segment`): characters outside the alphabet
/// (including `=` and newlines) are skipped, an incomplete last group yields what its bits
/// complete. Stops at a NUL byte.
pub(crate) fn decode_b(src: &[u8], out: &mut Vec<u8>) {
    let src = cstr(src);
    out.reserve(src.len() / 4 * 3 + 3);
    let mut pos = 0u8;
    let mut acc: u8 = 0;
    for &ch in src {
        let c = match ch {
            b'+' => 62,
            b'/' => 63,
            b'A'..=b'Z' => ch - b'A',
            b'a'..=b'z' => ch - b'a' + 26,
            b'0'..=b'9' => ch - b'0' + 52,
            _ => continue,
        };
        match pos {
            0 => {
                acc = c << 2;
                pos = 1;
            }
            1 => {
                out.push(acc | (c >> 4));
                acc = (c & 15) << 4;
                pos = 2;
            }
            2 => {
                out.push(acc | (c >> 2));
                acc = (c & 3) << 6;
                pos = 3;
            }
            _ => {
                out.push(acc | c);
                acc = 0;
                pos = 0;
            }
        }
    }
}

/// A header line as git's `is_rfc2822_header` sees it: an mbox `From ` / `>From ` line, or a
/// field name of printable characters without `:` followed by `:`.
pub(crate) fn is_rfc2822_header(line: &[u8]) -> bool {
    if line.starts_with(b"From ") || line.starts_with(b">From ") {
        return true;
    }
    for &c in line {
        if c == b':' {
            return true;
        }
        if (33..=57).contains(&c) || (59..=126).contains(&c) {
            continue;
        }
        return false;
    }
    false
}

/// The line where git decides the commit message ends and the patch starts (`patchbreak`):
/// `diff -…`, `Index: …`, `--- <name>` or `---` followed by nothing but whitespace.
pub(crate) fn patchbreak(line: &[u8]) -> bool {
    if line.starts_with(b"diff -") || line.starts_with(b"Index: ") {
        return true;
    }
    if line.len() < 4 || !line.starts_with(b"---") {
        return false;
    }
    if line[3] == b' ' && !is_space(line[4..].first().copied().unwrap_or(0)) {
        return true;
    }
    for &c in &line[3..] {
        if c == b'\n' {
            return true;
        }
        if !is_space(c) {
            break;
        }
    }
    false
}

/// A `-- >8 --` scissors line (git's `is_scissors_line`): dashes and scissors marks (`>8`,
/// `8<`, `>%`, `%<`) that make up most of a line at least 8 characters wide.
pub(crate) fn is_scissors_line(line: &[u8]) -> bool {
    let s = cstr(line);
    let mut scissors = 0usize;
    let mut gap = 0usize;
    let mut perforation = 0usize;
    let mut in_perforation = false;
    let mut first: Option<usize> = None;
    let mut last: Option<usize> = None;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if is_space(c) {
            if in_perforation {
                perforation += 1;
                gap += 1;
            }
            i += 1;
            continue;
        }
        last = Some(i);
        if first.is_none() {
            first = Some(i);
        }
        if c == b'-' {
            in_perforation = true;
            perforation += 1;
            i += 1;
            continue;
        }
        let pair = &s[i..s.len().min(i + 2)];
        if matches!(pair, b">8" | b"8<" | b">%" | b"%<") {
            in_perforation = true;
            perforation += 2;
            scissors += 2;
            i += 2;
            continue;
        }
        in_perforation = false;
        i += 1;
    }
    let visible = match (first, last) {
        (Some(f), Some(l)) => l - f + 1,
        _ => 0,
    };
    scissors > 0 && 8 <= visible && visible < perforation * 3 && gap * 2 < perforation
}

/// The `From <sha1> Mon Sep 17 00:00:00 2001` line of `git format-patch` (with its newline).
pub(crate) fn is_format_patch_separator(line: &[u8]) -> bool {
    const TAIL: &[u8] = b" Mon Sep 17 00:00:00 2001\n";
    if line.len() != 5 + 40 + TAIL.len() || !line.starts_with(b"From ") {
        return false;
    }
    let hex = cstr(&line[5..])
        .iter()
        .take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        .count();
    hex == 40 && &line[45..] == TAIL
}

/// Cleans a subject as git does without `-k` (`cleanup_subject`): drops leading `Re:`, spaces,
/// colons and `[…]` groups (with `keep_non_patch`, only groups containing `PATCH`), then trims.
pub(crate) fn cleanup_subject(subject: &mut Vec<u8>, keep_non_patch: bool) {
    let s = std::mem::take(subject);
    let mut out = Vec::with_capacity(s.len());
    // `strchr` stops at a NUL: no `]` is found beyond it.
    let nul = cstr(&s).len();
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        match rest[0] {
            b'r' | b'R' => {
                if rest.len() > 3 && (rest[1] == b'e' || rest[1] == b'E') && rest[2] == b':' {
                    i += 3;
                    continue;
                }
                break;
            }
            b' ' | b'\t' | b':' => {
                i += 1;
                continue;
            }
            b'[' => {
                let Some(close) = memchr(b']', s.get(i..nul).unwrap_or_default()) else {
                    break;
                };
                let remove = close + 1;
                let group = &rest[..remove];
                if !keep_non_patch || (remove >= 7 && memmem::find(group, b"PATCH").is_some()) {
                    i += remove;
                } else {
                    out.extend_from_slice(group);
                    i += remove;
                    if let Some(&c) = s.get(i).filter(|&&c| is_space(c)) {
                        out.push(c);
                        i += 1;
                    }
                }
                continue;
            }
            _ => break,
        }
    }
    out.extend_from_slice(&s[i..]);
    trim(&mut out);
    *subject = out;
}

fn unquote_comment(out: &mut Vec<u8>, s: &[u8], mut i: usize) -> usize {
    let mut literal = false;
    let mut depth = 1usize;
    out.push(b'(');
    while i < s.len() {
        let c = s[i];
        i += 1;
        if literal {
            literal = false;
        } else {
            match c {
                b'\\' => {
                    literal = true;
                    continue;
                }
                b'(' => {
                    out.push(b'(');
                    depth += 1;
                    continue;
                }
                b')' => {
                    out.push(b')');
                    depth -= 1;
                    if depth == 0 {
                        return i;
                    }
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    i
}

fn unquote_quoted_string(out: &mut Vec<u8>, s: &[u8], mut i: usize) -> usize {
    let mut literal = false;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if literal {
            literal = false;
        } else {
            match c {
                b'\\' => {
                    literal = true;
                    continue;
                }
                b'"' => return i,
                _ => {}
            }
        }
        out.push(c);
    }
    i
}

/// Removes the quoting of quoted strings and of backslash pairs in comments (which keep their
/// parentheses), as git's `unquote_quoted_pair`. Reads a C string.
pub(crate) fn unquote_quoted_pair(src: &[u8]) -> Vec<u8> {
    let s = cstr(src);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        match c {
            b'"' => i = unquote_quoted_string(&mut out, s, i),
            b'(' => i = unquote_comment(&mut out, s, i),
            _ => out.push(c),
        }
    }
    out
}

/// git's `get_sane_name`: the name, unless it is empty, longer than 60 bytes or contains one of
/// `@<>`, in which case the email stands in for it.
fn sane_name(name: Vec<u8>, email: &[u8]) -> Vec<u8> {
    let visible = cstr(&name);
    if name.is_empty() || name.len() > 60 || visible.iter().any(|c| matches!(c, b'@' | b'<' | b'>'))
    {
        email.to_vec()
    } else {
        name
    }
}

/// Splits a (whitespace-cleaned) `From:` value into name and email as git's `handle_from`.
pub(crate) fn parse_from(from: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut f = unquote_quoted_pair(from);
    let Some(at) = memchr(b'@', &f) else {
        return parse_bogus_from(from);
    };
    // Walk back to the start of the address: whitespace or an opening '<' (which goes away).
    let mut start = at;
    while start > 0 {
        let c = f[start - 1];
        if is_space(c) {
            break;
        }
        if c == b'<' {
            f[start - 1] = b' ';
            break;
        }
        start -= 1;
    }
    let el = f[start..]
        .iter()
        .position(|c| matches!(c, b' ' | b'\n' | b'\t' | b'\r' | 0x0b | 0x0c | b'>'))
        .unwrap_or(f.len() - start);
    let email = f[start..start + el].to_vec();
    let end = (start + el + 1).min(f.len());
    f.drain(start..end);
    cleanup_space(&mut f);
    trim(&mut f);
    if f.len() >= 2 && f[0] == b'(' && f[f.len() - 1] == b')' {
        f.pop();
        f.remove(0);
    }
    (sane_name(f, &email), email)
}

/// `John Doe <johndoe>`: a `From:` without `@` (git's `parse_bogus_from`).
fn parse_bogus_from(line: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let line = cstr(line);
    let Some(bra) = memchr(b'<', line) else {
        return (Vec::new(), Vec::new());
    };
    let Some(ket) = memchr(b'>', &line[bra..]).map(|k| bra + k) else {
        return (Vec::new(), Vec::new());
    };
    let email = line[bra + 1..ket].to_vec();
    let mut name = line[..bra].to_vec();
    trim(&mut name);
    (sane_name(name, &email), email)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        decode_q(s.as_bytes(), true, &mut out);
        out
    }

    fn b(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        decode_b(s.as_bytes(), &mut out);
        out
    }

    #[test]
    fn q_decoding_is_lenient() {
        assert_eq!(q("a_b=3Dc"), b"a b=c");
        assert_eq!(q("=ZZ=4"), b"=ZZ=4");
        assert_eq!(q("abc="), b"abc");
        assert_eq!(q("ab=\nc"), b"ab");
        assert_eq!(q("a\0b"), b"a");
    }

    #[test]
    fn b_decoding_skips_garbage() {
        assert_eq!(b("SGVsbG8="), b"Hello");
        assert_eq!(b("SGV sbG8\n"), b"Hello");
        assert_eq!(b("SGVsbA"), b"Hell");
    }

    #[test]
    fn subjects() {
        let clean = |s: &str, keep: bool| {
            let mut v = s.as_bytes().to_vec();
            cleanup_subject(&mut v, keep);
            cleanup_space(&mut v);
            String::from_utf8(v).unwrap_or_default()
        };
        assert_eq!(clean("Re: [PATCH 1/2] foo", false), "foo");
        // Verified with git 2.47 (`-b`): the space after a removed group goes too.
        assert_eq!(clean("[RFC][PATCH] foo", true), "[RFC]foo");
        assert_eq!(clean("[RFC] [PATCH] foo", true), "[RFC] foo");
        assert_eq!(clean("Re: re: RE: foo", false), "foo");
        assert_eq!(clean("Reply", false), "Reply");
        assert_eq!(clean("[unclosed foo", false), "[unclosed foo");
    }

    #[test]
    fn scissors() {
        assert!(is_scissors_line(b"-- >8 --\n"));
        assert!(is_scissors_line(
            b" - - >8 - - please remove everything above this line - - >8 - -\n"
        ));
        assert!(!is_scissors_line(
            b" This line is not a scissors mark -- >8 -- but talks about it.\n"
        ));
        assert!(!is_scissors_line(b"------\n"));
    }

    #[test]
    fn from_forms() {
        let p = |s: &str| {
            let (n, e) = parse_from(s.as_bytes());
            (
                String::from_utf8(n).unwrap_or_default(),
                String::from_utf8(e).unwrap_or_default(),
            )
        };
        assert_eq!(p("A U Thor <a@b.c>"), ("A U Thor".into(), "a@b.c".into()));
        assert_eq!(p("a@b.c (A U Thor)"), ("A U Thor".into(), "a@b.c".into()));
        assert_eq!(p("a@b.c"), ("a@b.c".into(), "a@b.c".into()));
        assert_eq!(p("Bogus <nobody>"), ("Bogus".into(), "nobody".into()));
        assert_eq!(p("nobody at all"), (String::new(), String::new()));
    }
}

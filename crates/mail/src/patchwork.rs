//! The per-mail rules of Patchwork's parser (`patchwork/parser.py`), re-implemented: subject
//! cleaning and prefixes, the series marker and version, Message-ID and references, the
//! submitter, the split of a mail into comment and diff, pull requests, and `hash_diff`.
//!
//! These are the rules that decide how mails group into series, so they follow Patchwork to the
//! character, quirks included (each quirk is named where it is kept).

use std::sync::LazyLock;

use regex::Regex;
use sha1::{Digest, Sha1};

use crate::codec;
use crate::header::{clean_header, normalise_space, py_isspace, py_strip};
use crate::rfc822::Part;

/// Builds one of this module's constant patterns.
fn pattern(re: &str) -> Regex {
    match Regex::new(re) {
        Ok(r) => r,
        // The patterns are constants covered by the tests: this cannot happen at run time.
        Err(e) => unreachable!("invalid built-in pattern {re}: {e}"),
    }
}

static SERIES_MARKER: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"^.*?([0-9]+)(?:/| of )([0-9]+)$"));
static VERSION_PREFIX: LazyLock<Regex> = LazyLock::new(|| pattern(r"^[vV]([0-9]+)$"));
static VERSION_IN_NAME: LazyLock<Regex> = LazyLock::new(|| pattern(r"\([vV]([0-9]+)\)"));
static MERCURIAL: LazyLock<Regex> = LazyLock::new(|| pattern(r"^PATCH ([0-9]+ of [0-9]+)(.*)$"));
static PULL_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    pattern(
        r"(?msi)^The following changes since commit.*^are available in the git repository at:\s*\n^\s*([\w+-]+(?:://|@)[\w/.@:~-]+[\s\\]*[\w/._-]*)\s*$",
    )
});

/// Python's `s[:n]` on characters.
pub(crate) fn truncate_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Splits the text of one `[...]` prefix into tokens (`split_prefixes`): Mercurial's
/// `PATCH M of N` stays one token, otherwise commas and blanks separate.
pub fn split_prefixes(prefix: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut rest = prefix;
    if let Some(c) = MERCURIAL.captures(prefix) {
        tokens.push("PATCH".to_string());
        tokens.push(c.get(1).map_or("", |m| m.as_str()).to_string());
        rest = c.get(2).map_or("", |m| m.as_str());
    }
    tokens.extend(
        rest.split(|c: char| c == ',' || py_isspace(c))
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    );
    tokens
}

/// `clean_subject` on an already cleaned header: removes one leading `Re:`/`Fwd:`, then every
/// leading `[...]` group, keeping its tokens except `PATCH` and the `drop` ones
/// (case-insensitive). Returns the name (`[a,b] rest` when tokens remain) and the tokens.
pub fn clean_subject(subject: &str, drop: &[String]) -> (String, Vec<String>) {
    let mut s = strip_reply_prefix(subject);
    s = normalise_space(&s);
    let mut prefixes = Vec::new();
    let mut rest: &str = &s;
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else { break };
        for token in split_prefixes(&inner[..close]) {
            let lower = token.to_lowercase();
            if lower != "patch" && !drop.iter().any(|d| d.to_lowercase() == lower) {
                prefixes.push(token);
            }
        }
        rest = inner[close + 1..].trim_start_matches(py_isspace);
    }
    let rest = normalise_space(rest);
    let name = if prefixes.is_empty() {
        rest
    } else {
        format!("[{}] {}", prefixes.join(","), rest)
    };
    (name, prefixes)
}

/// `re.sub(r'^(re|fwd?)[:\s]\s*', ' ', s, flags=re.I)`: one leading reply/forward marker.
fn strip_reply_prefix(s: &str) -> String {
    let b = s.as_bytes();
    let starts = |p: &[u8]| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p);
    // `fwd?` is greedy: try `fwd` before `fw`.
    for marker in [&b"re"[..], b"fwd", b"fw"] {
        if !starts(marker) {
            continue;
        }
        let mut chars = s[marker.len()..].chars();
        if let Some(c) = chars.next()
            && (c == ':' || py_isspace(c))
        {
            let rest = chars.as_str().trim_start_matches(py_isspace);
            return format!(" {rest}");
        }
    }
    s.to_string()
}

/// `subject_check`: a reply is a subject starting `Re:` or `Re ` (not `Fwd:`).
pub fn is_reply(subject: &str) -> bool {
    let mut chars = subject.chars();
    let (Some(r), Some(e), Some(c)) = (chars.next(), chars.next(), chars.next()) else {
        return false;
    };
    r.eq_ignore_ascii_case(&'r') && e.eq_ignore_ascii_case(&'e') && (c == ':' || py_isspace(c))
}

/// `parse_series_marker`: `(x, n)` from the first token ending in `x/n` or `x of n`.
pub fn series_marker(prefixes: &[String]) -> Option<(u32, u32)> {
    for p in prefixes {
        if let Some(c) = SERIES_MARKER.captures(p) {
            let x = c.get(1).and_then(|m| m.as_str().parse::<u32>().ok());
            let n = c.get(2).and_then(|m| m.as_str().parse::<u32>().ok());
            if let (Some(x), Some(n)) = (x, n) {
                return Some((x, n));
            }
        }
    }
    None
}

/// `parse_version`: a `vN` token, else `(vN)` in the name, else 1.
pub fn version(name: &str, prefixes: &[String]) -> u32 {
    for p in prefixes {
        if let Some(v) = VERSION_PREFIX
            .captures(p)
            .and_then(|c| c.get(1))
            .and_then(|m| m.as_str().parse::<u32>().ok())
        {
            return v;
        }
    }
    VERSION_IN_NAME
        .captures(name)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse::<u32>().ok())
        .unwrap_or(1)
}

/// The first `<...>` of a cleaned header, brackets included.
fn first_angle(s: &str) -> Option<&str> {
    let start = s.find('<')?;
    let len = s[start + 1..].find('>')?;
    (len > 0).then(|| &s[start..start + len + 2])
}

/// `find_message_id`: the first `<...>` of the cleaned header, else the whole stripped value,
/// at most 255 characters; `None` when empty.
pub fn message_id(raw: &[u8]) -> Option<String> {
    let h = clean_header(raw)?;
    let id = first_angle(&h).unwrap_or(py_strip(&h));
    let id = truncate_chars(id, 255);
    (!id.is_empty()).then(|| id.to_string())
}

/// `find_references`: every `In-Reply-To` (its first `<...>`, or the whole value) in header
/// order, then every `References` id newest first, without repeats.
pub fn references<'a>(
    in_reply_to: impl Iterator<Item = &'a [u8]>,
    references: impl Iterator<Item = &'a [u8]>,
) -> Vec<String> {
    let mut refs: Vec<String> = Vec::new();
    let push = |r: &str, refs: &mut Vec<String>| {
        let r = truncate_chars(r, 255);
        if !r.is_empty() && !refs.iter().any(|x| x == r) {
            refs.push(r.to_string());
        }
    };
    for raw in in_reply_to {
        if let Some(h) = clean_header(raw) {
            let r = first_angle(&h).unwrap_or(py_strip(&h));
            push(r, &mut refs);
        }
    }
    for raw in references {
        let Some(h) = clean_header(raw) else { continue };
        let mut ids: Vec<&str> = Vec::new();
        let mut rest = h.as_str();
        while let Some(id) = first_angle(rest) {
            ids.push(id);
            let at = rest.find(id).map_or(rest.len(), |i| i + id.len());
            rest = &rest[at..];
        }
        if ids.is_empty() {
            ids = h.split(py_isspace).filter(|s| !s.is_empty()).collect();
        }
        for id in ids.into_iter().rev() {
            push(id, &mut refs);
        }
    }
    refs
}

/// `split_from_header`: `(name, email)` from a cleaned `From` value, trying `Name <email>`,
/// `user at host (Name)`, `email (Name)`, then the whole value as the address.
pub fn split_from(from: &str) -> (Option<String>, String) {
    // "?(.*?)"?\s*<([^>]+)>  (anchored at the start only)
    if let Some(lt) = find_angle_address(from) {
        let (before, email) = lt;
        let name = before.strip_prefix('"').unwrap_or(before);
        let name = name.trim_end_matches(py_isspace);
        let name = name.strip_suffix('"').unwrap_or(name);
        return (Some(name.to_string()), email.to_string());
    }
    // (.*?)\sat\s(.*?)\s*\(([^\)]+)\)
    if let Some((user, host, name)) = at_form(from) {
        return (Some(name.to_string()), format!("{user}@{host}"));
    }
    // "?(.*?)"?\s*\(([^\)]+)\)
    if let Some((open, name)) = find_paren_group(from) {
        let before = &from[..open];
        let email = before.strip_prefix('"').unwrap_or(before);
        let email = email.trim_end_matches(py_isspace);
        let email = email.strip_suffix('"').unwrap_or(email);
        return (Some(name.to_string()), email.to_string());
    }
    (None, from.to_string())
}

/// The first `<addr>` (non-empty, no `>` inside) and the text before it.
fn find_angle_address(s: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    while let Some(rel) = s[from..].find('<') {
        let lt = from + rel;
        let inner = &s[lt + 1..];
        if let Some(gt) = inner.find('>')
            && gt > 0
        {
            return Some((&s[..lt], &inner[..gt]));
        }
        from = lt + 1;
    }
    None
}

/// The first `(text)` with non-empty text (no `)` inside): its offset and text.
fn find_paren_group(s: &str) -> Option<(usize, &str)> {
    let mut from = 0;
    while let Some(rel) = s[from..].find('(') {
        let open = from + rel;
        let inner = &s[open + 1..];
        if let Some(close) = inner.find(')')
            && close > 0
        {
            return Some((open, &inner[..close]));
        }
        from = open + 1;
    }
    None
}

fn at_form(s: &str) -> Option<(&str, &str, &str)> {
    // The first whitespace-"at"-whitespace, then a parenthesised name after the host.
    for (i, c) in s.char_indices() {
        if !py_isspace(c) {
            continue;
        }
        let rest = &s[i + c.len_utf8()..];
        let Some(after_at) = rest.strip_prefix("at") else {
            continue;
        };
        let mut it = after_at.chars();
        let Some(sp) = it.next() else { continue };
        if !py_isspace(sp) {
            continue;
        }
        let host_and_name = it.as_str();
        let (open, name) = find_paren_group(host_and_name)?;
        let host = host_and_name[..open].trim_end_matches(py_isspace);
        return Some((&s[..i], host, name));
    }
    None
}

/// The address check Patchwork applies before accepting a submitter: `local@domain.tld`
/// without blanks (or `@localhost`).
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let bad = |s: &str| {
        s.is_empty()
            || s.chars()
                .any(|c| py_isspace(c) || "<>()@,;:\"[]".contains(c))
    };
    if bad(local) || bad(domain) {
        return false;
    }
    if domain.eq_ignore_ascii_case("localhost") {
        return true;
    }
    domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
}

/// The text parts of a mail as `_find_content` decodes them: `(text, subtype)` for every
/// `text/*` part whose bytes decode in its declared charset, or, when that charset is unknown or
/// absent, in UTF-8, windows-1252 or ISO-8859-1.
pub fn text_parts(root: &Part<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in root.walk() {
        let ctype = part.content_type();
        let Some((main, sub)) = ctype.split_once('/') else {
            continue;
        };
        if main != "text" {
            continue;
        }
        let Some(bytes) = part.decoded() else {
            continue;
        };
        let declared = part.charset().and_then(|c| codec::lookup(&c));
        let tries: &[codec::Codec] = match &declared {
            Some(c) => std::slice::from_ref(c),
            None => &[
                codec::Codec::Utf8,
                codec::Codec::Cp1252,
                codec::Codec::Latin1,
            ],
        };
        if let Some(text) = tries.iter().find_map(|&c| codec::decode_strict(c, &bytes)) {
            out.push((text.into_owned(), sub.to_string()));
        }
    }
    out
}

/// What Patchwork stores of a mail's body: the diff (if any) and the message around it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Content {
    pub diff: Option<String>,
    pub message: String,
}

/// `find_patch_content`: a `text/x-patch` or `text/x-diff` part is the diff; otherwise the first
/// `text/plain` part with a diff in it is split by [`parse_patch`]; the rest is the message.
pub fn patch_content(parts: &[(String, String)]) -> Content {
    let mut diff: Option<String> = None;
    let mut comment = String::new();
    for (payload, subtype) in parts {
        match subtype.as_str() {
            "x-patch" | "x-diff" => diff = Some(payload.clone()),
            "plain" => {
                let mut c = Some(payload.clone());
                if diff.as_deref().is_none_or(str::is_empty) {
                    let (d, rest) = parse_patch(payload);
                    diff = d;
                    c = rest;
                }
                if let Some(c) = c {
                    comment.push_str(py_strip(&c));
                    comment.push('\n');
                }
            }
            _ => {}
        }
    }
    if let Some(d) = diff.as_mut() {
        d.retain(|c| c != '\0');
    }
    Content {
        diff,
        message: clean_content(&comment),
    }
}

/// `find_comment_content`: the stripped `text/plain` parts, no diff.
pub fn comment_content(parts: &[(String, String)]) -> Content {
    let mut comment = String::new();
    for (payload, subtype) in parts {
        if payload.is_empty() || subtype != "plain" {
            continue;
        }
        comment.push_str(py_strip(payload));
        comment.push('\n');
    }
    Content {
        diff: None,
        message: clean_content(&comment),
    }
}

/// `clean_content`: drops everything from the first signature (`-- `) or list-footer (`___`)
/// line, strips, and removes NUL characters.
pub fn clean_content(content: &str) -> String {
    let mut at = 0;
    let mut cut = content.len();
    for line in content.split_inclusive('\n') {
        if let Some(body) = line.strip_suffix('\n')
            && (body == "-- " || (!body.is_empty() && body.bytes().all(|b| b == b'_')))
        {
            cut = at;
            break;
        }
        at += line.len();
    }
    let mut out = py_strip(&content[..cut]).to_string();
    out.retain(|c| c != '\0');
    out
}

const EXTENDED_HEADER_LINES: [&str; 12] = [
    "old mode ",
    "new mode ",
    "deleted file mode ",
    "new file mode ",
    "copy from ",
    "copy to ",
    "rename from ",
    "rename to ",
    "similarity index ",
    "dissimilarity index ",
    "new file mode ",
    "index ",
];

fn is_extended_header(line: &str) -> bool {
    EXTENDED_HEADER_LINES.iter().any(|p| line.starts_with(p))
}

/// `^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@`: the digits of the two line counts, `"1"` when a
/// count is omitted (both of Patchwork's uses read an omitted count as 1).
fn hunk_counts(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = counted_range(rest)?;
    let rest = rest.strip_prefix(" +")?;
    let (new, rest) = counted_range(rest)?;
    rest.starts_with(" @@").then_some((old, new))
}

/// `\d+(?:,(\d+))?`: the count's digits (or `"1"`) and what follows.
fn counted_range(s: &str) -> Option<(&str, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let rest = &s[digits..];
    if let Some(after) = rest.strip_prefix(',') {
        let n = after.bytes().take_while(u8::is_ascii_digit).count();
        if n > 0 {
            return Some((&after[..n], &after[n..]));
        }
    }
    Some(("1", rest))
}

/// A count as Python's `int()` reads it: leading zeros gone, any size.
fn count_value(digits: &str) -> &str {
    let t = digits.trim_start_matches('0');
    if t.is_empty() { "0" } else { t }
}

/// `parse_patch`: the line state machine that splits a text part into diff and comment. It
/// recognises git and plain unified diffs, CVS `Index:` diffs, extended headers without hunks
/// (renames, mode changes, empty files) and binary patches.
pub fn parse_patch(content: &str) -> (Option<String>, Option<String>) {
    let mut patch = String::new();
    let mut comment = String::new();
    let mut buf = String::new();
    let mut state = 0u8;
    let mut lc = (0i64, 0i64);
    let mut hunks = 0u32;
    // Python's `content.split('\n')` then `line += '\n'`: a final empty line is seen too.
    for raw in content.split('\n') {
        let mut line = String::with_capacity(raw.len() + 1);
        line.push_str(raw);
        line.push('\n');
        let line = line.as_str();
        match state {
            0 => {
                if line.starts_with("diff ") || line.starts_with("Index: ") {
                    state = 1;
                    buf.push_str(line);
                } else if line.starts_with("--- ") {
                    state = 2;
                    buf.push_str(line);
                } else {
                    comment.push_str(line);
                }
            }
            1 => {
                if line.starts_with("GIT binary patch") {
                    patch.push_str(&buf);
                    patch.push_str(line);
                    buf.clear();
                    state = 7;
                    continue;
                }
                buf.push_str(line);
                if line.starts_with("--- ") {
                    state = 2;
                }
                if is_extended_header(line) {
                    state = 6;
                }
            }
            2 => {
                if line.starts_with("+++ ") {
                    state = 3;
                    buf.push_str(line);
                } else if hunks > 0 {
                    state = 1;
                    buf.push_str(line);
                } else {
                    state = 0;
                    comment.push_str(&buf);
                    comment.push_str(line);
                    buf.clear();
                }
            }
            3 => {
                if let Some((old, new)) = hunk_counts(line) {
                    let count = |d: &str| d.parse::<i64>().unwrap_or(i64::MAX);
                    lc = (count(old), count(new));
                    state = 4;
                    patch.push_str(&buf);
                    patch.push_str(line);
                    buf.clear();
                } else if line.starts_with("--- ") {
                    patch.push_str(&buf);
                    patch.push_str(line);
                    buf.clear();
                    state = 2;
                } else if hunks > 0 && line.starts_with("\\ No newline at end of file") {
                    patch.push_str(line);
                } else if hunks > 0 {
                    state = 1;
                    buf.push_str(line);
                } else {
                    state = 0;
                    comment.push_str(&buf);
                    comment.push_str(line);
                    buf.clear();
                }
            }
            4 | 5 => {
                if line.starts_with('-') {
                    lc.0 -= 1;
                } else if line.starts_with('+') {
                    lc.1 -= 1;
                } else if line.starts_with("\\ No newline at end of file") {
                    // Not counted.
                } else {
                    lc.0 -= 1;
                    lc.1 -= 1;
                }
                patch.push_str(line);
                if lc.0 <= 0 && lc.1 <= 0 {
                    state = 3;
                    hunks += 1;
                } else {
                    state = 5;
                }
            }
            6 => {
                if is_extended_header(line) {
                    patch.push_str(&buf);
                    patch.push_str(line);
                    buf.clear();
                } else if line.starts_with("--- ") {
                    patch.push_str(&buf);
                    patch.push_str(line);
                    buf.clear();
                    state = 2;
                } else if line.starts_with("GIT binary patch") {
                    patch.push_str(&buf);
                    patch.push_str(line);
                    buf.clear();
                    state = 7;
                } else {
                    buf.push_str(line);
                    state = 1;
                }
            }
            _ => {
                // Binary patch data runs to the next `diff` line. Patchwork keeps that line and
                // goes back to plain text, so the extended headers after it fall into the
                // comment: kept deliberately, the hash depends on it.
                patch.push_str(line);
                if line.starts_with("diff") {
                    state = 0;
                }
            }
        }
    }
    comment.push_str(&buf);
    (
        (!patch.is_empty()).then_some(patch),
        (!comment.is_empty()).then_some(comment),
    )
}

/// `parse_pull_request`: the URL (and branch) of a `git request-pull` mail.
pub fn pull_url(message: &str) -> Option<String> {
    // The pattern is costly on big messages; its fixed text must be there first.
    let needle = "following changes since commit";
    if !message.to_lowercase().contains(needle) {
        return None;
    }
    let c = PULL_REQUEST.captures(message)?;
    let url = c.get(1)?.as_str();
    let url = normalise_space(url);
    (!url.is_empty()).then_some(url)
}

/// `hash_diff`: SHA-1 of the diff's `-`, `+`, ` ` lines, with file names stripped of their first
/// path component and hunk headers reduced to their line counts; the same change gets the same
/// hash whatever its offsets, prefixes or surrounding text.
pub fn hash_diff(diff: &str) -> String {
    let normalized = diff.replace('\r', "");
    let trimmed = py_strip(&normalized);
    let mut hasher = Sha1::new();
    let mut line_buf = String::new();
    for line in trimmed.split('\n') {
        if line.is_empty() {
            continue;
        }
        let to_hash: &str = if let Some((marker, name)) = file_line(line) {
            line_buf.clear();
            line_buf.push_str(marker);
            line_buf.push(' ');
            line_buf.push_str(if marker == "---" { "a/" } else { "b/" });
            let mut parts = name.split('/');
            parts.next();
            let rest: Vec<&str> = parts.collect();
            line_buf.push_str(&rest.join("/"));
            &line_buf
        } else if let Some((old, new)) = hunk_counts(line) {
            line_buf.clear();
            line_buf.push_str(&format!(
                "@@ -{} +{} @@",
                count_value(old),
                count_value(new)
            ));
            &line_buf
        } else if matches!(line.as_bytes()[0], b'-' | b'+' | b' ') {
            line
        } else {
            continue;
        };
        hasher.update(to_hash.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

/// `^(---|\+\+\+) (\S+)`.
fn file_line(line: &str) -> Option<(&str, &str)> {
    let (marker, rest) = if let Some(r) = line.strip_prefix("--- ") {
        ("---", r)
    } else if let Some(r) = line.strip_prefix("+++ ") {
        ("+++", r)
    } else {
        return None;
    };
    let end = rest.find(py_isspace).unwrap_or(rest.len());
    (end > 0).then(|| (marker, &rest[..end]))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// `find_filenames`: the files a diff touches, first path component dropped, sorted, unique.
pub fn filenames(diff: &str) -> Vec<String> {
    let normalized = diff.replace('\r', "");
    let mut names: Vec<String> = py_strip(&normalized)
        .split('\n')
        .filter_map(file_line)
        .filter(|(_, name)| !name.starts_with("/dev/null"))
        .map(|(_, name)| name.split('/').skip(1).collect::<Vec<_>>().join("/"))
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cs(s: &str) -> (String, Vec<String>) {
        clean_subject(s, &[])
    }

    #[test]
    fn subjects_as_patchwork_asserts() {
        assert_eq!(cs("meep"), ("meep".into(), vec![]));
        assert_eq!(cs("Re: meep").0, "meep");
        assert_eq!(cs("[PATCH] meep \n meep").0, "meep meep");
        assert_eq!(
            cs("[PATCH RFC] meep"),
            ("[RFC] meep".into(), vec!["RFC".into()])
        );
        assert_eq!(cs("[PATCH,1/2] meep").0, "[1/2] meep");
        assert_eq!(cs("[PATCH RFC 1/2] meep").0, "[RFC,1/2] meep");
        assert_eq!(cs("[PATCH] [RFC] [1/2] meep").0, "[RFC,1/2] meep");
        assert_eq!(
            cs("[PATCH] rewrite [a-z] regexes").0,
            "rewrite [a-z] regexes"
        );
        assert_eq!(
            clean_subject("[foo] [bar] meep", &["FOO".into()]),
            ("[bar] meep".into(), vec!["bar".into()])
        );
        assert_eq!(
            clean_subject("[myproj][PATCH RESEND v3 02/10] foo", &["myproj".into()]).0,
            "[RESEND,v3,02/10] foo"
        );
        assert_eq!(cs("[PATCH 1/2 v2] x").0, "[1/2,v2] x");
        assert_eq!(cs("[dpdk-dev] [PATCH] kni: x").0, "[dpdk-dev] kni: x");
        assert_eq!(cs("[Patch 2/2]: foo").0, "[2/2] : foo");
        assert_eq!(cs("Re: Fwd: [PATCH] x").0, "Fwd: [PATCH] x");
        assert_eq!(cs("[PATCH 0 of 2] hg").1, vec!["0 of 2".to_string()]);
    }

    #[test]
    fn markers_versions_and_replies() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(series_marker(&p(&["1/2"])), Some((1, 2)));
        assert_eq!(series_marker(&p(&["RFC", "01/11"])), Some((1, 11)));
        assert_eq!(series_marker(&p(&["1 of 2"])), Some((1, 2)));
        assert_eq!(series_marker(&p(&["PATCH100/123"])), Some((100, 123)));
        assert_eq!(series_marker(&p(&["v2.3PATCH1/4"])), Some((1, 4)));
        assert_eq!(series_marker(&p(&["v2"])), None);
        assert_eq!(version("x", &p(&["V2", "1/4"])), 2);
        assert_eq!(version("net: dsa: ground work (v3)", &[]), 3);
        assert_eq!(version("x", &[]), 1);
        assert!(is_reply("Re: x"));
        assert!(is_reply("RE x"));
        assert!(is_reply("re meep"));
        assert!(!is_reply("Fwd: x"));
        assert!(!is_reply("Refactor: x"));
    }

    #[test]
    fn ids_and_references() {
        assert_eq!(message_id(b"<x@y> (comment)").as_deref(), Some("<x@y>"));
        assert_eq!(message_id(b" x@y ").as_deref(), Some("x@y"));
        assert_eq!(message_id(b""), None);
        let irt: Vec<&[u8]> = vec![b"<a@b> (Joe's message of today)"];
        let refs: Vec<&[u8]> = vec![b"<c@d>\n <a@b> <e@f>"];
        assert_eq!(
            references(irt.into_iter(), refs.into_iter()),
            vec!["<a@b>", "<e@f>", "<c@d>"]
        );
    }

    #[test]
    fn from_headers() {
        assert_eq!(
            split_from("\"Foo Bar\" <foo@example.com>"),
            (Some("Foo Bar".into()), "foo@example.com".into())
        );
        assert_eq!(
            split_from("foo at example.com (Foo Bar)"),
            (Some("Foo Bar".into()), "foo@example.com".into())
        );
        assert_eq!(
            split_from("foo@example.com (Foo Bar)"),
            (Some("Foo Bar".into()), "foo@example.com".into())
        );
        assert_eq!(
            split_from("foo@example.com"),
            (None, "foo@example.com".into())
        );
        assert!(valid_email("a.b+c@example.co.uk"));
        assert!(!valid_email("steom"));
        assert!(!valid_email(".com"));
        assert!(!valid_email("a b@example.com"));
    }

    #[test]
    fn patch_split_and_hash() {
        let mail = "Test for attached patch\n---\n a | 1 +\n\ndiff --git a/a b/a\nindex 1..2 100644\n--- a/a\n+++ b/a\n@@ -1 +1,2 @@\n a\n+b\n-- \n2.1\n";
        let (d, c) = parse_patch(mail);
        let d = d.unwrap();
        assert!(d.starts_with("diff --git a/a b/a\n"));
        assert!(d.ends_with("+b\n"));
        assert_eq!(
            clean_content(&c.unwrap()),
            "Test for attached patch\n---\n a | 1 +"
        );
        // Offsets and path prefixes do not change the hash.
        let other = "--- x/a\n+++ y/a\n@@ -10 +20,2 @@\n a\n+b\n";
        assert_eq!(hash_diff(&d), hash_diff(other));
        let zeros = "--- x/a\n+++ y/a\n@@ -10,01 +20,002 @@\n a\n+b\n";
        assert_eq!(hash_diff(&d), hash_diff(zeros));
        assert_eq!(filenames(&d), vec!["a".to_string()]);
        // Words that merely start with "diff" are not diffs.
        assert_eq!(parse_patch("difficult text\n").0, None);
    }

    #[test]
    fn pull_requests() {
        let m = "The following changes since commit abc:\n\n  x (2020)\n\nare available in the git repository at:\n\n  git://git.kernel.org/pub/scm/x.git\n tags/v1\n\nfor you to fetch changes up to def:\n";
        assert_eq!(
            pull_url(m).as_deref(),
            Some("git://git.kernel.org/pub/scm/x.git tags/v1")
        );
        assert_eq!(pull_url("nothing here"), None);
    }
}

//! Headers and MIME structure, read the way Python's `email` package (the `compat32` policy that
//! Patchwork uses) reads them, because which bytes end up in a part decides Patchwork's diff and
//! its hash.
//!
//! * Lines end at `\r\n`, `\r` or `\n`.
//! * The header block ends at the first line that is neither a header (`name:` with a name of
//!   printable ASCII), nor a continuation, nor a `From ` line; a blank line there is consumed,
//!   anything else is the first body line. A header value keeps its folding.
//! * Multipart bodies are cut at boundary lines (`--b`, `--b--`, trailing blanks allowed); the
//!   line ending before a boundary belongs to the boundary. A boundary of any enclosing multipart
//!   also ends an inner part. A multipart without a (found) boundary is a single opaque part.
//! * `message/*` parts contain a message.
//!
//! Everything borrows from the mail's bytes; nothing here allocates per line. Nesting deeper than
//! [`MAX_DEPTH`] is read as opaque data instead of recursing.

/// Deeper MIME nesting than this is not descended into.
pub(crate) const MAX_DEPTH: usize = 48;

/// One header: its name as written and its raw value (after the colon and leading blanks, folding
/// kept, final line ending removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
}

/// The headers of a message or part, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers<'a> {
    pub list: Vec<Header<'a>>,
}

impl<'a> Headers<'a> {
    /// The first header called `name` (case-insensitive), as `Message.get`.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// Every header called `name`, in order, as `Message.get_all`.
    pub fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.list
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// A message or a MIME part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub headers: Headers<'a>,
    pub body: Body<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// Undecoded payload bytes (also the body of a multipart whose boundary was not found).
    Data(&'a [u8]),
    Multipart(Vec<Part<'a>>),
    Message(Box<Part<'a>>),
}

/// Parameters of a structured header (`Content-Type`), for `get_param`.
fn header_params(value: &[u8]) -> Vec<(String, String)> {
    // Python's _parseparam: split on ';' outside quotes.
    let text: String = value.iter().map(|&b| char::from(b)).collect();
    let mut out = Vec::new();
    let mut rest = text.as_str();
    let mut first = true;
    loop {
        let mut end = None;
        let mut quotes = 0usize;
        let bytes = rest.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if i + 1 < bytes.len() && bytes[i + 1] == b'"' => i += 1,
                b'"' => quotes += 1,
                b';' if quotes.is_multiple_of(2) => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let (item, next) = match end {
            Some(e) => (&rest[..e], Some(&rest[e + 1..])),
            None => (rest, None),
        };
        if !first {
            let (name, val) = match item.split_once('=') {
                Some((n, v)) => (n.trim().to_ascii_lowercase(), v.trim().to_string()),
                None => (item.trim().to_ascii_lowercase(), String::new()),
            };
            out.push((name, val));
        }
        first = false;
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    out
}

/// `email.utils.unquote`.
fn unquote(v: &str) -> String {
    if v.len() > 1 {
        if v.starts_with('"') && v.ends_with('"') {
            return v[1..v.len() - 1]
                .replace("\\\\", "\\")
                .replace("\\\"", "\"");
        }
        if v.starts_with('<') && v.ends_with('>') {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// Percent-decoding of an RFC 2231 extended value (`charset'lang'value`).
fn rfc2231_value(v: &str) -> String {
    let v = unquote(v);
    let value = v.splitn(3, '\'').nth(2).unwrap_or(&v);
    let mut out = Vec::with_capacity(value.len());
    let b = value.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = b.get(i + 1..i + 3)
            && let Ok(s) = std::str::from_utf8(h)
            && let Ok(n) = u8::from_str_radix(s, 16)
        {
            out.push(n);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl<'a> Part<'a> {
    /// `get_content_type()`: the lower-cased `type/subtype`, `text/plain` when missing or
    /// malformed.
    pub fn content_type(&self) -> String {
        let Some(v) = self.headers.get("content-type") else {
            return "text/plain".to_string();
        };
        let text: String = v.iter().map(|&b| char::from(b)).collect();
        let ctype = text.split(';').next().unwrap_or("").trim().to_lowercase();
        if ctype.matches('/').count() != 1 {
            return "text/plain".to_string();
        }
        ctype
    }

    /// `get_param(name)` of `Content-Type`, unquoted.
    pub fn param(&self, name: &str) -> Option<String> {
        let v = self.headers.get("content-type")?;
        let params = header_params(v);
        for (k, val) in &params {
            if k == name {
                return Some(unquote(val));
            }
        }
        let extended = format!("{name}*");
        params
            .iter()
            .find(|(k, _)| *k == extended)
            .map(|(_, val)| rfc2231_value(val))
    }

    /// `get_content_charset()`: lower-cased, `None` when absent or not ASCII.
    pub fn charset(&self) -> Option<String> {
        let c = self.param("charset")?;
        if !c.is_ascii() {
            return None;
        }
        Some(c.to_lowercase())
    }

    /// The lower-cased `Content-Transfer-Encoding`, blanks trimmed.
    pub fn transfer_encoding(&self) -> String {
        self.headers
            .get("content-transfer-encoding")
            .map(|v| String::from_utf8_lossy(v).trim().to_lowercase())
            .unwrap_or_default()
    }

    /// `get_payload(decode=True)` of a data part: base64 and quoted-printable decoded, anything
    /// else as it is. `None` for containers.
    pub fn decoded(&self) -> Option<std::borrow::Cow<'a, [u8]>> {
        let Body::Data(data) = self.body else {
            return None;
        };
        Some(match self.transfer_encoding().as_str() {
            "quoted-printable" => std::borrow::Cow::Owned(crate::codec::a2b_qp(data, false)),
            "base64" => {
                // bytes.splitlines() then join: every CR and LF goes.
                let joined: Vec<u8> = data
                    .iter()
                    .copied()
                    .filter(|&b| b != b'\n' && b != b'\r')
                    .collect();
                std::borrow::Cow::Owned(crate::codec::decode_b(&joined).into_owned())
            }
            _ => std::borrow::Cow::Borrowed(data),
        })
    }

    /// Pre-order walk over this part and every part inside it (`Message.walk`).
    pub fn walk(&self) -> Vec<&Part<'a>> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(p) = stack.pop() {
            out.push(p);
            match &p.body {
                Body::Multipart(children) => stack.extend(children.iter().rev()),
                Body::Message(inner) => stack.push(inner),
                Body::Data(_) => {}
            }
        }
        out
    }
}

/// Parses a whole mail.
pub fn parse(bytes: &[u8]) -> Part<'_> {
    let mut p = Parser {
        buf: bytes,
        pos: 0,
        boundaries: Vec::new(),
    };
    p.part(0)
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Separators (`--boundary`) of the enclosing multiparts: a line matching any of them is
    /// the end of the current part.
    boundaries: Vec<Vec<u8>>,
}

/// The line starting at `pos`, with its ending (`\r\n`, `\r` or `\n`).
fn line_at(buf: &[u8], pos: usize) -> &[u8] {
    let rest = &buf[pos..];
    match memchr::memchr2(b'\n', b'\r', rest) {
        Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => &rest[..i + 2],
        Some(i) => &rest[..i + 1],
        None => rest,
    }
}

/// A boundary line for `sep`? `Some(true)` for the closing one.
fn boundary_kind(line: &[u8], sep: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(sep)?;
    let (end, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let ws = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    match &rest[ws..] {
        b"" | b"\n" | b"\r" | b"\r\n" => Some(end),
        _ => None,
    }
}

fn is_blank(line: &[u8]) -> bool {
    matches!(line.first(), Some(b'\r' | b'\n'))
}

/// Python's `headerRE`: `From `, a continuation, or `name:` with a name of `[\041-\176]` minus `:`.
fn is_header_line(line: &[u8]) -> bool {
    if line.starts_with(b"From ") || matches!(line.first(), Some(b' ' | b'\t')) {
        return true;
    }
    for &b in line {
        match b {
            b':' => return true,
            0x21..=0x7e => {}
            _ => return false,
        }
    }
    false
}

fn strip_eol(s: &[u8]) -> &[u8] {
    let mut end = s.len();
    while end > 0 && matches!(s[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    &s[..end]
}

fn strip_one_eol(s: &[u8]) -> &[u8] {
    if let Some(r) = s.strip_suffix(b"\r\n") {
        r
    } else if let Some(r) = s.strip_suffix(b"\n").or_else(|| s.strip_suffix(b"\r")) {
        r
    } else {
        s
    }
}

impl<'a> Parser<'a> {
    /// The next line, or `None` at the end of the data or at a boundary of an enclosing
    /// multipart (which is left unread).
    fn peek(&self) -> Option<&'a [u8]> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let line = line_at(self.buf, self.pos);
        if line.first() == Some(&b'-')
            && self
                .boundaries
                .iter()
                .any(|sep| boundary_kind(line, sep).is_some())
        {
            return None;
        }
        Some(line)
    }

    fn next_line(&mut self) -> Option<&'a [u8]> {
        let line = self.peek()?;
        self.pos += line.len();
        Some(line)
    }

    /// Everything up to the end of the current part.
    fn rest(&mut self) -> &'a [u8] {
        let start = self.pos;
        if self.boundaries.is_empty() {
            self.pos = self.buf.len();
        } else {
            while self.next_line().is_some() {}
        }
        &self.buf[start..self.pos]
    }

    /// Reads the header block and leaves the position at the first body line.
    fn headers(&mut self) -> Headers<'a> {
        let mut lines: Vec<(usize, &'a [u8])> = Vec::new();
        while let Some(line) = self.peek() {
            if !is_header_line(line) {
                if is_blank(line) {
                    self.pos += line.len();
                }
                break;
            }
            lines.push((self.pos, line));
            self.pos += line.len();
        }
        let mut list: Vec<Header<'a>> = Vec::new();
        // (name, value start, value end) of the header being read.
        let mut current: Option<(&'a [u8], usize, usize)> = None;
        let last = lines.len().saturating_sub(1);
        let buf = self.buf;
        let flush = |current: &mut Option<(&'a [u8], usize, usize)>, list: &mut Vec<Header<'a>>| {
            if let Some((name, s, e)) = current.take() {
                list.push(Header {
                    name,
                    value: strip_eol(&buf[s..e]),
                });
            }
        };
        for (n, &(at, line)) in lines.iter().enumerate() {
            if matches!(line.first(), Some(b' ' | b'\t')) {
                if let Some(c) = current.as_mut() {
                    c.2 = at + line.len();
                }
                continue;
            }
            flush(&mut current, &mut list);
            if line.starts_with(b"From ") {
                if n == last && n != 0 {
                    // Looks like the first body line: give it back.
                    self.pos = at;
                    break;
                }
                continue;
            }
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            if colon == 0 {
                continue;
            }
            let mut vs = at + colon + 1;
            while vs < at + line.len() && matches!(buf[vs], b' ' | b'\t') {
                vs += 1;
            }
            current = Some((&line[..colon], vs, at + line.len()));
        }
        flush(&mut current, &mut list);
        Headers { list }
    }

    fn part(&mut self, depth: usize) -> Part<'a> {
        let headers = self.headers();
        let mut part = Part {
            headers,
            body: Body::Data(&[]),
        };
        let ctype = part.content_type();
        let maintype = ctype.split('/').next().unwrap_or("");
        if depth >= MAX_DEPTH {
            part.body = Body::Data(self.rest());
            return part;
        }
        if maintype == "message" && ctype != "message/delivery-status" {
            part.body = Body::Message(Box::new(self.part(depth + 1)));
            return part;
        }
        if maintype == "multipart"
            && let Some(boundary) = part.param("boundary")
        {
            let boundary = boundary.trim_end().as_bytes().to_vec();
            part.body = self.multipart(&boundary, depth);
            return part;
        }
        part.body = Body::Data(self.rest());
        part
    }

    fn multipart(&mut self, boundary: &[u8], depth: usize) -> Body<'a> {
        let mut sep = b"--".to_vec();
        sep.extend_from_slice(boundary);
        let start = self.pos;
        // Preamble: up to the first boundary.
        loop {
            match self.peek() {
                None => {
                    // No start boundary: the whole thing is one opaque payload.
                    return Body::Data(&self.buf[start..self.pos]);
                }
                Some(line) => match boundary_kind(line, &sep) {
                    Some(true) => {
                        // A closing boundary before any part: the preamble is all there is.
                        let preamble = &self.buf[start..self.pos];
                        self.pos += line.len();
                        self.rest();
                        return Body::Data(preamble);
                    }
                    Some(false) => break,
                    None => self.pos += line.len(),
                },
            }
        }
        let mut children = Vec::new();
        while let Some(line) = self.next_line() {
            match boundary_kind(line, &sep) {
                Some(true) => {
                    // Close boundary: the rest is epilogue.
                    self.rest();
                    break;
                }
                Some(false) => {
                    // Consecutive boundary lines hold no part.
                    while let Some(next) = self.peek() {
                        if boundary_kind(next, &sep).is_none() {
                            break;
                        }
                        self.pos += next.len();
                    }
                    self.boundaries.push(sep.clone());
                    let mut child = self.part(depth + 1);
                    self.boundaries.pop();
                    if let Body::Data(d) = child.body {
                        child.body = Body::Data(strip_one_eol(d));
                    }
                    children.push(child);
                }
                None => {
                    // Text after a part that did not end at our boundary (an outer one ended
                    // it, or garbage): Python ignores it likewise.
                }
            }
        }
        Body::Multipart(children)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn headers_fold_and_stop_like_python() {
        let mail = b"Subject: a\n b\nX-Bad Name: no\nbody\n";
        let p = parse(mail);
        assert_eq!(p.headers.get("subject"), Some(&b"a\n b"[..]));
        // "X-Bad Name:" is not a header: the body starts there.
        assert_eq!(p.body, Body::Data(b"X-Bad Name: no\nbody\n"));

        let p = parse(b"A: 1\r\nB:\t 2 \r\n\r\nbody");
        assert_eq!(p.headers.get("b"), Some(&b"2 "[..]));
        assert_eq!(p.body, Body::Data(b"body"));

        // Leading continuation and empty names are skipped.
        let p = parse(b" x\n:y\nC: 3\n\n");
        assert_eq!(p.headers.list.len(), 1);
    }

    #[test]
    fn multipart_parts_lose_the_newline_before_the_boundary() {
        let mail = b"Content-Type: multipart/mixed; boundary=\"XX\"\n\npre\n--XX\nContent-Type: text/plain\n\none\n\n--XX  \n\ntwo\n--XX--\nepilogue\n";
        let p = parse(mail);
        let Body::Multipart(parts) = &p.body else {
            panic!("not multipart")
        };
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, Body::Data(b"one\n"));
        assert_eq!(parts[1].body, Body::Data(b"two"));
        assert_eq!(p.walk().len(), 3);
    }

    #[test]
    fn nested_multipart_ends_at_outer_boundary() {
        let mail = b"Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\ninner\n--o\n\nsecond\n--o--\n";
        let p = parse(mail);
        let Body::Multipart(parts) = &p.body else {
            panic!("not multipart")
        };
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].body, Body::Data(b"second"));
        let Body::Multipart(inner) = &parts[0].body else {
            panic!("inner not multipart")
        };
        assert_eq!(inner[0].body, Body::Data(b"inner"));
    }

    #[test]
    fn multipart_without_boundary_is_opaque() {
        let p = parse(b"Content-Type: multipart/mixed\n\ntext\n");
        assert_eq!(p.body, Body::Data(b"text\n"));
        let p = parse(b"Content-Type: multipart/mixed; boundary=zz\n\ntext\n");
        assert_eq!(p.body, Body::Data(b"text\n"));
    }

    #[test]
    fn params_and_payload_decoding() {
        let p = parse(b"Content-Type: Text/Plain; charset=\"UTF-8\"; format=flowed\nContent-Transfer-Encoding: BASE64\n\naGVs\nbG8=\n");
        assert_eq!(p.content_type(), "text/plain");
        assert_eq!(p.charset().as_deref(), Some("utf-8"));
        assert_eq!(&*p.decoded().unwrap(), b"hello");
        let p = parse(b"Content-Type: text/plain; charset*=utf-8''%C3%A9\n\n");
        assert_eq!(p.param("charset").as_deref(), Some("é"));
        assert_eq!(p.charset(), None);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut mail = Vec::new();
        for i in 0..500 {
            mail.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
            );
        }
        mail.extend_from_slice(b"\nleaf\n");
        let p = parse(&mail);
        assert!(p.walk().len() <= MAX_DEPTH + 1);
    }
}

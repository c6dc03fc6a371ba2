//! The mail walk itself: headers, MIME parts, transfer encodings, in-body headers and the split
//! between commit message and patch, in the same order and with the same state as git's
//! `mailinfo.c`, so that every odd input ends up where git would put it.

use memchr::memchr;

use crate::charset;
use crate::text::{
    cleanup_space, cleanup_subject, cstr, decode_b, decode_q, is_format_patch_separator,
    is_rfc2822_header, is_scissors_line, is_space, parse_from, patchbreak, rtrim, skip_header,
    slurp_attr,
};
use crate::{MailInfo, Options, QuotedCr};

const FROM: usize = 0;
const SUBJECT: usize = 1;
const DATE: usize = 2;
const HEADERS: [&[u8]; 3] = [b"From", b"Subject", b"Date"];
/// git keeps MIME boundaries in `content[1..MAX_BOUNDARIES]` (`MAX_BOUNDARIES` = 5).
const MAX_BOUNDARIES: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum TransferEncoding {
    None,
    QuotedPrintable,
    Base64,
}

/// Which header set a header line fills: the mail's (and MIME parts') or the in-body one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Mail,
    Body,
}

/// The mail as git's stdio reading sees it, including the stream's end-of-file flag: once a
/// read has hit the end (a last line without newline, or a one-byte peek), the next line read
/// fails *without* clearing the line buffer (`strbuf_getwholeline` checks `feof` first), so
/// the previous line stays in it. git relies on that buffer afterwards, and so do we.
struct Input<'a> {
    buf: &'a [u8],
    pos: usize,
    eof: bool,
}

impl Input<'_> {
    /// `fgetc` + `ungetc`: the next byte, setting the end-of-file flag when there is none.
    fn peek(&mut self) -> Option<u8> {
        let c = self.buf.get(self.pos).copied();
        if c.is_none() {
            self.eof = true;
        }
        c
    }

    /// `strbuf_getwholeline`: the next line with its newline. False at the end; `out` is then
    /// emptied only if the end-of-file flag was not already set.
    fn whole_line(&mut self, out: &mut Vec<u8>) -> bool {
        if self.eof {
            return false;
        }
        out.clear();
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            self.eof = true;
            return false;
        }
        let end = match memchr(b'\n', rest) {
            Some(i) => i + 1,
            None => {
                self.eof = true;
                rest.len()
            }
        };
        out.extend_from_slice(&rest[..end]);
        self.pos += end;
        true
    }

    /// `strbuf_getline_lf`: the next line without its newline.
    fn line_lf(&mut self, out: &mut Vec<u8>) -> bool {
        if !self.whole_line(out) {
            return false;
        }
        if out.last() == Some(&b'\n') {
            out.pop();
        }
        true
    }
}

/// A byte buffer whose front can be dropped in O(1): git's `prev` (a partial decoded line
/// and/or flowed text waiting for its end), and the line being unwrapped with it. git copies
/// and shifts these for every line; doing the same would make adversarial mails quadratic.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    head: usize,
}

impl Pending {
    fn from_vec(buf: Vec<u8>) -> Self {
        Pending { buf, head: 0 }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(self.head..).unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.buf.len().saturating_sub(self.head)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.head = 0;
    }

    fn drop_front(&mut self) {
        self.head = (self.head + 1).min(self.buf.len());
    }

    fn truncate(&mut self, len: usize) {
        self.buf.truncate(self.head + len);
    }

    /// The content as a plain vector (shifting it to the front once).
    fn contiguous(&mut self) -> &mut Vec<u8> {
        if self.head > 0 {
            self.buf.drain(..self.head.min(self.buf.len()));
            self.head = 0;
        }
        &mut self.buf
    }
}

struct Parser<'a, 'o> {
    input: Input<'a>,
    opts: &'o Options,
    /// MIME boundaries (with their leading `--`), innermost last.
    boundaries: Vec<Vec<u8>>,
    charset: Vec<u8>,
    transfer_encoding: TransferEncoding,
    format_flowed: bool,
    delsp: bool,
    message_id: Option<Vec<u8>>,
    patch_lines: usize,
    /// Copying the patch (true) or still reading the commit message.
    in_patch: bool,
    /// Still looking at the top of the body (blank lines, in-body headers).
    header_stage: bool,
    inbody_accum: Vec<u8>,
    mail_headers: [Option<Vec<u8>>; 3],
    body_headers: [Option<Vec<u8>>; 3],
    have_quoted_cr: bool,
    input_error: bool,
    empty: bool,
    log: Vec<u8>,
    patch: Vec<u8>,
    warnings: Vec<String>,
    /// The last charset looked up, as the body converts line by line.
    codec_cache: Option<(Vec<u8>, Option<charset::Codec>)>,
    /// Scratch buffer, kept to avoid allocating per line.
    piece: Vec<u8>,
}

pub(crate) fn run(mail: &[u8], opts: &Options) -> MailInfo {
    let mut p = Parser {
        input: Input {
            buf: mail,
            pos: 0,
            eof: false,
        },
        opts,
        boundaries: Vec::new(),
        charset: Vec::new(),
        transfer_encoding: TransferEncoding::None,
        format_flowed: false,
        delsp: false,
        message_id: None,
        patch_lines: 0,
        in_patch: false,
        header_stage: true,
        inbody_accum: Vec::new(),
        mail_headers: [None, None, None],
        body_headers: [None, None, None],
        have_quoted_cr: false,
        input_error: false,
        empty: false,
        log: Vec::with_capacity(1024),
        patch: Vec::with_capacity(mail.len()),
        warnings: Vec::new(),
        codec_cache: None,
        piece: Vec::new(),
    };
    let mut info = MailInfo::default();
    p.mailinfo(&mut info);
    info.message = p.log;
    info.patch = p.patch;
    info.warnings = p.warnings;
    info.failed = p.input_error;
    info.empty = p.empty;
    info
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(cstr(bytes)).into_owned()
}

impl Parser<'_, '_> {
    /// An `error: …` line as git's `vreportf` prints it: at most 4095 bytes, control characters
    /// other than tab and newline shown as `?`. Flags the mail as erroneous.
    fn error(&mut self, msg: &[&[u8]]) {
        self.input_error = true;
        let mut line = b"error: ".to_vec();
        for part in msg {
            line.extend_from_slice(part);
        }
        line.truncate(4095);
        for c in &mut line {
            if (*c < 0x20 || *c == 0x7f) && *c != b'\t' && *c != b'\n' {
                *c = b'?';
            }
        }
        self.warnings
            .push(String::from_utf8_lossy(&line).into_owned());
    }

    fn mailinfo(&mut self, info: &mut MailInfo) {
        while self.input.peek().is_some_and(is_space) {
            self.input.pos += 1;
        }
        if self.input.peek().is_none() {
            self.empty = true;
            self.error(&[b"empty patch"]);
            return;
        }
        let mut line = Vec::with_capacity(256);
        while self.read_header_line(&mut line) {
            self.check_header(&line, Target::Mail, true);
        }
        self.handle_body(&mut line);
        self.handle_info(info);
    }

    /// One (unfolded) header line into `line`; false when the line read is not a header (it is
    /// then left in `line`, trimmed, with a newline, as the first body line).
    fn read_header_line(&mut self, line: &mut Vec<u8>) -> bool {
        if !self.input.line_lf(line) {
            return false;
        }
        rtrim(line);
        if line.is_empty() || !is_rfc2822_header(line) {
            line.push(b'\n');
            return false;
        }
        while matches!(self.input.peek(), Some(b' ' | b'\t')) {
            if !self.input.line_lf(&mut self.piece) {
                break;
            }
            // The folding whitespace becomes one space; a blank continuation adds nothing.
            if let Some(first) = self.piece.first_mut() {
                *first = b' ';
            }
            rtrim(&mut self.piece);
            line.extend_from_slice(&self.piece);
        }
        true
    }

    /// RFC 2047 decoding of a header value (git's `decode_header`). On a malformed encoded
    /// word the value stays as it is and the mail is flagged as erroneous.
    fn decode_header(&mut self, val: &[u8]) -> Vec<u8> {
        match self.decode_encoded_words(val) {
            Some(v) => v,
            None => {
                self.input_error = true;
                val.to_vec()
            }
        }
    }

    fn decode_encoded_words(&mut self, src: &[u8]) -> Option<Vec<u8>> {
        let Some(first) = memchr::memmem::find(src, b"=?") else {
            return Some(src.to_vec());
        };
        let mut out = Vec::with_capacity(src.len());
        let mut pos = 0;
        let mut next = Some(first);
        while let Some(ep) = next {
            if pos != ep {
                let between = &src[pos..ep];
                // Whitespace between two encoded words goes; anything else stays.
                if pos == 0 || !between.iter().all(|&c| is_space(c)) {
                    out.extend_from_slice(between);
                }
            }
            let cs_start = ep + 2;
            if cs_start >= src.len() {
                return None;
            }
            let cp = cs_start + memchr(b'?', &src[cs_start..])?;
            if cp + 3 > src.len() {
                return None;
            }
            let encoding = src[cp + 1];
            if src[cp + 2] != b'?' {
                return None;
            }
            let text_start = cp + 3;
            let end = text_start + memchr::memmem::find(&src[text_start..], b"?=")?;
            let text = &src[text_start..end];
            let mut dec = Vec::with_capacity(text.len());
            match encoding.to_ascii_lowercase() {
                b'b' => decode_b(text, &mut dec),
                b'q' => decode_q(text, true, &mut dec),
                _ => return None,
            }
            let charset = &src[cs_start..cp];
            if !self.convert_to_utf8(&mut dec, charset) {
                return None;
            }
            out.extend_from_slice(&dec);
            pos = end + 2;
            next = memchr::memmem::find(&src[pos..], b"=?").map(|i| pos + i);
        }
        out.extend_from_slice(&src[pos..]);
        Some(out)
    }

    /// git's `convert_to_utf8`; false (with an error) when the charset cannot be converted.
    fn convert_to_utf8(&mut self, text: &mut Vec<u8>, charset: &[u8]) -> bool {
        if !self.opts.utf8 || charset.is_empty() || charset::is_utf8_name(charset) {
            return true;
        }
        if self
            .codec_cache
            .as_ref()
            .is_none_or(|(name, _)| name != charset)
        {
            self.codec_cache = Some((charset.to_vec(), charset::lookup(charset)));
        }
        let converted = match self.codec_cache {
            Some((_, Some(codec))) => charset::decode(codec, text),
            _ => None,
        };
        match converted {
            Some(out) => {
                *text = out;
                true
            }
            None => {
                self.error(&[b"cannot convert from ", charset, b" to UTF-8"]);
                false
            }
        }
    }

    fn check_header(&mut self, line: &[u8], target: Target, overwrite: bool) -> bool {
        for (i, name) in HEADERS.iter().enumerate() {
            let filled = match target {
                Target::Mail => self.mail_headers[i].is_some(),
                Target::Body => self.body_headers[i].is_some(),
            };
            if filled && !overwrite {
                continue;
            }
            if let Some(val) = skip_header(line, name) {
                let val = self.decode_header(val);
                match target {
                    Target::Mail => self.mail_headers[i] = Some(val),
                    Target::Body => self.body_headers[i] = Some(val),
                }
                return true;
            }
        }
        if let Some(val) = skip_header(line, b"Content-Type") {
            let val = self.decode_header(val);
            self.handle_content_type(&val);
            return true;
        }
        if let Some(val) = skip_header(line, b"Content-Transfer-Encoding") {
            let val = self.decode_header(val);
            let val = cstr(&val);
            self.transfer_encoding = if crate::text::find_ci(val, b"base64").is_some() {
                TransferEncoding::Base64
            } else if crate::text::find_ci(val, b"quoted-printable").is_some() {
                TransferEncoding::QuotedPrintable
            } else {
                TransferEncoding::None
            };
            return true;
        }
        if let Some(val) = skip_header(line, b"Message-ID") {
            let val = self.decode_header(val);
            if self.opts.message_id {
                self.message_id = Some(val);
            }
            return true;
        }
        false
    }

    fn handle_content_type(&mut self, val: &[u8]) {
        let attr_is = |name: &[u8], value: &[u8]| {
            slurp_attr(val, name).is_some_and(|a| a.eq_ignore_ascii_case(value))
        };
        self.format_flowed = attr_is(b"format=", b"flowed");
        self.delsp = attr_is(b"delsp=", b"yes");
        if let Some(boundary) = slurp_attr(val, b"boundary=") {
            if self.boundaries.len() >= MAX_BOUNDARIES {
                self.error(&[b"Too many boundaries to handle"]);
                return;
            }
            let mut b = Vec::with_capacity(boundary.len() + 2);
            b.extend_from_slice(b"--");
            b.extend_from_slice(boundary);
            self.boundaries.push(b);
        }
        self.charset.clear();
        if let Some(cs) = slurp_attr(val, b"charset=") {
            self.charset.extend_from_slice(cs);
        }
    }

    fn is_multipart_boundary(&self, line: &[u8]) -> bool {
        self.boundaries.last().is_some_and(|b| line.starts_with(b))
    }

    /// Skips to the next line that starts with the current boundary (without its newline).
    fn find_boundary(&mut self, line: &mut Vec<u8>) -> bool {
        while self.input.line_lf(line) {
            if self.is_multipart_boundary(line) {
                return true;
            }
        }
        false
    }

    /// At a boundary line: closes finished multiparts, reads the next part's headers and leaves
    /// its first body line in `line`. False when the mail ends.
    fn handle_boundary(&mut self, line: &mut Vec<u8>) -> bool {
        // git hands a newline to the message at the end of a multipart, but releases that
        // buffer after its first use: further end boundaries met in the same call add an
        // empty line (which still counts as a patch line once in the patch).
        let mut newline_used = false;
        loop {
            let blen = self.boundaries.last().map_or(0, Vec::len);
            if line.len() >= blen + 2 && &line[blen..blen + 2] == b"--" {
                // End of this multipart.
                self.boundaries.pop();
                let mut newline = if newline_used {
                    Vec::new()
                } else {
                    vec![b'\n']
                };
                newline_used = true;
                self.handle_filter(&mut newline);
                if self.input_error {
                    return false;
                }
                if !self.find_boundary(line) {
                    return false;
                }
                continue;
            }
            break;
        }
        self.transfer_encoding = TransferEncoding::None;
        self.charset.clear();
        while self.read_header_line(line) {
            self.check_header(line, Target::Mail, false);
        }
        // The line that ended the part headers is dropped.
        if !self.input.line_lf(line) {
            return false;
        }
        line.push(b'\n');
        true
    }

    fn handle_body(&mut self, line: &mut Vec<u8>) {
        let mut prev = Pending::default();
        if !self.boundaries.is_empty() && !self.find_boundary(line) {
            return;
        }
        loop {
            if !self.boundaries.is_empty() && self.is_multipart_boundary(line) {
                if !prev.is_empty() {
                    self.handle_filter(prev.contiguous());
                    prev.clear();
                }
                self.summarize_quoted_cr();
                self.have_quoted_cr = false;
                if !self.handle_boundary(line) {
                    return;
                }
            }
            match self.transfer_encoding {
                TransferEncoding::None => {
                    let mut l = Pending::from_vec(std::mem::take(line));
                    self.handle_filter_flowed(&mut l, &mut prev);
                    *line = l.buf;
                }
                te => self.handle_decoded_line(te, line, &mut prev),
            }
            if self.input_error {
                break;
            }
            if !self.input.whole_line(line) {
                break;
            }
        }
        if !prev.is_empty() {
            self.handle_filter(prev.contiguous());
        }
        self.summarize_quoted_cr();
        self.flush_inbody_header_accum();
    }

    /// A base64 or quoted-printable line: decoded after what `prev` holds, then cut into the
    /// complete lines it yields; the incomplete end waits in `prev`.
    fn handle_decoded_line(&mut self, te: TransferEncoding, line: &[u8], prev: &mut Pending) {
        let old_len = prev.len();
        if te == TransferEncoding::Base64 {
            decode_b(line, &mut prev.buf);
        } else {
            decode_q(line, false, &mut prev.buf);
        }
        // `prev` held no newline: without a new one, all of it waits.
        let Some(nl) = memchr(b'\n', &prev.bytes()[old_len..]) else {
            return;
        };
        let first_end = old_len + nl + 1;
        let rest = prev.bytes()[first_end..].to_vec();
        prev.truncate(first_end);
        let mut first = std::mem::take(prev);
        self.handle_filter_flowed(&mut first, prev);
        let mut start = 0;
        while let Some(nl) = memchr(b'\n', &rest[start..]) {
            let end = start + nl + 1;
            let mut piece = Pending::from_vec(std::mem::take(&mut self.piece));
            piece.buf.clear();
            piece.buf.extend_from_slice(&rest[start..end]);
            self.handle_filter_flowed(&mut piece, prev);
            self.piece = piece.buf;
            start = end;
        }
        prev.buf.extend_from_slice(&rest[start..]);
    }

    fn summarize_quoted_cr(&mut self) {
        if self.have_quoted_cr && self.opts.quoted_cr == QuotedCr::Warn {
            self.warnings
                .push("warning: quoted CRLF detected".to_string());
        }
    }

    /// Quoted CR handling and `format=flowed` unwrapping (git's `handle_filter_flowed`).
    fn handle_filter_flowed(&mut self, line: &mut Pending, prev: &mut Pending) {
        if !self.format_flowed {
            if line.bytes().ends_with(b"\r\n") {
                self.have_quoted_cr = true;
                if self.opts.quoted_cr == QuotedCr::Strip {
                    let len = line.len();
                    line.truncate(len - 2);
                    line.buf.push(b'\n');
                }
            }
            self.handle_filter(line.contiguous());
            return;
        }
        let bytes = line.bytes();
        let mut len = bytes.len();
        if bytes.last() == Some(&b'\n') {
            len -= 1;
            if len > 0 && bytes[len - 1] == b'\r' {
                len -= 1;
            }
        }
        // The signature separator stays as it is.
        if len == 3 && bytes.starts_with(b"-- ") {
            if !prev.is_empty() {
                self.handle_filter(prev.contiguous());
                prev.clear();
            }
            self.handle_filter(line.contiguous());
            return;
        }
        // Space-stuffed line.
        if len > 0 && bytes[0] == b' ' {
            line.drop_front();
            len -= 1;
        }
        // A flowed line: keep it, without its soft line break, for the next one.
        if len > 0 && line.bytes()[len - 1] == b' ' {
            let keep = len - usize::from(self.delsp);
            if prev.is_empty() {
                std::mem::swap(prev, line);
                prev.truncate(keep);
            } else {
                prev.buf.extend_from_slice(&line.bytes()[..keep]);
            }
            return;
        }
        if !prev.is_empty() {
            // The waiting flowed text goes in front of this line.
            prev.buf.extend_from_slice(line.bytes());
            std::mem::swap(prev, line);
            prev.clear();
        }
        self.handle_filter(line.contiguous());
    }

    fn handle_filter(&mut self, line: &mut Vec<u8>) {
        if !self.in_patch {
            if !self.handle_commit_msg(line) {
                return;
            }
            self.in_patch = true;
        }
        self.patch.extend_from_slice(line);
        self.patch_lines += 1;
    }

    /// One line of the commit message part; true when it starts the patch.
    fn handle_commit_msg(&mut self, line: &mut Vec<u8>) -> bool {
        if self.header_stage && (line.is_empty() || line.as_slice() == b"\n") {
            if !self.inbody_accum.is_empty() {
                self.flush_inbody_header_accum();
                self.header_stage = false;
            }
            return false;
        }
        if self.opts.inbody_headers && self.header_stage {
            self.header_stage = self.check_inbody_header(line);
            if self.header_stage {
                return false;
            }
        } else {
            self.header_stage = false;
        }
        let charset = std::mem::take(&mut self.charset);
        let ok = self.convert_to_utf8(line, &charset);
        self.charset = charset;
        if !ok {
            return false;
        }
        if self.opts.scissors && is_scissors_line(line) {
            self.log.clear();
            self.header_stage = true;
            self.body_headers = [None, None, None];
            return false;
        }
        if patchbreak(line) {
            if let Some(id) = &self.message_id {
                self.log.extend_from_slice(b"Message-ID: ");
                self.log.extend_from_slice(cstr(id));
                self.log.push(b'\n');
            }
            return true;
        }
        self.log.extend_from_slice(line);
        false
    }

    fn is_inbody_header(&self, line: &[u8]) -> bool {
        HEADERS
            .iter()
            .zip(&self.body_headers)
            .any(|(name, slot)| slot.is_none() && skip_header(line, name).is_some())
    }

    /// In-body header lines (and their continuation lines) at the top of the body.
    fn check_inbody_header(&mut self, line: &[u8]) -> bool {
        if !self.inbody_accum.is_empty() && matches!(line.first(), Some(b' ' | b'\t')) {
            if self.opts.scissors && is_scissors_line(line) {
                // A scissors line is not a continuation line.
                self.flush_inbody_header_accum();
                return false;
            }
            if self.inbody_accum.last() == Some(&b'\n') {
                self.inbody_accum.pop();
            }
            self.inbody_accum.extend_from_slice(line);
            return true;
        }
        self.flush_inbody_header_accum();
        if line.starts_with(b">From") && line.get(5).copied().is_some_and(is_space) {
            return is_format_patch_separator(&line[1..]);
        }
        if line.starts_with(b"[PATCH]") && line.get(7).copied().is_some_and(is_space) {
            self.body_headers[SUBJECT] = Some(line.to_vec());
            return true;
        }
        if self.is_inbody_header(line) {
            self.inbody_accum.extend_from_slice(line);
            return true;
        }
        false
    }

    fn flush_inbody_header_accum(&mut self) {
        if self.inbody_accum.is_empty() {
            return;
        }
        let accum = std::mem::take(&mut self.inbody_accum);
        self.check_header(&accum, Target::Body, false);
        self.inbody_accum = accum;
        self.inbody_accum.clear();
    }

    fn handle_info(&mut self, info: &mut MailInfo) {
        for i in [FROM, SUBJECT, DATE] {
            let hdr = if self.patch_lines > 0 && self.body_headers[i].is_some() {
                self.body_headers[i].take()
            } else {
                self.mail_headers[i].take()
            };
            let Some(mut hdr) = hdr else {
                continue;
            };
            if memchr(0, &hdr).is_some() {
                self.error(&[b"a NUL byte in '", HEADERS[i], b"' is not allowed."]);
            }
            match i {
                SUBJECT => {
                    if !self.opts.keep_subject {
                        cleanup_subject(&mut hdr, self.opts.keep_non_patch);
                        cleanup_space(&mut hdr);
                    }
                    info.subject = lossy(&hdr);
                    info.has_subject = true;
                }
                FROM => {
                    cleanup_space(&mut hdr);
                    let (name, email) = parse_from(&hdr);
                    info.author = lossy(&name);
                    info.email = lossy(&email);
                    info.has_from = true;
                }
                _ => {
                    cleanup_space(&mut hdr);
                    info.date = lossy(&hdr);
                    info.has_date = true;
                }
            }
        }
    }
}

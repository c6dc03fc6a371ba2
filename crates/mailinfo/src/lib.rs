//! git's `mailinfo`: what `git am` takes from a mail (author, email, subject, date, commit
//! message, patch).
//!
//! [`mailinfo`] reproduces `git mailinfo` (git 2.47, `mailinfo.c`) byte for byte: header
//! unfolding, RFC 2047 encoded words (with git's whitespace rules and its error on malformed
//! words), re-coding to UTF-8 as git's iconv does, `From:` parsing, subject cleanup, MIME
//! multiparts, base64 and quoted-printable with git's lenient decoders, `format=flowed`,
//! in-body headers, scissors, quoted CRs, git's rule for where the commit message ends and the
//! patch begins, and even git's stdio and buffer quirks (a last header line without a body
//! becomes the first body line; a second end boundary adds an empty line). It is checked
//! against git's own t5100 test data ([`run_git_corpus`]) and, in its tests, against the real
//! `git mailinfo` on thousands of generated and mutated mails.
//!
//! Deliberate deviations, all at the edges:
//! * [`MailInfo`]'s author, email, subject and date are `String`s: where git prints bytes that
//!   are not UTF-8 (raw 8-bit headers, or any header with `utf8: false`), invalid sequences
//!   become U+FFFD. The message and the patch are the exact bytes.
//! * Charset names are glibc's, and the single-byte tables, UTF-7/16/32, EUC-JP, EUC-KR and
//!   Shift_JIS agree with glibc's iconv even on invalid input. Charsets that `encoding_rs`
//!   cannot decode (EBCDIC, ISO-2022-KR/CN, ...) are errors here; for Big5/CP950/HKSCS,
//!   GBK/GB18030/GB2312 and ISO-2022-JP, glibc's tables differ from WHATWG's on rare or invalid
//!   byte sequences (glibc's private-use mappings, extension areas, stray control bytes).
//! * Only `utf8` on or off is offered, not `--encoding=<other charset>`; the `empty patch`
//!   error does not name a patch file.
//!
//! Performance: one pass over the mail, linear whatever the input (including the cases where
//! git itself is quadratic); a typical 5 KB patch mail takes a few microseconds.

mod charset;
pub mod corpus;
mod engine;
mod text;

use std::borrow::Cow;

pub use corpus::{CorpusReport, run_git_corpus};

/// How carriage returns in the mail are treated (`mailinfo.quotedCR`, `--quoted-cr`).
///
/// A CR before the newline of a line of the body (after base64 or quoted-printable decoding,
/// and also in a plain body when the mail still has CRLF line endings) is a quoted CR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuotedCr {
    /// Keep such CRs, silently.
    #[default]
    NoWarn,
    /// Keep them, and add `warning: quoted CRLF detected` to [`MailInfo::warnings`] (git's own
    /// default when neither the option nor the configuration says otherwise).
    Warn,
    /// Remove the CR of every CRLF line ending.
    Strip,
}

/// The options of `git mailinfo` that change its output.
#[derive(Debug, Clone)]
pub struct Options {
    /// Re-code author, subject and message to UTF-8 (`-u`, the default of `git am`; it is also
    /// what a bare `git mailinfo` does unless `i18n.commitEncoding` says otherwise). False is
    /// `-n`: no re-coding at all.
    pub utf8: bool,
    /// `-k`: keep the subject as it is.
    pub keep_subject: bool,
    /// `-b`: only strip bracket pairs that contain `PATCH`.
    pub keep_non_patch: bool,
    /// `--scissors`: drop everything before a `-- >8 --` line.
    pub scissors: bool,
    /// In-body `From:`, `Subject:`, `Date:` override the headers (`--no-inbody-headers` = false).
    pub inbody_headers: bool,
    /// `-m` / `--message-id`: append `Message-ID: …` to the commit message.
    pub message_id: bool,
    /// `--quoted-cr=…`.
    pub quoted_cr: QuotedCr,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            utf8: true,
            keep_subject: false,
            keep_non_patch: false,
            scissors: false,
            inbody_headers: true,
            message_id: false,
            quoted_cr: QuotedCr::NoWarn,
        }
    }
}

/// What `git mailinfo` prints and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailInfo {
    /// The author name (`Author:`); the email stands in when the name is empty or unusable.
    pub author: String,
    /// The author email (`Email:`).
    pub email: String,
    /// The cleaned subject (`Subject:`); with `keep_subject` it may hold newlines, each of which
    /// starts a new `Subject:` line in [`MailInfo::info_text`], as with git.
    pub subject: String,
    /// The date, as written in the mail (`Date:`).
    pub date: String,
    /// The commit message (git's `msg` file).
    pub message: Vec<u8>,
    /// Everything from the first diff on (git's `patch` file).
    pub patch: Vec<u8>,
    /// What git would print on standard error, one entry per line (`warning: …`, `error: …`).
    pub warnings: Vec<String>,
    /// A `From:` header was found (git prints the `Author:` and `Email:` lines).
    pub has_from: bool,
    /// A `Subject:` header was found (git prints `Subject:`).
    pub has_subject: bool,
    /// A `Date:` header was found (git prints `Date:`).
    pub has_date: bool,
    /// git would exit with status 1: a malformed encoded word, an unknown charset or bytes
    /// invalid in it (git then stops reading the body), too many nested multiparts, a NUL in
    /// an extracted header, or an empty mail. The outputs are still what git writes.
    pub failed: bool,
    /// The mail was empty or all whitespace: git reports `empty patch` and prints no info at
    /// all.
    pub empty: bool,
}

/// Extracts what `git am` takes from one mail, exactly as `git mailinfo` does.
///
/// `mail` is one mail as cut by `git mailsplit`: it may start with an mbox `From ` envelope
/// line, which is ignored as git ignores it. `git mailsplit` turns CRLF line endings into LF
/// (unless `--keep-cr`); a mail that still has them is processed as `git mailinfo` would
/// process it (see [`QuotedCr`]); use [`crlf_to_lf`] first to get `git am`'s default.
///
/// Never panics, whatever the bytes.
pub fn mailinfo(mail: &[u8], options: &Options) -> MailInfo {
    engine::run(mail, options)
}

/// Turns the CRLF line endings of a mail into LF, as `git mailsplit` does without
/// `--keep-cr`. Borrows when there is nothing to change.
pub fn crlf_to_lf(mail: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memmem::find(mail, b"\r\n").is_none() {
        return Cow::Borrowed(mail);
    }
    let mut out = Vec::with_capacity(mail.len());
    let mut rest = mail;
    while let Some(i) = memchr::memchr(b'\n', rest) {
        let line = &rest[..i];
        out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
        out.push(b'\n');
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

impl MailInfo {
    /// What `git mailinfo` prints on standard output: "Author: …\nEmail: …\nSubject: …\nDate:
    /// …\n\n", each line only when its header was found, one `Subject:` line per line of the
    /// subject, and nothing at all for an empty mail.
    pub fn info_text(&self) -> String {
        if self.empty {
            return String::new();
        }
        let mut s = String::with_capacity(
            self.author.len() + self.email.len() + self.subject.len() + self.date.len() + 40,
        );
        if self.has_from {
            s.push_str("Author: ");
            s.push_str(&self.author);
            s.push_str("\nEmail: ");
            s.push_str(&self.email);
            s.push('\n');
        }
        if self.has_subject {
            for line in self.subject.split('\n') {
                s.push_str("Subject: ");
                s.push_str(line);
                s.push('\n');
            }
        }
        if self.has_date {
            s.push_str("Date: ");
            s.push_str(&self.date);
            s.push('\n');
        }
        s.push('\n');
        s
    }
}

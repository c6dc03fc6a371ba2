//! A patch of a series: its place, its subject, the raw mail.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One patch of a series, as mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// Its place in the series (1-based), as the series numbers it.
    pub number: u32,
    /// Its subject, for messages.
    pub subject: String,
    /// The raw mail (RFC 5322 bytes; an mbox `From ` envelope line is allowed and ignored).
    pub bytes: Vec<u8>,
}

impl Patch {
    pub fn new(number: u32, subject: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Patch {
        Patch {
            number,
            subject: subject.into(),
            bytes: bytes.into(),
        }
    }

    /// The diff part of the mail, exactly as `git am` (its `mailinfo`, after `mailsplit`'s
    /// CRLF conversion) will see it: decoded from base64 or quoted-printable, out of MIME parts.
    pub(crate) fn diff(&self) -> Vec<u8> {
        let mail = gauntlet_mailinfo::crlf_to_lf(&self.bytes);
        gauntlet_mailinfo::mailinfo(&mail, &gauntlet_mailinfo::Options::default()).patch
    }
}

/// Names a patch in messages: its number in the series and its subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchRef {
    pub number: u32,
    /// How many patches the series has.
    pub of: u32,
    pub subject: String,
}

impl PatchRef {
    pub(crate) fn new(patch: &Patch, of: usize) -> PatchRef {
        PatchRef {
            number: patch.number,
            of: u32::try_from(of).unwrap_or(u32::MAX),
            subject: patch.subject.clone(),
        }
    }
}

impl fmt::Display for PatchRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "patch {}/{} \"{}\"", self.number, self.of, self.subject)
    }
}

/// The envelope line of every mail in the mboxes given to `git am`.
const ENVELOPE: &[u8] = b"From gauntlet Mon Sep 17 00:00:00 2001\n";

/// The series as one mboxrd: each mail gets the same envelope line (its own, if it had one, is
/// dropped) and every line of it that starts with `>*From ` gets one more `>`, which
/// `git am --patch-format=mboxrd` takes off again. So `git mailsplit` cuts exactly one mail per
/// patch, whatever the mails contain.
pub(crate) fn mboxrd(patches: &[Patch]) -> Vec<u8> {
    let total: usize = patches.iter().map(|p| p.bytes.len() + 64).sum();
    let mut out = Vec::with_capacity(total);
    for patch in patches {
        out.extend_from_slice(ENVELOPE);
        let mut rest: &[u8] = &patch.bytes;
        if rest.starts_with(b"From ") {
            rest = match memchr::memchr(b'\n', rest) {
                Some(i) => &rest[i + 1..],
                None => b"",
            };
        }
        for line in rest.split_inclusive(|&b| b == b'\n') {
            if quoted_from(line) {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
        if !out.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    out
}

fn quoted_from(line: &[u8]) -> bool {
    let start = line.iter().position(|&b| b != b'>').unwrap_or(line.len());
    line[start..].starts_with(b"From ")
}

/// Lossy text of bytes, for messages.
pub(crate) fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn mboxrd_quotes_from_lines_and_replaces_envelopes() {
        let a = Patch::new(
            1,
            "a",
            &b"From x Mon\nSubject: a\n\nFrom here on\n>From there"[..],
        );
        let b = Patch::new(2, "b", &b"Subject: b\r\n\r\nbody\r\n"[..]);
        let mbox = mboxrd(&[a, b]);
        let text = String::from_utf8(mbox).unwrap();
        assert_eq!(
            text,
            "From gauntlet Mon Sep 17 00:00:00 2001\nSubject: a\n\n>From here on\n>>From there\n\
             From gauntlet Mon Sep 17 00:00:00 2001\nSubject: b\r\n\r\nbody\r\n"
        );
    }
}

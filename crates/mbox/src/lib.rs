//! Cutting mailboxes into raw mails, as a stream.
//!
//! Everything here works on bytes and never interprets a mail beyond finding where it starts and
//! ends: parsing is `gauntlet-mail`'s job. The readers hold one mail in memory at a time, so an
//! archive of any size is read in constant memory.
//!
//! The splitting rules are git's (`git mailsplit`), which is also what `git am` will do with the
//! same file later in the pipeline:
//!
//! * whitespace before the first line is skipped (as git does);
//! * a stream whose first line does not start with `From ` is a single bare mail; a first line
//!   that does start with `From ` is taken as the envelope even when it does not look like one
//!   (git calls that a corrupt mailbox; Python's `mailbox`, and so Patchwork, accept it);
//! * otherwise that first line is the envelope of the first mail, and every later line that
//!   starts with `From ` *and looks like an envelope* (a `hh:mm` time followed by a year, git's
//!   `is_from_line`) starts a new mail. A body line such as `From the manual:` does not split.
//! * in an mboxrd archive (detected from public-inbox's `From mboxrd@z` envelope, or forced),
//!   one `>` is removed from every `>…>From ` line; in an mboxo archive quoted lines are kept as
//!   they are, as git does without `--mboxrd`.
//! * the blank line an mbox writer puts before each envelope belongs to the container, not to the
//!   mail, and is removed (Python's `mailbox` does the same).
//!
//! The envelope line itself is not part of the mail: it is returned beside it.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// How `>From ` lines are quoted in an mbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quoting {
    /// mboxrd when the first envelope is public-inbox's `From mboxrd@z …`, mboxo otherwise.
    #[default]
    Auto,
    /// Lines are left as they are (git's default).
    Mboxo,
    /// One `>` is removed from every line matching `^>+From `.
    Mboxrd,
}

/// Reader settings.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `>From ` quoting of the archive.
    pub quoting: Quoting,
    /// A mail larger than this is cut at this size and flagged as truncated, so that one absurd
    /// mail cannot exhaust memory.
    pub max_mail_size: usize,
    /// Keep the blank line that precedes each envelope as the end of the previous mail, as
    /// `git mailsplit` does. Off by default: the line belongs to the container (RFC 4155).
    pub keep_separator_blank: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            quoting: Quoting::Auto,
            max_mail_size: 128 << 20,
            keep_separator_blank: false,
        }
    }
}

/// One mail cut out of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMail {
    /// The mail's bytes, line endings untouched, without the envelope line.
    pub bytes: Vec<u8>,
    /// The mbox envelope (`From sender date`) without its line ending, if there was one.
    pub envelope: Option<Vec<u8>>,
    /// Byte offset of the mail (of its envelope when it has one) in the stream.
    pub offset: u64,
    /// The mail was larger than [`Options::max_mail_size`] and `bytes` holds only its start.
    pub truncated: bool,
}

/// Errors while reading a mailbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} is neither a file nor a directory")]
    NotAMailbox { path: String },
}

/// Streams the mails of one mbox (or of one bare mail) from a reader.
pub struct MboxReader<R> {
    inner: R,
    options: Options,
    /// The quoting decided once the first envelope is seen.
    unquote: bool,
    started: bool,
    /// An envelope line already read that starts the next mail (without its line ending).
    next_envelope: Option<(Vec<u8>, u64)>,
    /// The stream holds a bare mail: no envelope, never split.
    bare: bool,
    offset: u64,
    line: Vec<u8>,
    done: bool,
}

impl<R: BufRead> MboxReader<R> {
    pub fn new(inner: R, options: Options) -> Self {
        MboxReader {
            inner,
            options,
            unquote: options.quoting == Quoting::Mboxrd,
            started: false,
            next_envelope: None,
            bare: false,
            offset: 0,
            line: Vec::with_capacity(256),
            done: false,
        }
    }

    /// Bytes consumed from the stream so far (for progress reporting).
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Reads one line into `self.line`; false at the end of the stream.
    fn read_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        let n = self.inner.read_until(b'\n', &mut self.line)?;
        self.offset += n as u64;
        Ok(n > 0)
    }

    fn start(&mut self) -> io::Result<Option<RawMail>> {
        self.started = true;
        // Whitespace before the first mail is container noise (git skips it too).
        loop {
            let mut at = self.offset;
            if !self.read_line()? {
                self.done = true;
                return Ok(None);
            }
            let lead = self.line.iter().take_while(|b| is_space(**b)).count();
            if lead == self.line.len() {
                continue;
            }
            if lead > 0 {
                self.line.drain(..lead);
                at += lead as u64;
            }
            if self.line.starts_with(b"From ") {
                let envelope = trim_eol(&self.line).to_vec();
                if self.options.quoting == Quoting::Auto {
                    self.unquote = envelope.starts_with(b"From mboxrd@z ");
                }
                self.next_envelope = Some((envelope, at));
                return Ok(None);
            }
            // A bare mail: this line is its first line.
            self.bare = true;
            let mut mail = RawMail {
                bytes: Vec::new(),
                envelope: None,
                offset: at,
                truncated: false,
            };
            let first = std::mem::take(&mut self.line);
            self.push_line(&mut mail, &first);
            self.line = first;
            return self.finish_bare(mail).map(Some);
        }
    }

    fn finish_bare(&mut self, mut mail: RawMail) -> io::Result<RawMail> {
        while self.read_line()? {
            let line = std::mem::take(&mut self.line);
            self.push_line(&mut mail, &line);
            self.line = line;
        }
        self.done = true;
        Ok(mail)
    }

    fn push_line(&self, mail: &mut RawMail, line: &[u8]) {
        let line = if self.unquote && is_quoted_from(line) {
            &line[1..]
        } else {
            line
        };
        let room = self.options.max_mail_size.saturating_sub(mail.bytes.len());
        if line.len() > room {
            mail.bytes.extend_from_slice(&line[..room]);
            mail.truncated = true;
        } else {
            mail.bytes.extend_from_slice(line);
        }
    }

    fn next_mail(&mut self) -> io::Result<Option<RawMail>> {
        if self.done {
            return Ok(None);
        }
        if !self.started {
            if let Some(mail) = self.start()? {
                return Ok(Some(mail));
            }
            if self.done {
                return Ok(None);
            }
        }
        let Some((envelope, offset)) = self.next_envelope.take() else {
            self.done = true;
            return Ok(None);
        };
        let mut mail = RawMail {
            bytes: Vec::new(),
            envelope: Some(envelope),
            offset,
            truncated: false,
        };
        loop {
            let at = self.offset;
            if !self.read_line()? {
                self.done = true;
                break;
            }
            if !self.bare && is_from_line(&self.line) {
                self.next_envelope = Some((trim_eol(&self.line).to_vec(), at));
                break;
            }
            let line = std::mem::take(&mut self.line);
            self.push_line(&mut mail, &line);
            self.line = line;
        }
        if !self.options.keep_separator_blank {
            strip_separator_blank(&mut mail.bytes);
        }
        Ok(Some(mail))
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = io::Result<RawMail>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_mail() {
            Ok(Some(mail)) => Some(Ok(mail)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Splits an in-memory mailbox. Convenience for tests and small inputs.
pub fn split(bytes: &[u8], options: Options) -> Vec<RawMail> {
    // Reading from a slice cannot fail.
    MboxReader::new(bytes, options)
        .filter_map(Result::ok)
        .collect()
}

/// The mails of an mbox exactly as `git mailsplit` writes them (`--mboxrd` when asked): each
/// with its envelope line, the blank line before the next envelope kept, and every CRLF line
/// ending turned into LF (git's default without `--keep-cr`).
pub fn git_mailsplit(bytes: &[u8], mboxrd: bool) -> Vec<Vec<u8>> {
    let options = Options {
        quoting: if mboxrd {
            Quoting::Mboxrd
        } else {
            Quoting::Mboxo
        },
        keep_separator_blank: true,
        ..Options::default()
    };
    split(bytes, options)
        .into_iter()
        .map(|mail| {
            let mut out = Vec::with_capacity(mail.bytes.len() + 64);
            if let Some(envelope) = &mail.envelope {
                out.extend_from_slice(envelope);
                out.push(b'\n');
            }
            for line in mail.bytes.split_inclusive(|&b| b == b'\n') {
                match line.strip_suffix(b"\r\n") {
                    Some(body) => {
                        out.extend_from_slice(body);
                        out.push(b'\n');
                    }
                    None => out.extend_from_slice(line),
                }
            }
            out
        })
        .collect()
}

/// Where a mail came from, for messages and for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file the mail was read from (`-` for standard input).
    pub file: String,
    /// Offset of the mail in that file.
    pub offset: u64,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.offset == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}@{}", self.file, self.offset)
        }
    }
}

/// What to read mails from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input: one mail (an MTA pipe) or an mbox (`git format-patch --stdout`).
    Stdin,
    /// An mbox file, or a file holding a single mail.
    File(PathBuf),
    /// A maildir (`cur/` and `new/`), or any directory whose files are mails or mboxes.
    Dir(PathBuf),
}

impl Input {
    /// `-` is standard input; otherwise a file or directory that must exist.
    pub fn from_arg(arg: &str) -> Result<Input, Error> {
        if arg == "-" {
            return Ok(Input::Stdin);
        }
        let path = PathBuf::from(arg);
        let meta = fs::metadata(&path).map_err(|source| Error::Io {
            path: arg.to_string(),
            source,
        })?;
        if meta.is_dir() {
            Ok(Input::Dir(path))
        } else if meta.is_file() {
            Ok(Input::File(path))
        } else {
            Err(Error::NotAMailbox {
                path: arg.to_string(),
            })
        }
    }

    /// The files to read, in order, with their sizes (for progress reporting).
    pub fn files(&self) -> Result<Vec<(PathBuf, u64)>, Error> {
        match self {
            Input::Stdin => Ok(Vec::new()),
            Input::File(path) => {
                let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                Ok(vec![(path.clone(), size)])
            }
            Input::Dir(dir) => dir_files(dir),
        }
    }

    /// Opens the input as one stream of mails.
    pub fn open(&self, options: Options) -> Result<Mails, Error> {
        let (files, stdin) = match self {
            Input::Stdin => (Vec::new(), true),
            _ => (self.files()?, false),
        };
        Ok(Mails {
            files: files.into_iter().map(|(p, _)| p).collect(),
            next_file: 0,
            stdin,
            current: None,
            options,
            consumed_before: 0,
        })
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The files of a directory in reading order: a maildir's `new/` and `cur/`, or the directory's
/// own regular files, sorted by name (maildir names start with the delivery time; `git
/// format-patch` names start with the patch number). Hidden files are skipped.
fn dir_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>, Error> {
    let maildir = dir.join("cur").is_dir() || dir.join("new").is_dir();
    let dirs: Vec<PathBuf> = if maildir {
        vec![dir.join("new"), dir.join("cur")]
    } else {
        vec![dir.to_path_buf()]
    };
    let mut files = Vec::new();
    for d in dirs {
        if !d.is_dir() {
            continue;
        }
        for entry in fs::read_dir(&d).map_err(io_err(&d))? {
            let entry = entry.map_err(io_err(&d))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let meta = entry.metadata().map_err(io_err(&entry.path()))?;
            if meta.is_file() {
                files.push((entry.path(), meta.len()));
            }
        }
    }
    files.sort_by(|a, b| {
        let ka = a.0.file_name().map(|n| n.to_os_string());
        let kb = b.0.file_name().map(|n| n.to_os_string());
        ka.cmp(&kb)
    });
    Ok(files)
}

type FileReader = MboxReader<BufReader<Box<dyn Read + Send>>>;

/// The mails of an [`Input`], file after file.
pub struct Mails {
    files: Vec<PathBuf>,
    next_file: usize,
    stdin: bool,
    current: Option<(String, FileReader)>,
    options: Options,
    consumed_before: u64,
}

impl Mails {
    /// Bytes read so far over all files.
    pub fn position(&self) -> u64 {
        self.consumed_before + self.current.as_ref().map_or(0, |(_, r)| r.position())
    }

    fn open_next(&mut self) -> Option<Result<(), Error>> {
        if let Some((_, reader)) = self.current.take() {
            self.consumed_before += reader.position();
        }
        let (name, read): (String, Box<dyn Read + Send>) = if self.stdin {
            self.stdin = false;
            ("-".to_string(), Box::new(io::stdin()))
        } else {
            let path = self.files.get(self.next_file)?.clone();
            self.next_file += 1;
            match fs::File::open(&path) {
                Ok(f) => (path.display().to_string(), Box::new(f)),
                Err(e) => return Some(Err(io_err(&path)(e))),
            }
        };
        let reader = MboxReader::new(BufReader::with_capacity(1 << 18, read), self.options);
        self.current = Some((name, reader));
        Some(Ok(()))
    }
}

impl Iterator for Mails {
    type Item = Result<(Origin, RawMail), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((name, reader)) = self.current.as_mut() {
                match reader.next() {
                    Some(Ok(mail)) => {
                        let origin = Origin {
                            file: name.clone(),
                            offset: mail.offset,
                        };
                        return Some(Ok((origin, mail)));
                    }
                    Some(Err(source)) => {
                        let path = name.clone();
                        self.current = None;
                        return Some(Err(Error::Io { path, source }));
                    }
                    None => {}
                }
            }
            match self.open_next()? {
                Ok(()) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// git's `isspace` (unlike C's, without vertical tab and form feed).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Removes the blank line an mbox writer puts between a mail and the next envelope.
fn strip_separator_blank(bytes: &mut Vec<u8>) {
    if bytes.ends_with(b"\r\n\r\n") {
        bytes.truncate(bytes.len() - 2);
    } else if bytes.ends_with(b"\n\n") || bytes == b"\n" {
        bytes.truncate(bytes.len() - 1);
    }
}

/// `>From `, `>>From `, …: a line quoted by an mboxrd writer.
fn is_quoted_from(line: &[u8]) -> bool {
    let gt = line.iter().take_while(|&&b| b == b'>').count();
    gt > 0 && line[gt..].starts_with(b"From ")
}

/// git's test for an envelope line (`mailsplit.c: is_from_line`): `From `, then somewhere a
/// `h:mm` or `hh:mm:ss` time whose last colon is followed by two digits and, after one more
/// character, a year above 90.
pub fn is_from_line(line: &[u8]) -> bool {
    let len = line.len();
    if len < 20 || !line.starts_with(b"From ") {
        return false;
    }
    // The last ':' at index 5..=len-3.
    let Some(colon) = (5..len - 2).rev().find(|&i| line[i] == b':') else {
        return false;
    };
    let digit = |i: usize| line.get(i).is_some_and(u8::is_ascii_digit);
    if colon < 4 || !digit(colon - 4) || !digit(colon - 2) || !digit(colon - 1) {
        return false;
    }
    if !digit(colon + 1) || !digit(colon + 2) {
        return false;
    }
    strtol(line.get(colon + 3..).unwrap_or(&[])) > 90
}

/// C's `strtol(s, NULL, 10)`, saturating.
fn strtol(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut value: i64 = 0;
    while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        i += 1;
    }
    if negative { -value } else { value }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bodies(input: &[u8]) -> Vec<String> {
        split(input, Options::default())
            .into_iter()
            .map(|m| String::from_utf8_lossy(&m.bytes).into_owned())
            .collect()
    }

    #[test]
    fn envelope_detection_follows_git() {
        assert!(is_from_line(b"From 5d8f Mon Sep 17 00:00:00 2001\n"));
        assert!(is_from_line(
            b"From ferruh.yigit@intel.com  Thu Sep 15 14:06:56 2016\n"
        ));
        assert!(is_from_line(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"));
        assert!(!is_from_line(b"From the manual, section 12:34 we read\n"));
        assert!(!is_from_line(b"From pat016\n"));
        assert!(!is_from_line(b"From xl.org, netdev@vger.kernel.org,\n"));
        // A year of 90 or less is not a year.
        assert!(!is_from_line(b"From x Thu Jan  1 00:00:00 0090\n"));
    }

    #[test]
    fn splits_only_on_envelopes_and_drops_separator_blank() {
        let mbox = b"From a Mon Sep 17 00:00:00 2001\nSubject: one\n\nFrom the docs:\nbody\n\nFrom b Mon Sep 17 00:00:00 2001\nSubject: two\n\nx\n";
        assert_eq!(
            bodies(mbox),
            vec![
                "Subject: one\n\nFrom the docs:\nbody\n".to_string(),
                "Subject: two\n\nx\n".to_string()
            ]
        );
        let mails = split(mbox, Options::default());
        assert_eq!(
            mails[1].envelope.as_deref(),
            Some(&b"From b Mon Sep 17 00:00:00 2001"[..])
        );
        assert_eq!(mails[1].offset, 67);
    }

    #[test]
    fn bare_mail_is_never_split() {
        let mail = b"Subject: x\n\nFrom 5d8f Mon Sep 17 00:00:00 2001\nbody\n";
        assert_eq!(
            bodies(mail),
            vec![String::from_utf8_lossy(mail).into_owned()]
        );
    }

    #[test]
    fn mboxrd_is_unquoted_when_detected_or_forced() {
        let rd =
            b"From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: x\n\n>From here\n>>From there\n";
        assert_eq!(bodies(rd), vec!["Subject: x\n\nFrom here\n>From there\n"]);
        let o = b"From a Mon Sep 17 00:00:00 2001\nSubject: x\n\n>From here\n";
        assert_eq!(bodies(o), vec!["Subject: x\n\n>From here\n"]);
        let forced = split(
            o,
            Options {
                quoting: Quoting::Mboxrd,
                ..Options::default()
            },
        );
        assert_eq!(forced[0].bytes, b"Subject: x\n\nFrom here\n");
    }

    #[test]
    fn crlf_and_truncation() {
        let mbox = b"From a Mon Sep 17 00:00:00 2001\r\nSubject: x\r\n\r\nbody\r\n\r\nFrom b Mon Sep 17 00:00:00 2001\r\nSubject: y\r\n";
        assert_eq!(
            bodies(mbox),
            vec!["Subject: x\r\n\r\nbody\r\n", "Subject: y\r\n"]
        );
        let big = [b"Subject: x\n\n".as_slice(), &[b'a'; 100]].concat();
        let m = split(
            &big,
            Options {
                max_mail_size: 20,
                ..Options::default()
            },
        );
        assert!(m[0].truncated);
        assert_eq!(m[0].bytes.len(), 20);
    }

    #[test]
    fn git_mailsplit_keeps_what_git_keeps() {
        let mbox = b"From a Mon Sep 17 00:00:00 2001\r\nSubject: x\r\n\r\nbody\r\n\r\nFrom b Mon Sep 17 00:00:00 2001\nS: y\n";
        let mails = git_mailsplit(mbox, false);
        assert_eq!(
            mails[0],
            b"From a Mon Sep 17 00:00:00 2001\nSubject: x\n\nbody\n\n".to_vec()
        );
        assert_eq!(
            mails[1],
            b"From b Mon Sep 17 00:00:00 2001\nS: y\n".to_vec()
        );
    }

    #[test]
    fn empty_and_blank_inputs() {
        assert!(bodies(b"").is_empty());
        assert!(bodies(b"\n\n").is_empty());
        assert!(bodies(b" \n\t\n  ").is_empty());
        // Leading whitespace lines before the first envelope, as in git's own test data.
        let m = split(
            b"    \n\t\nFrom a Mon Sep 17 00:00:00 2001\nS: x\n\nFrom b Mon Sep 17 00:00:00 2001\nS: y\n",
            Options::default(),
        );
        assert_eq!(m.len(), 2);
        // Two envelopes in a row give an empty mail: it is reported, not lost.
        let m = split(
            b"From a Mon Sep 17 00:00:00 2001\nFrom b Mon Sep 17 00:00:00 2001\nS: y\n",
            Options::default(),
        );
        assert_eq!(m.len(), 2);
        assert!(m[0].bytes.is_empty());
    }

    #[test]
    fn directories_in_name_order_and_maildirs() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("0002-b.patch"), b"Subject: b\n\nb\n").unwrap();
        fs::write(dir.path().join("0001-a.patch"), b"Subject: a\n\na\n").unwrap();
        fs::write(dir.path().join(".hidden"), b"Subject: h\n\nh\n").unwrap();
        let input = Input::from_arg(dir.path().to_str().unwrap()).unwrap();
        let got: Vec<_> = input
            .open(Options::default())
            .unwrap()
            .map(|r| r.unwrap().1.bytes)
            .collect();
        assert_eq!(
            got,
            vec![b"Subject: a\n\na\n".to_vec(), b"Subject: b\n\nb\n".to_vec()]
        );

        let md = tempfile::tempdir().unwrap();
        fs::create_dir(md.path().join("cur")).unwrap();
        fs::create_dir(md.path().join("new")).unwrap();
        fs::create_dir(md.path().join("tmp")).unwrap();
        fs::write(md.path().join("cur/2:2,S"), b"Subject: old\n\n").unwrap();
        fs::write(md.path().join("new/1"), b"Subject: new\n\n").unwrap();
        fs::write(md.path().join("tmp/3"), b"Subject: tmp\n\n").unwrap();
        let input = Input::Dir(md.path().to_path_buf());
        let got: Vec<_> = input
            .open(Options::default())
            .unwrap()
            .map(|r| r.unwrap().1.bytes)
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], b"Subject: new\n\n".to_vec());
    }
}

//! git's own mailinfo test data (`t/t5100`) as a conformance check.
//!
//! [`run_git_corpus`] replays, case by case, what git's `t5100-mailinfo.sh` does with the files of
//! its data directory and compares every output with git's expectation. The data is not part of
//! this repository: pass the directory that holds it.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::{MailInfo, Options, QuotedCr, mailinfo};

/// The outcome of [`run_git_corpus`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorpusReport {
    /// Cases whose every output matched git's expectation.
    pub passed: usize,
    /// Cases with at least one difference (or a missing file).
    pub failed: usize,
    /// One readable description (with a diff) per failed case.
    pub failures: Vec<String>,
}

/// A `git mailsplit`: the mails of an mbox, each as git writes it (envelope line included, CRLF
/// turned into LF); the flag asks for `--mboxrd` unquoting.
pub type SplitFn<'a> = &'a dyn Fn(&[u8], bool) -> Vec<Vec<u8>>;

/// Runs every git t5100 case found in `dir`; returns (passed, failed, descriptions of failures).
///
/// `split` must cut an mbox as `git mailsplit` does (see [`SplitFn`]); it is a parameter because
/// the splitter lives in another crate. A file of the data set that is missing makes its case
/// fail; an unreadable `dir` is an error.
pub fn run_git_corpus(dir: &Path, split: SplitFn<'_>) -> io::Result<CorpusReport> {
    std::fs::read_dir(dir)?;
    let mut run = Runner {
        dir,
        split,
        report: CorpusReport::default(),
    };
    run.sample_mbox();
    run.rfc2047();
    run.nul();
    run.single_cases();
    run.mboxrd();
    run.quoted_cr();
    Ok(run.report)
}

struct Runner<'a> {
    dir: &'a Path,
    split: SplitFn<'a>,
    report: CorpusReport,
}

/// What one case expects; `None` parts are not checked.
#[derive(Default)]
struct Expect<'e> {
    info: Option<&'e [u8]>,
    msg: Option<&'e [u8]>,
    patch: Option<&'e [u8]>,
    warnings: Option<&'e [&'e str]>,
}

impl Runner<'_> {
    fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.dir.join(name)).map_err(|e| format!("cannot read {name}: {e}"))
    }

    fn exists(&self, name: &str) -> bool {
        self.dir.join(name).is_file()
    }

    fn record(&mut self, case: &str, result: Result<(), String>) {
        match result {
            Ok(()) => self.report.passed += 1,
            Err(why) => {
                self.report.failed += 1;
                self.report.failures.push(format!("{case}: {why}"));
            }
        }
    }

    /// Splits `file`, checking the number of mails as t5100 does.
    fn split_file(&mut self, file: &str, mboxrd: bool, count: usize) -> Vec<Vec<u8>> {
        let case = format!(
            "{file}: git mailsplit{}",
            if mboxrd { " --mboxrd" } else { "" }
        );
        let mails = match self.read(file) {
            Ok(bytes) => (self.split)(&bytes, mboxrd),
            Err(e) => {
                self.record(&case, Err(e));
                return Vec::new();
            }
        };
        let result = if mails.len() == count {
            Ok(())
        } else {
            Err(format!("{} mails, git gives {count}", mails.len()))
        };
        self.record(&case, result);
        mails
    }

    /// A single-mail file that t5100 splits first and expects back unchanged.
    fn split_single(&self, file: &str) -> Result<Vec<u8>, String> {
        let bytes = self.read(file)?;
        let mut mails = (self.split)(&bytes, false);
        if mails.len() != 1 {
            return Err(format!("split into {} mails, git gives 1", mails.len()));
        }
        let mail = mails.pop().unwrap_or_default();
        if mail != bytes {
            return Err(format!(
                "the split mail differs from the file, as git mailsplit keeps it:\n{}",
                diff(&bytes, &mail)
            ));
        }
        Ok(mail)
    }

    fn sample_mbox(&mut self) {
        let mails = self.split_file("sample.mbox", false, 18);
        type SetOption = fn(&mut Options);
        let variants: [(&str, SetOption); 4] = [
            ("", |_| {}),
            ("--scissors", |o| o.scissors = true),
            ("--no-inbody-headers", |o| o.inbody_headers = false),
            ("--message-id", |o| o.message_id = true),
        ];
        let mut n = 1;
        while self.exists(&format!("info{n:04}")) {
            for (suffix, set) in variants {
                let mo = format!("{n:04}{suffix}");
                if !suffix.is_empty() && !self.exists(&format!("msg{mo}")) {
                    continue;
                }
                let mut opts = Options::default();
                set(&mut opts);
                let case = format!("sample.mbox {n:04} (git mailinfo -u {suffix})");
                let result = (|| {
                    let mail = mails
                        .get(n - 1)
                        .ok_or_else(|| "mail missing from the split".to_string())?;
                    let (info, msg, patch) = (
                        self.read(&format!("info{mo}"))?,
                        self.read(&format!("msg{mo}"))?,
                        self.read(&format!("patch{mo}"))?,
                    );
                    check(
                        &mailinfo(mail, &opts),
                        &Expect {
                            info: Some(&info),
                            msg: Some(&msg),
                            patch: Some(&patch),
                            warnings: None,
                        },
                    )
                })();
                self.record(&case, result);
            }
            n += 1;
        }
    }

    fn rfc2047(&mut self) {
        let mails = self.split_file("rfc2047-samples.mbox", false, 11);
        let empty = self.read("empty").unwrap_or_default();
        let mut n = 1;
        while self.exists(&format!("rfc2047-info-{n:04}")) {
            let case = format!("rfc2047-samples.mbox {n:04}");
            let result = (|| {
                let mail = mails
                    .get(n - 1)
                    .ok_or_else(|| "mail missing from the split".to_string())?;
                let info = self.read(&format!("rfc2047-info-{n:04}"))?;
                check(
                    &mailinfo(mail, &Options::default()),
                    &Expect {
                        info: Some(&info),
                        msg: Some(&empty),
                        patch: Some(&empty),
                        warnings: None,
                    },
                )
            })();
            self.record(&case, result);
            n += 1;
        }
    }

    fn nul(&mut self) {
        let result = (|| {
            let mail = self.split_single("nul-plain")?;
            let mi = mailinfo(&mail, &Options::default());
            let lines = mi.patch.iter().filter(|&&c| c == b'\n').count();
            if lines != 4 {
                return Err(format!(
                    "patch has {lines} lines, git writes 4:\n{}",
                    diff(b"", &mi.patch)
                ));
            }
            Ok(())
        })();
        self.record("nul-plain (NULs kept in the patch)", result);

        let result = (|| {
            let mail = self.split_single("nul-b64.in")?;
            let expect = self.read("nul-b64.expect")?;
            check(
                &mailinfo(&mail, &Options::default()),
                &Expect {
                    patch: Some(&expect),
                    ..Expect::default()
                },
            )
        })();
        self.record("nul-b64.in (NULs out of base64)", result);
    }

    fn single_cases(&mut self) {
        // (input, split first as t5100 does, which output the .expect file holds)
        let cases: [(&str, bool, &str); 5] = [
            ("info-from", true, "info"),
            ("embed-from", true, "info"),
            ("quoted-from", true, "msg"),
            ("quoted-string", false, "info"),
            ("comment", false, "info"),
        ];
        for (name, split, what) in cases {
            let result = (|| {
                let input = format!("{name}.in");
                let mail = if split {
                    self.split_single(&input)?
                } else {
                    self.read(&input)?
                };
                let expect = self.read(&format!("{name}.expect"))?;
                let mut e = Expect::default();
                if what == "info" {
                    e.info = Some(&expect);
                } else {
                    e.msg = Some(&expect);
                }
                check(&mailinfo(&mail, &Options::default()), &e)
            })();
            self.record(&format!("{name}.in ({what})"), result);
        }
    }

    fn mboxrd(&mut self) {
        let mails = self.split_file("sample.mboxrd", true, 2);
        for n in 1..=2 {
            let result = (|| {
                let mail = mails
                    .get(n - 1)
                    .ok_or_else(|| "mail missing from the split".to_string())?;
                let expect = self.read(&format!("{n:04}mboxrd"))?;
                check(
                    &mailinfo(mail, &Options::default()),
                    &Expect {
                        msg: Some(&expect),
                        ..Expect::default()
                    },
                )
            })();
            self.record(&format!("sample.mboxrd {n:04} (--mboxrd)"), result);
        }
    }

    fn quoted_cr(&mut self) {
        let mails = self.split_file("quoted-cr.mbox", false, 2);
        let (msg, patch, info) = match (
            self.read("quoted-cr-msg"),
            self.read("quoted-cr-patch"),
            self.read("quoted-cr-info"),
        ) {
            (Ok(m), Ok(p), Ok(i)) => (m, p, i),
            (m, p, i) => {
                let why = [m.err(), p.err(), i.err()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ");
                self.record("quoted-cr.mbox", Err(why));
                return;
            }
        };
        // t5100 writes CRs as `%%`; a `%%` at the end of a line is a CR that a CRLF mail keeps
        // unless stripped.
        let (msg_lf, patch_lf) = (percent_cr(&msg, false), percent_cr(&patch, false));
        let (msg_crlf, patch_crlf) = (percent_cr(&msg, true), percent_cr(&patch, true));
        let warned: &[&str] = &["warning: quoted CRLF detected"];
        let cases = [
            (1, QuotedCr::Warn, false, &[][..]),
            (1, QuotedCr::NoWarn, false, &[][..]),
            (1, QuotedCr::Strip, false, &[][..]),
            (2, QuotedCr::Warn, true, warned),
            (2, QuotedCr::NoWarn, true, &[][..]),
            (2, QuotedCr::Strip, false, &[][..]),
        ];
        for (n, quoted_cr, crlf, warnings) in cases {
            let case = format!("quoted-cr.mbox {n:04} (--quoted-cr={quoted_cr:?})");
            let result = (|| {
                let mail = mails
                    .get(n - 1)
                    .ok_or_else(|| "mail missing from the split".to_string())?;
                let opts = Options {
                    quoted_cr,
                    ..Options::default()
                };
                let (m, p) = if crlf {
                    (&msg_crlf, &patch_crlf)
                } else {
                    (&msg_lf, &patch_lf)
                };
                check(
                    &mailinfo(mail, &opts),
                    &Expect {
                        info: Some(&info),
                        msg: Some(m),
                        patch: Some(p),
                        warnings: Some(warnings),
                    },
                )
            })();
            self.record(&case, result);
        }
    }
}

/// t5100's `sed -e "s/%%$//" -e "s/%%/\r/g"` (with `crlf`, the trailing `%%` becomes a CR too).
fn percent_cr(data: &[u8], crlf: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|&c| c == b'\n') {
        let (body, nl) = match line.strip_suffix(b"\n") {
            Some(b) => (b, &b"\n"[..]),
            None => (line, &b""[..]),
        };
        let (body, tail) = match body.strip_suffix(b"%%") {
            Some(b) => (b, if crlf { &b"\r"[..] } else { &b""[..] }),
            None => (body, &b""[..]),
        };
        let mut i = 0;
        while i < body.len() {
            if body[i..].starts_with(b"%%") {
                out.push(b'\r');
                i += 2;
            } else {
                out.push(body[i]);
                i += 1;
            }
        }
        out.extend_from_slice(tail);
        out.extend_from_slice(nl);
    }
    out
}

fn check(mi: &MailInfo, e: &Expect<'_>) -> Result<(), String> {
    let mut problems = String::new();
    let mut compare = |what: &str, expected: Option<&[u8]>, actual: &[u8]| {
        if let Some(expected) = expected
            && expected != actual
        {
            let _ = write!(problems, "\n  {what} differs:\n{}", diff(expected, actual));
        }
    };
    compare("info", e.info, mi.info_text().as_bytes());
    compare("msg", e.msg, &mi.message);
    compare("patch", e.patch, &mi.patch);
    if let Some(w) = e.warnings
        && mi.warnings != w
    {
        let _ = write!(
            problems,
            "\n  stderr differs: expected {w:?}, got {:?}",
            mi.warnings
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A short line diff: the differing middle of the two texts with a little context, `-` for
/// the expected lines and `+` for the actual ones, bytes escaped.
pub fn diff(expected: &[u8], actual: &[u8]) -> String {
    const CONTEXT: usize = 2;
    const MAX: usize = 12;
    let a: Vec<&[u8]> = expected.split_inclusive(|&c| c == b'\n').collect();
    let b: Vec<&[u8]> = actual.split_inclusive(|&c| c == b'\n').collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = String::new();
    let show = |out: &mut String, mark: char, lines: &[&[u8]]| {
        for (i, line) in lines.iter().enumerate() {
            if i == MAX {
                let _ = writeln!(out, "    {mark} … ({} more lines)", lines.len() - MAX);
                break;
            }
            let _ = writeln!(out, "    {mark} {}", line.escape_ascii());
        }
    };
    let _ = writeln!(out, "    @@ line {} @@", prefix + 1);
    show(&mut out, ' ', &a[prefix.saturating_sub(CONTEXT)..prefix]);
    show(&mut out, '-', &a[prefix..a.len() - suffix]);
    show(&mut out, '+', &b[prefix..b.len() - suffix]);
    let after = a.len() - suffix;
    show(&mut out, ' ', &a[after..(after + CONTEXT).min(a.len())]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_the_middle() {
        let d = diff(b"a\nb\nc\nd\n", b"a\nb\nX\nd\n");
        assert!(d.contains("- c\\n"), "{d}");
        assert!(d.contains("+ X\\n"), "{d}");
        assert!(d.contains("  b\\n"), "{d}");
    }

    #[test]
    fn percent_markers() {
        assert_eq!(percent_cr(b"a%%b%%\nc\n", false), b"a\rb\nc\n");
        assert_eq!(percent_cr(b"a%%b%%\nc\n", true), b"a\rb\r\nc\n");
    }
}

//! Mails written the way `git format-patch` writes them, for the tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write;

use gauntlet_checks::{Configured, Context, Registry, Report, Series, Source};
use gauntlet_mail::{Mail, ParseOptions};

/// RFC 2047 for a header phrase that is not ASCII (as git does), quoted when it has specials.
pub fn phrase(name: &str) -> String {
    if name.is_ascii() {
        if name.contains(',') || name.contains('.') {
            format!("\"{name}\"")
        } else {
            name.to_string()
        }
    } else {
        format!("=?UTF-8?B?{}?=", base64(name.as_bytes()))
    }
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A small diff of one file: line `line` of `path` replaced.
pub fn one_line_diff(path: &str, line: u32, old: &str, new: &str) -> String {
    format!(
        "diff --git a/{path} b/{path}\nindex 1234567..89abcde 100644\n--- a/{path}\n+++ b/{path}\n@@ -{s},7 +{s},7 @@ static int f(void)\n \tint a;\n \tint b;\n \tint c;\n-{old}\n+{new}\n \tint d;\n \tint e;\n \tint f;\n",
        s = line - 3
    )
}

/// One mail of a series.
#[derive(Clone)]
pub struct Patch {
    pub from: String,
    pub subject: String,
    /// Commit message after the subject: body and trailers.
    pub message: String,
    pub diff: String,
    pub headers: Vec<String>,
    pub in_body_from: Option<String>,
    pub number: Option<(u32, u32)>,
    pub version: u32,
    pub charset: &'static str,
}

impl Patch {
    pub fn new(from: &str, subject: &str, message: &str, diff: &str) -> Patch {
        Patch {
            from: from.to_string(),
            subject: subject.to_string(),
            message: message.to_string(),
            diff: diff.to_string(),
            headers: Vec::new(),
            in_body_from: None,
            number: None,
            version: 1,
            charset: "UTF-8",
        }
    }

    /// A good patch by `from` (`Name <addr>`), signed off by them.
    pub fn good(from: &str) -> Patch {
        Patch::new(
            from,
            "kernel/sys: return early when nothing is set",
            &format!(
                "The loop in do_sys_thing() walks every entry even when no flag is set.\nReturn early in that case.\n\nSigned-off-by: {from}\n"
            ),
            &one_line_diff("kernel/sys.c", 123, "\treturn x;", "\treturn y;"),
        )
    }

    pub fn numbered(mut self, x: u32, n: u32) -> Patch {
        self.number = Some((x, n));
        self
    }

    pub fn version(mut self, v: u32) -> Patch {
        self.version = v;
        self
    }

    pub fn header(mut self, h: &str) -> Patch {
        self.headers.push(h.to_string());
        self
    }

    fn tag(&self) -> String {
        let mut tag = "PATCH".to_string();
        if self.version > 1 {
            write!(tag, " v{}", self.version).unwrap();
        }
        if let Some((x, n)) = self.number {
            write!(tag, " {x}/{n}").unwrap();
        }
        tag
    }

    /// The mail, as git format-patch writes it (without the mbox `From ` line).
    pub fn bytes(&self) -> Vec<u8> {
        let (name, addr) = split(&self.from);
        let mut m = String::new();
        writeln!(m, "From: {} <{addr}>", phrase(name)).unwrap();
        writeln!(m, "Date: Tue, 1 Dec 2026 10:00:00 +0000").unwrap();
        let subject = if self.subject.starts_with('[') {
            self.subject.clone()
        } else {
            format!("[{}] {}", self.tag(), self.subject)
        };
        let encoded = if subject.is_ascii() {
            subject
        } else {
            format!("=?UTF-8?B?{}?=", base64(subject.as_bytes()))
        };
        writeln!(m, "Subject: {encoded}").unwrap();
        let x = self.number.map_or(1, |n| n.0);
        writeln!(m, "Message-Id: <20261201100000.4242-{x}-test@example.org>").unwrap();
        for h in &self.headers {
            writeln!(m, "{h}").unwrap();
        }
        writeln!(m, "MIME-Version: 1.0").unwrap();
        writeln!(m, "Content-Type: text/plain; charset={}", self.charset).unwrap();
        writeln!(m, "Content-Transfer-Encoding: 8bit").unwrap();
        writeln!(m).unwrap();
        if let Some(author) = &self.in_body_from {
            writeln!(m, "From: {author}\n").unwrap();
        }
        m.push_str(&self.message);
        if !self.diff.is_empty() {
            m.push_str(
                "---\n kernel/sys.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n",
            );
            m.push_str(&self.diff);
        }
        m.push_str("-- \n2.43.0\n\n");
        m.into_bytes()
    }
}

/// A cover letter `0/n`.
pub fn cover(from: &str, n: u32, version: u32, subject: &str, body: &str) -> Vec<u8> {
    let (name, addr) = split(from);
    let v = if version > 1 {
        format!(" v{version}")
    } else {
        String::new()
    };
    format!(
        "From: {} <{addr}>\nDate: Tue, 1 Dec 2026 10:00:00 +0000\nSubject: [PATCH{v} 0/{n}] {subject}\nMessage-Id: <20261201100000.4242-0-test@example.org>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n{body}\n\n-- \n2.43.0\n",
        phrase(name)
    )
    .into_bytes()
}

pub fn split(person: &str) -> (&str, &str) {
    let lt = person.rfind('<').expect("a <address>");
    (person[..lt].trim(), person[lt + 1..].trim_end_matches('>'))
}

/// Parsed mails and their bytes, kept together for a series to borrow.
pub struct Posting {
    pub mails: Vec<(Mail, Vec<u8>)>,
}

impl Posting {
    pub fn new(raws: Vec<Vec<u8>>) -> Posting {
        let options = ParseOptions::default();
        Posting {
            mails: raws
                .into_iter()
                .map(|raw| (gauntlet_mail::parse(&raw, &options), raw))
                .collect(),
        }
    }

    pub fn of(patches: &[Patch]) -> Posting {
        Posting::new(patches.iter().map(Patch::bytes).collect())
    }

    pub fn series(&self) -> Series<'_> {
        let sources: Vec<Source<'_>> = self
            .mails
            .iter()
            .map(|(mail, raw)| Source {
                mail,
                raw,
                file_name: None,
            })
            .collect();
        Series::assemble(&sources)
    }

    /// Runs the default checks (no tree).
    pub fn check(&self) -> Report {
        self.check_with(&Registry::builtin().defaults(), &Context::new())
    }

    pub fn check_with(&self, configured: &Configured, context: &Context) -> Report {
        configured.run(&self.series(), context)
    }
}

/// The types of the findings of `check` on patch `index`.
pub fn types(report: &Report, check: &str, index: usize) -> Vec<String> {
    report
        .result(check, &gauntlet_checks::Target::Patch { index })
        .map(|r| r.findings.iter().map(|f| f.kind.clone()).collect())
        .unwrap_or_default()
}

pub fn series_types(report: &Report, check: &str) -> Vec<String> {
    report
        .result(check, &gauntlet_checks::Target::Series)
        .map(|r| r.findings.iter().map(|f| f.kind.clone()).collect())
        .unwrap_or_default()
}

/// The kernel tree for the tests that need one, or `None` after saying why they are skipped.
pub fn linux_tree(test: &str) -> Option<std::path::PathBuf> {
    match std::env::var_os("GAUNTLET_LINUX_TREE") {
        None => {
            eprintln!(
                "SKIPPED {test}: GAUNTLET_LINUX_TREE is not set (run .ci/linux-tree and export its output)"
            );
            None
        }
        Some(path) => {
            let path = std::path::PathBuf::from(path);
            if path.join("scripts/checkpatch.pl").is_file() {
                Some(path)
            } else {
                eprintln!(
                    "SKIPPED {test}: GAUNTLET_LINUX_TREE={} has no scripts/checkpatch.pl",
                    path.display()
                );
                None
            }
        }
    }
}

/// perl is there (the checkpatch tests need it).
pub fn have_perl() -> bool {
    std::process::Command::new("perl")
        .arg("-e1")
        .status()
        .is_ok_and(|s| s.success())
}

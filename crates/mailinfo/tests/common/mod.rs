//! Shared by the integration tests: a deterministic generator of mails, and the real git.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gauntlet_mailinfo::{Options, QuotedCr};

/// xorshift64*: deterministic, no dependencies.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/git-mailinfo")
}

/// A scratch directory under the system temp dir, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "gauntlet-mailinfo-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A git command isolated from any configuration, in English.
pub fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .env_remove("GIT_DIR")
        .env_remove("LANGUAGE");
    cmd
}

pub fn have_git() -> bool {
    Command::new("git")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `git mailsplit [--mboxrd]` of `mbox`, the mails as git writes them.
pub fn git_mailsplit(scratch: &Path, mbox: &Path, mboxrd: bool) -> Vec<Vec<u8>> {
    let out = scratch.join(format!(
        "split-{}",
        mbox.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = git(scratch);
    cmd.arg("mailsplit").arg(format!("-o{}", out.display()));
    if mboxrd {
        cmd.arg("--mboxrd");
    }
    let status = cmd.arg(mbox).stdout(Stdio::null()).status().unwrap();
    assert!(status.success(), "git mailsplit {}", mbox.display());
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// What the real `git mailinfo` produced.
#[derive(Debug)]
pub struct GitOutput {
    pub info: Vec<u8>,
    pub msg: Vec<u8>,
    pub patch: Vec<u8>,
    pub stderr: Vec<u8>,
    pub failed: bool,
}

pub fn git_flags(o: &Options) -> Vec<&'static str> {
    let mut flags = vec![if o.utf8 { "-u" } else { "-n" }];
    if o.keep_subject {
        flags.push("-k");
    }
    if o.keep_non_patch {
        flags.push("-b");
    }
    if o.scissors {
        flags.push("--scissors");
    }
    if !o.inbody_headers {
        flags.push("--no-inbody-headers");
    }
    if o.message_id {
        flags.push("--message-id");
    }
    flags.push(match o.quoted_cr {
        QuotedCr::NoWarn => "--quoted-cr=nowarn",
        QuotedCr::Warn => "--quoted-cr=warn",
        QuotedCr::Strip => "--quoted-cr=strip",
    });
    flags
}

pub fn git_mailinfo(scratch: &Path, mail: &[u8], o: &Options) -> GitOutput {
    let input = scratch.join("mail");
    std::fs::write(&input, mail).unwrap();
    let (msg, patch) = (scratch.join("msg"), scratch.join("patch"));
    let _ = std::fs::remove_file(&msg);
    let _ = std::fs::remove_file(&patch);
    let out = git(scratch)
        .arg("mailinfo")
        .args(git_flags(o))
        .arg(&msg)
        .arg(&patch)
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    GitOutput {
        info: out.stdout,
        msg: std::fs::read(&msg).unwrap_or_default(),
        patch: std::fs::read(&patch).unwrap_or_default(),
        stderr: out.stderr,
        failed: !out.status.success(),
    }
}

/// Every option combination worth comparing.
pub fn option_sets() -> Vec<Options> {
    let base = Options::default();
    vec![
        base.clone(),
        Options {
            utf8: false,
            ..base.clone()
        },
        Options {
            keep_subject: true,
            ..base.clone()
        },
        Options {
            keep_non_patch: true,
            ..base.clone()
        },
        Options {
            scissors: true,
            ..base.clone()
        },
        Options {
            inbody_headers: false,
            ..base.clone()
        },
        Options {
            message_id: true,
            quoted_cr: QuotedCr::Warn,
            ..base.clone()
        },
        Options {
            quoted_cr: QuotedCr::Strip,
            scissors: true,
            ..base
        },
    ]
}

const FROMS: &[&str] = &[
    "A U Thor <a.u.thor@example.com>",
    "a.u.thor@example.com (A U Thor)",
    "\"Thor, A. U.\" <a.u.thor@example.com>",
    "\"A \\\"The\\\" Thor\" <thor@example.com>",
    "=?UTF-8?q?J=C3=B6rg_M=C3=BCller?= <jm@example.com>",
    "=?iso-8859-1?q?J=F6rg?= <j@example.com>",
    "=?utf-8?b?5ZCJ6Jek?= <k@example.jp>",
    "A (zzz) U Thor <a@example.com> (Comment)",
    "bogus",
    "Bogus Name <bogus>",
    "user at host.example.com",
    "<bare@example.com>",
    "bare@example.com",
    "AB <ab@example.com>",
    "An Extraordinarily Long Author Name That Goes On And On Past Sixty Bytes <long@example.com>",
    "=?utf-8?q?broken <x@example.com>",
    "=?utf-8?q?a=00b?= <nul@example.com>",
    "Name <a@b> <c@d>",
    "(just a comment) <c@example.com>",
    "",
];

const SUBJECTS: &[&str] = &[
    "[PATCH v2 3/7] foo: bar the baz",
    "Re: [PATCH] x",
    "[RFC][PATCH] y",
    "[RFC] [PATCH 1/2] y z",
    "=?utf-8?q?caf=C3=A9?= =?utf-8?q?_au_lait?=",
    "=?utf-8?q?a?=  =?utf-8?q?b?= c =?utf-8?q?d?=",
    "=?x-unknown?q?a?=",
    "=?windows-1252?q?=80uro?=",
    "=?ISO-8859-15?B?pA==?=",
    "folded\n subject\n\tline",
    "Trailing spaces   ",
    " re:Re: [x] [PATCH] z",
    "[PATCH]",
    "",
    "RE: rE: [PATCH 0/3] covers",
    "[unterminated bracket",
    "=?UTF-8?B?8J+Ygg==?= emoji",
    "Subject: nested",
];

const CONTENT_TYPES: &[&str] = &[
    "",
    "text/plain; charset=utf-8",
    "text/plain; charset=\"iso-8859-1\"",
    "text/plain; charset=us-ascii",
    "text/plain; charset=windows-1252",
    "text/plain; charset=KOI8-R",
    "text/plain; charset=x-unknown",
    "text/plain; charset=utf-8; format=flowed",
    "text/plain; charset=utf-8; format=flowed; delsp=yes",
    "text/plain; format=\"flowed\"",
];

const BODY_STARTS: &[&str] = &[
    "",
    "\n",
    "From: In Body <inbody@example.com>\nSubject: [PATCH] in-body subject\nDate: Tue, 1 Jan 2019 00:00:00 +0000\n\n",
    "From: Folded\n <folded@example.com>\nSubject: folded\n\tin body\n\n",
    "[PATCH] bracket subject line\n\n",
    ">From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\nFrom: Other <o@example.com>\n\n",
    "Subject: =?utf-8?q?encoded_in_body?=\n\n",
    "Date: bogus\nnot a header\n\n",
    "  \nSubject: after blank-ish\n\n",
];

const MESSAGE_LINES: &[&str] = &[
    "This fixes the frobnicator.",
    "Caf\u{e9} au lait, na\u{ef}ve r\u{e9}sum\u{e9}.",
    "trailing whitespace   \t",
    "",
    "-- >8 --",
    "Some text -- >8 -- here",
    "Signed-off-by: A U Thor <a.u.thor@example.com>",
    ">From the quoted mbox line",
    "flowed line with a soft break ",
    " space-stuffed line",
    "-- ",
    "line with \r carriage return inside",
    "crlf line\r",
    "nul \0 byte",
    "=3D looks like QP",
    "------------",
    "--- not a patch start?",
    "---",
    "--- ",
];

const PATCHES: &[&str] = &[
    "---\n foo | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\ndiff --git a/foo b/foo\nindex 9123cdc..918dcf8 100644\n--- a/foo\n+++ b/foo\n@@ -1 +1 @@\n-old\n+new\n-- \n2.47.0\n",
    "diff --git a/x b/x\nnew file mode 100644\n--- /dev/null\n+++ b/x\n@@ -0,0 +1 @@\n+x\n",
    "Index: foo.c\n===================================================================\n--- foo.c\n+++ foo.c\n@@ -1 +1 @@\n-a\n+b\n",
    "--- a/file\n+++ b/file\n@@ -1 +1 @@\n-\0\n+\x01\n",
    "",
];

fn push_line(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(b'\n');
}

pub fn encode_b64(data: &[u8]) -> Vec<u8> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for (i, chunk) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push(b'\n');
        }
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        out.push(T[(v >> 18) as usize & 63]);
        out.push(T[(v >> 12) as usize & 63]);
        out.push(if n > 1 {
            T[(v >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if n > 2 { T[v as usize & 63] } else { b'=' });
    }
    out.push(b'\n');
    out
}

fn encode_qp(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let mut col = 0;
    for &c in data {
        if c == b'\n' {
            out.push(b'\n');
            col = 0;
            continue;
        }
        if col > 60 && rng.chance(30) {
            out.extend_from_slice(b"=\n");
            col = 0;
        }
        if c == b'=' || c >= 0x7f || (c < 0x20 && c != b'\t') || rng.chance(3) {
            out.extend_from_slice(format!("={c:02X}").as_bytes());
            col += 3;
        } else {
            out.push(c);
            col += 1;
        }
    }
    out
}

/// Re-codes the (UTF-8) body text to a legacy charset where that is simple.
fn recode(body: &[u8], charset: &str) -> Vec<u8> {
    let lower = charset.to_ascii_lowercase();
    if lower.contains("iso-8859-1") || lower.contains("windows-1252") {
        let s = String::from_utf8_lossy(body);
        s.chars()
            .map(|c| {
                if (c as u32) < 256 {
                    c as u32 as u8
                } else {
                    b'?'
                }
            })
            .collect()
    } else {
        body.to_vec()
    }
}

/// A text/plain body part with the given transfer encoding.
fn text_part(rng: &mut Rng, body: &[u8], charset_ct: &str) -> (Vec<u8>, Vec<u8>) {
    let mut headers = Vec::new();
    if !charset_ct.is_empty() {
        push_line(&mut headers, &format!("Content-Type: {charset_ct}"));
    }
    let body = recode(body, charset_ct);
    match rng.below(4) {
        0 => {
            push_line(&mut headers, "Content-Transfer-Encoding: base64");
            (headers, encode_b64(&body))
        }
        1 => {
            push_line(&mut headers, "Content-Transfer-Encoding: quoted-printable");
            (headers, encode_qp(&body, rng))
        }
        2 => {
            push_line(&mut headers, "Content-Transfer-Encoding: 8bit");
            (headers, body)
        }
        _ => (headers, body),
    }
}

/// A random but plausible patch mail built from the pieces above.
pub fn generate_mail(rng: &mut Rng) -> Vec<u8> {
    let mut mail = Vec::new();
    if rng.chance(70) {
        push_line(
            &mut mail,
            "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001",
        );
    }
    if rng.chance(90) {
        push_line(&mut mail, &format!("From: {}", rng.pick::<&str>(FROMS)));
    }
    if rng.chance(95) {
        push_line(&mut mail, &format!("Subject: {}", rng.pick(SUBJECTS)));
    }
    if rng.chance(80) {
        push_line(&mut mail, "Date: Mon, 17 Sep 2001 00:00:00 +0900");
    }
    if rng.chance(30) {
        push_line(&mut mail, "Message-ID: <20010917.1234@example.com>");
    }
    if rng.chance(10) {
        push_line(&mut mail, "Subject: a second subject header");
    }

    let mut body = Vec::new();
    body.extend_from_slice(rng.pick(BODY_STARTS).as_bytes());
    for _ in 0..rng.below(8) {
        push_line(&mut body, rng.pick::<&str>(MESSAGE_LINES));
    }
    body.extend_from_slice(rng.pick(PATCHES).as_bytes());
    if rng.chance(10) {
        // CRLF line endings, as a raw (not mailsplit) mail would have them.
        let mut crlf = Vec::new();
        for line in body.split_inclusive(|&c| c == b'\n') {
            match line.strip_suffix(b"\n") {
                Some(l) => {
                    crlf.extend_from_slice(l);
                    crlf.extend_from_slice(b"\r\n");
                }
                None => crlf.extend_from_slice(line),
            }
        }
        body = crlf;
    }

    let ct = *rng.pick(CONTENT_TYPES);
    match rng.below(6) {
        0 => {
            // multipart: text part plus the patch as an attachment, sometimes nested.
            let boundary = if rng.chance(50) { "=-=-=" } else { "b1_xyz" };
            push_line(&mut mail, "MIME-Version: 1.0");
            push_line(
                &mut mail,
                &format!("Content-Type: multipart/mixed; boundary=\"{boundary}\""),
            );
            push_line(&mut mail, "");
            push_line(&mut mail, "This is a multi-part message in MIME format.");
            push_line(&mut mail, &format!("--{boundary}"));
            let split = body.len() / 2;
            let (h, b) = text_part(rng, &body[..split], ct);
            mail.extend_from_slice(&h);
            push_line(&mut mail, "");
            mail.extend_from_slice(&b);
            if rng.chance(30) {
                push_line(&mut mail, &format!("--{boundary}"));
                push_line(
                    &mut mail,
                    "Content-Type: multipart/alternative; boundary=inner",
                );
                push_line(&mut mail, "");
                push_line(&mut mail, "--inner");
                let (h, b) = text_part(rng, b"inner text\n", "text/plain");
                mail.extend_from_slice(&h);
                push_line(&mut mail, "");
                mail.extend_from_slice(&b);
                push_line(&mut mail, "--inner--");
            }
            push_line(&mut mail, &format!("--{boundary}"));
            push_line(&mut mail, "Content-Type: text/x-patch; name=\"fix.patch\"");
            let (h, b) = text_part(rng, &body[split..], "");
            mail.extend_from_slice(&h);
            push_line(
                &mut mail,
                "Content-Disposition: attachment; filename=\"fix.patch\"",
            );
            push_line(&mut mail, "");
            mail.extend_from_slice(&b);
            if rng.chance(80) {
                push_line(&mut mail, &format!("--{boundary}--"));
            }
            if rng.chance(30) {
                push_line(&mut mail, "epilogue text");
            }
        }
        _ => {
            let (h, b) = text_part(rng, &body, ct);
            mail.extend_from_slice(&h);
            if rng.chance(95) {
                push_line(&mut mail, "");
            }
            mail.extend_from_slice(&b);
        }
    }
    mail
}

/// A random edit of `mail`: flipped, deleted, duplicated or inserted bytes and lines.
pub fn mutate(rng: &mut Rng, mail: &[u8]) -> Vec<u8> {
    let mut m = mail.to_vec();
    for _ in 0..1 + rng.below(4) {
        if m.is_empty() {
            m.push(b'x');
        }
        let at = rng.below(m.len());
        match rng.below(8) {
            0 => m[at] = (rng.next() & 0xff) as u8,
            1 => {
                let end = (at + 1 + rng.below(20)).min(m.len());
                m.drain(at..end);
            }
            2 => {
                let tokens: &[&[u8]] = &[
                    b"=?",
                    b"?=",
                    b"\n",
                    b"\n ",
                    b"\0",
                    b"\r\n",
                    b"--",
                    b"=",
                    b"[PATCH]",
                    b"<",
                    b">",
                    b"@",
                    b"\"",
                    b"(",
                    b")",
                    b"\\",
                    b"=?utf-8?q?",
                    b"=?utf-8?b?",
                    b"\n\n",
                    b"\ndiff --git a/x b/x\n",
                    b"\n-- >8 --\n",
                    b"\nFrom: x@y\n",
                    b"boundary=",
                    b"charset=",
                    b"format=flowed",
                    b"base64",
                    b"quoted-printable",
                    b"\xff\xfe",
                ];
                let t = rng.pick(tokens);
                m.splice(at..at, t.iter().copied());
            }
            3 => {
                let end = (at + rng.below(200)).min(m.len());
                let copy = m[at..end].to_vec();
                m.splice(at..at, copy);
            }
            4 => m.truncate(at),
            5 => m[at] = b' ',
            6 => m[at] = b'\n',
            _ => m[at] ^= 0x20,
        }
    }
    m
}

const CHAOS_HEADERS: &[&str] = &[
    "From: A U Thor <a@example.com>",
    "From: =?utf-8?q?Z=C3=BC?= <z@example.com>",
    "FROM:lower <l@example.com>",
    "Subject: [PATCH 2/3] chaos",
    "Subject: =?utf-8?b?w6k=?= =?utf-8?q?_x?=",
    "subject:\t tabs",
    "Date: Tue, 2 Jan 2024 10:00:00 +0100",
    "Message-ID: <chaos@example.com>",
    "Message-Id: =?utf-8?q?<encoded@id>?=",
    "Content-Type: multipart/mixed; boundary=\"XX\"",
    "Content-Type: multipart/mixed; boundary=XX",
    "Content-Type: multipart/alternative; boundary=YY",
    "Content-Type: text/plain; charset=iso-8859-1",
    "Content-Type: text/plain; charset=utf-8; format=flowed",
    "Content-Type: text/plain; format=flowed; delsp=yes; charset=\"windows-1252\"",
    "Content-Transfer-Encoding: base64",
    "Content-Transfer-Encoding: quoted-printable",
    "Content-Transfer-Encoding: 7bit",
    " folded continuation",
    "\tfolded with tab",
    "X-Weird: =?bad",
    "Not a header line",
    "",
];

const CHAOS_LINES: &[&str] = &[
    "",
    "--XX",
    "--XX--",
    "--XXtrailing",
    "--YY",
    "--YY--",
    "Content-Type: text/plain; charset=koi8-r",
    "Content-Type: text/plain; charset=utf-8; format=flowed",
    "Content-Transfer-Encoding: base64",
    "Content-Transfer-Encoding: quoted-printable",
    "From: Part Author <part@example.com>",
    "Subject: part subject",
    "Date: part date",
    "From: In Body <inbody@example.com>",
    "Subject: [PATCH] in body",
    " continued in-body header",
    "[PATCH] bracket",
    "-- >8 --",
    "  -- 8< -- cut -- 8< --",
    "message text",
    "caf\u{e9} latin",
    "flowed soft break ",
    " stuffed",
    "-- ",
    "---",
    "--- a/f",
    "+++ b/f",
    "diff --git a/f b/f",
    "Index: f",
    "@@ -1 +1 @@",
    "-old",
    "+new",
    "VGhpcyBpcyBiYXNlNjQK",
    "TWVzc2FnZQ==",
    "ZGlmZiAtLWdpdCBhL3ggYi94Cg==",
    "bm8gbmV3bGluZQ",
    "=C3=A9t=C3=A9=",
    "soft=",
    "=3D=0A=0D",
    "ends with cr\r",
    ">From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001",
    "From nobody Mon Sep 17 00:00:00 2001",
];

/// A mail strung together from interesting header and body lines, to explore how git's state
/// machine reacts to them in any order.
pub fn chaos_mail(rng: &mut Rng) -> Vec<u8> {
    let mut mail = Vec::new();
    for _ in 0..1 + rng.below(7) {
        push_line(&mut mail, rng.pick::<&str>(CHAOS_HEADERS));
    }
    if rng.chance(85) {
        push_line(&mut mail, "");
    }
    for _ in 0..rng.below(30) {
        push_line(&mut mail, rng.pick::<&str>(CHAOS_LINES));
    }
    if rng.chance(20) {
        mail.pop();
    }
    mail
}

//! Differential test: the real `git mailinfo` (when `git` is on PATH) and this crate on the same
//! mails with the same options must agree byte for byte on info, msg, patch, exit status and
//! standard error.
//!
//! Mails: git's t5100 corpus (split by the real `git mailsplit`), hand-written edge cases,
//! generated mails and mutated ones. `GAUNTLET_DIFF_ROUNDS=N` multiplies the generated share,
//! `GAUNTLET_DIFF_SEED=N` changes the random mails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{Rng, Scratch, corpus_dir, generate_mail, git_flags, git_mailinfo, git_mailsplit};
use gauntlet_mailinfo::corpus::diff;
use gauntlet_mailinfo::{Options, mailinfo};

/// Compares one run; `None` when identical.
fn compare(scratch: &Path, name: &str, mail: &[u8], opts: &Options) -> Option<String> {
    let ours = mailinfo(mail, opts);
    let git = git_mailinfo(scratch, mail, opts);
    let mut why = String::new();
    let info = String::from_utf8_lossy(&git.info);
    if ours.info_text() != info {
        why += &format!(
            "  info:\n{}",
            diff(info.as_bytes(), ours.info_text().as_bytes())
        );
    }
    if ours.message != git.msg {
        why += &format!("  msg:\n{}", diff(&git.msg, &ours.message));
    }
    if ours.patch != git.patch {
        why += &format!("  patch:\n{}", diff(&git.patch, &ours.patch));
    }
    if ours.failed != git.failed {
        why += &format!(
            "  exit status: git failed={}, ours {}\n",
            git.failed, ours.failed
        );
    }
    // git names the patch file in this one message.
    let git_err = String::from_utf8_lossy(&git.stderr).replace(
        &format!("error: empty patch: '{}'", scratch.join("patch").display()),
        "error: empty patch",
    );
    let our_err: String = ours.warnings.iter().map(|w| format!("{w}\n")).collect();
    if our_err != git_err {
        why += &format!("  stderr: git {git_err:?}, ours {our_err:?}\n");
    }
    if why.is_empty() {
        None
    } else {
        Some(format!(
            "{name} (git mailinfo {}):\n{why}  mail: {}\n",
            git_flags(opts).join(" "),
            mail.escape_ascii()
        ))
    }
}

/// Mails written by hand for behaviours worth pinning down.
const EDGE_CASES: &[&[u8]] = &[
    b"",
    b"  \n\t\n",
    b"From: A <a@b.c>\nSubject: x",
    b"From: A <a@b.c>\nSubject: no body\n",
    b"Subject:foo\nFrom:Real Name <user@example.com>\n\nbody\n",
    b"Subject :foo\n\nbody\n",
    b"From: A <a@b.c>\nSubject: a =?x b\n\nline1\n---\ndiff --git a/x b/x\n",
    b"From: =?utf-8?q?=00?= <a@b.c>\nSubject: =?utf-8?q?a=00b?=\n\nm\n---\np\n",
    b"From: A <a@b.c>\nSubject: x\nContent-Type: text/plain; charset=us-ascii\n\nl1\nl2 \xe9\nl3\n",
    b"From: A <a@b.c>\nSubject: x\nContent-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: multipart/mixed; boundary=d\n\n--d\nContent-Type: multipart/mixed; boundary=e\n\n--e\n\nbody\n---\ndiff --git a/x b/x\n",
    b"From: A <a@b.c>\nSubject: x\nContent-Type: multipart/mixed; boundary=zz\n\npreamble\n--zz\nSubject: part subject\nFrom: Part <p@q.r>\n\n[PATCH] hi\n\nmsg\n--zz\n\ndiff --git a/x b/x\n--zz--\nepilogue\n",
    b"From: A <a@b.c>\nSubject: x\nContent-Type: text/plain; format=flowed; delsp=yes\n\nfirst part of a \nflowed line\n \n>quoted \n-- \nsig\n",
    b"From: A <a@b.c>\nSubject: x\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogaW4gYm9keQoKYm9keQotLS0KZGlmZiAtLWdpdCBhL3ggYi94Cg\n",
    b"From: A <a@b.c>\nSubject: x\nContent-Transfer-Encoding: quoted-printable\n\nsoft=\nbreak=20\n=3D=3d=zz=\n---\n",
    b"From: A <a@b.c>\nSubject: x\n\nFrom: B <b@c.d>\n  continued\nDate: later\n\nmsg\n---\np\n",
    b"From: A <a@b.c>\nSubject: x\n\nFrom: B <b@c.d>\n\nmsg without patch\n",
    b"From: A <a@b.c>\nSubject: x\n\nSubject: first\nSubject: second\n\nmsg\ndiff -u a b\n",
    b"From: A <a@b.c>\nSubject: x\n\nmsg\n-- >8 --\nSubject: after scissors\n\nreal msg\n---\np\n",
    b"From: A <a@b.c>\nSubject: x\n\nFrom: early\n - - >8 - - cut - - >8 - -\nreal\n---\np\n",
    b"From: A <a@b.c>\nSubject: x\nMessage-ID: <m@x>\nMessage-Id: <second@x>\n\nmsg\n---\np\n",
    b"From: A <a@b.c>\nSubject: x\nMessage-ID: <m@x>\n\nmsg without patch\n",
    b"From: \"Quoted\" (c) <a@b.c> (Comment) (More)\nSubject: x\n\nm\n",
    b"From: a@b.c, c@d.e\nSubject: x\n\nm\n",
    b"From: <>\nSubject: x\n\nm\n",
    b"From: ()\nSubject: x\n\nm\n",
    b"From: Foo Bar <foo@bar\nSubject: x\n\nm\n",
    b"From: (unterminated comment <a@b.c>\nSubject: x\n\nm\n",
    b"From: \"unterminated quote <a@b.c>\nSubject: x\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?utf-8?q?a?==?utf-8?q?b?= =?utf-8?Q?c?=\t=?UTF-8?B?ZA==?=x\n\nm\n",
    b"From: A <a@b.c>\nSubject: =??q?a?= =?utf-8?x?b?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?utf-8?q?a\n\nm\n",
    b"From: A <a@b.c>\nSubject: [PATCH] =?iso-8859-1?q?caf=E9?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?iso-8859-9?q?=D0=DD=DE=F0=FD=FE?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?koi8-r?b?8NLJ18XU?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?shift_jis?b?k/qWe4zq?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?gb2312?b?xOO6ww==?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?big5?b?pKSk5Q==?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?euc-kr?b?x9GxuQ==?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?euc-jp?b?xvzL3Ljs?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?latin1?q?=A4?= =?iso8859-15?q?=A4?= =?ISO_8859-1?q?=A4?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?utf-7?q?a?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: =?UTF8?q?=C3=A9?= =?utf-8*en?q?x?=\n\nm\n",
    b"From: A <a@b.c>\nSubject: x\nContent-Type: text/plain; charset=iso-8859-1\n\ncaf\xe9\n---\n\xe9 stays\n",
    b"From: A <a@b.c>\nSubject: raw \xe9 latin1 header\n\nm\n",
    b">From: A <a@b.c>\nSubject: x\n\nm\n",
    b"From A Mon Sep 17 00:00:00 2001\n continued envelope\nSubject: x\n\nm\n",
    b"Subject: x\nFrom: A <a@b.c>\nno blank line body\nmore\n---\np\n",
    b"Subject: x\r\nFrom: A <a@b.c>\r\n\r\nbody\r\n---\r\npatch\r\n",
    b"From: A <a@b.c>\nSubject: x\n\n\n\n  \nmsg\n\n\n---\n",
    b"From: A <a@b.c>\nSubject: x\n\n>From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\nFrom: B <b@c.d>\n\nm\n---\np\n",
    b"From: A <a@b.c>\nSubject: x\n\n[PATCH]\tbody subject\n\nm\n---\np\n",
    b"From: A <a@b.c>\nSubject: [a][b] [PATCH] [c] re: d\n\nm\n",
    b"From: A <a@b.c>\nSubject: x\n\n---\t \nm\n",
    b"From: A <a@b.c>\nSubject: x\n\n---a\n--- \n",
    b"From: A <a@b.c>\nSubject: x\n\nIndex: foo\n",
    b"From: A <a@b.c>\nSubject: x\nContent-Type: text/plain; boundary=\"\"\n\n--\nbody\n",
];

#[test]
fn agrees_with_git_mailinfo() {
    if !common::have_git() {
        println!("SKIPPED: git is not on PATH");
        return;
    }
    let scratch = Scratch::new("diff");
    let mut failures = Vec::new();
    let mut runs = 0;
    let mut check = |name: &str, mail: &[u8], opts: &Options| {
        runs += 1;
        if let Some(f) = compare(&scratch.0, name, mail, opts) {
            failures.push(f);
        }
    };

    // The hand-written edge cases, with every option set.
    for (i, mail) in EDGE_CASES.iter().enumerate() {
        for opts in common::option_sets() {
            check(&format!("edge case {i}"), mail, &opts);
        }
    }

    // git's t5100 mails, split by git itself.
    let dir = corpus_dir();
    let mut corpus_mails = Vec::new();
    if dir.is_dir() {
        for (file, mboxrd) in [
            ("sample.mbox", false),
            ("rfc2047-samples.mbox", false),
            ("sample.mboxrd", true),
            ("quoted-cr.mbox", false),
        ] {
            for (i, mail) in git_mailsplit(&scratch.0, &dir.join(file), mboxrd)
                .into_iter()
                .enumerate()
            {
                corpus_mails.push((format!("{file} {:04}", i + 1), mail));
            }
        }
        for file in [
            "nul-plain",
            "nul-b64.in",
            "info-from.in",
            "embed-from.in",
            "quoted-from.in",
            "quoted-string.in",
            "comment.in",
        ] {
            corpus_mails.push((file.to_string(), std::fs::read(dir.join(file)).unwrap()));
        }
        for (name, mail) in &corpus_mails {
            for opts in common::option_sets() {
                check(name, mail, &opts);
            }
        }
    }

    // Real list traffic (public-inbox mboxrd), a sample unless GAUNTLET_DIFF_ROUNDS asks for
    // more: every mail is compared when rounds >= 20.
    let lore = dir.join("../lore/iouring-4k.mbox");
    if lore.is_file() {
        let rounds: usize = std::env::var("GAUNTLET_DIFF_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let step = (20 / rounds.max(1)).max(1);
        let sets = common::option_sets();
        for (i, mail) in git_mailsplit(&scratch.0, &lore, true)
            .iter()
            .enumerate()
            .step_by(step)
        {
            check(&format!("lore mail {}", i + 1), mail, &sets[i % sets.len()]);
        }
    }

    // Generated mails, and mutations of generated and corpus mails.
    let rounds: usize = std::env::var("GAUNTLET_DIFF_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let sets = common::option_sets();
    let seed = std::env::var("GAUNTLET_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let mut rng = Rng::new(seed);
    for i in 0..120 * rounds {
        let mail = generate_mail(&mut rng);
        let opts = rng.pick(&sets).clone();
        check(&format!("generated mail {i}"), &mail, &opts);
        let mutated = common::mutate(&mut rng, &mail);
        let opts = rng.pick(&sets).clone();
        check(&format!("mutated generated mail {i}"), &mutated, &opts);
    }
    for i in 0..300 * rounds {
        let mail = common::chaos_mail(&mut rng);
        let opts = rng.pick(&sets).clone();
        check(&format!("chaos mail {i}"), &mail, &opts);
    }
    if !corpus_mails.is_empty() {
        for i in 0..80 * rounds {
            let (name, mail) = rng.pick(&corpus_mails);
            let mutated = common::mutate(&mut rng, mail);
            let opts = rng.pick(&sets).clone();
            check(&format!("mutated {name} #{i}"), &mutated, &opts);
        }
    }

    println!("{runs} runs compared with git mailinfo");
    assert!(
        failures.is_empty(),
        "{} of {runs} runs differ from git mailinfo:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

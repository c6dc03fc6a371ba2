//! `mailinfo` must never panic and must stay linear, whatever the bytes: random data, mutated
//! mails, absurd encoded words, deep nesting, and 20 MB mails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Rng, chaos_mail, corpus_dir, generate_mail, mutate, option_sets};
use gauntlet_mailinfo::{Options, mailinfo};

/// Runs every option set on `mail`, checking a few invariants of the result.
fn run_all(mail: &[u8]) {
    for opts in option_sets() {
        let mi = mailinfo(mail, &opts);
        let _ = mi.info_text();
        // The message and the patch come from the mail: they cannot be much larger than it
        // (re-coding to UTF-8 at most triples a byte; a few lines are added).
        assert!(mi.message.len() + mi.patch.len() <= mail.len() * 3 + 64 + 4096);
        if mi.empty {
            assert!(mi.failed && mi.info_text().is_empty());
        }
    }
}

#[test]
fn random_bytes() {
    let mut rng = Rng::new(1);
    let alphabets: [&[u8]; 3] = [
        b"=?_QqBb-:<>@\"()\\[] \t\n\r\0\xc3\xa9\xffaZ09+/",
        b"From: Subject: Date: Content-Type: boundary= charset= base64 \n--\n\n",
        &[],
    ];
    for i in 0..3000 {
        let len = rng.below(if i % 10 == 0 { 20_000 } else { 600 });
        let alphabet = alphabets[i % 3];
        let mail: Vec<u8> = (0..len)
            .map(|_| {
                if alphabet.is_empty() {
                    (rng.next() & 0xff) as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        run_all(&mail);
    }
}

#[test]
fn mutated_mails() {
    let mut rng = Rng::new(2);
    let mut seeds: Vec<Vec<u8>> = (0..50).map(|_| generate_mail(&mut rng)).collect();
    seeds.extend((0..50).map(|_| chaos_mail(&mut rng)));
    let dir = corpus_dir();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if let Ok(bytes) = std::fs::read(e.path()) {
                seeds.push(bytes);
            }
        }
    }
    for _ in 0..3000 {
        let seed = rng.pick(&seeds).clone();
        let mut mail = mutate(&mut rng, &seed);
        for _ in 0..rng.below(4) {
            mail = mutate(&mut rng, &mail);
        }
        run_all(&mail);
    }
}

/// Must finish well within `limit` (generous: debug builds are slow).
fn timed(name: &str, mail: &[u8], limit: Duration) {
    let start = Instant::now();
    let opts = Options::default();
    let mi = mailinfo(mail, &opts);
    let _ = mi.info_text();
    let keep = Options {
        keep_subject: true,
        scissors: true,
        ..Options::default()
    };
    let _ = mailinfo(mail, &keep);
    let took = start.elapsed();
    println!("{name}: {took:?} for {} bytes", mail.len());
    assert!(took < limit, "{name}: {took:?} for {} bytes", mail.len());
}

fn repeat(head: &[u8], unit: &[u8], size: usize, tail: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(size + head.len() + tail.len());
    v.extend_from_slice(head);
    while v.len() < size {
        v.extend_from_slice(unit);
    }
    v.extend_from_slice(tail);
    v
}

const MB20: usize = 20 << 20;

#[test]
fn absurd_inputs() {
    let limit = Duration::from_secs(60);
    let h = b"From: A <a@b.c>\nSubject: x\n";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "many encoded-word starts",
            repeat(b"Subject: ", b"=?", 1 << 20, b"\n\nm\n"),
        ),
        (
            "many valid encoded words",
            repeat(b"Subject: ", b"=?utf-8?q?a_b?= ", 1 << 20, b"\n\nm\n"),
        ),
        (
            "huge encoded word",
            repeat(b"Subject: =?utf-8?b?", b"QUJD", 4 << 20, b"?=\n\nm\n"),
        ),
        (
            "unterminated encoded word",
            repeat(b"Subject: =?utf-8?q?", b"a", 4 << 20, b"\n\nm\n"),
        ),
        (
            "deep comments",
            repeat(b"From: ", b"(", 1 << 20, b"a@b.c\n\nm\n"),
        ),
        (
            "many quotes",
            repeat(b"From: ", b"\"\\", 1 << 20, b"a@b.c\n\nm\n"),
        ),
        (
            "many brackets",
            repeat(b"Subject: ", b"[", 1 << 20, b"\n\nm\n"),
        ),
        (
            "many bracket groups",
            repeat(b"Subject: ", b"[PATCH] re: ", 1 << 20, b"\n\nm\n"),
        ),
        ("many folds", repeat(h, b" folded\n", 2 << 20, b"\nm\n")),
        (
            "nested multiparts",
            repeat(
                b"Content-Type: multipart/mixed; boundary=a\n\n",
                b"--a\nContent-Type: multipart/mixed; boundary=a\n\n",
                1 << 20,
                b"--a\n\nbody\n",
            ),
        ),
        (
            "many parts",
            repeat(
                b"Content-Type: multipart/mixed; boundary=b\n\n",
                b"--b\nContent-Transfer-Encoding: base64\n\nYQ==\n",
                2 << 20,
                b"--b--\n",
            ),
        ),
        (
            "many in-body headers",
            repeat(h, b"\nFrom: x\n Subject: y\n", 2 << 20, b""),
        ),
        (
            "scissors everywhere",
            repeat(h, b"\n-- >8 --\nFrom: x\n", 2 << 20, b""),
        ),
        (
            "huge charset name",
            repeat(b"Subject: =?", b"x", 1 << 20, b"?q?a?=\n\nm\n"),
        ),
        ("only whitespace", repeat(b"", b" \t\n\r", MB20, b"")),
        // 4 M empty lines (20 M takes long in debug builds).
        (
            "only newlines after headers",
            repeat(h, b"\n", 4 << 20, b""),
        ),
        (
            "20 MB plain patch",
            repeat(
                b"From: A <a@b.c>\nSubject: [PATCH] big\n\nmsg\n---\ndiff --git a/x b/x\n",
                b"+a line of the patch that is fairly ordinary\n",
                MB20,
                b"",
            ),
        ),
        (
            "20 MB base64 without newlines",
            repeat(
                b"From: A <a@b.c>\nContent-Transfer-Encoding: base64\n\n",
                b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2\n",
                MB20,
                b"",
            ),
        ),
        (
            "20 MB quoted-printable soft breaks",
            repeat(
                b"From: A <a@b.c>\nContent-Transfer-Encoding: quoted-printable\n\n",
                b"abcdefghijklmnopqrstuvwxyz=3D=\n",
                MB20,
                b"\n",
            ),
        ),
        (
            "20 MB flowed text",
            repeat(
                b"From: A <a@b.c>\nContent-Type: text/plain; format=flowed\n\n",
                b"a flowed line that goes on \n",
                MB20,
                b"end\n",
            ),
        ),
        (
            "8 MB latin-1 body",
            repeat(
                b"From: A <a@b.c>\nContent-Type: text/plain; charset=iso-8859-1\n\n",
                b"caf\xe9 cr\xe8me br\xfbl\xe9e\n",
                8 << 20,
                b"",
            ),
        ),
        (
            "20 MB header line",
            repeat(b"Subject: ", b"Re: x ", MB20, b"\n\nm\n"),
        ),
        ("20 MB single line", repeat(b"", b"x", MB20, b"")),
    ];
    // format=flowed inside base64: git puts the waiting flowed text in front of every new
    // decoded chunk and unstuffs its first byte; many leading spaces must not make it slow.
    let mut flowed = repeat(b"", b" ", 4 << 20, b"x \n");
    flowed.extend(repeat(b"", b"y \n", 4 << 20, b"end\n"));
    let mut mail =
        b"From: A <a@b.c>\nContent-Type: text/plain; format=flowed\nContent-Transfer-Encoding: base64\n\n"
            .to_vec();
    mail.extend(common::encode_b64(&flowed));
    let mut cases = cases;
    cases.push(("flowed base64", mail));
    for (name, mail) in &cases {
        timed(name, mail, limit);
    }
}

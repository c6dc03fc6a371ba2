//! `gauntlet_mail::parse` on whole mails, as lists deliver them.
#![allow(clippy::unwrap_used)]

use gauntlet_mail::{Defect, ParseOptions, TrailerKind, parse};

const FORWARDED: &[u8] = b"From: Maintainer <maint@example.org>\n\
To: list@vger.kernel.org\n\
Cc: \"Axboe, Jens\" <axboe@kernel.dk>, =?UTF-8?Q?J=C3=B6rg?= <joerg@example.com>, team: a@x.org, b@x.org;\n\
Subject: [PATCH v3 2/5] io_uring: fix short reads\n\
Date: Tue, 2 Jan 2024 10:00:00 +0100\n\
Message-ID: <20240102090000.1-3@example.org>\n\
In-Reply-To: <20240102090000.1-1@example.org>\n\
References: <20240102090000.1-1@example.org>\n\
List-Id: <io-uring.vger.kernel.org>\n\
List-Post: <mailto:io-uring@vger.kernel.org>\n\
\n\
From: Zo\xc3\xab M\xc3\xbcller <zoe@example.com>\n\
\n\
Revert the iterator before retrying.\n\
\n\
Fixes: 0123456789ab (\"io_uring/rw: retry short reads\")\n\
Reported-by: Kenji Tanaka <kenji@example.org>\n\
Signed-off-by: Zo\xc3\xab M\xc3\xbcller <zoe@example.com>\n\
Signed-off-by: Maintainer <maint@example.org>\n\
---\n\
 io_uring/rw.c | 2 +-\n\
\n\
diff --git a/io_uring/rw.c b/io_uring/rw.c\n\
--- a/io_uring/rw.c\n\
+++ b/io_uring/rw.c\n\
@@ -1 +1 @@\n\
-a\n\
+b\n\
\n\
base-commit: 0123456789abcdef0123456789abcdef01234567\n\
prerequisite-patch-id: fedcba9876543210fedcba9876543210fedcba98\n\
-- \n\
2.43.0\n";

#[test]
fn a_forwarded_patch_read_both_ways() {
    let m = parse(FORWARDED, &ParseOptions::default());
    assert_eq!(m.defect, None);
    assert_eq!(m.message_id, "<20240102090000.1-3@example.org>");
    assert_eq!(m.name, "[v3,2/5] io_uring: fix short reads");
    assert_eq!((m.marker, m.version), (Some((2, 5)), 3));
    assert_eq!(m.refs, vec!["<20240102090000.1-1@example.org>"]);
    assert_eq!(m.list_id.as_deref(), Some("io-uring.vger.kernel.org"));
    assert_eq!(m.list_post.as_deref(), Some("io-uring@vger.kernel.org"));
    assert_eq!(m.date, Some(1_704_186_000));
    // Patchwork's submitter is the sender; git's author is the in-body From.
    assert_eq!(m.submitter.as_ref().unwrap().email, "maint@example.org");
    let commit = m.commit.as_ref().unwrap();
    assert_eq!(commit.author.email, "zoe@example.com");
    assert_eq!(commit.author.name.as_deref(), Some("Zoë Müller"));
    assert_eq!(commit.subject, "io_uring: fix short reads");
    assert!(commit.message.starts_with("Revert the iterator"));
    // Trailers, typed.
    let kinds: Vec<&TrailerKind> = m.trailers.iter().map(|t| &t.kind).collect();
    assert_eq!(
        kinds,
        vec![
            &TrailerKind::Fixes,
            &TrailerKind::ReportedBy,
            &TrailerKind::SignedOffBy,
            &TrailerKind::SignedOffBy
        ]
    );
    assert_eq!(
        m.trailers[0].fixes(),
        Some(("0123456789ab", Some("io_uring/rw: retry short reads")))
    );
    assert_eq!(
        m.trailers[2].person.as_ref().unwrap().email,
        "zoe@example.com"
    );
    // Tags after the diff.
    assert_eq!(
        m.base_commit.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(m.prerequisite_patch_ids.len(), 1);
    // The diff and its hash; the message keeps the diffstat, not the signature.
    assert!(m.diff().unwrap().starts_with("diff --git a/io_uring/rw.c"));
    assert_eq!(m.hash.as_deref().map(str::len), Some(40));
    assert!(!m.content.message.contains("2.43.0"));
    // Addresses, groups and encoded names included.
    let cc: Vec<&str> = m.cc.iter().map(|p| p.email.as_str()).collect();
    assert_eq!(
        cc,
        vec!["axboe@kernel.dk", "joerg@example.com", "a@x.org", "b@x.org"]
    );
    assert_eq!(m.cc[1].name.as_deref(), Some("Jörg"));
    assert_eq!(m.to[0].email, "list@vger.kernel.org");
}

#[test]
fn dmarc_rewritten_from_is_undone() {
    let mail = b"From: 'Zoe' via Kernel Course <course@lists.example.edu>\n\
Reply-To: Zoe <zoe@student.example.edu>\n\
Subject: [PATCH] x\n\
Message-Id: <dmarc@x>\n\
List-Post: <mailto:course@lists.example.edu>\n\
\n\
x\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n";
    let m = parse(mail, &ParseOptions::default());
    let p = m.submitter.unwrap();
    assert_eq!(p.email, "zoe@student.example.edu");
    assert_eq!(p.name.as_deref(), Some("Zoe"));
}

#[test]
fn pull_requests_and_defects() {
    let pull = b"From: M <m@example.org>\nSubject: [GIT PULL] fixes\nMessage-Id: <p@x>\n\n\
The following changes since commit 0123456789abcdef0123456789abcdef01234567:\n\n  \
Linux 6.8 (2024-03-10)\n\nare available in the git repository at:\n\n  \
https://git.example.org/x.git tags/fixes\n\nfor you to fetch changes up to abc:\n";
    let m = parse(pull, &ParseOptions::default());
    assert!(m.is_patch());
    assert_eq!(
        m.pull_url.as_deref(),
        Some("https://git.example.org/x.git tags/fixes")
    );

    let m = parse(b"Subject: x\n\nbody\n", &ParseOptions::default());
    assert_eq!(m.defect, Some(Defect::MissingFrom));
    assert!(m.message_id_synthesized);
    let m = parse(b"From: a@b.c\n\nbody\n", &ParseOptions::default());
    assert_eq!(m.defect, Some(Defect::MissingSubject));
    let m = parse(
        b"From: nobody\nSubject: x\n\nbody\n",
        &ParseOptions::default(),
    );
    assert!(m.submitter.is_err());
}

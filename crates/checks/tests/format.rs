//! `subject`, `commit-message`, `series`, `whitespace`, `diff-sanity` on realistic mails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Patch, Posting, cover, one_line_diff, series_types, types};
use gauntlet_checks::{Location, Target};
use gauntlet_verdict::Status;

const ME: &str = "Jane Developer <jane@example.org>";

fn one(p: &Patch, check: &str) -> (Status, Vec<String>) {
    let report = Posting::of(std::slice::from_ref(p)).check();
    let r = report.result(check, &Target::Patch { index: 0 }).unwrap();
    (r.status, types(&report, check, 0))
}

#[test]
fn subjects() {
    assert_eq!(one(&Patch::good(ME), "subject"), (Status::Pass, vec![]));
    let cases: &[(&str, &[&str], Status)] = &[
        (
            "Fix the crash in do_sys_thing",
            &["no-subsystem"],
            Status::Pass,
        ),
        (
            "kernel/sys: fix the crash.",
            &["trailing-period"],
            Status::Pass,
        ),
        ("net:", &["empty-summary"], Status::Fail),
        (
            "kernel/sys: make do_sys_thing() return early when no flag at all is set in the mask",
            &["too-long"],
            Status::Pass,
        ),
        ("Fwd: kernel/sys: fix", &["mangled"], Status::Pass),
        // git strips every leading [...] group: nothing is left of a doubled tag.
        ("[PATCH] [PATCH v2] kernel/sys: fix", &[], Status::Pass),
        ("[RFC] kernel/sys: fix", &["no-patch-tag"], Status::Pass),
        (r#"Revert "kernel/sys: return early""#, &[], Status::Pass),
    ];
    for (subject, want, status) in cases {
        let mut p = Patch::good(ME);
        p.subject = subject.to_string();
        let (s, kinds) = one(&p, "subject");
        assert_eq!(kinds, *want, "{subject}");
        assert_eq!(s, *status, "{subject}");
    }
}

#[test]
fn subject_location_is_the_subject_header() {
    let mut p = Patch::good(ME);
    p.subject = "kernel/sys: fix the crash.".into();
    let report = Posting::of(&[p]).check();
    let f = &report
        .result("subject", &Target::Patch { index: 0 })
        .unwrap()
        .findings[0];
    assert_eq!(f.location, Location::mail(Some(3)));
    assert_eq!(
        f.snippet.as_deref(),
        Some("Subject: [PATCH] kernel/sys: fix the crash.")
    );
}

#[test]
fn numbering_and_versions_across_the_series() {
    let good = |x| Patch::good(ME).numbered(x, 3).version(2);
    let mut raws = vec![cover(ME, 3, 2, "kernel/sys: faster thing", "Three steps.")];
    raws.extend([good(1).bytes(), good(2).version(3).bytes(), good(3).bytes()]);
    let report = Posting::new(raws).check();
    assert_eq!(types(&report, "subject", 1), vec!["version-mismatch"]);
    assert_eq!(series_types(&report, "series"), vec!["mixed-versions"]);
    let series = report.result("series", &Target::Series).unwrap();
    assert!(
        series.summary.contains("v2 (0, 1, 3), v3 (2)"),
        "{}",
        series.summary
    );

    // An unnumbered patch in a series of several.
    let raws = vec![good(1).bytes(), Patch::good(ME).version(2).bytes()];
    let report = Posting::new(raws).check();
    assert_eq!(types(&report, "subject", 1), vec!["no-number"]);
}

#[test]
fn series_holes_duplicates_and_cover() {
    let p = |x, n| Patch::good(ME).numbered(x, n).bytes();
    let full = Posting::new(vec![
        cover(ME, 3, 1, "kernel/sys: faster", "Why."),
        p(1, 3),
        p(2, 3),
        p(3, 3),
    ]);
    let report = full.check();
    let r = report.result("series", &Target::Series).unwrap();
    assert_eq!(
        (r.status, r.summary.as_str()),
        (Status::Pass, "3 patches of 3, cover letter, v1")
    );

    let holes = Posting::new(vec![
        cover(ME, 5, 1, "x: y", "Why."),
        p(1, 5),
        p(3, 5),
        p(3, 5),
        p(5, 5),
    ]);
    let report = holes.check();
    assert_eq!(
        series_types(&report, "series"),
        vec!["missing-patch", "duplicate-number"]
    );
    let r = report.result("series", &Target::Series).unwrap();
    assert_eq!(r.status, Status::Fail);
    assert!(
        r.findings[0]
            .message
            .contains("2 patches of 5 missing: 2 and 4"),
        "{}",
        r.findings[0].message
    );

    let no_cover = Posting::new(vec![p(1, 2), p(2, 2)]);
    assert_eq!(
        series_types(&no_cover.check(), "series"),
        vec!["no-cover-letter"]
    );

    let template = Posting::new(vec![
        cover(ME, 2, 1, "*** SUBJECT HERE ***", "*** BLURB HERE ***"),
        p(1, 2),
        p(2, 2),
    ]);
    assert_eq!(
        series_types(&template.check(), "series"),
        vec!["cover-template"]
    );

    let inconsistent = Posting::new(vec![cover(ME, 2, 1, "x: y", "Why."), p(1, 2), p(2, 3)]);
    let kinds = series_types(&inconsistent.check(), "series");
    assert_eq!(kinds, vec!["inconsistent-total"]);

    // One patch alone needs nothing.
    let single = Posting::of(&[Patch::good(ME)]);
    assert_eq!(
        series_types(&single.check(), "series"),
        Vec::<String>::new()
    );
}

#[test]
fn commit_messages() {
    assert_eq!(
        one(&Patch::good(ME), "commit-message"),
        (Status::Pass, vec![])
    );
    let mut p = Patch::good(ME);
    p.message = format!("Signed-off-by: {ME}\n");
    assert_eq!(
        one(&p, "commit-message"),
        (Status::Fail, vec!["no-body".into()])
    );
    p.message = format!(
        "This sentence is far too long for a commit message because nobody wrapped it at all.\n  Quoted: a log line that is long and must not be wrapped, ever, by anybody at all.\nLink: https://lore.kernel.org/all/20261201100000.4242-1-someone-with-a-long-address@example.org/\n\nChange-Id: I0123456789abcdef0123456789abcdef01234567\nSigned-off-by: {ME}\n"
    );
    let (s, kinds) = one(&p, "commit-message");
    assert_eq!(s, Status::Fail);
    assert_eq!(kinds, vec!["long-line", "change-id"]);
}

#[test]
fn whitespace_in_added_lines_with_new_file_lines() {
    let diff = "diff --git a/kernel/sys.c b/kernel/sys.c\nindex 1234567..89abcde 100644\n--- a/kernel/sys.c\n+++ b/kernel/sys.c\n@@ -120,6 +120,9 @@ static int f(void)\n \tint a;\n \tint b;\n \tint c;\n+\tint trailing;  \n+ \tint space_before_tab;\n+\tint dos;\r\n \tint d;\n \tint e;\n \tint f;\ndiff --git a/lib/new.c b/lib/new.c\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/lib/new.c\n@@ -0,0 +1,3 @@\n+int x;\n+\n+int y;\n\\ No newline at end of file\n";
    let mut p = Patch::good(ME);
    p.diff = diff.to_string();
    let raw = p.bytes();
    let report = Posting::new(vec![raw.clone()]).check();
    let r = report
        .result("whitespace", &Target::Patch { index: 0 })
        .unwrap();
    assert_eq!(r.status, Status::Fail);
    let kinds: Vec<&str> = r.findings.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "trailing-whitespace",
            "space-before-tab",
            "crlf",
            "no-newline-at-eof"
        ]
    );
    let f = &r.findings[0];
    assert_eq!(f.location.file.as_deref(), Some("kernel/sys.c"));
    assert_eq!(f.location.line, Some(123));
    let text = String::from_utf8_lossy(&raw);
    let mail_line = f.location.patch_line.unwrap() as usize;
    assert_eq!(text.lines().nth(mail_line - 1), Some("+\tint trailing;  "));
    assert_eq!(f.snippet.as_deref(), Some("+\tint trailing;  "));
    let eof = &r.findings[3];
    assert_eq!(
        (eof.location.file.as_deref(), eof.location.line),
        (Some("lib/new.c"), Some(3))
    );
    let human = gauntlet_checks::render_human(&report, false);
    assert!(
        human.contains(&format!(
            "--> kernel/sys.c:123 ({}:{mail_line})",
            report.series.patches[0].label
        )),
        "{human}"
    );

    // A whole mail in CRLF is a transport artefact: noted, not an error.
    let crlf: Vec<u8> = String::from_utf8(Patch::good(ME).bytes())
        .unwrap()
        .replace('\n', "\r\n")
        .into_bytes();
    let report = Posting::new(vec![crlf]).check();
    let r = report
        .result("whitespace", &Target::Patch { index: 0 })
        .unwrap();
    assert_eq!(r.status, Status::Pass);
    assert_eq!(types(&report, "whitespace", 0), vec!["crlf-mail"]);
}

#[test]
fn blank_line_at_end_of_file() {
    let mut p = Patch::good(ME);
    p.diff = "diff --git a/lib/x.c b/lib/x.c\n--- a/lib/x.c\n+++ b/lib/x.c\n@@ -8,3 +8,4 @@\n a\n b\n c\n+\n".into();
    assert_eq!(
        one(&p, "whitespace"),
        (Status::Pass, vec!["blank-line-at-eof".into()])
    );
    p.diff = "diff --git a/lib/x.c b/lib/x.c\n--- a/lib/x.c\n+++ b/lib/x.c\n@@ -8,3 +8,4 @@\n a\n+\n b\n c\n".into();
    assert_eq!(one(&p, "whitespace"), (Status::Pass, vec![]));
}

#[test]
fn diff_sanity() {
    assert_eq!(one(&Patch::good(ME), "diff-sanity"), (Status::Pass, vec![]));
    let bad = [
        (
            "diff --git a/../etc/passwd b/../etc/passwd\n--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n",
            vec!["bad-path", "bad-path"],
        ),
        (
            "diff --git a/.git/hooks/post-checkout b/.git/hooks/post-checkout\nnew file mode 100755\n--- /dev/null\n+++ b/.git/hooks/post-checkout\n@@ -0,0 +1 @@\n+rm -rf /\n",
            vec!["bad-path"],
        ),
        (
            "diff --git a/fw.bin b/fw.bin\nnew file mode 100644\nindex 0000000..1111111\nGIT binary patch\nliteral 3\nKcmZ?l\n\nliteral 0\nHcmV?d00001\n\n",
            vec!["binary"],
        ),
        (
            "diff --git a/fw.bin b/fw.bin\nindex 1111111..2222222 100644\nBinary files a/fw.bin and b/fw.bin differ\n",
            vec!["binary-without-data"],
        ),
        (
            "diff --git a/kernel/sys.c b/kernel/sys.c\n--- a/kernel/sys.c\n+++ b/kernel/sys.c\n@@ -1,3 +1,3 @@\n a\n-b\n+a line that the mailer\nwrapped here\n c\n",
            vec!["corrupt-hunk"],
        ),
        (
            "diff --git a/drivers/x.c b/drivers/x.c\nold mode 100644\nnew mode 100755\n",
            vec!["executable-source"],
        ),
    ];
    for (diff, want) in bad {
        let mut p = Patch::good(ME);
        p.diff = diff.to_string();
        let (_, kinds) = one(&p, "diff-sanity");
        assert_eq!(kinds, want, "{diff}");
    }
}

#[test]
fn project_options_tune_checks() {
    use gauntlet_project::{CheckEntry, CheckSettings, Location as At, OptionValue};
    let mut entries = indexmap::IndexMap::new();
    let mut subject = CheckSettings::default();
    subject
        .options
        .insert("max-length".into(), OptionValue::Int(30));
    subject
        .types
        .insert("trailing-period".into(), gauntlet_verdict::Severity::Error);
    entries.insert(
        "subject".to_string(),
        CheckEntry {
            settings: subject,
            at: At::new(std::path::Path::new("p.yaml"), 4, 3),
        },
    );
    let mut ws = CheckSettings::default();
    ws.ignore.push("trailing-whitespace".into());
    entries.insert(
        "whitespace".to_string(),
        CheckEntry {
            settings: ws,
            at: At::new(std::path::Path::new("p.yaml"), 9, 3),
        },
    );
    let configured = gauntlet_checks::Registry::builtin()
        .configure(&entries)
        .unwrap();
    let mut p = Patch::good(ME);
    p.subject = "kernel/sys: return early when nothing is set.".into();
    p.diff = one_line_diff("kernel/sys.c", 50, "\tx;", "\ty;   ");
    let posting = Posting::of(&[p]);
    let report = posting.check_with(&configured, &gauntlet_checks::Context::new());
    assert_eq!(
        types(&report, "subject", 0),
        vec!["too-long", "trailing-period"]
    );
    assert_eq!(
        report
            .result("subject", &Target::Patch { index: 0 })
            .unwrap()
            .status,
        Status::Fail
    );
    let ws = report
        .result("whitespace", &Target::Patch { index: 0 })
        .unwrap();
    assert_eq!((ws.status, ws.findings.len()), (Status::Pass, 0));
}

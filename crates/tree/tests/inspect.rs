//! Every refusal of the inspection, on mails as authors send them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fixture, git, mail};
use gauntlet_tree::{InspectLimits, Patch, ProblemKind, inspect};

fn one(subject: &str, diff: &str) -> Vec<Patch> {
    vec![Patch::new(1, subject, mail(subject, diff))]
}

fn refused(patches: &[Patch], limits: &InspectLimits) -> Vec<(u32, Option<String>, ProblemKind)> {
    match inspect(patches, limits) {
        Ok(()) => Vec::new(),
        Err(refusal) => refusal
            .problems
            .into_iter()
            .map(|p| (p.patch.number, p.path, p.kind))
            .collect(),
    }
}

fn kinds(diff: &str) -> Vec<(Option<String>, ProblemKind)> {
    refused(&one("x", diff), &InspectLimits::default())
        .into_iter()
        .map(|(_, path, kind)| (path, kind))
        .collect()
}

fn edit(old: &str, new: &str) -> String {
    format!(
        "diff --git {old} {new}\nindex 1111111..2222222 100644\n--- {old}\n+++ {new}\n\
         @@ -1 +1 @@\n-a\n+b\n"
    )
}

#[test]
fn ordinary_patches_pass() {
    assert!(kinds(&edit("a/src/main.c", "b/src/main.c")).is_empty());
    // Names that merely contain dots or `git`.
    assert!(kinds(&edit("a/..foo/x.git", "b/..foo/x.git")).is_empty());
    assert!(kinds(&edit("a/.gitignore", "b/.gitignore")).is_empty());
    assert!(kinds(&edit("a/tools/.github/x", "b/tools/.github/x")).is_empty());
    // A removed line that looks like a header is hunk content, not a path.
    let diff = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1 @@\n--- /etc/passwd\n ctx\n";
    assert!(kinds(diff).is_empty());
    // A link inside the tree.
    let link = "diff --git a/a/b/l b/a/b/l\nnew file mode 120000\nindex 0000000..1111111\n\
                --- /dev/null\n+++ b/a/b/l\n@@ -0,0 +1 @@\n+../c/d\n\\ No newline at end of file\n";
    assert!(kinds(link).is_empty());
}

#[test]
fn parent_directory_components_are_refused() {
    let found = kinds(&edit("a/../../etc/passwd", "b/../../etc/passwd"));
    assert_eq!(
        found,
        [(
            Some("../../etc/passwd".to_string()),
            ProblemKind::ParentDirectory
        )]
    );
    let found = kinds(&edit("a/src/../../x", "b/src/../../x"));
    assert_eq!(found[0].1, ProblemKind::ParentDirectory);
    // In a rename, too.
    let rename = "diff --git a/x b/y\nsimilarity index 100%\nrename from x\nrename to ../y\n";
    assert_eq!(
        kinds(rename),
        [(Some("../y".to_string()), ProblemKind::ParentDirectory)]
    );
    // And in a traditional diff (no `diff --git`), which `git apply` also takes.
    let traditional = "--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n";
    assert_eq!(kinds(traditional)[0].1, ProblemKind::ParentDirectory);
    // Quoted names are unquoted first.
    let quoted = edit(r#""a/\056\056/x""#, r#""b/\056\056/x""#);
    assert_eq!(kinds(&quoted)[0].1, ProblemKind::ParentDirectory);
}

#[test]
fn absolute_paths_are_refused() {
    let found = kinds(&edit("a//etc/passwd", "b//etc/passwd"));
    assert_eq!(found[0].1, ProblemKind::AbsolutePath);
    let traditional = "--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n";
    assert_eq!(
        kinds(traditional),
        [(Some("/etc/passwd".to_string()), ProblemKind::AbsolutePath)]
    );
    let copy = "diff --git a/x b/y\nsimilarity index 100%\ncopy from x\ncopy to /tmp/y\n";
    assert_eq!(kinds(copy)[0].1, ProblemKind::AbsolutePath);
}

#[test]
fn paths_into_dot_git_are_refused_in_any_case() {
    for name in [".git/config", ".GIT/hooks/pre-commit", "sub/.Git/x"] {
        let found = kinds(&edit(&format!("a/{name}"), &format!("b/{name}")));
        assert_eq!(
            found,
            [(Some(name.to_string()), ProblemKind::GitDirectory)],
            "{name}"
        );
    }
}

#[test]
fn symbolic_links_out_of_the_tree_are_refused() {
    let link = |path: &str, header: &str, target: &str| {
        format!(
            "diff --git a/{path} b/{path}\n{header}\n--- a/{path}\n+++ b/{path}\n\
             @@ -1 +1 @@\n-old\n\\ No newline at end of file\n+{target}\n\
             \\ No newline at end of file\n"
        )
    };
    let cases = [
        (
            "new",
            "new file mode 120000\nindex 0000000..1111111",
            "/etc/passwd",
        ),
        (
            "a/b/up",
            "new file mode 120000\nindex 0000000..1111111",
            "../../../x",
        ),
        ("changed", "index 1111111..2222222 120000", "../outside"),
        ("retyped", "old mode 100644\nnew mode 120000", "/"),
        ("sneaky", "new file mode 120000", "./a/../../b"),
        ("intogit", "new file mode 120000", ".git/config"),
    ];
    for (path, header, target) in cases {
        assert_eq!(
            kinds(&link(path, header, target)),
            [(Some(path.to_string()), ProblemKind::SymlinkOutside)],
            "{path} -> {target}"
        );
    }
    // A regular file whose content looks like a path is no link.
    assert!(
        kinds(&link(
            "file",
            "index 1111111..2222222 100644",
            "/etc/passwd"
        ))
        .is_empty()
    );
}

#[test]
fn encoded_mails_are_inspected_decoded() {
    // The diff in a quoted-printable body: the inspection sees what git am will apply.
    let mail = "From: A <a@example.com>\nSubject: [PATCH] qp\nMIME-Version: 1.0\n\
                Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n\
                qp\n---\ndiff --git a/=2E=2E/x b/=2E=2E/x\n--- a/=2E=2E/x\n+++ b/=2E=2E/x\n\
                @@ -1 +1 @@\n-a\n+b\n";
    let found = refused(&[Patch::new(1, "qp", mail)], &InspectLimits::default());
    assert_eq!(found[0].2, ProblemKind::ParentDirectory);
}

#[test]
fn large_series_are_refused_at_the_patch_that_crosses_the_limit() {
    let patches: Vec<Patch> = (1..=3)
        .map(|n| Patch::new(n, format!("p{n}"), mail("p", &edit("a/x", "b/x"))))
        .collect();
    let one_size = patches[0].bytes.len() as u64;
    let limits = InspectLimits {
        series_size: one_size * 2 + 1,
        ..InspectLimits::default()
    };
    assert_eq!(
        refused(&patches, &limits),
        [(3, None, ProblemKind::SeriesTooLarge)]
    );
    let err = inspect(&patches, &limits).unwrap_err().to_string();
    assert!(
        err.starts_with("patch 3/3 \"p3\": the series reaches"),
        "{err}"
    );
}

#[test]
fn every_problem_is_listed_with_its_patch() {
    let patches = vec![
        Patch::new(1, "fine", mail("fine", &edit("a/x", "b/x"))),
        Patch::new(2, "bad", mail("bad", &edit("a/.git/x", "b/.git/x"))),
        Patch::new(3, "worse", mail("worse", &edit("a/../y", "b/../y"))),
    ];
    let found = refused(&patches, &InspectLimits::default());
    assert_eq!(
        found,
        [
            (2, Some(".git/x".to_string()), ProblemKind::GitDirectory),
            (3, Some("../y".to_string()), ProblemKind::ParentDirectory),
        ]
    );
    let text = inspect(&patches, &InspectLimits::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        text,
        "patch 2/3 \"bad\": .git/x: a path into .git\n\
         patch 3/3 \"worse\": ../y: a `..` component leads out of the tree"
    );
}

/// Deterministic bytes that do not compress (a linear congruential generator).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

#[test]
fn large_binaries_are_refused_literal_or_delta() {
    let fx = fixture();
    let work = fx.tmp.path().join("bin");
    git(
        fx.tmp.path(),
        &[
            "clone",
            "-q",
            fx.source.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    let big = noise(1_500_000, 7);
    std::fs::write(work.join("blob.bin"), &big).unwrap();
    git(&work, &["add", "blob.bin"]);
    git(&work, &["commit", "-q", "-m", "add blob"]);
    let mut changed = big.clone();
    changed[1000] ^= 0xff;
    std::fs::write(work.join("blob.bin"), &changed).unwrap();
    git(&work, &["commit", "-q", "-am", "change blob"]);
    std::fs::write(work.join("small.bin"), noise(1000, 3)).unwrap();
    git(&work, &["add", "small.bin"]);
    git(&work, &["commit", "-q", "-m", "small blob"]);
    let patch = |rev: &str| {
        let out = common::git_command(&work, &["format-patch", "--binary", "--stdout", "-1", rev])
            .output()
            .unwrap();
        out.stdout
    };
    let literal = patch("HEAD~2");
    let delta = patch("HEAD~1");
    let small = patch("HEAD");
    assert!(String::from_utf8_lossy(&literal).contains("\nliteral 1500000\n"));
    let delta_text = String::from_utf8_lossy(&delta);
    assert!(delta_text.contains("\ndelta "), "git chose a delta");
    assert!(delta.len() < 10_000, "the delta is small: {}", delta.len());

    let limits = InspectLimits::default();
    for (name, bytes) in [("literal", literal), ("delta", delta)] {
        assert_eq!(
            refused(&[Patch::new(1, name, bytes)], &limits),
            [(1, Some("blob.bin".to_string()), ProblemKind::BinaryTooLarge)],
            "{name}"
        );
    }
    assert!(refused(&[Patch::new(1, "small", small)], &limits).is_empty());
}

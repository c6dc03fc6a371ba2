//! On the real kernel tree (`GAUNTLET_LINUX_TREE`, set by `.ci/run` from `.ci/linux-tree`):
//! a series applies in a pooled working copy, a failing hunk is named with its file and line.
//! Without the tree the test says SKIPPED and why, unless `GAUNTLET_REQUIRE_LINUX_TREE` is set
//! (CI): then it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use gauntlet_project::TreeSource;
use gauntlet_tree::{
    ApplyOptions, AttemptResult, Mirror, Outcome, Patch, Pool, choose_base_and_apply,
};

/// The kernel tree, or `None` after saying why the test is skipped (on the real standard
/// error, which the test harness does not capture, so that a skip is never silent).
fn linux_tree(test: &str) -> Option<PathBuf> {
    let skip = |why: String| {
        assert!(
            std::env::var_os("GAUNTLET_REQUIRE_LINUX_TREE").is_none(),
            "{test}: {why}, and GAUNTLET_REQUIRE_LINUX_TREE is set"
        );
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
        None
    };
    let Some(path) = std::env::var_os("GAUNTLET_LINUX_TREE") else {
        return skip("GAUNTLET_LINUX_TREE is not set (.ci/run sets it from .ci/linux-tree)".into());
    };
    let path = PathBuf::from(path);
    if !path.join(".git").exists() {
        return skip(format!(
            "GAUNTLET_LINUX_TREE={} is not a git repository",
            path.display()
        ));
    }
    Some(path)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A mail with a one-hunk diff of `file` at `line` (1-based): the three lines from there are
/// the context, with the middle one replaced; `wrong_context` makes that line's old text
/// something the file does not have.
fn edit(tree: &Path, number: u32, file: &str, line: usize, wrong_context: bool) -> Patch {
    let blob = git(tree, &["rev-parse", &format!("HEAD:{file}")]);
    let text = git(tree, &["show", &format!("HEAD:{file}")]);
    let lines: Vec<&str> = text.lines().skip(line - 1).take(3).collect();
    let old = if wrong_context {
        "this line is not in the file"
    } else {
        lines[1]
    };
    let subject = format!("{file}: test edit {number}");
    let diff = format!(
        "diff --git a/{file} b/{file}\nindex {}..1111111 100644\n--- a/{file}\n+++ b/{file}\n\
         @@ -{line},3 +{line},3 @@\n {}\n-{old}\n+/* gauntlet test edit {number} */\n {}\n",
        &blob.trim()[..12],
        lines[0],
        lines[2],
    );
    let mail = format!(
        "From: A U Thor <author@example.com>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\
         Subject: [PATCH {number}/2] {subject}\n\n{subject}\n\n\
         Signed-off-by: A U Thor <author@example.com>\n---\n{diff}-- \n2.47.0\n"
    );
    Patch::new(number, subject, mail)
}

#[tokio::test]
async fn a_series_applies_on_the_kernel_and_a_failing_hunk_is_named() {
    let Some(tree) = linux_tree("a_series_applies_on_the_kernel_and_a_failing_hunk_is_named")
    else {
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let mirror = Mirror::open(cache.path(), &TreeSource::Path(tree.clone()))
        .await
        .unwrap();
    let base = mirror.head().await.unwrap().unwrap();
    let pool = Pool::new(mirror, 1).unwrap();
    let mut lease = pool.lease().await.unwrap();

    let good = edit(&tree, 1, "kernel/fork.c", 20, false);
    let bad = edit(&tree, 2, "net/core/dev.c", 100, true);
    let report = choose_base_and_apply(
        &mut lease,
        &[good.clone(), bad],
        None,
        &[],
        &ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert!(matches!(report.outcome, Outcome::DoesNotApply), "{report}");
    let AttemptResult::DoesNotApply { failure } = &report.tried[0].result else {
        panic!("{report}");
    };
    assert_eq!(failure.patch.number, 2);
    assert_eq!(failure.files[0].path, "net/core/dev.c", "{failure:?}");
    assert_eq!(failure.files[0].hunks, vec![100], "{failure:?}");

    let applied = lease
        .apply(&base, &[good], &ApplyOptions::default())
        .await
        .unwrap();
    assert!(applied.patches[0].commit.is_some());
    let fork = std::fs::read_to_string(lease.path().join("kernel/fork.c")).unwrap();
    assert!(fork.contains("/* gauntlet test edit 1 */"));
    // Back to the base: the file is the tree's again, and nothing else is left.
    lease.reset(&base).await.unwrap();
    assert_eq!(git(lease.path(), &["status", "--porcelain"]), "");
}

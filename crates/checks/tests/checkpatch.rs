//! checkpatch.pl, run the way gauntlet runs it (one process per series, re-runs where a shared
//! process swallows findings), against one process per patch, on real kernel patches (the
//! io_uring list archive), and its parsed output against checkpatch's own lines.
//!
//! Needs the kernel tree (`GAUNTLET_LINUX_TREE`, from `.ci/linux-tree`), perl and the corpus;
//! says SKIPPED and why when one is missing. `GAUNTLET_CHECKPATCH_PATCHES=N` (or `all`) sets how
//! many real patches are compared (default 60: each separate checkpatch run takes a few tenths
//! of a second, and more on a busy machine).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use gauntlet_checks::checkpatch::{FileReport, Runner};
use gauntlet_checks::{Context, Registry, Target};
use gauntlet_mail::ParseOptions;

const CORPUS: &str = "../../../shared/corpus/lore/iouring-4k.mbox";

fn setup(test: &str) -> Option<PathBuf> {
    let tree = common::linux_tree(test)?;
    if !common::have_perl() {
        eprintln!("SKIPPED {test}: perl is not installed");
        return None;
    }
    Some(tree)
}

/// Real patches of the corpus, each a file of its own in `dir`.
fn corpus_patches(test: &str, dir: &Path, limit: usize) -> Option<Vec<PathBuf>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    let Ok(bytes) = std::fs::read(&path) else {
        let why = format!("SKIPPED {test}: no corpus at {}", path.display());
        assert!(
            std::env::var_os("GAUNTLET_REQUIRE_CORPUS").is_none(),
            "{why}"
        );
        eprintln!("{why}");
        return None;
    };
    let options = ParseOptions::default();
    let mut files = Vec::new();
    for raw in gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default()) {
        if files.len() >= limit {
            break;
        }
        let mail = gauntlet_mail::parse(&raw.bytes, &options);
        if !mail.is_patch() || mail.pull_url.is_some() {
            continue;
        }
        let file = dir.join(format!("{:04}.patch", files.len() + 1));
        std::fs::write(&file, &raw.bytes).unwrap();
        files.push(file);
    }
    Some(files)
}

/// A patch whose hunk a mailer broke: checkpatch says CORRUPTED_PATCH.
fn corrupt_patch(n: usize) -> String {
    format!(
        "From: Jane Developer <jane@example.org>\nSubject: [PATCH] lib: fix thing {n}\n\nFix thing {n}.\n\nSigned-off-by: Jane Developer <jane@example.org>\n---\ndiff --git a/lib/sort.c b/lib/sort.c\n--- a/lib/sort.c\n+++ b/lib/sort.c\n@@ -10,3 +10,3 @@\n #include <linux/types.h>\n-#include <linux/export.h>\n+#include <linux/export.h> /* a comment that the\nmailer wrapped */\n #include <linux/sort.h>\n"
    )
}

fn limit() -> usize {
    match std::env::var("GAUNTLET_CHECKPATCH_PATCHES").as_deref() {
        Ok("all") => usize::MAX,
        Ok(n) => n.parse().unwrap_or(60),
        Err(_) => 60,
    }
}

/// What a plain shared process reports differently from separate ones: (lost, extra).
fn plain_difference(
    runner: &Runner,
    chunk: &[PathBuf],
    each: &[Result<FileReport, String>],
) -> (usize, usize) {
    let plain = runner.check_one_process(chunk).unwrap();
    let mut lost = 0;
    let mut extra = 0;
    for (p, e) in plain.iter().zip(each) {
        let e = e.as_ref().unwrap();
        lost += e
            .findings
            .iter()
            .filter(|f| !p.findings.contains(f))
            .count();
        extra += p
            .findings
            .iter()
            .filter(|f| !e.findings.contains(f))
            .count();
    }
    (lost, extra)
}

/// Compares the shared runs with one process per file: the findings of every kind, counted.
fn compare(
    runner: &Runner,
    files: &[PathBuf],
    what: &str,
) -> std::collections::BTreeMap<String, usize> {
    let mut kinds = std::collections::BTreeMap::new();
    let mut alone = 0;
    let (mut lost, mut extra) = (0, 0);
    for chunk in files.chunks(30) {
        let shared = runner.check(chunk);
        let each = runner.check_each(chunk);
        let (l, x) = plain_difference(runner, chunk, &each);
        lost += l;
        extra += x;
        for ((file, s), e) in chunk.iter().zip(&shared).zip(&each) {
            let s: &FileReport = s.as_ref().unwrap();
            let e: &FileReport = e.as_ref().unwrap();
            assert_eq!(
                s.findings,
                e.findings,
                "{what}: {} differs between the shared run and its own process",
                file.display()
            );
            assert_eq!(s.totals, e.totals, "{what}: {}", file.display());
            for f in &s.findings {
                *kinds.entry(f.kind.clone()).or_default() += 1;
            }
            alone += usize::from(s.alone);
        }
    }
    let total: usize = kinds.values().sum();
    eprintln!(
        "{what}: {} patches, {total} findings identical ({alone} patches checked alone); one plain process per 30 patches would lose {lost} and add {extra}: {kinds:?}",
        files.len()
    );
    kinds.insert("(lost by a plain process)".to_string(), lost);
    kinds
}

#[test]
fn shared_process_loses_nothing() {
    let Some(tree) = setup("shared_process_loses_nothing") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(mut files) = corpus_patches("shared_process_loses_nothing", dir.path(), limit())
    else {
        return;
    };
    assert!(
        files.len() >= 30.min(limit()),
        "too few patches in the corpus"
    );
    // Corrupt patches among the first ones, so that recovery is exercised whatever the corpus.
    for (at, n) in [(2usize, 1usize), (5, 2), (9, 3)] {
        let file = dir.path().join(format!("corrupt-{n}.patch"));
        std::fs::write(&file, corrupt_patch(n)).unwrap();
        files.insert(at.min(files.len()), file);
    }
    let runner = Runner::for_tree(&tree, "HEAD", Path::new("perl"), Path::new("git")).unwrap();

    // The problem: one plain process reports CORRUPTED_PATCH once.
    let once = runner.check_one_process(&files[..12]).unwrap();
    let corrupted = |r: &FileReport| r.findings.iter().any(|f| f.kind == "CORRUPTED_PATCH");
    assert_eq!(once.iter().filter(|r| corrupted(r)).count(), 1);

    let kinds = compare(&runner, &files, "default");
    assert!(kinds.values().sum::<usize>() > 3);
    assert!(kinds["(lost by a plain process)"] >= 2, "{kinds:?}");
    assert!(
        kinds.get("CORRUPTED_PATCH").copied().unwrap_or(0) >= 3,
        "{kinds:?}"
    );
    let strict = Runner::for_tree(&tree, "HEAD", Path::new("perl"), Path::new("git"))
        .unwrap()
        .args(&["--strict".to_string()]);
    compare(&strict, &files[..files.len().min(30)], "--strict");
}

#[test]
fn parsed_findings_are_checkpatchs_own_lines() {
    let Some(tree) = setup("parsed_findings_are_checkpatchs_own_lines") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(files) = corpus_patches("parsed_findings_are_checkpatchs_own_lines", dir.path(), 30)
    else {
        return;
    };
    let runner = Runner::for_tree(&tree, "HEAD", Path::new("perl"), Path::new("git")).unwrap();
    let reports = runner.check(&files);
    let mut compared = 0;
    for (file, report) in files.iter().zip(reports) {
        let report = report.unwrap();
        // checkpatch run directly, by hand, from the tree.
        let out = Command::new("perl")
            .arg(tree.join("scripts/checkpatch.pl"))
            .args(["--terse", "--show-types", "--no-summary"])
            .arg(file)
            .current_dir(&tree)
            .output()
            .unwrap();
        let direct: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        let ours: Vec<String> = report
            .findings
            .iter()
            .map(|f| {
                let level = match f.level {
                    gauntlet_checks::checkpatch::Level::Error => "ERROR",
                    gauntlet_checks::checkpatch::Level::Warning => "WARNING",
                    gauntlet_checks::checkpatch::Level::Check => "CHECK",
                };
                match f.line {
                    Some(line) => format!(
                        "{}:{line}: {level}:{}: {}",
                        file.display(),
                        f.kind,
                        f.message
                    ),
                    None => format!("{level}:{}: {}", f.kind, f.message),
                }
            })
            .collect();
        assert_eq!(ours, direct, "{}", file.display());
        compared += direct.len();
    }
    assert!(compared > 0);
}

#[test]
fn the_check_reports_per_patch_with_locations() {
    let Some(tree) = setup("the_check_reports_per_patch_with_locations") else {
        return;
    };
    let me = "Jane Developer <jane@example.org>";
    let mut bad = common::Patch::good(me).numbered(2, 2);
    bad.diff = common::one_line_diff(
        "kernel/sys.c",
        300,
        "\treturn error;",
        "\treturn  error;    ",
    );
    let posting = common::Posting::new(vec![
        common::Patch::good(me).numbered(1, 2).bytes(),
        bad.bytes(),
        corrupt_patch(1).into_bytes(),
        corrupt_patch(2).into_bytes(),
    ]);
    let report = posting.check_with(&Registry::builtin().defaults(), &Context::with_tree(&tree));
    let r = report
        .result("checkpatch", &Target::Patch { index: 1 })
        .unwrap();
    let trailing = r
        .findings
        .iter()
        .find(|f| f.kind == "TRAILING_WHITESPACE")
        .unwrap();
    assert_eq!(trailing.location.file.as_deref(), Some("kernel/sys.c"));
    assert_eq!(trailing.location.line, Some(300));
    assert!(trailing.location.patch_line.is_some());
    assert_eq!(trailing.snippet.as_deref(), Some("+\treturn  error;    "));
    // Both corrupt patches say so.
    for index in [2, 3] {
        let r = report
            .result("checkpatch", &Target::Patch { index })
            .unwrap();
        assert!(
            r.findings.iter().any(|f| f.kind == "CORRUPTED_PATCH"),
            "patch {index}: {:?}",
            r.findings
        );
    }
    // Ignored types are passed to checkpatch and dropped.
    let mut entries = indexmap::IndexMap::new();
    let mut settings = gauntlet_project::CheckSettings::default();
    settings.ignore.push("TRAILING_WHITESPACE".into());
    entries.insert(
        "checkpatch".to_string(),
        gauntlet_project::CheckEntry {
            settings,
            at: gauntlet_project::Location::new(Path::new("p.yaml"), 1, 1),
        },
    );
    let configured = Registry::builtin().configure(&entries).unwrap();
    let report = posting.check_with(&configured, &Context::with_tree(&tree));
    let r = report
        .result("checkpatch", &Target::Patch { index: 1 })
        .unwrap();
    assert!(r.findings.iter().all(|f| f.kind != "TRAILING_WHITESPACE"));
}

/// A patch adding a comment after the first line of `file` of the tree.
fn touch(tree: &Path, file: &str, n: usize) -> String {
    adding(tree, file, &format!("/* note {n} */"))
}

#[test]
fn obsolete_files_are_reported_as_checkpatch_does() {
    let Some(tree) = setup("obsolete_files_are_reported_as_checkpatch_does") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<&str> = vec![
        "drivers/net/ethernet/8390/ne.c",
        "kernel/sys.c",
        "drivers/gpu/drm/tiny/cirrus.c",
        "drivers/gpu/drm/tiny/bochs.c",
        "include/uapi/drm/i810_drm.h",
        "drivers/net/wireless/intersil/hostap/hostap_main.c",
        "drivers/net/ethernet/intel/e1000/e1000_main.c",
    ];
    let paths: Vec<PathBuf> = files
        .iter()
        .enumerate()
        .map(|(n, f)| {
            let path = dir.path().join(format!("{:04}.patch", n + 1));
            std::fs::write(&path, touch(&tree, f, n)).unwrap();
            path
        })
        .collect();
    let runner = Runner::for_tree(&tree, "HEAD", Path::new("perl"), Path::new("git")).unwrap();
    let reports = runner.check(&paths);
    for ((file, path), report) in files.iter().zip(&paths).zip(reports) {
        let report = report.unwrap();
        let direct = Command::new("perl")
            .arg(tree.join("scripts/checkpatch.pl"))
            .args(["--terse", "--show-types", "--no-summary"])
            .arg(path)
            .current_dir(&tree)
            .output()
            .unwrap();
        let direct = String::from_utf8_lossy(&direct.stdout);
        let direct_obsolete = direct.contains("WARNING:OBSOLETE:");
        let ours_obsolete = report.findings.iter().any(|f| f.kind == "OBSOLETE");
        assert_eq!(ours_obsolete, direct_obsolete, "{file}: {direct}");
        assert_eq!(
            report.findings.len(),
            direct.lines().count(),
            "{file}: {:?} vs {direct}",
            report.findings
        );
    }
    // The obsolete ones are obsolete.
    let reports = runner.check(&paths);
    let obsolete: Vec<bool> = reports
        .iter()
        .map(|r| {
            r.as_ref()
                .unwrap()
                .findings
                .iter()
                .any(|f| f.kind == "OBSOLETE")
        })
        .collect();
    assert_eq!(obsolete, vec![true, false, true, false, true, true, false]);
}

#[test]
fn a_bare_repository_serves_as_the_tree() {
    let Some(tree) = setup("a_bare_repository_serves_as_the_tree") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("linux.git");
    let cloned = Command::new("git")
        .args(["clone", "-q", "--bare", "--shared"])
        .arg(&tree)
        .arg(&bare)
        .status()
        .unwrap();
    assert!(cloned.success());
    let me = "Jane Developer <jane@example.org>";
    let mut bad = common::Patch::good(me);
    bad.diff = common::one_line_diff(
        "kernel/sys.c",
        300,
        "\treturn error;",
        "\treturn  error;    ",
    );
    let posting = common::Posting::of(&[bad]);
    let configured = Registry::builtin().defaults();
    let kinds = |context: &Context| -> Vec<String> {
        let report = posting.check_with(&configured, context);
        let r = report
            .result("checkpatch", &Target::Patch { index: 0 })
            .unwrap();
        assert_eq!(r.status, gauntlet_verdict::Status::Fail, "{}", r.summary);
        r.findings.iter().map(|f| f.kind.clone()).collect()
    };
    let from_bare = kinds(&Context::with_tree(&bare));
    assert!(
        from_bare.contains(&"TRAILING_WHITESPACE".to_string()),
        "{from_bare:?}"
    );
    assert_eq!(from_bare, kinds(&Context::with_tree(&tree)));
    // The maintainers of the bare tree's MAINTAINERS are found too.
    let report = posting.check_with(&configured, &Context::with_tree(&bare));
    let m = report.result("maintainers", &Target::Series).unwrap();
    assert_eq!(m.status, gauntlet_verdict::Status::Pass, "{}", m.summary);
    assert!(
        !m.findings.is_empty(),
        "kernel/sys.c has maintainers nobody was sent to"
    );
}

/// A patch adding `line` after the first line of `file` of the tree.
fn adding(tree: &Path, file: &str, line: &str) -> String {
    let text = std::fs::read_to_string(tree.join(file)).unwrap();
    let first = text.lines().next().unwrap();
    format!(
        "From: Jane Developer <jane@example.org>\nSubject: [PATCH] net: add a line to {file}\n\nAdd a line to {file}.\n\nSigned-off-by: Jane Developer <jane@example.org>\n---\ndiff --git a/{file} b/{file}\n--- a/{file}\n+++ b/{file}\n@@ -1 +1,2 @@\n {first}\n+{line}\n"
    )
}

#[test]
fn camel_case_is_not_swallowed() {
    let Some(tree) = setup("camel_case_is_not_swallowed") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // net/ is checked strictly even without --strict: CAMELCASE is reported once per process.
    let patches = [
        adding(&tree, "net/core/dev.c", "static int gauntletFooBar;"),
        adding(&tree, "kernel/sys.c", "/* nothing camel here */"),
        adding(&tree, "net/ipv4/tcp.c", "static int gauntletFooBar;"),
    ];
    let files: Vec<PathBuf> = patches
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let path = dir.path().join(format!("{:04}.patch", i + 1));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let runner = Runner::for_tree(&tree, "HEAD", Path::new("perl"), Path::new("git")).unwrap();
    let camel = |r: &FileReport| r.findings.iter().filter(|f| f.kind == "CAMELCASE").count();
    let once: Vec<usize> = runner
        .check_one_process(&files)
        .unwrap()
        .iter()
        .map(camel)
        .collect();
    assert_eq!(
        once,
        vec![1, 0, 0],
        "a plain shared process swallows the second one"
    );
    let ours: Vec<usize> = runner
        .check(&files)
        .iter()
        .map(|r| camel(r.as_ref().unwrap()))
        .collect();
    let each: Vec<usize> = runner
        .check_each(&files)
        .iter()
        .map(|r| camel(r.as_ref().unwrap()))
        .collect();
    assert_eq!(ours, vec![1, 0, 1]);
    assert_eq!(ours, each);
}

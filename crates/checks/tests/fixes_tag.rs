//! `fixes-tag`: the form always, and with a tree, the commits (one `git cat-file` for the series).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Patch, Posting, types};
use gauntlet_checks::{Context, Registry, Target};
use gauntlet_project::{CheckEntry, CheckSettings, Location, OptionValue};
use gauntlet_verdict::Status;

const ME: &str = "Jane Developer <jane@example.org>";

fn with_fixes(lines: &str) -> Patch {
    let mut p = Patch::good(ME);
    p.message = format!(
        "do_sys_thing() walks every entry even when no flag is set.\n\n{lines}\nSigned-off-by: {ME}\n"
    );
    p
}

/// A repository of `n` commits `sub: change i`, made with one git fast-import.
fn repository(dir: &Path, n: usize) -> Vec<String> {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    git(&["init", "-q", "-b", "master"]);
    let mut stream = String::new();
    for i in 1..=n {
        let message = format!("sub: change {i}\n\nBody {i}.\n");
        let content = format!("{i}\n");
        stream.push_str(&format!(
            "commit refs/heads/master\nmark :{i}\ncommitter A U Thor <a@example.org> {} +0000\ndata {}\n{message}",
            1_700_000_000 + i,
            message.len()
        ));
        if i > 1 {
            stream.push_str(&format!("from :{}\n", i - 1));
        }
        stream.push_str(&format!(
            "M 644 inline file\ndata {}\n{content}\n",
            content.len()
        ));
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    git(&["rev-list", "--reverse", "master"])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_form_without_a_tree() {
    let good = with_fixes("Fixes: 0123456789ab (\"sub: change 1\")");
    let report = Posting::of(&[good]).check();
    let r = report
        .result("fixes-tag", &Target::Patch { index: 0 })
        .unwrap();
    assert_eq!(r.status, Status::Pass);
    assert!(r.summary.contains("no tree"), "{}", r.summary);

    let cases: &[(&str, &[&str])] = &[
        ("Fixes: 0123456 (\"sub: change 1\")", &["short-id"]),
        ("Fixes: 0123456789ab", &["no-subject"]),
        ("Fixes: 0123456789ab ('sub: change 1')", &["bad-form"]),
        ("Fixes: commit 0123456789ab", &["bad-form"]),
        ("fixes: 0123456789ab (\"sub: change 1\")", &["key-case"]),
        (
            "Fixes: 0123456789ab (\"sub: a subject that someone\nwrapped\")",
            &["wrapped"],
        ),
    ];
    for (line, want) in cases {
        let report = Posting::of(&[with_fixes(line)]).check();
        assert_eq!(types(&report, "fixes-tag", 0), *want, "{line}");
    }
    // No tag: not applicable.
    let report = Posting::of(&[Patch::good(ME)]).check();
    let r = report
        .result("fixes-tag", &Target::Patch { index: 0 })
        .unwrap();
    assert_eq!(
        (r.status, r.summary.as_str()),
        (Status::Skip, "no Fixes: tag")
    );
}

#[test]
fn commits_are_looked_up_in_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let ids = repository(dir.path(), 3000);
    // Two commits whose ids share their first 4 hex digits.
    let mut by_prefix = std::collections::HashMap::new();
    let mut ambiguous = None;
    for id in &ids {
        if let Some(other) = by_prefix.insert(id[..4].to_string(), id.clone()) {
            ambiguous = Some((id[..4].to_string(), other));
            break;
        }
    }
    let (prefix, _) = ambiguous.expect("3000 commits share some 4-digit prefix");
    let short = |i: usize| ids[i - 1][..12].to_string();
    let patches = vec![
        with_fixes(&format!("Fixes: {} (\"sub: change 7\")", short(7))).numbered(1, 3),
        with_fixes(&format!(
            "Fixes: {} (\"sub: change 8\")\nFixes: 0000000000ab (\"sub: gone\")",
            short(9)
        ))
        .numbered(2, 3),
        with_fixes(&format!("Fixes: {prefix} (\"sub: change 1\")")).numbered(3, 3),
    ];
    let posting = Posting::of(&patches);
    let mut entries = indexmap::IndexMap::new();
    let mut settings = CheckSettings::default();
    settings
        .options
        .insert("min-id-length".into(), OptionValue::Int(4));
    entries.insert(
        "fixes-tag".to_string(),
        CheckEntry {
            settings,
            at: Location::new(Path::new("p.yaml"), 1, 1),
        },
    );
    let configured = Registry::builtin().configure(&entries).unwrap();
    for context in [
        Context::with_tree(dir.path()),
        Context::with_tree(dir.path().join(".git")), // the repository itself, as a bare one
    ] {
        let report = posting.check_with(&configured, &context);
        let first = report
            .result("fixes-tag", &Target::Patch { index: 0 })
            .unwrap();
        assert_eq!(first.status, Status::Pass, "{}", first.summary);
        assert!(
            first.summary.contains("found in the tree"),
            "{}",
            first.summary
        );
        assert_eq!(
            types(&report, "fixes-tag", 1),
            vec!["wrong-subject", "unknown-commit"]
        );
        let second = report
            .result("fixes-tag", &Target::Patch { index: 1 })
            .unwrap();
        assert_eq!(
            second.findings[0].message,
            format!(
                "Fixes: {} quotes (\"sub: change 8\") but commit {} is (\"sub: change 9\")",
                short(9),
                short(9)
            )
        );
        assert_eq!(types(&report, "fixes-tag", 2), vec!["ambiguous-id"]);
    }
}

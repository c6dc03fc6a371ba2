//! The registry: configuration errors, the status rule on a whole series, the report's JSON
//! and its rendering, and the rejection rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{Patch, Posting, cover};
use gauntlet_checks::{Context, Registry, Target, must_reject, render_human};
use gauntlet_project::{CheckEntry, CheckSettings, Location, OptionValue};
use gauntlet_verdict::{PatchworkState, Severity, Status};
use indexmap::IndexMap;

const ME: &str = "Jane Developer <jane@example.org>";

fn entry(settings: CheckSettings, line: u64) -> CheckEntry {
    CheckEntry {
        settings,
        at: Location::new(Path::new("project.yaml"), line, 5),
    }
}

fn disabled(line: u64) -> CheckEntry {
    let settings = CheckSettings {
        enabled: false,
        ..CheckSettings::default()
    };
    entry(settings, line)
}

#[test]
fn configuration_errors_carry_their_place() {
    let mut entries = IndexMap::new();
    entries.insert(
        "signed-of-by".to_string(),
        entry(CheckSettings::default(), 7),
    );
    let mut bad_option = CheckSettings::default();
    bad_option
        .options
        .insert("max-lenght".into(), OptionValue::Int(60));
    entries.insert("subject".to_string(), entry(bad_option, 9));
    let mut mistyped = CheckSettings::default();
    mistyped
        .options
        .insert("max-files".into(), OptionValue::Str("many".into()));
    entries.insert("diff-sanity".to_string(), entry(mistyped, 12));
    let mut unknown_type = CheckSettings::default();
    unknown_type.ignore.push("trailing-whitspace".into());
    entries.insert("whitespace".to_string(), entry(unknown_type, 15));
    let mut bad_args = CheckSettings::default();
    bad_args.options.insert(
        "args".into(),
        OptionValue::List(vec!["--strict".into(), "--fix".into()]),
    );
    entries.insert("checkpatch".to_string(), entry(bad_args, 18));

    let errors = match Registry::builtin().configure(&entries) {
        Ok(_) => panic!("the configuration has errors"),
        Err(errors) => errors,
    };
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 5, "{text:#?}");
    assert!(text[0].starts_with("project.yaml:7:5: checks.signed-of-by: unknown check `signed-of-by` (did you mean `signed-off-by`?)"), "{}", text[0]);
    assert!(text.iter().any(|t| t.starts_with("project.yaml:9:5: checks.subject: unknown option `max-lenght` (did you mean `max-length`?)")), "{text:#?}");
    assert!(
        text.iter().any(|t| t.contains("project.yaml:12:5")
            && t.contains("`max-files` is `many`: expected a whole number")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|t| t.contains("project.yaml:15:5")
            && t.contains("did you mean `trailing-whitespace`?")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("project.yaml:18:5") && t.contains("`--fix` is not allowed")),
        "{text:#?}"
    );
}

#[test]
fn disabled_checks_do_not_run() {
    let mut entries = IndexMap::new();
    entries.insert("maintainers".to_string(), disabled(3));
    let configured = Registry::builtin().configure(&entries).unwrap();
    assert!(!configured.enabled().any(|c| c == "maintainers"));
    let report = Posting::of(&[Patch::good(ME)]).check_with(&configured, &Context::new());
    assert!(report.results.iter().all(|r| r.check != "maintainers"));
}

#[test]
fn tree_checks_without_a_tree() {
    // By default: skipped. Asked for by the project: an error (never a failure).
    let posting = Posting::of(&[Patch::good(ME)]);
    let report = posting.check();
    let cp = report
        .result("checkpatch", &Target::Patch { index: 0 })
        .unwrap();
    assert_eq!(cp.status, Status::Skip);
    assert!(cp.summary.contains("no tree"), "{}", cp.summary);
    let mut entries = IndexMap::new();
    entries.insert("checkpatch".to_string(), entry(CheckSettings::default(), 3));
    entries.insert(
        "maintainers".to_string(),
        entry(CheckSettings::default(), 4),
    );
    let configured = Registry::builtin().configure(&entries).unwrap();
    let report = posting.check_with(&configured, &Context::new());
    let cp = report
        .result("checkpatch", &Target::Patch { index: 0 })
        .unwrap();
    assert_eq!(cp.status, Status::Error);
    assert_eq!(
        report
            .result("maintainers", &Target::Series)
            .unwrap()
            .status,
        Status::Error
    );
    assert!(!must_reject(&report), "errors of the checks never reject");
    // A tree that is not one.
    let report = posting.check_with(&configured, &Context::with_tree("/nonexistent/tree"));
    assert_eq!(
        report
            .result("checkpatch", &Target::Patch { index: 0 })
            .unwrap()
            .status,
        Status::Error
    );
}

#[test]
fn a_realistic_series_report() {
    let mut bad = Patch::good(ME).numbered(2, 3);
    bad.message = "Walk fewer entries when no flag is set.\n".into();
    bad.diff = common::one_line_diff("kernel/sys.c", 200, "\treturn x;", "\treturn y; ");
    let posting = Posting::new(vec![
        cover(ME, 3, 1, "kernel/sys: faster thing", "Three small steps."),
        Patch::good(ME).numbered(1, 3).bytes(),
        bad.bytes(),
        Patch::good(ME).numbered(3, 3).bytes(),
    ]);
    let report = posting.check();
    assert!(report.rejected && must_reject(&report));
    assert_eq!(report.status, Status::Fail);
    let sob = report
        .result("signed-off-by", &Target::Patch { index: 1 })
        .unwrap();
    assert_eq!(sob.status, Status::Fail);
    assert_eq!(sob.patchwork_state(), PatchworkState::Fail);
    assert!(
        sob.summary.starts_with("1 error: no Signed-off-by: at all"),
        "{}",
        sob.summary
    );
    let good = report
        .result("signed-off-by", &Target::Patch { index: 0 })
        .unwrap();
    assert_eq!(
        (good.status, good.patchwork_state()),
        (Status::Pass, PatchworkState::Success)
    );

    // Warnings alone pass, and show as a Patchwork warning.
    let mut entries = IndexMap::new();
    let lenient = CheckSettings {
        severity: Some(Severity::Warning),
        ..CheckSettings::default()
    };
    entries.insert("whitespace".to_string(), entry(lenient.clone(), 2));
    entries.insert("signed-off-by".to_string(), entry(lenient, 3));
    let configured = Registry::builtin().configure(&entries).unwrap();
    let report = posting.check_with(&configured, &Context::new());
    let ws = report
        .result("whitespace", &Target::Patch { index: 1 })
        .unwrap();
    assert_eq!(
        (ws.status, ws.patchwork_state()),
        (Status::Pass, PatchworkState::Warning)
    );
    assert!(!report.rejected, "{}", render_human(&report, false));

    // JSON.
    let report = posting.check();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["rejected"], true);
    assert_eq!(json["series"]["total"], 3);
    let result = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "whitespace" && r["target"]["index"] == 1)
        .unwrap();
    assert_eq!(result["status"], "FAIL");
    assert_eq!(result["target"]["scope"], "patch");
    assert_eq!(result["findings"][0]["type"], "trailing-whitespace");
    assert_eq!(result["findings"][0]["severity"], "error");
    assert_eq!(result["findings"][0]["location"]["file"], "kernel/sys.c");
    assert_eq!(result["findings"][0]["location"]["line"], 200);

    // The human rendering: grouped per patch, like a compiler, colours on request.
    let plain = render_human(&report, false);
    assert!(!plain.contains('\x1b'));
    let label = &report.series.patches[1].label;
    assert!(label.starts_with("0002-kernel-sys-return-early"), "{label}");
    let block = plain.split(&format!("{label}: [PATCH")).nth(1).unwrap();
    assert!(
        block.contains("error[whitespace]: trailing whitespace (1 character)"),
        "{plain}"
    );
    assert!(
        block.contains(&format!("--> kernel/sys.c:200 ({label}:")),
        "{plain}"
    );
    assert!(block.contains("| +\treturn y; "), "{plain}");
    assert!(
        plain
            .trim_end()
            .ends_with("rejected (signed-off-by, whitespace failed)"),
        "{plain}"
    );
    let coloured = render_human(&report, true);
    assert!(coloured.contains("\x1b[1;31merror\x1b[0m"));
}

#[test]
fn registry_lists_its_checks() {
    let registry = Registry::builtin();
    let names: Vec<&str> = registry.checks().map(|c| c.name).collect();
    assert_eq!(
        names,
        vec![
            "series",
            "subject",
            "signed-off-by",
            "commit-message",
            "fixes-tag",
            "whitespace",
            "diff-sanity",
            "maintainers",
            "checkpatch"
        ]
    );
    for check in registry.checks() {
        assert!(
            check
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
        );
        let json = serde_json::to_string(check).unwrap();
        assert!(json.contains(check.name));
    }
}

#[test]
fn the_project_crates_example_configures() {
    // The `checks:` example of gauntlet_project::checks, and the README's.
    let mut entries = IndexMap::new();
    let mut checkpatch = CheckSettings {
        severity: Some(Severity::Warning),
        ignore: vec!["FILE_PATH_CHANGES".into()],
        ..CheckSettings::default()
    };
    checkpatch.types.insert("LONG_LINE".into(), Severity::Info);
    checkpatch
        .options
        .insert("strict".into(), OptionValue::Bool(true));
    checkpatch
        .options
        .insert("max-line-length".into(), OptionValue::Int(80));
    entries.insert("checkpatch".to_string(), entry(checkpatch, 5));
    entries.insert(
        "signed-off-by".to_string(),
        entry(
            CheckSettings {
                severity: Some(Severity::Error),
                ..CheckSettings::default()
            },
            3,
        ),
    );
    entries.insert("maintainers".to_string(), disabled(4));
    let configured = Registry::builtin().configure(&entries);
    assert!(configured.is_ok(), "{:?}", configured.err());
}

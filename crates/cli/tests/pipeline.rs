//! `gauntlet demo`, `gauntlet test`, `gauntlet check` and `gauntlet project check`, run as a
//! user runs them: output and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn gauntlet(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .arg("--db")
        .arg(format!("sqlite://{}", dir.join("g.db").display()))
        .args(args)
        .env("GAUNTLET_DATA_DIR", dir.join("data"))
        .env("GAUNTLET_CACHE_DIR", dir.join("cache"))
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_demo_gives_four_verdicts_with_their_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(["demo", "--dir"])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        started.elapsed().as_secs() < 60,
        "the demo took {:?}",
        started.elapsed()
    );
    let verdicts = all.split("The four verdicts:").nth(1).unwrap();
    assert!(verdicts.contains("accepted a good one"), "{verdicts}");
    assert!(
        verdicts.contains("rejected one without Signed-off-by: checks: signed-off-by"),
        "{verdicts}"
    );
    assert!(
        verdicts
            .contains("rejected one that does not build: build x86_64: command failed: greet.c:6:"),
        "{verdicts}"
    );
    assert!(
        verdicts.contains(
            "rejected one that builds but fails a test: test x86_64: hello: 3 of 4 failed"
        ),
        "{verdicts}"
    );
    // Every report is a mail in the outbox.
    let outbox = dir.path().join("demo/data/outbox/new");
    assert_eq!(std::fs::read_dir(outbox).unwrap().count(), 4);
}

#[test]
fn test_exits_0_accepted_1_rejected_2_untestable() {
    let dir = tempfile::tempdir().unwrap();
    let sample = gauntlet_pipeline::sample::write(&dir.path().join("course")).unwrap();
    let project = sample.project.display().to_string();
    let series = |i: usize| sample.series[i].display().to_string();

    let good = gauntlet(dir.path(), &["test", "--project", &project, &series(0)]);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(stdout.contains("ACCEPTED"), "{stdout}");
    assert!(
        stdout.contains("| You have passed 4 tests on 4."),
        "{stdout}"
    );

    let unsigned = gauntlet(dir.path(), &["test", "--project", &project, &series(1)]);
    assert_eq!(unsigned.status.code(), Some(1), "{}", text(&unsigned));

    // The same series again, by its id in the store: the same verdict.
    let again = gauntlet(dir.path(), &["test", "--project", &project, "--json", "2"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    let runs: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(runs[0]["verdict"], "rejected");
    assert_eq!(runs[0]["jobs"][0]["stage"], "checks");

    // A tree that cannot be read is the infrastructure's failure: exit 2, never 1.
    let broken = dir.path().join("course/project/broken.yaml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(&sample.project)
            .unwrap()
            .replace("  path: ../tree", "  url: file:///nowhere/at/all.git"),
    )
    .unwrap();
    let error = gauntlet(
        dir.path(),
        &[
            "test",
            "--project",
            &broken.display().to_string(),
            &series(0),
        ],
    );
    assert_eq!(error.status.code(), Some(2), "{}", text(&error));
    assert!(
        String::from_utf8_lossy(&error.stdout).contains("ERROR"),
        "{}",
        text(&error)
    );

    // Usage errors are 2 as well.
    let usage = gauntlet(
        dir.path(),
        &["test", "--project", "/nowhere.yaml", &series(0)],
    );
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn check_prints_findings_and_exits_1_on_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let sample = gauntlet_pipeline::sample::write(&dir.path().join("course")).unwrap();
    let good = gauntlet(
        dir.path(),
        &[
            "check",
            "--color",
            "never",
            &sample.series[0].display().to_string(),
        ],
    );
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    let bad = gauntlet(
        dir.path(),
        &[
            "check",
            "--color",
            "never",
            &sample.series[1].display().to_string(),
        ],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        String::from_utf8_lossy(&bad.stdout).contains("error[signed-off-by]"),
        "{}",
        text(&bad)
    );
    let json = gauntlet(
        dir.path(),
        &["check", "--json", &sample.series[1].display().to_string()],
    );
    let reports: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(reports[0]["rejected"], true);
}

#[test]
fn project_check_shows_what_will_run_or_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let sample = gauntlet_pipeline::sample::write(&dir.path().join("course")).unwrap();
    let out = gauntlet(
        dir.path(),
        &["project", "check", &sample.project.display().to_string()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout.contains("Hello Course"), "{stdout}");
    assert!(stdout.contains("recipe: command `make`"), "{stdout}");
    assert!(
        stdout.contains("tests/hello.yaml: LAVA test definition `hello`, 4 step(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("runs: 1 build(s) × 1 suite(s): x86_64 × hello"),
        "{stdout}"
    );

    let bad = dir.path().join("course/project/bad.yaml");
    std::fs::write(
        &bad,
        "name: x\nchecks:\n  signed-of-by: error\nbuilds:\n  - arch: vax\n",
    )
    .unwrap();
    let out = gauntlet(
        dir.path(),
        &["project", "check", &bad.display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml:5:11: unknown architecture `vax`"),
        "{stderr}"
    );
}

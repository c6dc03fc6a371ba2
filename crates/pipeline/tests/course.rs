//! The course flow, for real: the sample assignment of `examples/syscall-course` (a system call
//! added to linux-source-6.1), two students' series through checks, apply, x86_64 and arm64
//! tinyconfig builds with the assignment's fragments, a boot in QEMU, the tests, and the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use gauntlet_lab::lava::LavaSettings;
use gauntlet_lab::qemu::QemuSettings;
use gauntlet_pipeline::{Pipeline, RunOutcome, Settings};
use gauntlet_project::Project;
use gauntlet_report::Verdict;
use gauntlet_sandbox::Sandbox;
use gauntlet_store::Store;
use gauntlet_store::testing::TestDb;
use gauntlet_verdict::Status;

fn skip(why: &str, required: &str) -> bool {
    assert!(
        std::env::var_os(required).is_none(),
        "{required} is set but {why}"
    );
    eprintln!("SKIPPED: {why}");
    true
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The course copied into a temporary directory with the kernel tree linked in, or `None`
/// (SKIPPED) when this machine lacks what it needs.
fn course() -> Option<(tempfile::TempDir, PathBuf, Project)> {
    let tree = match std::env::var_os("GAUNTLET_LINUX_TREE").map(PathBuf::from) {
        Some(tree) if tree.join(".git").exists() => tree,
        _ => {
            skip(
                "GAUNTLET_LINUX_TREE is not set (run .ci/linux-tree)",
                "GAUNTLET_REQUIRE_LINUX_TREE",
            );
            return None;
        }
    };
    if !which("qemu-system-x86_64")
        && skip(
            "qemu-system-x86_64 is not installed",
            "GAUNTLET_REQUIRE_QEMU",
        )
    {
        return None;
    }
    if !which("aarch64-linux-gnu-gcc")
        && skip(
            "aarch64-linux-gnu-gcc is not installed",
            "GAUNTLET_REQUIRE_QEMU",
        )
    {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/syscall-course");
    let course = dir.path().join("course");
    copy_dir(&example, &course);
    std::os::unix::fs::symlink(&tree, course.join("linux")).unwrap();
    let project = Project::load(&course.join("course.yaml")).unwrap();

    Some((dir, course, project))
}

/// The two tests build the same kernels in the same cache: one after the other, the second
/// finds the first's build directories (an incremental build of nothing) instead of building
/// them again in a second working copy.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn settings(dir: &Path) -> Settings {
    let mut settings = Settings::under(&dir.join("data"));
    settings.cache_dir = std::env::var_os("GAUNTLET_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("cache"));
    settings.qemu = QemuSettings::from_env(|key| std::env::var_os(key));
    settings
}

#[tokio::test(flavor = "multi_thread")]
async fn students_add_a_system_call_and_are_told_how_many_tests_they_pass() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some((dir, course, project)) = course() else {
        return;
    };
    let db = TestDb::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    let pipeline = Pipeline::new(store.clone(), settings(dir.path()), Sandbox::detect());

    let good = common::series_of(&store, &course.join("series/good.mbox")).await;
    let outcome = pipeline.run(&project, good).await.unwrap();
    let jobs = jobs_of(&outcome);
    assert_eq!(
        outcome.verdict,
        Verdict::Accepted,
        "{jobs:#?}\n{}",
        outcome.report
    );
    let builds: Vec<&str> = jobs
        .iter()
        .filter(|j| j.0 == "build")
        .map(|j| j.1)
        .collect();
    assert_eq!(builds, ["x86_64", "arm64"]);
    assert!(
        outcome.report.contains("Hi Chiara Esposito,"),
        "{}",
        outcome.report
    );
    assert!(
        outcome.report.contains("Tests suite: course-add"),
        "{}",
        outcome.report
    );
    assert!(
        outcome.report.contains("You have passed 7 tests on 7."),
        "{}",
        outcome.report
    );
    assert!(
        outcome
            .report
            .contains("Perfect! Your work will be examined.")
    );
    let mail = std::fs::read_to_string(outcome.mail.as_ref().unwrap()).unwrap();
    assert!(
        mail.contains("Subject: Re: [PATCH 0/3] add the course_add system call"),
        "{mail}"
    );

    let broken = common::series_of(&store, &course.join("series/no-overflow-check.mbox")).await;
    let outcome = pipeline.run(&project, broken).await.unwrap();
    rejected_for_the_overflow(&outcome);
}

/// Each job's stage, name, status and reason.
fn jobs_of(outcome: &RunOutcome) -> Vec<(&str, &str, Status, &str)> {
    outcome
        .jobs
        .iter()
        .map(|j| {
            (
                j.stage.as_str(),
                j.name.as_str(),
                j.status,
                j.reason.as_str(),
            )
        })
        .collect()
}

/// The series without the overflow check: rejected, six tests on seven, and why.
fn rejected_for_the_overflow(outcome: &RunOutcome) {
    let jobs = jobs_of(outcome);
    assert_eq!(
        outcome.verdict,
        Verdict::Rejected,
        "{jobs:#?}\n{}",
        outcome.report
    );
    for words in [
        "Hi Tomás Ruiz,",
        "You have passed 6 tests on 7.",
        "refuses-overflow",
        "expected -1 with EOVERFLOW",
    ] {
        assert!(
            outcome.report.contains(words),
            "{words:?} not in\n{}",
            outcome.report
        );
    }
    let test = outcome.jobs.iter().find(|j| j.stage == "test").unwrap();
    assert_eq!(test.status, Status::Fail, "{jobs:#?}");
}

/// The same course with the x86_64 build booted and tested by a real LAVA lab (`.ci/lava-up`):
/// the QEMU lab's image, one LAVA job, the same words for the student.
#[tokio::test(flavor = "multi_thread")]
async fn the_course_on_a_real_lava_lab() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(url) = std::env::var("LAVA_URL").ok().filter(|u| !u.is_empty()) else {
        skip(
            "LAVA_URL is not set (eval \"$(.ci/lava-up)\")",
            "GAUNTLET_REQUIRE_LAVA",
        );
        return;
    };
    let Some((dir, course, project)) = course() else {
        return;
    };
    let db = TestDb::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    let mut settings = settings(dir.path());
    settings.lava = Some(LavaSettings::qemu(url, std::env::var("LAVA_TOKEN").ok()));
    let pipeline = Pipeline::new(store.clone(), settings, Sandbox::detect());

    let broken = common::series_of(&store, &course.join("series/no-overflow-check.mbox")).await;
    let outcome = pipeline.run(&project, broken).await.unwrap();
    rejected_for_the_overflow(&outcome);
    let logs: Vec<String> = std::fs::read_dir(outcome.artifacts.join("test"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        logs.iter().any(|name| name.contains("-lava-")),
        "no LAVA job log among {logs:?}"
    );
}

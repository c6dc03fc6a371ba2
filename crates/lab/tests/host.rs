//! The host backend runs LAVA test definitions in the sandbox and reads their results.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use gauntlet_lab::HostLab;
use gauntlet_lab::host::Request;
use gauntlet_project::Project;
use gauntlet_sandbox::Sandbox;
use gauntlet_verdict::Status;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const PROJECT: &str = "name: Hello
recipe:
  command: make
builds:
  - arch: host
    lava: true
tests:
  path: tests/hello.yaml
  timeout: 20s
";

const DEFINITION: &str = r#"metadata:
  format: Lava-Test Test Definition 1.0
  name: hello
  description: "the program says hello"
  version: "1"
params:
  WHO: world
run:
  steps:
    - lava-test-set start basics
    - lava-test-case runs --shell "$GAUNTLET_SOURCE/hello > out.txt"
    - lava-test-case greets --shell grep -q "hello $WHO" out.txt
    - ./tests/extra.sh
    - lava-test-set stop
    - lava-test-case speed --result pass --measurement 12.5 --units ms
"#;

fn setup(hello: &str, extra: &str) -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("project/p.yaml"), PROJECT);
    write(&dir.path().join("project/tests/hello.yaml"), DEFINITION);
    write(&dir.path().join("project/tests/extra.sh"), extra);
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(dir.path().join("project/tests/extra.sh"))
        .status()
        .unwrap();
    let src = dir.path().join("src");
    write(&src.join("hello"), hello);
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(src.join("hello"))
        .status()
        .unwrap();
    let project = Project::load(&dir.path().join("project/p.yaml")).unwrap();
    (dir, project)
}

async fn run(dir: &Path, project: &Project) -> Vec<gauntlet_lab::SuiteRun> {
    let lab = HostLab::new(Sandbox::detect(), &dir.join("lab")).unwrap();
    let src = dir.join("src");
    let request = Request {
        project,
        build: &project.builds[0],
        source: &src,
        artifact: &src,
        work_dir: &dir.join("work"),
        log_dir: &dir.join("logs"),
        progress: None,
    };
    lab.run(&request).await.unwrap()
}

#[tokio::test]
async fn a_definition_runs_from_its_repository_with_the_helpers() {
    let (dir, project) = setup(
        "#!/bin/sh\necho hello world\n",
        "#!/bin/sh\necho 'ok 1 - extra works'\necho '1..1'\n",
    );
    let runs = run(dir.path(), &project).await;
    assert_eq!(runs.len(), 1);
    let suite = &runs[0];
    assert_eq!(suite.suite, "hello");
    assert_eq!(suite.status, Status::Pass, "{suite:#?}");
    let names: Vec<String> = suite.results.iter().map(|r| r.path.to_string()).collect();
    assert!(names.contains(&"hello/basics/runs".to_owned()), "{names:?}");
    assert!(
        names.contains(&"hello/basics/greets".to_owned()),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.ends_with("extra works")),
        "{names:?}"
    );
    let speed = suite
        .results
        .iter()
        .find(|r| r.path.to_string().ends_with("speed"))
        .unwrap();
    assert_eq!(speed.measurement.as_ref().map(|m| m.value), Some(12.5));
    assert_eq!(suite.passed_of(), (4, 4));
    assert!(
        std::fs::read_to_string(&suite.log)
            .unwrap()
            .contains("LAVA_SIGNAL_TESTCASE")
    );
    // The project's own directory is untouched: the run wrote in its copy.
    assert!(!dir.path().join("project/out.txt").exists());
}

#[tokio::test]
async fn failures_stops_and_hangs() {
    // The program says the wrong thing: one case fails.
    let (dir, project) = setup(
        "#!/bin/sh\necho goodbye\n",
        "#!/bin/sh\necho 'ok 1 - extra'\n",
    );
    let runs = run(dir.path(), &project).await;
    assert_eq!(runs[0].status, Status::Fail);
    assert_eq!(runs[0].reason, "1 of 4 failed");
    let greets = runs[0]
        .results
        .iter()
        .find(|r| r.path.to_string().ends_with("greets"))
        .unwrap();
    assert_eq!(greets.status, Status::Fail);

    // A step that fails outside lava-test-case stops the run (set -e, as LAVA runs it).
    let (dir, project) = setup("#!/bin/sh\necho hello world\n", "#!/bin/sh\nexit 3\n");
    let runs = run(dir.path(), &project).await;
    assert_eq!(runs[0].status, Status::Fail);
    assert!(
        runs[0]
            .reason
            .starts_with("the steps stopped (exit code 3) after 2 result(s)"),
        "{}",
        runs[0].reason
    );

    // A test that hangs is killed at its timeout.
    let (dir, mut project) = setup("#!/bin/sh\necho hello world\n", "#!/bin/sh\nsleep 1000\n");
    project.tests[0].timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let runs = run(dir.path(), &project).await;
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(runs[0].status, Status::Fail);
    assert!(
        runs[0]
            .reason
            .starts_with("killed at its timeout (2s) after 2 result(s)"),
        "{}",
        runs[0].reason
    );
}

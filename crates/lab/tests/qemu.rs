//! The QEMU lab on real kernels (tinyconfig builds of linux-source-6.1, see `qemu/kernels.rs`)
//! and real QEMU, TCG.
//!
//! A test that needs a kernel, QEMU or a guest busybox that this machine lacks says SKIPPED and
//! why; with `GAUNTLET_REQUIRE_QEMU=1` (CI) it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "qemu/kernels.rs"]
mod kernels;

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_lab::SuiteRun;
use gauntlet_lab::qemu::{
    AccelChoice, BootSpec, BusyboxSearch, MACHINES, Machine, QemuLab, QemuRun, QemuSettings,
    Request, guest,
};
use gauntlet_project::Project;
use gauntlet_results::End;
use gauntlet_sandbox::Sandbox;
use gauntlet_verdict::Status;
use kernels::KernelSpec;

fn required() -> bool {
    std::env::var_os("GAUNTLET_REQUIRE_QEMU").is_some_and(|v| v == "1")
}

/// Says SKIPPED (or fails under `GAUNTLET_REQUIRE_QEMU=1`).
fn skip(test: &str, why: &str) {
    assert!(
        !required(),
        "GAUNTLET_REQUIRE_QEMU=1, but {test} cannot run: {why}"
    );
    eprintln!("SKIPPED {test}: {why}");
}

fn machine(arch: &str) -> &'static Machine {
    MACHINES.iter().find(|m| m.arch == arch).unwrap()
}

fn busybox_search() -> BusyboxSearch {
    BusyboxSearch::from_env(|k| std::env::var_os(k))
}

/// The kernel of `spec` when QEMU, the guest busybox and the kernel are there; `None` (the
/// test is SKIPPED) otherwise. A kernel build that fails fails the test.
fn ready(test: &str, spec: &KernelSpec) -> Option<PathBuf> {
    let m = machine(spec.arch);
    if !kernels::have(m.program) {
        skip(
            test,
            &format!(
                "{} is not installed (apt-get install {})",
                m.program, m.package
            ),
        );
        return None;
    }
    if let Err(e) = busybox_search().find(m) {
        skip(test, &e.to_string());
        return None;
    }
    match kernels::kernel(spec) {
        Ok(kernel) => Some(kernel),
        Err(kernels::Missing::Unavailable(why)) => {
            skip(test, &why);
            None
        }
        Err(kernels::Missing::Failed(why)) => panic!("{test}: the test kernel: {why}"),
    }
}

fn settings() -> QemuSettings {
    QemuSettings {
        accel: AccelChoice::Tcg,
        silence: Duration::from_secs(30),
        heartbeat: Duration::from_secs(5),
        boot_time: Duration::from_secs(90),
        ..QemuSettings::from_env(|k| std::env::var_os(k))
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    if path.extension().is_some_and(|e| e == "sh") {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// A project in `dir/project` with `files` (path, text) beside its `p.yaml`.
fn project(dir: &Path, yaml: &str, files: &[(&str, &str)]) -> Project {
    let root = dir.join("project");
    write(&root.join("p.yaml"), yaml);
    for (path, text) in files {
        write(&root.join(path), text);
    }
    Project::load(&root.join("p.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

async fn run(dir: &Path, project: &Project, kernel: &Path, settings: QemuSettings) -> QemuRun {
    try_run(dir, project, kernel, settings)
        .await
        .unwrap_or_else(|e| panic!("the lab failed: {e}"))
}

async fn try_run(
    dir: &Path,
    project: &Project,
    kernel: &Path,
    settings: QemuSettings,
) -> Result<QemuRun, gauntlet_lab::Error> {
    let lab = QemuLab::new(Sandbox::detect(), &dir.join("cache"), settings).unwrap();
    let source = dir.join("src");
    std::fs::create_dir_all(&source).unwrap();
    let request = Request {
        project,
        build: &project.builds[0],
        kernel,
        source: &source,
        work_dir: &dir.join("work"),
        log_dir: &dir.join("logs"),
        progress: None,
    };
    lab.run_detailed(&request).await
}

/// `path status` of every result of a suite.
fn rows(run: &SuiteRun) -> Vec<String> {
    run.results
        .iter()
        .map(|r| format!("{} {}", r.path, r.status))
        .collect()
}

fn suite<'a>(run: &'a QemuRun, name: &str) -> &'a SuiteRun {
    run.suites
        .iter()
        .find(|s| s.suite == name)
        .unwrap_or_else(|| panic!("no suite {name} in {:#?}", names(run)))
}

fn names(run: &QemuRun) -> Vec<String> {
    run.suites
        .iter()
        .map(|s| format!("{} {} {}", s.suite, s.status, s.reason))
        .collect()
}

/// With `GAUNTLET_TEST_SHOW=1`: the suites, the details and the console.
fn show(run: &QemuRun, log: &str) {
    if std::env::var_os("GAUNTLET_TEST_SHOW").is_some() {
        eprintln!("{:#?}\n{:#?}\n{log}", names(run), run.details);
    }
}

fn has(rows: &[String], want: &str) -> bool {
    rows.iter().any(|r| r == want)
}

const SMOKE: &str = r#"metadata:
  format: Lava-Test Test Definition 1.0
  name: smoke
  description: "the machine boots and its basics work"
params:
  GREETING: hello
run:
  steps:
    - lava-test-set start basics
    - lava-test-case uname --shell uname -a
    - lava-test-case proc-version --shell test -r /proc/version
    - lava-test-set stop
    - lava-test-case greeting --shell test "$GREETING" = hello
    - lava-test-case measured --result pass --measurement 42 --units ms
    - lava-test-case skipped-one --result skip
    - ./tests/data.sh
"#;

const DATA_SH: &str = "#!/bin/sh\n# Runs from the copy of the tests' directory.\nif grep -q 'the data' tests/data.txt; then\n    lava-test-case data --result pass\nelse\n    lava-test-case data --result fail\nfi\n";

const KTAP_DEF: &str = r#"metadata:
  format: Lava-Test Test Definition 1.0
  name: ktap-printer
  description: "a program that prints KTAP"
run:
  steps:
    - ./tests/ktap.sh
"#;

const KTAP_SH: &str = "#!/bin/sh\ncat <<'EOF'\nKTAP version 1\n1..4\nok 1 first\nnot ok 2 known_broken # TODO not fixed yet\nok 3 no_hardware # SKIP no such device\n    KTAP version 1\n    # Subtest: nested\n    1..2\n    ok 1 inner_a\n    ok 2 inner_b\nok 4 nested\nEOF\n";

const FAILING: &str = r#"metadata:
  format: Lava-Test Test Definition 1.0
  name: failing-step
  description: "a step fails under set -e"
run:
  steps:
    - lava-test-case before --result pass
    - "false"
    - lava-test-case never --result pass
"#;

const BROKEN: &str = r#"metadata:
  format: Lava-Test Test Definition 1.0
  name: broken-shell
  description: "steps that are not valid shell"
run:
  steps:
    - "if true; then echo unterminated"
"#;

const JOB: &str = r#"suite: lab-e2e
testcase: lab-e2e
shell:
  command: 'echo "suite=$suite in the guest"; test -d /gauntlet/lkp'
ktap:
  tests: "one: true\nthree: exit 4"
"#;

const MAIN: &str = "name: Lab
builds:
  - arch: x86_64
    lava: true
tests:
  - path: [tests/smoke.yaml, tests/ktap.yaml, tests/failing.yaml, tests/broken.yaml, tests/job.yaml]
    timeout: 60s
";

#[tokio::test(flavor = "multi_thread")]
async fn x86_64_definitions_ktap_a_failing_step_a_bad_definition_and_an_lkp_job() {
    let test = "x86_64_definitions_ktap_a_failing_step_a_bad_definition_and_an_lkp_job";
    let Some(kernel) = ready(test, &kernels::X86_64) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let project = project(
        dir.path(),
        MAIN,
        &[
            ("tests/smoke.yaml", SMOKE),
            ("tests/data.sh", DATA_SH),
            ("tests/data.txt", "the data\n"),
            ("tests/ktap.yaml", KTAP_DEF),
            ("tests/ktap.sh", KTAP_SH),
            ("tests/failing.yaml", FAILING),
            ("tests/broken.yaml", BROKEN),
            ("tests/job.yaml", JOB),
        ],
    );
    let run = run(dir.path(), &project, &kernel, settings()).await;
    let log = std::fs::read_to_string(&run.details.log).unwrap_or_default();
    let context = format!("{:#?}\n{log}", names(&run));
    show(&run, &log);
    assert_eq!(run.suites.len(), 6, "{context}");
    assert_eq!(run.details.accel.accel, "tcg");

    // The boot: KUnit ran at boot, its example suite with two skips.
    let boot = suite(&run, "boot");
    assert_eq!(boot.status, Status::Pass, "{context}");
    let boot_rows = rows(boot);
    assert!(
        has(&boot_rows, "kunit/example/example_simple_test PASS"),
        "{boot_rows:?}"
    );
    assert!(
        has(&boot_rows, "kunit/example/example_skip_test SKIP"),
        "{boot_rows:?}"
    );

    let smoke = suite(&run, "smoke");
    assert_eq!(smoke.status, Status::Pass, "{context}");
    let smoke_rows = rows(smoke);
    for want in [
        "0_smoke/basics/uname PASS",
        "0_smoke/basics/proc-version PASS",
        "0_smoke/greeting PASS",
        "0_smoke/measured PASS",
        "0_smoke/skipped-one SKIP",
        "0_smoke/data PASS",
    ] {
        assert!(has(&smoke_rows, want), "{want} not in {smoke_rows:?}");
    }
    let measured = smoke
        .results
        .iter()
        .find(|r| r.path.case == "measured")
        .unwrap();
    assert_eq!(measured.measurement.as_ref().map(|m| m.value), Some(42.0));
    assert_eq!(smoke.passed_of(), (5, 6));
    let uname = smoke
        .results
        .iter()
        .find(|r| r.path.case == "uname")
        .unwrap();
    assert!(
        uname
            .excerpt
            .as_ref()
            .is_some_and(|e| e.text.contains("Linux")),
        "{uname:?}"
    );

    let ktap = suite(&run, "ktap-printer");
    assert_eq!(ktap.status, Status::Pass, "{context}");
    assert_eq!(
        rows(ktap),
        [
            "ktap/first PASS",
            "ktap/known_broken SKIP",
            "ktap/no_hardware SKIP",
            "ktap/nested/inner_a PASS",
            "ktap/nested/inner_b PASS",
        ]
    );

    // A failing step stops its definition (set -e), not the suites after it.
    let failing = suite(&run, "failing-step");
    assert_eq!(failing.status, Status::Fail, "{context}");
    assert!(failing.reason.contains("rc=1"), "{}", failing.reason);
    assert_eq!(rows(failing), ["2_failing-step/before PASS"]);

    let broken = suite(&run, "broken-shell");
    assert_eq!(broken.status, Status::Error, "{context}");
    assert!(
        broken.reason.contains("not valid shell"),
        "{}",
        broken.reason
    );

    let job = run
        .suites
        .iter()
        .find(|s| s.test_file.ends_with("job.yaml"))
        .unwrap();
    assert_eq!(job.status, Status::Pass, "{context}");
    let job_rows = rows(job);
    assert!(has(&job_rows, "ktap/one PASS"), "{job_rows:?}");
    assert!(has(&job_rows, "ktap/three SKIP"), "{job_rows:?}");
    assert!(
        job_rows.iter().any(|r| r.ends_with("/shell PASS")),
        "{job_rows:?}"
    );
    assert!(log.contains("suite=lab-e2e in the guest"), "{log}");
    // The QEMU command line, as logged.
    let command = run.details.command.join(" ");
    assert!(
        command.contains("-nic none") && command.contains("console=ttyS0"),
        "{command}"
    );
}

fn definition(name: &str, steps: &[&str]) -> String {
    let mut text = format!(
        "metadata:\n  format: Lava-Test Test Definition 1.0\n  name: {name}\n  description: \"{name}\"\nrun:\n  steps:\n"
    );
    for step in steps {
        text.push_str(&format!("    - {}\n", serde_json::to_string(step).unwrap()));
    }
    text
}

fn result<'a>(run: &'a SuiteRun, case: &str) -> &'a gauntlet_results::TestResult {
    run.results
        .iter()
        .find(|r| r.path.case == case)
        .unwrap_or_else(|| panic!("no result {case} in {:?}", rows(run)))
}

#[tokio::test(flavor = "multi_thread")]
async fn x86_64_a_warning_fails_its_suite_and_a_panic_stops_the_machine() {
    let test = "x86_64_a_warning_fails_its_suite_and_a_panic_stops_the_machine";
    let Some(kernel) = ready(test, &kernels::X86_64) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let warns = definition(
        "warns",
        &[
            "mount -t debugfs debugfs /sys/kernel/debug",
            "echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT",
            "lava-test-case after-warning --result pass",
        ],
    );
    let crashes = definition(
        "crashes",
        &[
            "lava-test-case before-crash --result pass",
            "printf 'KTAP version 1\\n1..3\\nok 1 first\\n'",
            "echo c > /proc/sysrq-trigger",
            "lava-test-case never --result pass",
        ],
    );
    let after = definition("after", &["lava-test-case fine --result pass"]);
    let project = project(
        dir.path(),
        "name: Crashes\nbuilds:\n  - arch: x86_64\n    lava: true\ntests:\n  path: [tests/warns.yaml, tests/crashes.yaml, tests/after.yaml]\n  timeout: 60s\n",
        &[
            ("tests/warns.yaml", &warns),
            ("tests/crashes.yaml", &crashes),
            ("tests/after.yaml", &after),
        ],
    );
    let run = run(dir.path(), &project, &kernel, settings()).await;
    let log = std::fs::read_to_string(&run.details.log).unwrap_or_default();
    show(&run, &log);
    let context = format!("{:#?}", names(&run));
    assert_eq!(suite(&run, "boot").status, Status::Pass, "{context}");

    // A WARNING: the suite fails with the report, and goes on.
    let warned = suite(&run, "warns");
    assert_eq!(warned.status, Status::Fail, "{context}");
    assert!(
        warned.reason.starts_with("kernel warning at line"),
        "{}",
        warned.reason
    );
    assert_eq!(result(warned, "after-warning").status, Status::Pass);
    let report = result(warned, "kernel-warning");
    assert_eq!(report.status, Status::Fail);
    assert!(
        report
            .excerpt
            .as_ref()
            .is_some_and(|e| e.text.contains("WARNING: CPU: 0")),
        "{report:?}"
    );

    // A panic: the suite fails with the report; its KTAP tests that did not run are MISS.
    let crashed = suite(&run, "crashes");
    assert_eq!(crashed.status, Status::Fail, "{context}");
    assert!(
        crashed.reason.starts_with("kernel panic at line"),
        "{}",
        crashed.reason
    );
    let crash_rows = rows(crashed);
    for want in [
        "1_crashes/before-crash PASS",
        "ktap/first PASS",
        "ktap/#2 MISS",
        "ktap/#3 MISS",
        "1_crashes/kernel-panic FAIL",
    ] {
        assert!(has(&crash_rows, want), "{want} not in {crash_rows:?}");
    }
    assert!(
        !crash_rows.iter().any(|r| r.contains("never")),
        "{crash_rows:?}"
    );
    let panic = result(crashed, "kernel-panic");
    assert!(
        panic
            .excerpt
            .as_ref()
            .is_some_and(|e| e.text.contains("sysrq")),
        "{panic:?}"
    );

    // The machine is gone: the next suite did not run.
    let after = suite(&run, "after");
    assert_eq!(after.status, Status::Miss, "{context}");
    assert!(
        after.reason.contains("did not run") && after.reason.contains("crashes"),
        "{}",
        after.reason
    );
    assert_eq!(run.details.end, End::Stopped);
}

#[tokio::test(flavor = "multi_thread")]
async fn x86_64_a_suite_past_its_timeout_is_killed_and_the_next_runs() {
    let test = "x86_64_a_suite_past_its_timeout_is_killed_and_the_next_runs";
    let Some(kernel) = ready(test, &kernels::X86_64) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sleeper = definition(
        "sleeper",
        &["lava-test-case started --result pass", "sleep 600"],
    );
    let quick = definition("quick", &["lava-test-case quick --result pass"]);
    let project = project(
        dir.path(),
        "name: Hangs\nbuilds:\n  - arch: x86_64\n    lava: true\ntests:\n  - path: tests/sleeper.yaml\n    timeout: 3s\n  - path: tests/quick.yaml\n    timeout: 30s\n",
        &[
            ("tests/sleeper.yaml", &sleeper),
            ("tests/quick.yaml", &quick),
        ],
    );
    let settings = QemuSettings {
        heartbeat: Duration::from_secs(1),
        ..settings()
    };
    let run = run(dir.path(), &project, &kernel, settings).await;
    let log = std::fs::read_to_string(&run.details.log).unwrap_or_default();
    show(&run, &log);
    let sleeper = suite(&run, "sleeper");
    assert_eq!(sleeper.status, Status::Fail, "{:#?}", names(&run));
    assert_eq!(
        sleeper.reason,
        "killed at its timeout (3s) after 1 result(s)"
    );
    assert!(log.contains("GAUNTLET-ALIVE 0"), "{log}");
    assert_eq!(
        suite(&run, "quick").status,
        Status::Pass,
        "{:#?}",
        names(&run)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn x86_64_a_silent_machine_is_stopped_and_nothing_is_blamed_on_the_patch() {
    let test = "x86_64_a_silent_machine_is_stopped_and_nothing_is_blamed_on_the_patch";
    let Some(kernel) = ready(test, &kernels::X86_64) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let silent = definition(
        "silent",
        &["lava-test-case started --result pass", "sleep 600"],
    );
    let project = project(
        dir.path(),
        "name: Silence\nbuilds:\n  - arch: x86_64\n    lava: true\ntests:\n  path: tests/silent.yaml\n  timeout: 10m\n",
        &[("tests/silent.yaml", &silent)],
    );
    // No heartbeat: the sleeping test looks like a dead machine.
    let settings = QemuSettings {
        heartbeat: Duration::from_secs(3600),
        silence: Duration::from_secs(4),
        ..settings()
    };
    let started = std::time::Instant::now();
    let run = run(dir.path(), &project, &kernel, settings).await;
    let log = std::fs::read_to_string(&run.details.log).unwrap_or_default();
    show(&run, &log);
    assert!(started.elapsed() < Duration::from_secs(120));
    assert_eq!(run.details.end, End::Silence);
    let silent = suite(&run, "silent");
    assert_eq!(silent.status, Status::Miss, "{:#?}", names(&run));
    assert!(
        silent
            .reason
            .starts_with("the machine went silent while it ran"),
        "{}",
        silent.reason
    );
    assert_eq!(result(silent, "started").status, Status::Pass);
    assert_eq!(suite(&run, "boot").status, Status::Pass);
}

#[tokio::test(flavor = "multi_thread")]
async fn x86_64_a_console_flood_is_capped_and_fails_its_suite() {
    let test = "x86_64_a_console_flood_is_capped_and_fails_its_suite";
    let Some(kernel) = ready(test, &kernels::X86_64) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let flood = definition(
        "flood",
        &["while :; do echo 'flood flood flood flood flood flood flood flood flood flood'; done"],
    );
    let project = project(
        dir.path(),
        "name: Flood\nbuilds:\n  - arch: x86_64\n    lava: true\ntests:\n  path: tests/flood.yaml\n  timeout: 5m\nlimits:\n  log_size: 256K\n",
        &[("tests/flood.yaml", &flood)],
    );
    let settings = QemuSettings {
        output_kill: Some(1 << 20),
        ..settings()
    };
    let run = run(dir.path(), &project, &kernel, settings).await;
    let size = std::fs::metadata(&run.details.log).unwrap().len();
    show(&run, "");
    let flood = suite(&run, "flood");
    assert_eq!(flood.status, Status::Fail, "{:#?}", names(&run));
    assert!(
        flood.reason.starts_with("it flooded the console"),
        "{}",
        flood.reason
    );
    assert!(
        flood.reason.contains("console log capped"),
        "{}",
        flood.reason
    );
    assert_eq!(run.details.termination, "output limit exceeded");
    assert!(size <= (256 << 10) + 4096, "the log is {size} bytes");
}

/// The smoke image for `machine`, written into `dir`.
fn smoke_image(machine: &Machine, dir: &Path) -> PathBuf {
    let busybox = busybox_search().find(machine).unwrap();
    let path = dir.join("smoke.cpio.gz");
    guest::smoke_image(&busybox, machine.power_off)
        .write_gz(&path)
        .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn x86_64_a_kernel_that_never_prints_and_a_file_that_is_not_a_kernel() {
    let test = "x86_64_a_kernel_that_never_prints_and_a_file_that_is_not_a_kernel";
    let Some(kernel) = ready(test, &kernels::X86_64) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lab = QemuLab::new(Sandbox::detect(), &dir.path().join("cache"), settings()).unwrap();
    let x86 = machine("x86_64");
    let image = smoke_image(x86, dir.path());
    let log = dir.path().join("console.log");
    let work = dir.path().join("qemu");

    // The smoke image boots and is done.
    let mut spec = BootSpec::new(x86, &kernel, &image, &work, &log);
    spec.cmdline_extra = guest::kernel_args();
    let ok = lab.boot(&spec).await.unwrap();
    assert_eq!(ok.status(), Status::Pass, "{}", ok.reason());
    assert_eq!(ok.end, End::Stopped);

    // Its console on a port nobody reads: the machine runs and ends (or goes silent) without a
    // word on ours, no `Linux version`: ERROR, nothing proves the patch did it.
    static WRONG_CONSOLE: Machine = Machine {
        console: "ttyS1",
        ..MACHINES[0]
    };
    let mut spec = BootSpec::new(&WRONG_CONSOLE, &kernel, &image, &work, &log);
    spec.cmdline_extra = guest::kernel_args();
    spec.silence = Duration::from_secs(5);
    let silent = lab.boot(&spec).await.unwrap();
    assert_eq!(silent.status(), Status::Error, "{}", silent.reason());
    assert!(
        matches!(silent.end, End::Silence | End::Eof),
        "{:?}",
        silent.end
    );
    assert_eq!(silent.output_bytes, 0);
    assert!(
        silent.reason().contains("no `Linux version` line"),
        "{}",
        silent.reason()
    );

    // Not a kernel: QEMU refuses it, an infrastructure error that says what QEMU said.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "this is not a kernel\n".repeat(100)).unwrap();
    let spec = BootSpec::new(x86, &junk, &image, &work, &log);
    let refused = lab.boot(&spec).await.unwrap_err().to_string();
    assert!(refused.contains("before the kernel started"), "{refused}");
    assert!(refused.contains("qemu"), "{refused}");

    // No kernel at all.
    let missing = dir.path().join("no-such-bzImage");
    let spec = BootSpec::new(x86, &missing, &image, &work, &log);
    let err = lab.boot(&spec).await.unwrap_err().to_string();
    assert!(err.contains("no-such-bzImage cannot be booted"), "{err}");
}

fn other_arch_project(dir: &Path, arch: &str) -> Project {
    let smoke = definition(
        "smoke",
        &[
            "lava-test-case machine --shell uname -m",
            "lava-test-case proc --shell test -r /proc/cpuinfo",
            "printf 'KTAP version 1\\n1..1\\nok 1 printed\\n'",
        ],
    );
    project(
        dir,
        &format!(
            "name: Other\nbuilds:\n  - arch: {arch}\n    lava: true\ntests:\n  path: tests/smoke.yaml\n  timeout: 60s\n"
        ),
        &[("tests/smoke.yaml", &smoke)],
    )
}

async fn other_arch(test: &str, spec: &KernelSpec, uname: &str) {
    let Some(kernel) = ready(test, spec) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let project = other_arch_project(dir.path(), spec.arch);
    let run = run(dir.path(), &project, &kernel, settings()).await;
    let log = std::fs::read_to_string(&run.details.log).unwrap_or_default();
    show(&run, &log);
    let context = format!("{:#?}\n{log}", names(&run));
    let boot = suite(&run, "boot");
    assert_eq!(boot.status, Status::Pass, "{context}");
    assert!(
        has(&rows(boot), "kunit/example/example_simple_test PASS"),
        "{context}"
    );
    let smoke = suite(&run, "smoke");
    assert_eq!(smoke.status, Status::Pass, "{context}");
    assert_eq!(
        rows(smoke),
        [
            "0_smoke/machine PASS",
            "0_smoke/proc PASS",
            "ktap/printed PASS"
        ]
    );
    let machine = result(smoke, "machine");
    assert!(
        machine
            .excerpt
            .as_ref()
            .is_some_and(|e| e.text.contains(uname)),
        "{machine:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn arm64_boots_and_runs_a_definition() {
    other_arch(
        "arm64_boots_and_runs_a_definition",
        &kernels::ARM64,
        "aarch64",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn powerpc64le_boots_and_runs_a_definition() {
    other_arch(
        "powerpc64le_boots_and_runs_a_definition",
        &kernels::PPC64LE,
        "ppc64le",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn powerpc64_big_endian_boots_and_runs_a_definition() {
    other_arch(
        "powerpc64_big_endian_boots_and_runs_a_definition",
        &kernels::PPC64,
        "ppc64",
    )
    .await;
}

const HELLO_C: &str =
    "#include <stdio.h>\nint main(void) { puts(\"hello from a static program\"); return 0; }\n";

#[tokio::test(flavor = "multi_thread")]
async fn x86_64_prepare_builds_a_static_test_program_and_a_broken_one_fails() {
    let test = "x86_64_prepare_builds_a_static_test_program_and_a_broken_one_fails";
    let Some(kernel) = ready(test, &kernels::X86_64) else {
        return;
    };
    if !Path::new("/usr/lib/x86_64-linux-gnu/libc.a").is_file() {
        return skip(test, "no static C library (apt-get install libc6-dev)");
    }
    let dir = tempfile::tempdir().unwrap();
    let hello = definition("hello", &["lava-test-case hello --shell ./tests/hello"]);
    let other = definition("other", &["lava-test-case other --result pass"]);
    let project = project(
        dir.path(),
        "name: Prepare\nbuilds:\n  - arch: x86_64\n    lava: true\ntests:\n  - path: tests/hello.yaml\n    timeout: 60s\n    prepare: 'test -d \"$GAUNTLET_SOURCE\" && test \"$ARCH\" = x86_64 && $CC -static -Os -o tests/hello tests/hello.c'\n  - path: tests/other.yaml\n    timeout: 60s\n    prepare: '$CC -static -o tests/broken tests/broken.c'\n",
        &[
            ("tests/hello.yaml", &hello),
            ("tests/hello.c", HELLO_C),
            ("tests/other.yaml", &other),
            (
                "tests/broken.c",
                "int main(void) { return syntax error; }\n",
            ),
        ],
    );
    let run = run(dir.path(), &project, &kernel, settings()).await;
    let log = std::fs::read_to_string(&run.details.log).unwrap_or_default();
    show(&run, &log);
    let hello = suite(&run, "hello");
    assert_eq!(hello.status, Status::Pass, "{:#?}", names(&run));
    assert!(
        result(hello, "hello")
            .excerpt
            .as_ref()
            .is_some_and(|e| e.text.contains("hello from a static program")),
        "{log}"
    );
    // The patch's fault: the test program does not build against it.
    let other = suite(&run, "other");
    assert_eq!(other.status, Status::Fail, "{:#?}", names(&run));
    assert!(
        other
            .reason
            .starts_with("tests.prepare failed (exit code 1)"),
        "{}",
        other.reason
    );
    let prepare = result(other, "prepare");
    assert!(
        prepare
            .excerpt
            .as_ref()
            .is_some_and(|e| e.text.contains("broken.c")),
        "{prepare:?}"
    );
    assert!(
        std::fs::read_to_string(&other.log)
            .unwrap()
            .contains("error")
    );
    // The project's own directory is untouched: prepare built in the copy.
    assert!(!dir.path().join("project/tests/hello").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_pieces_are_errors_that_say_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let fake_kernel = dir.path().join("Image");
    std::fs::write(&fake_kernel, "not booted").unwrap();
    let nothing = BusyboxSearch {
        explicit: None,
        env_dir: Some(dir.path().join("empty")),
        cache_dir: Some(dir.path().join("empty-cache")),
        host: None,
    };
    let settings = QemuSettings {
        busybox: nothing,
        ..settings()
    };
    let check = |arch: &'static str, want: &'static str| {
        let settings = settings.clone();
        let root = dir.path().join(arch);
        let fake_kernel = fake_kernel.clone();
        async move {
            let project = other_arch_project(&root, arch);
            let err = try_run(&root, &project, &fake_kernel, settings)
                .await
                .unwrap_err()
                .to_string();
            let program = machine(arch).program;
            if kernels::have(program) {
                assert!(err.contains(want), "{arch}: {err}");
            } else {
                assert!(err.contains("is not installed"), "{arch}: {err}");
            }
        }
    };
    check("arm64", "run .ci/guest-busybox").await;
    check("powerpc64", "no big-endian ppc64 port").await;
    check("x86_64", "no static busybox for x86_64").await;

    let project = other_arch_project(&dir.path().join("missing"), "x86_64");
    let err = try_run(
        &dir.path().join("missing"),
        &project,
        &dir.path().join("no-bzImage"),
        QemuSettings::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    if kernels::have("qemu-system-x86_64") {
        assert!(err.contains("does not exist"), "{err}");
    }
    let project = other_arch_project(&dir.path().join("riscv"), "riscv64");
    let err = try_run(
        &dir.path().join("riscv"),
        &project,
        &fake_kernel,
        QemuSettings::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("no machine for riscv64"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kvm_is_used_only_when_a_probe_shows_that_it_works() {
    let test = "kvm_is_used_only_when_a_probe_shows_that_it_works";
    let Some(kernel) = ready(test, &kernels::X86_64) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let auto = QemuSettings {
        accel: AccelChoice::Auto,
        kvm_probe_timeout: Duration::from_secs(10),
        ..settings()
    };
    let x86 = machine("x86_64");
    let lab = QemuLab::new(Sandbox::detect(), &cache, auto.clone()).unwrap();
    let first = lab.accel_for(x86, &kernel).await;
    eprintln!("KVM probe: {first:?}");
    assert!(matches!(first.accel.as_str(), "tcg" | "kvm"));
    assert!(!first.reason.is_empty());
    assert_eq!(lab.accel_for(x86, &kernel).await, first);
    if cache.join("kvm-x86_64.json").is_file() {
        // A new lab on this machine reads the answer instead of probing again.
        let again = QemuLab::new(Sandbox::detect(), &cache, auto).unwrap();
        let cached = again.accel_for(x86, &kernel).await;
        assert!(cached.cached, "{cached:?}");
        assert_eq!(cached.accel, first.accel);
    } else {
        assert!(first.reason.contains("/dev/kvm"), "{first:?}");
    }
    // Another architecture never uses KVM here.
    let arm = machine("arm64");
    let decision = lab.accel_for(arm, &kernel).await;
    assert_eq!(decision.accel, "tcg");

    // Without bubblewrap /dev/kvm is reachable, and the probe really boots the kernel with KVM.
    let unconfined = Sandbox::detect_with(&gauntlet_sandbox::DetectOptions {
        bubblewrap: gauntlet_sandbox::Choice::Off,
        ..gauntlet_sandbox::DetectOptions::default()
    });
    let lab = QemuLab::new(
        unconfined,
        &dir.path().join("cache-unconfined"),
        auto_short(),
    )
    .unwrap();
    let decision = lab.accel_for(x86, &kernel).await;
    eprintln!("KVM probe without bubblewrap: {decision:?}");
    assert!(matches!(decision.accel.as_str(), "tcg" | "kvm"));
    if decision.accel == "tcg" {
        assert!(decision.reason.starts_with("TCG: "), "{decision:?}");
    }
}

fn auto_short() -> QemuSettings {
    QemuSettings {
        accel: AccelChoice::Auto,
        kvm_probe_timeout: Duration::from_secs(8),
        ..settings()
    }
}

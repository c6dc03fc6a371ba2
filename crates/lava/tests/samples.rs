//! The real LAVA artifacts of `../shared/reference/lava-samples/` (outside the repository):
//! job definitions read into the types and written back unchanged, and real job logs served by
//! the fake LAVA and followed. Each test says SKIPPED and passes when the directory is absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_lava::fake::{FakeJob, FakeLava};
use gauntlet_lava::{
    Action, Client, ClientConfig, FollowOptions, Follower, JobDefinition, JobHealth, Repository,
};
use gauntlet_results::StreamConfig;
use gauntlet_verdict::Status;

fn samples() -> Option<PathBuf> {
    let dir = std::env::var_os("GAUNTLET_LAVA_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/lava-samples")
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (../shared lives outside the repository; GAUNTLET_LAVA_SAMPLES can point elsewhere)",
            dir.display()
        );
        None
    }
}

fn as_value(yaml: &str) -> serde_json::Value {
    serde_saphyr::from_str(yaml).unwrap()
}

#[test]
fn job_definitions_go_through_the_types_unchanged() {
    let Some(dir) = samples() else { return };
    let mut definitions = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(name.starts_with("job") && name.ends_with(".yaml")) || name.ends_with(".log.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let original = as_value(&text);
        if original.is_array() {
            // job1.yaml is LAVA's results export (`jobs/1/yaml/`), not a definition.
            let e = JobDefinition::from_yaml(&text).unwrap_err();
            assert!(
                e.to_string().starts_with("not a LAVA job definition"),
                "{e}"
            );
            continue;
        }
        let job = JobDefinition::from_yaml(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let written = job.to_yaml().unwrap();
        assert_eq!(as_value(&written), original, "{name}:\n{written}");
        assert_eq!(JobDefinition::from_yaml(&written).unwrap(), job, "{name}");
        assert!(job.extra.is_empty(), "{name}: every top-level key is typed");
        definitions += 1;
    }
    assert_eq!(definitions, 2, "job-monitors.yaml and job-shell3.yaml");
}

#[test]
fn the_samples_shapes_are_typed() {
    let Some(dir) = samples() else { return };
    let monitors =
        JobDefinition::from_yaml(&std::fs::read_to_string(dir.join("job-monitors.yaml")).unwrap())
            .unwrap();
    assert_eq!(monitors.device_type.as_deref(), Some("qemu"));
    assert_eq!(monitors.timeouts.job.minutes, Some(10));
    let Action::Deploy(deploy) = &monitors.actions[0] else {
        panic!("deploy first")
    };
    assert_eq!(deploy.to, "tmpfs");
    assert_eq!(
        deploy.images["kernel"].image_arg.as_deref(),
        Some("-kernel {kernel} -append \"console=ttyS0,115200 panic=-1\"")
    );
    let test = monitors.tests().next().unwrap();
    assert_eq!(test.monitors[0].name, "ktap-smoke");
    assert_eq!(test.monitors[0].fixupdict["not ok"], "fail");

    let shell =
        JobDefinition::from_yaml(&std::fs::read_to_string(dir.join("job-shell3.yaml")).unwrap())
            .unwrap();
    let Action::Boot(boot) = &shell.actions[1] else {
        panic!("boot second")
    };
    assert_eq!(boot.prompts, ["ci-shell# "]);
    let test = shell.tests().next().unwrap();
    let Repository::Inline(definition) = &test.definitions[0].repository else {
        panic!("inline")
    };
    assert_eq!(definition.metadata.name, "kernel-smoke");
    assert_eq!(
        definition.run.steps[9],
        "echo \"ok 3 ktap_case_c # SKIP no hw\" >> /scratch/ktap.txt"
    );
    assert!(
        definition
            .parse
            .as_ref()
            .unwrap()
            .pattern
            .ends_with(r"\r*\n")
    );
}

/// Serves a real log through the fake LAVA and follows it.
async fn follow_sample(dir: &Path, log: &str, health: &'static str) -> gauntlet_lava::Followed {
    let lava = FakeLava::start("t").await.unwrap();
    let mut job = FakeJob::finishing(health);
    job.log = std::fs::read_to_string(dir.join(log))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    job.lines_per_look = 100;
    lava.push_job(job);
    let client = Client::new(&ClientConfig::new(lava.url(), Some("t".to_owned()))).unwrap();
    let id = client
        .submit(&std::fs::read_to_string(dir.join("job-monitors.yaml")).unwrap())
        .await
        .unwrap();
    let mut console = StreamConfig::kernel_console();
    console.console.userspace_marker = None;
    console.console.done_marker = None;
    let options = FollowOptions {
        poll_interval: Duration::from_millis(10),
        log_page_lines: 64,
        console,
        ..FollowOptions::default()
    };
    Follower::new(&client, id, options).run(None).await.unwrap()
}

#[tokio::test]
async fn a_real_monitors_log() {
    let Some(dir) = samples() else { return };
    let followed = follow_sample(&dir, "job1.log.yaml", "Complete").await;
    assert_eq!(followed.job.health, JobHealth::Complete);
    assert_eq!(followed.log_lines, 481);
    assert!(followed.problems.is_empty(), "{:?}", followed.problems);
    // LAVA's monitor results, and its own actions, from the log.
    let cases: Vec<_> = followed
        .log_results
        .iter()
        .filter(|r| r.definition == "ktap-smoke")
        .map(|r| r.case.as_str())
        .collect();
    assert_eq!(cases, ["cmdline_con", "sysfs_present", "fake_skip"]);
    let suites = followed.console.suites();
    let verdict = followed.verdict(&suites);
    assert_eq!(verdict.status, Status::Pass, "{verdict:?} {suites:?}");
}

#[tokio::test]
async fn a_real_incomplete_log() {
    let Some(dir) = samples() else { return };
    let followed = follow_sample(&dir, "job3.log.yaml", "Incomplete").await;
    assert_eq!(followed.log_lines, 187);
    assert!(followed.problems.is_empty(), "{:?}", followed.problems);
    let verdict = followed.verdict(&followed.console.suites());
    assert_eq!(verdict.status, Status::Error);
    assert_eq!(
        verdict.reason,
        "LAVA job 1 incomplete: Job error: auto-login-action timed out after 180 seconds"
    );
    let lava = followed
        .lava_suites()
        .into_iter()
        .find(|s| s.name == "lava")
        .unwrap();
    assert_eq!(lava.status(), Status::Error);
}

#[tokio::test]
async fn a_real_lava_test_shell_log() {
    let Some(dir) = samples() else { return };
    let followed = follow_sample(&dir, "job8.log.yaml", "Complete").await;
    assert!(followed.problems.is_empty(), "{:?}", followed.problems);
    // Our reading of the signals on the console.
    let suites = followed.console.suites();
    let ours: Vec<_> = suites
        .iter()
        .flat_map(|s| s.results.iter())
        .map(|r| format!("{}={}", r.path.case, r.status.as_str()))
        .collect();
    assert!(ours.contains(&"uname=PASS".to_owned()), "{ours:?}");
    assert!(ours.contains(&"must-fail=FAIL".to_owned()), "{ours:?}");
    assert_eq!(followed.verdict(&suites).status, Status::Fail);
}

//! The LAVA backend against a real LAVA (`.ci/lava-up` stands one up on this machine and prints
//! `LAVA_URL` and `LAVA_TOKEN`). SKIPPED when they are unset, unless `GAUNTLET_REQUIRE_LAVA=1`.
//!
//! Job 1: Debian's kernel boots a busybox initramfs whose `/init` prints KTAP between the
//! suite's monitor markers: two tests pass, one fails on purpose → the suite is FAIL with the
//! right results. Job 2: a kernel URL that does not exist → LAVA marks the job Incomplete →
//! ERROR with LAVA's reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_lab::lava::{ArtifactUrls, LavaLab, LavaRequest, LavaSettings, monitor_markers};
use gauntlet_lava::Map;
use gauntlet_project::Project;
use gauntlet_verdict::Status;

struct Lab {
    url: String,
    token: String,
    kernel: PathBuf,
}

fn lab() -> Option<Lab> {
    let required = std::env::var("GAUNTLET_REQUIRE_LAVA").is_ok_and(|v| v == "1");
    let url = std::env::var("LAVA_URL").ok().filter(|v| !v.is_empty());
    let token = std::env::var("LAVA_TOKEN").ok().filter(|v| !v.is_empty());
    let kernel = std::env::var_os("GAUNTLET_LAVA_KERNEL")
        .map(PathBuf::from)
        .or_else(newest_boot_kernel);
    match (url, token, kernel) {
        (Some(url), Some(token), Some(kernel)) => Some(Lab { url, token, kernel }),
        (url, token, kernel) => {
            let why = format!(
                "LAVA_URL {}, LAVA_TOKEN {}, a kernel (GAUNTLET_LAVA_KERNEL or /boot/vmlinuz-*) {} \
                 (run `eval \"$(.ci/lava-up)\"` first)",
                if url.is_some() { "set" } else { "unset" },
                if token.is_some() { "set" } else { "unset" },
                if kernel.is_some() { "found" } else { "missing" },
            );
            assert!(!required, "GAUNTLET_REQUIRE_LAVA=1 but {why}");
            eprintln!("SKIPPED: no real LAVA: {why}");
            None
        }
    }
}

fn newest_boot_kernel() -> Option<PathBuf> {
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .collect();
    kernels.sort();
    kernels.pop()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A busybox initramfs whose `/init` prints the suite `smoke` as KTAP, then powers off.
fn initramfs(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    for d in ["bin", "proc", "sys", "dev"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static");
    let (start, end) = monitor_markers("smoke");
    write(
        &root.join("init"),
        &format!(
            r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo GAUNTLET-BOOT-OK
echo "{start}"
echo "KTAP version 1"
echo "1..3"
if grep -q console=ttyS0 /proc/cmdline; then echo "ok 1 cmdline_console"; else echo "not ok 1 cmdline_console"; fi
if [ -d /sys/kernel ]; then echo "ok 2 sysfs_present"; else echo "not ok 2 sysfs_present"; fi
echo "not ok 3 deliberate_failure"
echo "{end}"
echo "GAUNTLET-DONE rc=0"
poweroff -f
"#
        ),
    );
    let image = dir.join("initramfs.cpio.gz");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "chmod +x init && find . | cpio -o -H newc --quiet | gzip -1 > '{}'",
            image.display()
        ))
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(status.success(), "cpio | gzip");
    image
}

fn project(dir: &Path) -> Project {
    write(
        &dir.join("project/p.yaml"),
        "name: LAVA smoke\nrecipe:\n  command: 'true'\nbuilds:\n  - arch: x86_64\n    lava: true\ntests:\n  path: tests/smoke.yaml\n  timeout: 2m\n",
    );
    write(
        &dir.join("project/tests/smoke.yaml"),
        "metadata:\n  format: Lava-Test Test Definition 1.0\n  name: smoke\n  description: \"the kernel boots and sees its console\"\nrun:\n  steps:\n    - 'true'\n",
    );
    Project::load(&dir.join("project/p.yaml")).unwrap()
}

fn settings(lab: &Lab, dir: &Path) -> LavaSettings {
    let mut s = LavaSettings::qemu(&lab.url, Some(lab.token.clone()));
    s.artifacts.listen = Some("127.0.0.1:0".parse().unwrap());
    s.artifacts.dir = Some(dir.join("served"));
    s.poll_interval = Duration::from_secs(2);
    let mut context = Map::new();
    context.insert(
        "extra_options".into(),
        serde_json::json!(["-smp 1", "-no-reboot"]),
    );
    s.context.insert("x86_64".into(), context);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_lava_runs_a_monitors_job_and_an_incomplete_one() {
    let Some(lab) = lab() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let image = initramfs(dir.path());
    let lava = LavaLab::new(settings(&lab, dir.path())).await.unwrap();
    let (version, user) = lava.check().await.unwrap();
    eprintln!("LAVA {version} at {}, as {user}", lab.url);
    let request = LavaRequest {
        project: &project,
        build: &project.builds[0],
        kernel: &lab.kernel,
        initramfs: &image,
        modules: None,
        log_dir: &dir.path().join("logs"),
        metadata: Map::new(),
        progress: None,
        supersede: None,
    };
    let run = lava.run(&request).await.unwrap();
    eprintln!("job {} ({}):\n{}", run.job_id, run.job_url, run.definition);
    eprintln!(
        "LAVA submit-to-result latency: {:.1}s ({:?})",
        run.latency.as_secs_f64(),
        run.verdict
    );
    assert_eq!(run.suites.len(), 1);
    let suite = &run.suites[0];
    let results: Vec<(String, Status)> = suite
        .results
        .iter()
        .map(|r| (r.path.case.clone(), r.status))
        .collect();
    assert_eq!(
        results,
        [
            ("cmdline_console".to_owned(), Status::Pass),
            ("sysfs_present".to_owned(), Status::Pass),
            ("deliberate_failure".to_owned(), Status::Fail),
        ],
        "{suite:?}"
    );
    assert_eq!(suite.status, Status::Fail);
    assert_eq!(suite.reason, "1 of 3 failed");
    assert_eq!(suite.passed_of(), (2, 3));
    assert!(
        std::fs::read_to_string(&suite.log)
            .unwrap()
            .contains("GAUNTLET-DONE")
    );

    // A kernel the dispatcher cannot fetch: Incomplete, ERROR with LAVA's words.
    let urls = ArtifactUrls {
        kernel: "file:///nonexistent/gauntlet/vmlinuz".to_owned(),
        initramfs: gauntlet_lava::file_url(&image).unwrap(),
        modules: None,
    };
    let bad = lava.run_with_urls(&request, &urls).await.unwrap();
    eprintln!(
        "job {}: {:?} after {:.1}s",
        bad.job_id,
        bad.verdict,
        bad.latency.as_secs_f64()
    );
    assert_eq!(bad.verdict.status, Status::Error);
    assert!(bad.verdict.infrastructure);
    assert!(
        bad.verdict
            .reason
            .starts_with(&format!("LAVA job {} incomplete: ", bad.job_id)),
        "{}",
        bad.verdict.reason
    );
    assert!(
        bad.verdict.reason.contains("nonexistent"),
        "{}",
        bad.verdict.reason
    );
    assert_eq!(bad.suites[0].status, Status::Error);
    assert_eq!(bad.suites[0].reason, bad.verdict.reason);
}

#[tokio::test]
async fn a_refused_token_and_a_lab_that_is_down_are_clear_errors() {
    let Some(lab) = lab() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&lab, dir.path());
    s.server.token = Some("not-a-token".to_owned());
    let e = LavaLab::new(s).await.unwrap().check().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("refused the token (HTTP 403): Invalid token."),
        "{e}"
    );
    let mut s = settings(&lab, dir.path());
    s.server.url = "http://127.0.0.1:9".to_owned();
    s.server.retries = 1;
    let e = LavaLab::new(s).await.unwrap().check().await.unwrap_err();
    assert!(e.to_string().contains("is unreachable"), "{e}");
}

/// `bench/lava.sh`: the submit-to-result latency of `GAUNTLET_LAVA_BENCH_RUNS` (default 3)
/// monitors jobs, one after the other, and their median.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bench/lava.sh runs it"]
async fn latency_bench() {
    let Some(lab) = lab() else { return };
    let runs: usize = std::env::var("GAUNTLET_LAVA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let project = project(dir.path());
    let image = initramfs(dir.path());
    let lava = LavaLab::new(settings(&lab, dir.path())).await.unwrap();
    let mut latencies = Vec::new();
    for i in 0..runs {
        let request = LavaRequest {
            project: &project,
            build: &project.builds[0],
            kernel: &lab.kernel,
            initramfs: &image,
            modules: None,
            log_dir: &dir.path().join("logs"),
            metadata: Map::new(),
            progress: None,
            supersede: None,
        };
        let run = lava.run(&request).await.unwrap();
        assert_eq!(run.suites[0].counts.total(), 3, "{:?}", run.suites[0]);
        let secs = run.latency.as_secs_f64();
        println!(
            "run {}: job {} submit-to-result {secs:.1}s",
            i + 1,
            run.job_id
        );
        latencies.push(secs);
    }
    latencies.sort_by(f64::total_cmp);
    let median = latencies[latencies.len() / 2];
    println!(
        "LAVA monitors job, submit-to-result: median {median:.1}s of {runs} (min {:.1}s, max {:.1}s)",
        latencies[0],
        latencies[latencies.len() - 1]
    );
}

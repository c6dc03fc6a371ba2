//! The client and the follower against a fake LAVA on 127.0.0.1 that answers as LAVA 2023.01
//! does; the lab down (nothing listening) and a slow lab (timeouts).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gauntlet_lava::fake::{FakeJob, FakeLava};
use gauntlet_lava::{Client, ClientConfig, Error, FollowOptions, Follower, JobHealth, JobState};
use gauntlet_verdict::Status;
use serde_json::json;

const TOKEN: &str = "s3cret";

const JOB: &str = "job_name: t
device_type: qemu
timeouts: {job: {minutes: 5}}
visibility: public
actions:
- boot: {method: qemu, media: tmpfs}
";

fn client(url: &str, token: Option<&str>) -> Client {
    let mut config = ClientConfig::new(url, token.map(str::to_owned));
    config.backoff = Duration::from_millis(20);
    config.request_timeout = Duration::from_secs(5);
    Client::new(&config).unwrap()
}

fn fast() -> FollowOptions {
    FollowOptions {
        poll_interval: Duration::from_millis(20),
        log_page_lines: 2,
        ..FollowOptions::default()
    }
}

#[tokio::test]
async fn version_whoami_and_submission() {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    let c = client(&lava.url(), Some(TOKEN));
    assert_eq!(c.version().await.unwrap(), "2023.01");
    assert_eq!(c.whoami().await.unwrap().as_deref(), Some("admin"));
    c.validate(JOB).await.unwrap();
    let id = c.submit(JOB).await.unwrap();
    assert_eq!(id, 1);
    assert_eq!(lava.definition(1).as_deref(), Some(JOB));
    let info = c.job(id).await.unwrap();
    assert_eq!(info.state, JobState::Submitted);
    // The API root can be given too.
    let c2 = client(&format!("{}/api/v0.2/", lava.url()), Some(TOKEN));
    assert_eq!(c2.job(id).await.unwrap().state, JobState::Scheduled);
    assert!(matches!(c.job(99).await, Err(Error::NotFound { what }) if what == "job 99"));
}

#[tokio::test]
async fn lava_refusals_carry_lavas_message() {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    let c = client(&lava.url(), Some(TOKEN));
    let bad = JOB.replace("device_type: qemu", "device_type: nosuch");
    let e = c.submit(&bad).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "LAVA refused the request: Devices unavailable: Device type 'nosuch' is unavailable."
    );
    let e = c.validate(&bad).await.unwrap_err();
    assert!(e.to_string().contains("Job invalid"), "{e}");
    assert_eq!(lava.submissions(), 0);
}

#[tokio::test]
async fn a_refused_token_says_so() {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    let e = client(&lava.url(), Some("wrong"))
        .submit(JOB)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::TokenRefused { status: 403, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("refused the token (HTTP 403): Invalid token."),
        "{e}"
    );
    let e = client(&lava.url(), None).job(1).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("Authentication credentials were not provided. (no token is configured)"),
        "{e}"
    );
    // Not retried: the answer will not change.
    assert_eq!(lava.requests(), 2);
}

#[tokio::test]
async fn a_lab_that_is_down_is_unreachable_after_bounded_retries() {
    // A port nothing listens on: bind one, then free it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(&format!("http://127.0.0.1:{port}"), Some(TOKEN));
    let started = Instant::now();
    let e = c.job(1).await.unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("is unreachable: cannot connect"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    // 3 retries at 20, 40, 80 ms.
    assert!(started.elapsed() >= Duration::from_millis(140));
    assert!(started.elapsed() < Duration::from_secs(5));
    // A submission is retried too when the connection failed (nothing was sent).
    assert!(matches!(
        c.submit(JOB).await,
        Err(Error::Unreachable { .. })
    ));
}

#[tokio::test]
async fn a_slow_lab_times_out_and_a_submission_is_not_sent_twice() {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    lava.set_delay(Duration::from_millis(1500));
    let mut config = ClientConfig::new(lava.url(), Some(TOKEN.to_owned()));
    config.request_timeout = Duration::from_millis(300);
    config.backoff = Duration::from_millis(10);
    config.retries = 2;
    let c = Client::new(&config).unwrap();
    let e = c.job(1).await.unwrap_err();
    assert!(e.to_string().contains("no answer within 0.3s"), "{e}");
    assert_eq!(lava.requests(), 3, "one try and two retries");
    let e = c.submit(JOB).await.unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
    assert_eq!(
        lava.requests(),
        4,
        "a submission that may have arrived is not sent again"
    );
}

#[tokio::test]
async fn logs_are_read_by_line_range() {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    lava.push_job(FakeJob::finishing("Complete").console(&["a", "b", "c", "d"]));
    let c = client(&lava.url(), Some(TOKEN));
    let id = c.submit(JOB).await.unwrap();
    assert_eq!(
        c.logs(id, 0, 10).await.unwrap(),
        None,
        "no log before it runs"
    );
    for _ in 0..5 {
        c.job(id).await.unwrap();
    }
    let page = String::from_utf8(c.logs(id, 1, 3).await.unwrap().unwrap()).unwrap();
    assert_eq!(
        page.lines().count(),
        3,
        "two complete lines and a partial one: {page}"
    );
    assert!(page.starts_with("- {\"dt\""));
    assert!(page.contains("\"msg\": \"b\""));
    assert_eq!(c.logs(id, 4, 10).await.unwrap(), None, "past the end: 404");
}

#[tokio::test]
async fn tests_are_read_across_pages_with_suite_names() {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    lava.push_job(
        FakeJob::finishing("Complete")
            .result("lava", "validate", "pass")
            .result("ktap", "one", "pass")
            .result("ktap", "two", "fail")
            .result("ktap", "three", "skip")
            .result("lava", "job", "pass"),
    );
    let c = client(&lava.url(), Some(TOKEN));
    let id = c.submit(JOB).await.unwrap();
    let tests = c.tests(id).await.unwrap();
    let names: Vec<_> = tests
        .iter()
        .map(|t| format!("{}/{}={}", t.suite_name, t.name, t.result))
        .collect();
    assert_eq!(
        names,
        [
            "lava/validate=pass",
            "ktap/one=pass",
            "ktap/two=fail",
            "ktap/three=skip",
            "lava/job=pass"
        ]
    );
}

fn ktap_console() -> Vec<&'static str> {
    vec![
        "Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org)",
        "GAUNTLET-BOOT-OK",
        "=== CI-TESTS-START ===",
        "KTAP version 1",
        "1..3",
        "ok 1 cmdline_console",
        "not ok 2 sysfs_present",
        "ok 3 fake_skip # SKIP no hardware",
        "=== CI-TESTS-END ===",
        "GAUNTLET-DONE rc=0",
    ]
}

#[tokio::test]
async fn a_complete_job_is_its_tests_results() {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    let mut job = FakeJob::finishing("Complete")
        .entry("info", json!("start: 0 validate"))
        .console(&ktap_console())
        .result("ktap-smoke", "cmdline_console", "pass")
        .result("ktap-smoke", "sysfs_present", "fail")
        .result("lava", "job", "pass");
    job.lines_per_look = 2;
    lava.push_job(job);
    let c = client(&lava.url(), Some(TOKEN));
    let id = c.submit(JOB).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("job.log.yaml");
    let (tx, mut rx) = tokio::sync::mpsc::channel(100);
    let followed = Follower::new(&c, id, fast())
        .progress(tx)
        .run(Some(&log))
        .await
        .unwrap();
    assert_eq!(followed.job.health, JobHealth::Complete);
    assert_eq!(followed.log_lines, 14);
    let written = std::fs::read_to_string(&log).unwrap();
    assert_eq!(written.lines().count(), 14, "every line once: {written}");
    assert!(followed.problems.is_empty(), "{:?}", followed.problems);
    let mut seen = Vec::new();
    while let Ok(line) = rx.try_recv() {
        seen.push(String::from_utf8(line).unwrap());
    }
    assert_eq!(seen, ktap_console());
    // Our reading of the console: the SKIP is a SKIP (LAVA's monitor would say pass).
    let suites = followed.console.suites();
    let statuses: Vec<_> = suites
        .iter()
        .flat_map(|s| s.results.iter().map(|r| (r.path.case.clone(), r.status)))
        .collect();
    assert_eq!(
        statuses,
        [
            ("cmdline_console".to_owned(), Status::Pass),
            ("sysfs_present".to_owned(), Status::Fail),
            ("fake_skip".to_owned(), Status::Skip)
        ]
    );
    let verdict = followed.verdict(&suites);
    assert_eq!(verdict.status, Status::Fail);
    assert_eq!(verdict.reason, "1 of 3 failed");
    assert!(!verdict.infrastructure);
    let lava_view = followed.lava_suites();
    assert_eq!(lava_view.len(), 2);
    assert_eq!(lava_view[0].status(), Status::Fail);
    assert_eq!(lava_view[1].status(), Status::Pass);
    assert!(followed.timings.running_after.is_some());
}

#[tokio::test]
async fn an_incomplete_job_is_an_error_with_lavas_reason() {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    lava.push_job(
        FakeJob::finishing("Incomplete")
            .entry(
                "exception",
                json!("auto-login-action timed out after 180 seconds"),
            )
            .entry(
                "results",
                json!({"case": "job", "definition": "lava", "error_msg": "auto-login-action timed out after 180 seconds", "error_type": "Job", "result": "fail"}),
            ),
    );
    let c = client(&lava.url(), Some(TOKEN));
    let id = c.submit(JOB).await.unwrap();
    let followed = Follower::new(&c, id, fast()).run(None).await.unwrap();
    let verdict = followed.verdict(&followed.console.suites());
    assert_eq!(verdict.status, Status::Error);
    assert_eq!(
        verdict.reason,
        "LAVA job 1 incomplete: Job error: auto-login-action timed out after 180 seconds"
    );
    assert!(verdict.infrastructure);
}

#[tokio::test]
async fn an_incomplete_job_whose_kernel_panicked_is_a_failure() {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    let mut job = FakeJob::finishing("Incomplete").console(&[
        "Linux version 6.1.0",
        "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
    ]);
    job.failure_comment = Some("lava-test-monitor timed out".to_owned());
    lava.push_job(job);
    let c = client(&lava.url(), Some(TOKEN));
    let id = c.submit(JOB).await.unwrap();
    let followed = Follower::new(&c, id, fast()).run(None).await.unwrap();
    let verdict = followed.verdict(&followed.console.suites());
    assert_eq!(verdict.status, Status::Fail, "{verdict:?}");
    assert!(
        verdict.reason.contains("Kernel panic"),
        "{}",
        verdict.reason
    );
    assert_eq!(
        followed.lava_error().as_deref(),
        Some("lava-test-monitor timed out")
    );
}

/// A job that runs until canceled.
async fn running_forever() -> (FakeLava, Client, u64) {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    let mut job = FakeJob::finishing("Complete");
    job.states = vec![("Running", "Unknown")];
    lava.push_job(job);
    let c = client(&lava.url(), Some(TOKEN));
    let id = c.submit(JOB).await.unwrap();
    (lava, c, id)
}

#[tokio::test]
async fn a_canceled_job_stops_the_follower_and_is_an_error() {
    let (lava, c, id) = running_forever().await;
    let follower = Follower::new(&c, id, fast());
    let canceller = follower.canceller();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        canceller.cancel("superseded by v2");
    });
    let followed = tokio::time::timeout(Duration::from_secs(10), follower.run(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lava.cancels(), 1);
    assert_eq!(followed.job.health, JobHealth::Canceled);
    let verdict = followed.verdict(&[]);
    assert_eq!(verdict.status, Status::Error);
    assert_eq!(verdict.reason, "canceled: superseded by v2");
}

#[tokio::test]
async fn a_job_past_the_deadline_is_canceled() {
    let (lava, c, id) = running_forever().await;
    let options = FollowOptions {
        deadline: Duration::from_millis(200),
        ..fast()
    };
    let followed = Follower::new(&c, id, options).run(None).await.unwrap();
    assert_eq!(lava.cancels(), 1);
    let verdict = followed.verdict(&[]);
    assert_eq!(verdict.status, Status::Error);
    assert!(
        verdict.reason.starts_with("canceled: not finished after"),
        "{}",
        verdict.reason
    );
}

#[tokio::test]
async fn a_hostile_log_costs_nothing_but_problems() {
    let lava = FakeLava::start(TOKEN).await.unwrap();
    let mut job = FakeJob::finishing("Complete");
    job.log = vec![
        "not yaml at all: [".to_owned(),
        "- {\"lvl\": \"target\", \"msg\": \"".to_owned() + &"x".repeat(200_000) + "\"}",
        "- [1, 2]".to_owned(),
        "- {\"lvl\": \"results\", \"msg\": \"no mapping\"}".to_owned(),
        "\u{0}\u{1}".to_owned(),
    ];
    lava.push_job(job);
    let c = client(&lava.url(), Some(TOKEN));
    let id = c.submit(JOB).await.unwrap();
    let options = FollowOptions {
        max_log_bytes: 1000,
        ..fast()
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let followed = Follower::new(&c, id, options)
        .run(Some(&log))
        .await
        .unwrap();
    assert!(std::fs::metadata(&log).unwrap().len() <= 1000);
    assert!(followed.problems.len() >= 3, "{:?}", followed.problems);
    let verdict = followed.verdict(&followed.console.suites());
    assert_eq!(verdict.status, Status::Fail, "{verdict:?}");
}

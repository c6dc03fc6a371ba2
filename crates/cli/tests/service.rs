//! Many hosts, for real processes: `gauntlet serve` and three `gauntlet worker`s on one
//! PostgreSQL, the sample course's four series on a (fake) Patchwork; one worker is killed with
//! SIGKILL in the middle of a build. Its job is taken again when its lease runs out, and every
//! run ends exactly once: four verdicts, one mail each, one check per patch.
//!
//! Needs PostgreSQL (`GAUNTLET_TEST_POSTGRES_URL`); SKIPPED without it, and fails instead when
//! `GAUNTLET_REQUIRE_POSTGRES=1` (CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gauntlet_patchwork::fake::FakePatchwork;
use gauntlet_report::sink::Sink;
use gauntlet_store::Store;
use gauntlet_store::testing::{TestDb, postgres_url};

fn gauntlet(args: &[&str], log: &std::path::Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .env("RUST_LOG", "info,sqlx=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_build_loses_nothing_and_repeats_nothing() {
    let Some(base) = postgres_url() else {
        assert!(
            std::env::var_os("GAUNTLET_REQUIRE_POSTGRES").is_none(),
            "GAUNTLET_REQUIRE_POSTGRES is set but GAUNTLET_TEST_POSTGRES_URL is not"
        );
        eprintln!("SKIPPED: GAUNTLET_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = TestDb::postgres(&base).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sample = gauntlet_pipeline::sample::write(&dir.path().join("course")).unwrap();
    // Builds long enough to be killed in the middle of.
    let text = std::fs::read_to_string(&sample.project)
        .unwrap()
        .replace("  command: make\n", "  command: sleep 3 && make\n");
    std::fs::write(&sample.project, text).unwrap();

    let patchwork = FakePatchwork::start().await.unwrap();
    let project = patchwork.add_project("course", "Hello Course", "course.example.org");
    let robot = patchwork.add_user("gauntlet", "ci@example.org");
    patchwork.add_maintainer(project, robot.id);
    let mut patches = Vec::new();
    for mbox in &sample.series {
        let added = patchwork
            .add_series_mbox(project, &std::fs::read(mbox).unwrap())
            .unwrap();
        patches.extend(added.patches);
    }
    let sink = Sink::start().await.unwrap();
    let config = dir.path().join("gauntlet.yaml");
    std::fs::write(
        &config,
        format!(
            "database: {db}\ndata_dir: data\ncache_dir: cache\nlisten: 127.0.0.1:0\nworkers: 0\n\
             queue: {{lease: 6s, backoff: 5s}}\n\
             sources:\n  - name: pw\n    poll: 1s\n    patchwork:\n      url: {url}\n      \
             project: course\n      token: {token}\n\
             projects: [{project}]\n\
             mail:\n  from: gauntlet <ci@example.org>\n  smtp: {{host: 127.0.0.1, port: {port}, \
             security: none, timeout: 10s}}\n",
            db = db.url,
            url = patchwork.url(),
            token = robot.token,
            project = sample.project.display(),
            port = sink.addr().port(),
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let logs = dir.path();
    let mut children = Killed(vec![gauntlet(
        &["serve", "--config", config],
        &logs.join("serve.log"),
    )]);
    for name in ["w1", "w2", "w3"] {
        children.0.push(gauntlet(
            &[
                "worker",
                "--config",
                config,
                "--name",
                name,
                "--capability",
                "build:x86_64",
            ],
            &logs.join(format!("{name}.log")),
        ));
    }

    // Wait for a build in the middle, and kill its worker.
    let store = Store::open(&db.url).await.unwrap();
    let started = Instant::now();
    let victim = loop {
        let leased = store.leased_jobs().await.unwrap();
        if let Some(job) = leased.iter().find(|j| j.stage == "build") {
            // A build that really builds (the MISSes of rejected series end at once).
            tokio::time::sleep(Duration::from_millis(700)).await;
            let still = store.leased_jobs().await.unwrap();
            if still
                .iter()
                .any(|j| j.job == job.job && j.worker == job.worker)
            {
                break job.clone();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no build started in 2 minutes:\n{}",
            std::fs::read_to_string(logs.join("serve.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let index = match victim.worker.as_str() {
        "w1" => 1,
        "w2" => 2,
        "w3" => 3,
        other => panic!("a job held by {other}"),
    };
    children.0[index].kill().unwrap();
    children.0[index].wait().unwrap();
    eprintln!(
        "killed {} in build job {} of run {}",
        victim.worker, victim.job, victim.run
    );

    // Every run ends, reported once.
    let started = Instant::now();
    loop {
        let runs = store.recent_runs(100).await.unwrap();
        let ended = runs.iter().filter(|r| r.state == "done").count();
        let checked = patches
            .iter()
            .filter(|p| {
                patchwork
                    .checks(**p)
                    .iter()
                    .any(|c| c.context == "gauntlet")
            })
            .count();
        if runs.len() >= 4
            && ended == runs.len()
            && sink.received().len() >= 4
            && checked == patches.len()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "after 3 minutes: {runs:#?}\n{} mails, {checked} of {} patches checked\n{}",
            sink.received().len(),
            patches.len(),
            ["w1", "w2", "w3"]
                .iter()
                .map(|w| std::fs::read_to_string(logs.join(format!("{w}.log"))).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    let runs = store.recent_runs(100).await.unwrap();
    assert_eq!(runs.len(), 4, "{runs:#?}");
    let mut verdicts: Vec<String> = runs.iter().filter_map(|r| r.verdict.clone()).collect();
    verdicts.sort();
    assert_eq!(verdicts, ["accepted", "rejected", "rejected", "rejected"]);
    // The killed build was done again by another worker, once.
    let detail = store.run_detail(victim.run).await.unwrap().unwrap();
    let build = detail.jobs.iter().find(|j| j.id == victim.job).unwrap();
    assert_eq!(build.state, "done");
    assert!(build.attempts >= 2, "{build:?}");
    assert_eq!(sink.received().len(), 4, "a mail was sent twice");
    for patch in &patches {
        let checks = patchwork.checks(*patch);
        let verdicts = checks.iter().filter(|c| c.context == "gauntlet").count();
        assert_eq!(verdicts, 1, "patch {patch}: {checks:#?}");
    }
    drop(children);
    drop(store);
    db.cleanup().await.unwrap();
}

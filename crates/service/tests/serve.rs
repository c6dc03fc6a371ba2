//! `gauntlet serve` end to end, in process: a fake Patchwork (answering as the real one) with
//! the sample course's four series, the service polling it, two workers running the queued
//! jobs, the report mails through a real SMTP conversation, the checks and states posted back
//! — each exactly once, also after the service is started again on the same database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gauntlet_patchwork::CheckState;
use gauntlet_patchwork::fake::FakePatchwork;
use gauntlet_report::sink::Sink;
use gauntlet_service::{Config, Service};
use gauntlet_store::Store;
use tokio::sync::watch;

/// The sample course on a fake Patchwork; the configuration file's path.
struct World {
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    patchwork: FakePatchwork,
    /// The robot's API token (a maintainer of the project).
    token: String,
    sink: Sink,
    /// Every patch of the four series, on Patchwork.
    patches: Vec<u64>,
    /// The remote applied submissions are published to.
    published: std::path::PathBuf,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let sample = gauntlet_pipeline::sample::write(&dir.path().join("course")).unwrap();
    // The course rejects on Patchwork too.
    let text = std::fs::read_to_string(&sample.project).unwrap();
    let text = text.replace(
        "report:\n",
        "report:\n  patchwork: {checks_on: every-patch, rejected_state: changes-requested}\n",
    );
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
    let published = dir.path().join("published.git");
    assert!(
        std::process::Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(&published)
            .status()
            .unwrap()
            .success()
    );
    let config = dir.path().join("gauntlet.yaml");
    std::fs::write(
        &config,
        format!(
            "database: sqlite:{db}\ndata_dir: data\ncache_dir: cache\nlisten: 127.0.0.1:0\n\
             public_url: http://ci.example.org\nworkers: 2\n\
             queue: {{lease: 10s, backoff: 5s}}\n\
             sources:\n  - name: pw\n    poll: 1s\n    patchwork:\n      url: {url}\n      \
             project: course\n      token: ${{PW_TOKEN}}\n\
             projects: [{project}]\n\
             mail:\n  from: gauntlet <ci@example.org>\n  smtp: {{host: 127.0.0.1, port: {port}, \
             security: none, timeout: 10s}}\n\
             publish: {{remote: {published}, max_age: 30days}}\n",
            published = published.display(),
            db = dir.path().join("gauntlet.db").display(),
            url = patchwork.url(),
            project = sample.project.display(),
            port = sink.addr().port(),
        ),
    )
    .unwrap();
    World {
        _dir: dir,
        config,
        patchwork,
        token: robot.token,
        sink,
        published,
        patches,
    }
}

fn load(config: &Path, token: &str) -> Config {
    let token = token.to_owned();
    Config::load_with(config, &move |name| {
        (name == "PW_TOKEN").then(|| token.clone())
    })
    .unwrap()
}

async fn runs_done(store: &Store) -> Vec<(i64, String)> {
    store
        .recent_runs(100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.verdict.map(|v| (r.id, v)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_students_are_checked_answered_and_marked_exactly_once() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    let w = world().await;
    let token = w.token.clone();
    let config = load(&w.config, &token);
    let service = Arc::new(Service::open(config).await.unwrap());
    let store = service.store.clone();
    let (stop, stopped) = watch::channel(false);
    let serving = tokio::spawn(service.clone().serve(stopped));

    let started = Instant::now();
    loop {
        let done = runs_done(&store).await;
        let mails = w.sink.received().len();
        let checked = w
            .patches
            .iter()
            .filter(|p| {
                w.patchwork
                    .checks(**p)
                    .iter()
                    .any(|c| c.context == "gauntlet")
            })
            .count();
        if done.len() == 4 && mails == 4 && checked == w.patches.len() {
            break;
        }
        if started.elapsed() >= Duration::from_secs(90) {
            for run in 1..=4 {
                if let Some(d) = store.run_detail(run).await.unwrap() {
                    for j in &d.jobs {
                        eprintln!(
                            "run {run} {} {} {:?} {:?} {:?}",
                            j.stage,
                            j.name,
                            j.status,
                            j.reason,
                            j.details.as_deref().map(|d| &d[..d.len().min(300)])
                        );
                    }
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "after 90 s: {done:?}, {mails} mails, {checked} of {} patches checked",
            w.patches.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Let the workers settle, then stop.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send(true).unwrap();
    serving.await.unwrap().unwrap();

    let mut verdicts: Vec<String> = runs_done(&store)
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    verdicts.sort();
    assert_eq!(verdicts, ["accepted", "rejected", "rejected", "rejected"]);

    // Per patch: one verdict check, each stage's pending then final check, never one twice;
    // the rejected patches marked Changes Requested.
    let mut fails = 0;
    for patch in &w.patches {
        let checks = w.patchwork.checks(*patch);
        let mut seen = std::collections::HashSet::new();
        for c in &checks {
            assert!(
                seen.insert((c.context.clone(), c.state)),
                "patch {patch}: {c:?} twice in {checks:#?}"
            );
        }
        let verdict: Vec<_> = checks.iter().filter(|c| c.context == "gauntlet").collect();
        assert_eq!(verdict.len(), 1, "patch {patch}: {checks:#?}");
        assert!(
            checks
                .iter()
                .any(|c| c.context == "gauntlet-checks" && c.state == CheckState::Pending),
            "{checks:#?}"
        );
        assert!(
            checks
                .iter()
                .any(|c| c.context == "gauntlet-checks" && c.state != CheckState::Pending),
            "{checks:#?}"
        );
        assert!(
            verdict[0]
                .target_url
                .as_deref()
                .is_some_and(|u| u.starts_with("http://ci.example.org/runs/")),
            "{checks:?}"
        );
        if verdict[0].state == CheckState::Fail {
            fails += 1;
            assert_eq!(
                w.patchwork.patch_state(*patch).as_deref(),
                Some("changes-requested")
            );
        }
    }
    assert!(fails > 0);
    let mails = w.sink.received();
    assert_eq!(mails.len(), 4);
    for mail in &mails {
        assert!(mail.header("In-Reply-To").is_some(), "{}", mail.text());
        assert!(mail.text().contains("Hello Course"), "{}", mail.text());
    }
    let writes = w.patchwork.writes().len();

    // The three series that applied were published, their base in a note.
    let refs = std::process::Command::new("git")
        .args(["ls-remote", "--heads"])
        .arg(&w.published)
        .output()
        .unwrap();
    let refs = String::from_utf8_lossy(&refs.stdout).into_owned();
    assert_eq!(
        refs.lines()
            .filter(|l| l.contains("refs/heads/gauntlet/hello-course/"))
            .count(),
        3,
        "{refs}"
    );

    // Started again on the same database: nothing is told twice.
    let config = load(&w.config, &token);
    let service = Arc::new(Service::open(config).await.unwrap());
    let (stop, stopped) = watch::channel(false);
    let serving = tokio::spawn(service.clone().serve(stopped));
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.send(true).unwrap();
    serving.await.unwrap().unwrap();
    assert_eq!(w.sink.received().len(), 4, "a mail was sent again");
    assert_eq!(
        w.patchwork.writes().len(),
        writes,
        "Patchwork was written again"
    );
    assert_eq!(
        runs_done(&service.store).await.len(),
        4,
        "a series was run again"
    );

    // A maintainer accepts a rejected patch on Patchwork; the series is run again and rejected
    // again, and gauntlet leaves the maintainer's state alone.
    let rejected = *w
        .patches
        .iter()
        .find(|p| w.patchwork.patch_state(**p).as_deref() == Some("changes-requested"))
        .unwrap();
    let maintainer = w.patchwork.add_user("maintainer", "teacher@example.org");
    assert!(
        w.patchwork
            .change_state(rejected, "accepted", Some(maintainer.id))
    );
    let config = load(&w.config, &token);
    let service = Arc::new(Service::open(config).await.unwrap());
    service.poll_all().await.unwrap();
    let client =
        gauntlet_patchwork::Client::new(&gauntlet_patchwork::ClientConfig::new(w.patchwork.url()))
            .unwrap();
    let msgid = client.patch(rejected).await.unwrap().msgid;
    let recorded = service.store.patch_state(&msgid).await.unwrap().unwrap();
    assert_eq!(recorded.change.set_by.to_string(), "patchwork:maintainer");
    let series = service
        .store
        .series_of_msgids(std::slice::from_ref(&msgid))
        .await
        .unwrap()[0];
    let project = service.projects[0].clone();
    service
        .pipeline
        .enqueue(&project, series, gauntlet_store::unix_now())
        .await
        .unwrap();
    let (stop, stopped) = watch::channel(false);
    let serving = tokio::spawn(service.clone().serve(stopped));
    let started = Instant::now();
    while runs_done(&service.store).await.len() < 5 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the rerun did not end"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.send(true).unwrap();
    serving.await.unwrap().unwrap();
    assert_eq!(
        w.patchwork.patch_state(rejected).as_deref(),
        Some("accepted")
    );
    let last = service.store.patch_state(&msgid).await.unwrap().unwrap();
    assert_eq!(last.change.set_by.to_string(), "patchwork:maintainer");
}

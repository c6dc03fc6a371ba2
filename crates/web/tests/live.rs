//! Live progress: the server-sent events of a run queued with the store's queue API, read over
//! a real socket while jobs are claimed and completed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{databases, get};
use gauntlet_store::{JobEnd, NewJob, NewRun, QueuedJob, Store, unix_now};
use gauntlet_web::{WebState, router};
use serde_json::Value;

/// One server-sent event.
#[derive(Debug)]
struct Sse {
    event: String,
    data: String,
}

/// Reads a `text/event-stream` response event by event.
struct Reader {
    response: reqwest::Response,
    buffer: String,
}

impl Reader {
    /// The next event (keep-alive comments skipped), or `None` when the stream has ended.
    async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(at) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..at + 2).collect();
                let mut event = String::from("message");
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if data.is_empty() && event == "message" {
                    continue;
                }
                return Some(Sse {
                    event,
                    data: data.join("\n"),
                });
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.response.chunk())
                .await
                .expect("no event within 20 s")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next `jobs` event's data.
    async fn jobs(&mut self) -> Value {
        let e = self.next().await.expect("the stream ended early");
        assert_eq!(e.event, "jobs", "{e:?}");
        serde_json::from_str(&e.data).unwrap()
    }
}

async fn open(base: &str, run: i64) -> Reader {
    let response = reqwest::get(format!("{base}/runs/{run}/events"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let ct = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    Reader {
        response,
        buffer: String::new(),
    }
}

fn job(stage: &str, position: i64) -> NewJob {
    NewJob {
        stage: stage.into(),
        name: stage.into(),
        position,
        requires: Vec::new(),
    }
}

fn state_of(v: &Value, job: i64) -> String {
    v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == job)
        .map(|j| j["state"].as_str().unwrap().to_owned())
        .unwrap()
}

async fn live(store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut state = WebState::new(store.clone(), dir.path());
    state.events_interval = Duration::from_millis(50);
    let app = router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn({
        let app = app.clone();
        async move { axum::serve(listener, app).await.unwrap() }
    });

    let now = unix_now();
    let (run, jobs) = store
        .enqueue_run(
            &NewRun {
                series: 0,
                revision: 1,
                series_key: "<live@example.org>".into(),
                project: "live".into(),
                project_file: "live.yaml".into(),
            },
            &[
                QueuedJob {
                    job: job("checks", 0),
                    spec: None,
                    after: Vec::new(),
                },
                QueuedJob {
                    job: job("build", 1),
                    spec: None,
                    after: vec![0],
                },
            ],
            now,
        )
        .await
        .unwrap();

    // The page of a queued run: live.js with its stream, the refresh only without script.
    let page = get(&app, &format!("/runs/{run}")).await;
    assert!(page.body.contains(&format!(
        "<script src=\"/static/live.js\" data-events=\"/runs/{run}/events\" defer></script>"
    )));
    assert!(
        page.body
            .contains("<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>")
    );
    assert!(page.body.contains(&format!("<tr id=\"job-{}\">", jobs[0])));
    let js = get(&app, "/static/live.js").await;
    assert!(js.header("content-type").starts_with("text/javascript"));
    assert!(js.body.contains("EventSource"));

    let mut events = open(&base, run).await;
    let first = events.jobs().await;
    assert_eq!(first["state"], "queued");
    assert_eq!(first["ended"], false);
    assert_eq!(state_of(&first, jobs[0]), "queued");
    assert_eq!(state_of(&first, jobs[1]), "queued");

    let end = |status: &str| JobEnd {
        status: status.into(),
        duration_ms: 1500,
        ..JobEnd::default()
    };
    let lease = Duration::from_secs(60);
    let claimed = store.claim("w1", &[], lease, now).await.unwrap().unwrap();
    assert_eq!(claimed.lease.job, jobs[0]);
    store
        .complete(&claimed.lease, &end("PASS"), now)
        .await
        .unwrap();
    // Running, then done (or both at once when one poll saw both changes).
    let done = loop {
        let e = events.jobs().await;
        if state_of(&e, jobs[0]) == "done" {
            break e;
        }
        assert_eq!(state_of(&e, jobs[0]), "running");
    };
    assert_eq!(done["state"], "running");
    let checks = &done["jobs"][0];
    assert_eq!(checks["status"], "PASS");
    assert_eq!(checks["label"], "PASS");
    assert_eq!(checks["duration"], "1.5 s");
    assert_eq!(state_of(&done, jobs[1]), "queued");

    let claimed = store.claim("w1", &[], lease, now).await.unwrap().unwrap();
    assert_eq!(claimed.lease.job, jobs[1]);
    let settled = store
        .complete(&claimed.lease, &end("FAIL"), now)
        .await
        .unwrap();
    assert!(settled.run_end.is_some());
    let last = loop {
        let e = events.jobs().await;
        if e["ended"] == true {
            break e;
        }
    };
    assert_eq!(last["state"], "done");
    assert_eq!(state_of(&last, jobs[1]), "done");
    let e = events.next().await.unwrap();
    assert_eq!(e.event, "end");
    assert!(events.next().await.is_none(), "the stream goes on");

    // An ended run: its state once, then the end.
    let mut again = open(&base, run).await;
    assert_eq!(again.jobs().await["ended"], true);
    assert_eq!(again.next().await.unwrap().event, "end");
    assert!(again.next().await.is_none());
    // Without the refresh and the script once it has ended.
    let page = get(&app, &format!("/runs/{run}")).await;
    assert!(!page.body.contains("live.js"));
    assert!(!page.body.contains("refresh"));

    // A cancelled run ends its stream as well.
    let (other, _) = store
        .enqueue_run(
            &NewRun {
                series: 0,
                revision: 2,
                series_key: "<live@example.org>".into(),
                project: "live".into(),
                project_file: "live.yaml".into(),
            },
            &[QueuedJob {
                job: job("checks", 0),
                spec: None,
                after: Vec::new(),
            }],
            now,
        )
        .await
        .unwrap();
    let mut cancelled = open(&base, other).await;
    assert_eq!(cancelled.jobs().await["state"], "queued");
    store.cancel_run(other, "test", now).await.unwrap();
    let last = cancelled.jobs().await;
    assert_eq!(last["state"], "cancelled");
    assert_eq!(last["ended"], true);
    assert_eq!(cancelled.next().await.unwrap().event, "end");
    assert!(cancelled.next().await.is_none());

    let missing = reqwest::get(format!("{base}/runs/999999/events"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad = reqwest::get(format!("{base}/runs/..%2f/events"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 404);
    server.abort();
}

#[tokio::test]
async fn events_follow_a_queued_run_until_it_ends() {
    for db in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        live(&store).await;
        store.close().await;
        db.cleanup().await.unwrap();
    }
}

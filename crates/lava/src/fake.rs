//! A fake LAVA server on 127.0.0.1, for tests (feature `fake`).
//!
//! It answers the requests [`crate::Client`] makes as LAVA 2023.01 does (shapes and words
//! checked against a real server): `403 {"detail": "Invalid token."}` for a wrong token,
//! `403 {"detail": "Authentication credentials were not provided."}` for none (except
//! `system/version/`), `201 {"message", "job_ids"}` for a submission, `400 {"message"}` for a
//! definition LAVA refuses or a device type it does not have, jobs whose state moves on at every
//! look, logs served by line range (`start` 0-based, `end` excluded, 404 when there is nothing
//! there), and `tests/` and `suites/` paginated by `page` with a `next` link naming another host
//! (as a server behind a proxy does). Each submission takes the next [`FakeJob`] given to
//! [`FakeLava::push_job`]; without one, it completes with no log.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::job::JobDefinition;

/// One scripted job.
#[derive(Debug, Clone)]
pub struct FakeJob {
    /// `(state, health)` shown at each look at `jobs/<id>/`; the last one stays.
    pub states: Vec<(&'static str, &'static str)>,
    /// The log's lines (without newlines); revealed `lines_per_look` more at each look at the
    /// job (all of them once the last state is reached).
    pub log: Vec<String>,
    pub lines_per_look: usize,
    /// Rows of `tests/`: `(suite, name, result)`.
    pub tests: Vec<(String, String, String)>,
    pub failure_comment: Option<String>,
}

impl FakeJob {
    /// Submitted, Scheduled, Running twice, then Finished with `health`.
    pub fn finishing(health: &'static str) -> FakeJob {
        FakeJob {
            states: vec![
                ("Submitted", "Unknown"),
                ("Scheduled", "Unknown"),
                ("Running", "Unknown"),
                ("Running", "Unknown"),
                ("Finished", health),
            ],
            log: Vec::new(),
            lines_per_look: 3,
            tests: Vec::new(),
            failure_comment: None,
        }
    }

    /// Adds console lines (`lvl: target`) to the log, as LAVA writes them.
    pub fn console(mut self, lines: &[&str]) -> FakeJob {
        for line in lines {
            self.log.push(log_line("target", &json!(line)));
        }
        self
    }

    /// Adds a `lvl: results` entry (and the `tests/` row LAVA stores for it).
    pub fn result(mut self, definition: &str, case: &str, result: &str) -> FakeJob {
        self.log.push(log_line(
            "results",
            &json!({"case": case, "definition": definition, "result": result}),
        ));
        self.tests
            .push((definition.to_owned(), case.to_owned(), result.to_owned()));
        self
    }

    /// Adds any entry.
    pub fn entry(mut self, level: &str, msg: Value) -> FakeJob {
        self.log.push(log_line(level, &msg));
        self
    }
}

/// A log line as LAVA stores it: `- {"dt": …, "lvl": …, "msg": …}`.
pub fn log_line(level: &str, msg: &Value) -> String {
    format!("- {{\"dt\": \"2026-11-22T03:35:17.480340\", \"lvl\": \"{level}\", \"msg\": {msg}}}")
}

#[derive(Debug)]
struct Job {
    script: FakeJob,
    looks: usize,
    /// The look at which a cancel came.
    canceled_at: Option<usize>,
    definition: String,
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<FakeJob>,
    jobs: Vec<Job>,
    submissions: usize,
    requests: usize,
    delay: Duration,
    cancels: usize,
}

#[derive(Clone)]
struct Shared {
    token: String,
    device_type: String,
    page_size: usize,
    inner: Arc<Mutex<Inner>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running fake; stops when dropped.
pub struct FakeLava {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeLava {
    /// Starts a fake that accepts `token` and has the device type `qemu`.
    pub async fn start(token: &str) -> std::io::Result<FakeLava> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Shared {
            token: token.to_owned(),
            device_type: "qemu".to_owned(),
            page_size: 2,
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let api = Router::new()
            .route("/api/v0.2/system/version/", get(version))
            .route("/api/v0.2/system/whoami/", get(whoami))
            .route("/api/v0.2/jobs/", post(submit))
            .route("/api/v0.2/jobs/validate/", post(validate))
            .route("/api/v0.2/jobs/{id}/", get(job))
            .route("/api/v0.2/jobs/{id}/logs/", get(logs))
            .route("/api/v0.2/jobs/{id}/tests/", get(tests))
            .route("/api/v0.2/jobs/{id}/suites/", get(suites))
            .route("/api/v0.2/jobs/{id}/cancel/", get(cancel))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, api)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(FakeLava {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next submission runs this job.
    pub fn push_job(&self, job: FakeJob) {
        self.shared.lock().queue.push_back(job);
    }

    /// Every answer waits this long first (a slow or hung server).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().delay = delay;
    }

    pub fn submissions(&self) -> usize {
        self.shared.lock().submissions
    }

    pub fn requests(&self) -> usize {
        self.shared.lock().requests
    }

    pub fn cancels(&self) -> usize {
        self.shared.lock().cancels
    }

    /// The definition submitted as job `id`.
    pub fn definition(&self, id: u64) -> Option<String> {
        let inner = self.shared.lock();
        let index = usize::try_from(id).ok()?.checked_sub(1)?;
        inner.jobs.get(index).map(|j| j.definition.clone())
    }
}

impl Drop for FakeLava {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The delay, the request count, and the token check.
async fn enter(shared: &Shared, headers: &HeaderMap, auth: bool) -> Result<(), Response> {
    let delay = {
        let mut inner = shared.lock();
        inner.requests += 1;
        inner.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if !auth {
        return Ok(());
    }
    match headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Token "))
    {
        Some(token) if token == shared.token => Ok(()),
        Some(_) => Err(reply(
            StatusCode::FORBIDDEN,
            json!({"detail": "Invalid token."}),
        )),
        None => Err(reply(
            StatusCode::FORBIDDEN,
            json!({"detail": "Authentication credentials were not provided."}),
        )),
    }
}

async fn version(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = enter(&shared, &headers, false).await {
        return r;
    }
    reply(StatusCode::OK, json!({"version": "2023.01"}))
}

async fn whoami(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = enter(&shared, &headers, true).await {
        return r;
    }
    reply(StatusCode::OK, json!({"user": "admin"}))
}

/// LAVA's answer to a definition it refuses, if it does.
fn refusal(shared: &Shared, body: &Value) -> Option<String> {
    let Some(definition) = body.get("definition").and_then(Value::as_str) else {
        return Some("Problem with submitted job data: definition is required".to_owned());
    };
    match JobDefinition::from_yaml(definition) {
        Err(e) => Some(format!("Problem with submitted job data: {e}")),
        Ok(job) => match job.device_type {
            Some(t) if t == shared.device_type => None,
            Some(t) => Some(format!(
                "Devices unavailable: Device type '{t}' is unavailable."
            )),
            None => Some("Problem with submitted job data: device_type is required".to_owned()),
        },
    }
}

async fn submit(
    State(shared): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(r) = enter(&shared, &headers, true).await {
        return r;
    }
    if let Some(message) = refusal(&shared, &body) {
        return reply(StatusCode::BAD_REQUEST, json!({"message": message}));
    }
    let mut inner = shared.lock();
    inner.submissions += 1;
    let script = inner
        .queue
        .pop_front()
        .unwrap_or_else(|| FakeJob::finishing("Complete"));
    let definition = body
        .get("definition")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    inner.jobs.push(Job {
        script,
        looks: 0,
        canceled_at: None,
        definition,
    });
    let id = inner.jobs.len();
    reply(
        StatusCode::CREATED,
        json!({"message": "job(s) successfully submitted", "job_ids": [id]}),
    )
}

async fn validate(
    State(shared): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(r) = enter(&shared, &headers, false).await {
        return r;
    }
    // LAVA answers 200 either way.
    let message = match refusal(&shared, &body) {
        None => "Job valid.".to_owned(),
        Some(why) => format!("Job invalid: {why}"),
    };
    reply(StatusCode::OK, json!({"message": message}))
}

fn not_found() -> Response {
    reply(StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
}

/// The token check, then `answer` with the job `id` (404 when there is none).
async fn with_job(
    shared: &Shared,
    headers: &HeaderMap,
    id: usize,
    answer: impl FnOnce(&mut Job, usize) -> Response,
) -> Response {
    if let Err(r) = enter(shared, headers, true).await {
        return r;
    }
    let mut inner = shared.lock();
    let page_size = shared.page_size;
    match id.checked_sub(1).and_then(|i| inner.jobs.get_mut(i)) {
        Some(job) => answer(job, page_size),
        None => not_found(),
    }
}

/// The state of a job at its current look, and how many log lines are visible.
fn view(job: &Job) -> ((&'static str, &'static str), usize) {
    let last = job.script.states.len().saturating_sub(1);
    let step = job.looks.min(last);
    let mut state = job
        .script
        .states
        .get(step)
        .copied()
        .unwrap_or(("Finished", "Complete"));
    if let Some(at) = job.canceled_at {
        state = if job.looks > at {
            ("Finished", "Canceled")
        } else {
            ("Canceling", "Unknown")
        };
    }
    let visible = if state.0 == "Finished" {
        job.script.log.len()
    } else {
        (step * job.script.lines_per_look).min(job.script.log.len())
    };
    (state, visible)
}

async fn job(State(shared): State<Shared>, headers: HeaderMap, Path(id): Path<usize>) -> Response {
    with_job(&shared, &headers, id, |job, _| {
        let ((state, health), _) = view(job);
        job.looks = job.looks.saturating_add(1);
        let failure = job.script.failure_comment.clone();
        reply(
            StatusCode::OK,
            json!({
                "id": id,
                "submitter": "admin",
                "description": "fake job",
                "state": state,
                "health": health,
                "actual_device": "qemu-01",
                "submit_time": "2026-11-22T03:35:10.000000Z",
                "start_time": null,
                "end_time": null,
                "failure_comment": failure,
                "definition": job.definition,
            }),
        )
    })
    .await
}

#[derive(serde::Deserialize)]
struct Range {
    start: Option<usize>,
    end: Option<usize>,
}

async fn logs(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<usize>,
    Query(range): Query<Range>,
) -> Response {
    with_job(&shared, &headers, id, |job, _| {
        let (_, visible) = view(job);
        let start = range.start.unwrap_or(0);
        let end = range.end.unwrap_or(visible).min(visible);
        if start >= end {
            return not_found();
        }
        let mut text = String::new();
        for line in &job.script.log[start..end] {
            text.push_str(line);
            text.push('\n');
        }
        // While running, the line being written shows up without its end (LAVA's `end`-less read
        // does that; a reader must not take it as complete).
        if end < job.script.log.len()
            && let Some(next) = job.script.log.get(end)
        {
            text.push_str(&next[..next.len() / 2]);
        }
        (StatusCode::OK, [("content-type", "application/yaml")], text).into_response()
    })
    .await
}

#[derive(serde::Deserialize)]
struct PageQuery {
    page: Option<usize>,
}

fn page(id: usize, what: &str, rows: Vec<Value>, number: usize, size: usize) -> Response {
    let number = number.max(1);
    let count = rows.len();
    let results: Vec<Value> = rows
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    let next = (number * size < count).then(|| {
        format!(
            "http://lava.internal:8000/api/v0.2/jobs/{id}/{what}/?page={}",
            number + 1
        )
    });
    reply(
        StatusCode::OK,
        json!({"count": count, "next": next, "previous": null, "results": results}),
    )
}

fn suite_names(job: &Job) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (suite, _, _) in &job.script.tests {
        if !names.contains(suite) {
            names.push(suite.clone());
        }
    }
    names
}

async fn suites(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<usize>,
    Query(q): Query<PageQuery>,
) -> Response {
    with_job(&shared, &headers, id, |job, page_size| {
        let rows = suite_names(job)
            .into_iter()
            .enumerate()
            .map(|(i, name)| json!({"id": i + 1, "name": name, "job": id}))
            .collect();
        page(id, "suites", rows, q.page.unwrap_or(1), page_size)
    })
    .await
}

async fn tests(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<usize>,
    Query(q): Query<PageQuery>,
) -> Response {
    with_job(&shared, &headers, id, |job, page_size| {
        let names = suite_names(job);
        let rows = job
            .script
            .tests
            .iter()
            .enumerate()
            .map(|(i, (suite, name, result))| {
                let suite_id = names.iter().position(|n| n == suite).map_or(0, |p| p + 1);
                json!({
                    "id": i + 1, "name": name, "result": result, "measurement": null,
                    "unit": "", "suite": suite_id, "test_set": null, "start_log_line": null,
                    "end_log_line": null, "logged": "2026-11-22T03:35:22.700443Z",
                    "metadata": format!("case: {name}\ndefinition: {suite}\nresult: {result}\n"),
                })
            })
            .collect();
        page(id, "tests", rows, q.page.unwrap_or(1), page_size)
    })
    .await
}

async fn cancel(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<usize>,
) -> Response {
    shared.lock().cancels += 1;
    with_job(&shared, &headers, id, |job, _| {
        let ((state, _), _) = view(job);
        if state != "Finished" && job.canceled_at.is_none() {
            job.canceled_at = Some(job.looks);
        }
        reply(
            StatusCode::OK,
            json!({"message": "Job cancel signal sent."}),
        )
    })
    .await
}

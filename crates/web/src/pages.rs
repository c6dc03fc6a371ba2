//! The HTML pages.

use std::collections::HashMap;
use std::path::PathBuf;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use gauntlet_store::{Id, RunFilter, SUBMISSION_STATES};
use serde::Serialize;

use crate::logs::{self, Range};
use crate::query::Params;
use crate::render::page;
use crate::view::{Job, Submission};
use crate::{App, Error, Result, submission};

const STYLE: &str = include_str!("../static/style.css");
const LOG_JS: &str = include_str!("../static/log.js");
const LIVE_JS: &str = include_str!("../static/live.js");

/// Lines the log viewer shows by default.
const WINDOW: u64 = 1000;
/// Lines shown before the one a link points at.
const BEFORE_LINE: u64 = 100;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/", get(list))
        .route("/runs/{id}", get(run_page))
        .route("/runs/{id}/events", get(crate::live::run_events))
        .route("/series/{id}", get(series_page))
        .route("/jobs/{id}/log", get(job_log))
        .route("/jobs/{id}/log.txt", get(job_log_raw))
        .route("/runs/{id}/files/{index}", get(run_file))
        .route("/runs/{id}/files/{index}/raw", get(run_file_raw))
        .route("/status", get(status))
        .route("/static/style.css", get(style))
        .route("/static/log.js", get(log_js))
        .route("/static/live.js", get(live_js))
}

/// An error as a page.
pub(crate) struct PageError(Error);

impl<E: Into<Error>> From<E> for PageError {
    fn from(e: E) -> PageError {
        PageError(e.into())
    }
}

#[derive(Serialize)]
struct ErrorPage {
    title: String,
    status: u16,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let message = self.0.public_message();
        let body = crate::render::render(
            "gauntlet",
            "error.html",
            ErrorPage {
                title: status.canonical_reason().unwrap_or("error").to_owned(),
                status: status.as_u16(),
                message: message.clone(),
            },
        );
        let mut response = match body {
            Ok(html) => (status, html).into_response(),
            Err(_) => (status, message).into_response(),
        };
        crate::auth::challenge(&self.0, &mut response);
        response
    }
}

pub(crate) type PageResult<T = Response> = std::result::Result<T, PageError>;

pub(crate) fn id_of(text: &str) -> Result<Id> {
    text.parse()
        .map_err(|_| Error::NotFound(format!("no such id: {text:?}")))
}

#[derive(Serialize)]
struct Filters {
    project: Option<String>,
    state: Option<String>,
    submitter: Option<String>,
    q: Option<String>,
}

#[derive(Serialize)]
struct ListPage {
    title: String,
    rows: Vec<Submission>,
    filters: Filters,
    states: &'static [&'static str],
    newer: Option<String>,
    older: Option<String>,
    first: Option<String>,
}

async fn list(State(app): State<App>, Query(query): Query<HashMap<String, String>>) -> PageResult {
    let params = Params::from_map(query);
    let per_page = params.number("per_page")?.unwrap_or(50).clamp(1, 500);
    let before = params.number("before")?;
    let after = params.number("after")?;
    let filter = RunFilter {
        project: params.text("project"),
        state: params.text("state"),
        submitter: params.text("submitter"),
        search: params.text("q"),
        series: params.number("series")?,
        before,
        after: after.filter(|_| before.is_none()),
        offset: 0,
        limit: per_page + 1,
    };
    let mut rows = app.store.submissions(&filter).await?;
    let more = rows.len() as i64 > per_page;
    let by_after = filter.after.is_some();
    if more {
        if by_after {
            rows.remove(0);
        } else {
            rows.pop();
        }
    }
    let paged = before.is_some() || by_after;
    let link = |key: &str, id: Id| {
        format!(
            "/?{}",
            params.with(&[
                ("before", None),
                ("after", None),
                (key, Some(id.to_string()))
            ])
        )
    };
    let newer = match rows.first() {
        Some(first) if (by_after && more) || (!by_after && paged) => {
            Some(link("after", first.run.id))
        }
        _ => None,
    };
    let older = match rows.last() {
        Some(last) if more || by_after => Some(link("before", last.run.id)),
        _ => None,
    };
    let first = paged.then(|| format!("/?{}", params.with(&[("before", None), ("after", None)])));
    let context = ListPage {
        title: "Submissions".to_owned(),
        rows: rows.iter().map(Submission::from).collect(),
        filters: Filters {
            project: filter.project.clone(),
            state: filter.state.clone(),
            submitter: filter.submitter.clone(),
            q: filter.search.clone(),
        },
        states: &SUBMISSION_STATES,
        newer,
        older,
        first,
    };
    Ok(page(&app, "list.html", context)?.into_response())
}

async fn run_page(State(app): State<App>, Path(id): Path<String>) -> PageResult {
    let id = id_of(&id)?;
    let detail = app
        .store
        .run_detail(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no run {id}")))?;
    let series = app.store.series_detail(detail.run.series).await?;
    let context = submission::page(&app, series, Some(detail)).await?;
    Ok(page(&app, "submission.html", context)?.into_response())
}

async fn series_page(State(app): State<App>, Path(id): Path<String>) -> PageResult {
    let id = id_of(&id)?;
    let series = app
        .store
        .series_detail(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no series {id}")))?;
    if let Some(run) = app.store.latest_runs_of(&[id]).await?.get(&id) {
        return Ok(Redirect::to(&format!("/runs/{}", run.id)).into_response());
    }
    let context = submission::page(&app, Some(series), None).await?;
    Ok(page(&app, "submission.html", context)?.into_response())
}

/// A log found by id.
pub(crate) struct Log {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    pub(crate) run: Id,
    pub(crate) job: Option<Job>,
    /// The viewer's own URL (without a query).
    pub(crate) url: String,
    pub(crate) raw_url: String,
}

pub(crate) async fn find_job_log(app: &App, id: &str) -> Result<Log> {
    let id = id_of(id)?;
    let job = app
        .store
        .job(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no job {id}")))?;
    let recorded = job
        .log
        .clone()
        .ok_or_else(|| Error::NotFound(format!("job {id} has no log")))?;
    let artifacts = app.artifacts.clone();
    let path = tokio::task::spawn_blocking(move || logs::job_log_path(&artifacts, &recorded))
        .await
        .ok()
        .flatten()
        .ok_or_else(|| Error::NotFound(format!("the log of job {id} is not there")))?;
    Ok(Log {
        path,
        name: format!("{} {}", job.stage, job.name),
        run: job.run,
        url: format!("/jobs/{id}/log"),
        raw_url: format!("/jobs/{id}/log.txt"),
        job: Some(Job::new(&job, false)),
    })
}

pub(crate) async fn find_run_file(app: &App, run: &str, index: &str) -> Result<Log> {
    let run = id_of(run)?;
    let index: usize = index
        .parse()
        .map_err(|_| Error::NotFound(format!("no such file: {index:?}")))?;
    let artifacts = app.artifacts.clone();
    let (file, path) =
        tokio::task::spawn_blocking(move || logs::run_file_path(&artifacts, run, index))
            .await
            .ok()
            .flatten()
            .ok_or_else(|| Error::NotFound(format!("run {run} has no file {index}")))?;
    Ok(Log {
        path,
        name: file.name,
        run,
        job: None,
        url: format!("/runs/{run}/files/{index}"),
        raw_url: format!("/runs/{run}/files/{index}/raw"),
    })
}

/// The lines of `log` that `params` ask for: `from`/`to`, or around `line`, or the first
/// [`WINDOW`].
pub(crate) async fn read_lines(app: &App, log: &Log, params: &Params) -> Result<Range> {
    let index = {
        let app = app.clone();
        let path = log.path.clone();
        tokio::task::spawn_blocking(move || app.indexes.get(&path))
            .await
            .map_err(|e| Error::Io {
                context: "indexing a log".into(),
                source: std::io::Error::other(e.to_string()),
            })??
    };
    let non_negative =
        |name: &str| -> Result<Option<u64>> { Ok(params.number(name)?.map(|n| n.max(0) as u64)) };
    let (from, to) = match (
        non_negative("from")?,
        non_negative("to")?,
        non_negative("line")?,
    ) {
        (Some(from), to, _) => (from, to.unwrap_or(from.saturating_add(WINDOW - 1))),
        (None, Some(to), _) => (to.saturating_sub(WINDOW - 1).max(1), to),
        (None, None, Some(line)) => {
            let from = line.saturating_sub(BEFORE_LINE).max(1);
            (from, from + WINDOW - 1)
        }
        (None, None, None) if params.text("tail").is_some() => {
            (index.lines.saturating_sub(WINDOW - 1).max(1), index.lines)
        }
        (None, None, None) => (1, WINDOW),
    };
    let path = log.path.clone();
    tokio::task::spawn_blocking(move || logs::read_range(&path, &index, from, to))
        .await
        .map_err(|e| Error::Io {
            context: "reading a log".into(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(|source| Error::Io {
            context: format!("reading {}", log.path.display()),
            source,
        })
}

#[derive(Serialize)]
struct Line {
    n: u64,
    text: String,
}

#[derive(Serialize)]
struct LogPage {
    title: String,
    run: Id,
    job: Option<Job>,
    from: u64,
    to: u64,
    total: u64,
    size: u64,
    lines: Vec<Line>,
    first: Option<String>,
    prev: Option<String>,
    next: Option<String>,
    last: Option<String>,
    raw_url: String,
    range_url: String,
}

async fn log_page(app: App, log: Log, params: Params) -> PageResult {
    let range = read_lines(&app, &log, &params).await?;
    let span = (range.to + 1).saturating_sub(range.from).max(WINDOW);
    let at = |from: u64, to: u64| format!("{}?from={from}&to={to}", log.url);
    let context = LogPage {
        title: log.name.clone(),
        run: log.run,
        first: (range.from > 1).then(|| at(1, span)),
        prev: (range.from > 1).then(|| {
            let from = range.from.saturating_sub(span).max(1);
            at(from, range.from - 1)
        }),
        next: (range.to < range.total).then(|| at(range.to + 1, range.to + span)),
        last: (range.to < range.total)
            .then(|| at(range.total.saturating_sub(span - 1).max(1), range.total)),
        raw_url: log.raw_url.clone(),
        range_url: format!("{}?from={}&to={}", log.raw_url, range.from, range.to),
        job: log.job,
        from: range.from,
        to: range.to,
        total: range.total,
        size: range.size,
        lines: range
            .lines
            .into_iter()
            .zip(range.from..)
            .map(|(text, n)| Line { n, text })
            .collect(),
    };
    Ok(page(&app, "log.html", context)?.into_response())
}

async fn job_log(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let log = find_job_log(&app, &id).await?;
    log_page(app, log, Params::from_map(query)).await
}

async fn run_file(
    State(app): State<App>,
    Path((run, index)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let log = find_run_file(&app, &run, &index).await?;
    log_page(app, log, Params::from_map(query)).await
}

/// The log as plain text: a range of lines, or the whole file streamed.
async fn raw(app: App, log: Log, params: Params) -> PageResult {
    let text_plain = [
        (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        (header::CONTENT_DISPOSITION, "inline"),
    ];
    if ["from", "to", "line", "tail"]
        .iter()
        .any(|k| params.0.contains_key(*k))
    {
        let range = read_lines(&app, &log, &params).await?;
        let mut body = range.lines.join("\n");
        if !body.is_empty() {
            body.push('\n');
        }
        return Ok((text_plain, body).into_response());
    }
    let file = tokio::fs::File::open(&log.path)
        .await
        .map_err(|source| Error::Io {
            context: format!("opening {}", log.path.display()),
            source,
        })?;
    let stream = futures::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok((text_plain, Body::from_stream(stream)).into_response())
}

async fn job_log_raw(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let log = find_job_log(&app, &id).await?;
    raw(app, log, Params::from_map(query)).await
}

async fn run_file_raw(
    State(app): State<App>,
    Path((run, index)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let log = find_run_file(&app, &run, &index).await?;
    raw(app, log, Params::from_map(query)).await
}

#[derive(Serialize)]
struct StatusPage {
    title: String,
    status: crate::api::Status,
}

async fn status(State(app): State<App>) -> PageResult {
    let status = crate::api::status_of(&app).await?;
    let context = StatusPage {
        title: "Status".to_owned(),
        status,
    };
    Ok(page(&app, "status.html", context)?.into_response())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn log_js() -> Response {
    asset("text/javascript; charset=utf-8", LOG_JS)
}

async fn live_js() -> Response {
    asset("text/javascript; charset=utf-8", LIVE_JS)
}

//! The REST API under `/api/v1/`: JSON, read-only, paged with `?page=`/`?per_page=` and a
//! `Link` header, described by [`OPENAPI`].

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gauntlet_store::{Id, JobFilter, ResultFilter, RunFilter, SeriesPageFilter};
use serde::Serialize;

use crate::logs::run_files;
use crate::pages::{Log, find_job_log, find_run_file, read_lines};
use crate::query::{Page, Params};
use crate::view::{Finding, Job, Patch, Revision, Run, Series, Submission, TestResult};
use crate::{App, Error, Result};

/// The OpenAPI 3.1 description of this API, served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

const PER_PAGE: i64 = 50;
const MAX_PER_PAGE: i64 = 500;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/submissions", get(submissions))
        .route("/submissions/{id}", get(submission))
        .route("/series", get(series_list))
        .route("/series/{id}", get(series_one))
        .route("/patches", get(patches))
        .route("/patches/{id}", get(patch))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/runs/{id}/rerun", post(crate::write::rerun))
        .route("/runs/{id}/cancel", post(crate::write::cancel))
        .route("/runs/{id}/findings", get(findings))
        .route("/runs/{id}/files", get(files))
        .route("/runs/{id}/files/{index}/lines", get(file_lines))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/log", get(job_log))
        .route("/results", get(results))
        .route("/status", get(status))
        .fallback(unknown)
}

/// An error as JSON: `{"error": "…"}`.
pub(crate) struct ApiError(Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        ApiError(e.into())
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.0.status(),
            Json(ErrorBody {
                error: self.0.public_message(),
            }),
        )
            .into_response();
        crate::auth::challenge(&self.0, &mut response);
        response
    }
}

pub(crate) type ApiResult<T = Response> = std::result::Result<T, ApiError>;

async fn unknown() -> ApiError {
    ApiError(Error::NotFound("no such endpoint".into()))
}

pub(crate) fn id_of(text: &str) -> Result<Id> {
    text.parse()
        .map_err(|_| Error::NotFound(format!("no such id: {text:?}")))
}

/// A page of items with its `Link` header (one item more than a page was fetched: it tells
/// whether there is a next page).
fn paged<T: Serialize>(path: &str, params: &Params, page: Page, mut items: Vec<T>) -> Response {
    let more = items.len() as i64 > page.per_page;
    items.truncate(page.per_page as usize);
    let mut response = Json(items).into_response();
    if let Ok(link) = HeaderValue::from_str(&page.link(path, params, more)) {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI.to_owned(),
    )
        .into_response()
}

fn run_filter(params: &Params, page: Page) -> Result<RunFilter> {
    Ok(RunFilter {
        project: params.text("project"),
        state: params.text("state"),
        submitter: params.text("submitter"),
        search: params.text("q"),
        series: params.number("series")?,
        before: None,
        after: None,
        offset: page.offset(),
        limit: page.fetch(),
    })
}

async fn submissions(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let params = Params::from_map(query);
    let page = params.page(PER_PAGE, MAX_PER_PAGE)?;
    let rows = app.store.submissions(&run_filter(&params, page)?).await?;
    let items: Vec<Submission> = rows.iter().map(Submission::from).collect();
    Ok(paged("/api/v1/submissions", &params, page, items))
}

/// A run with its series, jobs, findings and results.
#[derive(Serialize)]
struct SubmissionDetail {
    #[serde(flatten)]
    submission: Submission,
    run: Run,
    jobs: Vec<Job>,
    findings: Vec<Finding>,
    results: Vec<TestResult>,
}

async fn submission(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let id = id_of(&id)?;
    let row = app
        .store
        .submissions(&RunFilter {
            before: Some(id + 1),
            limit: 1,
            ..RunFilter::default()
        })
        .await?
        .into_iter()
        .find(|r| r.run.id == id)
        .ok_or_else(|| Error::NotFound(format!("no submission {id}")))?;
    let detail = run_parts(&app, id).await?;
    Ok(Json(SubmissionDetail {
        submission: Submission::from(&row),
        run: detail.run,
        jobs: detail.jobs,
        findings: detail.findings,
        results: detail.results,
    })
    .into_response())
}

async fn series_list(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let params = Params::from_map(query);
    let page = params.page(PER_PAGE, MAX_PER_PAGE)?;
    let rows = app
        .store
        .series_page(&SeriesPageFilter {
            list_id: params.text("list_id"),
            submitter: params.text("submitter"),
            search: params.text("q"),
            offset: page.offset(),
            limit: page.fetch(),
        })
        .await?;
    let items: Vec<Series> = rows.iter().map(Series::from).collect();
    Ok(paged("/api/v1/series", &params, page, items))
}

#[derive(Serialize)]
struct SeriesDetail {
    #[serde(flatten)]
    series: Series,
    cover: Option<Patch>,
    patches: Vec<Patch>,
    /// Every revision of the work, oldest first.
    revision_list: Vec<Revision>,
    /// Runs of this series, newest first.
    runs: Vec<Run>,
}

async fn series_detail(app: &App, id: Id) -> Result<gauntlet_store::SeriesDetail> {
    app.store
        .series_detail(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no series {id}")))
}

async fn series_one(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let id = id_of(&id)?;
    let detail = series_detail(&app, id).await?;
    let runs = app.store.runs_of_series(id).await?;
    Ok(Json(SeriesDetail {
        series: Series::from(&detail.summary),
        cover: detail.cover.as_ref().map(|c| Patch::new(c, Vec::new())),
        patches: patches_with_files(&app, &detail.patches).await?,
        revision_list: detail.revisions.iter().map(Revision::from).collect(),
        runs: runs.iter().map(Run::from).collect(),
    })
    .into_response())
}

async fn patches_with_files(
    app: &App,
    patches: &[gauntlet_store::MessageSummary],
) -> Result<Vec<Patch>> {
    crate::submission::patches(app, patches).await
}

async fn patches(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let params = Params::from_map(query);
    let page = params.page(PER_PAGE, MAX_PER_PAGE)?;
    let series = params
        .number("series")?
        .ok_or_else(|| Error::BadRequest("patches are listed by series: ?series=ID".into()))?;
    let detail = series_detail(&app, series).await?;
    let chosen: Vec<_> = detail
        .patches
        .iter()
        .skip(page.offset().max(0) as usize)
        .take(page.fetch() as usize)
        .cloned()
        .collect();
    let items = patches_with_files(&app, &chosen).await?;
    Ok(paged("/api/v1/patches", &params, page, items))
}

async fn patch(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let id = id_of(&id)?;
    let not_found = || Error::NotFound(format!("no patch {id}"));
    let message = app
        .store
        .messages_by_id(&[id])
        .await?
        .remove(&id)
        .ok_or_else(not_found)?;
    let series = message.series.ok_or_else(not_found)?;
    let detail = series_detail(&app, series).await?;
    let summary = detail
        .patches
        .iter()
        .chain(detail.cover.iter())
        .find(|p| p.id == id)
        .cloned()
        .ok_or_else(not_found)?;
    let mut found = patches_with_files(&app, &[summary]).await?;
    let patch = found.pop().ok_or_else(not_found)?;
    Ok(Json(patch).into_response())
}

async fn runs(State(app): State<App>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let params = Params::from_map(query);
    let page = params.page(PER_PAGE, MAX_PER_PAGE)?;
    let rows = app.store.submissions(&run_filter(&params, page)?).await?;
    let items: Vec<Run> = rows.iter().map(|r| Run::from(&r.run)).collect();
    Ok(paged("/api/v1/runs", &params, page, items))
}

struct RunParts {
    run: Run,
    jobs: Vec<Job>,
    findings: Vec<Finding>,
    results: Vec<TestResult>,
}

async fn run_parts(app: &App, id: Id) -> Result<RunParts> {
    let detail = app
        .store
        .run_detail(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no run {id}")))?;
    let findings = app.store.findings_of_run(id).await?;
    let results = app
        .store
        .results_page(&ResultFilter {
            run: Some(id),
            limit: 100_000,
            ..ResultFilter::default()
        })
        .await?;
    Ok(RunParts {
        run: Run::from(&detail.run),
        jobs: detail.jobs.iter().map(|j| Job::new(j, true)).collect(),
        findings: findings.iter().map(Finding::from).collect(),
        results: results.iter().map(TestResult::from).collect(),
    })
}

#[derive(Serialize)]
struct RunDetail {
    #[serde(flatten)]
    run: Run,
    jobs: Vec<Job>,
}

async fn run(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let parts = run_parts(&app, id_of(&id)?).await?;
    Ok(Json(RunDetail {
        run: parts.run,
        jobs: parts.jobs,
    })
    .into_response())
}

async fn findings(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let parts = run_parts(&app, id_of(&id)?).await?;
    Ok(Json(parts.findings).into_response())
}

#[derive(Serialize)]
struct FileItem {
    index: usize,
    name: String,
    size: u64,
    url: String,
    lines_url: String,
}

async fn files(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let id = id_of(&id)?;
    app.store
        .run_detail(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no run {id}")))?;
    let artifacts = app.artifacts.clone();
    let list = tokio::task::spawn_blocking(move || run_files(&artifacts, id))
        .await
        .unwrap_or_default();
    let items: Vec<FileItem> = list
        .into_iter()
        .map(|f| FileItem {
            url: format!("/runs/{id}/files/{}", f.index),
            lines_url: format!("/api/v1/runs/{id}/files/{}/lines", f.index),
            index: f.index,
            name: f.name,
            size: f.size,
        })
        .collect();
    Ok(Json(items).into_response())
}

/// A range of a log's lines.
#[derive(Serialize)]
struct Lines {
    name: String,
    run: Id,
    job: Option<Id>,
    from: u64,
    to: u64,
    total_lines: u64,
    size: u64,
    lines: Vec<String>,
    /// The first line of the next range, when there is one.
    next: Option<u64>,
    url: String,
}

async fn lines_of(app: &App, log: Log, query: HashMap<String, String>) -> ApiResult {
    let params = Params::from_map(query);
    let range = read_lines(app, &log, &params).await?;
    Ok(Json(Lines {
        name: log.name,
        run: log.run,
        job: log.job.map(|j| j.id),
        from: range.from,
        to: range.to,
        total_lines: range.total,
        size: range.size,
        next: (range.to < range.total).then_some(range.to + 1),
        lines: range.lines,
        url: log.url,
    })
    .into_response())
}

async fn file_lines(
    State(app): State<App>,
    Path((run, index)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let log = find_run_file(&app, &run, &index).await?;
    lines_of(&app, log, query).await
}

async fn job_log(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let log = find_job_log(&app, &id).await?;
    lines_of(&app, log, query).await
}

async fn jobs(State(app): State<App>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let params = Params::from_map(query);
    let page = params.page(PER_PAGE, MAX_PER_PAGE)?;
    let rows = app
        .store
        .jobs_page(&JobFilter {
            run: params.number("run")?,
            stage: params.text("stage"),
            state: params.text("state"),
            status: params.text("status"),
            offset: page.offset(),
            limit: page.fetch(),
        })
        .await?;
    let items: Vec<Job> = rows.iter().map(|j| Job::new(j, false)).collect();
    Ok(paged("/api/v1/jobs", &params, page, items))
}

async fn job(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    let id = id_of(&id)?;
    let job = app
        .store
        .job(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no job {id}")))?;
    Ok(Json(Job::new(&job, true)).into_response())
}

async fn results(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let params = Params::from_map(query);
    let page = params.page(PER_PAGE, MAX_PER_PAGE)?;
    let rows = app
        .store
        .results_page(&ResultFilter {
            run: params.number("run")?,
            job: params.number("job")?,
            suite: params.text("suite"),
            status: params.text("status"),
            offset: page.offset(),
            limit: page.fetch(),
        })
        .await?;
    let items: Vec<TestResult> = rows.iter().map(TestResult::from).collect();
    Ok(paged("/api/v1/results", &params, page, items))
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Count {
    state: String,
    count: i64,
}

/// What the status page shows.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Status {
    runs: Vec<Count>,
    jobs: Vec<Count>,
    series: i64,
    mails: i64,
    recent_errors: Vec<Job>,
    /// The service's workers and what they hold.
    workers: Vec<Worker>,
    /// Each source's last poll.
    sources: Vec<Source>,
}

/// A registered worker, as the status page shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Worker {
    name: String,
    host: String,
    capabilities: Vec<String>,
    state: String,
    heartbeat_at: i64,
    /// Jobs it holds a lease on.
    jobs: usize,
}

/// A source of mail and how its polls went.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Source {
    name: String,
    last_poll_at: Option<i64>,
    last_ok_at: Option<i64>,
    last_error: Option<String>,
}

/// Jobs the status page looks through for errors.
const ERRORS_AMONG: i64 = 10_000;
/// How long the status page's counts are kept (counting 100,000 runs takes a while).
const STATUS_TTL: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) async fn status_of(app: &App) -> Result<Status> {
    if let Ok(cached) = app.status.lock()
        && let Some((at, status)) = &*cached
        && at.elapsed() < STATUS_TTL
    {
        return Ok(status.clone());
    }
    let counts = app.store.web_counts().await?;
    let errors = app.store.recent_errors(20, ERRORS_AMONG).await?;
    let count = |v: Vec<(String, i64)>| {
        v.into_iter()
            .map(|(state, count)| Count { state, count })
            .collect()
    };
    let status = Status {
        runs: count(counts.runs),
        jobs: count(counts.jobs),
        series: counts.series,
        mails: counts.mails,
        recent_errors: errors.iter().map(|j| Job::new(j, false)).collect(),
        workers: app
            .store
            .workers()
            .await?
            .into_iter()
            .map(|w| Worker {
                jobs: w.jobs.len(),
                name: w.name,
                host: w.host,
                capabilities: w.capabilities,
                state: w.state,
                heartbeat_at: w.heartbeat_at,
            })
            .collect(),
        sources: app
            .store
            .source_states()
            .await?
            .into_iter()
            .map(|s| Source {
                name: s.name,
                last_poll_at: s.last_poll_at,
                last_ok_at: s.last_ok_at,
                last_error: s.last_error,
            })
            .collect(),
    };
    if let Ok(mut cached) = app.status.lock() {
        *cached = Some((std::time::Instant::now(), status.clone()));
    }
    Ok(status)
}

async fn status(State(app): State<App>) -> ApiResult {
    Ok((StatusCode::OK, Json(status_of(&app).await?)).into_response())
}

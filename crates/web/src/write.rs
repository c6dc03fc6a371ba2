//! The API's write actions: `POST /api/v1/runs/{id}/rerun` and `POST /api/v1/runs/{id}/cancel`,
//! each with a token (`Authorization: Bearer`). The token is checked before anything else,
//! so that nothing about runs is told without one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use gauntlet_store::{Id, RunFilter, RunSummary, submission_state, unix_now};
use serde::Serialize;

use crate::api::{ApiResult, id_of};
use crate::auth::authorize;
use crate::{App, Error, Result};

/// A run as the list reads it; `None` when there is no such run.
pub(crate) async fn run_summary(app: &App, run: Id) -> Result<Option<RunSummary>> {
    Ok(app
        .store
        .submissions(&RunFilter {
            before: Some(run.saturating_add(1)),
            limit: 1,
            ..RunFilter::default()
        })
        .await?
        .into_iter()
        .find(|r| r.run.id == run)
        .map(|r| r.run))
}

async fn existing(app: &App, run: &str) -> Result<RunSummary> {
    let id = id_of(run)?;
    run_summary(app, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no run {id}")))
}

fn ended(run: &RunSummary) -> bool {
    !matches!(run.state.as_str(), "queued" | "running")
}

#[derive(Serialize)]
struct Rerun {
    /// The new run.
    run: Id,
    rerun_of: Id,
    url: String,
    by: String,
}

/// `POST /api/v1/runs/{id}/rerun`: the run's series and project queued again (202).
pub(crate) async fn rerun(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let by = authorize(&app, &headers).await?;
    let old = existing(&app, &id).await?;
    let Some(actions) = app.actions.as_ref() else {
        return Err(Error::NotImplemented(
            "reruns are not available here: this server was started without the service".into(),
        )
        .into());
    };
    let run = actions.rerun(old.id).await.map_err(Error::from)?;
    tracing::info!(
        run,
        rerun_of = old.id,
        by,
        "rerun requested through the API"
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(Rerun {
            run,
            rerun_of: old.id,
            url: format!("/runs/{run}"),
            by,
        }),
    )
        .into_response())
}

#[derive(Serialize)]
struct Cancel {
    run: Id,
    /// The run's state after the request: `cancelled`, or still `running` while its running
    /// jobs stop.
    state: String,
    by: String,
}

/// `POST /api/v1/runs/{id}/cancel`: a queued or running run cancelled (202); 409 when it has
/// ended or is not run by the queue.
pub(crate) async fn cancel(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let by = authorize(&app, &headers).await?;
    let run = existing(&app, &id).await?;
    if ended(&run) {
        return Err(Error::Conflict(format!(
            "run {} has ended ({})",
            run.id,
            submission_state(&run)
        ))
        .into());
    }
    match app.actions.as_ref() {
        Some(actions) => actions.cancel(run.id).await.map_err(Error::from)?,
        None => {
            let done = app
                .store
                .cancel_run(
                    run.id,
                    &format!("cancelled through the web by {by}"),
                    unix_now(),
                )
                .await?;
            if done.runs.is_empty() {
                return Err(Error::Conflict(format!(
                    "run {} cannot be cancelled (it is not run by the queue)",
                    run.id
                ))
                .into());
            }
        }
    }
    tracing::info!(run = run.id, by, "run cancelled through the API");
    let state = run_summary(&app, run.id)
        .await?
        .map_or_else(|| "cancelled".to_owned(), |r| r.state);
    Ok((
        StatusCode::ACCEPTED,
        Json(Cancel {
            run: run.id,
            state,
            by,
        }),
    )
        .into_response())
}

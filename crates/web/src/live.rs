//! Live progress: `GET /runs/{id}/events`, server-sent events with the run's state and its
//! jobs' states.
//!
//! The server reads the store every [`crate::WebState::events_interval`] (500 ms by default)
//! and sends a `jobs` event whenever what it read differs from what it last sent (the first
//! read is always sent). When the run has ended (done or cancelled) the stream sends an `end`
//! event and closes; a client that connects to an ended run gets one `jobs` event and the
//! `end`. `/static/live.js` uses it to update the submission page's job rows in place.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use gauntlet_store::{Id, JobFilter, submission_state};
use serde::Serialize;

use crate::pages::{PageResult, id_of};
use crate::render::duration;
use crate::{App, Error, Result};

/// The most jobs one event carries (a run has a few dozen).
const MAX_JOBS: i64 = 10_000;

/// What one `jobs` event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Snapshot {
    run: Id,
    /// queued, running, done, cancelled.
    state: String,
    /// What the list shows: queued, running, accepted, rejected, error, cancelled.
    submission_state: String,
    ended: bool,
    jobs: Vec<JobState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct JobState {
    id: Id,
    stage: String,
    name: String,
    state: String,
    status: Option<String>,
    /// The word the page shows: the status when there is one, else the state.
    label: String,
    duration_ms: Option<i64>,
    /// `duration_ms` as the page writes it.
    duration: Option<String>,
    log_url: Option<String>,
}

/// The run and its jobs as they are now; `None` when there is no such run.
async fn snapshot(app: &App, run: Id) -> Result<Option<Snapshot>> {
    let Some(summary) = crate::write::run_summary(app, run).await? else {
        return Ok(None);
    };
    let jobs = app
        .store
        .jobs_page(&JobFilter {
            run: Some(run),
            limit: MAX_JOBS,
            ..JobFilter::default()
        })
        .await?;
    let state = summary.state.clone();
    Ok(Some(Snapshot {
        run,
        ended: !matches!(state.as_str(), "queued" | "running"),
        submission_state: submission_state(&summary).to_owned(),
        state,
        jobs: jobs
            .into_iter()
            .map(|j| JobState {
                label: j.status.clone().unwrap_or_else(|| j.state.clone()),
                duration: j.duration_ms.map(duration),
                log_url: j.log.is_some().then(|| format!("/jobs/{}/log", j.id)),
                id: j.id,
                stage: j.stage,
                name: j.name,
                state: j.state,
                status: j.status,
                duration_ms: j.duration_ms,
            })
            .collect(),
    }))
}

fn jobs_event(snapshot: &Snapshot) -> Event {
    match Event::default().event("jobs").json_data(snapshot) {
        Ok(event) => event,
        Err(e) => {
            tracing::error!("web: events of run {}: {e}", snapshot.run);
            Event::default().event("error").data("internal error")
        }
    }
}

/// Where a stream stands between two events.
enum Phase {
    /// This snapshot is to be sent next.
    Send(Snapshot),
    /// The last snapshot sent: read again until something changes.
    Watch(Snapshot),
    /// The run has ended: the `end` event is next.
    End,
    Closed,
}

fn events(
    app: App,
    first: Snapshot,
    every: Duration,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(Phase::Send(first), move |phase| {
        let app = app.clone();
        async move {
            match phase {
                Phase::Send(s) => {
                    let event = jobs_event(&s);
                    Some((Ok(event), next_after(s)))
                }
                Phase::Watch(last) => loop {
                    tokio::time::sleep(every).await;
                    match snapshot(&app, last.run).await {
                        Ok(Some(now)) if now == last => continue,
                        Ok(Some(now)) => break Some((Ok(jobs_event(&now)), next_after(now))),
                        Ok(None) => break Some((Ok(end_event("gone")), Phase::Closed)),
                        Err(e) => {
                            tracing::warn!("web: events of run {}: {e}", last.run);
                            break Some((Ok(end_event("error")), Phase::Closed));
                        }
                    }
                },
                Phase::End => Some((Ok(end_event("ended")), Phase::Closed)),
                Phase::Closed => None,
            }
        }
    })
}

fn next_after(sent: Snapshot) -> Phase {
    if sent.ended {
        Phase::End
    } else {
        Phase::Watch(sent)
    }
}

fn end_event(why: &str) -> Event {
    Event::default().event("end").data(why)
}

/// `GET /runs/{id}/events`.
pub(crate) async fn run_events(State(app): State<App>, Path(id): Path<String>) -> PageResult {
    let id = id_of(&id)?;
    let first = snapshot(&app, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no run {id}")))?;
    let every = app.events_interval;
    Ok(Sse::new(events(app, first, every))
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_run_ends_after_its_snapshot() {
        let s = Snapshot {
            run: 1,
            state: "done".into(),
            submission_state: "accepted".into(),
            ended: true,
            jobs: Vec::new(),
        };
        assert!(matches!(next_after(s.clone()), Phase::End));
        let running = Snapshot { ended: false, ..s };
        assert!(matches!(next_after(running), Phase::Watch(_)));
    }
}

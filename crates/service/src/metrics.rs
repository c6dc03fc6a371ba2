//! `/metrics` in Prometheus' text format (served with the web pages): runs by state, jobs by stage and state, the queue's
//! depth and latency, job durations by stage, workers, and each source's last poll.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use gauntlet_store::{DURATION_BUCKETS_MS, Store, unix_now};
use tokio::sync::watch;

use crate::Error;

/// The exposition, at `now`.
pub async fn render(store: &Store, now: i64) -> Result<String, Error> {
    let m = store.queue_metrics(now).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP gauntlet_runs Runs by state.\n# TYPE gauntlet_runs gauge"
    );
    for (state, count) in &m.runs {
        let _ = writeln!(out, "gauntlet_runs{{state=\"{state}\"}} {count}");
    }
    let _ = writeln!(
        out,
        "# HELP gauntlet_jobs Jobs by stage and state.\n# TYPE gauntlet_jobs gauge"
    );
    for j in &m.jobs {
        let _ = writeln!(
            out,
            "gauntlet_jobs{{stage=\"{}\",state=\"{}\"}} {}",
            j.stage, j.state, j.count
        );
    }
    let _ = writeln!(
        out,
        "# HELP gauntlet_queue_ready Jobs a worker could take now.\n# TYPE gauntlet_queue_ready gauge\ngauntlet_queue_ready {}",
        m.ready_jobs
    );
    let _ = writeln!(
        out,
        "# HELP gauntlet_queue_latency_seconds How long the oldest ready job has waited.\n# TYPE gauntlet_queue_latency_seconds gauge\ngauntlet_queue_latency_seconds {}",
        m.oldest_ready_age_s.unwrap_or(0)
    );
    let _ = writeln!(
        out,
        "# HELP gauntlet_job_duration_seconds Finished jobs' durations.\n# TYPE gauntlet_job_duration_seconds histogram"
    );
    for d in &m.durations {
        for (bound, count) in DURATION_BUCKETS_MS.iter().zip(&d.buckets) {
            let _ = writeln!(
                out,
                "gauntlet_job_duration_seconds_bucket{{stage=\"{}\",le=\"{}\"}} {count}",
                d.stage,
                *bound as f64 / 1000.0
            );
        }
        let _ = writeln!(
            out,
            "gauntlet_job_duration_seconds_bucket{{stage=\"{}\",le=\"+Inf\"}} {}\ngauntlet_job_duration_seconds_sum{{stage=\"{}\"}} {}\ngauntlet_job_duration_seconds_count{{stage=\"{}\"}} {}",
            d.stage,
            d.count,
            d.stage,
            d.sum_ms as f64 / 1000.0,
            d.stage,
            d.count
        );
    }
    let workers = store.workers().await?;
    let _ = writeln!(
        out,
        "# HELP gauntlet_workers Registered workers.\n# TYPE gauntlet_workers gauge\ngauntlet_workers {}",
        workers.len()
    );
    let _ = writeln!(
        out,
        "# HELP gauntlet_source_poll_lag_seconds Time since each source's last good poll.\n# TYPE gauntlet_source_poll_lag_seconds gauge"
    );
    for s in store.source_states().await? {
        if let Some(ok) = s.last_ok_at {
            let _ = writeln!(
                out,
                "gauntlet_source_poll_lag_seconds{{source=\"{}\"}} {}",
                s.name.replace(['"', '\\', '\n'], "_"),
                now.saturating_sub(ok)
            );
        }
    }
    Ok(out)
}

async fn metrics(State(store): State<Store>) -> impl IntoResponse {
    match render(&store, unix_now()).await {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            text,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            e.to_string(),
        ),
    }
}

/// Rerun and cancel for the web's write API, as the service does them.
pub struct ServiceActions {
    pub store: Store,
    pub pipeline: std::sync::Arc<gauntlet_pipeline::Pipeline>,
    pub projects: std::sync::Arc<Vec<gauntlet_project::Project>>,
}

impl gauntlet_web::Actions for ServiceActions {
    fn rerun(
        &self,
        run: gauntlet_store::Id,
    ) -> futures::future::BoxFuture<'_, Result<gauntlet_store::Id, gauntlet_web::ActionError>> {
        Box::pin(async move {
            use gauntlet_web::ActionError;
            let detail = self
                .store
                .run_detail(run)
                .await
                .map_err(|e| ActionError::Failed(e.to_string()))?
                .ok_or_else(|| ActionError::NotFound(format!("no run {run}")))?;
            let project = self
                .projects
                .iter()
                .find(|p| p.name == detail.run.project)
                .ok_or_else(|| {
                    ActionError::Conflict(format!(
                        "project {:?} is not served any more",
                        detail.run.project
                    ))
                })?;
            self.pipeline
                .enqueue(project, detail.run.series, unix_now())
                .await
                .map_err(|e| ActionError::Failed(e.to_string()))
        })
    }

    fn cancel(
        &self,
        run: gauntlet_store::Id,
    ) -> futures::future::BoxFuture<'_, Result<(), gauntlet_web::ActionError>> {
        Box::pin(async move {
            self.store
                .cancel_run(run, "cancelled through the API", unix_now())
                .await
                .map(|_| ())
                .map_err(|e| gauntlet_web::ActionError::Failed(e.to_string()))
        })
    }
}

/// Serves `/metrics` and the web pages and API (`gauntlet_web`) on `listen` until `shutdown`.
pub async fn serve(
    web: gauntlet_web::WebState,
    listen: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    let store = web.store.clone();
    let web = gauntlet_web::router(web);
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(store)
        .merge(web);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::Io {
            context: format!("listening on {listen}"),
            source: e,
        })?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
        .map_err(|e| Error::Io {
            context: "serving /metrics".into(),
            source: e,
        })
}

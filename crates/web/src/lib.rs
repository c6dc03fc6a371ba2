//! gauntlet's dashboard and REST API, as an axum [`Router`] that `gauntlet serve` mounts.
//!
//! Pages are rendered on the server from minijinja templates embedded in the binary, with
//! auto-escaping (every field that comes from a mail is attacker-controlled), and need no
//! JavaScript; two small scripts help where it is there: `/static/log.js` takes a log's
//! `#L123` anchor to the range that holds that line, `/static/live.js` updates a running
//! submission's page from its server-sent events (`/runs/{id}/events`). The JSON API lives
//! under `/api/v1/` and is described by the OpenAPI document at `/api/v1/openapi.json`; its
//! write actions (rerun, cancel) need a token (`Authorization: Bearer`), and so do reads when
//! [`WebState::private_reads`] is set. Logs are only ever named by ids (a job, or a run and
//! the place of a file in its directory), never by a path from the URL.
//!
//! Every response carries a strict Content-Security-Policy (no inline script or style),
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.

mod actions;
pub use actions::{ActionError, Actions};
mod api;
pub use api::OPENAPI;
mod auth;
mod live;
pub mod logs;
mod pages;
mod query;
mod render;
mod submission;
mod view;
mod write;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gauntlet_store::Store;

/// What the pages and the API read: the store and the artifacts directory (the logs of run
/// `N` are under `<artifacts>/runs/<N>/`); what the write actions call; who may read.
#[derive(Clone)]
pub struct WebState {
    pub store: Store,
    pub artifacts: PathBuf,
    /// Shown in the pages' header.
    pub title: String,
    /// How often a live page's event stream (`/runs/{id}/events`) reads the store.
    pub events_interval: std::time::Duration,
    /// What `POST /api/v1/runs/{id}/rerun` and `…/cancel` call (`gauntlet serve` provides
    /// it). Without it a rerun answers 501 and a cancel is the store's [`Store::cancel_run`].
    pub actions: Option<Arc<dyn Actions>>,
    /// Every page and API answer needs a token too (`Authorization: Bearer`), except
    /// `/static/…` and `/api/v1/openapi.json`. Off by default: reads are public.
    pub private_reads: bool,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebState")
            .field("store", &self.store)
            .field("artifacts", &self.artifacts)
            .field("title", &self.title)
            .field("events_interval", &self.events_interval)
            .field("actions", &self.actions.as_ref().map(|_| "…"))
            .field("private_reads", &self.private_reads)
            .finish()
    }
}

impl WebState {
    pub fn new(store: Store, artifacts: impl Into<PathBuf>) -> WebState {
        WebState {
            store,
            artifacts: artifacts.into(),
            title: "gauntlet".to_owned(),
            events_interval: std::time::Duration::from_millis(500),
            actions: None,
            private_reads: false,
        }
    }

    /// With the write actions of `gauntlet serve` (rerun, cancel).
    pub fn with_actions(mut self, actions: Arc<dyn Actions>) -> WebState {
        self.actions = Some(actions);
        self
    }
}

/// What the handlers share.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) artifacts: PathBuf,
    pub(crate) title: String,
    pub(crate) indexes: logs::IndexCache,
    pub(crate) events_interval: std::time::Duration,
    pub(crate) actions: Option<Arc<dyn Actions>>,
    /// The status page's counts, and when they were made.
    pub(crate) status: std::sync::Mutex<Option<(std::time::Instant, api::Status)>>,
}

pub(crate) type App = Arc<Shared>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Store(#[from] gauntlet_store::Error),
    #[error("rendering {name}: {source}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// No token, or one that is not valid (`invalid`): answered 401 with a challenge.
    #[error("{message}")]
    Unauthorized { message: String, invalid: bool },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotImplemented(String),
}

impl Error {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What a client is told: its own mistakes in full, ours in one word (the details go to
    /// the log).
    pub(crate) fn public_message(&self) -> String {
        match self {
            Error::NotFound(m)
            | Error::BadRequest(m)
            | Error::Conflict(m)
            | Error::NotImplemented(m)
            | Error::Unauthorized { message: m, .. } => m.clone(),
            other => {
                tracing::error!("web: {other}");
                "internal error".to_owned()
            }
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// The dashboard and the API, to be served as they are or nested.
///
/// Pages: `/` (submissions), `/runs/{id}` (a submission's run), `/series/{id}`,
/// `/jobs/{id}/log` and `/runs/{id}/files/{n}` (the log viewer, `?from=&to=` or `?line=`),
/// `/jobs/{id}/log.txt` and `/runs/{id}/files/{n}/raw` (plain text, whole or a range),
/// `/status`, `/static/…`. API: see [`api::OPENAPI`] (`/api/v1/openapi.json`).
pub fn router(state: WebState) -> Router {
    let shared: App = Arc::new(Shared {
        store: state.store,
        artifacts: state.artifacts,
        title: state.title,
        indexes: logs::IndexCache::default(),
        events_interval: state.events_interval,
        actions: state.actions,
        status: std::sync::Mutex::new(None),
    });
    let mut router = Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .fallback(not_found);
    if state.private_reads {
        router = router.layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            auth::private_reads,
        ));
    }
    router
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(shared)
}

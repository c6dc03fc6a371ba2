//! The REST client: where the API is, how requests are sent, retried and bounded, and how
//! Patchwork's statuses become [`Error`]s.
//!
//! Reads (`GET`) are retried a bounded number of times, with exponential backoff, when the
//! failure may pass: no connection, no answer in time, 5xx, 408, 429. Writes (`POST` a check,
//! `PATCH` a state) are retried only when the connection could not even be opened, so that the
//! request certainly never reached the server; any other failure of a write is returned at once,
//! because only the caller's ledger knows whether the write may be repeated (a check posted
//! twice is a second check on the patch, forever).

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use crate::error::Error;
use crate::link;
use crate::model::{Check, NewCheck, Patch, Project, Series, Submission};

/// API versions this client speaks, best first. 1.2 is the oldest with what gauntlet needs
/// (event `actor`, the `msgid` filter); 1.4 adds series dependencies.
pub const API_VERSIONS: [&str; 3] = ["1.4", "1.3", "1.2"];

/// Where Patchwork is and how to talk to it.
#[derive(Clone, PartialEq)]
pub struct ClientConfig {
    /// The server (`https://patchwork.kernel.org`), its API root (`…/api/`), or a versioned
    /// API root (`…/api/1.3/`), which fixes the version.
    pub url: String,
    /// An API token (the user's profile page, or `manage.py drf_create_token USER`). Reading
    /// needs none; posting checks and changing states needs one of a project maintainer.
    pub token: Option<String>,
    /// The API version (`1.3`); when `None` and the URL names none, the best one the server
    /// serves is found at the first request.
    pub api_version: Option<String>,
    pub connect_timeout: Duration,
    /// For one whole request, answer included.
    pub request_timeout: Duration,
    /// How many times a read is tried again after a failure that may pass.
    pub retries: u32,
    /// The wait before the first retry; doubled for each next one (at most 30 s).
    pub backoff: Duration,
    /// `per_page` asked for (Patchwork gives at most 250).
    pub per_page: u32,
    /// More pages than this of one list are not read in one call.
    pub max_pages: u32,
    /// The largest JSON answer read.
    pub max_response_bytes: usize,
    /// The largest mbox downloaded.
    pub max_mbox_bytes: usize,
    /// How far before the cursor each events poll looks again; see [`crate::Cursor`] for why.
    pub events_lookback: Duration,
}

impl ClientConfig {
    /// The defaults for a server: 10 s to connect, 60 s a request, 3 retries from 0.5 s, pages
    /// of 250, 100 pages at most, 16 MiB of JSON, 64 MiB of mbox, 65 minutes of look-back.
    pub fn new(url: impl Into<String>) -> ClientConfig {
        ClientConfig {
            url: url.into(),
            token: None,
            api_version: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retries: 3,
            backoff: Duration::from_millis(500),
            per_page: 250,
            max_pages: 100,
            max_response_bytes: 16 << 20,
            max_mbox_bytes: 64 << 20,
            events_lookback: Duration::from_secs(65 * 60),
        }
    }

    pub fn with_token(mut self, token: impl Into<String>) -> ClientConfig {
        self.token = Some(token.into());
        self
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("api_version", &self.api_version)
            .field("request_timeout", &self.request_timeout)
            .field("retries", &self.retries)
            .field("events_lookback", &self.events_lookback)
            .finish_non_exhaustive()
    }
}

/// A Patchwork REST API client. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `…/api/`, with its trailing slash.
    api_root: Url,
    /// The site root (`…/`), where the non-API URLs are (`series/{id}/mbox/`).
    site: Url,
    /// The server as messages name it (`https://patchwork.example.org`).
    server: String,
    token: Option<String>,
    version: std::sync::Arc<OnceCell<String>>,
    pub(crate) retries: u32,
    backoff: Duration,
    pub(crate) per_page: u32,
    pub(crate) max_pages: u32,
    max_response: usize,
    max_mbox: usize,
    request_timeout: Duration,
    pub(crate) lookback: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_root", &self.api_root.as_str())
            .field("version", &self.version.get())
            .finish_non_exhaustive()
    }
}

/// Whether a failed request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// A read: again on any failure that may pass.
    Read,
    /// A write: again only when the connection was never made.
    Unsent,
}

/// What a request is, in words for errors, and how much of its answer is read.
pub(crate) struct What {
    /// `reading patch 3`, `posting a check on patch 3`.
    pub action: String,
    /// `patch 3`.
    pub object: String,
    /// The largest answer read (`None`: `max_response_bytes`).
    pub limit: Option<usize>,
}

impl What {
    pub(crate) fn new(action: impl Into<String>, object: impl Into<String>) -> What {
        What {
            action: action.into(),
            object: object.into(),
            limit: None,
        }
    }
}

/// A successful answer.
pub(crate) struct Answer {
    pub body: Vec<u8>,
    /// The `Link` header, when there is one.
    pub link: Option<String>,
    /// The URL that answered (after redirects).
    pub url: Url,
}

/// One try's outcome.
enum Try {
    Answered(StatusCode, Answer),
    /// The connection could not be made: nothing was sent.
    Unsent(Error),
    /// Failed after the request may have reached the server.
    Failed(Error),
}

/// Splits a configured URL into the API root and the version it names, if any.
fn api_root_of(url: &str) -> Result<(Url, Option<String>), Error> {
    let bad = |why: String| Error::Config(format!("Patchwork URL `{url}`: {why}"));
    let mut parsed = Url::parse(url.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("only http and https are supported".into()));
    }
    parsed.set_query(None);
    parsed.set_fragment(None);
    let mut segments: Vec<String> = parsed
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let is_version = |s: &str| {
        s.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
    };
    let mut version = None;
    if segments.len() >= 2
        && segments[segments.len() - 2] == "api"
        && is_version(&segments[segments.len() - 1])
    {
        version = segments.pop();
    } else if segments.last().map(String::as_str) != Some("api") {
        segments.push("api".into());
    }
    parsed.set_path(&format!("/{}/", segments.join("/")));
    Ok((parsed, version))
}

impl Client {
    /// A client for the configured server. Nothing is sent until the first request.
    pub fn new(config: &ClientConfig) -> Result<Client, Error> {
        let (api_root, url_version) = api_root_of(&config.url)?;
        let site = api_root
            .join("..")
            .map_err(|e| Error::Config(format!("Patchwork URL `{}`: {e}", config.url)))?;
        let server = api_root.origin().ascii_serialization();
        let version = match config.api_version.clone().or(url_version) {
            Some(v) => OnceCell::new_with(Some(v)),
            None => OnceCell::new(),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("gauntlet-patchwork/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Client {
            http,
            api_root,
            site,
            server,
            token: config
                .token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
            version: std::sync::Arc::new(version),
            retries: config.retries.min(10),
            backoff: config.backoff,
            per_page: config.per_page.clamp(1, 250),
            max_pages: config.max_pages.max(1),
            max_response: config.max_response_bytes.max(4096),
            max_mbox: config.max_mbox_bytes.max(4096),
            request_timeout: config.request_timeout,
            lookback: config.events_lookback,
        })
    }

    /// The server's origin (`https://patchwork.example.org`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether a token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The API version used, found on first use when not configured: the first of
    /// [`API_VERSIONS`] whose index (`/api/1.x/`) answers (Patchwork answers 404 to a version
    /// it does not serve).
    pub async fn api_version(&self) -> Result<&str, Error> {
        self.version
            .get_or_try_init(|| self.discover())
            .await
            .map(String::as_str)
    }

    async fn discover(&self) -> Result<String, Error> {
        for version in API_VERSIONS {
            let url = self.join(&self.api_root, &format!("{version}/"))?;
            let what = What::new(
                format!("reading API {version}'s index"),
                format!("API {version}"),
            );
            match self.send(Method::GET, url, &[], None, &what).await {
                Ok(_) => {
                    tracing::debug!(server = %self.server, version, "Patchwork API version found");
                    return Ok(version.to_owned());
                }
                Err(Error::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::UnsupportedVersion {
            server: self.server.clone(),
            tried: API_VERSIONS.join(", "),
        })
    }

    fn join(&self, base: &Url, path: &str) -> Result<Url, Error> {
        base.join(path)
            .map_err(|e| Error::Config(format!("Patchwork path `{path}`: {e}")))
    }

    /// `…/api/<version>/<path>`.
    pub(crate) async fn api(&self, path: &str) -> Result<Url, Error> {
        let version = self.api_version().await?;
        self.join(&self.api_root, &format!("{version}/{path}"))
    }

    /// `GET /projects/`: every project.
    pub async fn projects(&self) -> Result<Vec<Project>, Error> {
        let url = self.api("projects/").await?;
        let (projects, _) = self
            .pages(
                url,
                Vec::new(),
                &What::new("listing projects", "project list"),
            )
            .await?;
        Ok(projects)
    }

    /// `GET /projects/{id or link name}/`.
    pub async fn project(&self, id_or_link_name: &str) -> Result<Project, Error> {
        self.read_one(
            &format!("projects/{id_or_link_name}/"),
            "project",
            id_or_link_name,
        )
        .await
    }

    /// `GET /series/{id}/`.
    pub async fn series(&self, id: u64) -> Result<Series, Error> {
        self.read_one(&format!("series/{id}/"), "series", id).await
    }

    /// `GET /series/{id}/mbox/` (a page of the site, not of the API): the series' patches in
    /// number order, without the cover letter, as Patchwork rebuilds them (its `From patchwork`
    /// envelopes, `X-Patchwork-Id`, review tags from replies folded in).
    pub async fn series_mbox(&self, id: u64) -> Result<Vec<u8>, Error> {
        let url = self.join(&self.site, &format!("series/{id}/mbox/"))?;
        let what = What {
            limit: Some(self.max_mbox),
            ..What::new(
                format!("downloading series {id}'s mbox"),
                format!("series {id}"),
            )
        };
        let answer = self.send(Method::GET, url, &[], None, &what).await?;
        Ok(answer.body)
    }

    /// A cover letter's mail (the series mbox leaves it out): the `mbox` link Patchwork gives
    /// with it, which must be on this client's site (a link elsewhere is refused rather than
    /// fetched with the token).
    pub async fn cover_mbox(&self, cover: &Submission) -> Result<Vec<u8>, Error> {
        let link = cover.mbox.as_deref().ok_or_else(|| Error::Protocol {
            path: format!("cover {}", cover.id),
            why: "the cover letter has no mbox link".to_owned(),
        })?;
        let url = self.join(&self.site, link)?;
        if url.origin() != self.site.origin() {
            return Err(Error::Protocol {
                path: format!("cover {}", cover.id),
                why: format!("its mbox is on another site: {url}"),
            });
        }
        let what = What {
            limit: Some(self.max_mbox),
            ..What::new(
                format!("downloading cover letter {}'s mbox", cover.id),
                format!("cover {}", cover.id),
            )
        };
        let answer = self.send(Method::GET, url, &[], None, &what).await?;
        Ok(answer.body)
    }

    /// `GET /patches/{id}/` (the detail form: content and diff included).
    pub async fn patch(&self, id: u64) -> Result<Patch, Error> {
        self.read_one(&format!("patches/{id}/"), "patch", id).await
    }

    /// The patch of `project` with this Message-ID (with or without `<>`), if Patchwork has it:
    /// how a series that came by mail or lore finds its Patchwork ids to report on.
    pub async fn patch_by_msgid(&self, project: &str, msgid: &str) -> Result<Option<Patch>, Error> {
        let bare = msgid.trim().trim_start_matches('<').trim_end_matches('>');
        let url = self.api("patches/").await?;
        let query = vec![("project", project.to_owned()), ("msgid", bare.to_owned())];
        let what = What::new(
            format!("looking up patch {msgid}"),
            format!("patch {msgid}"),
        );
        let (mut patches, _) = self.pages::<Patch>(url, query, &what).await?;
        Ok(if patches.is_empty() {
            None
        } else {
            Some(patches.swap_remove(0))
        })
    }

    /// `GET /patches/{id}/checks/`: every check of a patch, oldest first. A reporter that
    /// restarts reads them to see whether its check is already there.
    pub async fn checks(&self, patch_id: u64) -> Result<Vec<Check>, Error> {
        let url = self.api(&format!("patches/{patch_id}/checks/")).await?;
        let what = What::new(
            format!("listing the checks of patch {patch_id}"),
            format!("patch {patch_id}"),
        );
        let (mut checks, _) = self.pages::<Check>(url, Vec::new(), &what).await?;
        checks.sort_by_key(|c| (c.date, c.id));
        Ok(checks)
    }

    /// `POST /patches/{id}/checks/`: adds a check. Needs a token whose user maintains the
    /// patch's project (or is its delegate or its submitter's account): otherwise
    /// [`Error::Forbidden`]; without a token or with a wrong one, [`Error::Unauthorized`]; a
    /// context that is not a slug or a state that is not one, [`Error::Invalid`]. Not retried
    /// once sent: the caller records its intent first and decides.
    pub async fn post_check(&self, patch_id: u64, check: &NewCheck) -> Result<Check, Error> {
        let body = serde_json::to_value(check).map_err(|e| Error::Config(e.to_string()))?;
        let action = format!("posting a check on patch {patch_id}");
        let path = format!("patches/{patch_id}/checks/");
        let posted = self
            .write(Method::POST, &path, &body, action, patch_id)
            .await?;
        tracing::info!(
            patch = patch_id,
            context = %check.context,
            state = %check.state,
            "Patchwork check posted"
        );
        Ok(posted)
    }

    /// `PATCH /patches/{id}/` with `{"state": slug}` (`under-review`, `changes-requested`…):
    /// the patch as it is afterwards. The same permissions as [`Client::post_check`]; a state
    /// the instance does not have is [`Error::Invalid`] with Patchwork's list of states.
    pub async fn set_patch_state(&self, patch_id: u64, state: &str) -> Result<Patch, Error> {
        let body = serde_json::json!({ "state": state });
        let action = format!("setting the state of patch {patch_id} to {state}");
        let path = format!("patches/{patch_id}/");
        let patch = self
            .write(Method::PATCH, &path, &body, action, patch_id)
            .await?;
        tracing::info!(patch = patch_id, state, "Patchwork patch state set");
        Ok(patch)
    }

    /// `GET` of one object of the API (`kind` and `key` name it in errors).
    async fn read_one<T: DeserializeOwned>(
        &self,
        path: &str,
        kind: &str,
        key: impl fmt::Display,
    ) -> Result<T, Error> {
        let url = self.api(path).await?;
        let what = What::new(format!("reading {kind} {key}"), format!("{kind} {key}"));
        self.get_json(url, &[], &what).await
    }

    /// A write about a patch, and the object Patchwork answers with.
    async fn write<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
        action: String,
        patch_id: u64,
    ) -> Result<T, Error> {
        let url = self.api(path).await?;
        let what = What::new(action, format!("patch {patch_id}"));
        let answer = self.send(method, url, &[], Some(body), &what).await?;
        self.decode(&answer, &what)
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        query: &[(&str, String)],
        what: &What,
    ) -> Result<T, Error> {
        let answer = self.send(Method::GET, url, query, None, what).await?;
        self.decode(&answer, what)
    }

    fn decode<T: DeserializeOwned>(&self, answer: &Answer, what: &What) -> Result<T, Error> {
        serde_json::from_slice(&answer.body).map_err(|e| Error::Protocol {
            path: answer.url.path().to_owned(),
            why: format!(
                "{} is not what Patchwork sends: {e} (the answer starts with {:?})",
                what.object,
                excerpt(&answer.body)
            ),
        })
    }

    /// Reads a list to its end by following `Link: <…>; rel="next"`, at most `max_pages`
    /// pages; `complete` is false when pages were left.
    pub(crate) async fn pages<T: DeserializeOwned>(
        &self,
        first: Url,
        mut query: Vec<(&str, String)>,
        what: &What,
    ) -> Result<(Vec<T>, bool), Error> {
        if !query.iter().any(|(k, _)| *k == "per_page") {
            query.push(("per_page", self.per_page.to_string()));
        }
        let mut items = Vec::new();
        let mut url = first.clone();
        let mut query = Some(query);
        let mut visited = std::collections::HashSet::new();
        for _ in 0..self.max_pages {
            let answer = self
                .send(
                    Method::GET,
                    url.clone(),
                    query.as_deref().unwrap_or(&[]),
                    None,
                    what,
                )
                .await?;
            let page: Vec<T> = self.decode(&answer, what)?;
            items.extend(page);
            visited.insert(answer.url.to_string());
            let Some(next) = answer.link.as_deref().and_then(|h| link::find(h, "next")) else {
                return Ok((items, true));
            };
            let next = self.follow(&answer.url, &next)?;
            if visited.contains(next.as_str()) {
                return Err(Error::Protocol {
                    path: answer.url.path().to_owned(),
                    why: format!("the `next` page is one already read ({next})"),
                });
            }
            url = next;
            // The next link carries the whole query.
            query = None;
        }
        tracing::debug!(server = %self.server, pages = self.max_pages, "more pages left");
        Ok((items, false))
    }

    /// The URL of a `next` link. Behind a proxy Patchwork may name itself by another host or
    /// scheme (`http://localhost:8000/…`): the link's path and query are then taken onto the
    /// server this client was configured with, where the token may safely be sent.
    fn follow(&self, current: &Url, next: &str) -> Result<Url, Error> {
        let mut target = current.join(next).map_err(|e| Error::Protocol {
            path: current.path().to_owned(),
            why: format!("the `next` link `{next}` is not a URL: {e}"),
        })?;
        if target.origin() != current.origin() {
            let mut moved = current.clone();
            moved.set_path(target.path());
            moved.set_query(target.query());
            tracing::debug!(link = %target, used = %moved, "next link names another server");
            target = moved;
        }
        Ok(target)
    }

    /// One request with its retries, and the mapping of statuses to errors.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        what: &What,
    ) -> Result<Answer, Error> {
        let limit = what.limit.unwrap_or(self.max_response);
        let retry = if method == Method::GET {
            Retry::Read
        } else {
            Retry::Unsent
        };
        let mut failures = 0u32;
        loop {
            let (error, unsent) = match self
                .try_once(method.clone(), url.clone(), query, body, limit)
                .await
            {
                Try::Answered(status, answer) if status.is_success() => return Ok(answer),
                Try::Answered(status, answer) => (self.status_error(status, &answer, what), false),
                Try::Unsent(e) => (e, true),
                Try::Failed(e) => (e, false),
            };
            let again = match retry {
                Retry::Read => error.is_transient(),
                Retry::Unsent => unsent,
            };
            if !again || failures >= self.retries {
                return Err(error);
            }
            let wait = self
                .backoff
                .saturating_mul(1 << failures.min(6))
                .min(Duration::from_secs(30));
            tracing::warn!(%error, ?wait, action = %what.action, "Patchwork request failed; trying again");
            failures += 1;
            tokio::time::sleep(wait).await;
        }
    }

    async fn try_once(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        limit: usize,
    ) -> Try {
        tracing::debug!(%method, %url, "Patchwork request");
        let mut request = self.http.request(method, url).query(query);
        if let Some(token) = &self.token {
            request = request.header(reqwest::header::AUTHORIZATION, format!("Token {token}"));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Try::Unsent(self.unreachable(&e)),
            Err(e) => return Try::Failed(self.unreachable(&e)),
        };
        let status = response.status();
        let url = response.url().clone();
        let link = response
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Try::Failed(too_large(&url, limit));
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > limit => {
                    return Try::Failed(too_large(&url, limit));
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Try::Failed(self.unreachable(&e)),
            }
        }
        Try::Answered(status, Answer { body, link, url })
    }

    fn unreachable(&self, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            return Error::Unreachable {
                server: self.server.clone(),
                why: format!(
                    "no answer within {:.1}s (down or overloaded?)",
                    self.request_timeout.as_secs_f32()
                ),
            };
        }
        // The innermost cause says it ("Connection refused (os error 111)").
        let mut cause: &dyn std::error::Error = e;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        let why = if e.is_connect() {
            format!("cannot connect: {cause}")
        } else {
            cause.to_string()
        };
        Error::Unreachable {
            server: self.server.clone(),
            why,
        }
    }

    fn status_error(&self, status: StatusCode, answer: &Answer, what: &What) -> Error {
        let fields = field_errors(&answer.body);
        let detail = fields
            .get("detail")
            .map(|d| d.join(" "))
            .unwrap_or_else(|| excerpt(&answer.body));
        let code = status.as_u16();
        match code {
            400 => Error::Invalid {
                action: what.action.clone(),
                fields: if fields.is_empty() {
                    [("detail".to_owned(), vec![excerpt(&answer.body)])].into()
                } else {
                    fields
                },
            },
            401 => self.unauthorized(code, detail),
            403 if self.token.is_none() || is_authentication_failure(&detail) => {
                self.unauthorized(code, detail)
            }
            403 => Error::Forbidden {
                server: self.server.clone(),
                action: what.action.clone(),
                message: detail,
            },
            404 => Error::NotFound {
                what: what.object.clone(),
            },
            502..=504 => Error::Unreachable {
                server: self.server.clone(),
                why: format!("HTTP {code} from the proxy in front of it"),
            },
            _ => Error::Http {
                server: self.server.clone(),
                path: answer.url.path().to_owned(),
                status: code,
                detail,
            },
        }
    }

    fn unauthorized(&self, status: u16, detail: String) -> Error {
        Error::Unauthorized {
            server: self.server.clone(),
            status,
            message: if self.token.is_none() {
                format!("{detail} (no token is configured)")
            } else {
                detail
            },
        }
    }
}

/// Django REST framework's words when authentication itself failed (as opposed to a known user
/// lacking a permission).
fn is_authentication_failure(detail: &str) -> bool {
    detail.starts_with("Invalid token")
        || detail == "Authentication credentials were not provided."
        || detail == "User inactive or deleted."
        || detail.starts_with("Invalid username/password")
        || detail.starts_with("Invalid basic header")
}

/// A DRF error body: `{"field": ["message", …], "detail": "message"}`.
fn field_errors(body: &[u8]) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut fields = std::collections::BTreeMap::new();
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) else {
        return fields;
    };
    for (field, value) in map {
        let messages = match value {
            serde_json::Value::String(s) => vec![s],
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            other => vec![other.to_string()],
        };
        fields.insert(field, messages);
    }
    fields
}

fn too_large(url: &Url, limit: usize) -> Error {
    Error::Protocol {
        path: url.path().to_owned(),
        why: format!("the answer is larger than {limit} bytes"),
    }
}

/// The start of an answer, for messages.
fn excerpt(bytes: &[u8]) -> String {
    let end = bytes.len().min(200);
    String::from_utf8_lossy(&bytes[..end]).trim().to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn api_roots() {
        let cases = [
            (
                "https://pw.example.org",
                "https://pw.example.org/api/",
                None,
            ),
            (
                "https://pw.example.org/",
                "https://pw.example.org/api/",
                None,
            ),
            (
                "https://pw.example.org/api",
                "https://pw.example.org/api/",
                None,
            ),
            (
                "https://pw.example.org/api/1.3/",
                "https://pw.example.org/api/",
                Some("1.3"),
            ),
            (
                "http://127.0.0.1:8000/pw/api/1.2",
                "http://127.0.0.1:8000/pw/api/",
                Some("1.2"),
            ),
            ("https://x.org/pw/", "https://x.org/pw/api/", None),
        ];
        for (url, root, version) in cases {
            let (r, v) = api_root_of(url).unwrap();
            assert_eq!(r.as_str(), root, "{url}");
            assert_eq!(v.as_deref(), version, "{url}");
        }
        assert!(api_root_of("ftp://x.org/").is_err());
        assert!(api_root_of("not a url").is_err());
    }

    #[test]
    fn site_is_above_the_api() {
        let client = Client::new(&ClientConfig::new("https://x.org/pw/api/1.3/")).unwrap();
        assert_eq!(client.site.as_str(), "https://x.org/pw/");
        assert_eq!(client.server(), "https://x.org");
    }

    #[test]
    fn drf_error_bodies() {
        let f = field_errors(br#"{"state":["\"bogus\" is not a valid choice."],"detail":"x"}"#);
        assert_eq!(f["state"], vec!["\"bogus\" is not a valid choice."]);
        assert_eq!(f["detail"], vec!["x"]);
        assert!(field_errors(b"<html>").is_empty());
        assert!(is_authentication_failure("Invalid token."));
        assert!(!is_authentication_failure(
            "You do not have permission to perform this action."
        ));
    }
}

//! The REST API v0.2 client.
//!
//! Every request has a connect timeout and a total timeout, reads at most a bounded number of
//! bytes, and is retried a bounded number of times with exponential backoff when the failure
//! may pass (no connection, no answer in time, 5xx, 429). A submission is retried only when it
//! was certainly not received (the connection failed), so that a job is never submitted twice.
//! Errors say what happened in the lab's terms: the token was refused (401, 403), the lab is
//! unreachable (nothing listening, no answer in time), LAVA refused the request (400, with
//! LAVA's own message).

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::{JobInfo, Message, Page, Submitted, SuiteInfo, TestCase, Version, WhoAmI};
use crate::error::Error;
use crate::settings::duration;

/// Where the lab is and how to talk to it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The server (`https://lava.example.org`), or its API root (`…/api/v0.2/`).
    pub url: String,
    /// An API token (`lava-server manage tokens add`, or the web UI's `/api/tokens/`).
    #[serde(default)]
    pub token: Option<String>,
    /// Time to connect.
    #[serde(default = "defaults::connect_timeout", with = "duration")]
    pub connect_timeout: Duration,
    /// Time for a whole request, answer included.
    #[serde(default = "defaults::request_timeout", with = "duration")]
    pub request_timeout: Duration,
    /// Further tries of a request that failed in a way that may pass.
    #[serde(default = "defaults::retries")]
    pub retries: u32,
    /// The wait before the first retry; doubled for each next one (at most 30 s).
    #[serde(default = "defaults::backoff", with = "duration")]
    pub backoff: Duration,
    /// The largest answer read (a log page, a JSON document).
    #[serde(default = "defaults::max_response")]
    pub max_response_bytes: usize,
}

mod defaults {
    use std::time::Duration;

    pub(super) fn connect_timeout() -> Duration {
        Duration::from_secs(10)
    }
    pub(super) fn request_timeout() -> Duration {
        Duration::from_secs(60)
    }
    pub(super) fn retries() -> u32 {
        3
    }
    pub(super) fn backoff() -> Duration {
        Duration::from_millis(500)
    }
    pub(super) fn max_response() -> usize {
        16 << 20
    }
}

impl ClientConfig {
    /// The defaults, for `url` and `token`.
    pub fn new(url: impl Into<String>, token: Option<String>) -> ClientConfig {
        ClientConfig {
            url: url.into(),
            token,
            connect_timeout: defaults::connect_timeout(),
            request_timeout: defaults::request_timeout(),
            retries: defaults::retries(),
            backoff: defaults::backoff(),
            max_response_bytes: defaults::max_response(),
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// A client of one LAVA server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `…/api/v0.2/`, with its trailing slash.
    api: Url,
    /// The server as the messages name it (`http://127.0.0.1:8000`).
    server: String,
    token: Option<String>,
    retries: u32,
    backoff: Duration,
    max_response: usize,
    request_timeout: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api", &self.api.as_str())
            .finish_non_exhaustive()
    }
}

/// Whether a failed request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Reading, or an action that does the same when repeated.
    Idempotent,
    /// Only when the request certainly did not reach the server.
    UnsentOnly,
}

/// What one try gave.
enum Attempt {
    Answer(StatusCode, Vec<u8>),
    /// Failed before anything was sent: always safe to retry.
    NotSent(Error),
    /// Failed after the request may have been received.
    Lost(Error),
}

impl Client {
    pub fn new(config: &ClientConfig) -> Result<Client, Error> {
        let mut base = config.url.trim().trim_end_matches('/').to_owned();
        if !base.ends_with("/api/v0.2") {
            base.push_str("/api/v0.2");
        }
        base.push('/');
        let api = Url::parse(&base)
            .map_err(|e| Error::Config(format!("LAVA URL `{}`: {e}", config.url)))?;
        if !matches!(api.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "LAVA URL `{}`: only http and https are supported",
                config.url
            )));
        }
        let server = api.origin().ascii_serialization();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("gauntlet-lava/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Client {
            http,
            api,
            server,
            token: config.token.clone().filter(|t| !t.trim().is_empty()),
            retries: config.retries.min(10),
            backoff: config.backoff,
            max_response: config.max_response_bytes.max(1024),
            request_timeout: config.request_timeout,
        })
    }

    /// The server's origin (`https://lava.example.org`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The web page of a job (for reports).
    pub fn job_url(&self, id: u64) -> String {
        format!("{}/scheduler/job/{id}", self.server)
    }

    /// `GET system/version/`: LAVA's version (`2023.01`). Needs no token.
    pub async fn version(&self) -> Result<String, Error> {
        let v: Version = self.get_json("system/version/", &[]).await?;
        Ok(v.version)
    }

    /// `GET system/whoami/`: the user the token belongs to (`None`: anonymous).
    pub async fn whoami(&self) -> Result<Option<String>, Error> {
        let w: WhoAmI = self.get_json("system/whoami/", &[]).await?;
        Ok(w.user.filter(|u| !u.is_empty()))
    }

    /// `POST jobs/validate/`: `Ok` when LAVA's schema accepts the definition, else
    /// [`Error::Rejected`] with LAVA's words.
    pub async fn validate(&self, definition: &str) -> Result<(), Error> {
        let body = serde_json::json!({ "definition": definition });
        let (_, bytes) = self
            .send(
                Method::POST,
                "jobs/validate/",
                &[],
                Some(&body),
                Retry::Idempotent,
            )
            .await?;
        let message: Message = self.decode("jobs/validate/", &bytes)?;
        let text = message.text().unwrap_or_default();
        if text.starts_with("Job valid") {
            Ok(())
        } else {
            Err(Error::Rejected {
                message: if text.is_empty() {
                    "the definition is invalid (no reason given)".to_owned()
                } else {
                    text
                },
            })
        }
    }

    /// `POST jobs/`: submits a definition; the job ids (several for a multinode job).
    pub async fn submit_all(&self, definition: &str) -> Result<Vec<u64>, Error> {
        let body = serde_json::json!({ "definition": definition });
        let (_, bytes) = self
            .send(Method::POST, "jobs/", &[], Some(&body), Retry::UnsentOnly)
            .await?;
        let submitted: Submitted = self.decode("jobs/", &bytes)?;
        if submitted.job_ids.is_empty() {
            return Err(Error::Protocol {
                path: "jobs/".to_owned(),
                why: "the submission was accepted without a job id".to_owned(),
            });
        }
        Ok(submitted.job_ids)
    }

    /// `POST jobs/` for a single-node job: its id.
    pub async fn submit(&self, definition: &str) -> Result<u64, Error> {
        let ids = self.submit_all(definition).await?;
        ids.first().copied().ok_or_else(|| Error::Protocol {
            path: "jobs/".to_owned(),
            why: "no job id".to_owned(),
        })
    }

    /// `GET jobs/<id>/`.
    pub async fn job(&self, id: u64) -> Result<JobInfo, Error> {
        self.get_json(&format!("jobs/{id}/"), &[])
            .await
            .map_err(|e| not_found_as(e, format!("job {id}")))
    }

    /// `GET jobs/<id>/logs/?start=S&end=E`: the log's lines `S..E` (0-based, `E` excluded)
    /// as LAVA stores them (one YAML list item per line); `None` when there is none yet (LAVA
    /// answers 404 past the end, and before the job has a log).
    pub async fn logs(&self, id: u64, start: u64, end: u64) -> Result<Option<Vec<u8>>, Error> {
        let path = format!("jobs/{id}/logs/");
        let query = [("start", start.to_string()), ("end", end.to_string())];
        match self
            .send(Method::GET, &path, &query, None, Retry::Idempotent)
            .await
        {
            Ok((_, bytes)) => Ok(Some(bytes)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET jobs/<id>/suites/`, every page (at most `MAX_PAGES`).
    pub async fn suites(&self, id: u64) -> Result<Vec<SuiteInfo>, Error> {
        self.all_pages(&format!("jobs/{id}/suites/"), id).await
    }

    /// `GET jobs/<id>/tests/`, every page (at most `MAX_PAGES`), with the suites' names.
    pub async fn tests(&self, id: u64) -> Result<Vec<TestCase>, Error> {
        let suites = self.suites(id).await?;
        let mut tests: Vec<TestCase> = self.all_pages(&format!("jobs/{id}/tests/"), id).await?;
        for test in &mut tests {
            if let Some(suite) = test.suite
                && let Some(s) = suites.iter().find(|s| s.id == suite)
            {
                test.suite_name = s.name.clone();
            }
        }
        Ok(tests)
    }

    /// `GET jobs/<id>/cancel/` (a GET in 2023.01): asks LAVA to stop the job. LAVA says the
    /// same whether the job was running, canceling or finished.
    pub async fn cancel(&self, id: u64) -> Result<(), Error> {
        self.send(
            Method::GET,
            &format!("jobs/{id}/cancel/"),
            &[],
            None,
            Retry::Idempotent,
        )
        .await
        .map_err(|e| not_found_as(e, format!("job {id}")))?;
        Ok(())
    }

    async fn all_pages<T: DeserializeOwned>(&self, path: &str, id: u64) -> Result<Vec<T>, Error> {
        let mut all = Vec::new();
        let mut query: Vec<(String, String)> = Vec::new();
        for _ in 0..MAX_PAGES {
            let borrowed: Vec<(&str, String)> =
                query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let page: Page<T> = self
                .get_json(path, &borrowed)
                .await
                .map_err(|e| not_found_as(e, format!("job {id}")))?;
            let got = page.results.len();
            all.extend(page.results);
            // The next page's address is built by the server from its own idea of its host;
            // only its query is used, on our own base (the token goes nowhere else).
            let next = page
                .next
                .as_deref()
                .and_then(|n| Url::parse(n).ok())
                .map(|u| u.query_pairs().into_owned().collect::<Vec<_>>());
            match next {
                Some(next) if got > 0 && next != query => query = next,
                _ => return Ok(all),
            }
            if page.count.is_some_and(|c| all.len() as u64 >= c) {
                return Ok(all);
            }
        }
        tracing::warn!(
            path,
            pages = MAX_PAGES,
            "LAVA: more pages than read; the rest is ignored"
        );
        Ok(all)
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, Error> {
        let (_, bytes) = self
            .send(Method::GET, path, query, None, Retry::Idempotent)
            .await?;
        self.decode(path, &bytes)
    }

    fn decode<T: DeserializeOwned>(&self, path: &str, bytes: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Protocol {
            path: path.to_owned(),
            why: format!("{e} (answer starts with {:?})", excerpt(bytes)),
        })
    }

    /// One request, its retries, and the mapping of statuses to errors.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        retry: Retry,
    ) -> Result<(StatusCode, Vec<u8>), Error> {
        let url = self
            .api
            .join(path)
            .map_err(|e| Error::Config(format!("LAVA path `{path}`: {e}")))?;
        let mut tries = 0u32;
        loop {
            let outcome = self.attempt(method.clone(), url.clone(), query, body).await;
            let (error, sent) = match outcome {
                Attempt::Answer(status, bytes) => match self.status_error(path, status, &bytes) {
                    None => return Ok((status, bytes)),
                    Some(e) => (e, true),
                },
                Attempt::NotSent(e) => (e, false),
                Attempt::Lost(e) => (e, true),
            };
            let retryable = match retry {
                Retry::Idempotent => error.is_transient(),
                Retry::UnsentOnly => !sent,
            };
            if !retryable || tries >= self.retries {
                return Err(error);
            }
            let wait = self
                .backoff
                .saturating_mul(1 << tries.min(6))
                .min(Duration::from_secs(30));
            tracing::debug!(%error, ?wait, path, "LAVA request failed; trying again");
            tries += 1;
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Attempt {
        let mut request = self.http.request(method, url).query(query);
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Attempt::NotSent(self.unreachable(&e)),
            Err(e) => return Attempt::Lost(self.unreachable(&e)),
        };
        let status = response.status();
        if let Some(len) = response.content_length()
            && len > self.max_response as u64
        {
            return Attempt::Lost(self.too_large(response.url().path()));
        }
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > self.max_response {
                        return Attempt::Lost(self.too_large(response.url().path()));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Attempt::Lost(self.unreachable(&e)),
            }
        }
        Attempt::Answer(status, bytes)
    }

    fn too_large(&self, path: &str) -> Error {
        Error::Protocol {
            path: path.to_owned(),
            why: format!("the answer is larger than {} bytes", self.max_response),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> Error {
        let why = if e.is_timeout() {
            format!(
                "no answer within {}s (it may be down or overloaded)",
                self.request_timeout.as_secs_f32()
            )
        } else {
            let mut why = String::new();
            let mut source: Option<&dyn std::error::Error> = Some(e);
            // The innermost causes say it ("Connection refused (os error 111)").
            while let Some(s) = source {
                why = s.to_string();
                source = s.source();
            }
            if e.is_connect() {
                format!("cannot connect ({why})")
            } else {
                why
            }
        };
        Error::Unreachable {
            server: self.server.clone(),
            why,
        }
    }

    fn status_error(&self, path: &str, status: StatusCode, bytes: &[u8]) -> Option<Error> {
        if status.is_success() {
            return None;
        }
        let message = serde_json::from_slice::<Message>(bytes)
            .ok()
            .and_then(|m| m.text());
        let detail = || message.clone().unwrap_or_else(|| excerpt(bytes));
        Some(match status.as_u16() {
            401 | 403 => Error::TokenRefused {
                server: self.server.clone(),
                status: status.as_u16(),
                detail: if self.token.is_none() {
                    format!("{} (no token is configured)", detail())
                } else {
                    detail()
                },
            },
            400 => Error::Rejected { message: detail() },
            404 => Error::NotFound {
                what: path.trim_end_matches('/').to_owned(),
            },
            code @ (502..=504) => Error::Unreachable {
                server: self.server.clone(),
                why: format!(
                    "HTTP {code} from the proxy in front of it (the server behind does not answer)"
                ),
            },
            code => Error::Http {
                server: self.server.clone(),
                path: path.to_owned(),
                status: code,
                detail: detail(),
            },
        })
    }
}

/// More pages than this of one list are not read (50 results each on LAVA 2023.01).
const MAX_PAGES: usize = 200;

fn not_found_as(error: Error, what: String) -> Error {
    match error {
        Error::NotFound { .. } => Error::NotFound { what },
        other => other,
    }
}

/// The start of an answer, for messages.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]);
    text.trim().to_owned()
}

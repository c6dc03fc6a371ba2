//! A fake Patchwork on 127.0.0.1, for tests (feature `fake`): this crate's, and the service's.
//!
//! It answers as Patchwork 3.2 does (checked against the captured answers of a real server in
//! `../shared/reference/patchwork-api-samples/` by this crate's `samples` test):
//!
//! - `/api/`, `/api/1.0/` … `/api/1.4/` (`/api/1.5/` is 404), fields gated by version as
//!   Patchwork gates them, the same field names, order and nesting, naive timestamps;
//! - lists as bare arrays paginated by `page` and `per_page` (default 30, at most 250), with the
//!   `Link` header Patchwork writes (`next`, `prev`, `first`, `last`; query keys sorted);
//!   404 `{"detail":"Invalid page."}` past the end;
//! - `events/` filtered by `project`, `category` (repeatable), `series`, `patch`, `cover`,
//!   `actor`, `since` (`>=`), `before` (`<`), ordered by `order=date|-date` (default newest
//!   first); a zone-aware `since` is HTTP 500, as on a real server;
//! - `patches/` (filters `project`, `series`, `state`, `archived`, `msgid`, `hash`,
//!   `submitter`, `since`, `before`), `series/`, `covers/`, `projects/`, `users/` and `people/`
//!   (these two only with a token), the site's `series/{id}/mbox/` and each patch's `mbox/`;
//! - `POST patches/{id}/checks/` (JSON or form) and `PATCH patches/{id}/` with Patchwork's
//!   rules: a token (`Authorization: Token …`) of a user who maintains the project, is the
//!   patch's delegate or its submitter; 403 with Patchwork's words otherwise (Patchwork answers
//!   403, not 401, to a missing or wrong token); 400 with DRF's field errors; 201 and
//!   `Location` for a check; the events these writes fire (`check-created`,
//!   `patch-state-changed` with the actor).
//!
//! The test controls the state ([`FakePatchwork::add_project`], [`FakePatchwork::add_user`],
//! [`FakePatchwork::add_series`] from fields, [`FakePatchwork::add_series_mbox`] from mail,
//! [`FakePatchwork::add_patch`] for late mail, [`FakePatchwork::set_clock`] for the dates
//! Patchwork stamps), injects faults ([`FakePatchwork::push_fault`]: a status, garbage, a
//! delay), and reads what happened: every write received, accepted or not
//! ([`FakePatchwork::writes`]), every request ([`FakePatchwork::requests`]), the checks and
//! states as they are.
//!
//! Not served: bundles, comments, multipart bodies, HTTP Basic authentication, series
//! dependencies (always empty), `q` searches.

mod db;
mod http;
mod mbox;
mod render;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::model::CheckState;
use crate::time::Timestamp;

/// Who sent a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitter {
    pub name: Option<String>,
    pub email: String,
}

impl Submitter {
    pub fn new(name: &str, email: &str) -> Submitter {
        Submitter {
            name: Some(name.to_owned()),
            email: email.to_owned(),
        }
    }
}

/// A patch (or cover letter) as Patchwork stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchSpec {
    /// The cleaned subject, prefixes kept but `PATCH` (`[v2,1/2] test: Add some lorem ipsum`).
    pub name: String,
    /// With or without `<>`.
    pub msgid: String,
    /// The mail's date (UTC); `None`: the fake's clock.
    pub date: Option<Timestamp>,
    /// The message, without the diff.
    pub content: String,
    pub diff: Option<String>,
    pub hash: Option<String>,
    pub pull_url: Option<String>,
    /// The original headers; when empty, `From`, `Subject`, `Date` and `Message-ID` are made up.
    pub headers: Vec<(String, String)>,
    /// The `x` of `x/N`; `None`: read from the name, else the position in the series.
    pub number: Option<u32>,
    /// When not the series' submitter.
    pub submitter: Option<Submitter>,
}

impl PatchSpec {
    /// A patch with a one-line diff of its own.
    pub fn new(name: &str, msgid: &str) -> PatchSpec {
        let file = mbox::filename(name);
        PatchSpec {
            name: name.to_owned(),
            msgid: msgid.to_owned(),
            date: None,
            content: format!("{name}\n\nSigned-off-by: A U Thor <author@example.com>\n---"),
            diff: Some(format!(
                "diff --git a/{file} b/{file}\nnew file mode 100644\n--- /dev/null\n+++ b/{file}\n@@ -0,0 +1 @@\n+{name}\n"
            )),
            hash: None,
            pull_url: None,
            headers: Vec::new(),
            number: None,
            submitter: None,
        }
    }

    /// The same without a diff (for a cover letter).
    pub fn cover(name: &str, msgid: &str) -> PatchSpec {
        PatchSpec {
            diff: None,
            content: format!("{name}\n\nThe cover letter."),
            ..PatchSpec::new(name, msgid)
        }
    }

    pub fn at(mut self, date: Timestamp) -> PatchSpec {
        self.date = Some(date);
        self
    }

    fn headers_or_synthesized(&self, date: Timestamp) -> Vec<(String, String)> {
        if !self.headers.is_empty() {
            return self.headers.clone();
        }
        let from = self.submitter.as_ref().map_or_else(
            || "A U Thor <author@example.com>".to_owned(),
            |s| match &s.name {
                Some(n) => format!("{n} <{}>", s.email),
                None => s.email.clone(),
            },
        );
        let prefixes = db::prefixes_of(&self.name);
        let rest = db::strip_prefixes(&self.name);
        let subject = if prefixes.is_empty() {
            format!("[PATCH] {rest}")
        } else {
            format!("[PATCH {}] {rest}", prefixes.join(" "))
        };
        vec![
            ("From".into(), from),
            ("Subject".into(), subject),
            ("Date".into(), date.rfc2822()),
            ("Message-ID".into(), db::with_brackets(&self.msgid)),
        ]
    }
}

/// A series to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesSpec {
    /// `None`: named as Patchwork names it (the cover letter without prefixes, else patch 1).
    pub name: Option<String>,
    pub version: u32,
    /// Patches announced (`N`); `None`: as many as given. More than given leaves the series
    /// incomplete until [`FakePatchwork::add_patch`] brings the rest.
    pub total: Option<u32>,
    pub submitter: Submitter,
    pub cover: Option<PatchSpec>,
    pub patches: Vec<PatchSpec>,
}

impl SeriesSpec {
    /// `count` patches named `[i/count] {title} part i`, Message-IDs `{key}.{i}@example.com`,
    /// with a cover letter `[0/count] {title}` when `count > 1`.
    pub fn numbered(title: &str, key: &str, count: u32) -> SeriesSpec {
        let patches = (1..=count)
            .map(|i| {
                let name = if count > 1 {
                    format!("[{i}/{count}] {title} part {i}")
                } else {
                    title.to_owned()
                };
                PatchSpec::new(&name, &format!("{key}.{i}@example.com"))
            })
            .collect();
        SeriesSpec {
            name: None,
            version: 1,
            total: None,
            submitter: Submitter::new("A U Thor", "author@example.com"),
            cover: (count > 1).then(|| {
                PatchSpec::cover(
                    &format!("[0/{count}] {title}"),
                    &format!("{key}.0@example.com"),
                )
            }),
            patches,
        }
    }
}

/// The ids Patchwork gave a series' objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedSeries {
    pub series: u64,
    pub cover: Option<u64>,
    /// In the order given.
    pub patches: Vec<u64>,
}

/// A user account with its API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    pub id: u64,
    pub username: String,
    pub token: String,
}

/// A fault served instead of the next matching request's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This status with Django's error page (500, 502, 503…).
    Status(u16),
    /// 200 with a body that is not JSON.
    Garbage,
    /// Wait this long, then answer normally.
    Delay(Duration),
}

/// A write the fake received (`POST`, `PATCH`, `PUT`, `DELETE` under `/api/`), whatever came
/// of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The token's user, when the token was valid.
    pub user: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    /// The status answered.
    pub status: u16,
}

/// A request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    pub status: u16,
}

/// A check as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheck {
    pub id: u64,
    pub user: String,
    pub state: CheckState,
    pub context: String,
    pub target_url: Option<String>,
    pub description: Option<String>,
    pub date: Timestamp,
}

#[derive(Clone)]
pub(crate) struct Shared {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    db: Arc<Mutex<db::Db>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, db::Db> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running fake; it stops when dropped.
pub struct FakePatchwork {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for FakePatchwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePatchwork")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakePatchwork {
    /// Starts an empty fake on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<FakePatchwork> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Shared {
            base: format!("http://{addr}"),
            db: Arc::new(Mutex::new(db::Db::new())),
        };
        let app = axum::Router::new()
            .fallback(http::handle)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(%e, "fake Patchwork stopped");
            }
        });
        Ok(FakePatchwork {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:PORT` (what a client is configured with).
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    /// `http://127.0.0.1:PORT/api/{version}/`.
    pub fn api_url(&self, version: &str) -> String {
        format!("{}/api/{version}/", self.shared.base)
    }

    /// A project (`list_email` made from `list_id`: `test.example.com` → `test@example.com`).
    pub fn add_project(&self, link_name: &str, name: &str, list_id: &str) -> u64 {
        self.shared.lock().add_project(link_name, name, list_id)
    }

    /// An account and its token. A person who sent mail from `email` becomes this user's.
    pub fn add_user(&self, username: &str, email: &str) -> FakeUser {
        let (id, token) = self.shared.lock().add_user(username, email);
        FakeUser {
            id,
            username: username.to_owned(),
            token,
        }
    }

    /// Makes a user a maintainer of a project (who may post checks and change states).
    pub fn add_maintainer(&self, project: u64, user: u64) {
        let mut db = self.shared.lock();
        if let Some(p) = db.projects.iter_mut().find(|p| p.id == project)
            && !p.maintainers.contains(&user)
        {
            p.maintainers.push(user);
        }
    }

    /// Adds a series as if its mails had arrived in order, with the events Patchwork fires.
    pub fn add_series(&self, project: u64, spec: &SeriesSpec) -> AddedSeries {
        self.shared.lock().add_series(project, spec)
    }

    /// Adds the series held by an mbox (a cover letter `0/N` if any, then patches; replies
    /// skipped), each mail read by `gauntlet-mail` the way Patchwork reads it.
    pub fn add_series_mbox(&self, project: u64, mbox: &[u8]) -> Result<AddedSeries, String> {
        let spec = mbox::series_from_mbox(mbox)?;
        Ok(self.add_series(project, &spec))
    }

    /// A patch arriving late for an existing series (`None`: no such series).
    pub fn add_patch(&self, series: u64, spec: &PatchSpec) -> Option<u64> {
        self.shared.lock().add_patch(series, spec)
    }

    /// From now on Patchwork's own stamps (events, checks) are `start`, then `step` later each
    /// time. Setting it back makes events appear "in the past", as a slow commit or a clock
    /// going back does on a real server.
    pub fn set_clock(&self, start: Timestamp, step: Duration) {
        self.shared.lock().clock = db::Clock::Fixed { next: start, step };
    }

    /// Serves `fault` to the next request whose path starts with `path_prefix` (`""`: any).
    pub fn push_fault(&self, path_prefix: &str, fault: Fault) {
        self.shared
            .lock()
            .faults
            .push_back((path_prefix.to_owned(), fault));
    }

    /// A user (a maintainer, say) changes a patch's state, as from the web UI.
    pub fn change_state(&self, patch: u64, slug: &str, by: Option<u64>) -> bool {
        self.shared.lock().set_state(patch, slug, by).is_some()
    }

    /// Makes a user the patch's delegate.
    pub fn set_delegate(&self, patch: u64, user: Option<u64>) {
        let mut db = self.shared.lock();
        if let Some(p) = db.patches.iter_mut().find(|p| p.id == patch) {
            p.delegate = user;
        }
    }

    /// The state slug of a patch.
    pub fn patch_state(&self, patch: u64) -> Option<String> {
        self.shared.lock().patch(patch).map(|p| p.state.clone())
    }

    /// The checks of a patch, oldest first.
    pub fn checks(&self, patch: u64) -> Vec<StoredCheck> {
        let db = self.shared.lock();
        db.checks
            .iter()
            .filter(|c| c.patch == patch)
            .map(|c| StoredCheck {
                id: c.id,
                user: db
                    .user(c.user)
                    .map(|u| u.username.clone())
                    .unwrap_or_default(),
                state: c.state,
                context: c.context.clone(),
                target_url: c.target_url.clone(),
                description: c.description.clone(),
                date: c.date,
            })
            .collect()
    }

    /// Every write received, in order, with the status it got.
    pub fn writes(&self) -> Vec<Write> {
        self.shared.lock().writes.clone()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }

    /// How many events there are.
    pub fn event_count(&self) -> usize {
        self.shared.lock().events.len()
    }
}

impl Drop for FakePatchwork {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

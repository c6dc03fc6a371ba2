//! The fake's objects as Patchwork writes them: the same fields, in the same order, gated by the
//! API version asked for (fields appear in 1.1, 1.2, 1.4), URLs versioned as Patchwork builds
//! them (`url`s carry the version, the `comments` and `checks` links of a patch do not).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use super::db::{CheckRow, CoverRow, Db, EventRow, MailRow, PatchRow, ProjectRow, SeriesRow};

/// The newest API version the fake serves (what an unversioned `/api/` answers as).
pub(crate) const LATEST_MINOR: u8 = 4;

/// JSON whose objects keep their fields in the order written (serde_json's own map sorts them).
#[derive(Debug, Clone)]
pub(crate) enum Json {
    Value(Value),
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Value(v) => v.serialize(serializer),
            Json::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

pub(crate) fn val(v: impl Into<Value>) -> Json {
    Json::Value(v.into())
}

pub(crate) fn or_null<T: Into<Value>>(v: Option<T>) -> Json {
    Json::Value(v.map_or(Value::Null, Into::into))
}

/// An object under construction.
pub(crate) struct Obj(Vec<(String, Json)>);

impl Obj {
    pub(crate) fn new() -> Obj {
        Obj(Vec::new())
    }

    pub(crate) fn f(mut self, key: &str, value: Json) -> Obj {
        self.0.push((key.to_owned(), value));
        self
    }

    /// A field that exists only from some API version on.
    pub(crate) fn since(
        self,
        ctx: &Ctx<'_>,
        minor: u8,
        key: &str,
        value: impl FnOnce() -> Json,
    ) -> Obj {
        if ctx.minor() >= minor {
            self.f(key, value())
        } else {
            self
        }
    }

    pub(crate) fn done(self) -> Json {
        Json::Object(self.0)
    }
}

/// The request being answered: the server's address and the API version in its path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// `http://127.0.0.1:PORT`.
    pub base: &'a str,
    /// The minor version of `/api/1.x/`; `None` for `/api/`.
    pub version: Option<u8>,
}

impl Ctx<'_> {
    pub(crate) fn minor(&self) -> u8 {
        self.version.unwrap_or(LATEST_MINOR)
    }

    /// A URL of the API, in the request's version.
    pub(crate) fn api(&self, path: &str) -> String {
        match self.version {
            Some(minor) => format!("{}/api/1.{minor}/{path}", self.base),
            None => format!("{}/api/{path}", self.base),
        }
    }

    /// An unversioned API URL (what Patchwork's `reverse()` without the version gives).
    pub(crate) fn unversioned(&self, path: &str) -> String {
        format!("{}/api/{path}", self.base)
    }

    pub(crate) fn site(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }
}

/// A Message-ID as it goes into a URL: without `<>`, `/` encoded.
pub(crate) fn url_msgid(msgid: &str) -> String {
    msgid
        .trim_start_matches('<')
        .trim_end_matches('>')
        .replace('/', "%2F")
}

pub(crate) fn project_embedded(ctx: &Ctx<'_>, p: &ProjectRow) -> Json {
    project_archive(project_head(ctx, p), ctx, p).done()
}

/// The archive fields of a project (API 1.2).
fn project_archive(obj: Obj, ctx: &Ctx<'_>, p: &ProjectRow) -> Obj {
    obj.since(ctx, 2, "list_archive_url", || {
        val(p.list_archive_url.as_str())
    })
    .since(ctx, 2, "list_archive_url_format", || {
        val(p.list_archive_url_format.as_str())
    })
    .since(ctx, 2, "commit_url_format", || {
        val(p.commit_url_format.as_str())
    })
}

fn project_head(ctx: &Ctx<'_>, p: &ProjectRow) -> Obj {
    Obj::new()
        .f("id", val(p.id))
        .f("url", val(ctx.api(&format!("projects/{}/", p.id))))
        .f("name", val(p.name.as_str()))
        .f("link_name", val(p.link_name.as_str()))
        .f("list_id", val(p.list_id.as_str()))
        .f("list_email", val(p.list_email.as_str()))
        .f("web_url", val(p.web_url.as_str()))
        .f("scm_url", val(p.scm_url.as_str()))
        .f("webscm_url", val(p.webscm_url.as_str()))
}

pub(crate) fn project(db: &Db, ctx: &Ctx<'_>, p: &ProjectRow) -> Json {
    let maintainers = p
        .maintainers
        .iter()
        .filter_map(|id| db.user(*id))
        .map(|u| user(ctx, u))
        .collect();
    let head = project_head(ctx, p)
        .f("maintainers", Json::Array(maintainers))
        .since(ctx, 1, "subject_match", || val(p.subject_match.as_str()));
    project_archive(head, ctx, p)
        .since(ctx, 4, "show_dependencies", || val(p.show_dependencies))
        .done()
}

pub(crate) fn user(ctx: &Ctx<'_>, u: &super::db::UserRow) -> Json {
    Obj::new()
        .f("id", val(u.id))
        .f("url", val(ctx.api(&format!("users/{}/", u.id))))
        .f("username", val(u.username.as_str()))
        .f("first_name", val(u.first_name.as_str()))
        .f("last_name", val(u.last_name.as_str()))
        .f("email", val(u.email.as_str()))
        .done()
}

/// A user's own detail (`settings` only to the user themself, from 1.2).
pub(crate) fn user_detail(ctx: &Ctx<'_>, u: &super::db::UserRow, is_self: bool) -> Json {
    let Json::Object(mut fields) = user(ctx, u) else {
        return user(ctx, u);
    };
    if is_self && ctx.minor() >= 2 {
        let settings = Obj::new()
            .f("send_email", val(false))
            .f("items_per_page", val(100))
            .f("show_ids", val(false))
            .done();
        fields.push(("settings".to_owned(), settings));
    }
    Json::Object(fields)
}

pub(crate) fn person(ctx: &Ctx<'_>, db: &Db, id: u64) -> Json {
    let Some(p) = db.person(id) else {
        return val(Value::Null);
    };
    Obj::new()
        .f("id", val(p.id))
        .f("url", val(ctx.api(&format!("people/{}/", p.id))))
        .f("name", or_null(p.name.clone()))
        .f("email", val(p.email.as_str()))
        .done()
}

pub(crate) fn person_detail(ctx: &Ctx<'_>, db: &Db, id: u64) -> Json {
    let linked = db
        .person(id)
        .and_then(|p| p.user)
        .and_then(|u| db.user(u))
        .map(|u| user(ctx, u))
        .unwrap_or(Json::Value(Value::Null));
    match person(ctx, db, id) {
        Json::Object(mut fields) => {
            fields.push(("user".to_owned(), linked));
            Json::Object(fields)
        }
        other => other,
    }
}

pub(crate) fn series_embedded(ctx: &Ctx<'_>, db: &Db, s: &SeriesRow) -> Json {
    Obj::new()
        .f("id", val(s.id))
        .f("url", val(ctx.api(&format!("series/{}/", s.id))))
        .since(ctx, 1, "web_url", || val(series_web_url(ctx, db, s)))
        .f("date", val(s.date.to_string()))
        .f("name", or_null(s.name.clone()))
        .f("version", val(s.version))
        .f("mbox", val(ctx.site(&format!("series/{}/mbox/", s.id))))
        .done()
}

fn series_web_url(ctx: &Ctx<'_>, db: &Db, s: &SeriesRow) -> String {
    let link = db.project(s.project).map_or("", |p| p.link_name.as_str());
    ctx.site(&format!("project/{link}/list/?series={}", s.id))
}

/// `patch` or `cover`, as the site's URLs name them.
fn mail_url(ctx: &Ctx<'_>, db: &Db, project: u64, kind: &str, m: &MailRow, suffix: &str) -> String {
    let link = db.project(project).map_or("", |p| p.link_name.as_str());
    ctx.site(&format!(
        "project/{link}/{kind}/{}/{suffix}",
        url_msgid(&m.msgid)
    ))
}

/// A patch or cover letter: its id, project, `patch` or `cover`, and mail.
type Submission<'a> = (u64, u64, &'a str, &'a MailRow);

/// The fields patches and cover letters begin with, embedded or not.
fn submission_head(ctx: &Ctx<'_>, db: &Db, s: Submission<'_>, with_project: bool) -> Obj {
    let (id, project, kind, m) = s;
    let api_kind = if kind == "patch" { "patches" } else { "covers" };
    let mut obj = Obj::new()
        .f("id", val(id))
        .f("url", val(ctx.api(&format!("{api_kind}/{id}/"))))
        .since(ctx, 1, "web_url", || {
            val(mail_url(ctx, db, project, kind, m, ""))
        });
    if with_project {
        let project = db
            .project(project)
            .map_or(Json::Value(Value::Null), |pr| project_embedded(ctx, pr));
        obj = obj.f("project", project);
    }
    obj.f("msgid", val(m.msgid.as_str()))
        .since(ctx, 2, "list_archive_url", || val(Value::Null))
        .f("date", val(m.date.to_string()))
        .f("name", val(m.name.as_str()))
}

fn submission_embedded(ctx: &Ctx<'_>, db: &Db, s: Submission<'_>) -> Json {
    let (_, project, kind, m) = s;
    submission_head(ctx, db, s, false)
        .f("mbox", val(mail_url(ctx, db, project, kind, m, "mbox/")))
        .done()
}

pub(crate) fn patch_embedded(ctx: &Ctx<'_>, db: &Db, p: &PatchRow) -> Json {
    submission_embedded(ctx, db, (p.id, p.project, "patch", &p.mail))
}

pub(crate) fn cover_embedded(ctx: &Ctx<'_>, db: &Db, c: &CoverRow) -> Json {
    submission_embedded(ctx, db, (c.id, c.project, "cover", &c.mail))
}

fn series_list_of(ctx: &Ctx<'_>, db: &Db, series: Option<u64>) -> Json {
    Json::Array(
        series
            .and_then(|id| db.series_row(id))
            .map(|s| series_embedded(ctx, db, s))
            .into_iter()
            .collect(),
    )
}

/// `headers` as Patchwork returns them: name → value, or a list of values when repeated.
fn headers(m: &MailRow) -> Json {
    let mut fields: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in &m.headers {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value.clone()),
            None => fields.push((name.clone(), vec![value.clone()])),
        }
    }
    Json::Object(
        fields
            .into_iter()
            .map(|(name, mut values)| {
                let v = if values.len() == 1 {
                    val(values.remove(0))
                } else {
                    val(values)
                };
                (name, v)
            })
            .collect(),
    )
}

pub(crate) fn patch(ctx: &Ctx<'_>, db: &Db, p: &PatchRow, detail: bool) -> Json {
    let delegate = p
        .delegate
        .and_then(|u| db.user(u))
        .map_or(Json::Value(Value::Null), |u| user(ctx, u));
    let mut obj = submission_head(ctx, db, (p.id, p.project, "patch", &p.mail), true)
        .f("commit_ref", or_null(p.commit_ref.clone()))
        .f("pull_url", or_null(p.pull_url.clone()))
        .f("state", val(p.state.as_str()))
        .f("archived", val(p.archived))
        .f("hash", or_null(p.hash.clone()))
        .f("submitter", person(ctx, db, p.mail.submitter))
        .f("delegate", delegate)
        .f(
            "mbox",
            val(mail_url(ctx, db, p.project, "patch", &p.mail, "mbox/")),
        )
        .f("series", series_list_of(ctx, db, p.series))
        .since(ctx, 1, "comments", || {
            val(ctx.unversioned(&format!("patches/{}/comments/", p.id)))
        })
        .f("check", val(db.combined_check(p.id).as_str()))
        .f(
            "checks",
            val(ctx.unversioned(&format!("patches/{}/checks/", p.id))),
        )
        .f("tags", Json::Object(Vec::new()))
        .since(ctx, 2, "related", || Json::Array(Vec::new()));
    if detail {
        obj = obj
            .f("headers", headers(&p.mail))
            .f("content", val(p.mail.content.as_str()))
            .f("diff", or_null(p.diff.clone()))
            .f("prefixes", val(p.prefixes.clone()));
    }
    obj.done()
}

pub(crate) fn cover(ctx: &Ctx<'_>, db: &Db, c: &CoverRow, detail: bool) -> Json {
    let mut obj = submission_head(ctx, db, (c.id, c.project, "cover", &c.mail), true)
        .f("submitter", person(ctx, db, c.mail.submitter))
        .since(ctx, 1, "mbox", || {
            val(mail_url(ctx, db, c.project, "cover", &c.mail, "mbox/"))
        })
        .f("series", series_list_of(ctx, db, c.series))
        .since(ctx, 1, "comments", || {
            val(ctx.unversioned(&format!("covers/{}/comments/", c.id)))
        });
    if detail {
        obj = obj
            .f("headers", headers(&c.mail))
            .f("content", val(c.mail.content.as_str()));
    }
    obj.done()
}

pub(crate) fn series(ctx: &Ctx<'_>, db: &Db, s: &SeriesRow) -> Json {
    let project = db.project(s.project);
    let cover = s
        .cover
        .and_then(|c| db.cover(c))
        .map_or(Json::Value(Value::Null), |c| cover_embedded(ctx, db, c));
    // Patchwork lists a series' patches by date.
    let mut patches: Vec<&PatchRow> = s.patches.iter().filter_map(|id| db.patch(*id)).collect();
    patches.sort_by_key(|p| (p.mail.date, p.id));
    let obj = Obj::new()
        .f("id", val(s.id))
        .f("url", val(ctx.api(&format!("series/{}/", s.id))))
        .since(ctx, 1, "web_url", || val(series_web_url(ctx, db, s)))
        .f(
            "project",
            project.map_or(Json::Value(Value::Null), |p| project_embedded(ctx, p)),
        )
        .f("name", or_null(s.name.clone()))
        .f("date", val(s.date.to_string()))
        .f("submitter", person(ctx, db, s.submitter))
        .f("version", val(s.version))
        .f("total", val(s.total))
        .f("received_total", val(s.patches.len()))
        .f("received_all", val(s.total as usize <= s.patches.len()))
        .f("mbox", val(ctx.site(&format!("series/{}/mbox/", s.id))))
        .f("cover_letter", cover)
        .f(
            "patches",
            Json::Array(patches.iter().map(|p| patch_embedded(ctx, db, p)).collect()),
        );
    if ctx.minor() >= 4 && project.is_some_and(|p| p.show_dependencies) {
        obj.f("dependencies", Json::Array(Vec::new()))
            .f("dependents", Json::Array(Vec::new()))
            .done()
    } else {
        obj.done()
    }
}

fn check_url(ctx: &Ctx<'_>, c: &CheckRow) -> String {
    ctx.api(&format!("patches/{}/checks/{}/", c.patch, c.id))
}

pub(crate) fn check(ctx: &Ctx<'_>, db: &Db, c: &CheckRow) -> Json {
    Obj::new()
        .f("id", val(c.id))
        .f("url", val(check_url(ctx, c)))
        .f(
            "user",
            db.user(c.user)
                .map_or(Json::Value(Value::Null), |u| user(ctx, u)),
        )
        .f("date", val(c.date.to_string()))
        .f("state", val(c.state.as_str()))
        .f("target_url", or_null(c.target_url.clone()))
        .f("context", val(c.context.as_str()))
        .f("description", or_null(c.description.clone()))
        .done()
}

fn check_embedded(ctx: &Ctx<'_>, c: &CheckRow) -> Json {
    Obj::new()
        .f("id", val(c.id))
        .f("url", val(check_url(ctx, c)))
        .f("date", val(c.date.to_string()))
        .f("state", val(c.state.as_str()))
        .f("target_url", or_null(c.target_url.clone()))
        .f("context", val(c.context.as_str()))
        .done()
}

pub(crate) fn event(ctx: &Ctx<'_>, db: &Db, e: &EventRow) -> Json {
    let mut payload = Obj::new();
    if let Some(p) = e.cover.and_then(|id| db.cover(id)) {
        payload = payload.f("cover", cover_embedded(ctx, db, p));
    }
    if let Some(p) = e.patch.and_then(|id| db.patch(id)) {
        payload = payload.f("patch", patch_embedded(ctx, db, p));
    }
    if let Some(s) = e.series.and_then(|id| db.series_row(id)) {
        payload = payload.f("series", series_embedded(ctx, db, s));
    }
    if let Some(state) = &e.current_state {
        payload = payload
            .f("previous_state", or_null(e.previous_state.clone()))
            .f("current_state", val(state.as_str()));
    }
    if let Some(c) = e.check.and_then(|id| db.check(id)) {
        payload = payload.f("check", check_embedded(ctx, c));
    }
    let project = db
        .project(e.project)
        .map_or(Json::Value(Value::Null), |p| project_embedded(ctx, p));
    Obj::new()
        .f("id", val(e.id))
        .f("category", val(e.category.as_str()))
        .f("project", project)
        .f("date", val(e.date.to_string()))
        .since(ctx, 2, "actor", || {
            e.actor
                .and_then(|u| db.user(u))
                .map_or(Json::Value(Value::Null), |u| user(ctx, u))
        })
        .f("payload", payload.done())
        .done()
}

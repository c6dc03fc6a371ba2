//! The fake's HTTP side: routing as Patchwork's URL patterns do, Django REST framework's
//! authentication, pagination, filters, validation and error bodies.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::db::{CheckRow, Db, EventRow, PatchRow, STATES};
use super::render::{self, Ctx, Json, LATEST_MINOR, Obj, val};
use super::{Fault, RequestRecord, Shared, Write, mbox};
use crate::model::CheckState;
use crate::time::Timestamp;

/// Bodies larger than this are refused (Patchwork's own limit is Django's, 2.5 MB for forms).
const MAX_BODY: usize = 4 << 20;

const NO_PERMISSION: &str = "You do not have permission to perform this action.";
const NO_CREDENTIALS: &str = "Authentication credentials were not provided.";
const REQUIRED: &str = "This field is required.";
const NOT_NULL: &str = "This field may not be null.";
const NOT_BLANK: &str = "This field may not be blank.";
const NOT_STRING: &str = "Not a valid string.";
const BAD_SLUG: &str =
    "Enter a valid \"slug\" consisting of letters, numbers, underscores or hyphens.";
const BAD_URL: &str = "Enter a valid URL.";

/// An answer, kept as data until sent so that the logs can read its status.
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, json: &Json) -> Reply {
        Reply {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("vary", "Accept, Cookie".into()),
            ],
            body: serde_json::to_vec(json).unwrap_or_default(),
        }
    }

    /// DRF's `{"detail": "…"}`.
    fn detail(status: u16, message: &str) -> Reply {
        Reply::json(status, &Obj::new().f("detail", val(message)).done())
    }

    /// DRF's field errors: `{"field": ["message", …], …}` in the serializer's field order.
    fn fields(errors: Vec<(&str, Vec<String>)>) -> Reply {
        let mut obj = Obj::new();
        for (field, messages) in errors {
            obj = obj.f(field, val(messages));
        }
        Reply::json(400, &obj.done())
    }

    /// Django's own error pages (`DEBUG = False`).
    fn page(status: u16) -> Reply {
        let title = match status {
            404 => "<title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>".to_owned(),
            400 => "<title>Bad Request (400)</title>\n</head>\n<body>\n  <h1>Bad Request (400)</h1><p></p>".to_owned(),
            code => format!("<title>Server Error ({code})</title>\n</head>\n<body>\n  <h1>Server Error ({code})</h1><p></p>"),
        };
        Reply {
            status,
            headers: vec![("content-type", "text/html; charset=utf-8".into())],
            body: format!(
                "<!doctype html>\n<html lang=\"en\">\n<head>\n  {title}\n</body>\n</html>\n"
            )
            .into_bytes(),
        }
    }

    fn redirect(to: String) -> Reply {
        Reply {
            status: 301,
            headers: vec![
                ("location", to),
                ("content-type", "text/html; charset=utf-8".into()),
            ],
            body: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = Response::new(axum::body::Body::from(self.body));
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .append(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// Every request goes through here (the router has only this fallback: Patchwork's URL
/// patterns, optional version and trailing-slash redirects are easier to follow by hand).
pub(crate) async fn handle(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    let fault = {
        let mut db = shared.lock();
        let at = db
            .faults
            .iter()
            .position(|(prefix, _)| path.starts_with(prefix));
        at.and_then(|i| db.faults.remove(i)).map(|(_, f)| f)
    };
    if let Some(Fault::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let body: Bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let reply = match fault {
        Some(Fault::Status(code)) => Reply::page(code),
        Some(Fault::Garbage) => Reply {
            status: 200,
            headers: vec![("content-type", "application/json".into())],
            body: b"<html><body>Gateway says hello</body></html>".to_vec(),
        },
        _ => {
            let mut db = shared.lock();
            let req = Req {
                method: &parts.method,
                uri: &parts.uri,
                query: parse_query(parts.uri.query().unwrap_or("")),
                headers: &parts.headers,
                body: &body,
            };
            route(&mut db, &shared.base, &req)
        }
    };
    let mut db = shared.lock();
    db.requests.push(RequestRecord {
        method: parts.method.to_string(),
        path: path_and_query.clone(),
        status: reply.status,
    });
    let is_write = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if is_write && path.starts_with("/api") {
        let user = match authenticate(&db, &parts.headers) {
            Auth::User(id) => db.user(id).map(|u| u.username.clone()),
            _ => None,
        };
        db.writes.push(Write {
            method: parts.method.to_string(),
            path: path_and_query,
            user,
            content_type: parts
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: String::from_utf8_lossy(&body).into_owned(),
            status: reply.status,
        });
    }
    reply.into_response()
}

struct Req<'a> {
    method: &'a Method,
    uri: &'a Uri,
    query: Vec<(String, String)>,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl Req<'_> {
    /// The last value of a query parameter (Django's `QueryDict.get`).
    fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated parameter (any of them matches, from API 1.1).
    fn all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn slash_redirect(&self) -> Reply {
        let mut to = format!("{}/", self.uri.path());
        if let Some(q) = self.uri.query() {
            to.push('?');
            to.push_str(q);
        }
        Reply::redirect(to)
    }
}

fn route(db: &mut Db, base: &str, req: &Req<'_>) -> Reply {
    let path = req.uri.path();
    if path == "/api" {
        return req.slash_redirect();
    }
    if !path.ends_with('/') {
        return req.slash_redirect();
    }
    match path.strip_prefix("/api/") {
        Some(rest) => api(db, base, req, rest),
        None => site(db, req, path),
    }
}

enum Auth {
    Anonymous,
    User(u64),
    /// DRF's `AuthenticationFailed`, answered 403 to every API request.
    Failed(&'static str),
}

/// DRF's `TokenAuthentication` (keyword compared case-insensitively) and a refusal of HTTP
/// Basic, for which the fake has no passwords.
fn authenticate(db: &Db, headers: &HeaderMap) -> Auth {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Auth::Anonymous;
    };
    let words: Vec<&str> = value.split_whitespace().collect();
    match words.first().map(|w| w.to_ascii_lowercase()).as_deref() {
        Some("token") => match words.len() {
            1 => Auth::Failed("Invalid token header. No credentials provided."),
            2 => db
                .user_by_token(words[1])
                .map_or(Auth::Failed("Invalid token."), |u| Auth::User(u.id)),
            _ => Auth::Failed("Invalid token header. Token string should not contain spaces."),
        },
        Some("basic") => Auth::Failed("Invalid username/password."),
        _ => Auth::Anonymous,
    }
}

fn is_version(segment: &str) -> bool {
    segment.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    })
}

/// `Allow` of each kind of endpoint.
const READ_ONLY: &str = "GET, HEAD, OPTIONS";
const CHECKS: &str = "GET, POST, HEAD, OPTIONS";
const EDITABLE: &str = "GET, PUT, PATCH, HEAD, OPTIONS";

fn method_check(req: &Req<'_>, allow: &'static str) -> Result<(), Reply> {
    let name = req.method.as_str();
    if allow.split(", ").any(|m| m == name) {
        Ok(())
    } else {
        Err(
            Reply::detail(405, &format!("Method \"{name}\" not allowed."))
                .with("allow", allow.to_owned()),
        )
    }
}

/// An API request once its version and user are known.
struct Call<'a> {
    ctx: Ctx<'a>,
    req: &'a Req<'a>,
    user: Option<u64>,
}

fn api(db: &mut Db, base: &str, req: &Req<'_>, rest: &str) -> Reply {
    let mut segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let mut version = None;
    if let Some(first) = segments.first().copied()
        && is_version(first)
    {
        match first
            .strip_prefix("1.")
            .and_then(|m| m.parse::<u8>().ok())
            .filter(|m| *m <= LATEST_MINOR)
        {
            Some(minor) if first.len() == 3 => {
                version = Some(minor);
                segments.remove(0);
            }
            _ => return Reply::page(404),
        }
    }
    let ctx = Ctx { base, version };
    let user = match authenticate(db, req.headers) {
        Auth::Failed(message) => return Reply::detail(403, message),
        Auth::User(id) => Some(id),
        Auth::Anonymous => None,
    };
    let result = match segments.as_slice() {
        [] => method_check(req, READ_ONLY).map(|()| index(&ctx)),
        ["projects"] => method_check(req, READ_ONLY).and_then(|()| {
            let items = db
                .projects
                .iter()
                .map(|p| render::project(db, &ctx, p))
                .collect();
            paginate(&ctx, req, items, READ_ONLY)
        }),
        ["projects", key] => method_check(req, READ_ONLY).and_then(|()| {
            db.find_project(key)
                .map(|p| Reply::json(200, &render::project(db, &ctx, p)))
                .ok_or_else(|| no_such("Project"))
        }),
        ["patches"] => method_check(req, READ_ONLY).and_then(|()| patch_list(db, &ctx, req)),
        ["patches", id] => patch_detail(db, &Call { ctx, req, user }, id),
        ["patches", id, "checks"] => checks(db, &Call { ctx, req, user }, id),
        ["patches", id, "checks", check] => method_check(req, READ_ONLY).and_then(|()| {
            let (patch, check) = (id.parse::<u64>().ok(), check.parse::<u64>().ok());
            db.checks
                .iter()
                .find(|c| Some(c.id) == check && Some(c.patch) == patch)
                .map(|c| Reply::json(200, &render::check(&ctx, db, c)))
                .ok_or_else(|| no_such("Check"))
        }),
        ["covers"] => method_check(req, READ_ONLY).and_then(|()| {
            let projects = project_ids(db, req);
            let msgids = req.all("msgid");
            let items = db
                .covers
                .iter()
                .filter(|c| projects.as_ref().is_none_or(|ids| ids.contains(&c.project)))
                .filter(|c| {
                    msgids.is_empty() || msgids.iter().any(|m| bare(&c.mail.msgid) == bare(m))
                })
                .map(|c| render::cover(&ctx, db, c, false))
                .collect();
            paginate(&ctx, req, items, READ_ONLY)
        }),
        ["covers", id] => method_check(req, READ_ONLY).and_then(|()| {
            id.parse()
                .ok()
                .and_then(|id| db.cover(id))
                .map(|c| Reply::json(200, &render::cover(&ctx, db, c, true)))
                .ok_or_else(|| no_such("Cover"))
        }),
        ["series"] => method_check(req, READ_ONLY).and_then(|()| series_list(db, &ctx, req)),
        ["series", id] => method_check(req, READ_ONLY).and_then(|()| {
            id.parse()
                .ok()
                .and_then(|id| db.series_row(id))
                .map(|s| Reply::json(200, &render::series(&ctx, db, s)))
                .ok_or_else(|| no_such("Series"))
        }),
        ["events"] => method_check(req, READ_ONLY).and_then(|()| events(db, &ctx, req)),
        ["users", ..] | ["people", ..] if user.is_none() => {
            method_check(req, READ_ONLY).and(Err(Reply::detail(403, NO_CREDENTIALS)))
        }
        ["users"] => method_check(req, READ_ONLY).and_then(|()| {
            let items = db.users.iter().map(|u| render::user(&ctx, u)).collect();
            paginate(&ctx, req, items, READ_ONLY)
        }),
        ["users", id] => method_check(req, READ_ONLY).and_then(|()| {
            id.parse()
                .ok()
                .and_then(|id| db.user(id))
                .map(|u| Reply::json(200, &render::user_detail(&ctx, u, Some(u.id) == user)))
                .ok_or_else(|| no_such("User"))
        }),
        ["people"] => method_check(req, READ_ONLY).and_then(|()| {
            let items = db
                .people
                .iter()
                .map(|p| render::person(&ctx, db, p.id))
                .collect();
            paginate(&ctx, req, items, READ_ONLY)
        }),
        ["people", id] => method_check(req, READ_ONLY).and_then(|()| {
            id.parse()
                .ok()
                .and_then(|id| db.person(id))
                .map(|p| Reply::json(200, &render::person_detail(&ctx, db, p.id)))
                .ok_or_else(|| no_such("Person"))
        }),
        _ => Err(Reply::page(404)),
    };
    result.unwrap_or_else(|reply| reply)
}

/// DRF's 404 for a missing object (the `Http404` message of `get_object_or_404`).
fn no_such(model: &str) -> Reply {
    Reply::detail(404, &format!("No {model} matches the given query."))
}

fn index(ctx: &Ctx<'_>) -> Reply {
    let mut obj = Obj::new();
    for name in [
        "bundles", "covers", "events", "patches", "people", "projects", "series", "users",
    ] {
        obj = obj.f(name, val(ctx.api(&format!("{name}/"))));
    }
    Reply::json(200, &obj.done())
}

/// Page-number pagination as Patchwork's `LinkHeaderPagination` does it.
fn paginate(ctx: &Ctx<'_>, req: &Req<'_>, items: Vec<Json>, allow: &str) -> Result<Reply, Reply> {
    let per_page = req
        .q("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .map_or(30, |n| n.min(250));
    let pages = items.len().div_ceil(per_page).max(1);
    let page = match req.q("page") {
        None => 1,
        Some("last") => pages,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=pages).contains(&n) => n,
            _ => return Err(Reply::detail(404, "Invalid page.")),
        },
    };
    let url = |page: Option<usize>| page_url(ctx, req, page);
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("<{}>; rel=\"next\"", url(Some(page + 1))));
    }
    if page > 1 {
        // DRF's previous link of page 2 has no `page` at all.
        let previous = if page == 2 { None } else { Some(page - 1) };
        links.push(format!("<{}>; rel=\"prev\"", url(previous)));
    }
    links.push(format!("<{}>; rel=\"first\"", url(Some(1))));
    links.push(format!("<{}>; rel=\"last\"", url(Some(pages))));
    let items: Vec<Json> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    Ok(Reply::json(200, &Json::Array(items))
        .with("link", links.join(", "))
        .with("allow", allow.to_owned()))
}

/// The request's URL with `page` replaced, query keys sorted (DRF's `replace_query_param`).
fn page_url(ctx: &Ctx<'_>, req: &Req<'_>, page: Option<usize>) -> String {
    let mut pairs: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| k != "page")
        .cloned()
        .collect();
    if let Some(page) = page {
        pairs.push(("page".to_owned(), page.to_string()));
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect();
    let path = req.uri.path();
    if query.is_empty() {
        format!("{}{path}", ctx.base)
    } else {
        format!("{}{path}?{}", ctx.base, query.join("&"))
    }
}

/// `since` and `before` of a list.
struct Dates {
    since: Option<Timestamp>,
    before: Option<Timestamp>,
    /// A value that is not a date: the list is empty (Patchwork's filter errors).
    invalid: bool,
}

impl Dates {
    fn read(req: &Req<'_>) -> Result<Dates, Reply> {
        let mut dates = Dates {
            since: None,
            before: None,
            invalid: false,
        };
        for (key, slot) in [("since", &mut dates.since), ("before", &mut dates.before)] {
            let Some(value) = req.q(key) else { continue };
            if has_zone(value) {
                // Comparing an aware value with naive columns raises in Django: HTTP 500.
                return Err(Reply::page(500));
            }
            match Timestamp::parse(value) {
                Ok(t) => *slot = Some(t),
                Err(_) => dates.invalid = true,
            }
        }
        Ok(dates)
    }

    fn admit(&self, date: Timestamp) -> bool {
        !self.invalid
            && self.since.is_none_or(|s| date >= s)
            && self.before.is_none_or(|b| date < b)
    }
}

/// A zone after the time (`Z`, `+01:00`, `-0500`).
fn has_zone(value: &str) -> bool {
    value
        .get(11..)
        .is_some_and(|time| time.contains(['Z', 'z', '+', '-']))
}

/// The projects named by `project` (ids or link names); `None`: no filter. A name that is no
/// project matches nothing (200 `[]`, not an error).
fn project_ids(db: &Db, req: &Req<'_>) -> Option<Vec<u64>> {
    let keys = req.all("project");
    (!keys.is_empty()).then(|| {
        keys.iter()
            .filter_map(|k| db.find_project(k).map(|p| p.id))
            .collect()
    })
}

fn ids(values: &[&str]) -> Option<Vec<u64>> {
    (!values.is_empty()).then(|| values.iter().filter_map(|v| v.parse().ok()).collect())
}

fn bare(msgid: &str) -> &str {
    msgid.trim().trim_start_matches('<').trim_end_matches('>')
}

/// Newest first unless `order=date` (Patchwork orders events by `-date`).
fn sort_by_date<T>(rows: &mut Vec<&T>, order: Option<&str>, date: impl Fn(&T) -> Timestamp) {
    rows.sort_by_key(|r| date(r));
    if order != Some("date") {
        rows.reverse();
    }
}

fn events(db: &Db, ctx: &Ctx<'_>, req: &Req<'_>) -> Result<Reply, Reply> {
    let dates = Dates::read(req)?;
    let projects = project_ids(db, req);
    let categories = req.all("category");
    let series = ids(&req.all("series"));
    let patches = ids(&req.all("patch"));
    let covers = ids(&req.all("cover"));
    let actors = req.all("actor");
    let actor_ids: Option<Vec<u64>> = (!actors.is_empty()).then(|| {
        actors
            .iter()
            .filter_map(|a| db.find_user(a).map(|u| u.id))
            .collect()
    });
    let within = |filter: &Option<Vec<u64>>, value: Option<u64>| {
        filter
            .as_ref()
            .is_none_or(|ids| value.is_some_and(|v| ids.contains(&v)))
    };
    let mut rows: Vec<&EventRow> = db
        .events
        .iter()
        .filter(|e| projects.as_ref().is_none_or(|ids| ids.contains(&e.project)))
        .filter(|e| categories.is_empty() || categories.contains(&e.category.as_str()))
        .filter(|e| within(&series, e.series))
        .filter(|e| within(&patches, e.patch))
        .filter(|e| within(&covers, e.cover))
        .filter(|e| within(&actor_ids, e.actor))
        .filter(|e| dates.admit(e.date))
        .collect();
    let order = req.q("order");
    sort_by_date(&mut rows, order, |e| e.date);
    let items = rows.iter().map(|e| render::event(ctx, db, e)).collect();
    paginate(ctx, req, items, READ_ONLY)
}

/// Patchwork's state filter and field: a slug or a name, `-` read as a blank, any case.
fn find_state(text: &str) -> Option<&'static str> {
    let wanted = text.replace('-', " ");
    STATES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(wanted.trim()))
        .map(|(_, slug)| *slug)
}

fn patch_list(db: &Db, ctx: &Ctx<'_>, req: &Req<'_>) -> Result<Reply, Reply> {
    let dates = Dates::read(req)?;
    let projects = project_ids(db, req);
    let series = ids(&req.all("series"));
    let states: Vec<Option<&str>> = req.all("state").iter().map(|s| find_state(s)).collect();
    let msgids = req.all("msgid");
    let hashes = req.all("hash");
    let submitters = req.all("submitter");
    let archived = req.q("archived").map(|a| a.eq_ignore_ascii_case("true"));
    let submitter_ok = |p: &PatchRow| {
        submitters.is_empty()
            || db.person(p.mail.submitter).is_some_and(|person| {
                submitters
                    .iter()
                    .any(|s| *s == person.id.to_string() || s.eq_ignore_ascii_case(&person.email))
            })
    };
    let mut rows: Vec<&PatchRow> = db
        .patches
        .iter()
        .filter(|p| projects.as_ref().is_none_or(|ids| ids.contains(&p.project)))
        .filter(|p| {
            series
                .as_ref()
                .is_none_or(|ids| p.series.is_some_and(|s| ids.contains(&s)))
        })
        .filter(|p| states.is_empty() || states.contains(&Some(p.state.as_str())))
        .filter(|p| msgids.is_empty() || msgids.iter().any(|m| bare(m) == bare(&p.mail.msgid)))
        .filter(|p| {
            hashes.is_empty()
                || hashes
                    .iter()
                    .any(|h| p.hash.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(h)))
        })
        .filter(|p| archived.is_none_or(|a| p.archived == a))
        .filter(|p| submitter_ok(p))
        .filter(|p| dates.admit(p.mail.date))
        .collect();
    match req.q("order") {
        Some("date") => rows.sort_by_key(|p| (p.mail.date, p.id)),
        Some("-date") => rows.sort_by_key(|p| std::cmp::Reverse((p.mail.date, p.id))),
        Some("-id") => rows.reverse(),
        _ => {}
    }
    let items = rows
        .iter()
        .map(|p| render::patch(ctx, db, p, false))
        .collect();
    paginate(ctx, req, items, READ_ONLY)
}

fn series_list(db: &Db, ctx: &Ctx<'_>, req: &Req<'_>) -> Result<Reply, Reply> {
    let dates = Dates::read(req)?;
    let projects = project_ids(db, req);
    let mut rows: Vec<_> = db
        .series
        .iter()
        .filter(|s| projects.as_ref().is_none_or(|ids| ids.contains(&s.project)))
        .filter(|s| dates.admit(s.date))
        .collect();
    match req.q("order") {
        Some("-date") => rows.sort_by_key(|s| std::cmp::Reverse((s.date, s.id))),
        Some("date") => rows.sort_by_key(|s| (s.date, s.id)),
        Some("-id") => rows.reverse(),
        _ => {}
    }
    let items = rows.iter().map(|s| render::series(ctx, db, s)).collect();
    paginate(ctx, req, items, READ_ONLY)
}

/// A field of a write's body.
#[derive(Debug, Clone)]
enum Input {
    Text(String),
    Null,
    Bool(bool),
    Other(Value),
}

/// A write's body, as DRF's parsers read it: JSON or a form.
fn read_body(req: &Req<'_>) -> Result<BTreeMap<String, Input>, Reply> {
    let content_type = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut fields = BTreeMap::new();
    if req.body.is_empty() && (media.is_empty() || media == "application/json") {
        return Ok(fields);
    }
    match media.as_str() {
        "application/json" => {
            let value: Value = serde_json::from_slice(req.body)
                .map_err(|e| Reply::detail(400, &format!("JSON parse error - {e}")))?;
            let Value::Object(map) = value else {
                let kind = match value {
                    Value::Array(_) => "list",
                    Value::String(_) => "str",
                    Value::Bool(_) => "bool",
                    Value::Null => "NoneType",
                    _ => "int",
                };
                return Err(Reply::fields(vec![(
                    "detail",
                    vec![format!(
                        "Invalid data. Expected a dictionary, but got {kind}."
                    )],
                )]));
            };
            for (k, v) in map {
                let input = match v {
                    Value::String(s) => Input::Text(s),
                    Value::Null => Input::Null,
                    Value::Bool(b) => Input::Bool(b),
                    Value::Number(n) => Input::Text(n.to_string()),
                    other => Input::Other(other),
                };
                fields.insert(k, input);
            }
        }
        "application/x-www-form-urlencoded" => {
            let text = String::from_utf8_lossy(req.body);
            // The last value of a repeated key wins, as `QueryDict[key]`.
            for (k, v) in parse_query(&text) {
                fields.insert(k, Input::Text(v));
            }
        }
        _ => {
            return Err(Reply::detail(
                415,
                &format!("Unsupported media type \"{content_type}\" in request."),
            ));
        }
    }
    Ok(fields)
}

fn patch_row(db: &Db, id: &str) -> Result<PatchRow, Reply> {
    id.parse()
        .ok()
        .and_then(|id| db.patch(id))
        .cloned()
        .ok_or_else(|| no_such("Patch"))
}

fn patch_detail(db: &mut Db, call: &Call<'_>, id: &str) -> Result<Reply, Reply> {
    let (ctx, req, user) = (&call.ctx, call.req, call.user);
    method_check(req, EDITABLE)?;
    let patch = patch_row(db, id)?;
    if matches!(*req.method, Method::GET | Method::HEAD) {
        return Ok(
            Reply::json(200, &render::patch(ctx, db, &patch, true)).with("allow", EDITABLE.into())
        );
    }
    // DRF's object permission: anonymous → "not provided", others → "no permission".
    let Some(user) = user else {
        return Err(Reply::detail(403, NO_CREDENTIALS));
    };
    if !db.may_edit(user, &patch) {
        return Err(Reply::detail(403, NO_PERMISSION));
    }
    let body = read_body(req)?;
    let mut errors = Vec::new();
    let state = match body.get("state") {
        None => None,
        Some(Input::Text(s)) => match find_state(s) {
            Some(slug) => Some(slug),
            None => {
                let choices: Vec<String> =
                    STATES.iter().map(|(_, s)| s.replace('-', " ")).collect();
                errors.push((
                    "state",
                    vec![format!(
                        "Invalid state {}. Expected one of: {}.",
                        s.replace('-', " "),
                        choices.join(", ")
                    )],
                ));
                None
            }
        },
        Some(Input::Null) => {
            errors.push(("state", vec![NOT_NULL.to_owned()]));
            None
        }
        Some(other) => {
            errors.push((
                "state",
                vec![format!(
                    "Incorrect type. Expected string value, received {}.",
                    type_name(other)
                )],
            ));
            None
        }
    };
    let archived = match body.get("archived") {
        None => None,
        Some(Input::Bool(b)) => Some(*b),
        Some(Input::Text(t)) => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
            "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
            _ => {
                errors.push(("archived", vec!["Must be a valid boolean.".to_owned()]));
                None
            }
        },
        Some(_) => {
            errors.push(("archived", vec!["Must be a valid boolean.".to_owned()]));
            None
        }
    };
    if !errors.is_empty() {
        return Err(Reply::fields(errors));
    }
    if let Some(slug) = state {
        db.set_state(patch.id, slug, Some(user));
    }
    if let Some(archived) = archived
        && let Some(row) = db.patches.iter_mut().find(|p| p.id == patch.id)
    {
        row.archived = archived;
    }
    let updated = patch_row(db, id)?;
    // Patchwork's answer to an update lacks `related` (its serializer drops it on writes).
    let json = match render::patch(ctx, db, &updated, true) {
        Json::Object(fields) => {
            Json::Object(fields.into_iter().filter(|(k, _)| k != "related").collect())
        }
        other => other,
    };
    Ok(Reply::json(200, &json).with("allow", EDITABLE.into()))
}

fn type_name(input: &Input) -> &'static str {
    match input {
        Input::Text(_) => "str",
        Input::Null => "NoneType",
        Input::Bool(_) => "bool",
        Input::Other(Value::Array(_)) => "list",
        Input::Other(_) => "dict",
    }
}

/// Django's `URLValidator`, near enough: http(s) or ftp(s), a host, no blanks.
fn valid_url(text: &str) -> bool {
    !text.contains(char::is_whitespace)
        && reqwest::Url::parse(text).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https" | "ftp" | "ftps")
                && u.host_str().is_some_and(|h| !h.is_empty())
        })
}

/// A validity test and the message DRF gives when it fails.
type Validator = (fn(&str) -> bool, &'static str);

/// A text field with a length limit and a validator (DRF runs every validator and reports all).
fn text_field(
    input: Option<&Input>,
    max: usize,
    check: Option<Validator>,
    blank_ok: bool,
) -> Result<Option<String>, Vec<String>> {
    match input {
        None | Some(Input::Null) => Ok(None),
        Some(Input::Text(t)) if t.is_empty() && blank_ok => Ok(Some(String::new())),
        Some(Input::Text(t)) if t.trim().is_empty() => Err(vec![NOT_BLANK.to_owned()]),
        Some(Input::Text(t)) => {
            let mut errors = Vec::new();
            if t.chars().count() > max {
                errors.push(format!(
                    "Ensure this field has no more than {max} characters."
                ));
            }
            if let Some((valid, message)) = check
                && !valid(t)
            {
                errors.push(message.to_owned());
            }
            if errors.is_empty() {
                Ok(Some(t.clone()))
            } else {
                Err(errors)
            }
        }
        Some(_) => Err(vec![NOT_STRING.to_owned()]),
    }
}

fn is_slug(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn checks(db: &mut Db, call: &Call<'_>, id: &str) -> Result<Reply, Reply> {
    let (ctx, req, user) = (&call.ctx, call.req, call.user);
    method_check(req, CHECKS)?;
    let patch = patch_row(db, id)?;
    if matches!(*req.method, Method::GET | Method::HEAD) {
        let dates = Dates::read(req)?;
        let users = req.all("user");
        let states = req.all("state");
        let contexts = req.all("context");
        let items = db
            .checks
            .iter()
            .filter(|c| c.patch == patch.id)
            .filter(|c| {
                users.is_empty()
                    || users
                        .iter()
                        .any(|u| db.find_user(u).is_some_and(|u| u.id == c.user))
            })
            // The state filter takes the stored integer (0 pending … 3 fail), not the name.
            .filter(|c| states.is_empty() || states.contains(&state_number(c.state)))
            .filter(|c| contexts.is_empty() || contexts.contains(&c.context.as_str()))
            .filter(|c| dates.admit(c.date))
            .map(|c| render::check(ctx, db, c))
            .collect();
        return paginate(ctx, req, items, CHECKS);
    }
    // Patchwork's own rule, checked before the body is read: anonymous or not, a user who may
    // not edit the patch gets "no permission".
    let Some(user) = user.filter(|u| db.may_edit(*u, &patch)) else {
        return Err(Reply::detail(403, NO_PERMISSION).with("allow", CHECKS.into()));
    };
    let body = read_body(req)?;
    let mut errors = Vec::new();
    let state = match body.get("state") {
        None => {
            errors.push(("state", vec![REQUIRED.to_owned()]));
            None
        }
        Some(Input::Null) => {
            errors.push(("state", vec![NOT_NULL.to_owned()]));
            None
        }
        Some(input) => {
            let text = match input {
                Input::Text(t) => t.clone(),
                Input::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
                Input::Other(v) => v.to_string(),
                Input::Null => String::new(),
            };
            match serde_json::from_value::<CheckState>(Value::String(text.clone())) {
                Ok(state) => Some(state),
                Err(_) => {
                    errors.push(("state", vec![format!("\"{text}\" is not a valid choice.")]));
                    None
                }
            }
        }
    };
    let target_url = match text_field(
        body.get("target_url"),
        200,
        Some((valid_url, BAD_URL)),
        true,
    ) {
        Ok(v) => v,
        Err(e) => {
            errors.push(("target_url", e));
            None
        }
    };
    let context = match body.get("context") {
        None => Some("default".to_owned()),
        Some(Input::Null) => {
            errors.push(("context", vec![NOT_NULL.to_owned()]));
            None
        }
        input => match text_field(input, 255, Some((is_slug, BAD_SLUG)), false) {
            Ok(v) => v,
            Err(e) => {
                errors.push(("context", e));
                None
            }
        },
    };
    let description = match text_field(body.get("description"), usize::MAX, None, true) {
        Ok(v) => v,
        Err(e) => {
            errors.push(("description", e));
            None
        }
    };
    let (Some(state), Some(context), true) = (state, context, errors.is_empty()) else {
        return Err(Reply::fields(errors));
    };
    let date = db.stamp();
    let check_id = db.add_check(CheckRow {
        id: 0,
        patch: patch.id,
        user,
        date,
        state,
        target_url,
        context,
        description,
    });
    let Some(row) = db.check(check_id) else {
        return Err(Reply::page(500));
    };
    let json = render::check(ctx, db, row);
    let location = ctx.api(&format!("patches/{}/checks/{check_id}/", patch.id));
    Ok(Reply::json(201, &json)
        .with("location", location)
        .with("allow", CHECKS.into()))
}

fn state_number(state: CheckState) -> &'static str {
    match state {
        CheckState::Pending => "0",
        CheckState::Success => "1",
        CheckState::Warning => "2",
        CheckState::Fail => "3",
    }
}

/// The site's pages that clients download: mboxes.
fn site(db: &Db, req: &Req<'_>, path: &str) -> Reply {
    if !matches!(*req.method, Method::GET | Method::HEAD) {
        return Reply::page(404);
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let found = match segments.as_slice() {
        ["series", id, "mbox"] => id.parse().ok().and_then(|id| {
            let s = db.series_row(id)?;
            let name = s.name.clone().unwrap_or_else(|| format!("series-{id}"));
            Some((
                mbox::series_mbox(db, id)?,
                format!("{}.patch", mbox::filename(&name)),
            ))
        }),
        ["project", link, kind @ ("patch" | "cover"), msgid, "mbox"] => {
            let msgid = percent_decode(msgid);
            let project = db.find_project(link).map(|p| p.id);
            if *kind == "patch" {
                let with_series = req.q("series");
                db.patches
                    .iter()
                    .find(|p| Some(p.project) == project && bare(&p.mail.msgid) == msgid)
                    .map(|p| {
                        let text = match (with_series, p.series) {
                            // `?series=*` (or the patch's series id): the patches before it too.
                            (Some(s), Some(series)) if s == "*" || s == series.to_string() => {
                                mbox::series_mbox_to(db, series, p.number)
                            }
                            _ => None,
                        };
                        (
                            text.unwrap_or_else(|| mbox::patch_mbox(db, p)),
                            format!("{}.patch", mbox::filename(&p.mail.name)),
                        )
                    })
            } else {
                db.covers
                    .iter()
                    .find(|c| Some(c.project) == project && bare(&c.mail.msgid) == msgid)
                    .map(|c| {
                        let text = mbox::patch_mbox(
                            db,
                            &PatchRow {
                                id: c.id,
                                project: c.project,
                                mail: c.mail.clone(),
                                diff: None,
                                hash: None,
                                prefixes: Vec::new(),
                                state: String::new(),
                                archived: false,
                                delegate: None,
                                commit_ref: None,
                                pull_url: None,
                                series: c.series,
                                number: Some(0),
                            },
                        );
                        (text, format!("{}.mbox", mbox::filename(&c.mail.name)))
                    })
            }
        }
        _ => None,
    };
    match found {
        Some((text, filename)) => Reply {
            status: 200,
            headers: vec![
                ("content-type", "text/plain; charset=utf-8".into()),
                (
                    "content-disposition",
                    format!("attachment; filename={filename}"),
                ),
            ],
            body: text.into_bytes(),
        },
        None => Reply::page(404),
    }
}

/// `a=1&b=x+y&c=%3A` → pairs, `+` read as a blank (a query string or a form body).
pub(crate) fn parse_query(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Python's `quote_plus`: all but letters, digits and `_.-~` escaped, blanks as `+`.
fn quote_plus(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert_eq!(
            parse_query("a=1&b=x+y&c=%3A&d"),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y".to_owned()),
                ("c".to_owned(), ":".to_owned()),
                ("d".to_owned(), String::new()),
            ]
        );
        assert_eq!(
            quote_plus("2026-11-22T14:18:23.200192"),
            "2026-11-22T14%3A18%3A23.200192"
        );
        assert_eq!(quote_plus("a b/c"), "a+b%2Fc");
        assert!(has_zone("2026-11-22T14:18:23Z"));
        assert!(has_zone("2026-11-22T14:18:23+00:00"));
        assert!(!has_zone("2026-11-22T14:18:23.5"));
        assert!(!has_zone("2026-11-22"));
        assert_eq!(find_state("Under-Review"), Some("under-review"));
        assert_eq!(find_state("changes requested"), Some("changes-requested"));
        assert_eq!(find_state("bogus"), None);
        assert!(valid_url("https://ci.example.com/1"));
        assert!(!valid_url("ci.example.com/1"));
        assert!(!valid_url("javascript:alert(1)"));
    }
}

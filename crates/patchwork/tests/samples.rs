//! The fake Patchwork against a real one's answers: the captured samples of
//! `../shared/reference/patchwork-api-samples/` (outside the repository, read where they are)
//! must have the same fields, at every level, as what the fake answers to the same request;
//! statuses, `Allow`, `Link` and error bodies must be the same; the series mbox must come back
//! byte for byte. The typed client must read every sample too.
//!
//! Without `../shared` the tests say SKIPPED and pass, unless `GAUNTLET_REQUIRE_SHARED` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_patchwork::fake::{
    AddedSeries, FakePatchwork, FakeUser, PatchSpec, SeriesSpec, Submitter,
};
use gauntlet_patchwork::{Check, Event, Patch, Project, Series, Timestamp};
use serde_json::Value;

/// A header of our answer.
fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn samples() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/patchwork-api-samples");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("GAUNTLET_REQUIRE_SHARED").is_none(),
        "GAUNTLET_REQUIRE_SHARED is set but {} is absent",
        dir.display()
    );
    eprintln!("SKIPPED: ../shared/reference absent ({})", dir.display());
    None
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn json(dir: &Path, name: &str) -> Value {
    serde_json::from_str(&read(dir, name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A captured HTTP answer: status, headers, body.
struct Captured {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn captured(dir: &Path, name: &str) -> Captured {
    // As captured from the wire: CRLF after the status line and headers.
    let text = read(dir, name).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    Captured {
        status,
        headers,
        body: body.trim_end().to_owned(),
    }
}

/// Every difference of field names between `real` and `ours`, recursively (objects: the same
/// keys; arrays: their first elements; `headers` holds a mail's own names and is not compared).
fn field_differences(path: &str, real: &Value, ours: &Value, out: &mut Vec<String>) {
    match (real, ours) {
        (Value::Object(r), Value::Object(o)) => {
            let rk: BTreeSet<_> = r.keys().collect();
            let ok: BTreeSet<_> = o.keys().collect();
            for missing in rk.difference(&ok) {
                out.push(format!("{path}.{missing}: missing from the fake"));
            }
            for extra in ok.difference(&rk) {
                out.push(format!("{path}.{extra}: not in the real answer"));
            }
            for key in rk.intersection(&ok) {
                if *key != "headers" {
                    field_differences(&format!("{path}.{key}"), &r[*key], &o[*key], out);
                }
            }
        }
        (Value::Array(r), Value::Array(o)) => {
            if let (Some(r), Some(o)) = (r.first(), o.first()) {
                field_differences(&format!("{path}[0]"), r, o, out);
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (r, o) => {
            let kind = |v: &Value| match v {
                Value::Bool(_) => "bool",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
                Value::Null => "null",
            };
            if kind(r) != kind(o) {
                out.push(format!(
                    "{path}: {} in the real answer, {} in the fake",
                    kind(r),
                    kind(o)
                ));
            }
        }
    }
}

#[track_caller]
fn assert_same_fields(what: &str, real: &Value, ours: &Value) {
    let mut differences = Vec::new();
    field_differences(what, real, ours, &mut differences);
    assert!(
        differences.is_empty(),
        "{what}:\n  {}\nfake: {ours:#}",
        differences.join("\n  ")
    );
}

/// The fake loaded with what the samples were captured from: project `test` maintained by
/// `admin`, Stephen's two revisions of "A sample series" (the second read from the captured
/// `series-2.mbox`), and two more series so that patches fill four pages of two.
struct Loaded {
    fake: FakePatchwork,
    admin: FakeUser,
    first: AddedSeries,
    second: AddedSeries,
    http: reqwest::Client,
}

async fn loaded(dir: &Path) -> Loaded {
    let fake = FakePatchwork::start().await.unwrap();
    let project = fake.add_project("test", "Test", "test.example.com");
    let admin = fake.add_user("admin", "admin@example.com");
    fake.add_maintainer(project, admin.id);
    fake.set_clock(
        Timestamp::parse("2026-11-22T14:18:22.091982").unwrap(),
        Duration::from_micros(4_321),
    );
    let stephen = Submitter::new("Stephen Finucane", "stephenfinucane@gmail.com");
    let first = fake.add_series(
        project,
        &SeriesSpec {
            name: None,
            version: 1,
            total: None,
            submitter: stephen.clone(),
            cover: Some(
                PatchSpec::cover(
                    "[0/2] A sample series",
                    "1473632524-8585-1-git-send-email-stephenfinucane@gmail.com",
                )
                .at(Timestamp::parse("2016-09-11T22:22:02").unwrap()),
            ),
            patches: vec![
                PatchSpec::new(
                    "[1/2] test: Add some lorem ipsum",
                    "1473632524-8585-2-git-send-email-stephenfinucane@gmail.com",
                )
                .at(Timestamp::parse("2016-09-11T22:22:03").unwrap()),
                PatchSpec::new(
                    "[2/2] test: Convert to Markdown",
                    "1473632524-8585-3-git-send-email-stephenfinucane@gmail.com",
                )
                .at(Timestamp::parse("2016-09-11T22:22:04").unwrap()),
            ],
        },
    );
    let second = fake
        .add_series_mbox(project, read(dir, "series-2.mbox").as_bytes())
        .unwrap();
    for key in ["third", "fourth"] {
        fake.add_series(project, &SeriesSpec::numbered(key, key, 2));
    }
    Loaded {
        fake,
        admin,
        first,
        second,
        http: reqwest::Client::new(),
    }
}

impl Loaded {
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.fake.url()));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        request.send().await.unwrap()
    }

    async fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        let response = self.get(path, token).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }
}

#[tokio::test]
async fn projects_patches_covers_and_series_have_the_real_fields() {
    let Some(dir) = samples() else { return };
    let w = loaded(&dir).await;
    let patch = w.first.patches[0];
    let cases = [
        ("projects.json", "/api/1.3/projects/".to_owned()),
        ("patch-1.json", format!("/api/1.3/patches/{patch}/")),
        ("patch-1-v1.0.json", format!("/api/1.0/patches/{patch}/")),
        (
            "patches-list.json",
            "/api/1.3/patches/?project=test&per_page=2".to_owned(),
        ),
        (
            "cover-1.json",
            format!("/api/1.3/covers/{}/", w.first.cover.unwrap()),
        ),
        ("series-list.json", "/api/1.3/series/".to_owned()),
    ];
    for (sample, path) in cases {
        assert_same_fields(sample, &json(&dir, sample), &w.get_json(&path, None).await);
    }
    // series-2.json has a cover letter: compare with the first series, which has one too.
    let series = w
        .get_json(&format!("/api/1.3/series/{}/", w.first.series), None)
        .await;
    assert_same_fields("series-2.json", &json(&dir, "series-2.json"), &series);

    // And the typed client reads what the real server said.
    let _: Vec<Project> = serde_json::from_value(json(&dir, "projects.json")).unwrap();
    let p: Patch = serde_json::from_value(json(&dir, "patch-1.json")).unwrap();
    assert_eq!(p.series_id(), Some(1));
    assert_eq!(p.date.to_string(), "2016-09-11T22:22:03");
    let _: Patch = serde_json::from_value(json(&dir, "patch-1-v1.0.json")).unwrap();
    let _: Vec<Patch> = serde_json::from_value(json(&dir, "patches-list.json")).unwrap();
    let s: Series = serde_json::from_value(json(&dir, "series-2.json")).unwrap();
    assert_eq!(s.patch_ids(), [4, 3], "by date, not number");
    let _: Vec<Series> = serde_json::from_value(json(&dir, "series-list.json")).unwrap();
}

#[tokio::test]
async fn pagination_headers_are_the_real_ones() {
    let Some(dir) = samples() else { return };
    let w = loaded(&dir).await;
    let real = captured(&dir, "patches-list.headers");
    let response = w
        .get("/api/1.3/patches/?project=test&per_page=2", None)
        .await;
    assert_eq!(response.status().as_u16(), real.status);
    let ours = |name: &str| header(&response, name);
    let link = real
        .header("Link")
        .unwrap()
        .replace("http://127.0.0.1:8000", &w.fake.url());
    assert_eq!(ours("link").as_deref(), Some(link.as_str()));
    assert_eq!(ours("allow").as_deref(), real.header("Allow"));
    assert_eq!(ours("content-type").as_deref(), real.header("Content-Type"));
    // Past the last page.
    let past = w
        .get("/api/1.3/patches/?project=test&per_page=2&page=5", None)
        .await;
    assert_eq!(past.status(), 404);
    assert_eq!(past.text().await.unwrap(), r#"{"detail":"Invalid page."}"#);
    // A version Patchwork does not serve.
    assert_eq!(read(&dir, "v15.txt").trim(), "404");
    assert_eq!(w.get("/api/1.5/", None).await.status().as_u16(), 404);
    // No trailing slash: Django's redirect.
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/api/1.3/patches", w.fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 301);
}

#[tokio::test]
async fn events_have_the_real_fields_category_by_category() {
    let Some(dir) = samples() else { return };
    let w = loaded(&dir).await;
    let real = json(&dir, "events.json");
    let ours = w.get_json("/api/1.3/events/?per_page=250", None).await;
    let (Value::Array(real), Value::Array(ours)) = (&real, &ours) else {
        panic!("events are lists")
    };
    let mut compared = BTreeSet::new();
    for event in real {
        let category = event["category"].as_str().unwrap();
        let Some(mine) = ours.iter().find(|e| e["category"] == category) else {
            // The fake does not serve comments.
            assert_eq!(category, "patch-comment-created");
            continue;
        };
        assert_same_fields(&format!("events.json {category}"), event, mine);
        compared.insert(category);
    }
    assert_eq!(compared.len(), 5, "{compared:?}");
    // The sequence of a series that arrives in order with its cover letter, as in events.json.
    let first_series: Vec<&str> = real
        .iter()
        .rev()
        .take(7)
        .map(|e| e["category"].as_str().unwrap())
        .collect();
    let mine: Vec<&str> = ours
        .iter()
        .rev()
        .take(7)
        .map(|e| e["category"].as_str().unwrap())
        .collect();
    assert_eq!(mine, first_series);
    // Newest first, naive dates with microseconds.
    assert!(ours[0]["date"].as_str().unwrap() > ours[1]["date"].as_str().unwrap());
    let completed = w
        .get_json("/api/1.3/events/?category=series-completed", None)
        .await;
    assert_same_fields(
        "events-series-completed.json",
        &json(&dir, "events-series-completed.json"),
        &completed,
    );
    let typed: Vec<Event> = serde_json::from_value(json(&dir, "events.json")).unwrap();
    assert_eq!(typed.len(), real.len());
    let _: Vec<Event> = serde_json::from_value(json(&dir, "events-series-completed.json")).unwrap();
    // A zone-aware `since` breaks a real Patchwork: so it does the fake.
    let aware = w
        .get("/api/1.3/events/?since=2026-11-22T14:18:22Z", None)
        .await;
    assert_eq!(aware.status(), 500);
}

#[tokio::test]
async fn checks_are_posted_and_refused_as_on_a_real_server() {
    let Some(dir) = samples() else { return };
    let w = loaded(&dir).await;
    let patch = w.first.patches[0];
    let url = format!("{}/api/1.3/patches/{patch}/checks/", w.fake.url());

    let real = captured(&dir, "check-post.txt");
    let response = w
        .http
        .post(&url)
        .header("Authorization", format!("Token {}", w.admin.token))
        .json(&serde_json::json!({
            "state": "success", "context": "ci-build",
            "target_url": "https://ci.example.com/1", "description": "Build OK"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), real.status);
    let location = header(&response, "location").unwrap();
    let allow = header(&response, "allow");
    assert_eq!(allow.as_deref(), real.header("Allow"));
    let body: Value = response.json().await.unwrap();
    assert_same_fields(
        "check-post.txt",
        &serde_json::from_str(&real.body).unwrap(),
        &body,
    );
    assert_eq!(location, body["url"].as_str().unwrap());
    assert!(location.contains("/api/1.3/patches/"), "{location}");

    let real_form: Value = serde_json::from_str(&read(&dir, "check-post-form.txt")).unwrap();
    let form = w
        .http
        .post(&url)
        .header("Authorization", format!("Token {}", w.admin.token))
        .form(&[
            ("state", "warning"),
            ("context", "ci-test"),
            ("description", "form"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 201);
    let form: Value = form.json().await.unwrap();
    assert_same_fields("check-post-form.txt", &real_form, &form);
    assert_eq!(form["target_url"], Value::Null);
    assert_eq!(form["description"], "form");

    let real_unauth = captured(&dir, "check-post-unauth.txt");
    let unauth = w
        .http
        .post(&url)
        .json(&serde_json::json!({"state": "success"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status().as_u16(), real_unauth.status);
    assert_eq!(unauth.text().await.unwrap(), real_unauth.body);

    // The checks list (the patch's unversioned `checks` link, as the samples were read).
    let listed = w
        .get_json(&format!("/api/patches/{patch}/checks/"), None)
        .await;
    assert_same_fields("checks-list.json", &json(&dir, "checks-list.json"), &listed);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed[0]["url"].as_str().unwrap().contains("/api/patches/"));
    let one = w
        .get_json(&format!("/api/patches/{patch}/checks/1/"), None)
        .await;
    assert_same_fields("check-1.json", &json(&dir, "check-1.json"), &one);
    let _: Check = serde_json::from_value(json(&dir, "check-1.json")).unwrap();
    let _: Vec<Check> = serde_json::from_value(json(&dir, "checks-list.json")).unwrap();
    let _: Check = serde_json::from_str(&real.body).unwrap();
    let _: Check = serde_json::from_value(real_form).unwrap();

    // What the fake logged: three writes, one refused.
    let statuses: Vec<u16> = w.fake.writes().iter().map(|w| w.status).collect();
    assert_eq!(statuses, [201, 201, 403]);
}

#[tokio::test]
async fn a_patch_update_answers_as_the_real_one() {
    let Some(dir) = samples() else { return };
    let w = loaded(&dir).await;
    let real = captured(&dir, "patch-update.txt");
    let response = w
        .http
        .patch(format!(
            "{}/api/1.3/patches/{}/",
            w.fake.url(),
            w.first.patches[0]
        ))
        .header("Authorization", format!("Token {}", w.admin.token))
        .form(&[("state", "under-review")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), real.status);
    let allow = header(&response, "allow");
    assert_eq!(allow.as_deref(), real.header("Allow"));
    let body: Value = response.json().await.unwrap();
    let real_body: Value = serde_json::from_str(&real.body).unwrap();
    assert_same_fields("patch-update.txt", &real_body, &body);
    assert_eq!(body["state"], real_body["state"]);
    let _: Patch = serde_json::from_value(real_body).unwrap();
}

#[tokio::test]
async fn people_and_users_need_a_token() {
    let Some(dir) = samples() else { return };
    let w = loaded(&dir).await;
    let anonymous = w.get("/api/1.3/people/1/", None).await;
    assert_eq!(anonymous.status(), 403);
    assert_eq!(
        anonymous.text().await.unwrap(),
        r#"{"detail":"Authentication credentials were not provided."}"#
    );
    let token = Some(w.admin.token.as_str());
    let person = w.get_json("/api/1.3/people/1/", token).await;
    assert_same_fields("person-1.json", &json(&dir, "person-1.json"), &person);
    let user = w
        .get_json(&format!("/api/1.3/users/{}/", w.admin.id), token)
        .await;
    assert_same_fields("user-1.json", &json(&dir, "user-1.json"), &user);
}

#[tokio::test]
async fn the_series_mbox_comes_back_byte_for_byte() {
    let Some(dir) = samples() else { return };
    let w = loaded(&dir).await;
    let response = w
        .get(&format!("/series/{}/mbox/", w.second.series), None)
        .await;
    assert_eq!(response.status(), 200);
    let disposition = header(&response, "content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename="),
        "{disposition}"
    );
    assert!(disposition.ends_with(".patch"), "{disposition}");
    let ours = response.text().await.unwrap();
    let real = read(&dir, "series-2.mbox");
    // The fake numbers its own patches: only X-Patchwork-Id may differ.
    let without_ids = |text: &str| -> String {
        text.lines()
            .filter(|l| !l.starts_with("X-Patchwork-Id: "))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_eq!(without_ids(&ours), without_ids(&real));
    // The last patch's mbox with the patches before it (`?series=*`, what git-pw applies).
    let last = w
        .get(
            "/project/test/patch/1473633142-10432-3-git-send-email-stephenfinucane@gmail.com/mbox/?series=*",
            None,
        )
        .await;
    assert_eq!(last.status(), 200);
    let with_deps = last.text().await.unwrap();
    assert_eq!(
        without_ids(&with_deps),
        without_ids(&read(&dir, "patch-3-with-deps.mbox"))
    );
}

//! The REST API over a store filled by the real pipeline: every endpoint's answers validated
//! against the OpenAPI description (JSON Schema 2020-12), pages, filters, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{Answer, Filled, call_with, databases, fill, get};
use gauntlet_store::{Id, NewJob, NewRun, QueuedJob, Store, unix_now};
use gauntlet_web::{ActionError, Actions, WebState, router};
use serde_json::{Value, json};

struct Spec {
    doc: Value,
    /// Paths answered 200 so far.
    covered: BTreeSet<String>,
}

impl Spec {
    fn load() -> Spec {
        let doc: Value = serde_json::from_str(gauntlet_web::OPENAPI).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        Spec {
            doc,
            covered: BTreeSet::new(),
        }
    }

    /// Follows a `$ref` to another part of the document.
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => self
                .doc
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("no {r}")),
            None => v,
        }
    }

    /// Checks `answer` against what the document says `GET path` answers with its status.
    fn check(&mut self, path: &str, answer: &Answer) {
        self.check_op("get", path, answer);
    }

    /// Checks `answer` against what the document says `METHOD path` answers with its status.
    fn check_op(&mut self, method: &str, path: &str, answer: &Answer) {
        let operation = &self.doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not described");
        let status = answer.status.as_u16().to_string();
        let response = self.resolve(&operation["responses"][&status]);
        assert!(
            response.is_object(),
            "{path}: {status} is not described: {}",
            answer.body
        );
        let media = &response["content"]["application/json"];
        assert!(
            answer
                .header("content-type")
                .starts_with("application/json"),
            "{path}: {}",
            answer.header("content-type")
        );
        // The response's schema, with the components its references point at.
        let mut schema = media["schema"].clone();
        schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        schema["components"] = self.doc["components"].clone();
        let validator = jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{path}: the schema does not compile: {e}"));
        let instance = answer.json();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{path} ({status}): {errors:#?}");
        if let Some(headers) = response.get("headers")
            && headers.get("Link").is_some()
        {
            assert!(
                answer.header("link").contains("rel=\"first\""),
                "{path}: no Link header"
            );
        }
        if let Some(headers) = response.get("headers")
            && headers.get("WWW-Authenticate").is_some()
        {
            assert!(
                answer
                    .header("www-authenticate")
                    .starts_with("Bearer realm="),
                "{path}: no challenge"
            );
        }
        if answer.status.is_success() {
            self.covered.insert(path.to_owned());
        }
    }
}

async fn call(spec: &mut Spec, f: &Filled, path: &str, uri: &str) -> Answer {
    let answer = get(&f.router, uri).await;
    spec.check(path, &answer);
    answer
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_i64().unwrap())
        .collect()
}

async fn everything(f: &Filled) {
    let mut spec = Spec::load();
    let openapi = get(&f.router, "/api/v1/openapi.json").await;
    assert_eq!(openapi.json(), spec.doc);
    spec.covered.insert("/api/v1/openapi.json".into());

    // Submissions: newest first, filters, pages.
    let all = call(&mut spec, f, "/api/v1/submissions", "/api/v1/submissions").await;
    let all_ids = ids(&all.json());
    assert_eq!(all_ids.len(), 6);
    assert!(all_ids.windows(2).all(|w| w[0] > w[1]));
    assert_eq!(all_ids[0], f.xss_run);
    let rejected = call(
        &mut spec,
        f,
        "/api/v1/submissions",
        "/api/v1/submissions?state=rejected",
    )
    .await
    .json();
    assert_eq!(ids(&rejected).len(), 5);
    let accepted = call(
        &mut spec,
        f,
        "/api/v1/submissions",
        "/api/v1/submissions?state=accepted&project=Hello%20Course",
    )
    .await
    .json();
    assert_eq!(ids(&accepted), [f.runs[1]]);
    assert_eq!(accepted[0]["submitter"]["name"], "Zoë Ångström");
    assert_eq!(accepted[0]["version"], 2);
    assert_eq!(accepted[0]["revision"], 2);
    let zoe = call(
        &mut spec,
        f,
        "/api/v1/submissions",
        "/api/v1/submissions?submitter=zoe.angstrom@student.example.org",
    )
    .await
    .json();
    assert_eq!(ids(&zoe), [f.runs[1], f.runs[0]]);
    let by_msgid = call(
        &mut spec,
        f,
        "/api/v1/submissions",
        "/api/v1/submissions?q=xss-1@example.org",
    )
    .await
    .json();
    assert_eq!(ids(&by_msgid), [f.xss_run]);
    assert_eq!(by_msgid[0]["name"], "<script>alert(1)</script>");
    let page2 = call(
        &mut spec,
        f,
        "/api/v1/submissions",
        "/api/v1/submissions?per_page=2&page=2&state=rejected",
    )
    .await;
    assert_eq!(ids(&page2.json()), [f.runs[3], f.runs[2]]);
    let link = page2.header("link");
    assert!(
        link.contains("</api/v1/submissions?page=1&per_page=2&state=rejected>; rel=\"first\""),
        "{link}"
    );
    assert!(
        link.contains("page=1&per_page=2&state=rejected>; rel=\"prev\""),
        "{link}"
    );
    assert!(
        link.contains("page=3&per_page=2&state=rejected>; rel=\"next\""),
        "{link}"
    );
    let last = call(
        &mut spec,
        f,
        "/api/v1/submissions",
        "/api/v1/submissions?per_page=2&page=3&state=rejected",
    )
    .await;
    assert_eq!(ids(&last.json()).len(), 1);
    assert!(!last.header("link").contains("rel=\"next\""));
    let beyond = call(
        &mut spec,
        f,
        "/api/v1/submissions",
        "/api/v1/submissions?page=9",
    )
    .await;
    assert_eq!(beyond.json(), json!([]));

    let one = call(
        &mut spec,
        f,
        "/api/v1/submissions/{id}",
        &format!("/api/v1/submissions/{}", f.runs[4]),
    )
    .await
    .json();
    assert_eq!(one["state"], "rejected");
    assert!(
        one["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "hello/greets-ada" && r["status"] == "FAIL"),
        "{:#}",
        one["results"]
    );
    assert_eq!(one["jobs"].as_array().unwrap().len(), 5);

    // Series and patches.
    let series = call(&mut spec, f, "/api/v1/series", "/api/v1/series?per_page=3").await;
    assert_eq!(ids(&series.json()).len(), 3);
    assert!(series.header("link").contains("rel=\"next\""));
    let greet = call(
        &mut spec,
        f,
        "/api/v1/series",
        "/api/v1/series?q=greet%20people",
    )
    .await
    .json();
    assert_eq!(ids(&greet).len(), 3, "{greet}");
    let detail = call(
        &mut spec,
        f,
        "/api/v1/series/{id}",
        &format!("/api/v1/series/{}", f.series[1]),
    )
    .await
    .json();
    assert_eq!(detail["revision"], 2);
    assert_eq!(detail["revision_list"].as_array().unwrap().len(), 2);
    assert_eq!(detail["patches"].as_array().unwrap().len(), 2);
    assert_eq!(detail["patches"][0]["files"][0]["path"], "greet.c");
    assert_eq!(ids(&detail["runs"]), [f.runs[1]]);
    let patches = call(
        &mut spec,
        f,
        "/api/v1/patches",
        &format!("/api/v1/patches?series={}&per_page=1", f.series[1]),
    )
    .await;
    let first_patch = patches.json()[0]["id"].as_i64().unwrap();
    assert!(patches.header("link").contains("rel=\"next\""));
    let xss_series = call(
        &mut spec,
        f,
        "/api/v1/series/{id}",
        &format!("/api/v1/series/{}", f.xss_series),
    )
    .await
    .json();
    assert_eq!(
        xss_series["patches"][0]["files"][0]["path"],
        common::XSS_FILE
    );
    assert_eq!(xss_series["submitter"]["name"], common::XSS_NAME);
    let patch = call(
        &mut spec,
        f,
        "/api/v1/patches/{id}",
        &format!("/api/v1/patches/{first_patch}"),
    )
    .await
    .json();
    assert_eq!(patch["number"], 1);

    // Runs, jobs, results, findings.
    let runs = call(&mut spec, f, "/api/v1/runs", "/api/v1/runs?series=")
        .await
        .json();
    assert_eq!(ids(&runs).len(), 6);
    let run = call(
        &mut spec,
        f,
        "/api/v1/runs/{id}",
        &format!("/api/v1/runs/{}", f.runs[3]),
    )
    .await
    .json();
    assert_eq!(run["verdict"], "rejected");
    let stages: Vec<&str> = run["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["checks", "apply", "build", "test", "report"]);
    assert!(run["jobs"][2]["details"]["diagnostics"].is_array());
    let findings = call(
        &mut spec,
        f,
        "/api/v1/runs/{id}/findings",
        &format!("/api/v1/runs/{}/findings", f.runs[2]),
    )
    .await
    .json();
    assert!(
        findings
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["check"] == "signed-off-by"),
        "{findings}"
    );
    let jobs = call(
        &mut spec,
        f,
        "/api/v1/jobs",
        &format!("/api/v1/jobs?run={}&stage=build", f.runs[3]),
    )
    .await
    .json();
    assert_eq!(jobs.as_array().unwrap().len(), 1);
    assert_eq!(jobs[0]["status"], "FAIL");
    let failed = call(
        &mut spec,
        f,
        "/api/v1/jobs",
        "/api/v1/jobs?status=FAIL&per_page=500",
    )
    .await
    .json();
    assert!(failed.as_array().unwrap().len() >= 4);
    let job = call(
        &mut spec,
        f,
        "/api/v1/jobs/{id}",
        &format!("/api/v1/jobs/{}", jobs[0]["id"]),
    )
    .await
    .json();
    assert!(job["log_url"].as_str().unwrap().starts_with("/jobs/"));
    let results = call(
        &mut spec,
        f,
        "/api/v1/results",
        &format!("/api/v1/results?run={}&status=FAIL", f.runs[4]),
    )
    .await
    .json();
    let names: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"hello/greets-ada"), "{names:?}");
    assert!(!names.contains(&"hello/builds"));
    call(
        &mut spec,
        f,
        "/api/v1/results",
        "/api/v1/results?suite=hello&per_page=2",
    )
    .await;

    // Logs by ranges.
    let lines = call(
        &mut spec,
        f,
        "/api/v1/jobs/{id}/log",
        &format!("/api/v1/jobs/{}/log?from=29999&to=30001", f.big_job),
    )
    .await
    .json();
    assert_eq!(lines["lines"][1], "<script>alert(12)</script>");
    assert_eq!(
        (
            lines["from"].as_i64(),
            lines["to"].as_i64(),
            lines["next"].as_i64()
        ),
        (Some(29_999), Some(30_001), Some(30_002))
    );
    assert_eq!(lines["total_lines"], common::BIG_LINES);
    let tail = call(
        &mut spec,
        f,
        "/api/v1/jobs/{id}/log",
        &format!("/api/v1/jobs/{}/log?tail=1", f.big_job),
    )
    .await
    .json();
    assert_eq!(tail["next"], Value::Null);
    let files = call(
        &mut spec,
        f,
        "/api/v1/runs/{id}/files",
        &format!("/api/v1/runs/{}/files", f.runs[1]),
    )
    .await
    .json();
    let names: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"checks.txt") && names.contains(&"report.txt"),
        "{names:?}"
    );
    let report = files
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "report.txt")
        .unwrap();
    let text = call(
        &mut spec,
        f,
        "/api/v1/runs/{id}/files/{index}/lines",
        report["lines_url"].as_str().unwrap(),
    )
    .await
    .json();
    assert!(
        text["lines"][0]
            .as_str()
            .unwrap()
            .starts_with("Hi Zoë Ångström"),
        "{text}"
    );

    let status = call(&mut spec, f, "/api/v1/status", "/api/v1/status")
        .await
        .json();
    assert!(
        status["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["state"] == "rejected" && c["count"] == 5)
    );
    assert!(status["mails"].as_i64().unwrap() >= 10);

    // Errors are JSON too, and described.
    for (path, uri, code) in [
        (
            "/api/v1/runs/{id}",
            "/api/v1/runs/999999".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/runs/{id}",
            "/api/v1/runs/abc".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/submissions",
            "/api/v1/submissions?per_page=0".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/submissions",
            "/api/v1/submissions?page=x".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/patches",
            "/api/v1/patches".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/jobs/{id}/log",
            format!("/api/v1/jobs/{}/log", f.escaping_job),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/runs/{id}/files/{index}/lines",
            format!("/api/v1/runs/{}/files/999/lines", f.runs[0]),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/series/{id}",
            "/api/v1/series/999999".to_owned(),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let answer = call(&mut spec, f, path, &uri).await;
        assert_eq!(answer.status, code, "{uri}");
    }
    let unknown = get(&f.router, "/api/v1/nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.json()["error"].is_string());

    writes(&mut spec, f).await;
    private_reads(f).await;

    // Every endpoint was answered, and checked.
    let described: BTreeSet<String> = spec.doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let missing: Vec<&String> = described.difference(&spec.covered).collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
}

#[tokio::test]
async fn api_on_every_database() {
    for db in databases().await {
        let f = fill(db).await;
        everything(&f).await;
        f.cleanup().await;
    }
}

/// What `gauntlet serve` would do, on the store: a rerun queues the run's series again.
struct Service {
    store: Store,
    reruns: std::sync::Mutex<Vec<Id>>,
}

impl Actions for Service {
    fn rerun(&self, run: Id) -> futures::future::BoxFuture<'_, Result<Id, ActionError>> {
        Box::pin(async move {
            self.reruns.lock().unwrap().push(run);
            let (id, _) = queue_one(&self.store).await;
            Ok(id)
        })
    }

    fn cancel(&self, run: Id) -> futures::future::BoxFuture<'_, Result<(), ActionError>> {
        Box::pin(async move {
            self.store
                .cancel_run(run, "by the service", unix_now())
                .await
                .map_err(|e| ActionError::Failed(e.to_string()))?;
            Ok(())
        })
    }
}

/// A run queued for workers, with one job.
async fn queue_one(store: &Store) -> (Id, Id) {
    let (run, jobs) = store
        .enqueue_run(
            &NewRun {
                series: 1,
                revision: 1,
                series_key: "<queued@example.org>".into(),
                project: "queued".into(),
                project_file: "queued.yaml".into(),
            },
            &[QueuedJob {
                job: NewJob {
                    stage: "checks".into(),
                    name: "checks".into(),
                    position: 0,
                    requires: Vec::new(),
                },
                spec: None,
                after: Vec::new(),
            }],
            unix_now(),
        )
        .await
        .unwrap();
    (run, jobs[0])
}

async fn post(
    spec: &mut Spec,
    router: &axum::Router,
    path: &str,
    uri: &str,
    token: Option<&str>,
) -> Answer {
    let answer = call_with(router, "POST", uri, token).await;
    spec.check_op("post", path, &answer);
    answer
}

/// Rerun and cancel: a token or 401, 501 without the service, 409 for a run that ended.
async fn writes(spec: &mut Spec, f: &Filled) {
    const RERUN: &str = "/api/v1/runs/{id}/rerun";
    const CANCEL: &str = "/api/v1/runs/{id}/cancel";
    let (_, token) = f.store.create_token("ci").await.unwrap();
    let (_, revoked) = f.store.create_token("old").await.unwrap();
    assert!(f.store.revoke_token("old").await.unwrap());
    let (queued, _) = queue_one(&f.store).await;
    let done = f.runs[0];

    // No token, a token that is not one, a revoked one: 401 before anything else.
    for (path, uri) in [
        (RERUN, format!("/api/v1/runs/{done}/rerun")),
        (CANCEL, format!("/api/v1/runs/{queued}/cancel")),
        (CANCEL, "/api/v1/runs/999999/cancel".to_owned()),
    ] {
        let none = post(spec, &f.router, path, &uri, None).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(none.header("www-authenticate"), "Bearer realm=\"gauntlet\"");
        for bad in ["nope", "gauntlet_0000", revoked.as_str()] {
            let answer = post(spec, &f.router, path, &uri, Some(bad)).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri} {bad}");
            assert!(answer.header("www-authenticate").contains("invalid_token"));
        }
        let basic = call_with(&f.router, "POST", &uri, None).await;
        assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    }
    // Nothing was cancelled by those.
    let run = get(&f.router, &format!("/api/v1/runs/{queued}"))
        .await
        .json();
    assert_eq!(run["state"], "queued");
    // Reads of the write endpoints are not routes.
    let read = get(&f.router, &format!("/api/v1/runs/{queued}/cancel")).await;
    assert_eq!(read.status, StatusCode::METHOD_NOT_ALLOWED);

    // Without the service: no rerun; a cancel is the store's.
    let t = Some(token.as_str());
    let answer = post(
        spec,
        &f.router,
        RERUN,
        &format!("/api/v1/runs/{done}/rerun"),
        t,
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_IMPLEMENTED);
    let answer = post(spec, &f.router, RERUN, "/api/v1/runs/999999/rerun", t).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = post(
        spec,
        &f.router,
        CANCEL,
        &format!("/api/v1/runs/{queued}/cancel"),
        t,
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.json()["state"], "cancelled");
    assert_eq!(answer.json()["by"], "ci");
    let answer = post(
        spec,
        &f.router,
        CANCEL,
        &format!("/api/v1/runs/{queued}/cancel"),
        t,
    )
    .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    let answer = post(
        spec,
        &f.router,
        CANCEL,
        &format!("/api/v1/runs/{done}/cancel"),
        t,
    )
    .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    let answer = post(spec, &f.router, CANCEL, "/api/v1/runs/abc/cancel", t).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    // With the service.
    let service = std::sync::Arc::new(Service {
        store: f.store.clone(),
        reruns: std::sync::Mutex::new(Vec::new()),
    });
    let with =
        router(WebState::new(f.store.clone(), f.artifacts.clone()).with_actions(service.clone()));
    let answer = post(spec, &with, RERUN, &format!("/api/v1/runs/{done}/rerun"), t).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let new = answer.json()["run"].as_i64().unwrap();
    assert_eq!(answer.json()["rerun_of"], done);
    assert_eq!(answer.json()["url"], format!("/runs/{new}"));
    assert_eq!(*service.reruns.lock().unwrap(), vec![done]);
    let answer = post(
        spec,
        &with,
        CANCEL,
        &format!("/api/v1/runs/{new}/cancel"),
        t,
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.json()["state"], "cancelled");
    let answer = post(spec, &with, RERUN, "/api/v1/runs/999999/rerun", None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

/// Reads behind a token when the server says so; the stylesheet and the description stay open.
async fn private_reads(f: &Filled) {
    let mut state = WebState::new(f.store.clone(), f.artifacts.clone());
    state.private_reads = true;
    let private = router(state);
    let (_, token) = f.store.create_token("reader").await.unwrap();
    for uri in ["/api/v1/submissions", "/", &format!("/runs/{}", f.runs[0])] {
        let answer = get(&private, uri).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(
            answer.header("www-authenticate"),
            "Bearer realm=\"gauntlet\""
        );
        assert!(
            answer
                .header("content-security-policy")
                .contains("default-src 'none'")
        );
        let answer = call_with(&private, "GET", uri, Some("gauntlet_x")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri}");
        let answer = call_with(&private, "GET", uri, Some(&token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
    }
    assert!(get(&private, "/api/v1/submissions").await.json()["error"].is_string());
    assert!(get(&private, "/").await.body.contains("token"));
    for uri in [
        "/static/style.css",
        "/static/live.js",
        "/api/v1/openapi.json",
    ] {
        assert_eq!(get(&private, uri).await.status, StatusCode::OK, "{uri}");
    }
    assert!(f.store.revoke_token("reader").await.unwrap());
    let answer = call_with(&private, "GET", "/api/v1/submissions", Some(&token)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

//! The REST API over a store filled by the real pipeline: every endpoint's answers validated
//! against the OpenAPI description (JSON Schema 2020-12), pages, filters, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{Answer, Filled, databases, fill, get};
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
        let operation = &self.doc["paths"][path]["get"];
        assert!(operation.is_object(), "{path} is not described");
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
        if status == "200" {
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

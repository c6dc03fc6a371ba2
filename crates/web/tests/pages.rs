//! The pages over a store filled by the real pipeline: the list and its filters and pages, the
//! submission pages, the log viewer, the status page; and the security of all of them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{BIG_LINES, Filled, XSS_FILE, databases, fill, get};

/// `<tag` anywhere in `html` but the page's own markup of this kind.
fn assert_no_raw(html: &str, needle: &str, what: &str) {
    assert!(!html.contains(needle), "{what}: {needle:?} is not escaped");
}

/// The escaping every page must do, whatever page it is.
fn assert_escaped(html: &str, what: &str) {
    for needle in [
        "<script>alert",
        "<img src=x",
        "<svg",
        "onmouseover=\"alert",
        "<i>Project",
        "<i>kind",
        "<u>suite",
        "<b>x86_64",
        "onerror=\"alert",
        "\"><script",
        "</pre><script",
    ] {
        assert_no_raw(html, needle, what);
    }
    // The only script is the log viewer's own file.
    for (i, _) in html.match_indices("<script") {
        assert!(
            html[i..].starts_with("<script src=\"/static/log.js\" defer></script>"),
            "{what}: a script at {i}"
        );
    }
}

async fn list(f: &Filled) {
    let page = get(&f.router, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("text/html"));
    let html = &page.body;
    assert_escaped(html, "list");
    for name in ["Jan", "李雷", "Amara Okafor", "Zoë Ångström"] {
        assert!(html.contains(name), "{name} in the list");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "{html}");
    assert!(html.contains("hello: greet people by their name"));
    assert!(html.contains("st-accepted\">") && html.contains("st-rejected\">"));

    // Filters.
    let rejected = get(&f.router, "/?state=rejected").await.body;
    assert!(!rejected.contains("st-accepted\">"));
    assert!(rejected.contains("st-rejected\">"));
    let accepted = get(&f.router, "/?state=accepted").await.body;
    assert_eq!(accepted.matches("class=\"st st-accepted\"").count(), 1);
    let jan = get(&f.router, "/?submitter=JAN.NOVAK@student.example.org")
        .await
        .body;
    assert!(jan.contains("Jan Nov"));
    assert!(!jan.contains("Amara"));
    let by_name = get(&f.router, "/?submitter=Amara+Okafor").await.body;
    assert!(by_name.contains("Amara") && !by_name.contains("Jan Nov"));
    let by_msgid = get(&f.router, "/?q=xss-1%40example.org").await.body;
    assert!(by_msgid.contains("alert(1)") && !by_msgid.contains("Amara"));
    let by_patch_msgid = get(&f.router, "/?q=%3Cpatch1.v1.zoe%40student.example.org%3E").await;
    assert_eq!(
        by_patch_msgid.body.matches("class=\"st st-").count(),
        1,
        "{}",
        by_patch_msgid.body
    );
    let by_subject = get(&f.router, "/?q=GREET+PEOPLE").await.body;
    assert!(by_subject.contains("Zo"));
    assert!(!by_subject.contains("Jan Nov"));
    let none = get(&f.router, "/?q=100%25_nothing&project=x").await.body;
    assert!(none.contains("No submission matches."));
    let project = get(&f.router, "/?project=Hello+Course").await.body;
    assert!(!project.contains("alert(1)") && project.contains("Amara"));
    // A wrong number is the client's mistake.
    assert_eq!(
        get(&f.router, "/?before=x").await.status,
        StatusCode::BAD_REQUEST
    );

    // Pages by key: 6 runs, 2 a page, there and back, filters kept.
    let first = get(&f.router, "/?per_page=2").await.body;
    let older = href(&first, "older ›").expect("an older page");
    assert!(
        older.contains("per_page=2") && older.contains("before="),
        "{older}"
    );
    let second = get(&f.router, &older).await.body;
    let third = get(&f.router, &href(&second, "older ›").unwrap())
        .await
        .body;
    assert!(href(&third, "older ›").is_none(), "{third}");
    let back = get(&f.router, &href(&third, "‹ newer").unwrap()).await.body;
    assert_eq!(rows(&back), rows(&second));
    let top = get(&f.router, &href(&back, "‹ newer").unwrap()).await.body;
    assert_eq!(rows(&top), rows(&first));
    let mut all: Vec<String> = [rows(&first), rows(&second), rows(&third)].concat();
    assert_eq!(all.len(), 6);
    all.dedup();
    assert_eq!(all.len(), 6);
}

/// The tags of a page (text is escaped: a raw `<` is markup).
fn tags(html: &str) -> Vec<&str> {
    html.split('<')
        .skip(1)
        .filter_map(|t| t.split_once('>').map(|(tag, _)| tag))
        .collect()
}

/// The link labelled `label`, unescaped.
fn href(html: &str, label: &str) -> Option<String> {
    let end = html.find(&format!("\">{label}</a>"))?;
    let start = html[..end].rfind("href=\"")? + 6;
    Some(
        html[start..end]
            .replace("&amp;", "&")
            .replace("&#x2f;", "/"),
    )
}

/// The submission links of a list page.
fn rows(html: &str) -> Vec<String> {
    let html = html.replace("&#x2f;", "/");
    html.match_indices("<td><a href=\"/runs/")
        .map(|(i, _)| html[i..i + 25].to_owned())
        .collect()
}

async fn submissions(f: &Filled) {
    // Zoë v2: accepted, the second revision, which changed the verdict.
    let zoe = get(&f.router, &format!("/runs/{}", f.runs[1])).await;
    assert_eq!(zoe.status, StatusCode::OK);
    let html = &zoe.body;
    assert!(html.contains(">accepted<"));
    assert!(html.contains("Revisions"));
    assert!(html.contains("rejected → accepted"), "{html}");
    assert!(html.contains("greet.c"), "the files of the patches");
    assert!(html.contains("hello.c"));
    assert!(html.contains("signed-off-by"), "the check grid");
    assert!(html.contains("Base: "), "{html}");
    assert!(html.contains("base_commit"), "{html}");
    assert!(html.contains("greets-unicode"));
    assert!(html.contains("/jobs/"), "log links");
    assert!(html.contains("checks.txt"), "every file of the run");

    // Jan: rejected by the checks, with the finding.
    let jan = get(&f.router, &format!("/runs/{}", f.runs[2])).await.body;
    assert!(jan.contains(">rejected<"));
    assert!(jan.contains("Signed-off-by"), "{jan}");
    assert!(jan.contains("class=\"cell st-fail\""), "{jan}");

    // Li: does not build, the compiler's error with a link into the log.
    let li = get(&f.router, &format!("/runs/{}", f.runs[3])).await.body;
    assert!(li.contains("expected"), "{li}");
    assert!(li.contains("log?line="), "{li}");

    // Amara: fails a test, which one and what it printed.
    let amara = get(&f.router, &format!("/runs/{}", f.runs[4])).await.body;
    assert!(amara.contains("greets-ada"));
    assert!(amara.contains("Hi, Ada!"), "{amara}");

    // A series goes to its newest run; a series never tested has a page of its own.
    let series = get(&f.router, &format!("/series/{}", f.series[1])).await;
    assert_eq!(series.status, StatusCode::SEE_OTHER);
    assert_eq!(series.header("location"), format!("/runs/{}", f.runs[1]));
    let untested = common::ingest(
        &f.store,
        common::XSS_MAIL
            .replace("xss-1@", "xss-2@")
            .replace("Date: Sat, 03 Oct", "Date: Sun, 04 Oct")
            .as_bytes(),
    )
    .await;
    let page = get(&f.router, &format!("/series/{untested}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(">untested<"));
    assert_escaped(&page.body, "untested series");

    for uri in [
        "/runs/999999",
        "/runs/x",
        "/series/999999",
        "/jobs/999999/log",
    ] {
        let page = get(&f.router, uri).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            page.header("content-type").starts_with("text/html"),
            "{uri}"
        );
    }
}

async fn hostile(f: &Filled) {
    let page = get(&f.router, &format!("/runs/{}", f.xss_run)).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = &page.body;
    assert_escaped(html, "hostile submission");
    // Everything is there, escaped.
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "{html}");
    let file = "x&quot; onerror=&quot;alert(1).c";
    assert!(html.contains(file), "{html}");
    for n in [7, 8, 9, 11, 14, 15, 17, 18, 19] {
        assert!(html.contains(&format!("alert({n})")), "alert({n}) is shown");
    }
    assert!(html.contains("&lt;img src=x onerror=alert(10)&gt;"));
    assert!(html.contains("&lt;svg onload=alert(16)&gt;"));
    assert!(
        html.contains("Mallory&quot; onmouseover=&quot;alert(20) &amp;lt;"),
        "{html}"
    );
    assert!(XSS_FILE.contains('"'));

    // The log viewer escapes the log.
    let log = get(&f.router, &format!("/jobs/{}/log?line=30000", f.big_job)).await;
    assert_eq!(log.status, StatusCode::OK);
    assert_escaped(&log.body, "log");
    assert!(log.body.contains("&lt;script&gt;alert(12)&lt;"));
    // As text, the log is what it is, and the browser is told not to sniff it.
    let raw = get(
        &f.router,
        &format!("/jobs/{}/log.txt?from=30000&to=30000", f.big_job),
    )
    .await;
    assert_eq!(raw.body, "<script>alert(12)</script>\n");
    assert!(raw.header("content-type").starts_with("text/plain"));
    assert_eq!(raw.header("x-content-type-options"), "nosniff");
}

async fn logs(f: &Filled) {
    let uri = format!("/jobs/{}/log", f.big_job);
    let first = get(&f.router, &uri).await.body;
    assert!(first.contains("id=\"L1\"") && first.contains("id=\"L1000\""));
    assert!(!first.contains("id=\"L1001\""));
    assert!(first.contains(&format!("of {BIG_LINES}")));
    assert!(first.contains("<script src=\"/static/log.js\" defer></script>"));
    // A line far in: the range around it, with the anchor.
    let at = get(&f.router, &format!("{uri}?line=40000")).await.body;
    assert!(at.contains("id=\"L40000\"") && at.contains("href=\"#L40000\""));
    assert!(at.contains("id=\"L39900\"") && !at.contains("id=\"L39899\""));
    let range = get(&f.router, &format!("{uri}?from=49990&to=60000"))
        .await
        .body;
    assert!(range.contains("id=\"L50000\"") && !range.contains("id=\"L50001\""));
    assert!(!range.contains("next ›"));
    let tail = get(&f.router, &format!("{uri}?tail=1")).await.body;
    assert!(tail.contains("id=\"L50000\"") && tail.contains("id=\"L49001\""));
    let raw = get(&f.router, &format!("{uri}.txt")).await.body;
    assert_eq!(raw.lines().count() as u64, BIG_LINES);
    let some = get(&f.router, &format!("{uri}.txt?from=2&to=3")).await.body;
    assert_eq!(
        some,
        "make: line 2 of the build\nmake: line 3 of the build\n"
    );

    // The files of a run, by their place in its directory.
    let page = get(&f.router, &format!("/runs/{}", f.xss_run))
        .await
        .body
        .replace("&#x2f;", "/");
    assert!(page.contains(&format!("/runs/{}/files/0", f.xss_run)));
    let file = get(&f.router, &format!("/runs/{}/files/0", f.xss_run)).await;
    assert_eq!(file.status, StatusCode::OK);
    assert!(
        file.body.contains("make: line 1 of"),
        "build/make.log comes first"
    );
    let raw = get(&f.router, &format!("/runs/{}/files/1/raw", f.xss_run)).await;
    assert_eq!(raw.body, "<script>alert(6)</script>\n");
}

async fn traversal(f: &Filled) {
    // A recorded path that leaves the artifacts directory is not served.
    for uri in [
        format!("/jobs/{}/log", f.escaping_job),
        format!("/jobs/{}/log.txt", f.escaping_job),
        format!("/api/v1/jobs/{}/log", f.escaping_job),
    ] {
        let answer = get(&f.router, &uri).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(!answer.body.contains("the secret"), "{uri}");
    }
    // Nothing in a URL is a path.
    let run = f.xss_run;
    for uri in [
        "/jobs/../secret".to_owned(),
        "/jobs/%2e%2e/log".to_owned(),
        "/jobs/..%2f..%2fsecret/log".to_owned(),
        format!("/runs/{run}/files/..%2f..%2f..%2fsecret"),
        format!("/runs/{run}/files/%2e%2e/raw"),
        format!("/runs/{run}/files/../../secret"),
        format!("/runs/{run}/files/999"),
        "/runs/%2e%2e/files/0".to_owned(),
        "/static/..%2f..%2fCargo.toml".to_owned(),
        "/static/../../secret".to_owned(),
        "/../secret".to_owned(),
        "/api/v1/runs/1/files/%2e%2e%2f%2e%2e%2fsecret/lines".to_owned(),
    ] {
        let answer = get(&f.router, &uri).await;
        assert!(
            answer.status == StatusCode::NOT_FOUND || answer.status == StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.status
        );
        assert!(!answer.body.contains("the secret"), "{uri}");
        assert!(!answer.body.contains("[workspace]"), "{uri}");
    }
}

async fn headers_and_status(f: &Filled) {
    for uri in [
        "/".to_owned(),
        format!("/runs/{}", f.runs[0]),
        format!("/jobs/{}/log", f.big_job),
        format!("/jobs/{}/log.txt", f.big_job),
        "/status".to_owned(),
        "/static/style.css".to_owned(),
        "/static/log.js".to_owned(),
        "/api/v1/submissions".to_owned(),
        "/nowhere".to_owned(),
        "/runs/424242".to_owned(),
    ] {
        let answer = get(&f.router, &uri).await;
        let csp = answer.header("content-security-policy");
        assert!(csp.starts_with("default-src 'none'"), "{uri}: {csp}");
        assert!(csp.contains("style-src 'self'") && csp.contains("img-src 'self'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(answer.header("x-content-type-options"), "nosniff", "{uri}");
        assert_eq!(answer.header("referrer-policy"), "no-referrer", "{uri}");
        if answer.header("content-type").starts_with("text/html") {
            // No inline style or script: the policy would refuse them.
            assert!(!answer.body.contains("style=\""), "{uri}");
            assert!(!answer.body.contains("<style"), "{uri}");
            for tag in tags(&answer.body) {
                assert!(
                    !tag.split_whitespace()
                        .any(|w| w.starts_with("on") && w.contains('=')),
                    "{uri}: an event handler in {tag}"
                );
            }
        }
    }
    // A worker and a source, as the service registers them (names from outside: escaped).
    let now = gauntlet_store::unix_now();
    f.store
        .register_worker(
            &gauntlet_store::NewWorker {
                name: "w<1>".into(),
                capabilities: vec!["build:x86_64".into(), "qemu:x86_64".into()],
                host: "lab-host".into(),
                pid: 42,
            },
            now,
        )
        .await
        .unwrap();
    f.store
        .source_failed("lore", "fetch failed: <timeout>", now)
        .await
        .unwrap();
    // The status is cached for a few seconds; a fresh router reads it anew.
    let router = gauntlet_web::router(gauntlet_web::WebState::new(
        f.store.clone(),
        f.artifacts.clone(),
    ));
    let status = get(&router, "/status").await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    assert_escaped(&status.body, "status");
    assert!(status.body.contains(">rejected<"));
    assert!(status.body.contains("Jobs by state"));
    assert!(status.body.contains("w&lt;1&gt;"), "{}", status.body);
    assert!(
        status.body.contains("build:x86_64 qemu:x86_64"),
        "{}",
        status.body
    );
    assert!(
        status.body.contains("fetch failed: &lt;timeout&gt;"),
        "{}",
        status.body
    );
    f.store.unregister_worker("w<1>").await.unwrap();
    let css = get(&f.router, "/static/style.css").await;
    assert!(css.header("content-type").starts_with("text/css"));
}

async fn everything(f: &Filled) {
    list(f).await;
    submissions(f).await;
    hostile(f).await;
    logs(f).await;
    traversal(f).await;
    headers_and_status(f).await;
}

#[tokio::test]
async fn pages_on_every_database() {
    for db in databases().await {
        let f = fill(db).await;
        everything(&f).await;
        f.cleanup().await;
    }
}

//! A store filled by the real pipeline (the sample course, with a first revision of one
//! series), plus a run recorded by hand whose every field is hostile, and the router over it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use gauntlet_pipeline::{Pipeline, Settings, sample};
use gauntlet_project::Project;
use gauntlet_sandbox::Sandbox;
use gauntlet_store::testing::TestDb;
use gauntlet_store::{FindingRow, JobEnd, NewJob, NewRun, ResultRow, Store};
use gauntlet_web::{WebState, router};
use tower::ServiceExt;

/// The first revision of Zoë's series: no Signed-off-by, so rejected; the sample's v2 fixes it.
const ZOE_V1: &str = "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: =?UTF-8?q?Zo=C3=AB=20=C3=85ngstr=C3=B6m?= <zoe.angstrom@student.example.org>
Date: Fri, 25 Sep 2026 10:00:00 +0000
Subject: [PATCH 0/1] hello: greet people by their name
Message-Id: <cover.v1.zoe@student.example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

This series makes hello greet the person named in $USER.

From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: =?UTF-8?q?Zo=C3=AB=20=C3=85ngstr=C3=B6m?= <zoe.angstrom@student.example.org>
Date: Fri, 25 Sep 2026 10:00:01 +0000
Subject: [PATCH 1/1] greet: print the name given
Message-Id: <patch1.v1.zoe@student.example.org>
In-Reply-To: <cover.v1.zoe@student.example.org>
References: <cover.v1.zoe@student.example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

greet() ignored the name it was given: print it instead.
---
 greet.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/greet.c b/greet.c
--- a/greet.c
+++ b/greet.c
@@ -4,5 +4,5 @@
 void greet(const char *name)
 {
 \t(void)name;
-\tprintf(\"Hello, world!\\n\");
+\tprintf(\"Hello, %s!\\n\", getenv(\"USER\"));
 }
-- 
2.39.2
";

/// A series whose every field is an attack.
pub(crate) const XSS_MAIL: &str =
    "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: =?UTF-8?q?Mallory=22_onmouseover=3D=22alert(20)_&lt;?= <mallory@example.org>
Date: Sat, 03 Oct 2026 10:00:00 +0000
Subject: [PATCH] <script>alert(1)</script>
Message-Id: <xss-1@example.org>

<img src=x onerror=alert(2)>

Signed-off-by: Mallory <mallory@example.org>
---
 \"x\\\" onerror=\\\"alert(1).c\" | 1 +
 1 file changed, 1 insertion(+)
 create mode 100644 \"x\\\" onerror=\\\"alert(1).c\"

diff --git \"a/x\\\" onerror=\\\"alert(1).c\" \"b/x\\\" onerror=\\\"alert(1).c\"
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ \"b/x\\\" onerror=\\\"alert(1).c\"
@@ -0,0 +1 @@
+int x;
-- 
2.39.2
";

/// The submitter's name in [`XSS_MAIL`].
pub(crate) const XSS_NAME: &str = "Mallory\" onmouseover=\"alert(20) &lt;";

pub(crate) const XSS_FILE: &str = "x\" onerror=\"alert(1).c";

/// Lines of the big log of the hostile run.
pub(crate) const BIG_LINES: u64 = 50_000;

pub(crate) struct Filled {
    pub(crate) store: Store,
    pub(crate) artifacts: PathBuf,
    pub(crate) router: Router,
    /// Zoë v1, Zoë v2, Jan, Li, Amara: the pipeline's runs, in that order.
    pub(crate) runs: Vec<i64>,
    pub(crate) series: Vec<i64>,
    /// The run recorded by hand, its series and jobs.
    pub(crate) xss_run: i64,
    pub(crate) xss_series: i64,
    /// A job whose log has [`BIG_LINES`] lines.
    pub(crate) big_job: i64,
    /// A job whose recorded log path leaves the artifacts directory.
    pub(crate) escaping_job: i64,
    pub(crate) db: Option<TestDb>,
    _dir: tempfile::TempDir,
}

impl Filled {
    pub(crate) async fn cleanup(mut self) {
        self.store.close().await;
        if let Some(db) = self.db.take() {
            db.cleanup().await.unwrap();
        }
    }
}

pub(crate) async fn ingest(store: &Store, bytes: &[u8]) -> i64 {
    let mails: Vec<Vec<u8>> = gauntlet_mbox::split(bytes, gauntlet_mbox::Options::default())
        .into_iter()
        .map(|m| m.bytes)
        .collect();
    let (results, _) =
        gauntlet_ingest::ingest_bytes(store, &mails, &gauntlet_ingest::Options::default())
            .await
            .unwrap();
    results
        .iter()
        .find_map(|r| match r.outcome {
            Some(gauntlet_series::Outcome::Patch {
                series: Some(s), ..
            })
            | Some(gauntlet_series::Outcome::Cover { series: s, .. }) => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no series in {results:#?}"))
}

/// The databases to test on: SQLite, and PostgreSQL when the environment names one.
pub(crate) async fn databases() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    match gauntlet_store::testing::postgres_url() {
        Some(url) => dbs.push(TestDb::postgres(&url).await.unwrap()),
        None if std::env::var("GAUNTLET_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            panic!("GAUNTLET_REQUIRE_POSTGRES=1 but GAUNTLET_TEST_POSTGRES_URL is not set")
        }
        None => eprintln!("SKIPPED: PostgreSQL (GAUNTLET_TEST_POSTGRES_URL is not set)"),
    }
    dbs
}

async fn hostile_run(store: &Store, artifacts: &Path, series: i64) -> (i64, i64, i64) {
    let run = store
        .create_run(&NewRun {
            series,
            revision: 1,
            series_key: "<xss-1@example.org>".into(),
            project: "<i>Project</i>".into(),
            project_file: "/etc/<x>.yaml".into(),
        })
        .await
        .unwrap();
    let dir = artifacts.join("runs").join(run.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let job = |stage: &str, name: &str, position: i64| NewJob {
        stage: stage.into(),
        name: name.into(),
        position,
        requires: Vec::new(),
    };
    let checks = store
        .add_job(run, &job("checks", "checks", 0))
        .await
        .unwrap();
    let build = store
        .add_job(run, &job("build", "<b>x86_64</b>", 1))
        .await
        .unwrap();
    let test = store.add_job(run, &job("test", "x86_64", 2)).await.unwrap();
    let escaping = store
        .add_job(run, &job("report", "report", 3))
        .await
        .unwrap();
    std::fs::write(dir.join("checks.txt"), "<script>alert(6)</script>\n").unwrap();
    let checks_details = serde_json::json!({
        "results": [{
            "check": "<script>alert(7)</script>",
            "target": {"scope": "patch", "index": 0},
            "status": "FAIL",
            "summary": "\"><script>alert(8)</script>",
            "findings": [], "errors": 1, "warnings": 0
        }]
    });
    store
        .finish_job(
            checks,
            &JobEnd {
                status: "FAIL".into(),
                reason: Some("<script>alert(9)</script>".into()),
                log: Some(format!("runs/{run}/checks.txt")),
                details: Some(checks_details.to_string()),
                duration_ms: 12,
            },
        )
        .await
        .unwrap();
    store
        .add_findings(
            run,
            checks,
            &[FindingRow {
                check: "<script>alert(7)</script>".into(),
                number: Some(1),
                msgid: Some("<xss-1@example.org>".into()),
                severity: "error".into(),
                kind: Some("<i>kind</i>".into()),
                message: "<img src=x onerror=alert(10)>".into(),
                mail_line: Some(3),
                file: Some(XSS_FILE.into()),
                line: Some(1),
                excerpt: Some("</pre><script>alert(11)</script>".into()),
            }],
        )
        .await
        .unwrap();
    let mut log = String::new();
    for i in 1..=BIG_LINES {
        if i == 30_000 {
            log.push_str("<script>alert(12)</script>\n");
        } else {
            log.push_str(&format!("make: line {i} of the build\n"));
        }
    }
    std::fs::create_dir_all(dir.join("build")).unwrap();
    std::fs::write(dir.join("build/make.log"), log).unwrap();
    let build_details = serde_json::json!({
        "status": "FAIL", "reason": "x", "steps": [],
        "diagnostics": [{"severity": "warning", "file": XSS_FILE, "line": 1, "column": 2,
                         "message": "<img src=x onerror=alert(13)>", "flag": "-W<x>",
                         "context": [], "log_line": 30000}],
        "artifact": null, "config_reused": false, "duration_ms": 1
    });
    store
        .finish_job(
            build,
            &JobEnd {
                status: "FAIL".into(),
                reason: Some("<script>alert(14)</script>".into()),
                log: Some(format!("runs/{run}/build/make.log")),
                details: Some(build_details.to_string()),
                duration_ms: 1234,
            },
        )
        .await
        .unwrap();
    store
        .finish_job(
            test,
            &JobEnd {
                status: "FAIL".into(),
                reason: Some("suite failed".into()),
                log: Some(dir.join("build/make.log").display().to_string()),
                details: Some(
                    serde_json::json!([{"suite": "<u>suite</u>", "status": "FAIL", "reason": "<script>alert(15)</script>"}])
                        .to_string(),
                ),
                duration_ms: 10,
            },
        )
        .await
        .unwrap();
    store
        .add_results(
            run,
            test,
            &[ResultRow {
                suite: "<u>suite</u>".into(),
                name: "<svg onload=alert(16)>".into(),
                status: "FAIL".into(),
                measurement: Some("<1>".into()),
                units: Some("<ms>".into()),
                reason: Some("<script>alert(17)</script>".into()),
                log_first: Some(29_990),
                log_last: Some(30_010),
                excerpt: Some("<script>alert(18)</script>".into()),
            }],
        )
        .await
        .unwrap();
    std::fs::write(artifacts.join("secret"), "the secret\n").unwrap();
    store
        .finish_job(
            escaping,
            &JobEnd {
                status: "DONE".into(),
                reason: None,
                log: Some(format!("runs/{run}/../../secret")),
                details: None,
                duration_ms: 0,
            },
        )
        .await
        .unwrap();
    store
        .finish_run(run, "rejected", Some("<script>alert(19)</script>"), None)
        .await
        .unwrap();
    (run, build, escaping)
}

/// Runs the sample course (and Zoë's first revision before it) through the pipeline into the
/// database at `db`, then records the hostile run.
pub(crate) async fn fill(db: TestDb) -> Filled {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample::write(&dir.path().join("sample")).unwrap();
    let project = Project::load(&sample.project).unwrap();
    let store = Store::open(&db.url).await.unwrap();
    let data = dir.path().join("data");
    let settings = Settings::under(&data);
    let artifacts = settings.artifacts_dir.clone();
    let pipeline = Pipeline::new(store.clone(), settings, Sandbox::detect());
    let mut mboxes: Vec<Vec<u8>> = vec![ZOE_V1.as_bytes().to_vec()];
    for path in &sample.series {
        mboxes.push(std::fs::read(path).unwrap());
    }
    let mut runs = Vec::new();
    let mut series = Vec::new();
    for mbox in &mboxes {
        let s = ingest(&store, mbox).await;
        let outcome = pipeline.run(&project, s).await.unwrap();
        runs.push(outcome.run);
        series.push(s);
    }
    let xss_series = ingest(&store, XSS_MAIL.as_bytes()).await;
    let (xss_run, big_job, escaping_job) = hostile_run(&store, &artifacts, xss_series).await;
    let router = router(WebState::new(store.clone(), artifacts.clone()));
    Filled {
        store,
        artifacts,
        router,
        runs,
        series,
        xss_run,
        xss_series,
        big_job,
        escaping_job,
        db: Some(db),
        _dir: dir,
    }
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// `GET uri` (as sent on the wire: not normalized).
pub(crate) async fn get(router: &Router, uri: &str) -> Answer {
    let request = Request::get(uri)
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{uri}: {e}"));
    send(router, request).await
}

/// `METHOD uri`, with `Authorization: Bearer TOKEN` when a token is given.
pub(crate) async fn call_with(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(router, request.body(Body::empty()).unwrap()).await
}

/// Sends `request` to the router and reads the whole answer.
pub(crate) async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 30)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

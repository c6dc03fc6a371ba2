//! Runs, jobs, findings and results, on SQLite and (when configured) PostgreSQL.
#![allow(clippy::unwrap_used)]

use gauntlet_store::testing::{TestDb, postgres_url};
use gauntlet_store::{FindingRow, JobEnd, NewJob, NewRun, ResultRow, Store};

async fn backends() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    match postgres_url() {
        Some(base) => dbs.push(TestDb::postgres(&base).await.unwrap()),
        None => {
            assert!(
                std::env::var_os("GAUNTLET_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL required but GAUNTLET_TEST_POSTGRES_URL is not set"
            );
            eprintln!("SKIPPED on PostgreSQL: GAUNTLET_TEST_POSTGRES_URL is not set");
        }
    }
    dbs
}

#[tokio::test]
async fn a_run_records_its_jobs_findings_and_results() {
    for db in backends().await {
        let store = Store::open(&db.url).await.unwrap();
        let run = store
            .create_run(&NewRun {
                series: 7,
                revision: 2,
                series_key: "<cover@example.org>".into(),
                project: "Proctree".into(),
                project_file: "/p/proctree.yaml".into(),
            })
            .await
            .unwrap();
        let mut jobs = Vec::new();
        for (i, (stage, name)) in [
            ("checks", "checks"),
            ("build", "x86_64"),
            ("test", "x86_64/smoke"),
        ]
        .iter()
        .enumerate()
        {
            let job = store
                .add_job(
                    run,
                    &NewJob {
                        stage: (*stage).into(),
                        name: (*name).into(),
                        position: i as i64,
                        requires: vec!["arch:x86_64".into()],
                    },
                )
                .await
                .unwrap();
            jobs.push(job);
        }
        store.start_job(jobs[0]).await.unwrap();
        let finding = FindingRow {
            check: "signed-off-by".into(),
            number: Some(1),
            msgid: Some("<p1@example.org>".into()),
            severity: "error".into(),
            kind: None,
            message: "no Signed-off-by from the author Иван Петров".into(),
            mail_line: Some(12),
            file: None,
            line: None,
            excerpt: None,
        };
        store
            .add_findings(run, jobs[0], std::slice::from_ref(&finding))
            .await
            .unwrap();
        store
            .finish_job(
                jobs[0],
                &JobEnd {
                    status: "FAIL".into(),
                    reason: Some("1 error".into()),
                    log: None,
                    details: Some("{\"x\":1}".into()),
                    duration_ms: 3,
                },
            )
            .await
            .unwrap();
        let result = ResultRow {
            suite: "smoke".into(),
            name: "basics/uname".into(),
            status: "PASS".into(),
            measurement: Some("42".into()),
            units: Some("ms".into()),
            reason: None,
            log_first: Some(3),
            log_last: Some(9),
            excerpt: Some("Linux".into()),
        };
        store
            .add_results(run, jobs[2], std::slice::from_ref(&result))
            .await
            .unwrap();
        let cancelled = store
            .cancel_queued_jobs(run, "MISS", "checks failed")
            .await
            .unwrap();
        assert_eq!(cancelled, 2);
        store
            .finish_run(run, "rejected", Some("checks failed"), None)
            .await
            .unwrap();

        let detail = store.run_detail(run).await.unwrap().unwrap();
        assert_eq!(detail.run.verdict.as_deref(), Some("rejected"));
        assert_eq!(detail.run.state, "done");
        assert_eq!(detail.run.revision, 2);
        assert_eq!(detail.jobs.len(), 3);
        assert_eq!(detail.jobs[0].status.as_deref(), Some("FAIL"));
        assert_eq!(detail.jobs[0].attempts, 1);
        assert_eq!(detail.jobs[1].state, "cancelled");
        assert_eq!(detail.jobs[2].status.as_deref(), Some("MISS"));
        assert_eq!(detail.findings, vec![(jobs[0], finding)]);
        assert_eq!(detail.results, vec![(jobs[2], result)]);
        assert_eq!(store.runs_of_series(7).await.unwrap().len(), 1);
        assert_eq!(store.recent_runs(10).await.unwrap()[0].id, run);
        assert!(store.run_detail(run + 100).await.unwrap().is_none());
        store.close().await;
        db.cleanup().await.unwrap();
    }
}

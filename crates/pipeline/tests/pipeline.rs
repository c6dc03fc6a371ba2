//! The whole pipeline on the sample course: four series, four verdicts, everything recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gauntlet_pipeline::{Pipeline, Settings, sample};
use gauntlet_project::Project;
use gauntlet_report::Verdict;
use gauntlet_sandbox::Sandbox;
use gauntlet_store::Store;
use gauntlet_store::testing::TestDb;
use gauntlet_verdict::Status;

async fn ingest(store: &Store, mbox: &std::path::Path) -> Vec<i64> {
    let bytes = std::fs::read(mbox).unwrap();
    let mails: Vec<Vec<u8>> = gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default())
        .into_iter()
        .map(|m| m.bytes)
        .collect();
    let (results, _) =
        gauntlet_ingest::ingest_bytes(store, &mails, &gauntlet_ingest::Options::default())
            .await
            .unwrap();
    let mut series = Vec::new();
    for r in results {
        let s = match r.outcome {
            Some(gauntlet_series::Outcome::Patch {
                series: Some(s), ..
            })
            | Some(gauntlet_series::Outcome::Cover { series: s, .. }) => s,
            _ => continue,
        };
        if !series.contains(&s) {
            series.push(s);
        }
    }
    series
}

#[tokio::test]
async fn four_students_four_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample::write(&dir.path().join("sample")).unwrap();
    let project = Project::load(&sample.project).unwrap();
    let db = TestDb::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    let settings = Settings::under(&dir.path().join("data"));
    let pipeline = Pipeline::new(store.clone(), settings, Sandbox::detect());

    let mut outcomes = Vec::new();
    for mbox in &sample.series {
        let series = ingest(&store, mbox).await;
        assert_eq!(series.len(), 1, "{}", mbox.display());
        outcomes.push(pipeline.run(&project, series[0]).await.unwrap());
    }
    let verdicts: Vec<Verdict> = outcomes.iter().map(|o| o.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Accepted,
            Verdict::Rejected,
            Verdict::Rejected,
            Verdict::Rejected
        ],
        "{:#?}",
        outcomes
            .iter()
            .map(|o| (&o.reason, &o.jobs))
            .collect::<Vec<_>>()
    );

    // The good one: every stage passed, 4 tests on 4, the seed's words.
    let good = &outcomes[0];
    assert!(
        good.report.contains("You have passed 4 tests on 4."),
        "{}",
        good.report
    );
    assert!(good.report.contains("Perfect! Your work will be examined."));
    assert!(good.report.starts_with("Hi Zoë Ångström,"));
    assert!(
        good.report
            .contains("Patch: [v2] hello: greet people by their name"),
        "{}",
        good.report
    );
    let stages: Vec<(&str, Status)> = good
        .jobs
        .iter()
        .map(|j| (j.stage.as_str(), j.status))
        .collect();
    assert_eq!(
        stages,
        [
            ("checks", Status::Pass),
            ("apply", Status::Pass),
            ("build", Status::Pass),
            ("test", Status::Pass),
            ("report", Status::Done)
        ]
    );
    let mail = std::fs::read_to_string(good.mail.as_ref().unwrap()).unwrap();
    assert!(mail.contains("In-Reply-To: <cover."), "{mail}");
    assert!(
        mail.contains("Subject: Re: [PATCH v2 0/2] hello: greet people by their name"),
        "{mail}"
    );

    // No Signed-off-by: rejected by the checks, nothing built.
    let unsigned = &outcomes[1];
    assert_eq!(unsigned.jobs[0].status, Status::Fail);
    assert!(
        unsigned.jobs[0].reason.contains("signed-off-by"),
        "{}",
        unsigned.jobs[0].reason
    );
    assert!(unsigned.jobs[1..4].iter().all(|j| j.status == Status::Miss));
    assert!(
        unsigned
            .report
            .contains("Your series was rejected before it could be tested."),
        "{}",
        unsigned.report
    );

    // Does not build: the compiler's error is the reason, the tests did not run.
    let broken = &outcomes[2];
    assert_eq!(broken.jobs[2].status, Status::Fail, "{:#?}", broken.jobs);
    assert!(
        broken.jobs[2].reason.contains("greet.c:6:"),
        "{}",
        broken.jobs[2].reason
    );
    assert!(
        broken.jobs[2].reason.contains("expected ';'"),
        "{}",
        broken.jobs[2].reason
    );
    assert_eq!(broken.jobs[3].status, Status::Miss);

    // Builds but fails a test: which one, and what it printed.
    let wrong = &outcomes[3];
    assert_eq!(wrong.jobs[3].status, Status::Fail);
    assert!(
        wrong.report.contains("You have passed 1 tests on 4."),
        "{}",
        wrong.report
    );
    assert!(wrong.report.contains("greets-ada"), "{}", wrong.report);
    assert!(
        wrong
            .report
            .contains("expected 'Hello, Ada!', got 'Hi, Ada!'"),
        "{}",
        wrong.report
    );

    // Everything is in the store.
    let detail = store.run_detail(good.run).await.unwrap().unwrap();
    assert_eq!(detail.run.verdict.as_deref(), Some("accepted"));
    assert_eq!(detail.results.len(), 4);
    let unsigned_detail = store.run_detail(unsigned.run).await.unwrap().unwrap();
    assert!(
        unsigned_detail
            .findings
            .iter()
            .any(|(_, f)| f.check == "signed-off-by" && f.severity == "error")
    );
    assert!(
        good.overhead_ms < 1000,
        "pipeline overhead {} ms",
        good.overhead_ms
    );
}

//! Which projects take which submissions: `accepts.paths` and `accepts.subject_tags` are read
//! from the series' own mails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use gauntlet_pipeline::{Pipeline, Settings};
use gauntlet_project::Project;
use gauntlet_sandbox::Sandbox;
use gauntlet_store::Store;
use gauntlet_store::testing::TestDb;

fn variant(sample: &std::path::Path, name: &str, accepts: &str) -> Project {
    let text = std::fs::read_to_string(sample).unwrap().replace(
        "name: Hello Course\n",
        &format!("name: {name}\naccepts: {accepts}\n"),
    );
    let file = sample.with_file_name(format!("{name}.yaml"));
    std::fs::write(&file, text).unwrap();
    Project::load(&file).unwrap()
}

#[tokio::test]
async fn projects_take_the_series_whose_paths_and_tags_they_select() {
    let dir = tempfile::tempdir().unwrap();
    let sample = gauntlet_pipeline::sample::write(&dir.path().join("course")).unwrap();
    let db = TestDb::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    for mbox in &sample.series {
        let bytes = std::fs::read(mbox).unwrap();
        let mails: Vec<Vec<u8>> = gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default())
            .into_iter()
            .map(|m| m.bytes)
            .collect();
        gauntlet_ingest::ingest_bytes(&store, &mails, &gauntlet_ingest::Options::default())
            .await
            .unwrap();
    }
    let projects = vec![
        variant(&sample.project, "greeters", "{paths: ['greet.c']}"),
        variant(
            &sample.project,
            "makers",
            "{paths: ['Makefile', 'docs/**']}",
        ),
        variant(&sample.project, "v2-only", "{subject_tags: [v2]}"),
    ];
    let pipeline = Arc::new(Pipeline::new(
        store.clone(),
        Settings::under(&dir.path().join("data")),
        Sandbox::detect(),
    ));
    let queued = gauntlet_service::dispatch::dispatch(&store, &pipeline, &projects, None)
        .await
        .unwrap();
    let runs = store.recent_runs(100).await.unwrap();
    assert_eq!(runs.len(), queued.len());
    let count = |project: &str| runs.iter().filter(|r| r.project == project).count();
    // Every sample series changes greet.c; none touches the Makefile; one is a v2.
    assert_eq!(count("greeters"), sample.series.len(), "{runs:#?}");
    assert_eq!(count("makers"), 0, "{runs:#?}");
    assert_eq!(count("v2-only"), 1, "{runs:#?}");
    // Dispatching again queues nothing more.
    let again = gauntlet_service::dispatch::dispatch(&store, &pipeline, &projects, None)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
}

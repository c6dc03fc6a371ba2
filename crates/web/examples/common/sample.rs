//! The demo's sample course run through the real pipeline into a new SQLite store under a
//! directory (the examples' data).

use std::path::PathBuf;

use gauntlet_store::Store;

/// Runs the sample course into `<dir>/gauntlet.db`; the store and its artifacts directory.
pub(crate) async fn fill(dir: &std::path::Path) -> Result<(Store, PathBuf), String> {
    use gauntlet_pipeline::{Pipeline, Settings, sample};
    let course = sample::write(&dir.join("sample")).map_err(|e| e.to_string())?;
    let project = gauntlet_project::Project::load(&course.project).map_err(|e| format!("{e:?}"))?;
    let store = Store::open(&format!("sqlite:{}", dir.join("gauntlet.db").display()))
        .await
        .map_err(|e| e.to_string())?;
    let settings = Settings::under(&dir.join("data"));
    let artifacts = settings.artifacts_dir.clone();
    let pipeline = Pipeline::new(store.clone(), settings, gauntlet_sandbox::Sandbox::detect());
    for mbox in &course.series {
        let bytes = std::fs::read(mbox).map_err(|e| e.to_string())?;
        let mails: Vec<Vec<u8>> = gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default())
            .into_iter()
            .map(|m| m.bytes)
            .collect();
        let (results, _) =
            gauntlet_ingest::ingest_bytes(&store, &mails, &gauntlet_ingest::Options::default())
                .await
                .map_err(|e| e.to_string())?;
        let series = results.iter().find_map(|r| match r.outcome {
            Some(gauntlet_series::Outcome::Patch {
                series: Some(s), ..
            })
            | Some(gauntlet_series::Outcome::Cover { series: s, .. }) => Some(s),
            _ => None,
        });
        if let Some(series) = series {
            let outcome = pipeline
                .run(&project, series)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("run {}: {}", outcome.run, outcome.verdict.as_str());
        }
    }
    Ok((store, artifacts))
}

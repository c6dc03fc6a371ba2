//! What the pipeline's integration tests share.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use gauntlet_store::Store;

/// Ingests an mbox; the id of the series its cover letter or first patch belongs to.
pub(crate) async fn series_of(store: &Store, mbox: &Path) -> i64 {
    let bytes = std::fs::read(mbox).unwrap();
    let mails: Vec<Vec<u8>> = gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default())
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
        .unwrap()
}

//! From stored series to queued runs: every complete submission (the newest revision of its
//! work) is queued once for each project that takes it, and the older revisions' runs that
//! are still queued or running are cancelled (superseded).

use std::collections::HashSet;

use gauntlet_pipeline::Pipeline;
use gauntlet_project::{Candidate, Project};
use gauntlet_store::{Id, SeriesDetail, SeriesFilter, Store, unix_now};

use crate::Error;
use crate::reporter::Reporter;

/// Series looked at per pass, newest first.
const WINDOW: i64 = 500;

/// Queues what is new among the newest series; returns the runs queued.
pub async fn dispatch(
    store: &Store,
    pipeline: &Pipeline,
    projects: &[Project],
    reporter: Option<&Reporter>,
) -> Result<Vec<Id>, Error> {
    let series = store
        .series_list(&SeriesFilter {
            newest_first: true,
            limit: Some(WINDOW),
            latest_only: true,
            ..SeriesFilter::default()
        })
        .await?;
    let mut queued = Vec::new();
    for s in series.into_iter().rev() {
        if !s.complete || s.superseded_by.is_some() {
            continue;
        }
        let existing: HashSet<String> = store
            .runs_of_series(s.id)
            .await?
            .into_iter()
            .map(|r| r.project)
            .collect();
        let Some(detail) = store.series_detail(s.id).await? else {
            continue;
        };
        // TODO(service): the subject's tags and the touched paths are not in the series
        // summary yet; projects that select by them take nothing from the service.
        let candidate = Candidate {
            list_id: Some(s.list_id.as_str()).filter(|l| !l.is_empty()),
            patchwork_project: None,
            subject_tags: &[],
            paths: &[],
        };
        for project in projects {
            if existing.contains(&project.name) {
                continue;
            }
            if let Some(why) = project.accepts.rejects(&candidate) {
                tracing::debug!(series = s.id, project = %project.name, "not taken: {why}");
                continue;
            }
            let run = pipeline.enqueue(project, s.id, unix_now()).await?;
            queued.push(run);
            // The older revisions' work is moot now, and their patches Superseded.
            let (lineage, older) = older_revisions(store, &detail).await?;
            if let Some(reporter) = reporter {
                for o in &older {
                    if let Err(e) = reporter.supersede(o, &project.name, s.id).await {
                        tracing::warn!(series = o.summary.id, "not marked superseded: {e}");
                    }
                }
            }
            if !lineage.is_empty() {
                let cancelled = store
                    .supersede(
                        &lineage,
                        s.revision,
                        &format!("superseded by revision {} (series {})", s.revision, s.id),
                        unix_now(),
                    )
                    .await?;
                if !cancelled.runs.is_empty() {
                    tracing::info!(runs = ?cancelled.runs, by = s.id, "superseded");
                }
            }
        }
    }
    Ok(queued)
}

/// The earlier revisions of `detail`'s work, and their run keys (the head mail's Message-ID).
async fn older_revisions(
    store: &Store,
    detail: &SeriesDetail,
) -> Result<(Vec<String>, Vec<SeriesDetail>), Error> {
    let mut keys = Vec::new();
    let mut details = Vec::new();
    for member in &detail.revisions {
        if member.revision >= detail.summary.revision {
            continue;
        }
        if let Some(older) = store.series_detail(member.id).await? {
            let head = older
                .cover
                .as_ref()
                .map(|c| c.msgid.clone())
                .or_else(|| older.patches.first().map(|p| p.msgid.clone()));
            keys.extend(head);
            details.push(older);
        }
    }
    Ok((keys, details))
}

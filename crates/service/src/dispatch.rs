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
        let (tags, paths) = tags_and_paths(store, &detail).await?;
        let candidate = Candidate {
            list_id: Some(s.list_id.as_str()).filter(|l| !l.is_empty()),
            patchwork_project: None,
            subject_tags: &tags,
            paths: &paths,
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

/// The subject's tags (of the cover letter, else the first patch) and every file the patches
/// touch: what `accepts.subject_tags` and `accepts.paths` select by.
async fn tags_and_paths(
    store: &Store,
    detail: &SeriesDetail,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let mut ids: Vec<Id> = detail.patches.iter().map(|p| p.mail).collect();
    if let Some(cover) = &detail.cover {
        ids.push(cover.mail);
    }
    let raws = store.raw_mails(&ids).await?;
    let options = gauntlet_mail::ParseOptions::default();
    let head = detail
        .cover
        .as_ref()
        .or(detail.patches.first())
        .and_then(|m| raws.get(&m.mail));
    let tags = head
        .map(|raw| gauntlet_mail::parse(raw, &options).prefixes)
        .unwrap_or_default();
    let mut paths = Vec::new();
    for p in &detail.patches {
        let Some(raw) = raws.get(&p.mail) else {
            continue;
        };
        let mail = gauntlet_mail::parse(raw, &options);
        for line in mail.content.diff.as_deref().unwrap_or("").lines() {
            // `diff --git a/OLD b/NEW`, or a plain diff's `+++ b/NEW`.
            let path = line
                .strip_prefix("diff --git ")
                .and_then(|rest| rest.rsplit_once(" b/").map(|(_, new)| new))
                .or_else(|| line.strip_prefix("+++ b/"));
            if let Some(path) = path
                && !paths.iter().any(|known: &String| known == path)
            {
                paths.push(path.to_owned());
            }
        }
    }
    Ok((tags, paths))
}

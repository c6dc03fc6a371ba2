//! Polling the sources: each poll stores what is new (ingest is idempotent: a mail stored twice
//! changes nothing) and then moves the source's cursor in the store, so that a crash between
//! the two reads a little again and loses nothing.

use std::path::Path;
use std::sync::Arc;

use gauntlet_ingest::public_inbox::{Archive, ArchiveOptions, Cursors, Source as Inbox};
use gauntlet_patchwork::{Category, Client, Cursor};
use gauntlet_store::{NewPatchState, PatchState, SetBy, Store, unix_now};

use crate::Error;
use crate::config::{Source, SourceKind};

/// One source, ready to poll.
pub struct Poller {
    pub source: Source,
    kind: Kind,
}

enum Kind {
    Patchwork {
        client: Arc<Client>,
        project: String,
    },
    PublicInbox(Archive),
    Maildir(std::path::PathBuf),
}

impl Poller {
    /// A poller for `source`; Patchwork's client is shared with the reporter.
    pub fn new(source: Source, patchwork: Option<Arc<Client>>) -> Result<Poller, Error> {
        let kind = match &source.kind {
            SourceKind::Patchwork { project, .. } => Kind::Patchwork {
                client: patchwork.ok_or_else(|| {
                    Error::Config(format!("source {}: no Patchwork client", source.name).into())
                })?,
                project: project.clone(),
            },
            SourceKind::PublicInbox { url, mirror } => {
                let inbox = if url.contains("://") {
                    Inbox::Remote(url.clone())
                } else {
                    Inbox::Local(url.into())
                };
                Kind::PublicInbox(Archive::new(inbox, mirror, ArchiveOptions::default()))
            }
            SourceKind::Maildir { path } => Kind::Maildir(path.clone()),
        };
        Ok(Poller { source, kind })
    }

    /// Polls once; returns the mails read.
    pub async fn poll(&self, store: &Store) -> Result<usize, Error> {
        let name = &self.source.name;
        let result = match &self.kind {
            Kind::Patchwork { client, project } => {
                poll_patchwork(store, name, client, project).await
            }
            Kind::PublicInbox(archive) => poll_inbox(store, name, archive).await,
            Kind::Maildir(dir) => poll_maildir(store, name, dir).await,
        };
        match &result {
            Ok(n) => tracing::debug!(source = %name, mails = n, "polled"),
            Err(e) => {
                tracing::warn!(source = %name, "poll failed: {e}");
                store
                    .source_failed(name, &e.to_string(), unix_now())
                    .await?;
            }
        }
        result
    }
}

async fn cursor_of<T: for<'de> serde::Deserialize<'de>>(
    store: &Store,
    name: &str,
) -> Result<Option<T>, Error> {
    Ok(store
        .source_state(name)
        .await?
        .and_then(|s| s.cursor)
        .and_then(|c| serde_json::from_str(&c).ok()))
}

async fn poll_patchwork(
    store: &Store,
    name: &str,
    client: &Client,
    project: &str,
) -> Result<usize, Error> {
    let mut cursor: Cursor = cursor_of(store, name)
        .await?
        .unwrap_or_else(Cursor::from_start);
    let mut mails = 0;
    loop {
        let batch = client
            .events(
                Some(project),
                &[Category::SeriesCompleted, Category::PatchStateChanged],
                &cursor,
            )
            .await?;
        for event in &batch.events {
            if event.category == Category::PatchStateChanged {
                record_human_state(store, project, event).await?;
                continue;
            }
            let Some(series) = &event.payload.series else {
                continue;
            };
            let mbox = client.series_mbox(series.id).await?;
            let mut raw: Vec<Vec<u8>> =
                gauntlet_mbox::split(&mbox, gauntlet_mbox::Options::default())
                    .into_iter()
                    .map(|m| m.bytes)
                    .collect();
            // Patchwork's series mbox has the patches only: the cover letter comes apart.
            if let Some(cover) = client.series(series.id).await?.cover_letter {
                let mbox = client.cover_mbox(&cover).await?;
                raw.extend(
                    gauntlet_mbox::split(&mbox, gauntlet_mbox::Options::default())
                        .into_iter()
                        .map(|m| m.bytes),
                );
            }
            mails += raw.len();
            gauntlet_ingest::ingest_bytes(store, &raw, &gauntlet_ingest::Options::default())
                .await?;
            tracing::info!(
                source = name,
                series = series.id,
                mails = raw.len(),
                "Patchwork series read"
            );
        }
        cursor = batch.cursor;
        let text = serde_json::to_string(&cursor).unwrap_or_default();
        store.source_polled(name, Some(&text), unix_now()).await?;
        if batch.complete {
            break;
        }
    }
    Ok(mails)
}

/// A state a person set on Patchwork is recorded as theirs, so that gauntlet never overrides
/// it; the echo of gauntlet's own change (the same state it last set) is not.
async fn record_human_state(
    store: &Store,
    project: &str,
    event: &gauntlet_patchwork::Event,
) -> Result<(), Error> {
    let (Some(actor), Some(patch), Some(slug)) = (
        &event.actor,
        &event.payload.patch,
        event.payload.current_state.as_deref(),
    ) else {
        return Ok(());
    };
    let Some(state) = PatchState::parse(slug) else {
        return Ok(());
    };
    let msgid = patch.msgid.trim().to_owned();
    if let Some(last) = store.patch_state(&msgid).await?
        && last.change.set_by == SetBy::Gauntlet
        && last.change.state == state
    {
        return Ok(());
    }
    let Some(&series) = store
        .series_of_msgids(std::slice::from_ref(&msgid))
        .await?
        .first()
    else {
        return Ok(());
    };
    let revision = store
        .series_detail(series)
        .await?
        .map_or(1, |d| d.summary.revision);
    let change = NewPatchState {
        patch: msgid,
        series,
        revision,
        project: project.to_owned(),
        state,
        set_by: SetBy::Patchwork(actor.username.clone()),
        reason: Some(format!("set on Patchwork by {}", actor.username)),
    };
    store.set_patch_state(&change, unix_now()).await?;
    tracing::info!(patch = %change.patch, %state, by = %actor.username, "a person set a state");
    Ok(())
}

async fn poll_inbox(store: &Store, name: &str, archive: &Archive) -> Result<usize, Error> {
    let mut cursors: Cursors = cursor_of(store, name).await?.unwrap_or_default();
    let summary = archive
        .poll(store, &mut cursors, &gauntlet_ingest::Options::default())
        .await?;
    let text = serde_json::to_string(&cursors).unwrap_or_default();
    store.source_polled(name, Some(&text), unix_now()).await?;
    Ok(usize::try_from(summary.total()).unwrap_or(usize::MAX))
}

/// A maildir's `new/` mails are stored, then moved to `cur/` (marked seen), the maildir way.
async fn poll_maildir(store: &Store, name: &str, dir: &Path) -> Result<usize, Error> {
    let new = dir.join("new");
    let cur = dir.join("cur");
    let io = |what: String| {
        move |e: std::io::Error| Error::Io {
            context: what,
            source: e,
        }
    };
    std::fs::create_dir_all(&cur).map_err(io(format!("creating {}", cur.display())))?;
    let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(&new) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(format!("reading {}", new.display()))(e)),
    };
    files.sort();
    let mut raw = Vec::with_capacity(files.len());
    for file in &files {
        raw.push(std::fs::read(file).map_err(io(format!("reading {}", file.display())))?);
    }
    if !raw.is_empty() {
        gauntlet_ingest::ingest_bytes(store, &raw, &gauntlet_ingest::Options::default()).await?;
    }
    for file in &files {
        if let Some(base) = file.file_name() {
            let mut seen = base.to_os_string();
            if !seen.to_string_lossy().contains(":2,") {
                seen.push(":2,S");
            }
            std::fs::rename(file, cur.join(seen))
                .map_err(io(format!("moving {} to cur/", file.display())))?;
        }
    }
    store.source_polled(name, None, unix_now()).await?;
    Ok(files.len())
}

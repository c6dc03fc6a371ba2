//! Mails in, series out: reads mailboxes, parses every mail, groups them with the series engine
//! and stores them, in batches.
//!
//! * **Streaming.** A reader thread cuts and parses mails while the previous batch is being
//!   grouped and written; at most two batches are in memory, whatever the size of the archive.
//! * **Exactly once.** A mail is identified by the SHA-256 of its bytes: a mail already stored is
//!   skipped, so ingesting the same archive twice changes nothing. A batch is one transaction:
//!   after a crash, a re-run picks up exactly the mails that were not stored.
//! * **Nothing lost.** Every mail is stored raw, whatever it turned out to be (a patch, a comment,
//!   a mail Patchwork would drop or refuse), with the reason when it was not kept as a message.

pub mod public_inbox;

use std::collections::HashSet;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use gauntlet_mail::{Mail, ParseOptions};
use gauntlet_mbox::{Mails, Origin, RawMail};
use gauntlet_series::{Id, Incoming, Outcome, Tally, Tracker, prefetch_keys};
use gauntlet_store::{NewMail, Store};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] gauntlet_store::Error),
    #[error(transparent)]
    Read(#[from] gauntlet_mbox::Error),
    #[error("the mail reader stopped unexpectedly")]
    ReaderGone,
    /// A public-inbox archive could not be fetched or read.
    #[error(transparent)]
    PublicInbox(#[from] public_inbox::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to ingest.
#[derive(Debug, Clone)]
pub struct Options {
    /// File every mail under this list, whatever its headers say (`--list-id`).
    pub list_id: Option<String>,
    /// Mails per batch (one transaction).
    pub batch_mails: usize,
    /// Raw bytes per batch.
    pub batch_bytes: usize,
    pub parse: ParseOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            list_id: None,
            batch_mails: 1000,
            batch_bytes: 32 << 20,
            parse: ParseOptions::default(),
        }
    }
}

/// What an ingestion did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Outcomes of the mails that were new.
    pub tally: Tally,
    /// Mails skipped because the very same bytes were already stored.
    pub already_stored: u64,
    /// Mails cut at the size limit (stored truncated, as errors).
    pub truncated: u64,
    pub seconds: f64,
}

impl Summary {
    /// Mails read.
    pub fn total(&self) -> u64 {
        self.tally.total() + self.already_stored
    }

    /// One line, like Patchwork's `parsearchive` report.
    pub fn line(&self) -> String {
        let t = &self.tally;
        let mut s = format!(
            "Processed {} mails: {} patches, {} cover letters, {} comments, {} duplicates, {} dropped, {} errors",
            self.total(),
            t.patches,
            t.covers,
            t.comments,
            t.duplicates,
            t.dropped,
            t.errors
        );
        if self.already_stored > 0 {
            s.push_str(&format!(", {} already stored", self.already_stored));
        }
        s.push_str(&format!(" ({:.2} s)", self.seconds));
        s
    }
}

/// What became of one mail of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailResult {
    /// The stored mail; `None` when the very same bytes were already stored.
    pub mail: Option<Id>,
    /// `None` when the mail was already stored.
    pub outcome: Option<Outcome>,
}

/// A mail read and parsed, waiting for its batch.
pub struct Parsed {
    pub origin: Origin,
    pub raw: RawMail,
    pub mail: Mail,
}

/// Parses one raw mail.
pub fn parse(origin: Origin, raw: RawMail, options: &ParseOptions) -> Parsed {
    let mail = gauntlet_mail::parse(&raw.bytes, options);
    Parsed { origin, raw, mail }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn list_name(p: &Parsed, options: &Options) -> String {
    options
        .list_id
        .clone()
        .or_else(|| p.mail.list_id.clone())
        .unwrap_or_default()
}

/// A mail cut at the size limit is not grouped: it is kept, as an error.
fn truncated_outcome(kept: usize) -> Outcome {
    Outcome::Error(format!(
        "mail larger than the size limit: stored truncated ({kept} bytes kept)"
    ))
}

/// Groups and stores one batch of parsed mails in one transaction.
pub async fn ingest_batch(
    store: &Store,
    batch: Vec<Parsed>,
    options: &Options,
) -> Result<(Vec<MailResult>, Summary)> {
    let started = Instant::now();
    let received_at = now();
    let mut tx = store.begin_ingest().await?;
    let shas: Vec<String> = batch.iter().map(|p| p.mail.sha256.clone()).collect();
    let known = tx.known(&shas).await?;
    let names: Vec<String> = batch.iter().map(|p| list_name(p, options)).collect();
    let lists = tx.lists(&names, received_at).await?;

    let mut summary = Summary::default();
    let mut results = vec![
        MailResult {
            mail: None,
            outcome: None
        };
        batch.len()
    ];
    // The mails to process: new ones, first occurrence only.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut todo: Vec<(usize, Id, Id)> = Vec::new();
    for (i, p) in batch.iter().enumerate() {
        let sha = p.mail.sha256.as_str();
        if known.contains(sha) || !seen.insert(sha) {
            summary.already_stored += 1;
            continue;
        }
        let list = lists.get(&names[i]).copied().unwrap_or_default();
        todo.push((i, tx.allocate_mail_id(), list));
    }

    let incoming: Vec<Incoming<'_>> = todo
        .iter()
        .map(|&(i, mail_id, list)| Incoming {
            mail: &batch[i].mail,
            mail_id,
            list,
            received_at,
        })
        .collect();
    let keys = prefetch_keys(&incoming);
    let t_load = Instant::now();
    let mut index = tx.load_index(&keys).await?;
    let load = t_load.elapsed();
    let t_group = Instant::now();
    let mut outcomes = Vec::with_capacity(incoming.len());
    {
        let mut tracker = Tracker::new(&mut index);
        for (inc, &(i, _, _)) in incoming.iter().zip(&todo) {
            let outcome = if batch[i].raw.truncated {
                truncated_outcome(batch[i].raw.bytes.len())
            } else {
                tracker.ingest(*inc)
            };
            outcomes.push(outcome);
        }
    }
    drop(incoming);
    let group = t_group.elapsed();
    let mut new_mails = Vec::with_capacity(todo.len());
    for (&(i, mail_id, list), outcome) in todo.iter().zip(&outcomes) {
        summary.tally.add(outcome);
        if batch[i].raw.truncated {
            summary.truncated += 1;
        }
        results[i] = MailResult {
            mail: Some(mail_id),
            outcome: Some(outcome.clone()),
        };
        let p = &batch[i];
        new_mails.push(NewMail {
            id: mail_id,
            sha256: p.mail.sha256.clone(),
            raw: Vec::new(),
            envelope: p
                .raw
                .envelope
                .as_ref()
                .map(|e| String::from_utf8_lossy(e).into_owned()),
            origin: p.origin.to_string(),
            list,
            msgid: p.mail.message_id.clone(),
            received_at,
            outcome: outcome.kind().to_string(),
            reason: outcome.reason(),
            truncated: p.raw.truncated,
        });
    }
    // Move the raw bytes in last (no copy).
    let mut batch = batch;
    for (m, &(i, _, _)) in new_mails.iter_mut().zip(&todo) {
        m.raw = std::mem::take(&mut batch[i].raw.bytes);
    }
    let t_save = Instant::now();
    tx.save_mails(new_mails).await?;
    let save_mails = t_save.elapsed();
    let t_save = Instant::now();
    tx.save_changes(index.take_changes()).await?;
    let save_changes = t_save.elapsed();
    let t_commit = Instant::now();
    tx.commit().await?;
    summary.seconds = started.elapsed().as_secs_f64();
    tracing::debug!(
        mails = todo.len(),
        ?load,
        ?group,
        ?save_mails,
        ?save_changes,
        commit = ?t_commit.elapsed(),
        total = ?started.elapsed(),
        "batch stored"
    );
    Ok((results, summary))
}

/// Reads, parses and stores every mail of `mails`. `progress` is called after each batch with
/// the number of mails and bytes read so far.
pub async fn ingest(
    store: &Store,
    mails: Mails,
    options: &Options,
    mut progress: impl FnMut(u64, u64),
) -> Result<Summary> {
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<(Vec<Parsed>, u64)>>(1);
    let parse_options = options.parse.clone();
    let (batch_mails, batch_bytes) = (options.batch_mails.max(1), options.batch_bytes.max(1));
    let reader = std::thread::spawn(move || {
        let mut mails = mails;
        let mut batch = Vec::new();
        let mut bytes = 0;
        loop {
            match mails.next() {
                Some(Ok((origin, raw))) => {
                    bytes += raw.bytes.len();
                    batch.push(parse(origin, raw, &parse_options));
                    if batch.len() >= batch_mails || bytes >= batch_bytes {
                        let full = std::mem::take(&mut batch);
                        bytes = 0;
                        if tx.blocking_send(Ok((full, mails.position()))).is_err() {
                            return;
                        }
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.blocking_send(Err(e.into()));
                    return;
                }
                None => break,
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok((batch, mails.position())));
        }
    });
    let mut summary = Summary::default();
    let mut read = 0u64;
    while let Some(item) = rx.recv().await {
        let (batch, position) = item?;
        read += batch.len() as u64;
        let (_, s) = ingest_batch(store, batch, options).await?;
        summary.tally.merge(&s.tally);
        summary.already_stored += s.already_stored;
        summary.truncated += s.truncated;
        progress(read, position);
    }
    reader.join().map_err(|_| Error::ReaderGone)?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Rebuilds everything derived from the raw mails: series, messages, people, outcomes. The mails
/// are processed again in their arrival order, with the dates they were received at.
pub async fn reindex(
    store: &Store,
    options: &Options,
    mut progress: impl FnMut(u64),
) -> Result<Summary> {
    let started = Instant::now();
    store.reset_derived().await?;
    let mut summary = Summary::default();
    let mut after = 0;
    let mut done = 0u64;
    loop {
        let page = store
            .mails_page(
                after,
                i64::try_from(options.batch_mails.max(1)).unwrap_or(1000),
            )
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let parsed: Vec<(Id, Id, i64, Mail)> = page
            .iter()
            .map(|m| {
                (
                    m.id,
                    m.list,
                    m.received_at,
                    gauntlet_mail::parse(&m.raw, &options.parse),
                )
            })
            .collect();
        let mut tx = store.begin_ingest().await?;
        let incoming: Vec<Incoming<'_>> = parsed
            .iter()
            .map(|(id, list, received_at, mail)| Incoming {
                mail,
                mail_id: *id,
                list: *list,
                received_at: *received_at,
            })
            .collect();
        let mut index = tx.load_index(&prefetch_keys(&incoming)).await?;
        let mut updates = Vec::with_capacity(incoming.len());
        {
            let mut tracker = Tracker::new(&mut index);
            for (inc, row) in incoming.iter().zip(&page) {
                let outcome = if row.truncated {
                    truncated_outcome(row.raw.len())
                } else {
                    tracker.ingest(*inc)
                };
                summary.tally.add(&outcome);
                updates.push((row.id, outcome.kind().to_string(), outcome.reason()));
            }
        }
        tx.set_outcomes(updates).await?;
        tx.save_changes(index.take_changes()).await?;
        tx.commit().await?;
        done += page.len() as u64;
        progress(done);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Parses and stores mails given in memory (tests, the conformance runner, small inputs), in
/// batches of `options.batch_mails`. One result per mail, in order.
pub async fn ingest_bytes(
    store: &Store,
    mails: &[Vec<u8>],
    options: &Options,
) -> Result<(Vec<MailResult>, Summary)> {
    let mut results = Vec::with_capacity(mails.len());
    let mut summary = Summary::default();
    for chunk in mails.chunks(options.batch_mails.max(1)) {
        let batch: Vec<Parsed> = chunk
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                parse(
                    Origin {
                        file: "<memory>".to_string(),
                        offset: i as u64,
                    },
                    RawMail {
                        bytes: bytes.clone(),
                        envelope: None,
                        offset: 0,
                        truncated: false,
                    },
                    &options.parse,
                )
            })
            .collect();
        let (r, s) = ingest_batch(store, batch, options).await?;
        results.extend(r);
        summary.tally.merge(&s.tally);
        summary.already_stored += s.already_stored;
    }
    Ok((results, summary))
}

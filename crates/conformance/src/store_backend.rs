//! The real path: mails ingested into a fresh SQLite or PostgreSQL database by
//! `gauntlet-ingest`, results read back from the store.

use gauntlet_ingest::Options;
use gauntlet_store::testing::TestDb;
use gauntlet_store::{SeriesFilter, Store};

use crate::{Backend, Error, Observed, ObservedMessage, ObservedSeries};

/// Ingests through the store, `batch` mails per transaction.
pub struct StoreBackend {
    runtime: tokio::runtime::Runtime,
    /// `None`: SQLite; `Some(url)`: a PostgreSQL server to create databases on.
    postgres: Option<String>,
    batch: usize,
}

impl StoreBackend {
    pub fn sqlite(batch: usize) -> Result<StoreBackend, Error> {
        Ok(StoreBackend {
            runtime: runtime()?,
            postgres: None,
            batch,
        })
    }

    pub fn postgres(base_url: &str, batch: usize) -> Result<StoreBackend, Error> {
        Ok(StoreBackend {
            runtime: runtime()?,
            postgres: Some(base_url.to_string()),
            batch,
        })
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

async fn observe(
    store: &Store,
    mails: &[Vec<u8>],
    list_id: &str,
    batch: usize,
) -> Result<Observed, Error> {
    let options = Options {
        batch_mails: batch,
        list_id: Some(list_id.to_string()),
        ..Options::default()
    };
    let (results, _) = gauntlet_ingest::ingest_bytes(store, mails, &options).await?;
    let ids: Vec<i64> = results.iter().filter_map(|r| r.mail).collect();
    let rows = store.messages_of_mails(&ids).await?;
    let parent_ids: Vec<i64> = rows.values().filter_map(|m| m.parent).collect();
    let parents = store.messages_by_id(&parent_ids).await?;
    let people_ids: Vec<i64> = rows.values().map(|m| m.submitter).collect();
    let people = store.people(&people_ids).await?;
    let mut messages = Vec::with_capacity(mails.len());
    for (raw, r) in mails.iter().zip(&results) {
        // Parsed again for its Message-ID as the parser sees it (synthesized or not).
        let parsed = gauntlet_mail::parse(raw, &gauntlet_mail::ParseOptions::default());
        let row = r.mail.and_then(|id| rows.get(&id));
        let parent = row.and_then(|m| m.parent).and_then(|p| parents.get(&p));
        let submitter = row
            .and_then(|m| people.get(&m.submitter))
            .map(|p| (p.name.clone(), p.email.clone()));
        messages.push(ObservedMessage::new(
            &parsed,
            r.outcome.as_ref(),
            row,
            parent,
            submitter,
        ));
    }
    let mut series = Vec::new();
    for s in store.series_list(&SeriesFilter::default()).await? {
        let Some(d) = store.series_detail(s.id).await? else {
            continue;
        };
        series.push(ObservedSeries {
            id: s.id,
            name: s.name.clone(),
            version: s.version,
            total: s.total,
            received_total: s.received,
            received_all: s.received >= s.total,
            cover: d.cover.map(|c| (c.msgid, c.name)),
            patches: d
                .patches
                .into_iter()
                .map(|p| (p.number.unwrap_or(0), p.name, p.msgid))
                .collect(),
        });
    }
    Ok(Observed { messages, series })
}

impl Backend for StoreBackend {
    fn name(&self) -> String {
        let db = if self.postgres.is_some() {
            "postgres"
        } else {
            "sqlite"
        };
        format!("{db}, batches of {}", self.batch)
    }

    fn run(&mut self, mails: &[Vec<u8>], list_id: &str) -> Result<Observed, Error> {
        let list_id = list_id.to_string();
        let postgres = self.postgres.clone();
        let batch = self.batch;
        self.runtime.block_on(async move {
            let db = match &postgres {
                Some(base) => TestDb::postgres(base).await?,
                None => TestDb::sqlite(),
            };
            let store = Store::open(&db.url).await?;
            let result = observe(&store, mails, &list_id, batch).await;
            store.close().await;
            db.cleanup().await?;
            result
        })
    }
}

//! One ingestion batch: a transaction that holds the ingest lock, reads what the grouping engine
//! needs for the batch into an [`Index`], and writes back the mails and what the engine changed.
//! Row ids are given out here, under the lock, so that the engine can refer to rows it creates
//! before they are written.

use std::collections::{BTreeSet, HashMap, HashSet};

use gauntlet_series::{Changes, Id, Index, Keys, Kind, MessageRow, PersonRow, SeriesRow};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::sql::{V, insert_rows, placeholders, select_in};
use crate::{Backend, Error, Result, Store};

/// An arbitrary constant naming gauntlet's ingest lock on PostgreSQL.
const INGEST_LOCK: i64 = 0x6761_756e_746c_6574;

/// A raw mail to store, with what became of it.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub id: Id,
    pub sha256: String,
    pub raw: Vec<u8>,
    pub envelope: Option<String>,
    pub origin: String,
    pub list: Id,
    pub msgid: String,
    pub received_at: i64,
    pub outcome: String,
    pub reason: Option<String>,
    pub truncated: bool,
}

/// An open ingestion batch (see the module documentation).
pub struct IngestTx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    next_mail: Id,
}

pub(crate) const MESSAGE_COLUMNS: &str =
    "id, mail, list, kind, msgid, name, date, submitter, series, number, parent, hash, pull_url";
pub(crate) const SERIES_COLUMNS: &str =
    "id, list, name, version, total, date, submitter, cover, received, complete, topic, lineage";

fn u32_of(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Corrupt(format!("{what} out of range: {v}")))
}

pub(crate) fn message_from_row(r: &AnyRow) -> Result<MessageRow> {
    let kind: String = r.try_get(3)?;
    let kind =
        Kind::parse(&kind).ok_or_else(|| Error::Corrupt(format!("message kind {kind:?}")))?;
    let number: Option<i64> = r.try_get(9)?;
    Ok(MessageRow {
        id: r.try_get(0)?,
        mail: r.try_get(1)?,
        list: r.try_get(2)?,
        kind,
        msgid: r.try_get(4)?,
        name: r.try_get(5)?,
        date: r.try_get(6)?,
        submitter: r.try_get(7)?,
        series: r.try_get(8)?,
        number: number.map(|n| u32_of(n, "patch number")).transpose()?,
        parent: r.try_get(10)?,
        hash: r.try_get(11)?,
        pull_url: r.try_get(12)?,
    })
}

/// A series row without its patches (filled in by the caller).
pub(crate) fn series_from_row(r: &AnyRow) -> Result<SeriesRow> {
    Ok(SeriesRow {
        id: r.try_get(0)?,
        list: r.try_get(1)?,
        name: r.try_get(2)?,
        version: u32_of(r.try_get(3)?, "version")?,
        total: u32_of(r.try_get(4)?, "total")?,
        date: r.try_get(5)?,
        submitter: r.try_get(6)?,
        cover: r.try_get(7)?,
        patches: Vec::new(),
        topic: r.try_get(10)?,
        lineage: r.try_get(11)?,
    })
}

impl IngestTx {
    pub(crate) async fn begin(store: &Store) -> Result<IngestTx> {
        let mut tx = match store.backend {
            Backend::Sqlite => store.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = store.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(INGEST_LOCK)
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        let max: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM mails")
            .fetch_one(&mut *tx)
            .await?;
        Ok(IngestTx {
            tx,
            backend: store.backend,
            next_mail: max + 1,
        })
    }

    /// The next free mail id.
    pub fn allocate_mail_id(&mut self) -> Id {
        let id = self.next_mail;
        self.next_mail += 1;
        id
    }

    /// Which of these raw mails (by SHA-256) are already stored.
    pub async fn known(&mut self, shas: &[String]) -> Result<HashSet<String>> {
        let values = shas.iter().cloned().map(V::T).collect();
        let rows = select_in(
            &mut self.tx,
            self.backend,
            "SELECT sha256 FROM mails WHERE sha256 IN ({in})",
            &[],
            values,
        )
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(Error::from))
            .collect()
    }

    /// The ids of these lists (List-Ids), created as needed.
    pub async fn lists(&mut self, names: &[String], now: i64) -> Result<HashMap<String, Id>> {
        let wanted: BTreeSet<&String> = names.iter().collect();
        let values = wanted.iter().map(|n| V::T((*n).clone())).collect();
        let rows = select_in(
            &mut self.tx,
            self.backend,
            "SELECT id, list_id FROM lists WHERE list_id IN ({in})",
            &[],
            values,
        )
        .await?;
        let mut out = HashMap::new();
        for r in &rows {
            out.insert(r.try_get::<String, _>(1)?, r.try_get::<i64, _>(0)?);
        }
        let missing: Vec<&String> = wanted
            .into_iter()
            .filter(|n| !out.contains_key(*n))
            .collect();
        if !missing.is_empty() {
            let max: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM lists")
                .fetch_one(&mut *self.tx)
                .await?;
            let mut rows = Vec::new();
            for (i, name) in missing.into_iter().enumerate() {
                let id = max + 1 + i as i64;
                out.insert(name.clone(), id);
                rows.push(vec![V::I(id), V::T(name.clone()), V::I(now)]);
            }
            insert_rows(
                &mut self.tx,
                self.backend,
                "lists",
                &["id", "list_id", "created_at"],
                rows,
                "",
            )
            .await?;
        }
        Ok(out)
    }

    /// An index holding everything the engine may look up for a batch with these keys.
    pub async fn load_index(&mut self, keys: &Keys) -> Result<Index> {
        let row = sqlx::query(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM people), \
                    (SELECT COALESCE(MAX(id), 0) FROM messages), \
                    (SELECT COALESCE(MAX(id), 0) FROM series)",
        )
        .fetch_one(&mut *self.tx)
        .await?;
        let mut index = Index::new(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);

        // People of the batch.
        let emails = keys.emails.iter().cloned().map(V::T).collect();
        let mut person_ids = Vec::new();
        for r in select_in(
            &mut self.tx,
            self.backend,
            "SELECT id, email, name FROM people WHERE email_key IN ({in})",
            &[],
            emails,
        )
        .await?
        {
            let p = PersonRow {
                id: r.try_get(0)?,
                email: r.try_get(1)?,
                name: r.try_get(2)?,
            };
            person_ids.push(p.id);
            index.load_person(p);
        }

        // Messages and references by Message-ID.
        let msgids: BTreeSet<&String> = keys.msgids.iter().map(|(_, m)| m).collect();
        let msgid_values: Vec<V> = msgids.iter().map(|m| V::T((*m).clone())).collect();
        let mut series_ids: BTreeSet<Id> = BTreeSet::new();
        let mut messages = Vec::new();
        for r in select_in(
            &mut self.tx,
            self.backend,
            &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE msgid IN ({{in}})"),
            &[],
            msgid_values.clone(),
        )
        .await?
        {
            let m = message_from_row(&r)?;
            if keys.msgids.contains(&(m.list, m.msgid.clone())) {
                messages.push(m);
            }
        }
        let loaded: HashSet<Id> = messages.iter().map(|m| m.id).collect();
        let parents: Vec<V> = messages
            .iter()
            .filter_map(|m| m.parent)
            .filter(|p| !loaded.contains(p))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(V::I)
            .collect();
        for r in select_in(
            &mut self.tx,
            self.backend,
            &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN ({{in}})"),
            &[],
            parents,
        )
        .await?
        {
            messages.push(message_from_row(&r)?);
        }
        for m in messages {
            series_ids.extend(m.series);
            index.load_message(m);
        }
        for r in select_in(
            &mut self.tx,
            self.backend,
            "SELECT list, msgid, series FROM series_refs WHERE msgid IN ({in})",
            &[],
            msgid_values,
        )
        .await?
        {
            let (list, msgid, series): (Id, String, Id) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            if keys.msgids.contains(&(list, msgid.clone())) {
                series_ids.insert(series);
                index.load_ref(list, msgid, series);
            }
        }

        // Series the batch may join by markers or by topic.
        let mut series_rows: HashMap<Id, SeriesRow> = HashMap::new();
        if let Some((lo, hi)) = keys.date_span
            && !person_ids.is_empty()
        {
            for r in select_in(
            &mut self.tx,
            self.backend,
                &format!(
                    "SELECT {SERIES_COLUMNS} FROM series WHERE date >= $1 AND date <= $2 AND submitter IN ({{in}})"
                ),
                &[V::I(lo), V::I(hi)],
                person_ids.iter().copied().map(V::I).collect(),
            )
            .await?
            {
                let s = series_from_row(&r)?;
                series_rows.insert(s.id, s);
            }
        }
        let topics: BTreeSet<&String> = keys.topics.iter().map(|(_, t)| t).collect();
        if !person_ids.is_empty() {
            let persons: HashSet<Id> = person_ids.iter().copied().collect();
            for r in select_in(
                &mut self.tx,
                self.backend,
                &format!("SELECT {SERIES_COLUMNS} FROM series WHERE topic IN ({{in}})"),
                &[],
                topics.iter().map(|t| V::T((*t).clone())).collect(),
            )
            .await?
            {
                let s = series_from_row(&r)?;
                if persons.contains(&s.submitter) {
                    series_rows.insert(s.id, s);
                }
            }
        }
        let missing: Vec<V> = series_ids
            .iter()
            .filter(|id| !series_rows.contains_key(id))
            .map(|&id| V::I(id))
            .collect();
        for r in select_in(
            &mut self.tx,
            self.backend,
            &format!("SELECT {SERIES_COLUMNS} FROM series WHERE id IN ({{in}})"),
            &[],
            missing,
        )
        .await?
        {
            let s = series_from_row(&r)?;
            series_rows.insert(s.id, s);
        }
        // Their patches (numbers, and the name of patch 1 for cover letter naming).
        let ids: Vec<V> = series_rows.keys().copied().map(V::I).collect();
        for r in select_in(
            &mut self.tx,
            self.backend,
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE kind = 'patch' AND series IN ({{in}})"
            ),
            &[],
            ids,
        )
        .await?
        {
            let m = message_from_row(&r)?;
            if let (Some(s), Some(n)) = (m.series.and_then(|s| series_rows.get_mut(&s)), m.number) {
                s.patches.push((n, m.id));
            }
            index.load_message(m);
        }
        for (_, mut s) in series_rows {
            s.patches.sort_unstable();
            index.load_series(s);
        }

        // Cover letters by name.
        let names: BTreeSet<&String> = keys.cover_names.iter().map(|(_, n)| n).collect();
        for r in select_in(
            &mut self.tx,
            self.backend,
            "SELECT id, list, name FROM messages WHERE kind = 'cover' AND name IN ({in})",
            &[],
            names.iter().map(|n| V::T((*n).clone())).collect(),
        )
        .await?
        {
            let (id, list, name): (Id, Id, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            index.load_cover_name(list, name, id);
        }
        Ok(index)
    }

    /// Stores new raw mails.
    pub async fn save_mails(&mut self, mails: Vec<NewMail>) -> Result<()> {
        let rows = mails
            .into_iter()
            .map(|m| {
                vec![
                    V::I(m.id),
                    V::T(m.sha256),
                    V::B(m.raw),
                    V::NT(m.envelope),
                    V::T(m.origin),
                    V::I(m.list),
                    V::T(m.msgid),
                    V::I(m.received_at),
                    V::T(m.outcome),
                    V::NT(m.reason),
                    V::I(i64::from(m.truncated)),
                ]
            })
            .collect();
        insert_rows(
            &mut self.tx,
            self.backend,
            "mails",
            &[
                "id",
                "sha256",
                "raw",
                "envelope",
                "origin",
                "list",
                "msgid",
                "received_at",
                "outcome",
                "reason",
                "truncated",
            ],
            rows,
            "",
        )
        .await
    }

    /// Records what became of mails already stored (re-indexing).
    pub async fn set_outcomes(
        &mut self,
        outcomes: Vec<(Id, String, Option<String>)>,
    ) -> Result<()> {
        for chunk in outcomes.chunks(5_000) {
            let mut sql = String::from("WITH v (id, outcome, reason) AS (VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                sql.push_str(&placeholders(self.backend, i * 3 + 1, 3));
                sql.push(')');
            }
            sql.push_str(
                ") UPDATE mails SET outcome = v.outcome, reason = v.reason FROM v WHERE mails.id = v.id",
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
            for (id, outcome, reason) in chunk {
                q = q.bind(*id).bind(outcome.clone()).bind(reason.clone());
            }
            q.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Writes what the engine created or changed.
    pub async fn save_changes(&mut self, c: Changes) -> Result<()> {
        let people = c
            .people
            .into_iter()
            .map(|p| {
                let key = p.email.to_lowercase();
                vec![V::I(p.id), V::T(p.email), V::T(key), V::NT(p.name)]
            })
            .collect();
        insert_rows(
            &mut self.tx,
            self.backend,
            "people",
            &["id", "email", "email_key", "name"],
            people,
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )
        .await?;
        let series = c
            .series
            .into_iter()
            .map(|s| {
                let complete = s.complete();
                vec![
                    V::I(s.id),
                    V::I(s.list),
                    V::NT(s.name),
                    V::I(i64::from(s.version)),
                    V::I(i64::from(s.total)),
                    V::I(s.date),
                    V::I(s.submitter),
                    V::NI(s.cover),
                    V::I(s.patches.len() as i64),
                    V::I(i64::from(complete)),
                    V::NT(s.topic),
                    V::I(s.lineage),
                ]
            })
            .collect();
        insert_rows(
            &mut self.tx,
            self.backend,
            "series",
            &[
                "id",
                "list",
                "name",
                "version",
                "total",
                "date",
                "submitter",
                "cover",
                "received",
                "complete",
                "topic",
                "lineage",
            ],
            series,
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, cover = excluded.cover, \
             received = excluded.received, complete = excluded.complete, topic = excluded.topic, \
             lineage = excluded.lineage",
        )
        .await?;
        let messages = c
            .messages
            .into_iter()
            .map(|m| {
                vec![
                    V::I(m.id),
                    V::I(m.mail),
                    V::I(m.list),
                    V::T(m.kind.as_str().to_string()),
                    V::T(m.msgid),
                    V::T(m.name),
                    V::I(m.date),
                    V::I(m.submitter),
                    V::NI(m.series),
                    V::NI(m.number.map(i64::from)),
                    V::NI(m.parent),
                    V::NT(m.hash),
                    V::NT(m.pull_url),
                ]
            })
            .collect();
        insert_rows(
            &mut self.tx,
            self.backend,
            "messages",
            &[
                "id",
                "mail",
                "list",
                "kind",
                "msgid",
                "name",
                "date",
                "submitter",
                "series",
                "number",
                "parent",
                "hash",
                "pull_url",
            ],
            messages,
            "",
        )
        .await?;
        let refs = c
            .refs
            .into_iter()
            .map(|(list, msgid, series)| vec![V::I(list), V::T(msgid), V::I(series)])
            .collect();
        insert_rows(
            &mut self.tx,
            self.backend,
            "series_refs",
            &["list", "msgid", "series"],
            refs,
            "ON CONFLICT (list, msgid) DO NOTHING",
        )
        .await
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

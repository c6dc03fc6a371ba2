//! Reading what was ingested: series with their revisions, the messages of a series, the export
//! shape, raw mails (for re-indexing), counts.

use std::collections::HashMap;

use gauntlet_series::Id;
use gauntlet_series::revisions::{Revision, revision_of};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::ingest::{MESSAGE_COLUMNS, message_from_row};
use crate::sql::{V, select_in};
use crate::{Backend, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonSummary {
    pub name: Option<String>,
    pub email: String,
}

/// A series as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesSummary {
    pub id: Id,
    pub list_id: String,
    pub name: Option<String>,
    pub version: u32,
    pub total: u32,
    pub received: u32,
    /// Every patch `1..=total` arrived.
    pub complete: bool,
    /// Date of the mail that created the series (Unix time, UTC).
    pub date: i64,
    pub submitter: PersonSummary,
    pub cover_msgid: Option<String>,
    pub lineage: Id,
    /// Position among the revisions of the same work (the submission is `(id, revision)`).
    pub revision: u32,
    pub revisions: u32,
    /// The newest revision, when it is not this one.
    pub superseded_by: Option<Id>,
}

/// A patch, cover letter or comment as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    pub id: Id,
    pub mail: Id,
    pub kind: String,
    pub msgid: String,
    pub name: String,
    pub date: i64,
    pub number: Option<u32>,
    pub hash: Option<String>,
    pub pull_url: Option<String>,
    pub submitter: PersonSummary,
    /// Replies filed under it.
    pub comments: u32,
}

/// Another revision of the same work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageMember {
    pub id: Id,
    pub revision: u32,
    pub version: u32,
    pub name: Option<String>,
    pub date: i64,
    pub received: u32,
    pub total: u32,
}

/// Everything about one series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesDetail {
    pub summary: SeriesSummary,
    pub cover: Option<MessageSummary>,
    /// By number.
    pub patches: Vec<MessageSummary>,
    /// All revisions of the work, oldest first (this one included).
    pub revisions: Vec<LineageMember>,
}

/// A series in the shape of `gauntlet export --json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSeries {
    pub id: Id,
    pub name: Option<String>,
    pub version: u32,
    pub total: u32,
    pub cover: Option<String>,
    /// `(number, msgid)` by number.
    pub patches: Vec<(u32, String)>,
}

/// A stored raw mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRow {
    pub id: Id,
    pub list: Id,
    pub list_id: String,
    pub raw: Vec<u8>,
    pub received_at: i64,
    pub outcome: String,
    pub reason: Option<String>,
    /// Stored cut at the size limit.
    pub truncated: bool,
}

/// Which series to list.
#[derive(Debug, Clone, Default)]
pub struct SeriesFilter {
    pub list_id: Option<String>,
    /// Newest first when set.
    pub newest_first: bool,
    pub limit: Option<i64>,
    /// Only the newest revision of each work.
    pub latest_only: bool,
}

/// Counts over the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub mails: i64,
    /// `(outcome, count)`.
    pub outcomes: Vec<(String, i64)>,
    pub series: i64,
    pub lists: i64,
}

pub(crate) const SUMMARY_SELECT: &str = "SELECT s.id, l.list_id, s.name, s.version, s.total, s.received, \
    s.complete, s.date, p.name, p.email, c.msgid, s.lineage \
    FROM series s JOIN lists l ON l.id = s.list JOIN people p ON p.id = s.submitter \
    LEFT JOIN messages c ON c.id = s.cover";

pub(crate) fn to_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

pub(crate) fn summary_from_row(r: &AnyRow) -> Result<SeriesSummary> {
    Ok(SeriesSummary {
        id: r.try_get(0)?,
        list_id: r.try_get(1)?,
        name: r.try_get(2)?,
        version: to_u32(r.try_get(3)?),
        total: to_u32(r.try_get(4)?),
        received: to_u32(r.try_get(5)?),
        complete: r.try_get::<i64, _>(6)? != 0,
        date: r.try_get(7)?,
        submitter: PersonSummary {
            name: r.try_get(8)?,
            email: r.try_get(9)?,
        },
        cover_msgid: r.try_get(10)?,
        lineage: r.try_get(11)?,
        revision: 1,
        revisions: 1,
        superseded_by: None,
    })
}

/// Members `(id, version, date)` of these lineages.
pub(crate) async fn lineages(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: Vec<Id>,
) -> Result<HashMap<Id, Vec<(Id, u32, i64)>>> {
    let mut out: HashMap<Id, Vec<(Id, u32, i64)>> = HashMap::new();
    for r in select_in(
        conn,
        backend,
        "SELECT id, version, date, lineage FROM series WHERE lineage IN ({in})",
        &[],
        ids.into_iter().map(V::I).collect(),
    )
    .await?
    {
        out.entry(r.try_get(3)?).or_default().push((
            r.try_get(0)?,
            to_u32(r.try_get(1)?),
            r.try_get(2)?,
        ));
    }
    Ok(out)
}

pub(crate) fn apply_revision(s: &mut SeriesSummary, members: &[(Id, u32, i64)]) -> Revision {
    let rev = revision_of(s.id, members);
    s.revision = rev.revision;
    s.revisions = rev.of;
    s.superseded_by = rev.superseded_by;
    rev
}

impl Store {
    /// Series, oldest first unless asked otherwise.
    pub async fn series_list(&self, filter: &SeriesFilter) -> Result<Vec<SeriesSummary>> {
        let mut conn = self.pool.acquire().await?;
        let mut sql = String::from(SUMMARY_SELECT);
        let mut binds: Vec<V> = Vec::new();
        if let Some(list) = &filter.list_id {
            sql.push_str(" WHERE l.list_id = $1");
            binds.push(V::T(list.clone()));
        }
        sql.push_str(if filter.newest_first {
            " ORDER BY s.id DESC"
        } else {
            " ORDER BY s.id"
        });
        // With `latest_only`, superseded series are filtered after the query: the limit is
        // applied then.
        let sql_limit = filter.limit.filter(|_| !filter.latest_only);
        if sql_limit.is_some() {
            sql.push_str(&format!(" LIMIT ${}", binds.len() + 1));
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            if let V::T(t) = b {
                q = q.bind(t);
            }
        }
        if let Some(limit) = sql_limit {
            q = q.bind(limit);
        }
        let rows = q.fetch_all(&mut *conn).await?;
        let mut list: Vec<SeriesSummary> =
            rows.iter().map(summary_from_row).collect::<Result<_>>()?;
        let ids: Vec<Id> = list.iter().map(|s| s.lineage).collect();
        let members = lineages(&mut conn, self.backend, ids).await?;
        for s in &mut list {
            if let Some(m) = members.get(&s.lineage) {
                apply_revision(s, m);
            }
        }
        if filter.latest_only {
            list.retain(|s| s.superseded_by.is_none());
        }
        if let Some(limit) = filter.limit {
            list.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(list)
    }

    async fn message_summaries(
        &self,
        conn: &mut AnyConnection,
        where_clause: &str,
        binds: Vec<V>,
    ) -> Result<Vec<MessageSummary>> {
        let sql = format!(
            "SELECT m.id, m.mail, m.kind, m.msgid, m.name, m.date, m.number, m.hash, m.pull_url, \
             p.name, p.email, (SELECT COUNT(*) FROM messages k WHERE k.parent = m.id) \
             FROM messages m JOIN people p ON p.id = m.submitter WHERE {where_clause} \
             ORDER BY m.number, m.id"
        );
        let rows = select_in(conn, self.backend, &sql, &[], binds).await?;
        rows.iter()
            .map(|r| {
                let number: Option<i64> = r.try_get(6)?;
                Ok(MessageSummary {
                    id: r.try_get(0)?,
                    mail: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    msgid: r.try_get(3)?,
                    name: r.try_get(4)?,
                    date: r.try_get(5)?,
                    number: number.map(to_u32),
                    hash: r.try_get(7)?,
                    pull_url: r.try_get(8)?,
                    submitter: PersonSummary {
                        name: r.try_get(9)?,
                        email: r.try_get(10)?,
                    },
                    comments: to_u32(r.try_get(11)?),
                })
            })
            .collect()
    }

    /// One series with its cover letter, patches and revisions; `None` if there is no such id.
    pub async fn series_detail(&self, id: Id) -> Result<Option<SeriesDetail>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SUMMARY_SELECT} WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut summary = summary_from_row(&row)?;
        let members = lineages(&mut conn, self.backend, vec![summary.lineage]).await?;
        let members = members.get(&summary.lineage).cloned().unwrap_or_default();
        let rev = apply_revision(&mut summary, &members);
        let cover = self
            .message_summaries(
                &mut conn,
                "m.kind = 'cover' AND m.series IN ({in})",
                vec![V::I(id)],
            )
            .await?
            .into_iter()
            .next();
        let patches = self
            .message_summaries(
                &mut conn,
                "m.kind = 'patch' AND m.series IN ({in})",
                vec![V::I(id)],
            )
            .await?;
        let mut revisions = Vec::new();
        let rows = select_in(
            &mut conn,
            self.backend,
            "SELECT id, version, name, date, received, total FROM series WHERE id IN ({in})",
            &[],
            rev.chain.iter().copied().map(V::I).collect(),
        )
        .await?;
        let mut by_id: HashMap<Id, &AnyRow> = HashMap::new();
        for r in &rows {
            by_id.insert(r.try_get(0)?, r);
        }
        for (i, sid) in rev.chain.iter().enumerate() {
            if let Some(r) = by_id.get(sid) {
                revisions.push(LineageMember {
                    id: *sid,
                    revision: i as u32 + 1,
                    version: to_u32(r.try_get(1)?),
                    name: r.try_get(2)?,
                    date: r.try_get(3)?,
                    received: to_u32(r.try_get(4)?),
                    total: to_u32(r.try_get(5)?),
                });
            }
        }
        Ok(Some(SeriesDetail {
            summary,
            cover,
            patches,
            revisions,
        }))
    }

    /// The series that messages with these Message-IDs (with angle brackets) belong to, each
    /// once, in the order of the first message that names it.
    pub async fn series_of_msgids(&self, msgids: &[String]) -> Result<Vec<Id>> {
        let mut conn = self.pool.acquire().await?;
        let rows = select_in(
            &mut conn,
            self.backend,
            "SELECT msgid, series FROM messages WHERE series IS NOT NULL AND kind IN ('patch', 'cover') AND msgid IN ({in})",
            &[],
            msgids.iter().cloned().map(V::T).collect(),
        )
        .await?;
        let mut by_msgid: HashMap<String, Id> = HashMap::new();
        for row in &rows {
            by_msgid.insert(row.try_get(0)?, row.try_get(1)?);
        }
        let mut out: Vec<Id> = Vec::new();
        for msgid in msgids {
            if let Some(series) = by_msgid.get(msgid)
                && !out.contains(series)
            {
                out.push(*series);
            }
        }
        Ok(out)
    }

    /// Up to `limit` series with ids above `after`, in creation order, in the export shape
    /// (page through them to export a store of any size in constant memory).
    pub async fn export_page(
        &self,
        after: Id,
        limit: i64,
        list_id: Option<&str>,
    ) -> Result<Vec<ExportSeries>> {
        let mut conn = self.pool.acquire().await?;
        let mut sql = String::from(
            "SELECT s.id, s.name, s.version, s.total, c.msgid FROM series s \
             LEFT JOIN messages c ON c.id = s.cover JOIN lists l ON l.id = s.list WHERE s.id > $1",
        );
        if list_id.is_some() {
            sql.push_str(" AND l.list_id = $3");
        }
        sql.push_str(" ORDER BY s.id LIMIT $2");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .bind(limit);
        if let Some(l) = list_id {
            q = q.bind(l.to_string());
        }
        let rows = q.fetch_all(&mut *conn).await?;
        let mut out: Vec<ExportSeries> = rows
            .iter()
            .map(|r| {
                Ok(ExportSeries {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    version: to_u32(r.try_get(2)?),
                    total: to_u32(r.try_get(3)?),
                    cover: r.try_get(4)?,
                    patches: Vec::new(),
                })
            })
            .collect::<Result<_>>()?;
        let index: HashMap<Id, usize> = out.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let rows = select_in(
            &mut conn,
            self.backend,
            "SELECT series, number, msgid FROM messages WHERE kind = 'patch' AND series IN ({in}) ORDER BY series, number",
            &[],
            out.iter().map(|s| V::I(s.id)).collect(),
        )
        .await?;
        for r in rows {
            let series: Id = r.try_get(0)?;
            let number: i64 = r.try_get(1)?;
            if let Some(&i) = index.get(&series) {
                out[i].patches.push((to_u32(number), r.try_get(2)?));
            }
        }
        Ok(out)
    }

    /// Up to `limit` raw mails with ids above `after`, in arrival order.
    pub async fn mails_page(&self, after: Id, limit: i64) -> Result<Vec<MailRow>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT m.id, m.list, l.list_id, m.raw, m.received_at, m.outcome, m.reason, m.truncated \
             FROM mails m JOIN lists l ON l.id = m.list WHERE m.id > $1 ORDER BY m.id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MailRow {
                    id: r.try_get(0)?,
                    list: r.try_get(1)?,
                    list_id: r.try_get(2)?,
                    raw: r.try_get(3)?,
                    received_at: r.try_get(4)?,
                    outcome: r.try_get(5)?,
                    reason: r.try_get(6)?,
                    truncated: r.try_get::<i64, _>(7)? != 0,
                })
            })
            .collect()
    }

    /// Messages whose `column` (`id` or `mail`) is one of `ids`.
    async fn messages_where(
        &self,
        column: &str,
        ids: &[Id],
    ) -> Result<Vec<gauntlet_series::MessageRow>> {
        let mut conn = self.pool.acquire().await?;
        let rows = select_in(
            &mut conn,
            self.backend,
            &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE {column} IN ({{in}})"),
            &[],
            ids.iter().copied().map(V::I).collect(),
        )
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// The patch, cover or comment made from each of these mails, by mail.
    pub async fn messages_of_mails(
        &self,
        mails: &[Id],
    ) -> Result<HashMap<Id, gauntlet_series::MessageRow>> {
        let rows = self.messages_where("mail", mails).await?;
        Ok(rows.into_iter().map(|m| (m.mail, m)).collect())
    }

    /// Messages by id (any kind).
    pub async fn messages_by_id(
        &self,
        ids: &[Id],
    ) -> Result<HashMap<Id, gauntlet_series::MessageRow>> {
        let rows = self.messages_where("id", ids).await?;
        Ok(rows.into_iter().map(|m| (m.id, m)).collect())
    }

    /// The raw bytes of these mails, by id.
    pub async fn raw_mails(&self, ids: &[Id]) -> Result<HashMap<Id, Vec<u8>>> {
        let mut conn = self.pool.acquire().await?;
        let rows = select_in(
            &mut conn,
            self.backend,
            "SELECT id, raw FROM mails WHERE id IN ({in})",
            &[],
            ids.iter().copied().map(V::I).collect(),
        )
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<Vec<u8>, _>(1)?)))
            .collect()
    }

    /// People by id.
    pub async fn people(&self, ids: &[Id]) -> Result<HashMap<Id, PersonSummary>> {
        let mut conn = self.pool.acquire().await?;
        let rows = select_in(
            &mut conn,
            self.backend,
            "SELECT id, name, email FROM people WHERE id IN ({in})",
            &[],
            ids.iter().copied().map(V::I).collect(),
        )
        .await?;
        let mut out = HashMap::new();
        for r in &rows {
            out.insert(
                r.try_get(0)?,
                PersonSummary {
                    name: r.try_get(1)?,
                    email: r.try_get(2)?,
                },
            );
        }
        Ok(out)
    }

    /// Counts of mails by outcome, series and lists.
    pub async fn stats(&self) -> Result<StoreStats> {
        let mut conn = self.pool.acquire().await?;
        let rows =
            sqlx::query("SELECT outcome, COUNT(*) FROM mails GROUP BY outcome ORDER BY outcome")
                .fetch_all(&mut *conn)
                .await?;
        let mut stats = StoreStats::default();
        for r in &rows {
            let n: i64 = r.try_get(1)?;
            stats.mails += n;
            stats.outcomes.push((r.try_get(0)?, n));
        }
        stats.series = sqlx::query_scalar("SELECT COUNT(*) FROM series")
            .fetch_one(&mut *conn)
            .await?;
        stats.lists = sqlx::query_scalar("SELECT COUNT(*) FROM lists")
            .fetch_one(&mut *conn)
            .await?;
        Ok(stats)
    }
}

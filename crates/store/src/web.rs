//! Read queries for the dashboard and the REST API: pages of runs (submissions), series, jobs
//! and results with filters, one job or message by id, and the counts of the status page.
//!
//! Pages are newest first. A page is chosen by an offset, or by a key (`before`/`after` an id),
//! which costs the same on the last page of 100,000 runs as on the first.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::read::{
    PersonSummary, SUMMARY_SELECT, SeriesSummary, apply_revision, lineages, summary_from_row,
    to_u32,
};
use crate::runs::{
    FindingRow, JOB_COLUMNS, JobRow, ResultRow, RunSummary, job_from_row, run_from_row,
};
use crate::sql::{V, select_in};
use crate::{Id, Result, Store};

/// The states a submission is listed in: the run's state until it is done, then its verdict.
pub const SUBMISSION_STATES: [&str; 6] = [
    "queued",
    "running",
    "accepted",
    "rejected",
    "error",
    "cancelled",
];

/// Which runs to list.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// The project's name, exactly.
    pub project: Option<String>,
    /// One of [`SUBMISSION_STATES`]; another word matches nothing.
    pub state: Option<String>,
    /// The submitter's address (any case), or name (exactly, when it has no `@`).
    pub submitter: Option<String>,
    /// A Message-ID (of any patch or cover letter of the series, with or without `<>`), or a
    /// part of the series' name (any case).
    pub search: Option<String>,
    pub series: Option<Id>,
    /// Only runs with a smaller id (the next page, by key).
    pub before: Option<Id>,
    /// Only runs with a greater id (the previous page, by key).
    pub after: Option<Id>,
    /// Runs to skip (with neither `before` nor `after`).
    pub offset: i64,
    /// At most this many (at least 1).
    pub limit: i64,
}

/// A run as the submissions list shows it: with its series, when the store still has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionRow {
    pub run: RunSummary,
    pub series_name: Option<String>,
    pub list_id: Option<String>,
    pub version: Option<u32>,
    pub total: Option<u32>,
    pub submitter: Option<PersonSummary>,
}

impl SubmissionRow {
    /// `queued`, `running`, `cancelled`, or the verdict of a run that is done.
    pub fn state(&self) -> &str {
        submission_state(&self.run)
    }
}

/// The state a run is listed in (see [`SUBMISSION_STATES`]).
pub fn submission_state(run: &RunSummary) -> &str {
    match (run.state.as_str(), run.verdict.as_deref()) {
        ("done", Some(verdict)) => verdict,
        (state, _) => state,
    }
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub run: Option<Id>,
    pub stage: Option<String>,
    /// queued, running, done, cancelled.
    pub state: Option<String>,
    /// PASS, FAIL, ERROR, SKIP, MISS, DONE.
    pub status: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// Which test results to list.
#[derive(Debug, Clone, Default)]
pub struct ResultFilter {
    pub run: Option<Id>,
    pub job: Option<Id>,
    pub suite: Option<String>,
    pub status: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// A test result with where it belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultEntry {
    pub id: Id,
    pub run: Id,
    pub job: Id,
    pub result: ResultRow,
}

/// A check finding with where it belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingEntry {
    pub id: Id,
    pub run: Id,
    pub job: Id,
    pub finding: FindingRow,
}

/// Which series to list.
#[derive(Debug, Clone, Default)]
pub struct SeriesPageFilter {
    pub list_id: Option<String>,
    /// The submitter's address (any case), or name (exactly, when it has no `@`).
    pub submitter: Option<String>,
    /// A part of the series' name (any case).
    pub search: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// What the status page counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebCounts {
    /// Runs by listed state (see [`submission_state`]), in the order of [`SUBMISSION_STATES`]
    /// then any other.
    pub runs: Vec<(String, i64)>,
    /// Jobs by state (queued, running, done, cancelled).
    pub jobs: Vec<(String, i64)>,
    pub series: i64,
    pub mails: i64,
}

const RUN_SELECT: &str = "r.id, r.series, r.revision, r.series_key, r.project, r.project_file, \
    r.state, r.verdict, r.reason, r.created_at, r.started_at, r.finished_at, r.details";

/// `%text%` for `LIKE … ESCAPE '\'`, with the text's own wildcards escaped.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `<id@host>` however it was typed.
fn bracketed(msgid: &str) -> String {
    let bare = msgid.trim().trim_start_matches('<').trim_end_matches('>');
    format!("<{bare}>")
}

/// A statement's `WHERE` clauses and values, numbered `$1…` in the order they are added.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    values: Vec<V>,
}

impl Where {
    /// Adds `clause`, in which each `{}` is a placeholder for the next of `values`.
    fn add(&mut self, clause: &str, values: Vec<V>) {
        let mut parts = clause.split("{}");
        let mut text = parts.next().unwrap_or_default().to_owned();
        for (part, value) in parts.zip(values) {
            self.values.push(value);
            text.push_str(&format!("${}{part}", self.values.len()));
        }
        self.clauses.push(text);
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The next placeholder, for a value bound after those of the clauses.
    fn next(&mut self, v: V) -> String {
        self.values.push(v);
        format!("${}", self.values.len())
    }

    async fn fetch(self, store: &Store, sql: String) -> Result<Vec<AnyRow>> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in self.values {
            q = match v {
                V::I(i) => q.bind(i),
                V::NI(i) => q.bind(i),
                V::T(s) => q.bind(s),
                V::NT(s) => q.bind(s),
                V::B(b) => q.bind(b),
            };
        }
        Ok(q.fetch_all(&store.pool).await?)
    }
}

/// `template` with `{people}` replaced by a query of the people who are `who`: an address (any
/// case, through the unique index on `email_key`), else a name (exactly).
fn submitter_clause(w: &mut Where, template: &str, who: &str) {
    let who = who.trim();
    let (people, value) = if who.contains('@') {
        (
            "SELECT id FROM people WHERE email_key = {}",
            who.to_lowercase(),
        )
    } else {
        ("SELECT id FROM people WHERE name = {}", who.to_owned())
    };
    w.add(&template.replace("{people}", people), vec![V::T(value)]);
}

impl Store {
    /// Runs with their series, newest first.
    pub async fn submissions(&self, filter: &RunFilter) -> Result<Vec<SubmissionRow>> {
        let mut w = Where::default();
        if let Some(project) = &filter.project {
            w.add("r.project = {}", vec![V::T(project.clone())]);
        }
        match filter.state.as_deref() {
            None => {}
            Some(s @ ("queued" | "running" | "cancelled")) => {
                w.add("r.state = {}", vec![V::T(s.to_owned())]);
            }
            Some(v) => w.add(
                "r.state = 'done' AND r.verdict = {}",
                vec![V::T(v.to_owned())],
            ),
        }
        if let Some(who) = &filter.submitter {
            submitter_clause(
                &mut w,
                "r.series IN (SELECT id FROM series WHERE submitter IN ({people}))",
                who,
            );
        }
        if let Some(text) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if text.contains('@') && !text.contains(' ') {
                let msgid = bracketed(text);
                w.add(
                    "(r.series_key = {} OR r.series IN (SELECT m.series FROM messages m \
                     WHERE m.msgid = {} AND m.series IS NOT NULL))",
                    vec![V::T(msgid.clone()), V::T(msgid)],
                );
            } else {
                w.add(
                    "LOWER(s.name) LIKE {} ESCAPE '\\'",
                    vec![V::T(like_pattern(text))],
                );
            }
        }
        if let Some(series) = filter.series {
            w.add("r.series = {}", vec![V::I(series)]);
        }
        if let Some(before) = filter.before {
            w.add("r.id < {}", vec![V::I(before)]);
        }
        let ascending = filter.after.is_some() && filter.before.is_none();
        if let (Some(after), None) = (filter.after, filter.before) {
            w.add("r.id > {}", vec![V::I(after)]);
        }
        let mut sql = format!(
            "SELECT {RUN_SELECT}, s.name, l.list_id, s.version, s.total, p.name, p.email \
             FROM runs r LEFT JOIN series s ON s.id = r.series \
             LEFT JOIN lists l ON l.id = s.list LEFT JOIN people p ON p.id = s.submitter{}",
            w.sql()
        );
        sql.push_str(if ascending {
            " ORDER BY r.id"
        } else {
            " ORDER BY r.id DESC"
        });
        let limit = w.next(V::I(filter.limit.max(1)));
        sql.push_str(&format!(" LIMIT {limit}"));
        if filter.before.is_none() && filter.after.is_none() && filter.offset > 0 {
            let offset = w.next(V::I(filter.offset));
            sql.push_str(&format!(" OFFSET {offset}"));
        }
        let rows = w.fetch(self, sql).await?;
        let mut out = rows
            .iter()
            .map(|r| {
                let email: Option<String> = r.try_get(18)?;
                Ok(SubmissionRow {
                    run: run_from_row(r)?,
                    series_name: r.try_get(13)?,
                    list_id: r.try_get(14)?,
                    version: r.try_get::<Option<i64>, _>(15)?.map(to_u32),
                    total: r.try_get::<Option<i64>, _>(16)?.map(to_u32),
                    submitter: match email {
                        Some(email) => Some(PersonSummary {
                            name: r.try_get(17)?,
                            email,
                        }),
                        None => None,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if ascending {
            out.reverse();
        }
        Ok(out)
    }

    /// One job.
    pub async fn job(&self, id: Id) -> Result<Option<JobRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Jobs, newest first (by run, then in the run's order when one run is asked for).
    pub async fn jobs_page(&self, filter: &JobFilter) -> Result<Vec<JobRow>> {
        let mut w = Where::default();
        if let Some(run) = filter.run {
            w.add("run = {}", vec![V::I(run)]);
        }
        for (column, value) in [
            ("stage", &filter.stage),
            ("state", &filter.state),
            ("status", &filter.status),
        ] {
            if let Some(value) = value {
                w.add(&format!("{column} = {{}}"), vec![V::T(value.clone())]);
            }
        }
        let order = if filter.run.is_some() {
            "position, id"
        } else {
            "id DESC"
        };
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs{} ORDER BY {order}", w.sql());
        let limit = w.next(V::I(filter.limit.max(1)));
        let offset = w.next(V::I(filter.offset.max(0)));
        sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
        w.fetch(self, sql).await?.iter().map(job_from_row).collect()
    }

    /// Test results, in the order they were recorded.
    pub async fn results_page(&self, filter: &ResultFilter) -> Result<Vec<ResultEntry>> {
        let mut w = Where::default();
        if let Some(run) = filter.run {
            w.add("run = {}", vec![V::I(run)]);
        }
        if let Some(job) = filter.job {
            w.add("job = {}", vec![V::I(job)]);
        }
        if let Some(suite) = &filter.suite {
            w.add("suite = {}", vec![V::T(suite.clone())]);
        }
        if let Some(status) = &filter.status {
            w.add("status = {}", vec![V::T(status.clone())]);
        }
        let mut sql = format!(
            "SELECT id, run, job, suite, name, status, measurement, units, reason, log_first, \
             log_last, excerpt FROM results{} ORDER BY id",
            w.sql()
        );
        let limit = w.next(V::I(filter.limit.max(1)));
        let offset = w.next(V::I(filter.offset.max(0)));
        sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
        let line = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        w.fetch(self, sql)
            .await?
            .iter()
            .map(|r| {
                Ok(ResultEntry {
                    id: r.try_get(0)?,
                    run: r.try_get(1)?,
                    job: r.try_get(2)?,
                    result: ResultRow {
                        suite: r.try_get(3)?,
                        name: r.try_get(4)?,
                        status: r.try_get(5)?,
                        measurement: r.try_get(6)?,
                        units: r.try_get(7)?,
                        reason: r.try_get(8)?,
                        log_first: line(r.try_get(9)?),
                        log_last: line(r.try_get(10)?),
                        excerpt: r.try_get(11)?,
                    },
                })
            })
            .collect()
    }

    /// The findings of a run, in the order they were recorded.
    pub async fn findings_of_run(&self, run: Id) -> Result<Vec<FindingEntry>> {
        let rows = sqlx::query(
            "SELECT id, run, job, check_name, number, msgid, severity, kind, message, mail_line, \
             file, line, excerpt FROM findings WHERE run = $1 ORDER BY id",
        )
        .bind(run)
        .fetch_all(&self.pool)
        .await?;
        let small = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
        rows.iter()
            .map(|r| {
                Ok(FindingEntry {
                    id: r.try_get(0)?,
                    run: r.try_get(1)?,
                    job: r.try_get(2)?,
                    finding: FindingRow {
                        check: r.try_get(3)?,
                        number: small(r.try_get(4)?),
                        msgid: r.try_get(5)?,
                        severity: r.try_get(6)?,
                        kind: r.try_get(7)?,
                        message: r.try_get(8)?,
                        mail_line: small(r.try_get(9)?),
                        file: r.try_get(10)?,
                        line: small(r.try_get(11)?),
                        excerpt: r.try_get(12)?,
                    },
                })
            })
            .collect()
    }

    /// The newest run of each of these series (by series).
    pub async fn latest_runs_of(&self, series: &[Id]) -> Result<HashMap<Id, RunSummary>> {
        let mut conn = self.pool.acquire().await?;
        let rows = select_in(
            &mut conn,
            self.backend,
            &format!(
                "SELECT {RUN_SELECT} FROM runs r WHERE r.id IN \
                 (SELECT MAX(id) FROM runs WHERE series IN ({{in}}) GROUP BY series)"
            ),
            &[],
            series.iter().copied().map(V::I).collect(),
        )
        .await?;
        rows.iter()
            .map(|r| run_from_row(r).map(|run| (run.series, run)))
            .collect()
    }

    /// Series, newest first, with their place among their revisions.
    pub async fn series_page(&self, filter: &SeriesPageFilter) -> Result<Vec<SeriesSummary>> {
        let mut w = Where::default();
        if let Some(list) = &filter.list_id {
            w.add("l.list_id = {}", vec![V::T(list.clone())]);
        }
        if let Some(who) = &filter.submitter {
            submitter_clause(&mut w, "s.submitter IN ({people})", who);
        }
        if let Some(text) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            w.add(
                "LOWER(s.name) LIKE {} ESCAPE '\\'",
                vec![V::T(like_pattern(text))],
            );
        }
        let mut sql = format!("{SUMMARY_SELECT}{} ORDER BY s.id DESC", w.sql());
        let limit = w.next(V::I(filter.limit.max(1)));
        let offset = w.next(V::I(filter.offset.max(0)));
        sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
        let mut list = w
            .fetch(self, sql)
            .await?
            .iter()
            .map(summary_from_row)
            .collect::<Result<Vec<_>>>()?;
        let mut conn = self.pool.acquire().await?;
        let ids = list.iter().map(|s| s.lineage).collect();
        let members = lineages(&mut conn, self.backend, ids).await?;
        for s in &mut list {
            if let Some(m) = members.get(&s.lineage) {
                apply_revision(s, m);
            }
        }
        Ok(list)
    }

    /// The jobs that ended in ERROR (the infrastructure failed) among the newest `among` jobs,
    /// newest first (a bounded read, whatever the size of the store).
    pub async fn recent_errors(&self, limit: i64, among: i64) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM (SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT $1) \
             AS recent WHERE status = 'ERROR' ORDER BY id DESC LIMIT $2"
        )))
        .bind(among.max(1))
        .bind(limit.max(1))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Runs and jobs by state, series and mails: the status page's counts.
    pub async fn web_counts(&self) -> Result<WebCounts> {
        let mut counts = WebCounts::default();
        let rows = sqlx::query(
            "SELECT CASE WHEN state = 'done' AND verdict IS NOT NULL THEN verdict ELSE state END, \
             COUNT(*) FROM runs GROUP BY 1",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut runs: Vec<(String, i64)> = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        let rank = |s: &str| {
            SUBMISSION_STATES
                .iter()
                .position(|x| *x == s)
                .unwrap_or(SUBMISSION_STATES.len())
        };
        runs.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
        counts.runs = runs;
        let rows = sqlx::query("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?;
        counts.jobs = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_>>()?;
        counts.series = sqlx::query_scalar("SELECT COUNT(*) FROM series")
            .fetch_one(&self.pool)
            .await?;
        counts.mails = sqlx::query_scalar("SELECT COUNT(*) FROM mails")
            .fetch_one(&self.pool)
            .await?;
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_msgids() {
        assert_eq!(like_pattern("50%_a\\B"), "%50\\%\\_a\\\\b%");
        assert_eq!(bracketed(" id@host "), "<id@host>");
        assert_eq!(bracketed("<id@host>"), "<id@host>");
    }

    #[test]
    fn where_numbers_placeholders_in_order() {
        let mut w = Where::default();
        w.add("a = {}", vec![V::I(1)]);
        w.add(
            "(b = {} OR c = {})",
            vec![V::T("x".into()), V::T("y".into())],
        );
        let limit = w.next(V::I(5));
        assert_eq!(w.sql(), " WHERE a = $1 AND (b = $2 OR c = $3)");
        assert_eq!(limit, "$4");
        assert_eq!(w.values.len(), 4);
    }
}

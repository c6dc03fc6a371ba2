//! Runs of the pipeline: a run per (submission, project), its jobs (one per unit of work: the
//! checks, the apply, a build, a test), and what they found (check findings, test results).
//!
//! Statuses and verdicts are stored as their names (`PASS`, `accepted`, …); the pipeline owns
//! their meaning. Times are Unix seconds, durations milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::sql::{V, insert_rows};
use crate::{Backend, Id, Result, Store};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A run about to start.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub series: Id,
    pub revision: u32,
    /// The Message-ID of the series' cover letter or first patch.
    pub series_key: String,
    pub project: String,
    pub project_file: String,
}

/// A job of a run.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub stage: String,
    pub name: String,
    pub position: i64,
    pub requires: Vec<String>,
}

/// How a job ended.
#[derive(Debug, Clone, Default)]
pub struct JobEnd {
    pub status: String,
    pub reason: Option<String>,
    pub log: Option<String>,
    /// JSON.
    pub details: Option<String>,
    pub duration_ms: i64,
}

/// A check finding, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRow {
    pub check: String,
    pub number: Option<u32>,
    pub msgid: Option<String>,
    pub severity: String,
    pub kind: Option<String>,
    pub message: String,
    pub mail_line: Option<u32>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub excerpt: Option<String>,
}

/// A test result, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    pub suite: String,
    pub name: String,
    pub status: String,
    pub measurement: Option<String>,
    pub units: Option<String>,
    pub reason: Option<String>,
    pub log_first: Option<u64>,
    pub log_last: Option<u64>,
    pub excerpt: Option<String>,
}

/// A run as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub id: Id,
    pub series: Id,
    pub revision: u32,
    pub series_key: String,
    pub project: String,
    pub project_file: String,
    pub state: String,
    pub verdict: Option<String>,
    pub reason: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub details: Option<String>,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub id: Id,
    pub run: Id,
    pub stage: String,
    pub name: String,
    pub position: i64,
    pub state: String,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub log: Option<String>,
    pub details: Option<String>,
    pub attempts: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub duration_ms: Option<i64>,
}

/// A run with everything it recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDetail {
    pub run: RunSummary,
    pub jobs: Vec<JobRow>,
    /// With the id of the job that found them.
    pub findings: Vec<(Id, FindingRow)>,
    pub results: Vec<(Id, ResultRow)>,
}

const RUN_COLUMNS: &str = "id, series, revision, series_key, project, project_file, state, \
                           verdict, reason, created_at, started_at, finished_at, details";
pub(crate) const JOB_COLUMNS: &str = "id, run, stage, name, position, state, status, reason, log, details, \
                           attempts, started_at, finished_at, duration_ms";

pub(crate) fn run_from_row(row: &AnyRow) -> Result<RunSummary> {
    Ok(RunSummary {
        id: row.try_get(0)?,
        series: row.try_get(1)?,
        revision: u32::try_from(row.try_get::<i64, _>(2)?).unwrap_or(0),
        series_key: row.try_get(3)?,
        project: row.try_get(4)?,
        project_file: row.try_get(5)?,
        state: row.try_get(6)?,
        verdict: row.try_get(7)?,
        reason: row.try_get(8)?,
        created_at: row.try_get(9)?,
        started_at: row.try_get(10)?,
        finished_at: row.try_get(11)?,
        details: row.try_get(12)?,
    })
}

pub(crate) fn job_from_row(row: &AnyRow) -> Result<JobRow> {
    Ok(JobRow {
        id: row.try_get(0)?,
        run: row.try_get(1)?,
        stage: row.try_get(2)?,
        name: row.try_get(3)?,
        position: row.try_get(4)?,
        state: row.try_get(5)?,
        status: row.try_get(6)?,
        reason: row.try_get(7)?,
        log: row.try_get(8)?,
        details: row.try_get(9)?,
        attempts: row.try_get(10)?,
        started_at: row.try_get(11)?,
        finished_at: row.try_get(12)?,
        duration_ms: row.try_get(13)?,
    })
}

fn opt_u32(v: Option<i64>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

impl Store {
    fn sql(&self, sql: &str) -> String {
        if self.backend == Backend::Postgres {
            return sql.to_owned();
        }
        // SQLite takes `?N` as well as `$N`, but binds anonymous `?` fastest; these statements
        // are small, so the numbered form is kept (it reads the same on both).
        sql.replace('$', "?")
    }

    /// Records a run that starts now; returns its id.
    pub async fn create_run(&self, run: &NewRun) -> Result<Id> {
        let at = now();
        let row = sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "INSERT INTO runs (series, revision, series_key, project, project_file, state, \
             created_at, started_at) VALUES ($1, $2, $3, $4, $5, 'running', $6, $7) RETURNING id",
        )))
        .bind(run.series)
        .bind(i64::from(run.revision))
        .bind(run.series_key.clone())
        .bind(run.project.clone())
        .bind(run.project_file.clone())
        .bind(at)
        .bind(at)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Adds a queued job to `run`; returns its id.
    pub async fn add_job(&self, run: Id, job: &NewJob) -> Result<Id> {
        let requires = if job.requires.is_empty() {
            None
        } else {
            Some(format!(
                "[{}]",
                job.requires
                    .iter()
                    .map(|r| format!("{r:?}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ))
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "INSERT INTO jobs (run, stage, name, position, state, requires, created_at) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6) RETURNING id",
        )))
        .bind(run)
        .bind(job.stage.clone())
        .bind(job.name.clone())
        .bind(job.position)
        .bind(requires)
        .bind(now())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Marks a job running.
    pub async fn start_job(&self, job: Id) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "UPDATE jobs SET state = 'running', started_at = $1, attempts = attempts + 1 \
             WHERE id = $2",
        )))
        .bind(now())
        .bind(job)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records how a job ended.
    pub async fn finish_job(&self, job: Id, end: &JobEnd) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "UPDATE jobs SET state = 'done', status = $1, reason = $2, log = $3, details = $4, \
             finished_at = $5, duration_ms = $6 WHERE id = $7",
        )))
        .bind(end.status.clone())
        .bind(end.reason.clone())
        .bind(end.log.clone())
        .bind(end.details.clone())
        .bind(now())
        .bind(end.duration_ms)
        .bind(job)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Cancels the jobs of `run` that have not started (a run that stops early).
    pub async fn cancel_queued_jobs(&self, run: Id, status: &str, reason: &str) -> Result<u64> {
        let done = sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "UPDATE jobs SET state = 'cancelled', status = $1, reason = $2, finished_at = $3 \
             WHERE run = $4 AND state = 'queued'",
        )))
        .bind(status.to_owned())
        .bind(reason.to_owned())
        .bind(now())
        .bind(run)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records findings of a job.
    /// Records a queued run's verdict without ending it (the queue ends the run when its last
    /// job is done).
    pub async fn set_run_verdict(
        &self,
        run: Id,
        verdict: &str,
        reason: Option<&str>,
        details: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            self.stmt("UPDATE runs SET verdict = $1, reason = $2, details = $3 WHERE id = $4"),
        )
        .bind(verdict.to_owned())
        .bind(reason.map(str::to_owned))
        .bind(details.map(str::to_owned))
        .bind(run)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets what an earlier attempt of `job` found (a job tried again records it anew).
    pub async fn delete_findings(&self, job: Id) -> Result<()> {
        sqlx::query(self.stmt("DELETE FROM findings WHERE job = $1"))
            .bind(job)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets the test results an earlier attempt of `job` recorded.
    pub async fn delete_results(&self, job: Id) -> Result<()> {
        sqlx::query(self.stmt("DELETE FROM results WHERE job = $1"))
            .bind(job)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn add_findings(&self, run: Id, job: Id, rows: &[FindingRow]) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let values = rows
            .iter()
            .map(|f| {
                vec![
                    V::I(run),
                    V::I(job),
                    V::T(f.check.clone()),
                    V::NI(f.number.map(i64::from)),
                    V::NT(f.msgid.clone()),
                    V::T(f.severity.clone()),
                    V::NT(f.kind.clone()),
                    V::T(f.message.clone()),
                    V::NI(f.mail_line.map(i64::from)),
                    V::NT(f.file.clone()),
                    V::NI(f.line.map(i64::from)),
                    V::NT(f.excerpt.clone()),
                ]
            })
            .collect();
        insert_rows(
            &mut conn,
            self.backend,
            "findings",
            &[
                "run",
                "job",
                "check_name",
                "number",
                "msgid",
                "severity",
                "kind",
                "message",
                "mail_line",
                "file",
                "line",
                "excerpt",
            ],
            values,
            "",
        )
        .await
    }

    /// Records test results of a job.
    pub async fn add_results(&self, run: Id, job: Id, rows: &[ResultRow]) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let values = rows
            .iter()
            .map(|r| {
                vec![
                    V::I(run),
                    V::I(job),
                    V::T(r.suite.clone()),
                    V::T(r.name.clone()),
                    V::T(r.status.clone()),
                    V::NT(r.measurement.clone()),
                    V::NT(r.units.clone()),
                    V::NT(r.reason.clone()),
                    V::NI(r.log_first.and_then(|v| i64::try_from(v).ok())),
                    V::NI(r.log_last.and_then(|v| i64::try_from(v).ok())),
                    V::NT(r.excerpt.clone()),
                ]
            })
            .collect();
        insert_rows(
            &mut conn,
            self.backend,
            "results",
            &[
                "run",
                "job",
                "suite",
                "name",
                "status",
                "measurement",
                "units",
                "reason",
                "log_first",
                "log_last",
                "excerpt",
            ],
            values,
            "",
        )
        .await
    }

    /// Records the verdict of a run.
    pub async fn finish_run(
        &self,
        run: Id,
        verdict: &str,
        reason: Option<&str>,
        details: Option<&str>,
    ) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "UPDATE runs SET state = 'done', verdict = $1, reason = $2, details = $3, \
             finished_at = $4 WHERE id = $5",
        )))
        .bind(verdict.to_owned())
        .bind(reason.map(str::to_owned))
        .bind(details.map(str::to_owned))
        .bind(now())
        .bind(run)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Runs of a series, newest first.
    pub async fn runs_of_series(&self, series: Id) -> Result<Vec<RunSummary>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.sql(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE series = $1 ORDER BY id DESC"
        ))))
        .bind(series)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// The newest runs, newest first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<RunSummary>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.sql(&format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT $1"
        ))))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// A run with its jobs, findings and results.
    pub async fn run_detail(&self, run: Id) -> Result<Option<RunDetail>> {
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(
            self.sql(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1")),
        ))
        .bind(run)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let summary = run_from_row(&row)?;
        let jobs = sqlx::query(sqlx::AssertSqlSafe(self.sql(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE run = $1 ORDER BY position, id"
        ))))
        .bind(run)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(job_from_row)
        .collect::<Result<Vec<_>>>()?;
        let findings = sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "SELECT job, check_name, number, msgid, severity, kind, message, mail_line, file, \
             line, excerpt FROM findings WHERE run = $1 ORDER BY id",
        )))
        .bind(run)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<i64, _>(0)?,
                FindingRow {
                    check: row.try_get(1)?,
                    number: opt_u32(row.try_get(2)?),
                    msgid: row.try_get(3)?,
                    severity: row.try_get(4)?,
                    kind: row.try_get(5)?,
                    message: row.try_get(6)?,
                    mail_line: opt_u32(row.try_get(7)?),
                    file: row.try_get(8)?,
                    line: opt_u32(row.try_get(9)?),
                    excerpt: row.try_get(10)?,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
        let results = sqlx::query(sqlx::AssertSqlSafe(self.sql(
            "SELECT job, suite, name, status, measurement, units, reason, log_first, log_last, \
             excerpt FROM results WHERE run = $1 ORDER BY id",
        )))
        .bind(run)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get::<i64, _>(0)?,
                ResultRow {
                    suite: row.try_get(1)?,
                    name: row.try_get(2)?,
                    status: row.try_get(3)?,
                    measurement: row.try_get(4)?,
                    units: row.try_get(5)?,
                    reason: row.try_get(6)?,
                    log_first: row
                        .try_get::<Option<i64>, _>(7)?
                        .and_then(|v| u64::try_from(v).ok()),
                    log_last: row
                        .try_get::<Option<i64>, _>(8)?
                        .and_then(|v| u64::try_from(v).ok()),
                    excerpt: row.try_get(9)?,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(Some(RunDetail {
            run: summary,
            jobs,
            findings,
            results,
        }))
    }
}

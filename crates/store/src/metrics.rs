//! Counts for `/metrics` and `gauntlet status`: runs by state, jobs by stage and state, how
//! long ready jobs have waited for a worker, and how long finished jobs took, per stage.
//!
//! Only what the database knows is here; the server adds its own (poll lag from
//! [`Store::source_states`], deliveries from the ledger) and writes the Prometheus text.

use sqlx::Row;

use crate::{Result, Store};

/// Upper bounds (inclusive, milliseconds) of the job duration histogram's buckets; a last,
/// unbounded bucket is the total count.
pub const DURATION_BUCKETS_MS: [i64; 8] = [
    1_000, 10_000, 30_000, 60_000, 300_000, 900_000, 1_800_000, 3_600_000,
];

/// Jobs of one stage in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub stage: String,
    pub state: String,
    pub count: i64,
}

/// How long the finished jobs of one stage took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageDurations {
    pub stage: String,
    pub count: i64,
    pub sum_ms: i64,
    /// Cumulative counts per bound of [`DURATION_BUCKETS_MS`], in order (a Prometheus
    /// histogram's `le` buckets).
    pub buckets: Vec<i64>,
}

/// A snapshot of the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueMetrics {
    /// Runs by state (`queued`, `running`, `done`, `cancelled`), of both executors.
    pub runs: Vec<(String, i64)>,
    /// Jobs by stage and state, of both executors.
    pub jobs: Vec<JobCount>,
    /// Queued jobs a worker could take now (not waiting for a backoff or for other jobs).
    pub ready_jobs: i64,
    /// Seconds the longest-waiting ready job has waited since it became ready: the queue's
    /// latency.
    pub oldest_ready_age_s: Option<i64>,
    /// Finished jobs' durations by stage.
    pub durations: Vec<StageDurations>,
}

impl Store {
    /// The queue's figures at `now`.
    pub async fn queue_metrics(&self, now: i64) -> Result<QueueMetrics> {
        let mut out = QueueMetrics::default();
        for row in sqlx::query("SELECT state, COUNT(*) FROM runs GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?
        {
            out.runs.push((row.try_get(0)?, row.try_get(1)?));
        }
        for row in sqlx::query(
            "SELECT stage, state, COUNT(*) FROM jobs GROUP BY stage, state ORDER BY stage, state",
        )
        .fetch_all(&self.pool)
        .await?
        {
            out.jobs.push(JobCount {
                stage: row.try_get(0)?,
                state: row.try_get(1)?,
                count: row.try_get(2)?,
            });
        }

        // A job became ready at the latest of: when it was queued, the end of its backoff, and
        // the end of the last job it comes after.
        let ready = sqlx::query(self.stmt(
            "SELECT COUNT(*), MIN(CASE WHEN x.deps_at IS NOT NULL AND x.deps_at > x.own_at \
             THEN x.deps_at ELSE x.own_at END) FROM ( \
               SELECT CASE WHEN j.not_before IS NOT NULL AND j.not_before > j.created_at \
                      THEN j.not_before ELSE j.created_at END AS own_at, \
                      (SELECT MAX(p.finished_at) FROM job_deps d JOIN jobs p \
                       ON p.id = d.after_job WHERE d.job = j.id) AS deps_at \
               FROM jobs j JOIN runs r ON r.id = j.run \
               WHERE j.state = 'queued' AND (j.not_before IS NULL OR j.not_before <= $1) \
               AND r.executor = 'queue' AND r.cancel_requested = 0 \
               AND NOT EXISTS (SELECT 1 FROM job_deps d JOIN jobs p ON p.id = d.after_job \
                               WHERE d.job = j.id AND p.state <> 'done')) x",
        ))
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        out.ready_jobs = ready.try_get(0)?;
        out.oldest_ready_age_s = ready
            .try_get::<Option<i64>, _>(1)?
            .map(|at| now.saturating_sub(at).max(0));

        let buckets: String = DURATION_BUCKETS_MS
            .iter()
            .map(|le| {
                format!(", CAST(SUM(CASE WHEN duration_ms <= {le} THEN 1 ELSE 0 END) AS BIGINT)")
            })
            .collect();
        let sql = format!(
            "SELECT stage, COUNT(*), CAST(SUM(duration_ms) AS BIGINT){buckets} FROM jobs \
             WHERE state = 'done' AND duration_ms IS NOT NULL GROUP BY stage ORDER BY stage"
        );
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
        {
            let mut b = Vec::with_capacity(DURATION_BUCKETS_MS.len());
            for i in 0..DURATION_BUCKETS_MS.len() {
                b.push(row.try_get(3 + i)?);
            }
            out.durations.push(StageDurations {
                stage: row.try_get(0)?,
                count: row.try_get(1)?,
                sum_ms: row.try_get(2)?,
                buckets: b,
            });
        }
        Ok(out)
    }
}

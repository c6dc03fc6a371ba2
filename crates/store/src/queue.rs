//! The durable job queue of `gauntlet serve` and `gauntlet worker`, over the `jobs` table, and
//! the state machine of the runs it serves.
//!
//! A run is queued with all its jobs at once ([`Store::enqueue_run`]); a job may come after
//! other jobs of its run and is claimable only when they are all done. Workers take one job at
//! a time with [`Store::claim`], which hands out a [`Lease`]: the job, the worker and the
//! claim's number. The number is a fencing token: a worker that stalled past its lease, whose
//! job was taken again (perhaps by another slot of the same worker), can no longer renew,
//! complete, fail or release it, because its claim is not the job's current one. (It is not the
//! attempt count, which a release gives back.)
//!
//! ```text
//! job:  queued ──claim──► running ──complete──────────────► done
//!         ▲                  │ fail_infrastructure, lease ran out:
//!         └── retry ◄────────┤   retried until max_attempts, then done with ERROR
//!         └── release ◄──────┤ (graceful shutdown: the attempt is not counted)
//!                            └ cancel requested + release/fail/expiry ──► cancelled
//! run:  queued ──first claim──► running ──no job queued or running──► done | cancelled
//! ```
//!
//! Every transition that can end a run checks, in the same transaction, whether it did, and
//! says so in its [`Settled::run_end`]: exactly one call sees a run end. For a report that
//! survives a crash of the process that saw it, make the report a job of the run that comes
//! after all the others: it is then as durable as the rest of the queue.
//!
//! Times are Unix seconds passed by the caller as `now` (the host's [`crate::unix_now`], or the
//! database's [`Store::db_now`] when workers on several hosts must agree on when a lease runs
//! out); tests pass whatever time they need.
//!
//! Locks, on PostgreSQL: every transaction here that locks both takes job rows before run
//! rows, so that claims, completions and cancellations never wait on each other in a cycle
//! ([`Store::enqueue_job`] locks only its run; the foreign-key checks of its insert take key
//! locks, which the `FOR NO KEY UPDATE` locks used here do not block). A claim takes its job
//! with `SELECT … FOR NO KEY UPDATE SKIP LOCKED`: concurrent workers skip each other's
//! candidates instead of queueing behind them. A transition that may end a run locks the run
//! row before counting its unfinished jobs: when two workers complete a run's last two jobs at
//! once, the second to get the lock sees the first's commit (each statement of a READ
//! COMMITTED transaction reads afresh), and exactly one of them ends the run. On SQLite every
//! write transaction here is `BEGIN IMMEDIATE`: one writer at a time, nothing to order.

use std::time::Duration;

use sqlx::{Any, Row, Transaction};

use crate::db::{json_list, parse_list, seconds};
use crate::{Backend, Error, Id, JobEnd, NewJob, NewRun, Result, Store};

/// A job queued with its run.
#[derive(Debug, Clone)]
pub struct QueuedJob {
    pub job: NewJob,
    /// JSON: what the job is to do (a build's configuration, a test's definition), for the
    /// worker that claims it.
    pub spec: Option<String>,
    /// Indexes, in the same list, of the jobs this one comes after. Only earlier jobs may be
    /// named, which keeps the dependencies free of cycles.
    pub after: Vec<usize>,
}

/// A worker's hold on a job. `claim` fences stale holders off (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job: Id,
    pub worker: String,
    /// The job's claim count when this lease was given.
    pub claim: i64,
}

/// A job a worker has claimed, with what it needs to run it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub lease: Lease,
    /// When the lease runs out unless renewed.
    pub lease_until: i64,
    /// Which attempt this is, the first being 1 (infrastructure failures and lost leases
    /// count; releases do not).
    pub attempt: i64,
    pub run: Id,
    /// The job as it was queued.
    pub job: NewJob,
    pub spec: Option<String>,
    /// Why the previous attempt failed, if one did.
    pub last_error: Option<String>,
    /// The submission and project of its run, as the run was queued.
    pub submission: NewRun,
}

/// What renewing a lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Still the worker's, now until this time.
    Held { until: i64 },
    /// The job's run is being cancelled (superseded): stop, then [`Store::release`] the job.
    /// The lease is not extended.
    CancelRequested,
    /// The job is no longer the worker's (it ran out and was taken again, or ended): stop and
    /// drop the result.
    Lost,
}

/// How infrastructure failures are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; a job failing this many times ends with ERROR.
    pub max_attempts: u32,
    /// The delay after the first failure; it doubles after each further one.
    pub backoff: Duration,
    /// The longest delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// Seconds to wait after the `attempts`-th attempt failed: backoff·2^(attempts−1), capped.
    pub fn delay(&self, attempts: i64) -> i64 {
        let base = seconds(self.backoff);
        let cap = seconds(self.max_backoff);
        let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 62)).unwrap_or(62);
        base.saturating_mul(1_i64 << exp).min(cap)
    }
}

/// What became of a job after a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Done, with the worker's result.
    Completed,
    /// This completion was already recorded (a retried call): nothing changed.
    AlreadyCompleted,
    /// Back in the queue, claimable from `not_before` (at once when `None`).
    Requeued { not_before: Option<i64> },
    /// Out of attempts: done with status ERROR (never the patch's fault).
    GaveUp,
    /// Cancelled, because its run is.
    Cancelled,
    /// The caller does not hold the lease (any more): nothing changed.
    Refused,
}

/// A job's transition, and the end of its run if this transition ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub job: Id,
    pub fate: Fate,
    pub run_end: Option<RunEnd>,
}

/// A run that has just ended: no job of it is queued or running any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    pub run: Id,
    /// Ended `cancelled` (superseded or cancelled by hand) rather than `done`. A done run's
    /// verdict is then the server's to record ([`Store::finish_run`]); a cancelled run has none.
    pub cancelled: bool,
    pub reason: Option<String>,
}

/// What cancelling runs did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cancellation {
    /// The runs being cancelled.
    pub runs: Vec<Id>,
    /// Queued jobs cancelled at once.
    pub cancelled_jobs: u64,
    /// Running jobs asked to stop (their workers learn it when they renew).
    pub stopping_jobs: u64,
    /// Runs that ended now (those without running jobs).
    pub ended: Vec<RunEnd>,
}

/// `$first, …, $(first+n-1)`.
fn numbered(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a job stands, as read under its lock.
struct Held {
    run: Id,
    attempts: i64,
    cancel_requested: bool,
}

impl Store {
    /// Queues a run and all its jobs, in one transaction; returns the run's id and the jobs'
    /// ids in order.
    pub async fn enqueue_run(
        &self,
        run: &NewRun,
        jobs: &[QueuedJob],
        now: i64,
    ) -> Result<(Id, Vec<Id>)> {
        if jobs.is_empty() {
            return Err(Error::Invalid("a queued run needs at least one job".into()));
        }
        for (i, job) in jobs.iter().enumerate() {
            if let Some(bad) = job.after.iter().find(|&&a| a >= i) {
                return Err(Error::Invalid(format!(
                    "job {i} ({}) may only come after earlier jobs, not after job {bad}",
                    job.job.name
                )));
            }
        }
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(self.stmt(
            "INSERT INTO runs (series, revision, series_key, project, project_file, state, \
             executor, created_at) VALUES ($1, $2, $3, $4, $5, 'queued', 'queue', $6) \
             RETURNING id",
        ))
        .bind(run.series)
        .bind(i64::from(run.revision))
        .bind(run.series_key.clone())
        .bind(run.project.clone())
        .bind(run.project_file.clone())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let run_id: Id = row.try_get(0)?;
        let mut ids = Vec::with_capacity(jobs.len());
        for job in jobs {
            let id = self
                .insert_job(&mut tx, run_id, &job.job, job.spec.as_deref(), now)
                .await?;
            let after: Vec<Id> = job.after.iter().map(|&a| ids[a]).collect();
            self.insert_deps(&mut tx, id, &after).await?;
            ids.push(id);
        }
        tx.commit().await?;
        tracing::debug!(run = run_id, jobs = ids.len(), "run queued");
        Ok((run_id, ids))
    }

    /// Adds a job to a queued run that has not ended, after the given jobs of the same run.
    pub async fn enqueue_job(
        &self,
        run: Id,
        job: &NewJob,
        spec: Option<&str>,
        after: &[Id],
        now: i64,
    ) -> Result<Id> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT state, executor, cancel_requested FROM runs WHERE id = $1{}",
            self.row_lock()
        );
        let Some(row) = sqlx::query(self.stmt(&sql))
            .bind(run)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Err(Error::Invalid(format!("no run {run}")));
        };
        let state: String = row.try_get(0)?;
        let executor: String = row.try_get(1)?;
        let cancel: i64 = row.try_get(2)?;
        if executor != "queue" || cancel != 0 || !matches!(state.as_str(), "queued" | "running") {
            return Err(Error::Invalid(format!(
                "run {run} takes no more jobs (it is {state}, run by {executor}{})",
                if cancel != 0 { ", being cancelled" } else { "" }
            )));
        }
        let mut wanted = after.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        if !wanted.is_empty() {
            let sql = format!(
                "SELECT COUNT(*) FROM jobs WHERE run = $1 AND id IN ({})",
                numbered(2, wanted.len())
            );
            let mut q = sqlx::query(self.stmt(&sql)).bind(run);
            for id in &wanted {
                q = q.bind(*id);
            }
            let found: i64 = q.fetch_one(&mut *tx).await?.try_get(0)?;
            if usize::try_from(found).ok() != Some(wanted.len()) {
                return Err(Error::Invalid(format!(
                    "a job may only come after jobs of its own run ({run})"
                )));
            }
        }
        let id = self.insert_job(&mut tx, run, job, spec, now).await?;
        self.insert_deps(&mut tx, id, &wanted).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn insert_job(
        &self,
        tx: &mut Transaction<'static, Any>,
        run: Id,
        job: &NewJob,
        spec: Option<&str>,
        now: i64,
    ) -> Result<Id> {
        let requires = (!job.requires.is_empty()).then(|| json_list(&job.requires));
        let row = sqlx::query(self.stmt(
            "INSERT INTO jobs (run, stage, name, position, state, requires, spec, created_at) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7) RETURNING id",
        ))
        .bind(run)
        .bind(job.stage.clone())
        .bind(job.name.clone())
        .bind(job.position)
        .bind(requires)
        .bind(spec.map(str::to_owned))
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn insert_deps(
        &self,
        tx: &mut Transaction<'static, Any>,
        job: Id,
        after: &[Id],
    ) -> Result<()> {
        for dep in after {
            sqlx::query(self.stmt(
                "INSERT INTO job_deps (job, after_job) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            ))
            .bind(job)
            .bind(*dep)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Takes the oldest claimable job this worker can run, if any: queued, of a run queued for
    /// workers (not one the local pipeline runs) that is not being cancelled, past its
    /// `not_before`, every job it comes after done, and every capability it requires among
    /// `capabilities`. Oldest means the oldest run first, then the job's position in it. The
    /// job becomes running under a lease of `lease`, its attempts counted, and its run running.
    pub async fn claim(
        &self,
        worker: &str,
        capabilities: &[String],
        lease: Duration,
        now: i64,
    ) -> Result<Option<Claimed>> {
        // Requirements are a JSON list in `jobs.requires`: a subset test in each database's
        // JSON functions, so that jobs added by `add_job` are matched as well.
        let (can_run, skip_locked) = match self.backend {
            Backend::Postgres => (
                "COALESCE(j.requires, '[]')::jsonb <@ $2::jsonb",
                " FOR NO KEY UPDATE OF j SKIP LOCKED",
            ),
            Backend::Sqlite => (
                "NOT EXISTS (SELECT 1 FROM json_each(COALESCE(j.requires, '[]')) need \
                 WHERE need.value NOT IN (SELECT have.value FROM json_each($2) have))",
                "",
            ),
        };
        let pick = format!(
            "SELECT j.id FROM jobs j JOIN runs r ON r.id = j.run \
             WHERE j.state = 'queued' AND (j.not_before IS NULL OR j.not_before <= $1) \
             AND r.executor = 'queue' AND r.cancel_requested = 0 AND {can_run} \
             AND NOT EXISTS (SELECT 1 FROM job_deps d JOIN jobs p ON p.id = d.after_job \
                             WHERE d.job = j.id AND p.state <> 'done') \
             ORDER BY r.created_at, r.id, j.position, j.id LIMIT 1{skip_locked}"
        );
        let until = now.saturating_add(seconds(lease));
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query(self.stmt(&pick))
            .bind(now)
            .bind(json_list(capabilities))
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let job: Id = row.try_get(0)?;
        let row = sqlx::query(self.stmt(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, claims = claims + 1, started_at = $3 WHERE id = $4 \
             RETURNING attempts, run, stage, name, position, requires, spec, last_error, claims",
        ))
        .bind(worker.to_owned())
        .bind(until)
        .bind(now)
        .bind(job)
        .fetch_one(&mut *tx)
        .await?;
        let attempt: i64 = row.try_get(0)?;
        let run: Id = row.try_get(1)?;
        let requires: Option<String> = row.try_get(5)?;
        sqlx::query(self.stmt(
            "UPDATE runs SET state = 'running', started_at = COALESCE(started_at, $1) \
             WHERE id = $2 AND state = 'queued'",
        ))
        .bind(now)
        .bind(run)
        .execute(&mut *tx)
        .await?;
        let r = sqlx::query(self.stmt(
            "SELECT series, revision, series_key, project, project_file FROM runs WHERE id = $1",
        ))
        .bind(run)
        .fetch_one(&mut *tx)
        .await?;
        let claimed = Claimed {
            lease: Lease {
                job,
                worker: worker.to_owned(),
                claim: row.try_get(8)?,
            },
            lease_until: until,
            attempt,
            run,
            job: NewJob {
                stage: row.try_get(2)?,
                name: row.try_get(3)?,
                position: row.try_get(4)?,
                requires: parse_list(requires.as_deref(), "jobs.requires")?,
            },
            spec: row.try_get(6)?,
            last_error: row.try_get(7)?,
            submission: NewRun {
                series: r.try_get(0)?,
                revision: u32::try_from(r.try_get::<i64, _>(1)?)
                    .map_err(|_| Error::Corrupt(format!("revision of run {run} out of range")))?,
                series_key: r.try_get(2)?,
                project: r.try_get(3)?,
                project_file: r.try_get(4)?,
            },
        };
        tx.commit().await?;
        tracing::debug!(job, run, worker, attempt, "job claimed");
        Ok(Some(claimed))
    }

    /// Extends a lease to `now + lease`. A worker renews well before its lease runs out (at a
    /// third of it, say) and stops working on the job unless it gets [`Renewal::Held`]. A lease
    /// that ran out but was not taken again yet is still the worker's.
    pub async fn renew(&self, lease: &Lease, ttl: Duration, now: i64) -> Result<Renewal> {
        let until = now.saturating_add(seconds(ttl));
        let done = sqlx::query(self.stmt(
            "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND state = 'running' \
             AND lease_owner = $3 AND claims = $4 AND cancel_requested = 0",
        ))
        .bind(until)
        .bind(lease.job)
        .bind(lease.worker.clone())
        .bind(lease.claim)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Renewal::Held { until });
        }
        let mut conn = self.pool.acquire().await?;
        Ok(match self.held(&mut conn, lease, false).await? {
            Some(h) if h.cancel_requested => Renewal::CancelRequested,
            _ => Renewal::Lost,
        })
    }

    /// The job under `lease`, if the lease is current (running, same owner, same claim);
    /// locked on PostgreSQL when `lock`.
    async fn held(
        &self,
        conn: &mut sqlx::AnyConnection,
        lease: &Lease,
        lock: bool,
    ) -> Result<Option<Held>> {
        let sql = format!(
            "SELECT run, attempts, cancel_requested FROM jobs WHERE id = $1 \
             AND state = 'running' AND lease_owner = $2 AND claims = $3{}",
            if lock { self.row_lock() } else { "" }
        );
        let Some(row) = sqlx::query(self.stmt(&sql))
            .bind(lease.job)
            .bind(lease.worker.clone())
            .bind(lease.claim)
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Held {
            run: row.try_get(0)?,
            attempts: row.try_get(1)?,
            cancel_requested: row.try_get::<i64, _>(2)? != 0,
        }))
    }

    /// Records how a claimed job ended — only for the current lease holder. Calling it again
    /// with the same lease is harmless ([`Fate::AlreadyCompleted`]); a stale holder is refused
    /// ([`Fate::Refused`]) and its result must be dropped. A job whose cancel was requested may
    /// still complete (it finished before the worker heard); its run then ends cancelled.
    pub async fn complete(&self, lease: &Lease, end: &JobEnd, now: i64) -> Result<Settled> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(self.stmt(
            "UPDATE jobs SET state = 'done', status = $1, reason = $2, log = $3, details = $4, \
             finished_at = $5, duration_ms = $6, lease_until = NULL \
             WHERE id = $7 AND state = 'running' AND lease_owner = $8 AND claims = $9 \
             RETURNING run",
        ))
        .bind(end.status.clone())
        .bind(end.reason.clone())
        .bind(end.log.clone())
        .bind(end.details.clone())
        .bind(now)
        .bind(end.duration_ms)
        .bind(lease.job)
        .bind(lease.worker.clone())
        .bind(lease.claim)
        .fetch_optional(&mut *tx)
        .await?;
        let settled = match row {
            Some(row) => {
                let run: Id = row.try_get(0)?;
                let run_end = self.end_run_if_finished(&mut tx, run, now).await?;
                Settled {
                    job: lease.job,
                    fate: Fate::Completed,
                    run_end,
                }
            }
            None => {
                // The owner and claim stay on a completed job, which is how a retried call is
                // told from a stale one.
                let row = sqlx::query(
                    self.stmt("SELECT state, lease_owner, claims FROM jobs WHERE id = $1"),
                )
                .bind(lease.job)
                .fetch_optional(&mut *tx)
                .await?;
                let again = match row {
                    Some(row) => {
                        row.try_get::<String, _>(0)? == "done"
                            && row.try_get::<Option<String>, _>(1)?.as_deref()
                                == Some(lease.worker.as_str())
                            && row.try_get::<i64, _>(2)? == lease.claim
                    }
                    None => false,
                };
                if !again {
                    tracing::warn!(
                        job = lease.job,
                        worker = lease.worker,
                        claim = lease.claim,
                        "completion refused: the lease is not current"
                    );
                }
                Settled {
                    job: lease.job,
                    fate: if again {
                        Fate::AlreadyCompleted
                    } else {
                        Fate::Refused
                    },
                    run_end: None,
                }
            }
        };
        tx.commit().await?;
        Ok(settled)
    }

    /// The machine failed the job (a worker's disk, a lab, a network: never the patch). It is
    /// queued again after backoff·2^(attempts−1), until `policy.max_attempts`; then it ends
    /// with ERROR and `reason`. A job whose cancel was requested is cancelled instead.
    pub async fn fail_infrastructure(
        &self,
        lease: &Lease,
        reason: &str,
        policy: &RetryPolicy,
        now: i64,
    ) -> Result<Settled> {
        self.settle(lease, now, |held| {
            if held.attempts >= i64::from(policy.max_attempts) {
                Next::GiveUp(reason.to_owned())
            } else {
                Next::Retry {
                    reason: reason.to_owned(),
                    not_before: Some(now.saturating_add(policy.delay(held.attempts))),
                }
            }
        })
        .await
    }

    /// Gives a job back without counting the attempt (graceful shutdown): it is queued again
    /// for any worker at once. A job whose cancel was requested is cancelled instead, which is
    /// also how a worker acknowledges [`Renewal::CancelRequested`].
    pub async fn release(&self, lease: &Lease, now: i64) -> Result<Settled> {
        self.settle(lease, now, |_| Next::Release).await
    }

    /// One transition of a job under `lease`, decided by `next` from where the job stands.
    async fn settle(
        &self,
        lease: &Lease,
        now: i64,
        next: impl FnOnce(&Held) -> Next,
    ) -> Result<Settled> {
        let mut tx = self.begin_write().await?;
        let Some(held) = self.held(&mut tx, lease, true).await? else {
            return Ok(Settled {
                job: lease.job,
                fate: Fate::Refused,
                run_end: None,
            });
        };
        let next = if held.cancel_requested {
            Next::Cancel
        } else {
            next(&held)
        };
        let fate = self.apply(&mut tx, lease.job, next, now).await?;
        let run_end = match fate {
            Fate::GaveUp | Fate::Cancelled => {
                self.end_run_if_finished(&mut tx, held.run, now).await?
            }
            _ => None,
        };
        tx.commit().await?;
        Ok(Settled {
            job: lease.job,
            fate,
            run_end,
        })
    }

    /// Writes a running job's transition (its lock is held). Only a completion keeps the
    /// lease's owner on the job (how [`Fate::AlreadyCompleted`] is told): after any other end,
    /// a late call under the old lease is refused.
    async fn apply(
        &self,
        tx: &mut Transaction<'static, Any>,
        job: Id,
        next: Next,
        now: i64,
    ) -> Result<Fate> {
        let (sql, text, at, fate) = match next {
            Next::Retry { reason, not_before } => (
                "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, \
                 last_error = $1, not_before = $2 WHERE id = $3",
                reason,
                not_before,
                Fate::Requeued { not_before },
            ),
            Next::Release => (
                "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, \
                 attempts = attempts - 1, last_error = COALESCE($1, last_error), \
                 not_before = $2 WHERE id = $3",
                String::new(),
                None,
                Fate::Requeued { not_before: None },
            ),
            Next::GiveUp(reason) => (
                "UPDATE jobs SET state = 'done', status = 'ERROR', lease_owner = NULL, \
                 lease_until = NULL, last_error = $1, reason = $1, finished_at = $2 WHERE id = $3",
                reason,
                Some(now),
                Fate::GaveUp,
            ),
            Next::Cancel => (
                "UPDATE jobs SET state = 'cancelled', status = 'MISS', lease_owner = NULL, \
                 lease_until = NULL, \
                 reason = (SELECT cancel_reason FROM runs WHERE runs.id = jobs.run), \
                 last_error = COALESCE($1, last_error), finished_at = $2 WHERE id = $3",
                String::new(),
                Some(now),
                Fate::Cancelled,
            ),
        };
        let text = (!text.is_empty()).then_some(text);
        sqlx::query(self.stmt(sql))
            .bind(text)
            .bind(at)
            .bind(job)
            .execute(&mut **tx)
            .await?;
        if fate == Fate::GaveUp {
            tracing::warn!(job, "job gave up after its last attempt");
        }
        Ok(fate)
    }

    /// Takes back every job whose lease ran out before `now` (its worker died or hung): queued
    /// again at once, the attempt it used counted, so that a job that kills every worker that
    /// runs it ends with ERROR after `policy.max_attempts`; cancelled if its cancel was
    /// requested. Safe to call from several processes at once.
    pub async fn expire_leases(&self, now: i64, policy: &RetryPolicy) -> Result<Vec<Settled>> {
        let sql = format!(
            "SELECT id, run, attempts, cancel_requested, lease_owner FROM jobs \
             WHERE state = 'running' AND lease_until < $1 ORDER BY id{}",
            match self.backend {
                Backend::Postgres => " FOR NO KEY UPDATE SKIP LOCKED",
                Backend::Sqlite => "",
            }
        );
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(self.stmt(&sql))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        let mut out: Vec<(Id, Settled)> = Vec::with_capacity(rows.len());
        for row in rows {
            let job: Id = row.try_get(0)?;
            let run: Id = row.try_get(1)?;
            let attempts: i64 = row.try_get(2)?;
            let owner: Option<String> = row.try_get(4)?;
            let reason = format!(
                "the lease of worker {} ran out",
                owner.as_deref().unwrap_or("?")
            );
            let next = if row.try_get::<i64, _>(3)? != 0 {
                Next::Cancel
            } else if attempts >= i64::from(policy.max_attempts) {
                Next::GiveUp(format!("{reason} on the last of {attempts} attempts"))
            } else {
                Next::Retry {
                    reason,
                    not_before: None,
                }
            };
            let fate = self.apply(&mut tx, job, next, now).await?;
            tracing::info!(job, run, worker = owner, ?fate, "lease expired");
            out.push((
                run,
                Settled {
                    job,
                    fate,
                    run_end: None,
                },
            ));
        }
        // A run ends at most once, reported with the last of its jobs settled here.
        for i in (0..out.len()).rev() {
            let run = out[i].0;
            if out[i + 1..].iter().any(|(r, _)| *r == run) {
                continue;
            }
            out[i].1.run_end = self.end_run_if_finished(&mut tx, run, now).await?;
        }
        tx.commit().await?;
        Ok(out.into_iter().map(|(_, s)| s).collect())
    }

    /// Ends `run` if no job of it is queued or running: `cancelled` with its cancel reason if
    /// a cancel was requested, `done` otherwise. Called inside every transaction that may
    /// finish a run's last job; returns the end only to the one that made it.
    async fn end_run_if_finished(
        &self,
        tx: &mut Transaction<'static, Any>,
        run: Id,
        now: i64,
    ) -> Result<Option<RunEnd>> {
        // Locking the run first serializes this check between transactions that finish jobs
        // of the same run; the count below then sees every earlier one's commit.
        let sql = format!(
            "SELECT state, cancel_requested, cancel_reason FROM runs WHERE id = $1{}",
            self.row_lock()
        );
        let Some(row) = sqlx::query(self.stmt(&sql))
            .bind(run)
            .fetch_optional(&mut **tx)
            .await?
        else {
            return Ok(None);
        };
        let state: String = row.try_get(0)?;
        if !matches!(state.as_str(), "queued" | "running") {
            return Ok(None);
        }
        let cancelled = row.try_get::<i64, _>(1)? != 0;
        let reason: Option<String> = row.try_get(2)?;
        let open: i64 =
            sqlx::query(self.stmt(
                "SELECT COUNT(*) FROM jobs WHERE run = $1 AND state IN ('queued', 'running')",
            ))
            .bind(run)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        if open > 0 {
            return Ok(None);
        }
        let sql = if cancelled {
            "UPDATE runs SET state = 'cancelled', reason = cancel_reason, finished_at = $1 \
             WHERE id = $2"
        } else {
            "UPDATE runs SET state = 'done', finished_at = $1 WHERE id = $2"
        };
        sqlx::query(self.stmt(sql))
            .bind(now)
            .bind(run)
            .execute(&mut **tx)
            .await?;
        tracing::info!(run, cancelled, "run ended");
        Ok(Some(RunEnd {
            run,
            cancelled,
            reason: if cancelled { reason } else { None },
        }))
    }

    /// A newer revision arrived: cancels the runs of the older revisions of the same work.
    /// `lineage` holds the series keys of the revisions (the new one may be among them: only
    /// runs with a revision below `newer_revision` are touched). Their queued jobs are
    /// cancelled at once; their running jobs are asked to stop, which their workers learn when
    /// they renew; each run ends `cancelled` with `reason` once nothing of it runs.
    pub async fn supersede(
        &self,
        lineage: &[String],
        newer_revision: u32,
        reason: &str,
        now: i64,
    ) -> Result<Cancellation> {
        if lineage.is_empty() {
            return Ok(Cancellation::default());
        }
        let sql = format!(
            "SELECT id FROM runs WHERE revision < $1 AND executor = 'queue' \
             AND state IN ('queued', 'running') AND cancel_requested = 0 \
             AND series_key IN ({}) ORDER BY id",
            numbered(2, lineage.len())
        );
        let mut q = sqlx::query(self.stmt(&sql)).bind(i64::from(newer_revision));
        for key in lineage {
            q = q.bind(key.clone());
        }
        let runs = q
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<Id, _>(0))
            .collect::<Result<Vec<Id>, _>>()?;
        self.cancel_runs(&runs, reason, now).await
    }

    /// Cancels a queued run by hand (`gauntlet cancel`), the way [`Store::supersede`] does.
    /// A run that has ended, or that the local pipeline runs, is left alone (nothing in the
    /// returned [`Cancellation`]).
    pub async fn cancel_run(&self, run: Id, reason: &str, now: i64) -> Result<Cancellation> {
        let active = sqlx::query(self.stmt(
            "SELECT id FROM runs WHERE id = $1 AND executor = 'queue' \
             AND state IN ('queued', 'running') AND cancel_requested = 0",
        ))
        .bind(run)
        .fetch_optional(&self.pool)
        .await?;
        match active {
            Some(_) => self.cancel_runs(&[run], reason, now).await,
            None => Ok(Cancellation::default()),
        }
    }

    async fn cancel_runs(&self, runs: &[Id], reason: &str, now: i64) -> Result<Cancellation> {
        let mut out = Cancellation::default();
        if runs.is_empty() {
            return Ok(out);
        }
        let list = numbered(3, runs.len());
        let mut tx = self.begin_write().await?;
        // Jobs first, runs second: the lock order of every transaction here. The right-hand
        // sides all read the row as it was, so `state` below is the old state.
        let sql = format!(
            "UPDATE jobs SET \
             status = CASE WHEN state = 'queued' THEN 'MISS' ELSE status END, \
             reason = CASE WHEN state = 'queued' THEN $1 ELSE reason END, \
             finished_at = CASE WHEN state = 'queued' THEN $2 ELSE finished_at END, \
             cancel_requested = CASE WHEN state = 'running' THEN 1 ELSE cancel_requested END, \
             state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END \
             WHERE state IN ('queued', 'running') AND run IN ({list}) RETURNING state"
        );
        let mut q = sqlx::query(self.stmt(&sql))
            .bind(reason.to_owned())
            .bind(now);
        for run in runs {
            q = q.bind(*run);
        }
        for row in q.fetch_all(&mut *tx).await? {
            if row.try_get::<String, _>(0)? == "cancelled" {
                out.cancelled_jobs += 1;
            } else {
                out.stopping_jobs += 1;
            }
        }
        let sql = format!(
            "UPDATE runs SET cancel_requested = 1, cancel_reason = $1 \
             WHERE state IN ('queued', 'running') AND cancel_requested = 0 AND id IN ({}) \
             RETURNING id",
            numbered(2, runs.len())
        );
        let mut q = sqlx::query(self.stmt(&sql)).bind(reason.to_owned());
        for run in runs {
            q = q.bind(*run);
        }
        for row in q.fetch_all(&mut *tx).await? {
            out.runs.push(row.try_get(0)?);
        }
        out.runs.sort_unstable();
        for run in out.runs.clone() {
            if let Some(end) = self.end_run_if_finished(&mut tx, run, now).await? {
                out.ended.push(end);
            }
        }
        tx.commit().await?;
        tracing::info!(
            runs = ?out.runs,
            cancelled = out.cancelled_jobs,
            stopping = out.stopping_jobs,
            reason,
            "runs cancelled"
        );
        Ok(out)
    }
}

/// A transition decided for a running job.
enum Next {
    Retry {
        reason: String,
        not_before: Option<i64>,
    },
    Release,
    GiveUp(String),
    Cancel,
}

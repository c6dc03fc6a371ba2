//! Who works and where the sources stand: the registry of workers (for `gauntlet status` and
//! for telling a live worker from a dead one), and each source's cursor.
//!
//! A worker's registration is advisory: leases, not the registry, decide who may work on a
//! job. A worker that stops heartbeating is shown as silent, and its jobs come back when their
//! leases run out ([`Store::expire_leases`]), whether or not its row is ever removed.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{json_list, parse_list};
use crate::{Id, Result, Store};

/// A worker announcing itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWorker {
    /// Unique per process (host, pid and a random part, say): leases are given to this name.
    pub name: String,
    pub capabilities: Vec<String>,
    pub host: String,
    pub pid: i64,
}

/// A job a worker holds a lease on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedJob {
    pub job: Id,
    pub run: Id,
    pub stage: String,
    pub name: String,
    pub worker: String,
    pub attempt: i64,
    pub started_at: Option<i64>,
    pub lease_until: Option<i64>,
    pub cancel_requested: bool,
}

/// A registered worker and the jobs it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerStatus {
    pub name: String,
    pub capabilities: Vec<String>,
    pub host: String,
    pub pid: i64,
    pub started_at: i64,
    pub heartbeat_at: i64,
    /// What the worker last said it was doing (`idle`, `busy`, `stopping`).
    pub state: String,
    pub jobs: Vec<LeasedJob>,
}

/// Where a source stopped reading, and how its last polls went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    pub name: String,
    /// The source's own bookmark (a Patchwork `since`, a lore epoch's last commit, …).
    pub cursor: Option<String>,
    pub last_poll_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    /// Why the last poll failed; cleared by a good one.
    pub last_error: Option<String>,
}

fn leased_from_row(row: &AnyRow) -> Result<LeasedJob> {
    Ok(LeasedJob {
        job: row.try_get(0)?,
        run: row.try_get(1)?,
        stage: row.try_get(2)?,
        name: row.try_get(3)?,
        worker: row.try_get(4)?,
        attempt: row.try_get(5)?,
        started_at: row.try_get(6)?,
        lease_until: row.try_get(7)?,
        cancel_requested: row.try_get::<i64, _>(8)? != 0,
    })
}

fn source_from_row(row: &AnyRow) -> Result<SourceState> {
    Ok(SourceState {
        name: row.try_get(0)?,
        cursor: row.try_get(1)?,
        last_poll_at: row.try_get(2)?,
        last_ok_at: row.try_get(3)?,
        last_error: row.try_get(4)?,
    })
}

const SOURCE_COLUMNS: &str = "name, cursor, last_poll_at, last_ok_at, last_error";

impl Store {
    /// Registers a worker, or registers it again (a restart under the same name), as `idle`.
    pub async fn register_worker(&self, worker: &NewWorker, now: i64) -> Result<()> {
        sqlx::query(self.stmt(
            "INSERT INTO workers (name, capabilities, host, pid, started_at, heartbeat_at, state) \
             VALUES ($1, $2, $3, $4, $5, $5, 'idle') ON CONFLICT (name) DO UPDATE SET \
             capabilities = excluded.capabilities, host = excluded.host, pid = excluded.pid, \
             started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, \
             state = excluded.state",
        ))
        .bind(worker.name.clone())
        .bind(json_list(&worker.capabilities))
        .bind(worker.host.clone())
        .bind(worker.pid)
        .bind(now)
        .execute(&self.pool)
        .await?;
        tracing::info!(
            worker = worker.name,
            capabilities = ?worker.capabilities,
            "worker registered"
        );
        Ok(())
    }

    /// Records that a worker is alive and what it is doing. `false` when it is not registered
    /// (someone forgot it as silent): it should register again.
    pub async fn heartbeat(&self, name: &str, state: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            self.stmt("UPDATE workers SET heartbeat_at = $1, state = $2 WHERE name = $3"),
        )
        .bind(now)
        .bind(state.to_owned())
        .bind(name.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a worker that stops (after releasing or finishing its jobs).
    pub async fn unregister_worker(&self, name: &str) -> Result<bool> {
        let done = sqlx::query(self.stmt("DELETE FROM workers WHERE name = $1"))
            .bind(name.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes the workers not heard from since `before` (killed without unregistering);
    /// returns how many.
    pub async fn forget_silent_workers(&self, before: i64) -> Result<u64> {
        let done = sqlx::query(self.stmt("DELETE FROM workers WHERE heartbeat_at < $1"))
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Every job under a lease, oldest claim first.
    pub async fn leased_jobs(&self) -> Result<Vec<LeasedJob>> {
        sqlx::query(
            "SELECT id, run, stage, name, lease_owner, attempts, started_at, lease_until, \
             cancel_requested FROM jobs WHERE state = 'running' AND lease_owner IS NOT NULL \
             ORDER BY started_at, id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(leased_from_row)
        .collect()
    }

    /// The registered workers, by name, each with the jobs it holds.
    pub async fn workers(&self) -> Result<Vec<WorkerStatus>> {
        let rows = sqlx::query(
            "SELECT name, capabilities, host, pid, started_at, heartbeat_at, state FROM workers \
             ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut leased = self.leased_jobs().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.try_get(0)?;
            let caps: String = row.try_get(1)?;
            let (jobs, rest) = leased.into_iter().partition(|j| j.worker == name);
            leased = rest;
            out.push(WorkerStatus {
                capabilities: parse_list(Some(&caps), "workers.capabilities")?,
                name,
                host: row.try_get(2)?,
                pid: row.try_get(3)?,
                started_at: row.try_get(4)?,
                heartbeat_at: row.try_get(5)?,
                state: row.try_get(6)?,
                jobs,
            });
        }
        Ok(out)
    }

    /// A source's state, if it ever polled.
    pub async fn source_state(&self, name: &str) -> Result<Option<SourceState>> {
        let sql = format!("SELECT {SOURCE_COLUMNS} FROM source_state WHERE name = $1");
        sqlx::query(self.stmt(&sql))
            .bind(name.to_owned())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(source_from_row)
            .transpose()
    }

    /// Every source's state, by name.
    pub async fn source_states(&self) -> Result<Vec<SourceState>> {
        let sql = format!("SELECT {SOURCE_COLUMNS} FROM source_state ORDER BY name");
        sqlx::query(self.stmt(&sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(source_from_row)
            .collect()
    }

    /// A good poll: moves the cursor to `cursor` (kept as it was when `None`) and clears the
    /// last error. Call it only once what the poll read is stored, so that a crash in between
    /// reads it again rather than skipping it.
    pub async fn source_polled(&self, name: &str, cursor: Option<&str>, now: i64) -> Result<()> {
        sqlx::query(self.stmt(
            "INSERT INTO source_state (name, cursor, last_poll_at, last_ok_at, last_error) \
             VALUES ($1, $2, $3, $3, NULL) ON CONFLICT (name) DO UPDATE SET \
             cursor = COALESCE(excluded.cursor, source_state.cursor), \
             last_poll_at = excluded.last_poll_at, last_ok_at = excluded.last_ok_at, \
             last_error = NULL",
        ))
        .bind(name.to_owned())
        .bind(cursor.map(str::to_owned))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A failed poll: records the error, keeps the cursor.
    pub async fn source_failed(&self, name: &str, error: &str, now: i64) -> Result<()> {
        sqlx::query(self.stmt(
            "INSERT INTO source_state (name, last_poll_at, last_error) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET last_poll_at = excluded.last_poll_at, \
             last_error = excluded.last_error",
        ))
        .bind(name.to_owned())
        .bind(now)
        .bind(error.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

//! Small helpers shared by the service's tables (queue, workers, ledger, patch states):
//! statement text for either database, write transactions, the clock, JSON lists.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Any, Row, Transaction};

use crate::{Backend, Error, Result, Store};

/// The host's clock in Unix seconds: what callers pass as `now` unless they use
/// [`Store::db_now`].
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Seconds of a duration, rounded up (a lease of 1.5 s must not become 1 s) and saturated.
pub(crate) fn seconds(d: std::time::Duration) -> i64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// A list of strings as the JSON text stored in `jobs.requires` and `workers.capabilities`.
pub(crate) fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// The inverse of [`json_list`]; NULL is the empty list.
pub(crate) fn parse_list(text: Option<&str>, what: &str) -> Result<Vec<String>> {
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(t)
            .map_err(|e| Error::Corrupt(format!("{what} is not a JSON list of strings: {e}"))),
    }
}

impl Store {
    /// `sql` written with `$N` placeholders, as this database takes it: SQLite reads `?N` (the
    /// numbered form, so that a parameter may be used twice), PostgreSQL `$N`.
    pub(crate) fn stmt(&self, sql: &str) -> sqlx::AssertSqlSafe<String> {
        sqlx::AssertSqlSafe(match self.backend {
            Backend::Postgres => sql.to_owned(),
            Backend::Sqlite => sql.replace('$', "?"),
        })
    }

    /// A row lock for the selected rows on PostgreSQL, nothing on SQLite (whose write
    /// transactions already exclude every other writer). `FOR NO KEY UPDATE`, the lock an
    /// `UPDATE` that keeps the key takes, rather than `FOR UPDATE`: the latter also blocks the
    /// foreign-key checks of rows inserted elsewhere that refer to the locked one (a job's
    /// dependency), which would let an insert and a lock holder wait on each other.
    pub(crate) fn row_lock(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR NO KEY UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// A transaction that will write. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads first and writes later can fail with
    /// `SQLITE_BUSY` without waiting when another connection wrote in between, which is exactly
    /// what concurrent workers do. On PostgreSQL rows are locked as the statements reach them.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// The database server's clock in Unix seconds. Workers on several hosts that pass this as
    /// `now` agree on when a lease runs out even when their own clocks drift; one round trip
    /// each time, so a worker may also read it once and keep the offset to its own clock.
    pub async fn db_now(&self) -> Result<i64> {
        let sql = match self.backend {
            Backend::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
            Backend::Sqlite => "SELECT CAST(strftime('%s', 'now') AS INTEGER)",
        };
        let row = sqlx::query(sql).fetch_one(&self.pool).await?;
        Ok(row.try_get(0)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_up() {
        assert_eq!(seconds(std::time::Duration::from_millis(1500)), 2);
        assert_eq!(seconds(std::time::Duration::from_secs(30)), 30);
        assert_eq!(seconds(std::time::Duration::ZERO), 0);
    }

    #[test]
    fn lists_round_trip() {
        let caps = vec!["arch:x86_64".to_owned(), "qemu:ärm".to_owned()];
        assert_eq!(parse_list(Some(&json_list(&caps)), "x").unwrap(), caps);
        assert!(parse_list(None, "x").unwrap().is_empty());
        assert!(parse_list(Some("{"), "x").is_err());
    }
}

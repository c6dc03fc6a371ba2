//! gauntlet's database, on SQLite (a file, in WAL mode: the embedded default) or PostgreSQL
//! (when the URL says `postgres://`). The only crate that contains SQL.
//!
//! Raw mails are kept verbatim in `mails`; every other table is derived from them and can be
//! rebuilt ([`Store::reset_derived`], used by `gauntlet reindex`).
//!
//! Both databases run the same SQL through sqlx's `Any` driver (`$N` placeholders, portable
//! types: 64-bit integers, text, bytes), with one migration directory per database for the DDL
//! that differs. Ingestion works in batches inside one transaction that holds the ingest lock
//! (`BEGIN IMMEDIATE` on SQLite, an advisory lock on PostgreSQL): [`Store::begin_ingest`].

mod db;
mod ingest;
mod ledger;
mod metrics;
mod queue;
mod read;
mod runs;
mod sql;
mod states;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod web;
mod workers;

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

pub use db::unix_now;
pub use gauntlet_series::Id;
pub use ingest::{IngestTx, NewMail};
pub use ledger::{Delivery, DeliveryKind, DeliveryState, delivery_key};
pub use metrics::{DURATION_BUCKETS_MS, JobCount, QueueMetrics, StageDurations};
pub use queue::{
    Cancellation, Claimed, Fate, Lease, QueuedJob, Renewal, RetryPolicy, RunEnd, Settled,
};
pub use read::{
    ExportSeries, LineageMember, MailRow, MessageSummary, PersonSummary, SeriesDetail,
    SeriesFilter, SeriesSummary, StoreStats,
};
pub use runs::{FindingRow, JobEnd, JobRow, NewJob, NewRun, ResultRow, RunDetail, RunSummary};
pub use states::{NewPatchState, PatchState, PatchStateRow, SetBy, StateChange};
pub use tokens::{TOKEN_PREFIX, TokenInfo};
pub use web::{
    FindingEntry, JobFilter, ResultEntry, ResultFilter, RunFilter, SUBMISSION_STATES,
    SeriesPageFilter, SubmissionRow, WebCounts, submission_state,
};
pub use workers::{LeasedJob, NewWorker, SourceState, WorkerStatus};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?} (expected sqlite:PATH or postgres://…)")]
    Url(String),
    #[error("cannot create the directory for {path}: {source}")]
    Dir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("inconsistent data in the store: {0}")]
    Corrupt(String),
    /// A request the store refuses (a job after a job of another run, an unknown patch state).
    #[error("invalid request to the store: {0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A connection pool to gauntlet's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATE_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// `sqlite:PATH`, `sqlite://PATH` or a bare path → an `Any` SQLite URL that creates the file.
fn sqlite_url(url: &str) -> Result<String> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    if path != ":memory:"
        && let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|source| Error::Dir {
            path: path.to_string(),
            source,
        })?;
    }
    let query = query.unwrap_or("mode=rwc");
    Ok(format!("sqlite://{path}?{query}"))
}

impl Store {
    /// Opens (creating when needed) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else if url.starts_with("sqlite:") || !url.contains("://") {
            (Backend::Sqlite, sqlite_url(url)?)
        } else {
            return Err(Error::Url(url.to_string()));
        };
        // Statements are logged by gauntlet where it matters; sqlx's own logging would print
        // every multi-row insert in full.
        let options: AnyConnectOptions = url
            .parse::<AnyConnectOptions>()?
            .log_statements(tracing::log::LevelFilter::Off)
            .log_slow_statements(tracing::log::LevelFilter::Off, Duration::from_secs(3600));
        let mut pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(60));
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options).await?;
        match backend {
            Backend::Sqlite => MIGRATE_SQLITE.run(&pool).await?,
            Backend::Postgres => MIGRATE_POSTGRES.run(&pool).await?,
        }
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection (waits for them to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts an ingestion batch: a transaction holding the ingest lock.
    pub async fn begin_ingest(&self) -> Result<IngestTx> {
        IngestTx::begin(self).await
    }

    /// Deletes everything derived from the raw mails (people, series, messages, references) and
    /// marks every mail as not yet processed, so that they can be ingested again in order.
    pub async fn reset_derived(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "DELETE FROM series_refs",
            "DELETE FROM messages",
            "DELETE FROM series",
            "DELETE FROM people",
            "UPDATE mails SET outcome = 'pending', reason = NULL",
        ] {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

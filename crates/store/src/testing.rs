//! Throw-away databases for tests and benchmarks (feature `testing`): a fresh SQLite file, or a
//! fresh PostgreSQL database created next to the one `GAUNTLET_TEST_POSTGRES_URL` names (whose
//! role must be allowed to create databases) and dropped afterwards.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{AnyConnection, Connection, Executor};

use crate::Result;

/// The PostgreSQL server tests use, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("GAUNTLET_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A database that disappears when dropped (SQLite) or when [`TestDb::cleanup`] runs
/// (PostgreSQL).
pub struct TestDb {
    pub url: String,
    pg: Option<(String, String)>,
    _dir: Option<tempfile_dir::Dir>,
}

mod tempfile_dir {
    /// A temporary directory removed on drop (std only, to keep the dependency list short).
    pub(super) struct Dir(pub(super) std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn unique() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}_{n}_{t}", std::process::id())
}

fn replace_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl TestDb {
    /// A fresh SQLite database in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(format!("gauntlet-test-{}", unique()));
        let _ = std::fs::create_dir_all(&dir);
        TestDb {
            url: format!("sqlite://{}", dir.join("gauntlet.db").display()),
            pg: None,
            _dir: Some(tempfile_dir::Dir(dir)),
        }
    }

    /// A fresh PostgreSQL database on the server of `base_url`.
    pub async fn postgres(base_url: &str) -> Result<TestDb> {
        sqlx::any::install_default_drivers();
        let name = format!("gauntlet_test_{}", unique());
        let mut conn = AnyConnection::connect(base_url).await?;
        // From template0, which nobody connects to: concurrent tests copying template1 can be
        // refused ("source database is being accessed by other users"). Retry briefly anyway.
        let sql = format!("CREATE DATABASE {name} TEMPLATE template0");
        let mut attempt = 0;
        loop {
            match conn.execute(sqlx::AssertSqlSafe(sql.clone())).await {
                Ok(_) => break,
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::debug!("CREATE DATABASE failed ({e}), retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        conn.close().await?;
        Ok(TestDb {
            url: replace_database(base_url, &name),
            pg: Some((base_url.to_string(), name)),
            _dir: None,
        })
    }

    /// Drops a PostgreSQL database (nothing to do for SQLite).
    pub async fn cleanup(self) -> Result<()> {
        if let Some((base, name)) = &self.pg {
            let mut conn = AnyConnection::connect(base).await?;
            conn.execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await?;
            conn.close().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            replace_database("postgres://u:p@h:5432/gauntlet", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u:p@h/gauntlet?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }
}

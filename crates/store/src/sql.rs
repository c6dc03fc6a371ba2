//! Statement building shared by the store: multi-row inserts and `IN (...)` lookups, chunked to
//! stay within both databases' limits on bound parameters.
//!
//! Placeholders are `$N` on PostgreSQL and anonymous `?` on SQLite: SQLite finds a named
//! parameter (`$N`, `?N`) by scanning the list of names, which makes binding thousands of them
//! quadratic (it was 70 % of the ingest time).

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AssertSqlSafe};

use crate::{Backend, Result};

/// Bound parameters per statement (SQLite allows 32,766, PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;
/// Bytes of bound data per statement, so that big mails go in several statements.
const MAX_BYTES: usize = 16 << 20;
/// Values per `IN (...)` list.
const MAX_IN: usize = 10_000;

/// A value to bind.
#[derive(Debug, Clone)]
pub(crate) enum V {
    I(i64),
    NI(Option<i64>),
    T(String),
    NT(Option<String>),
    B(Vec<u8>),
}

impl V {
    fn size(&self) -> usize {
        match self {
            V::T(s) => s.len(),
            V::NT(s) => s.as_ref().map_or(0, String::len),
            V::B(b) => b.len(),
            _ => 8,
        }
    }
}

fn bind(q: Query<'_, Any, AnyArguments>, v: V) -> Query<'_, Any, AnyArguments> {
    match v {
        V::I(i) => q.bind(i),
        V::NI(i) => q.bind(i),
        V::T(s) => q.bind(s),
        V::NT(s) => q.bind(s),
        V::B(b) => q.bind(b),
    }
}

/// `$first, $first+1, …` (PostgreSQL) or `?, ?, …` (SQLite) for `n` values.
pub(crate) fn placeholders(backend: Backend, first: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 5);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        match backend {
            Backend::Postgres => {
                s.push('$');
                s.push_str(&(first + i).to_string());
            }
            Backend::Sqlite => s.push('?'),
        }
    }
    s
}

/// For SQLite, `$1`, `$2`, … in `sql` become `?`; they must appear in that order, once each.
fn anonymous(backend: Backend, sql: &str) -> String {
    if backend == Backend::Postgres {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// `INSERT INTO table (cols) VALUES (…), (…) tail` for all `rows`, in as few statements as the
/// limits allow.
pub(crate) async fn insert_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<V>>,
    tail: &str,
) -> Result<()> {
    let ncols = columns.len();
    let head = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut chunk: Vec<Vec<V>> = Vec::new();
        let mut bytes = 0;
        while let Some(row) = rows.peek() {
            let size: usize = row.iter().map(V::size).sum();
            if !chunk.is_empty()
                && ((chunk.len() + 1) * ncols > MAX_PARAMS || bytes + size > MAX_BYTES)
            {
                break;
            }
            bytes += size;
            if let Some(row) = rows.next() {
                chunk.push(row);
            }
        }
        let mut sql = head.clone();
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            sql.push_str(&placeholders(backend, i * ncols + 1, ncols));
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        // Generated statements vary with the number of rows: caching them would only hold
        // memory (a prepared statement with thousands of parameters is big).
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for row in chunk {
            for v in row {
                q = bind(q, v);
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Runs `sql` with `{in}` replaced by a placeholder list, once per chunk of `values`, with the
/// `fixed` values bound first (written `$1…` in `sql`, in order, before `{in}`); collects every
/// row.
pub(crate) async fn select_in(
    conn: &mut AnyConnection,
    backend: Backend,
    sql: &str,
    fixed: &[V],
    values: Vec<V>,
) -> Result<Vec<AnyRow>> {
    let mut out = Vec::new();
    let mut values = values.into_iter().peekable();
    while values.peek().is_some() {
        let chunk: Vec<V> = values.by_ref().take(MAX_IN).collect();
        let list = placeholders(backend, fixed.len() + 1, chunk.len());
        let text = anonymous(backend, sql).replace("{in}", &list);
        let mut q = sqlx::query(AssertSqlSafe(text)).persistent(false);
        for v in fixed.iter().cloned().chain(chunk) {
            q = bind(q, v);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(Backend::Postgres, 1, 3), "$1,$2,$3");
        assert_eq!(placeholders(Backend::Postgres, 4, 1), "$4");
        assert_eq!(placeholders(Backend::Sqlite, 4, 2), "?,?");
        assert_eq!(placeholders(Backend::Sqlite, 1, 0), "");
        assert_eq!(
            anonymous(Backend::Sqlite, "a >= $1 AND b <= $2 AND c IN ({in})"),
            "a >= ? AND b <= ? AND c IN ({in})"
        );
        assert_eq!(anonymous(Backend::Postgres, "a = $1"), "a = $1");
    }
}

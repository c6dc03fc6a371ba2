//! API tokens: who may use the web's write actions (rerun, cancel), and its reads when they
//! are not public.
//!
//! A token is `gauntlet_` and 64 hex digits (32 bytes from the kernel's random source). The
//! store keeps only its SHA-256 (hex) with a name, when it was made and when it was revoked:
//! [`Store::create_token`] returns the token once, [`Store::check_token`] finds the name of a
//! token that is not revoked. A name belongs to at most one token that is not revoked.

use std::io::Read;

use sqlx::Row;

use crate::db::unix_now;
use crate::{Error, Id, Result, Store};

/// What every token starts with (it tells a gauntlet token in a config file or a leak report).
pub const TOKEN_PREFIX: &str = "gauntlet_";

/// A token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: Id,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// The SHA-256 of `data`, as 32 bytes.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The stored form of a token: the hex SHA-256 of its text.
fn token_hash(token: &str) -> String {
    hex(&sha256(token.as_bytes()))
}

/// A new token from 32 bytes of the kernel's random source.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::Invalid(format!("no random bytes for a token (/dev/urandom): {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// A token's name: 1 to 100 characters, none of them a control character.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "a token's name has 1 to 100 characters and no control characters, not {name:?}"
        )));
    }
    Ok(())
}

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<TokenInfo> {
    let (id, name, created_at, revoked_at) = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    );
    Ok(TokenInfo {
        id,
        name,
        created_at,
        revoked_at,
    })
}

impl Store {
    /// Issues a token named `name`; returns its id and the token, which is not kept (only
    /// its hash is). Refused when a token of that name is not revoked.
    pub async fn create_token(&self, name: &str) -> Result<(Id, String)> {
        check_name(name)?;
        let token = new_token()?;
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query(
            self.stmt("SELECT id FROM api_tokens WHERE name = $1 AND revoked_at IS NULL"),
        )
        .bind(name.to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(Error::Invalid(format!(
                "there is a token named {name:?} already (revoke it first)"
            )));
        }
        let row = sqlx::query(self.stmt(
            "INSERT INTO api_tokens (name, hash, created_at) VALUES ($1, $2, $3) RETURNING id",
        ))
        .bind(name.to_owned())
        .bind(token_hash(&token))
        .bind(unix_now())
        .fetch_one(&mut *tx)
        .await?;
        let id: Id = row.try_get(0)?;
        tx.commit().await?;
        tracing::info!(token = id, name, "token created");
        Ok((id, token))
    }

    /// The name of the token `token`, if it was issued and is not revoked.
    pub async fn check_token(&self, token: &str) -> Result<Option<String>> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let row = sqlx::query(
            self.stmt("SELECT name FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL"),
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Revokes the token named `name`; false when there is none that is not revoked.
    pub async fn revoke_token(&self, name: &str) -> Result<bool> {
        let done =
            sqlx::query(self.stmt(
                "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
            ))
            .bind(unix_now())
            .bind(name.to_owned())
            .execute(&self.pool)
            .await?;
        let revoked = done.rows_affected() > 0;
        if revoked {
            tracing::info!(name, "token revoked");
        }
        Ok(revoked)
    }

    /// Every token issued, revoked ones included, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, revoked_at FROM api_tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::testing::{TestDb, postgres_url};

    #[test]
    fn sha256_of_the_standard_vectors() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        // One block and a second for the padding alone; and a million 'a's.
        assert_eq!(
            hex(&sha256(&[b'a'; 64])),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"
        );
        assert_eq!(
            hex(&sha256(&vec![b'a'; 1_000_000])),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    async fn tokens_on(store: &Store) {
        let (id, token) = store.create_token("ci bot").await.unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(
            store.check_token(&token).await.unwrap().as_deref(),
            Some("ci bot")
        );
        assert_eq!(store.check_token("gauntlet_00").await.unwrap(), None);
        assert_eq!(store.check_token("").await.unwrap(), None);
        // Only the hash is stored.
        let stored: String = sqlx::query("SELECT hash FROM api_tokens")
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(stored, token_hash(&token));
        assert!(!stored.contains(&token[TOKEN_PREFIX.len()..]));
        assert!(store.create_token("ci bot").await.is_err());
        assert!(store.create_token("").await.is_err());
        assert!(store.create_token("a\nb").await.is_err());
        let (_, other) = store.create_token("alice").await.unwrap();
        assert_ne!(other, token);

        assert!(store.revoke_token("ci bot").await.unwrap());
        assert!(!store.revoke_token("ci bot").await.unwrap());
        assert_eq!(store.check_token(&token).await.unwrap(), None);
        // The name is free again; the revoked token stays listed.
        let (again, fresh) = store.create_token("ci bot").await.unwrap();
        assert_ne!(again, id);
        assert_eq!(
            store.check_token(&fresh).await.unwrap().as_deref(),
            Some("ci bot")
        );
        let list = store.tokens().await.unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].id, id);
        assert!(list[0].revoked_at.is_some());
        assert!(list[1..].iter().all(|t| t.revoked_at.is_none()));
    }

    #[tokio::test]
    async fn tokens_on_every_database() {
        let mut dbs = vec![TestDb::sqlite()];
        if let Some(url) = postgres_url() {
            dbs.push(TestDb::postgres(&url).await.unwrap());
        }
        for db in dbs {
            let store = Store::open(&db.url).await.unwrap();
            tokens_on(&store).await;
            store.close().await;
            db.cleanup().await.unwrap();
        }
    }
}

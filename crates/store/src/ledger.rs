//! The delivery ledger: everything gauntlet tells the outside world (a Patchwork check, a mail,
//! a Patchwork state, a pushed branch) is recorded here before it is sent, under a key that
//! names the fact being told, so that it is never told twice.
//!
//! The protocol, for every sender:
//! 1. [`Store::intend`] with the key. If the row is not new and is `sent`, stop: it was sent.
//! 2. Send.
//! 3. [`Store::mark_sent`] (or [`Store::mark_failed`] with the error).
//!
//! A crash between 2 and 3 leaves an `intended` row whose fate nobody knows: the far side may
//! or may not have it. [`Store::pending_deliveries`] lists those rows for a restarted server,
//! and the sender must resolve each one before sending it again — by asking the far side
//! (Patchwork: list the patch's checks and look for this context, state and description; a
//! state: read the patch's current state), or by sending in a way the far side recognizes as a
//! repeat (a mail's Message-ID derived from the key, so that a duplicate threads onto and is
//! dropped as the same message; a branch push is idempotent by nature). The ledger turns "at
//! least once" into "exactly once" only together with such a sender.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Error, Id, Result, Store};

/// What a delivery tells, and so how its sender checks the far side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryKind {
    /// A Patchwork check on a patch.
    Check,
    /// A mail (a report to the submitter).
    Mail,
    /// A Patchwork patch state.
    State,
    /// A branch pushed to a published tree.
    Push,
}

impl DeliveryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Check => "check",
            DeliveryKind::Mail => "mail",
            DeliveryKind::State => "state",
            DeliveryKind::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryKind> {
        Some(match s {
            "check" => DeliveryKind::Check,
            "mail" => DeliveryKind::Mail,
            "state" => DeliveryKind::State,
            "push" => DeliveryKind::Push,
            _ => return None,
        })
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Recorded, not (known to be) sent.
    Intended,
    Sent,
    /// The last attempt failed (see `last_error`); retried while attempts remain.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Intended => "intended",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        Some(match s {
            "intended" => DeliveryState::Intended,
            "sent" => DeliveryState::Sent,
            "failed" => DeliveryState::Failed,
            _ => return None,
        })
    }
}

/// A row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Id,
    pub key: String,
    pub kind: DeliveryKind,
    /// Where it goes: a patch's checks URL, a mail address, a remote.
    pub target: String,
    /// JSON: what is sent.
    pub payload: String,
    pub state: DeliveryState,
    /// Attempts that reached an answer (sent or failed); a crash mid-send counts none.
    pub attempts: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub last_error: Option<String>,
}

/// A ledger key: the kind, then the parts that name the fact, joined by `:` — e.g. a check is
/// `check:<patchwork patch id>:<context>:<run id>:<state>`. `%` and `:` inside a part are
/// escaped, so that different parts never make the same key.
pub fn delivery_key(kind: DeliveryKind, parts: &[&str]) -> String {
    let mut key = kind.as_str().to_owned();
    for part in parts {
        key.push(':');
        for c in part.chars() {
            match c {
                '%' => key.push_str("%25"),
                ':' => key.push_str("%3A"),
                c => key.push(c),
            }
        }
    }
    key
}

const COLUMNS: &str =
    "id, key, kind, target, payload, state, attempts, created_at, sent_at, last_error";

fn delivery_from_row(row: &AnyRow) -> Result<Delivery> {
    let kind: String = row.try_get(2)?;
    let state: String = row.try_get(5)?;
    Ok(Delivery {
        id: row.try_get(0)?,
        key: row.try_get(1)?,
        kind: DeliveryKind::parse(&kind)
            .ok_or_else(|| Error::Corrupt(format!("delivery kind {kind:?}")))?,
        target: row.try_get(3)?,
        payload: row.try_get(4)?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| Error::Corrupt(format!("delivery state {state:?}")))?,
        attempts: row.try_get(6)?,
        created_at: row.try_get(7)?,
        sent_at: row.try_get(8)?,
        last_error: row.try_get(9)?,
    })
}

impl Store {
    /// Records the intent to deliver `payload` (JSON) under `key`; returns the row and whether
    /// this call created it. A key already recorded returns the existing row, whatever the
    /// other arguments: the first intent wins, even when several processes intend at once.
    pub async fn intend(
        &self,
        key: &str,
        kind: DeliveryKind,
        target: &str,
        payload: &str,
        now: i64,
    ) -> Result<(Delivery, bool)> {
        if let Err(e) = serde_json::from_str::<serde_json::Value>(payload) {
            return Err(Error::Invalid(format!(
                "the payload of delivery {key:?} is not JSON: {e}"
            )));
        }
        let sql = format!(
            "INSERT INTO deliveries (key, kind, target, payload, state, attempts, created_at) \
             VALUES ($1, $2, $3, $4, 'intended', 0, $5) ON CONFLICT (key) DO NOTHING \
             RETURNING {COLUMNS}"
        );
        let inserted = sqlx::query(self.stmt(&sql))
            .bind(key.to_owned())
            .bind(kind.as_str())
            .bind(target.to_owned())
            .bind(payload.to_owned())
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = inserted {
            return Ok((delivery_from_row(&row)?, true));
        }
        // The conflicting row is committed (an insert waits for a concurrent one with the same
        // key to commit before it conflicts), so this statement sees it.
        match self.delivery(key).await? {
            Some(d) => Ok((d, false)),
            None => Err(Error::Corrupt(format!(
                "delivery {key:?} conflicted but cannot be read"
            ))),
        }
    }

    /// The delivery recorded under `key`.
    pub async fn delivery(&self, key: &str) -> Result<Option<Delivery>> {
        let sql = format!("SELECT {COLUMNS} FROM deliveries WHERE key = $1");
        sqlx::query(self.stmt(&sql))
            .bind(key.to_owned())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(delivery_from_row)
            .transpose()
    }

    /// Records that a delivery was sent; `false` if it already was (nothing changes).
    pub async fn mark_sent(&self, id: Id, now: i64) -> Result<bool> {
        let done = sqlx::query(self.stmt(
            "UPDATE deliveries SET state = 'sent', sent_at = $1, attempts = attempts + 1 \
             WHERE id = $2 AND state <> 'sent'",
        ))
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed attempt (the far side refused or could not be reached); `false` if the
    /// delivery was sent already (nothing changes).
    pub async fn mark_failed(&self, id: Id, error: &str) -> Result<bool> {
        let done = sqlx::query(self.stmt(
            "UPDATE deliveries SET state = 'failed', last_error = $1, attempts = attempts + 1 \
             WHERE id = $2 AND state <> 'sent'",
        ))
        .bind(error.to_owned())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// What is still to be sent, oldest first: every `intended` row (each may have reached the
    /// far side before a crash: see the module documentation) and the `failed` ones with fewer
    /// than `max_attempts` attempts.
    pub async fn pending_deliveries(&self, max_attempts: u32) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries WHERE state = 'intended' \
             OR (state = 'failed' AND attempts < $1) ORDER BY id"
        );
        sqlx::query(self.stmt(&sql))
            .bind(i64::from(max_attempts))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(delivery_from_row)
            .collect()
    }

    /// The newest failed deliveries (for `gauntlet status`'s recent errors).
    pub async fn failed_deliveries(&self, limit: i64) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries WHERE state = 'failed' ORDER BY id DESC LIMIT $1"
        );
        sqlx::query(self.stmt(&sql))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(delivery_from_row)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_parts_apart() {
        assert_eq!(
            delivery_key(DeliveryKind::Check, &["12", "gauntlet-build", "7", "fail"]),
            "check:12:gauntlet-build:7:fail"
        );
        assert_ne!(
            delivery_key(DeliveryKind::Mail, &["a:b", "c"]),
            delivery_key(DeliveryKind::Mail, &["a", "b:c"])
        );
        assert_eq!(delivery_key(DeliveryKind::Push, &["50%"]), "push:50%25");
    }

    #[test]
    fn names_round_trip() {
        for k in [
            DeliveryKind::Check,
            DeliveryKind::Mail,
            DeliveryKind::State,
            DeliveryKind::Push,
        ] {
            assert_eq!(DeliveryKind::parse(k.as_str()), Some(k));
        }
        for s in [
            DeliveryState::Intended,
            DeliveryState::Sent,
            DeliveryState::Failed,
        ] {
            assert_eq!(DeliveryState::parse(s.as_str()), Some(s));
        }
    }
}

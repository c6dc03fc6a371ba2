//! Patch states as gauntlet records them: a history per patch (New, Under Review, Accepted,
//! Rejected, Changes Requested, Superseded), each change with who or what made it and why.
//!
//! The rule that matters: gauntlet never overrides a human. Once a maintainer (from the command
//! line) or a Patchwork user (seen in Patchwork's events) has set a patch's state, gauntlet's
//! own changes to that patch are refused ([`StateChange::RefusedHuman`]) until gauntlet is the
//! last to have set it again — which only a human's change back can bring about. A change by
//! gauntlet's own Patchwork account, seen coming back in Patchwork's events, must be recorded
//! as [`SetBy::Gauntlet`], not as a Patchwork user.
//!
//! Changes to one patch are serialized (an advisory lock per patch on PostgreSQL, the write
//! lock on SQLite), so that a check-then-set by gauntlet cannot slip past a human's change made
//! at the same moment.

use std::fmt;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Error, Id, Result, Store};

/// A patch's state, with Patchwork's names and slugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchState {
    New,
    UnderReview,
    Accepted,
    Rejected,
    ChangesRequested,
    Superseded,
}

impl PatchState {
    pub const ALL: [PatchState; 6] = [
        PatchState::New,
        PatchState::UnderReview,
        PatchState::Accepted,
        PatchState::Rejected,
        PatchState::ChangesRequested,
        PatchState::Superseded,
    ];

    /// The name, as stored and as Patchwork shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchState::New => "New",
            PatchState::UnderReview => "Under Review",
            PatchState::Accepted => "Accepted",
            PatchState::Rejected => "Rejected",
            PatchState::ChangesRequested => "Changes Requested",
            PatchState::Superseded => "Superseded",
        }
    }

    /// Patchwork's slug, which its REST API reads and writes.
    pub fn slug(self) -> &'static str {
        match self {
            PatchState::New => "new",
            PatchState::UnderReview => "under-review",
            PatchState::Accepted => "accepted",
            PatchState::Rejected => "rejected",
            PatchState::ChangesRequested => "changes-requested",
            PatchState::Superseded => "superseded",
        }
    }

    /// A name or a slug, in any case (Patchwork's filters accept both).
    pub fn parse(s: &str) -> Option<PatchState> {
        let s = s.trim();
        PatchState::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s) || p.slug().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for PatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who or what changed a patch's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SetBy {
    Gauntlet,
    /// A maintainer, from gauntlet's command line.
    Maintainer(String),
    /// A Patchwork user, as Patchwork's events name them.
    Patchwork(String),
}

impl SetBy {
    /// A person, whose choice gauntlet must not override.
    pub fn is_human(&self) -> bool {
        !matches!(self, SetBy::Gauntlet)
    }

    /// `gauntlet`, `maintainer:<name>` or `patchwork:<user>`.
    pub fn parse(s: &str) -> Option<SetBy> {
        if s == "gauntlet" {
            return Some(SetBy::Gauntlet);
        }
        if let Some(name) = s.strip_prefix("maintainer:") {
            return Some(SetBy::Maintainer(name.to_owned()));
        }
        s.strip_prefix("patchwork:")
            .map(|user| SetBy::Patchwork(user.to_owned()))
    }
}

impl fmt::Display for SetBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetBy::Gauntlet => f.write_str("gauntlet"),
            SetBy::Maintainer(name) => write!(f, "maintainer:{name}"),
            SetBy::Patchwork(user) => write!(f, "patchwork:{user}"),
        }
    }
}

/// A state change to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPatchState {
    /// The caller's key for the patch: its Message-ID, or a Patchwork patch's URL.
    pub patch: String,
    pub series: Id,
    pub revision: u32,
    pub project: String,
    pub state: PatchState,
    pub set_by: SetBy,
    pub reason: Option<String>,
}

/// A recorded state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchStateRow {
    pub id: Id,
    pub change: NewPatchState,
    pub at: i64,
}

/// What [`Store::set_patch_state`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// Recorded as the patch's current state.
    Recorded(Id),
    /// gauntlet set the state it had already set: nothing recorded.
    Unchanged,
    /// gauntlet may not change this patch: a human set its state last.
    RefusedHuman { by: SetBy, state: PatchState },
}

const COLUMNS: &str = "id, patch, series, revision, project, state, set_by, reason, at";

fn state_from_row(row: &AnyRow) -> Result<PatchStateRow> {
    let state: String = row.try_get(5)?;
    let set_by: String = row.try_get(6)?;
    Ok(PatchStateRow {
        id: row.try_get(0)?,
        change: NewPatchState {
            patch: row.try_get(1)?,
            series: row.try_get(2)?,
            revision: u32::try_from(row.try_get::<i64, _>(3)?)
                .map_err(|_| Error::Corrupt("patch state revision out of range".into()))?,
            project: row.try_get(4)?,
            state: PatchState::parse(&state)
                .ok_or_else(|| Error::Corrupt(format!("patch state {state:?}")))?,
            set_by: SetBy::parse(&set_by)
                .ok_or_else(|| Error::Corrupt(format!("patch state set by {set_by:?}")))?,
            reason: row.try_get(7)?,
        },
        at: row.try_get(8)?,
    })
}

impl Store {
    /// Records a change of a patch's state. A human's change is always recorded; gauntlet's is
    /// refused when a human changed the patch last, and skipped when it repeats gauntlet's own
    /// current state.
    pub async fn set_patch_state(&self, change: &NewPatchState, now: i64) -> Result<StateChange> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("gauntlet patch state {}", change.patch))
                .execute(&mut *tx)
                .await?;
        }
        let sql =
            format!("SELECT {COLUMNS} FROM patch_states WHERE patch = $1 ORDER BY id DESC LIMIT 1");
        let current = sqlx::query(self.stmt(&sql))
            .bind(change.patch.clone())
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(state_from_row)
            .transpose()?;
        if change.set_by == SetBy::Gauntlet
            && let Some(current) = current
        {
            let current = current.change;
            if current.set_by.is_human() {
                tracing::info!(
                    patch = change.patch,
                    by = %current.set_by,
                    state = %current.state,
                    wanted = %change.state,
                    "patch state left as a human set it"
                );
                return Ok(StateChange::RefusedHuman {
                    by: current.set_by,
                    state: current.state,
                });
            }
            if current.state == change.state {
                return Ok(StateChange::Unchanged);
            }
        }
        let row = sqlx::query(self.stmt(
            "INSERT INTO patch_states (patch, series, revision, project, state, set_by, reason, \
             at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        ))
        .bind(change.patch.clone())
        .bind(change.series)
        .bind(i64::from(change.revision))
        .bind(change.project.clone())
        .bind(change.state.as_str())
        .bind(change.set_by.to_string())
        .bind(change.reason.clone())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: Id = row.try_get(0)?;
        tx.commit().await?;
        Ok(StateChange::Recorded(id))
    }

    /// A patch's current state: its newest change.
    pub async fn patch_state(&self, patch: &str) -> Result<Option<PatchStateRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM patch_states WHERE patch = $1 ORDER BY id DESC LIMIT 1");
        sqlx::query(self.stmt(&sql))
            .bind(patch.to_owned())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(state_from_row)
            .transpose()
    }

    /// Every change of a patch's state, oldest first.
    pub async fn patch_state_history(&self, patch: &str) -> Result<Vec<PatchStateRow>> {
        let sql = format!("SELECT {COLUMNS} FROM patch_states WHERE patch = $1 ORDER BY id");
        sqlx::query(self.stmt(&sql))
            .bind(patch.to_owned())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(state_from_row)
            .collect()
    }

    /// Whether gauntlet may change the patch's state now: no human changed it last. (Advice
    /// only: [`Store::set_patch_state`] applies the rule itself, atomically.)
    pub async fn may_gauntlet_set(&self, patch: &str) -> Result<bool> {
        Ok(self
            .patch_state(patch)
            .await?
            .is_none_or(|s| !s.change.set_by.is_human()))
    }

    /// The current state of every patch recorded for a submission (to mark an older
    /// revision's patches Superseded), by patch.
    pub async fn submission_patch_states(
        &self,
        series: Id,
        revision: u32,
    ) -> Result<Vec<PatchStateRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM patch_states p WHERE id = (SELECT MAX(q.id) FROM patch_states \
             q WHERE q.patch = p.patch) AND patch IN (SELECT patch FROM patch_states \
             WHERE series = $1 AND revision = $2) ORDER BY patch"
        );
        sqlx::query(self.stmt(&sql))
            .bind(series)
            .bind(i64::from(revision))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(state_from_row)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_slugs() {
        for s in PatchState::ALL {
            assert_eq!(PatchState::parse(s.as_str()), Some(s));
            assert_eq!(PatchState::parse(s.slug()), Some(s));
        }
        assert_eq!(
            PatchState::parse("changes requested"),
            Some(PatchState::ChangesRequested)
        );
        assert_eq!(PatchState::parse("RFC"), None);
    }

    #[test]
    fn who_set_it() {
        for by in [
            SetBy::Gauntlet,
            SetBy::Maintainer("Jane Doe".into()),
            SetBy::Patchwork("jdoe".into()),
        ] {
            assert_eq!(SetBy::parse(&by.to_string()), Some(by.clone()));
            assert_eq!(by.is_human(), by != SetBy::Gauntlet);
        }
        assert_eq!(SetBy::parse("robot"), None);
    }
}

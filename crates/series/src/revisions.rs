//! Revisions of one piece of work: the series of a lineage in order (by version, then date, then
//! arrival), so that a late v1 still sorts before the v2 that arrived first. The newest revision
//! supersedes all the others; a submission is `(series id, revision)`.

use crate::{Id, SeriesRow};

/// Where a series stands in its lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// 1-based position in the lineage.
    pub revision: u32,
    /// Revisions in the lineage.
    pub of: u32,
    /// The series of every revision, oldest first.
    pub chain: Vec<Id>,
    /// The newest revision, when it is not this one.
    pub superseded_by: Option<Id>,
}

/// The revision of `series` among the `members` of its lineage (which must include it).
pub fn revision_of(series: Id, members: &[(Id, u32, i64)]) -> Revision {
    let mut ordered: Vec<(Id, u32, i64)> = members.to_vec();
    ordered.sort_by_key(|&(id, version, date)| (version, date, id));
    ordered.dedup_by_key(|m| m.0);
    let chain: Vec<Id> = ordered.iter().map(|m| m.0).collect();
    let position = chain.iter().position(|&id| id == series).unwrap_or(0);
    let newest = chain.last().copied();
    Revision {
        revision: position as u32 + 1,
        of: chain.len() as u32,
        superseded_by: newest.filter(|&n| n != series),
        chain,
    }
}

/// Convenience over loaded rows.
pub fn revision_in(series: Id, members: &[&SeriesRow]) -> Revision {
    let m: Vec<(Id, u32, i64)> = members.iter().map(|s| (s.id, s.version, s.date)).collect();
    revision_of(series, &m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_by_version_then_date() {
        // v2 arrived first (id 1), v1 late (id 2), v3 last.
        let members = [(1, 2, 200), (2, 1, 100), (3, 3, 300)];
        let r = revision_of(1, &members);
        assert_eq!(r.revision, 2);
        assert_eq!(r.of, 3);
        assert_eq!(r.chain, vec![2, 1, 3]);
        assert_eq!(r.superseded_by, Some(3));
        assert_eq!(revision_of(3, &members).superseded_by, None);
        // A resend with the same version is the newer revision.
        let r = revision_of(5, &[(4, 1, 10), (5, 1, 20)]);
        assert_eq!((r.revision, r.superseded_by), (2, None));
    }
}

//! Mails → patches, cover letters, comments, series and revisions.
//!
//! [`Tracker::ingest`] decides what one parsed mail is and where it belongs, step for step as
//! Patchwork's `parse_mail` does (so that the result is the same series, the same numbers, the
//! same names), then goes one step further than Patchwork and links the revisions of a piece of
//! work (v1 → v2 → v3) into a lineage.
//!
//! The tracker is pure: it works on an [`Index`] in memory. A store fills the index with what a
//! batch of mails can look at ([`prefetch_keys`] says what that is), runs the batch, and writes
//! back [`Index::take_changes`].
//!
//! Deliberate differences from Patchwork are listed in the README (§ Conformance); in this crate:
//! * a cover letter counts as "already known by name" only within its own list (Patchwork looks
//!   across all projects);
//! * a date that cannot be read is replaced by the time the mail was received, not by "now", so
//!   re-indexing gives the same result.

mod index;
pub mod revisions;

use std::collections::BTreeSet;

pub use index::{Changes, Id, Index, Kind, MessageRow, PersonRow, SeriesRow};

use gauntlet_mail::{Mail, Person};

/// Series are matched without references only within this distance of their first mail
/// (Patchwork's `SERIES_DELAY_INTERVAL`).
pub const SERIES_WINDOW_SECS: i64 = 20 * 60;

/// What a mail turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Patch {
        message: Id,
        series: Option<Id>,
        number: Option<u32>,
    },
    Cover {
        message: Id,
        series: Id,
    },
    Comment {
        message: Id,
        parent: Id,
    },
    /// Kept as a raw mail only.
    Dropped(DropReason),
    /// Same Message-ID as a message already known (of the same kind, same parent for comments).
    Duplicate {
        existing: Id,
    },
    /// Patchwork would reject the mail (its `ValueError`): the reason.
    Error(String),
}

impl Outcome {
    /// One word for the summary and the store: patch, cover, comment, dropped, duplicate, error.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Patch { .. } => "patch",
            Outcome::Cover { .. } => "cover",
            Outcome::Comment { .. } => "comment",
            Outcome::Dropped(_) => "dropped",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::Error(_) => "error",
        }
    }

    /// Why a mail was dropped or refused; `None` when it was kept.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Dropped(r) => Some(r.message().to_string()),
            Outcome::Error(e) => Some(e.clone()),
            Outcome::Duplicate { .. } => {
                Some("a message with this Message-ID is already known".into())
            }
            _ => None,
        }
    }

    /// The message row created for the mail.
    pub fn message(&self) -> Option<Id> {
        match self {
            Outcome::Patch { message, .. }
            | Outcome::Cover { message, .. }
            | Outcome::Comment { message, .. } => Some(*message),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// `X-Patchwork-Hint: ignore`.
    IgnoreHint,
    /// Neither a diff nor any readable text.
    NoContent,
    /// A reply (or a non-patch) to nothing known.
    Orphan,
}

impl DropReason {
    pub fn message(self) -> &'static str {
        match self {
            DropReason::IgnoreHint => "X-Patchwork-Hint: ignore",
            DropReason::NoContent => "no diff and no readable text",
            DropReason::Orphan => "not a patch, and a reply to nothing known",
        }
    }
}

/// One mail to ingest, with where it goes.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub mail: &'a Mail,
    /// The raw mail's row.
    pub mail_id: Id,
    /// The list (Patchwork's project) the mail is filed under.
    pub list: Id,
    /// When the mail was received: the date of a mail whose `Date:` cannot be read.
    pub received_at: i64,
}

impl Incoming<'_> {
    fn date(&self) -> i64 {
        self.mail.date.unwrap_or(self.received_at)
    }
}

/// The key that revisions of one piece of work share: the name without any `[...]` tags or
/// `(vN)` marker, lower-cased, blanks collapsed.
pub fn topic_key(name: &str) -> Option<String> {
    let mut rest = name.trim();
    while let Some(inner) = rest.strip_prefix('[') {
        match inner.find(']') {
            Some(close) => rest = inner[close + 1..].trim_start(),
            None => break,
        }
    }
    let mut words: Vec<String> = rest.split_whitespace().map(str::to_lowercase).collect();
    if let Some(last) = words.last()
        && last.starts_with("(v")
        && last.ends_with(')')
        && last[2..last.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && last.len() > 3
    {
        words.pop();
    }
    let key = words.join(" ");
    (!key.is_empty()).then_some(key)
}

/// Patchwork's `Series._format_name`: a cover letter's name without its one `[...]` group.
fn format_cover_name(name: &str) -> String {
    if let Some(inner) = name.strip_prefix('[')
        && let Some(close) = inner.find(']')
    {
        return inner[close + 1..]
            .trim_start_matches(|c: char| c.is_whitespace())
            .to_string();
    }
    name.trim().to_string()
}

/// What the store must load into an [`Index`] before a batch can run on it.
#[derive(Debug, Default, Clone)]
pub struct Keys {
    /// `(list, Message-ID)`: the mails' own ids and everything they reference.
    pub msgids: BTreeSet<(Id, String)>,
    /// Submitter addresses, lower-cased.
    pub emails: BTreeSet<String>,
    /// Per list: the span of dates (widened by the series window) for series matched by markers.
    pub date_span: Option<(i64, i64)>,
    /// `(list, name)` of possible cover letters.
    pub cover_names: BTreeSet<(Id, String)>,
    /// `(list, topic)` for revision linking.
    pub topics: BTreeSet<(Id, String)>,
}

/// Everything [`Tracker::ingest`] may look up for these mails. Besides these, the store must
/// load the series found through them with all their patches, the parents of loaded comments,
/// and the people they point to.
pub fn prefetch_keys(batch: &[Incoming<'_>]) -> Keys {
    let mut k = Keys::default();
    for inc in batch {
        let m = inc.mail;
        k.msgids.insert((inc.list, m.message_id.clone()));
        for r in m.refs.iter().chain(&m.supersedes) {
            k.msgids.insert((inc.list, r.clone()));
        }
        if let Some(e) = m.submitter_key() {
            k.emails.insert(e);
        }
        let d = inc.date();
        let (lo, hi) = k.date_span.unwrap_or((d, d));
        k.date_span = Some((lo.min(d), hi.max(d)));
        if m.marker.is_some_and(|x| x.0 == 0) {
            k.cover_names.insert((inc.list, m.name.clone()));
        }
        if let Some(t) = topic_key(&m.name) {
            k.topics.insert((inc.list, t));
        }
    }
    if let Some((lo, hi)) = k.date_span {
        k.date_span = Some((
            lo.saturating_sub(SERIES_WINDOW_SECS),
            hi.saturating_add(SERIES_WINDOW_SECS),
        ));
    }
    k
}

/// Counts of outcomes, as Patchwork's `parsearchive` prints them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub covers: u64,
    pub patches: u64,
    pub comments: u64,
    pub duplicates: u64,
    pub dropped: u64,
    pub errors: u64,
}

impl Tally {
    pub fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Patch { .. } => self.patches += 1,
            Outcome::Cover { .. } => self.covers += 1,
            Outcome::Comment { .. } => self.comments += 1,
            Outcome::Dropped(_) => self.dropped += 1,
            Outcome::Duplicate { .. } => self.duplicates += 1,
            Outcome::Error(_) => self.errors += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.covers + self.patches + self.comments + self.duplicates + self.dropped + self.errors
    }

    pub fn merge(&mut self, o: &Tally) {
        self.covers += o.covers;
        self.patches += o.patches;
        self.comments += o.comments;
        self.duplicates += o.duplicates;
        self.dropped += o.dropped;
        self.errors += o.errors;
    }
}

/// Groups mails in memory, in order, all filed under `list` and received at `received_at`:
/// the index that results and each mail's outcome. (Without a store: tests, one-shot runs.)
pub fn group(mails: &[Mail], list: Id, received_at: i64) -> (Index, Vec<Outcome>) {
    let mut index = Index::new(0, 0, 0);
    let outcomes = {
        let mut tracker = Tracker::new(&mut index);
        mails
            .iter()
            .enumerate()
            .map(|(i, mail)| {
                tracker.ingest(Incoming {
                    mail,
                    mail_id: i as Id + 1,
                    list,
                    received_at,
                })
            })
            .collect()
    };
    (index, outcomes)
}

/// The grouping engine over an index.
pub struct Tracker<'i> {
    pub index: &'i mut Index,
}

impl<'i> Tracker<'i> {
    pub fn new(index: &'i mut Index) -> Self {
        Tracker { index }
    }

    fn author(&mut self, mail: &Mail) -> Result<Id, Outcome> {
        match &mail.submitter {
            Ok(Person { name, email }) => Ok(self.index.person_for(email, name.as_deref())),
            Err(e) => Err(Outcome::Error(e.to_string())),
        }
    }

    /// Decides what one mail is, records it, and says what it was.
    pub fn ingest(&mut self, inc: Incoming<'_>) -> Outcome {
        let m = inc.mail;
        if let Some(d) = m
            .defect
            .filter(|d| *d != gauntlet_mail::Defect::InvalidSubject)
        {
            return Outcome::Error(d.message().to_string());
        }
        if m.ignore_hint {
            return Outcome::Dropped(DropReason::IgnoreHint);
        }
        if let Some(d) = m.defect {
            return Outcome::Error(d.message().to_string());
        }
        if !m.has_content() {
            return Outcome::Dropped(DropReason::NoContent);
        }
        if m.is_patch() {
            return match self.author(m) {
                Ok(author) => self.patch(inc, author),
                Err(e) => e,
            };
        }
        if m.marker.is_some_and(|x| x.0 == 0) {
            let is_cover = !m.is_reply
                && (m.refs.is_empty() || self.index.covers_named(inc.list, &m.name) == 0);
            if is_cover {
                return match self.author(m) {
                    Ok(author) => self.cover(inc, author),
                    Err(e) => e,
                };
            }
        }
        self.comment(inc)
    }

    fn new_message(&self, inc: &Incoming<'_>, kind: Kind, submitter: Id) -> MessageRow {
        let m = inc.mail;
        MessageRow {
            id: 0,
            mail: inc.mail_id,
            list: inc.list,
            kind,
            msgid: m.message_id.clone(),
            name: m.name.clone(),
            date: inc.date(),
            submitter,
            series: None,
            number: None,
            parent: None,
            hash: m.hash.clone(),
            pull_url: m.pull_url.clone(),
        }
    }

    fn new_series(&mut self, inc: &Incoming<'_>, author: Id, total: u32, refs: &[&str]) -> Id {
        let id = self.index.add_series(SeriesRow {
            id: 0,
            list: inc.list,
            name: None,
            version: inc.mail.version,
            total,
            date: inc.date(),
            submitter: author,
            cover: None,
            patches: Vec::new(),
            topic: None,
            lineage: 0,
        });
        for r in refs {
            self.index.add_ref(inc.list, r, id);
        }
        id
    }

    /// `find_series` then Patchwork's choice among several candidates.
    fn find_series(&self, inc: &Incoming<'_>, author: Id, x: u32, n: u32) -> Option<Id> {
        let m = inc.mail;
        let own = std::iter::once(&m.message_id).chain(&m.refs);
        for r in own {
            if let Some(s) = self.index.series_by_ref(inc.list, r) {
                return Some(s);
            }
        }
        let date = inc.date();
        let mut candidates: Vec<&SeriesRow> = self
            .index
            .series_by_marker(inc.list, author, m.version, n)
            .iter()
            .filter_map(|id| self.index.series(*id))
            .filter(|s| s.date.abs_diff(date) <= SERIES_WINDOW_SECS.unsigned_abs())
            .collect();
        match candidates.len() {
            0 => None,
            1 => Some(candidates[0].id),
            _ => {
                candidates.sort_by_key(|s| std::cmp::Reverse((s.date, s.id)));
                candidates.iter().find(|s| !s.has_number(x)).map(|s| s.id)
            }
        }
    }

    fn patch(&mut self, inc: Incoming<'_>, author: Id) -> Outcome {
        let m = inc.mail;
        if let Some(existing) = self
            .index
            .messages_by_msgid(inc.list, &m.message_id, Some(Kind::Patch))
            .first()
        {
            return Outcome::Duplicate {
                existing: existing.id,
            };
        }
        let message = self
            .index
            .add_message(self.new_message(&inc, Kind::Patch, author));
        let (x, n, found) = match m.marker {
            Some((x, n)) => (x, n, self.find_series(&inc, author, x, n)),
            None => (1, 1, None),
        };
        let series = match found {
            Some(s) if self.index.series(s).is_some_and(|s| !s.has_number(x)) => s,
            _ => {
                let refs: Vec<&str> = m
                    .refs
                    .iter()
                    .map(String::as_str)
                    .chain(std::iter::once(m.message_id.as_str()))
                    .collect();
                self.new_series(&inc, author, n, &refs)
            }
        };
        if x == 0 {
            // A diff under a `0/n` subject: a patch outside any series (the series made for it
            // stays, as in Patchwork).
            return Outcome::Patch {
                message,
                series: None,
                number: None,
            };
        }
        self.index.set_message_series(message, series, Some(x));
        let name = m.name.clone();
        self.index.update_series(series, |s| {
            if s.name.as_deref().is_none_or(str::is_empty) && x == 1 {
                s.name = Some(name);
            }
            let at = s.patches.partition_point(|p| p.0 < x);
            s.patches.insert(at, (x, message));
        });
        self.link_revision(series, &inc);
        Outcome::Patch {
            message,
            series: Some(series),
            number: Some(x),
        }
    }

    fn cover(&mut self, inc: Incoming<'_>, author: Id) -> Outcome {
        let m = inc.mail;
        if let Some(existing) = self
            .index
            .messages_by_msgid(inc.list, &m.message_id, Some(Kind::Cover))
            .first()
        {
            return Outcome::Duplicate {
                existing: existing.id,
            };
        }
        let total = m.marker.map_or(1, |x| x.1);
        let series = match self.index.series_by_ref(inc.list, &m.message_id) {
            Some(s) => s,
            None => self.new_series(&inc, author, total, &[m.message_id.as_str()]),
        };
        let message = self
            .index
            .add_message(self.new_message(&inc, Kind::Cover, author));
        let already_has_cover = self.index.series(series).is_some_and(|s| s.cover.is_some());
        if !already_has_cover {
            self.index.set_message_series(message, series, None);
            let patch_one_name = self
                .index
                .series(series)
                .and_then(|s| s.patches.iter().find(|p| p.0 == 1).map(|p| p.1))
                .and_then(|id| self.index.message(id))
                .map(|p| p.name.clone());
            let cover_name = format_cover_name(&m.name);
            self.index.update_series(series, |s| {
                s.cover = Some(message);
                let upgrade = match s.name.as_deref() {
                    None | Some("") => true,
                    Some(current) => patch_one_name.as_deref() == Some(current),
                };
                if upgrade {
                    s.name = Some(cover_name);
                }
            });
        }
        self.link_revision(series, &inc);
        Outcome::Cover { message, series }
    }

    fn comment(&mut self, inc: Incoming<'_>) -> Outcome {
        let m = inc.mail;
        let parent = self
            .parent_for(&inc, Kind::Patch)
            .or_else(|| self.parent_for(&inc, Kind::Cover));
        let Some(parent) = parent else {
            return Outcome::Dropped(DropReason::Orphan);
        };
        let author = match self.author(m) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if let Some(existing) = self
            .index
            .messages_by_msgid(inc.list, &m.message_id, Some(Kind::Comment))
            .iter()
            .find(|c| c.parent == Some(parent))
        {
            return Outcome::Duplicate {
                existing: existing.id,
            };
        }
        let mut row = self.new_message(&inc, Kind::Comment, author);
        row.name = m.subject.clone().unwrap_or_default();
        row.parent = Some(parent);
        row.hash = None;
        let message = self.index.add_message(row);
        Outcome::Comment { message, parent }
    }

    /// `find_patch_for_comment` / `find_cover_for_comment`: the first reference that is such a
    /// message, or a comment on one.
    fn parent_for(&self, inc: &Incoming<'_>, kind: Kind) -> Option<Id> {
        for r in &inc.mail.refs {
            if let Some(p) = self
                .index
                .messages_by_msgid(inc.list, r, Some(kind))
                .first()
            {
                return Some(p.id);
            }
            let via_comment = self
                .index
                .messages_by_msgid(inc.list, r, Some(Kind::Comment))
                .into_iter()
                .filter_map(|c| c.parent)
                .filter_map(|p| self.index.message(p))
                .filter(|p| p.kind == kind)
                .map(|p| p.id)
                // Several comments with this id: the latest one, as Patchwork picks.
                .next_back();
            if via_comment.is_some() {
                return via_comment;
            }
        }
        None
    }

    /// The series a message belongs to (a comment: its parent's).
    fn series_of_msgid(&self, list: Id, msgid: &str) -> Option<Id> {
        for msg in self.index.messages_by_msgid(list, msgid, None) {
            let owner = match msg.kind {
                Kind::Comment => msg.parent.and_then(|p| self.index.message(p)),
                _ => Some(msg),
            };
            if let Some(s) = owner.and_then(|o| o.series) {
                return Some(s);
            }
        }
        None
    }

    /// Links a series to the earlier revisions of the same work, once: by `Supersedes:`, by a
    /// reply to an earlier revision, or by the same submitter posting the same subject again.
    fn link_revision(&mut self, series: Id, inc: &Incoming<'_>) {
        let Some(s) = self.index.series(series).cloned() else {
            return;
        };
        let topic = s.name.as_deref().and_then(topic_key);
        if topic.is_some() && s.topic != topic {
            let t = topic.clone();
            self.index.update_series(series, |s| s.topic = t);
        }
        // Already linked, or others already follow this series: it stays where it is.
        if s.lineage != s.id || self.index.lineage_size(s.id) > 1 {
            return;
        }
        let m = inc.mail;
        // 1. An explicit `Supersedes: <msgid>`.
        let mut target = m
            .supersedes
            .iter()
            .filter_map(|v| {
                let id = v.split_whitespace().next().unwrap_or(v);
                let id = if id.starts_with('<') {
                    id.to_string()
                } else {
                    format!("<{id}>")
                };
                self.series_of_msgid(inc.list, &id)
            })
            .find(|&t| t != series);
        // 2. Posted in reply to a message of another revision.
        if target.is_none()
            && (m.marker.is_none_or(|x| x.0 <= 1))
            && let Some(parent) = m.refs.first()
            && let Some(t) = self.series_of_msgid(inc.list, parent)
            && t != series
            && let Some(other) = self.index.series(t)
            && (other.version < s.version
                || (other.submitter == s.submitter
                    && other.topic.is_some()
                    && other.topic == topic))
        {
            target = Some(t);
        }
        // 3. The same submitter posting the same subject again.
        if target.is_none()
            && let Some(topic) = &topic
        {
            target = self
                .index
                .series_by_topic(s.list, s.submitter, topic)
                .iter()
                .filter(|&&id| id != series)
                .filter_map(|&id| self.index.series(id))
                .max_by_key(|o| (o.date, o.id))
                .map(|o| o.id);
        }
        if let Some(t) = target
            && let Some(lineage) = self.index.series(t).map(|o| o.lineage)
            && lineage != series
        {
            self.index.update_series(series, |s| s.lineage = lineage);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

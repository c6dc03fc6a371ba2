//! The state the grouping engine reads and writes: people, messages (patches, cover letters,
//! comments), series and the Message-IDs that identify each series.
//!
//! An [`Index`] holds either everything (tests, one-shot runs) or the part of a store that one
//! batch of mails can touch, loaded by the store beforehand with the `load_*` methods. Everything
//! the engine creates or changes is recorded, and [`Index::take_changes`] hands it back to be
//! written.

use std::collections::{BTreeSet, HashMap};

/// Row ids, shared with the store.
pub type Id = i64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub id: Id,
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Patch,
    Cover,
    Comment,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Patch => "patch",
            Kind::Cover => "cover",
            Kind::Comment => "comment",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "patch" => Some(Kind::Patch),
            "cover" => Some(Kind::Cover),
            "comment" => Some(Kind::Comment),
            _ => None,
        }
    }
}

/// A patch, cover letter or comment. Immutable once created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: Id,
    /// The raw mail it was read from.
    pub mail: Id,
    pub list: Id,
    pub kind: Kind,
    pub msgid: String,
    /// Patchwork's name (patches and covers); the subject for comments.
    pub name: String,
    pub date: i64,
    pub submitter: Id,
    pub series: Option<Id>,
    pub number: Option<u32>,
    /// For a comment: the patch or cover letter it comments on.
    pub parent: Option<Id>,
    pub hash: Option<String>,
    pub pull_url: Option<String>,
}

/// A series: one posting of a piece of work (Patchwork's series), plus the link to its other
/// revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRow {
    pub id: Id,
    pub list: Id,
    pub name: Option<String>,
    pub version: u32,
    /// `n` of `x/n` (1 for an unnumbered patch).
    pub total: u32,
    /// Date of the mail that created the series.
    pub date: i64,
    pub submitter: Id,
    pub cover: Option<Id>,
    /// `(number, patch id)`, sorted by number.
    pub patches: Vec<(u32, Id)>,
    /// The normalised subject that revisions of the same work share.
    pub topic: Option<String>,
    /// The series that started this piece of work; equal to `id` for a first revision. Revision
    /// numbers and superseding follow from the members of a lineage (see [`crate::revisions`]).
    pub lineage: Id,
}

impl SeriesRow {
    pub fn has_number(&self, n: u32) -> bool {
        self.patches.binary_search_by_key(&n, |p| p.0).is_ok()
    }

    /// Patchwork's `received_all`: at least `total` patches arrived.
    pub fn received_all(&self) -> bool {
        self.patches.len() as u64 >= u64::from(self.total)
    }

    /// gauntlet's completeness: every patch `1..=total` is there.
    pub fn complete(&self) -> bool {
        (1..=self.total).all(|n| self.has_number(n))
    }
}

/// What a batch created or changed, to be written back.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    /// New people, and people whose name changed.
    pub people: Vec<PersonRow>,
    pub messages: Vec<MessageRow>,
    /// New series, and series that changed.
    pub series: Vec<SeriesRow>,
    /// New `(list, msgid, series)` references.
    pub refs: Vec<(Id, String, Id)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
            && self.messages.is_empty()
            && self.series.is_empty()
            && self.refs.is_empty()
    }
}

/// In-memory index over people, messages, series and references.
#[derive(Debug, Default)]
pub struct Index {
    people: HashMap<Id, PersonRow>,
    people_by_email: HashMap<String, Id>,
    messages: HashMap<Id, MessageRow>,
    by_msgid: HashMap<(Id, String), Vec<Id>>,
    covers_by_name: HashMap<(Id, String), Vec<Id>>,
    series: HashMap<Id, SeriesRow>,
    refs: HashMap<(Id, String), Id>,
    by_marker: HashMap<(Id, Id, u32, u32), Vec<Id>>,
    by_topic: HashMap<(Id, Id, String), Vec<Id>>,
    /// How many known series belong to each lineage.
    lineage_sizes: HashMap<Id, u32>,
    next_person: Id,
    next_message: Id,
    next_series: Id,
    dirty_people: BTreeSet<Id>,
    new_messages: Vec<Id>,
    dirty_series: BTreeSet<Id>,
    new_refs: Vec<(Id, String, Id)>,
}

impl Index {
    /// An empty index whose new rows get ids above the given maxima.
    pub fn new(max_person: Id, max_message: Id, max_series: Id) -> Self {
        Index {
            next_person: max_person + 1,
            next_message: max_message + 1,
            next_series: max_series + 1,
            ..Index::default()
        }
    }

    // ---- loading (no change recorded) ----

    pub fn load_person(&mut self, p: PersonRow) {
        self.next_person = self.next_person.max(p.id + 1);
        self.people_by_email.insert(p.email.to_lowercase(), p.id);
        self.people.insert(p.id, p);
    }

    pub fn load_message(&mut self, m: MessageRow) {
        if self.messages.contains_key(&m.id) {
            return;
        }
        self.next_message = self.next_message.max(m.id + 1);
        self.by_msgid
            .entry((m.list, m.msgid.clone()))
            .or_default()
            .push(m.id);
        if m.kind == Kind::Cover {
            self.covers_by_name
                .entry((m.list, m.name.clone()))
                .or_default()
                .push(m.id);
        }
        self.messages.insert(m.id, m);
    }

    pub fn load_series(&mut self, s: SeriesRow) {
        if self.series.contains_key(&s.id) {
            return;
        }
        self.next_series = self.next_series.max(s.id + 1);
        self.index_series(&s);
        *self.lineage_sizes.entry(s.lineage).or_default() += 1;
        self.series.insert(s.id, s);
    }

    pub fn load_ref(&mut self, list: Id, msgid: String, series: Id) {
        self.refs.entry((list, msgid)).or_insert(series);
    }

    /// A cover letter name known to exist in the store (only its count matters).
    pub fn load_cover_name(&mut self, list: Id, name: String, cover: Id) {
        let v = self.covers_by_name.entry((list, name)).or_default();
        if !v.contains(&cover) {
            v.push(cover);
        }
    }

    fn index_series(&mut self, s: &SeriesRow) {
        let key = (s.list, s.submitter, s.version, s.total);
        let v = self.by_marker.entry(key).or_default();
        if !v.contains(&s.id) {
            v.push(s.id);
        }
        if let Some(topic) = &s.topic {
            let v = self
                .by_topic
                .entry((s.list, s.submitter, topic.clone()))
                .or_default();
            if !v.contains(&s.id) {
                v.push(s.id);
            }
        }
    }

    // ---- reading ----

    pub fn person(&self, id: Id) -> Option<&PersonRow> {
        self.people.get(&id)
    }

    pub fn message(&self, id: Id) -> Option<&MessageRow> {
        self.messages.get(&id)
    }

    pub fn series(&self, id: Id) -> Option<&SeriesRow> {
        self.series.get(&id)
    }

    /// Every series, in creation (id) order.
    pub fn all_series(&self) -> Vec<&SeriesRow> {
        let mut v: Vec<&SeriesRow> = self.series.values().collect();
        v.sort_by_key(|s| s.id);
        v
    }

    /// The messages of a list with this Message-ID, optionally of one kind.
    pub fn messages_by_msgid(&self, list: Id, msgid: &str, kind: Option<Kind>) -> Vec<&MessageRow> {
        self.by_msgid
            .get(&(list, msgid.to_string()))
            .into_iter()
            .flatten()
            .filter_map(|id| self.messages.get(id))
            .filter(|m| kind.is_none_or(|k| m.kind == k))
            .collect()
    }

    pub fn series_by_ref(&self, list: Id, msgid: &str) -> Option<Id> {
        self.refs.get(&(list, msgid.to_string())).copied()
    }

    pub(crate) fn series_by_marker(
        &self,
        list: Id,
        submitter: Id,
        version: u32,
        total: u32,
    ) -> &[Id] {
        self.by_marker
            .get(&(list, submitter, version, total))
            .map_or(&[], Vec::as_slice)
    }

    pub(crate) fn series_by_topic(&self, list: Id, submitter: Id, topic: &str) -> &[Id] {
        self.by_topic
            .get(&(list, submitter, topic.to_string()))
            .map_or(&[], Vec::as_slice)
    }

    /// How many cover letters of the list carry this name (0, 1 or more).
    pub(crate) fn covers_named(&self, list: Id, name: &str) -> usize {
        self.covers_by_name
            .get(&(list, name.to_string()))
            .map_or(0, Vec::len)
    }

    /// Members of a lineage among the series in the index (a linear scan: for reports).
    pub fn lineage_members(&self, lineage: Id) -> Vec<&SeriesRow> {
        let mut v: Vec<&SeriesRow> = self
            .series
            .values()
            .filter(|s| s.lineage == lineage)
            .collect();
        v.sort_by_key(|s| s.id);
        v
    }

    /// Known series in a lineage.
    pub(crate) fn lineage_size(&self, lineage: Id) -> u32 {
        self.lineage_sizes.get(&lineage).copied().unwrap_or(0)
    }

    // ---- writing (recorded) ----

    /// Patchwork's `Person.get_or_create(email__iexact=…)`, the latest non-empty name winning.
    pub(crate) fn person_for(&mut self, email: &str, name: Option<&str>) -> Id {
        let key = email.to_lowercase();
        if let Some(&id) = self.people_by_email.get(&key) {
            if let Some(name) = name.filter(|n| !n.is_empty())
                && let Some(p) = self.people.get_mut(&id)
                && p.name.as_deref() != Some(name)
            {
                p.name = Some(name.to_string());
                self.dirty_people.insert(id);
            }
            return id;
        }
        let id = self.next_person;
        self.next_person += 1;
        self.people_by_email.insert(key, id);
        self.people.insert(
            id,
            PersonRow {
                id,
                email: email.to_string(),
                name: name.map(str::to_string),
            },
        );
        self.dirty_people.insert(id);
        id
    }

    pub(crate) fn add_message(&mut self, mut m: MessageRow) -> Id {
        let id = self.next_message;
        self.next_message += 1;
        m.id = id;
        self.by_msgid
            .entry((m.list, m.msgid.clone()))
            .or_default()
            .push(id);
        if m.kind == Kind::Cover {
            self.covers_by_name
                .entry((m.list, m.name.clone()))
                .or_default()
                .push(id);
        }
        self.messages.insert(id, m);
        self.new_messages.push(id);
        id
    }

    pub(crate) fn set_message_series(&mut self, id: Id, series: Id, number: Option<u32>) {
        if let Some(m) = self.messages.get_mut(&id) {
            m.series = Some(series);
            m.number = number;
        }
    }

    pub(crate) fn add_series(&mut self, mut s: SeriesRow) -> Id {
        let id = self.next_series;
        self.next_series += 1;
        s.id = id;
        s.lineage = id;
        self.index_series(&s);
        *self.lineage_sizes.entry(id).or_default() += 1;
        self.series.insert(id, s);
        self.dirty_series.insert(id);
        id
    }

    /// Changes a series through `f`, keeping the indexes right.
    pub(crate) fn update_series(&mut self, id: Id, f: impl FnOnce(&mut SeriesRow)) {
        let Some(mut s) = self.series.remove(&id) else {
            return;
        };
        let lineage = s.lineage;
        f(&mut s);
        if s.lineage != lineage {
            if let Some(n) = self.lineage_sizes.get_mut(&lineage) {
                *n = n.saturating_sub(1);
            }
            *self.lineage_sizes.entry(s.lineage).or_default() += 1;
        }
        self.index_series(&s);
        self.series.insert(id, s);
        self.dirty_series.insert(id);
    }

    pub(crate) fn add_ref(&mut self, list: Id, msgid: &str, series: Id) {
        let key = (list, msgid.to_string());
        if self.refs.contains_key(&key) {
            return;
        }
        self.refs.insert(key, series);
        self.new_refs.push((list, msgid.to_string(), series));
    }

    /// Everything created or changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        let people = std::mem::take(&mut self.dirty_people)
            .into_iter()
            .filter_map(|id| self.people.get(&id).cloned())
            .collect();
        let messages = std::mem::take(&mut self.new_messages)
            .into_iter()
            .filter_map(|id| self.messages.get(&id).cloned())
            .collect();
        let series = std::mem::take(&mut self.dirty_series)
            .into_iter()
            .filter_map(|id| self.series.get(&id).cloned())
            .collect();
        Changes {
            people,
            messages,
            series,
            refs: std::mem::take(&mut self.new_refs),
        }
    }
}

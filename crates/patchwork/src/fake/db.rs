//! The fake's in-memory database: Patchwork's rows, the events its signals fire, its permission
//! rule, and the logs a test reads.

use std::collections::VecDeque;
use std::time::Duration;

use crate::model::{Category, CheckState};
use crate::time::Timestamp;

use super::{Fault, PatchSpec, RequestRecord, SeriesSpec, Submitter, Write};

/// Patchwork's default states (fixture `default_states`): name and slug, by `ordering`.
pub(crate) const STATES: [(&str, &str); 10] = [
    ("New", "new"),
    ("Under Review", "under-review"),
    ("Accepted", "accepted"),
    ("Rejected", "rejected"),
    ("RFC", "rfc"),
    ("Not Applicable", "not-applicable"),
    ("Changes Requested", "changes-requested"),
    ("Awaiting Upstream", "awaiting-upstream"),
    ("Superseded", "superseded"),
    ("Deferred", "deferred"),
];

#[derive(Debug, Clone)]
pub(crate) struct ProjectRow {
    pub id: u64,
    pub link_name: String,
    pub name: String,
    pub list_id: String,
    pub list_email: String,
    pub web_url: String,
    pub scm_url: String,
    pub webscm_url: String,
    pub list_archive_url: String,
    pub list_archive_url_format: String,
    pub commit_url_format: String,
    pub subject_match: String,
    pub show_dependencies: bool,
    pub maintainers: Vec<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct UserRow {
    pub id: u64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub token: String,
}

#[derive(Debug, Clone)]
pub(crate) struct PersonRow {
    pub id: u64,
    pub name: Option<String>,
    pub email: String,
    /// The account registered with this address, if any.
    pub user: Option<u64>,
}

/// What patches and cover letters share.
#[derive(Debug, Clone)]
pub(crate) struct MailRow {
    pub msgid: String,
    pub date: Timestamp,
    pub name: String,
    pub submitter: u64,
    pub headers: Vec<(String, String)>,
    pub content: String,
}

#[derive(Debug, Clone)]
pub(crate) struct CoverRow {
    pub id: u64,
    pub project: u64,
    pub mail: MailRow,
    pub series: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct PatchRow {
    pub id: u64,
    pub project: u64,
    pub mail: MailRow,
    pub diff: Option<String>,
    pub hash: Option<String>,
    pub prefixes: Vec<String>,
    pub state: String,
    pub archived: bool,
    pub delegate: Option<u64>,
    pub commit_ref: Option<String>,
    pub pull_url: Option<String>,
    pub series: Option<u64>,
    pub number: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct SeriesRow {
    pub id: u64,
    pub project: u64,
    pub name: Option<String>,
    pub date: Timestamp,
    pub submitter: u64,
    pub version: u32,
    pub total: u32,
    pub cover: Option<u64>,
    /// In arrival order.
    pub patches: Vec<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct CheckRow {
    pub id: u64,
    pub patch: u64,
    pub user: u64,
    pub date: Timestamp,
    pub state: CheckState,
    pub target_url: Option<String>,
    pub context: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub id: u64,
    pub category: Category,
    pub project: u64,
    pub date: Timestamp,
    pub actor: Option<u64>,
    pub patch: Option<u64>,
    pub series: Option<u64>,
    pub cover: Option<u64>,
    pub previous_state: Option<String>,
    pub current_state: Option<String>,
    pub check: Option<u64>,
}

impl EventRow {
    fn new(category: Category, project: u64, date: Timestamp) -> EventRow {
        EventRow {
            id: 0,
            category,
            project,
            date,
            actor: None,
            patch: None,
            series: None,
            cover: None,
            previous_state: None,
            current_state: None,
            check: None,
        }
    }
}

/// Where Patchwork's own stamps (events, checks) come from.
#[derive(Debug, Clone)]
pub(crate) enum Clock {
    /// This machine's time in UTC, strictly increasing.
    Real { last: Option<Timestamp> },
    /// `next`, then `step` later at each stamp: deterministic, and settable backwards.
    Fixed { next: Timestamp, step: Duration },
}

/// The rows `get` looks up by id (ids are positions + 1: rows are never deleted).
fn by_id<T>(rows: &[T], id: u64) -> Option<&T> {
    rows.get(usize::try_from(id.checked_sub(1)?).ok()?)
}

fn by_id_mut<T>(rows: &mut [T], id: u64) -> Option<&mut T> {
    rows.get_mut(usize::try_from(id.checked_sub(1)?).ok()?)
}

fn next_id(len: usize) -> u64 {
    len as u64 + 1
}

#[derive(Debug)]
pub(crate) struct Db {
    pub projects: Vec<ProjectRow>,
    pub users: Vec<UserRow>,
    pub people: Vec<PersonRow>,
    pub covers: Vec<CoverRow>,
    pub patches: Vec<PatchRow>,
    pub series: Vec<SeriesRow>,
    pub checks: Vec<CheckRow>,
    pub events: Vec<EventRow>,
    pub clock: Clock,
    pub writes: Vec<Write>,
    pub requests: Vec<RequestRecord>,
    /// Faults to inject, each for the next request whose path starts with the prefix.
    pub faults: VecDeque<(String, Fault)>,
}

impl Db {
    pub(crate) fn new() -> Db {
        Db {
            projects: Vec::new(),
            users: Vec::new(),
            people: Vec::new(),
            covers: Vec::new(),
            patches: Vec::new(),
            series: Vec::new(),
            checks: Vec::new(),
            events: Vec::new(),
            clock: Clock::Real { last: None },
            writes: Vec::new(),
            requests: Vec::new(),
            faults: VecDeque::new(),
        }
    }

    pub(crate) fn project(&self, id: u64) -> Option<&ProjectRow> {
        by_id(&self.projects, id)
    }

    /// By id or link name (case-insensitive), as Patchwork's `project` filter and URLs take it.
    pub(crate) fn find_project(&self, key: &str) -> Option<&ProjectRow> {
        match key.parse::<u64>() {
            Ok(id) => self.project(id),
            Err(_) => self
                .projects
                .iter()
                .find(|p| p.link_name.eq_ignore_ascii_case(key)),
        }
    }

    pub(crate) fn user(&self, id: u64) -> Option<&UserRow> {
        by_id(&self.users, id)
    }

    /// By id or username, as the `user` and `actor` filters take it.
    pub(crate) fn find_user(&self, key: &str) -> Option<&UserRow> {
        match key.parse::<u64>() {
            Ok(id) => self.user(id),
            Err(_) => self.users.iter().find(|u| u.username == key),
        }
    }

    pub(crate) fn user_by_token(&self, token: &str) -> Option<&UserRow> {
        self.users.iter().find(|u| u.token == token)
    }

    pub(crate) fn person(&self, id: u64) -> Option<&PersonRow> {
        by_id(&self.people, id)
    }

    pub(crate) fn patch(&self, id: u64) -> Option<&PatchRow> {
        by_id(&self.patches, id)
    }

    pub(crate) fn cover(&self, id: u64) -> Option<&CoverRow> {
        by_id(&self.covers, id)
    }

    pub(crate) fn series_row(&self, id: u64) -> Option<&SeriesRow> {
        by_id(&self.series, id)
    }

    pub(crate) fn check(&self, id: u64) -> Option<&CheckRow> {
        by_id(&self.checks, id)
    }

    /// The next of Patchwork's own stamps.
    pub(crate) fn stamp(&mut self) -> Timestamp {
        match &mut self.clock {
            Clock::Real { last } => {
                let now = Timestamp::now_utc();
                let t = match *last {
                    Some(l) if now <= l => l.saturating_add(Duration::from_micros(1)),
                    _ => now,
                };
                *last = Some(t);
                t
            }
            Clock::Fixed { next, step } => {
                let t = *next;
                *next = t.saturating_add(*step);
                t
            }
        }
    }

    pub(crate) fn add_project(&mut self, link_name: &str, name: &str, list_id: &str) -> u64 {
        let id = next_id(self.projects.len());
        let domain = list_id.split_once('.').map_or(list_id, |(_, d)| d);
        let local = list_id.split('.').next().unwrap_or(link_name);
        self.projects.push(ProjectRow {
            id,
            link_name: link_name.to_owned(),
            name: name.to_owned(),
            list_id: list_id.to_owned(),
            list_email: format!("{local}@{domain}"),
            web_url: String::new(),
            scm_url: String::new(),
            webscm_url: String::new(),
            list_archive_url: String::new(),
            list_archive_url_format: String::new(),
            commit_url_format: String::new(),
            subject_match: String::new(),
            show_dependencies: false,
            maintainers: Vec::new(),
        });
        id
    }

    pub(crate) fn add_user(&mut self, username: &str, email: &str) -> (u64, String) {
        let id = next_id(self.users.len());
        // 40 hex digits, like DRF's tokens; different for every user of every fake.
        let seed = u128::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
            ^ u128::from(Timestamp::now_utc().unix_micros().unsigned_abs());
        let token = format!("{id:08x}{seed:032x}");
        self.users.push(UserRow {
            id,
            username: username.to_owned(),
            first_name: String::new(),
            last_name: String::new(),
            email: email.to_owned(),
            token: token.clone(),
        });
        // Registering links the person who sent mail from the same address.
        for p in &mut self.people {
            if p.email.eq_ignore_ascii_case(email) {
                p.user = Some(id);
            }
        }
        (id, token)
    }

    /// The person with this address (compared case-insensitively), created if new.
    pub(crate) fn person_for(&mut self, who: &Submitter) -> u64 {
        if let Some(p) = self
            .people
            .iter()
            .find(|p| p.email.eq_ignore_ascii_case(&who.email))
        {
            return p.id;
        }
        let id = next_id(self.people.len());
        let user = self
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(&who.email))
            .map(|u| u.id);
        self.people.push(PersonRow {
            id,
            name: who.name.clone(),
            email: who.email.clone(),
            user,
        });
        id
    }

    pub(crate) fn push_event(&mut self, mut event: EventRow) -> u64 {
        event.id = next_id(self.events.len());
        let id = event.id;
        self.events.push(event);
        id
    }

    fn mail_row(&mut self, spec: &PatchSpec, submitter: u64) -> MailRow {
        let date = match spec.date {
            Some(d) => d,
            None => self.stamp(),
        };
        MailRow {
            msgid: with_brackets(&spec.msgid),
            date,
            name: spec.name.clone(),
            submitter,
            headers: spec.headers_or_synthesized(date),
            content: spec.content.clone(),
        }
    }

    /// A series as Patchwork's parser builds it from mail arriving in order, with the events
    /// its signals fire: for a cover letter `series-created` then `cover-created`; for each
    /// patch `patch-created`, `series-created` (first mail only), `patch-completed`, and
    /// `series-completed` once as many patches as announced are there.
    pub(crate) fn add_series(&mut self, project: u64, spec: &SeriesSpec) -> super::AddedSeries {
        let submitter = self.person_for(&spec.submitter);
        let series_id = next_id(self.series.len());
        let total = spec.total.unwrap_or(spec.patches.len() as u32).max(1);
        let first_date = spec
            .cover
            .as_ref()
            .or(spec.patches.first())
            .and_then(|p| p.date);
        let date = match first_date {
            Some(d) => d,
            None => self.stamp(),
        };
        self.series.push(SeriesRow {
            id: series_id,
            project,
            name: spec.name.clone(),
            date,
            submitter,
            version: spec.version.max(1),
            total,
            cover: None,
            patches: Vec::new(),
        });
        let mut added = super::AddedSeries {
            series: series_id,
            cover: None,
            patches: Vec::new(),
        };
        let mut announced = false;
        if let Some(cover) = &spec.cover {
            let mail = self.mail_row(cover, submitter);
            let cover_id = next_id(self.covers.len());
            if spec.name.is_none() {
                self.series[series_id as usize - 1].name = Some(strip_prefixes(&mail.name));
            }
            self.covers.push(CoverRow {
                id: cover_id,
                project,
                mail,
                series: Some(series_id),
            });
            self.series[series_id as usize - 1].cover = Some(cover_id);
            self.series_event(Category::SeriesCreated, project, series_id);
            announced = true;
            let mut e = EventRow::new(Category::CoverCreated, project, self.stamp());
            e.cover = Some(cover_id);
            self.push_event(e);
            added.cover = Some(cover_id);
        }
        for (i, p) in spec.patches.iter().enumerate() {
            let number = p.number.or_else(|| marker(&p.name)).unwrap_or(i as u32 + 1);
            let id = self.add_patch_inner(project, series_id, submitter, p, number, !announced);
            announced = true;
            added.patches.push(id);
        }
        added
    }

    fn series_event(&mut self, category: Category, project: u64, series: u64) {
        let mut e = EventRow::new(category, project, self.stamp());
        e.series = Some(series);
        self.push_event(e);
    }

    /// A patch of an existing series (the late mail of a series), with its events.
    pub(crate) fn add_patch(&mut self, series: u64, spec: &PatchSpec) -> Option<u64> {
        let s = self.series_row(series)?;
        let (project, submitter, count) = (s.project, s.submitter, s.patches.len());
        let number = spec
            .number
            .or_else(|| marker(&spec.name))
            .unwrap_or(count as u32 + 1);
        Some(self.add_patch_inner(project, series, submitter, spec, number, false))
    }

    fn add_patch_inner(
        &mut self,
        project: u64,
        series: u64,
        submitter: u64,
        spec: &PatchSpec,
        number: u32,
        creates_series: bool,
    ) -> u64 {
        let submitter = match &spec.submitter {
            Some(who) => self.person_for(who),
            None => submitter,
        };
        let mail = self.mail_row(spec, submitter);
        let id = next_id(self.patches.len());
        let prefixes = prefixes_of(&mail.name);
        self.patches.push(PatchRow {
            id,
            project,
            mail,
            diff: spec.diff.clone(),
            hash: spec.hash.clone().or_else(|| {
                spec.diff
                    .as_deref()
                    .filter(|d| !d.is_empty())
                    .map(gauntlet_mail::patchwork::hash_diff)
            }),
            prefixes,
            state: "new".to_owned(),
            archived: false,
            delegate: None,
            commit_ref: None,
            pull_url: spec.pull_url.clone(),
            series: None,
            number: Some(number),
        });
        let mut created = EventRow::new(Category::PatchCreated, project, self.stamp());
        created.patch = Some(id);
        self.push_event(created);
        if creates_series {
            self.series_event(Category::SeriesCreated, project, series);
        }
        // Assigning the series.
        let present: Vec<u32> = self.series[series as usize - 1]
            .patches
            .iter()
            .filter_map(|p| self.patch(*p).and_then(|p| p.number))
            .collect();
        let complete_before = (1..number).all(|n| present.contains(&n));
        if let Some(row) = by_id_mut(&mut self.patches, id) {
            row.series = Some(series);
        }
        let s = &mut self.series[series as usize - 1];
        s.patches.push(id);
        if s.name.is_none() && number == 1 {
            s.name = Some(self.patches[id as usize - 1].mail.name.clone());
        }
        let (received, total) = (s.patches.len() as u32, s.total);
        if complete_before {
            self.patch_completed(project, series, id);
            // Successors already there complete with it.
            let mut next = number + 1;
            while let Some(successor) = self.series[series as usize - 1]
                .patches
                .iter()
                .copied()
                .find(|p| self.patch(*p).and_then(|p| p.number) == Some(next))
            {
                self.patch_completed(project, series, successor);
                next += 1;
            }
        }
        if received >= total {
            self.series_event(Category::SeriesCompleted, project, series);
        }
        id
    }

    fn patch_completed(&mut self, project: u64, series: u64, patch: u64) {
        let mut e = EventRow::new(Category::PatchCompleted, project, self.stamp());
        e.patch = Some(patch);
        e.series = Some(series);
        self.push_event(e);
    }

    /// Patch's `is_editable`: a maintainer of its project, its delegate, or the account of its
    /// submitter.
    pub(crate) fn may_edit(&self, user: u64, patch: &PatchRow) -> bool {
        self.project(patch.project)
            .is_some_and(|p| p.maintainers.contains(&user))
            || patch.delegate == Some(user)
            || self
                .person(patch.mail.submitter)
                .is_some_and(|p| p.user == Some(user))
    }

    /// The patch's `check`: `fail` if any newest check per (user, context) fails, else
    /// `warning`, else `pending` (also when there is none), else `success`.
    pub(crate) fn combined_check(&self, patch: u64) -> CheckState {
        let mut newest: Vec<&CheckRow> = Vec::new();
        for c in self.checks.iter().filter(|c| c.patch == patch) {
            match newest
                .iter_mut()
                .find(|n| n.user == c.user && n.context == c.context)
            {
                Some(n) if (c.date, c.id) > (n.date, n.id) => *n = c,
                Some(_) => {}
                None => newest.push(c),
            }
        }
        let any = |s: CheckState| newest.iter().any(|c| c.state == s);
        if any(CheckState::Fail) {
            CheckState::Fail
        } else if any(CheckState::Warning) {
            CheckState::Warning
        } else if newest.is_empty() || any(CheckState::Pending) {
            CheckState::Pending
        } else {
            CheckState::Success
        }
    }

    pub(crate) fn add_check(&mut self, mut check: CheckRow) -> u64 {
        check.id = next_id(self.checks.len());
        let (id, patch, user) = (check.id, check.patch, check.user);
        let project = self.patch(patch).map_or(0, |p| p.project);
        self.checks.push(check);
        let mut e = EventRow::new(Category::CheckCreated, project, self.stamp());
        e.patch = Some(patch);
        e.check = Some(id);
        e.actor = Some(user);
        self.push_event(e);
        id
    }

    /// Sets a patch's state by slug, with `patch-state-changed` when it changes. `None` when
    /// the patch does not exist.
    pub(crate) fn set_state(&mut self, patch: u64, slug: &str, actor: Option<u64>) -> Option<()> {
        let row = by_id_mut(&mut self.patches, patch)?;
        if row.state == slug {
            return Some(());
        }
        let previous = std::mem::replace(&mut row.state, slug.to_owned());
        let project = row.project;
        let mut e = EventRow::new(Category::PatchStateChanged, project, self.stamp());
        e.patch = Some(patch);
        e.actor = actor;
        e.previous_state = Some(previous);
        e.current_state = Some(slug.to_owned());
        self.push_event(e);
        Some(())
    }
}

pub(crate) fn with_brackets(msgid: &str) -> String {
    let bare = msgid.trim().trim_start_matches('<').trim_end_matches('>');
    format!("<{bare}>")
}

/// `[a,b] rest` → `rest`: a series named after its cover letter drops the prefixes.
pub(crate) fn strip_prefixes(name: &str) -> String {
    let mut rest = name.trim_start();
    while rest.starts_with('[') {
        match rest.find(']') {
            Some(end) => rest = rest[end + 1..].trim_start(),
            None => break,
        }
    }
    rest.to_owned()
}

/// The prefixes of a cleaned name (`[v2,1/2] x` → `v2`, `1/2`).
pub(crate) fn prefixes_of(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = name.trim_start();
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(end) = inner.find(']') else { break };
        out.extend(
            inner[..end]
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
        rest = inner[end + 1..].trim_start();
    }
    out
}

/// `x` of an `x/N` prefix.
pub(crate) fn marker(name: &str) -> Option<u32> {
    prefixes_of(name)
        .iter()
        .find_map(|p| p.split_once('/').and_then(|(x, _)| x.parse().ok()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            strip_prefixes("[v2,0/2] A sample series"),
            "A sample series"
        );
        assert_eq!(prefixes_of("[v2,1/2] test: x"), ["v2", "1/2"]);
        assert_eq!(marker("[v2,3/4] x"), Some(3));
        assert_eq!(marker("x"), None);
        assert_eq!(with_brackets("a@b"), "<a@b>");
        assert_eq!(with_brackets("<a@b>"), "<a@b>");
    }
}

//! Conformance of gauntlet's ingestion with the tools it must agree with:
//!
//! * Patchwork: `corpus/patchwork/expected.json` is what real Patchwork made of every file of
//!   its own parser test data (`series/`, `mail/`, `fuzz/`): the kind of every mail, series
//!   grouping, names, versions, numbers, diff hashes ([`patchwork`]);
//! * git: `corpus/git-mailinfo` is git's `t5100` data for `git mailinfo` ([`git_mailinfo`]);
//! * a real archive: `corpus/lore/iouring-4k.mbox` and Patchwork's series for it ([`lore`]).
//!
//! The corpus lives outside the repository (`../shared/corpus`). Every check runs against a
//! [`Backend`]: the grouping engine in memory, or the real store (SQLite, PostgreSQL) through
//! `gauntlet-ingest`, so that the same expectations hold for every path a mail can take.

pub mod git_mailinfo;
pub mod lore;
pub mod patchwork;
mod store_backend;

pub use store_backend::StoreBackend;

use std::path::PathBuf;

use gauntlet_mail::{Mail, ParseOptions};
use gauntlet_series::{Id, Index, Kind, MessageRow, Outcome};

/// An error of a backend or of reading the corpus.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Where the corpus is: `$GAUNTLET_CORPUS`, or `../shared/corpus` next to the repository.
pub fn default_corpus_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GAUNTLET_CORPUS") {
        return PathBuf::from(dir);
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ))
}

/// The corpus for tests: `None` (after printing why) when it is absent, unless
/// `GAUNTLET_REQUIRE_CORPUS` is set, in which case its absence is a failure.
pub fn corpus_for_tests() -> Option<PathBuf> {
    let corpus = default_corpus_dir();
    if corpus.join("patchwork").is_dir() {
        return Some(corpus);
    }
    assert!(
        std::env::var_os("GAUNTLET_REQUIRE_CORPUS").is_none(),
        "GAUNTLET_REQUIRE_CORPUS is set but the corpus is missing: {}",
        corpus.display()
    );
    eprintln!(
        "SKIPPED: {} not found (conformance data is outside the repository)",
        corpus.display()
    );
    None
}

/// What became of one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservedKind {
    Patch,
    Cover,
    PatchComment,
    CoverComment,
    Dropped,
    Duplicate,
    Error(String),
}

impl ObservedKind {
    /// Patchwork's name for it (`None` for a dropped mail).
    pub fn patchwork_name(&self) -> Option<&str> {
        match self {
            ObservedKind::Patch => Some("Patch"),
            ObservedKind::Cover => Some("Cover"),
            ObservedKind::PatchComment => Some("PatchComment"),
            ObservedKind::CoverComment => Some("CoverComment"),
            ObservedKind::Dropped => None,
            ObservedKind::Duplicate => Some("duplicate"),
            ObservedKind::Error(_) => Some("error"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedMessage {
    pub kind: ObservedKind,
    pub msgid: String,
    /// gauntlet made the Message-ID up (the mail had none).
    pub synthesized: bool,
    pub name: Option<String>,
    pub number: Option<u32>,
    pub series: Option<Id>,
    pub hash: Option<String>,
    pub pull_url: Option<String>,
    pub submitter: Option<(Option<String>, String)>,
    pub date: Option<i64>,
    pub parent_msgid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSeries {
    pub id: Id,
    pub name: Option<String>,
    pub version: u32,
    pub total: u32,
    pub received_total: u32,
    pub received_all: bool,
    /// `(msgid, name)`.
    pub cover: Option<(String, String)>,
    /// `(number, name, msgid)` by number.
    pub patches: Vec<(u32, String, String)>,
}

/// Everything a backend made of one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// One per mail, in input order.
    pub messages: Vec<ObservedMessage>,
    /// In creation order.
    pub series: Vec<ObservedSeries>,
}

/// A way of ingesting mails: each call starts from an empty database.
pub trait Backend {
    fn name(&self) -> String;
    /// Ingests `mails` (raw, in order) filed under `list_id` into a fresh database.
    fn run(&mut self, mails: &[Vec<u8>], list_id: &str) -> Result<Observed, Error>;
}

/// The grouping engine alone, in memory.
#[derive(Debug, Default)]
pub struct InMemory;

impl ObservedMessage {
    /// What a mail became: its outcome (`None`: already stored), the message row made from it,
    /// that row's parent (for comments) and submitter.
    pub fn new(
        mail: &Mail,
        outcome: Option<&Outcome>,
        row: Option<&MessageRow>,
        parent: Option<&MessageRow>,
        submitter: Option<(Option<String>, String)>,
    ) -> ObservedMessage {
        let kind = match outcome {
            Some(Outcome::Patch { .. }) => ObservedKind::Patch,
            Some(Outcome::Cover { .. }) => ObservedKind::Cover,
            Some(Outcome::Comment { .. }) => match parent.map(|p| p.kind) {
                Some(Kind::Cover) => ObservedKind::CoverComment,
                _ => ObservedKind::PatchComment,
            },
            Some(Outcome::Dropped(_)) => ObservedKind::Dropped,
            Some(Outcome::Duplicate { .. }) | None => ObservedKind::Duplicate,
            Some(Outcome::Error(e)) => ObservedKind::Error(e.clone()),
        };
        ObservedMessage {
            kind,
            msgid: mail.message_id.clone(),
            synthesized: mail.message_id_synthesized,
            name: row
                .filter(|r| r.kind != Kind::Comment)
                .map(|r| r.name.clone()),
            number: row.and_then(|r| r.number),
            series: row.and_then(|r| r.series),
            hash: row.and_then(|r| r.hash.clone()),
            pull_url: row.and_then(|r| r.pull_url.clone()),
            submitter,
            date: row.map(|r| r.date),
            parent_msgid: parent.map(|p| p.msgid.clone()),
        }
    }
}

/// Builds the observation from an index after a run (shared by backends that end with one).
pub fn observe(index: &Index, mails: &[Mail], outcomes: &[Outcome]) -> Observed {
    let messages = mails
        .iter()
        .zip(outcomes)
        .map(|(mail, outcome)| {
            let row = outcome.message().and_then(|id| index.message(id));
            let parent = row.and_then(|r| r.parent).and_then(|p| index.message(p));
            let submitter = row
                .and_then(|r| index.person(r.submitter))
                .map(|p| (p.name.clone(), p.email.clone()));
            ObservedMessage::new(mail, Some(outcome), row, parent, submitter)
        })
        .collect();
    let series = index
        .all_series()
        .into_iter()
        .map(|s| ObservedSeries {
            id: s.id,
            name: s.name.clone(),
            version: s.version,
            total: s.total,
            received_total: s.patches.len() as u32,
            received_all: s.received_all(),
            cover: s
                .cover
                .and_then(|c| index.message(c))
                .map(|c| (c.msgid.clone(), c.name.clone())),
            patches: s
                .patches
                .iter()
                .filter_map(|&(n, id)| {
                    index
                        .message(id)
                        .map(|p| (n, p.name.clone(), p.msgid.clone()))
                })
                .collect(),
        })
        .collect();
    Observed { messages, series }
}

impl Backend for InMemory {
    fn name(&self) -> String {
        "memory".to_string()
    }

    fn run(&mut self, mails: &[Vec<u8>], _list_id: &str) -> Result<Observed, Error> {
        let parsed: Vec<Mail> = mails
            .iter()
            .map(|m| gauntlet_mail::parse(m, &ParseOptions::default()))
            .collect();
        let (index, outcomes) = gauntlet_series::group(&parsed, 1, 0);
        Ok(observe(&index, &parsed, &outcomes))
    }
}

/// Splits a corpus file: an mbox, or (`single`) one mail as Python's `message_from_binary_file`
/// reads a file (an initial `From ` line is the envelope).
pub fn read_mails(bytes: &[u8], single: bool) -> Vec<Vec<u8>> {
    if single {
        let body = if bytes.starts_with(b"From ") {
            match memchr_newline(bytes) {
                Some(i) => &bytes[i + 1..],
                None => &[][..],
            }
        } else {
            bytes
        };
        return vec![body.to_vec()];
    }
    gauntlet_mbox::split(bytes, gauntlet_mbox::Options::default())
        .into_iter()
        .map(|m| m.bytes)
        .collect()
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Pass/fail counts of one check, with what failed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub title: String,
    pub passed: usize,
    pub failed: usize,
    /// Cases that differ on purpose (see the README): counted as passed, listed here.
    pub deviations: Vec<String>,
    pub failures: Vec<String>,
}

impl Report {
    pub fn new(title: impl Into<String>) -> Self {
        Report {
            title: title.into(),
            ..Report::default()
        }
    }

    pub fn record(&mut self, case: &str, problems: Vec<String>, deviations: Vec<String>) {
        if problems.is_empty() {
            self.passed += 1;
        } else {
            self.failed += 1;
            for p in problems {
                self.failures.push(format!("{case}: {p}"));
            }
        }
        for d in deviations {
            self.deviations.push(format!("{case}: {d}"));
        }
    }

    /// `title: 71/71 passed (2 documented deviations)`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: {}/{} passed",
            self.title,
            self.passed,
            self.passed + self.failed
        );
        if !self.deviations.is_empty() {
            s.push_str(&format!(
                " ({} documented deviations)",
                self.deviations.len()
            ));
        }
        s
    }
}

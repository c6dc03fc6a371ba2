//! A submission's series, read back from the store: its stored raw mails, parsed again.

use gauntlet_mail::{Mail, ParseOptions};
use gauntlet_store::{Id, SeriesDetail, Store};

use crate::Error;

/// One mail of the series.
pub(crate) struct Message {
    pub(crate) number: Option<u32>,
    pub(crate) msgid: String,
    pub(crate) raw: Vec<u8>,
    pub(crate) mail: Mail,
}

/// The series of a submission.
pub(crate) struct Loaded {
    pub(crate) detail: SeriesDetail,
    pub(crate) cover: Option<Message>,
    /// By number.
    pub(crate) patches: Vec<Message>,
}

impl Loaded {
    pub(crate) async fn load(store: &Store, series: Id) -> Result<Loaded, Error> {
        let detail = store
            .series_detail(series)
            .await?
            .ok_or(Error::NoSeries(series))?;
        let mut ids: Vec<Id> = detail.patches.iter().map(|p| p.mail).collect();
        if let Some(cover) = &detail.cover {
            ids.push(cover.mail);
        }
        let mut raws = store.raw_mails(&ids).await?;
        let options = ParseOptions::default();
        let mut take = |mail: Id, number: Option<u32>, msgid: &str| {
            raws.remove(&mail).map(|raw| Message {
                number,
                msgid: msgid.to_owned(),
                mail: gauntlet_mail::parse(&raw, &options),
                raw,
            })
        };
        let cover = detail
            .cover
            .as_ref()
            .and_then(|c| take(c.mail, c.number, &c.msgid));
        let mut patches: Vec<Message> = detail
            .patches
            .iter()
            .filter_map(|p| take(p.mail, p.number, &p.msgid))
            .collect();
        patches.sort_by_key(|p| p.number.unwrap_or(u32::MAX));
        Ok(Loaded {
            detail,
            cover,
            patches,
        })
    }

    /// The Message-ID that names the series: its cover letter's, or its first patch's.
    pub(crate) fn key(&self) -> String {
        self.cover
            .as_ref()
            .or(self.patches.first())
            .map(|m| m.msgid.clone())
            .unwrap_or_default()
    }

    /// The mail a report replies to.
    pub(crate) fn head(&self) -> Option<&Message> {
        self.cover.as_ref().or(self.patches.first())
    }

    /// `[v9] syscall: add dummy system call`
    pub(crate) fn title(&self) -> String {
        let name = self
            .detail
            .summary
            .name
            .clone()
            .or_else(|| self.head().map(|m| m.mail.name.clone()))
            .unwrap_or_default();
        format!("[v{}] {}", self.detail.summary.version, strip_tags(&name))
    }

    /// The `base-commit:` the series names (the cover letter's, or any patch's).
    pub(crate) fn base_commit(&self) -> Option<String> {
        self.cover
            .iter()
            .chain(&self.patches)
            .find_map(|m| m.mail.base_commit.clone())
    }

    /// The check crate's view of the series.
    pub(crate) fn for_checks(&self) -> gauntlet_checks::Series<'_> {
        let sources: Vec<gauntlet_checks::Source<'_>> = self
            .cover
            .iter()
            .chain(&self.patches)
            .map(|m| gauntlet_checks::Source {
                mail: &m.mail,
                raw: &m.raw,
                file_name: None,
            })
            .collect();
        gauntlet_checks::Series::assemble(&sources)
    }

    /// The patches for `git am`, numbered 1..n in order.
    pub(crate) fn for_apply(&self) -> Vec<gauntlet_tree::Patch> {
        self.patches
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let number = m
                    .number
                    .unwrap_or_else(|| u32::try_from(i + 1).unwrap_or(u32::MAX));
                let subject = m
                    .mail
                    .commit
                    .as_ref()
                    .map_or_else(|| m.mail.name.clone(), |c| c.subject.clone());
                gauntlet_tree::Patch::new(number, subject, m.raw.clone())
            })
            .collect()
    }
}

/// Patchwork's name keeps a posting's other tags as `[a,b] rest`: the rest.
fn strip_tags(name: &str) -> &str {
    let mut rest = name.trim_start();
    while rest.starts_with('[')
        && let Some(end) = rest.find(']')
    {
        rest = rest[end + 1..].trim_start();
    }
    rest
}

//! SERIES arguments: an mbox file, a maildir, a directory of patches, `-` (standard input), or
//! the id of a series already in the store.

use anyhow::{Context, Result};
use gauntlet_mail::{Mail, ParseOptions};
use gauntlet_mbox::Input;
use gauntlet_series::{Id, Incoming, Index, Outcome, Tracker};

/// The raw mails of an argument that names mails.
pub(crate) fn read_mails(arg: &str) -> Result<Vec<Vec<u8>>> {
    let input = Input::from_arg(arg).with_context(|| format!("reading {arg}"))?;
    let mut mails = Vec::new();
    for item in input
        .open(gauntlet_mbox::Options::default())
        .with_context(|| format!("reading {arg}"))?
    {
        let (_, raw) = item.with_context(|| format!("reading {arg}"))?;
        mails.push(raw.bytes);
    }
    Ok(mails)
}

/// A series id, when the argument is a number that is not also a file.
pub(crate) fn series_id(arg: &str) -> Option<Id> {
    if std::path::Path::new(arg).exists() {
        return None;
    }
    arg.parse::<Id>().ok()
}

/// One posting found in a pile of mails, grouped the way Patchwork groups them.
pub(crate) struct Posting {
    /// Indices into the mails given, the cover letter (if any) first, then the patches.
    pub(crate) mails: Vec<usize>,
}

/// Groups mails into postings in memory (the same engine as `gauntlet ingest`), in the order
/// their first mail appears. Replies and mails that are not patches are left out.
pub(crate) fn postings(mails: &[Mail]) -> Vec<Posting> {
    let mut index = Index::new(0, 0, 0);
    let mut tracker = Tracker::new(&mut index);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut order: Vec<Id> = Vec::new();
    let mut by_series: std::collections::HashMap<Id, Vec<usize>> = Default::default();
    let mut alone: Vec<Posting> = Vec::new();
    for (i, mail) in mails.iter().enumerate() {
        let outcome = tracker.ingest(Incoming {
            mail,
            mail_id: i as Id + 1,
            list: 1,
            received_at: now,
        });
        let series = match outcome {
            Outcome::Patch {
                series: Some(s), ..
            }
            | Outcome::Cover { series: s, .. } => s,
            Outcome::Patch { series: None, .. } => {
                alone.push(Posting { mails: vec![i] });
                continue;
            }
            _ => continue,
        };
        if !by_series.contains_key(&series) {
            order.push(series);
        }
        by_series.entry(series).or_default().push(i);
    }
    let mut out: Vec<Posting> = order
        .into_iter()
        .filter_map(|s| by_series.remove(&s))
        .map(|mails| Posting { mails })
        .collect();
    out.extend(alone);
    out
}

/// Parses every mail.
pub(crate) fn parse_all(raws: &[Vec<u8>]) -> Vec<Mail> {
    let options = ParseOptions::default();
    raws.iter()
        .map(|raw| gauntlet_mail::parse(raw, &options))
        .collect()
}

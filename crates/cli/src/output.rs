//! How series look on a terminal and in JSON.

use std::fmt::Write as _;

use std::collections::HashMap;

use gauntlet_mail::Mail;
use gauntlet_mail::date::format_utc;
use gauntlet_store::{ExportSeries, MessageSummary, PersonSummary, SeriesDetail, SeriesSummary};
use serde_json::{Value, json};

/// `Name <email>`, or just the address.
fn name_addr(name: Option<&str>, email: &str) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(n) => format!("{n} <{email}>"),
        None => email.to_string(),
    }
}

fn person(p: &PersonSummary) -> String {
    name_addr(p.name.as_deref(), &p.email)
}

fn person_json(p: &PersonSummary) -> Value {
    json!({"name": p.name, "email": p.email})
}

fn bare(msgid: &str) -> &str {
    msgid
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(msgid)
}

fn date(secs: i64) -> String {
    format!("{}Z", format_utc(secs))
}

/// `v2, revision 2/3` / `v1`.
fn revision_text(s: &SeriesSummary) -> String {
    if s.revisions > 1 {
        format!("v{} ({}/{})", s.version, s.revision, s.revisions)
    } else {
        format!("v{}", s.version)
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// The `series list` table.
pub(crate) fn series_table(list: &[SeriesSummary]) -> String {
    let mut out = String::new();
    if list.is_empty() {
        out.push_str("No series.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:>6}  {:<10}  {:<7}  {:<10}  {:<24}  NAME",
        "ID", "VERSION", "PATCHES", "DATE", "SUBMITTER"
    );
    for s in list {
        let patches = format!(
            "{}/{}{}",
            s.received,
            s.total,
            if s.complete { "" } else { "!" }
        );
        let mut name = s
            .name
            .clone()
            .unwrap_or_else(|| "(no name yet)".to_string());
        if let Some(newer) = s.superseded_by {
            name.push_str(&format!("  [superseded by {newer}]"));
        }
        let _ = writeln!(
            out,
            "{:>6}  {:<10}  {:<7}  {:<10}  {:<24}  {}",
            s.id,
            revision_text(s),
            patches,
            &format_utc(s.date)[..10],
            truncate(&person(&s.submitter), 24),
            name
        );
    }
    out
}

fn summary_json(s: &SeriesSummary) -> Value {
    json!({
        "id": s.id,
        "list_id": s.list_id,
        "name": s.name,
        "version": s.version,
        "total": s.total,
        "received": s.received,
        "complete": s.complete,
        "date": date(s.date),
        "submitter": person_json(&s.submitter),
        "cover": s.cover_msgid.as_deref().map(bare),
        "submission": {"series": s.id, "revision": s.revision},
        "revisions": s.revisions,
        "superseded_by": s.superseded_by,
    })
}

pub(crate) fn series_list_json(list: &[SeriesSummary]) -> Value {
    Value::Array(list.iter().map(summary_json).collect())
}

/// The mails of a series, parsed again from their raw bytes (by mail id): commit author,
/// trailers and tags are read from them rather than stored twice.
pub(crate) type Parsed = HashMap<i64, Mail>;

fn message_json(m: &MessageSummary, parsed: &Parsed) -> Value {
    let mail = parsed.get(&m.mail);
    let commit = mail.and_then(|p| p.commit.as_ref());
    json!({
        "id": m.id,
        "mail": m.mail,
        "number": m.number,
        "msgid": bare(&m.msgid),
        "name": m.name,
        "date": date(m.date),
        "submitter": person_json(&m.submitter),
        "hash": m.hash,
        "pull_url": m.pull_url,
        "comments": m.comments,
        "author": commit.map(|c| json!({"name": c.author.name, "email": c.author.email})),
        "commit_subject": commit.map(|c| c.subject.clone()),
        "trailers": mail.map(|p| p.trailers.iter().map(|t| json!({"key": t.key, "value": t.value})).collect::<Vec<_>>()),
        "base_commit": mail.and_then(|p| p.base_commit.clone()),
    })
}

/// The `base-commit:` the series names (cover letter first).
fn base_commit<'a>(d: &SeriesDetail, parsed: &'a Parsed) -> Option<&'a str> {
    d.cover
        .iter()
        .chain(&d.patches)
        .filter_map(|m| parsed.get(&m.mail))
        .find_map(|p| p.base_commit.as_deref())
}

pub(crate) fn series_detail_json(d: &SeriesDetail, parsed: &Parsed) -> Value {
    json!({
        "series": summary_json(&d.summary),
        "base_commit": base_commit(d, parsed),
        "cover": d.cover.as_ref().map(|c| message_json(c, parsed)),
        "patches": d.patches.iter().map(|p| message_json(p, parsed)).collect::<Vec<_>>(),
        "revisions": d.revisions.iter().map(|r| json!({
            "series": r.id,
            "revision": r.revision,
            "version": r.version,
            "name": r.name,
            "date": date(r.date),
            "received": r.received,
            "total": r.total,
        })).collect::<Vec<_>>(),
    })
}

pub(crate) fn series_detail_text(d: &SeriesDetail, parsed: &Parsed) -> String {
    let s = &d.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Series {}: {}",
        s.id,
        s.name.as_deref().unwrap_or("(no name yet)")
    );
    if !s.list_id.is_empty() {
        let _ = writeln!(out, "List:       {}", s.list_id);
    }
    let _ = writeln!(out, "Submitter:  {}", person(&s.submitter));
    let _ = writeln!(out, "Date:       {}", date(s.date));
    let _ = writeln!(
        out,
        "Patches:    {}/{} {}",
        s.received,
        s.total,
        if s.complete {
            "(complete)"
        } else {
            "(incomplete)"
        }
    );
    let _ = write!(
        out,
        "Submission: ({}, revision {} of {}), v{}",
        s.id, s.revision, s.revisions, s.version
    );
    match s.superseded_by {
        Some(n) => {
            let _ = writeln!(out, ", superseded by series {n}");
        }
        None => out.push('\n'),
    }
    if let Some(base) = base_commit(d, parsed) {
        let _ = writeln!(out, "Base:       {base} (base-commit)");
    }
    if let Some(c) = &d.cover {
        let _ = writeln!(out, "\nCover letter <{}>", bare(&c.msgid));
        let _ = writeln!(out, "    {}  ({} replies)", c.name, c.comments);
    }
    if !d.patches.is_empty() {
        let _ = writeln!(out, "\nPatches");
        for p in &d.patches {
            let n = p.number.map_or("?".to_string(), |n| n.to_string());
            let _ = writeln!(out, "  {n:>3}/{}  {}", s.total, p.name);
            let mut extra = format!("        <{}>", bare(&p.msgid));
            if let Some(h) = &p.hash {
                extra.push_str(&format!("  diff {}", &h[..h.len().min(12)]));
            }
            if let Some(u) = &p.pull_url {
                extra.push_str(&format!("  pull {u}"));
            }
            if p.comments > 0 {
                extra.push_str(&format!("  {} replies", p.comments));
            }
            let _ = writeln!(out, "{extra}");
            if let Some(mail) = parsed.get(&p.mail) {
                if let Some(c) = &mail.commit
                    && !c.author.email.eq_ignore_ascii_case(&p.submitter.email)
                {
                    let author = name_addr(c.author.name.as_deref(), &c.author.email);
                    let _ = writeln!(out, "        author {author}");
                }
                for t in &mail.trailers {
                    let _ = writeln!(out, "        {}: {}", t.key, t.value);
                }
            }
        }
    }
    if d.revisions.len() > 1 {
        let _ = writeln!(out, "\nRevisions");
        for r in &d.revisions {
            let here = if r.id == s.id { "  <- this one" } else { "" };
            let _ = writeln!(
                out,
                "  {}. series {:<5} v{:<3} {}/{}  {}  {}{here}",
                r.revision,
                r.id,
                r.version,
                r.received,
                r.total,
                &format_utc(r.date)[..10],
                r.name.as_deref().unwrap_or("(no name yet)")
            );
        }
    }
    out
}

/// One series of `gauntlet export --json`.
pub(crate) fn export_json(s: &ExportSeries) -> Value {
    json!({
        "name": s.name,
        "version": s.version,
        "total": s.total,
        "cover": s.cover.as_deref().map(bare),
        "patches": s.patches.iter().map(|(n, id)| json!([n, bare(id)])).collect::<Vec<_>>(),
    })
}

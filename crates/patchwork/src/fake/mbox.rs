//! Mboxes as Patchwork writes them (`series/{id}/mbox/`, a patch's `mbox/`), and the reverse:
//! mail read into the fake with gauntlet's own Patchwork-compatible mail parser.

use super::db::{Db, MailRow, PatchRow};
use super::{PatchSpec, SeriesSpec, Submitter};
use crate::time::Timestamp;

/// Patchwork's `filename`: runs of anything but `-_A-Za-z0-9.` become `-`, trimmed of `-`.
pub(crate) fn filename(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// `Name <address>`, the name quoted when it holds a character RFC 5322 reserves.
fn address(name: Option<&str>, email: &str) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(n) if n.contains(|c: char| "()<>@,:;.\"[]\\".contains(c)) => {
            format!(
                "\"{}\" <{email}>",
                n.replace('\\', "\\\\").replace('"', "\\\"")
            )
        }
        Some(n) => format!("{n} <{email}>"),
        None => email.to_owned(),
    }
}

/// One mail of an mbox: Patchwork's envelope and headers, the original headers but the MIME
/// ones it rewrites, then the message and the diff.
fn mail(db: &Db, id: u64, m: &MailRow, diff: Option<&str>, delegate: Option<u64>) -> String {
    let submitter = db.person(m.submitter);
    let body = {
        let mut body = m.content.trim_end().to_owned();
        body.push('\n');
        if let Some(diff) = diff.filter(|d| !d.is_empty()) {
            body.push('\n');
            body.push_str(diff);
        }
        body
    };
    let encoding = if body.is_ascii() { "7bit" } else { "8bit" };
    let mut out = format!(
        "From patchwork {}\nContent-Type: text/plain; charset=\"utf-8\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: {encoding}\n",
        m.date.ctime()
    );
    if let Some(p) = submitter {
        out.push_str(&format!(
            "X-Patchwork-Submitter: {}\n",
            address(p.name.as_deref(), &p.email)
        ));
    }
    out.push_str(&format!("X-Patchwork-Id: {id}\n"));
    if let Some(u) = delegate.and_then(|u| db.user(u)) {
        out.push_str(&format!("X-Patchwork-Delegate: {}\n", u.email));
    }
    for (name, value) in &m.headers {
        if name.eq_ignore_ascii_case("Content-Type")
            || name.eq_ignore_ascii_case("Content-Transfer-Encoding")
        {
            continue;
        }
        out.push_str(&format!("{name}: {value}\n"));
    }
    out.push('\n');
    out.push_str(&body);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

pub(crate) fn patch_mbox(db: &Db, p: &PatchRow) -> String {
    mail(db, p.id, &p.mail, p.diff.as_deref(), p.delegate)
}

/// Every patch of the series by number (no cover letter), one blank line between mails.
pub(crate) fn series_mbox(db: &Db, series: u64) -> Option<String> {
    series_mbox_to(db, series, None)
}

/// The same, up to patch number `last`.
pub(crate) fn series_mbox_to(db: &Db, series: u64, last: Option<u32>) -> Option<String> {
    let s = db.series_row(series)?;
    let mut patches: Vec<&PatchRow> = s
        .patches
        .iter()
        .filter_map(|id| db.patch(*id))
        .filter(|p| last.is_none_or(|last| p.number.is_some_and(|n| n <= last)))
        .collect();
    patches.sort_by_key(|p| (p.number, p.id));
    Some(
        patches
            .iter()
            .map(|p| patch_mbox(db, p))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// The headers of a raw mail, values as written (folding kept). In a mail of an mbox Patchwork
/// wrote (`From patchwork …`), the headers Patchwork put before the stored ones are dropped,
/// so that such an mbox loads back as the mails Patchwork had received.
fn raw_headers(raw: &[u8], from_patchwork: bool) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = gauntlet_mail::rfc822::parse(raw)
        .headers
        .list
        .iter()
        .map(|h| {
            (
                String::from_utf8_lossy(h.name).into_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    if from_patchwork {
        const ADDED: [&str; 6] = [
            "content-type",
            "mime-version",
            "content-transfer-encoding",
            "x-patchwork-submitter",
            "x-patchwork-id",
            "x-patchwork-delegate",
        ];
        let leading = headers
            .iter()
            .take_while(|(name, _)| ADDED.contains(&name.to_ascii_lowercase().as_str()))
            .count();
        let added = headers[..leading]
            .iter()
            .rposition(|(name, _)| name.to_ascii_lowercase().starts_with("x-patchwork-"))
            .map_or(0, |i| i + 1);
        headers.drain(..added);
    }
    headers
}

/// Reads an mbox holding one series (an optional cover letter, then its patches; replies are
/// skipped) as Patchwork's parser would see it.
pub(crate) fn series_from_mbox(bytes: &[u8]) -> Result<SeriesSpec, String> {
    let mut spec: Option<SeriesSpec> = None;
    let mut total = 0;
    for raw in gauntlet_mbox::split(bytes, gauntlet_mbox::Options::default()) {
        let m = gauntlet_mail::parse(&raw.bytes, &gauntlet_mail::ParseOptions::default());
        let Ok(who) = &m.submitter else {
            continue;
        };
        let submitter = Submitter {
            name: who.name.clone(),
            email: who.email.clone(),
        };
        let date = m
            .date
            .and_then(|s| s.checked_mul(1_000_000))
            .and_then(Timestamp::from_unix_micros);
        let is_cover = !m.is_patch() && !m.is_reply && m.marker.is_some_and(|(x, _)| x == 0);
        if m.is_reply || !(m.is_patch() || is_cover) {
            continue;
        }
        if let Some((_, n)) = m.marker {
            total = total.max(n);
        }
        let one = PatchSpec {
            name: m.name.clone(),
            msgid: m.message_id.clone(),
            date,
            content: m.content.message.clone(),
            diff: m.diff().map(str::to_owned),
            hash: m.hash.clone(),
            pull_url: m.pull_url.clone(),
            headers: raw_headers(
                &raw.bytes,
                raw.envelope
                    .as_deref()
                    .is_some_and(|e| e.starts_with(b"From patchwork ")),
            ),
            number: m.marker.map(|(x, _)| x),
            submitter: Some(submitter.clone()),
        };
        let series = spec.get_or_insert_with(|| SeriesSpec {
            name: None,
            version: m.version,
            total: None,
            submitter,
            cover: None,
            patches: Vec::new(),
        });
        if is_cover {
            series.cover = Some(one);
        } else {
            series.patches.push(one);
        }
    }
    let mut spec = spec.ok_or_else(|| "the mbox holds no patch".to_owned())?;
    if spec.patches.is_empty() {
        return Err("the mbox holds a cover letter but no patch".into());
    }
    spec.total = Some(total.max(spec.patches.len() as u32));
    Ok(spec)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn filenames_and_addresses() {
        assert_eq!(
            filename("[1/2] test: Add some lorem ipsum"),
            "1-2-test-Add-some-lorem-ipsum"
        );
        assert_eq!(address(Some("A B"), "a@b"), "A B <a@b>");
        assert_eq!(address(Some("B, A"), "a@b"), "\"B, A\" <a@b>");
        assert_eq!(address(None, "a@b"), "a@b");
    }
}

//! Comparison with `corpus/patchwork/expected.json`, what real Patchwork produced for every file
//! of its parser test data.
//!
//! * `series/*.mbox`: every mail's kind (cover, patch, patch or cover comment, dropped, error),
//!   its name, number, Message-ID, hash, submitter and date; the grouping into series (compared
//!   as a partition, ids being arbitrary); every series' name, version, total, received count,
//!   cover letter and patches.
//! * `mail/*` and `fuzz/*` (one mail each): Patchwork's `find_patch_content` (diff or not, its
//!   length, first line and hash, the message length, the pull request URL) and `parse_mail`'s
//!   result.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::{Backend, Error, Observed, ObservedKind, Report, read_mails};

/// Fields where gauntlet differs from Patchwork on purpose: `(case, field, why)`. Each is also
/// listed in the README.
pub const DEVIATIONS: &[(&str, &str, &str)] = &[
    (
        "mail/0014-with-unencoded-utf8-headers.mbox",
        "name",
        "raw UTF-8 in Subject is read as UTF-8; Patchwork turns every byte into U+FFFD",
    ),
    (
        "mail/0014-with-unencoded-utf8-headers.mbox",
        "submitter",
        "raw UTF-8 in From is read as UTF-8; Patchwork turns every byte into U+FFFD",
    ),
];

fn deviation(case: &str, field: &str) -> Option<&'static str> {
    DEVIATIONS
        .iter()
        .find(|(c, f, _)| *c == case && *f == field)
        .map(|d| d.2)
}

/// `2016-09-11T22:22:03` for a Unix time.
pub fn naive_utc(secs: i64) -> String {
    gauntlet_mail::date::format_utc(secs)
}

/// Collects differences, turning the documented ones into deviations.
struct Diff<'c> {
    case: &'c str,
    problems: Vec<String>,
    deviations: Vec<String>,
}

impl<'c> Diff<'c> {
    fn new(case: &'c str) -> Self {
        Diff {
            case,
            problems: Vec::new(),
            deviations: Vec::new(),
        }
    }

    fn eq(&mut self, what: &str, field: &str, expected: &Value, actual: &Value) {
        if expected == actual {
            return;
        }
        let msg = format!("{what} {field}: expected {expected}, got {actual}");
        match deviation(self.case, field) {
            Some(why) => self.deviations.push(format!("{msg} ({why})")),
            None => self.problems.push(msg),
        }
    }
}

fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map_or(Value::Null, Into::into)
}

fn submitter_value(s: &Option<(Option<String>, String)>) -> Value {
    match s {
        Some((name, email)) => Value::Array(vec![opt(name.clone()), email.clone().into()]),
        None => Value::Null,
    }
}

/// Compares one mail's result (`messages[i].result` or `parse_mail`).
fn compare_message(d: &mut Diff<'_>, what: &str, expected: &Value, got: &crate::ObservedMessage) {
    let etype = expected.get("type").and_then(Value::as_str);
    let gtype = got.kind.patchwork_name();
    if etype != gtype {
        d.problems
            .push(format!("{what}: expected {etype:?}, got {:?}", got.kind));
        return;
    }
    match &got.kind {
        ObservedKind::Error(msg) => {
            let e = expected.get("error").and_then(Value::as_str).unwrap_or("");
            if !e.ends_with(msg.as_str()) {
                d.problems
                    .push(format!("{what}: expected error {e:?}, got {msg:?}"));
            }
            return;
        }
        ObservedKind::Dropped | ObservedKind::Duplicate => return,
        _ => {}
    }
    if !got.synthesized {
        d.eq(what, "msgid", &expected["msgid"], &got.msgid.clone().into());
    }
    if matches!(got.kind, ObservedKind::Patch | ObservedKind::Cover) {
        d.eq(what, "name", &expected["name"], &opt(got.name.clone()));
        d.eq(
            what,
            "submitter",
            &expected["submitter"],
            &submitter_value(&got.submitter),
        );
        d.eq(
            what,
            "date",
            &expected["date"],
            &opt(got.date.map(naive_utc)),
        );
    }
    if got.kind == ObservedKind::Patch {
        d.eq(what, "number", &expected["number"], &opt(got.number));
        d.eq(what, "hash", &expected["hash"], &opt(got.hash.clone()));
        d.eq(
            what,
            "pull_url",
            &expected["pull_url"],
            &opt(got.pull_url.clone()),
        );
    }
    for key in ["parent_patch_msgid", "parent_cover_msgid"] {
        if let Some(e) = expected.get(key) {
            d.eq(what, key, e, &opt(got.parent_msgid.clone()));
        }
    }
}

fn compare_series_file(case: &str, expected: &Value, got: &Observed) -> (Vec<String>, Vec<String>) {
    let mut d = Diff::new(case);
    let emsgs = expected["messages"].as_array().cloned().unwrap_or_default();
    if emsgs.len() != got.messages.len() {
        d.problems.push(format!(
            "expected {} mails, got {}",
            emsgs.len(),
            got.messages.len()
        ));
        return (d.problems, d.deviations);
    }
    // Series ids are compared as a partition: expected id <-> observed id, both ways.
    let mut e2g: HashMap<i64, i64> = HashMap::new();
    let mut g2e: HashMap<i64, i64> = HashMap::new();
    for (i, (em, gm)) in emsgs.iter().zip(&got.messages).enumerate() {
        let what = format!("mail {i}");
        let result = &em["result"];
        compare_message(&mut d, &what, result, gm);
        let es = result.get("series_id").and_then(Value::as_i64);
        if let (Some(es), Some(gs)) = (es, gm.series) {
            let a = *e2g.entry(es).or_insert(gs);
            let b = *g2e.entry(gs).or_insert(es);
            if a != gs || b != es {
                d.problems
                    .push(format!("{what}: grouped with the wrong series"));
            }
        } else if es.is_some() != gm.series.is_some() && gm.kind == ObservedKind::Patch {
            d.problems.push(format!(
                "{what}: series expected {es:?}, got {:?}",
                gm.series
            ));
        }
    }
    let eseries = expected["series"].as_array().cloned().unwrap_or_default();
    if eseries.len() != got.series.len() {
        d.problems.push(format!(
            "expected {} series, got {}",
            eseries.len(),
            got.series.len()
        ));
    }
    for es in &eseries {
        let Some(eid) = es["id"].as_i64() else {
            continue;
        };
        let Some(gs) = e2g
            .get(&eid)
            .and_then(|gid| got.series.iter().find(|s| s.id == *gid))
        else {
            // A series without patches or cover (Patchwork keeps empty ones too).
            if !got.series.is_empty() && es["patches"].as_array().is_some_and(|p| !p.is_empty()) {
                d.problems.push(format!("series {eid}: not found"));
            }
            continue;
        };
        let what = format!("series {eid}");
        d.eq(&what, "name", &es["name"], &opt(gs.name.clone()));
        d.eq(&what, "version", &es["version"], &gs.version.into());
        d.eq(&what, "total", &es["total"], &gs.total.into());
        d.eq(
            &what,
            "received_total",
            &es["received_total"],
            &gs.received_total.into(),
        );
        d.eq(
            &what,
            "received_all",
            &es["received_all"],
            &gs.received_all.into(),
        );
        let gcover = match &gs.cover {
            Some((msgid, name)) => serde_json::json!({"msgid": msgid, "name": name}),
            None => Value::Null,
        };
        d.eq(&what, "cover_letter", &es["cover_letter"], &gcover);
        let mut epatches: Vec<Value> = es["patches"].as_array().cloned().unwrap_or_default();
        epatches.sort_by_key(|p| p["number"].as_i64());
        let gpatches: Vec<Value> = gs
            .patches
            .iter()
            .map(|(n, name, msgid)| serde_json::json!({"number": n, "name": name, "msgid": msgid}))
            .collect();
        d.eq(
            &what,
            "patches",
            &Value::Array(epatches),
            &Value::Array(gpatches),
        );
    }
    (d.problems, d.deviations)
}

/// `find_patch_content` of one mail, computed by gauntlet's parser directly.
fn compare_patch_content(case: &str, expected: &Value, raw: &[u8]) -> Vec<String> {
    use gauntlet_mail::patchwork as pw;
    let root = gauntlet_mail::rfc822::parse(raw);
    let parts = pw::text_parts(&root);
    let content = pw::patch_content(&parts);
    let diff = content.diff.as_deref();
    let got = serde_json::json!({
        "diff_is_none": diff.is_none(),
        "diff_len": diff.map_or(0, |d| d.chars().count()),
        "diff_first_line": diff.and_then(|d| d.split('\n').next()),
        "diff_hash": diff.filter(|d| !d.is_empty()).map(pw::hash_diff),
        "content_len": content.message.chars().count(),
        "pull_url": pw::pull_url(&content.message),
    });
    let mut problems = Vec::new();
    for key in [
        "diff_is_none",
        "diff_len",
        "diff_first_line",
        "diff_hash",
        "content_len",
        "pull_url",
    ] {
        if expected.get(key) != got.get(key) {
            problems.push(format!(
                "find_patch_content {key}: expected {}, got {}",
                expected.get(key).unwrap_or(&Value::Null),
                got.get(key).unwrap_or(&Value::Null)
            ));
        }
    }
    let _ = case;
    problems
}

/// Runs every Patchwork case against `backend`.
pub fn check(corpus: &Path, backend: &mut dyn Backend) -> Result<Vec<Report>, Error> {
    let dir = corpus.join("patchwork");
    let expected: Value = serde_json::from_slice(&std::fs::read(dir.join("expected.json"))?)?;
    let mut reports = Vec::new();

    let mut series = Report::new(format!("patchwork series/ ({})", backend.name()));
    let files = expected["series"].as_object().cloned().unwrap_or_default();
    let mut names: Vec<&String> = files.keys().collect();
    names.sort();
    for name in names {
        let case = format!("series/{name}");
        let mails = read_mails(&std::fs::read(dir.join("series").join(name))?, false);
        let got = backend.run(&mails, "test.example.com")?;
        let (problems, deviations) = compare_series_file(&case, &files[name], &got);
        series.record(&case, problems, deviations);
    }
    reports.push(series);

    for section in ["mail", "fuzz"] {
        let mut report = Report::new(format!("patchwork {section}/ ({})", backend.name()));
        let files = expected[section].as_object().cloned().unwrap_or_default();
        let mut names: Vec<&String> = files.keys().collect();
        names.sort();
        for name in names {
            let case = format!("{section}/{name}");
            let mails = read_mails(&std::fs::read(dir.join(section).join(name))?, true);
            let exp = &files[name];
            let mut problems = Vec::new();
            if let Some(raw) = mails.first() {
                problems.extend(compare_patch_content(
                    &case,
                    &exp["find_patch_content"],
                    raw,
                ));
            }
            let got = backend.run(&mails, "test.example.com")?;
            let mut d = Diff::new(&case);
            match got.messages.first() {
                Some(m) => compare_message(&mut d, "parse_mail", &exp["parse_mail"], m),
                None => d.problems.push("no mail read".to_string()),
            }
            problems.extend(d.problems);
            report.record(&case, problems, d.deviations);
        }
        reports.push(report);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_dates() {
        assert_eq!(naive_utc(1_473_596_522), "2016-09-11T12:22:02");
        assert_eq!(naive_utc(0), "1970-01-01T00:00:00");
        assert_eq!(naive_utc(951_782_400), "2000-02-29T00:00:00");
    }
}

//! `fixes-tag`: `Fixes: <12+ hex digits> ("subject")`, and, when the tree is known, a commit
//! of the tree with that subject.
//!
//! Every `Fixes:` line of the message is read (any case, anywhere: a misplaced one is reported
//! as such). With a tree, all the ids of the series are looked up with one
//! `git cat-file --batch` process (`<id>^{commit}`, so that an id shared with a blob or a tree
//! still names its commit): an id that matches no commit, or several, is an error, and so is a
//! subject that is not the commit's (both are quoted). A patch without `Fixes:` is SKIP.

use std::time::Duration;

use gauntlet_verdict::Severity;

use crate::finding::{Finding, Raw, RawState};
use crate::input::{Input, Prepared};
use crate::options::{OptionKind, OptionSpec, Options};
use crate::registry::{Check, CheckInfo, FindingType, Ran, RunContext, Scope};
use crate::tree::{self, Object};

const TYPES: &[FindingType] = &[
    FindingType {
        name: "bad-form",
        severity: Severity::Error,
        help: "not `Fixes: <id> (\"subject\")`",
    },
    FindingType {
        name: "short-id",
        severity: Severity::Error,
        help: "a commit id of fewer than 12 hex digits",
    },
    FindingType {
        name: "no-subject",
        severity: Severity::Error,
        help: "no (\"subject\") after the id",
    },
    FindingType {
        name: "key-case",
        severity: Severity::Warning,
        help: "`fixes:` or `FIXES:` instead of `Fixes:`",
    },
    FindingType {
        name: "not-in-trailers",
        severity: Severity::Warning,
        help: "a Fixes: line outside the trailer block",
    },
    FindingType {
        name: "wrapped",
        severity: Severity::Warning,
        help: "a Fixes: tag split over several lines",
    },
    FindingType {
        name: "unknown-commit",
        severity: Severity::Error,
        help: "no commit of the tree has that id",
    },
    FindingType {
        name: "ambiguous-id",
        severity: Severity::Error,
        help: "the id matches several commits of the tree",
    },
    FindingType {
        name: "wrong-subject",
        severity: Severity::Error,
        help: "the quoted subject is not the commit's",
    },
];

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "min-id-length",
        kind: OptionKind::Int { min: 4, max: 40 },
        default: "12",
        help: "fewest hex digits of the commit id",
    },
    OptionSpec {
        name: "timeout",
        kind: OptionKind::Int { min: 1, max: 3600 },
        default: "60",
        help: "seconds git may take to look the commits up",
    },
];

pub static INFO: CheckInfo = CheckInfo {
    name: "fixes-tag",
    scope: Scope::Patch,
    summary: "`Fixes: <12+ hex> (\"subject\")`, naming a commit of the tree with that subject",
    options: OPTIONS,
    types: TYPES,
    external: true,
};

struct FixesTag {
    min_id: usize,
    timeout: Duration,
}

pub(crate) fn configure(options: &mut Options<'_>) -> Box<dyn Check> {
    Box::new(FixesTag {
        min_id: options.count("min-id-length", 12),
        timeout: Duration::from_secs(u64::try_from(options.int("timeout", 60)).unwrap_or(60)),
    })
}

/// One `Fixes:` tag as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tag {
    mail_line: Option<u32>,
    text: String,
    id: String,
    subject: Option<String>,
}

/// Reads `value` (after `Fixes:`): the id and the quoted subject, or what is wrong.
fn parse_value(value: &str) -> Result<(String, Option<String>), &'static str> {
    let value = value.trim();
    let end = value
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(value.len());
    if end == 0 {
        return Err("a Fixes: tag starts with the commit id: `Fixes: 123456789abc (\"subject\")`");
    }
    let id = value[..end].to_string();
    let rest = value[end..].trim();
    if rest.is_empty() {
        return Ok((id, None));
    }
    match rest
        .strip_prefix("(\"")
        .and_then(|r| r.rfind("\")").map(|close| &r[..close]))
    {
        Some(subject) if rest.ends_with("\")") => Ok((id, Some(subject.to_string()))),
        _ => {
            Err("the subject must follow the id as (\"subject\"), in double quotes and parentheses")
        }
    }
}

impl FixesTag {
    /// The `Fixes:` lines of one patch, with the form findings.
    fn tags(&self, p: &Prepared<'_>, findings: &mut Vec<Finding>) -> Vec<Tag> {
        let Some(commit) = &p.mail().commit else {
            return Vec::new();
        };
        let lines: Vec<&str> = commit.message.lines().collect();
        let last_paragraph = super::last_paragraph_start(&lines);
        let mut finder = p.message_lines();
        let mut tags = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let mail_line = if line.trim().is_empty() {
                None
            } else {
                finder.find(line)
            };
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if !key.trim().eq_ignore_ascii_case("fixes") || key.starts_with(char::is_whitespace) {
                continue;
            }
            let at = |f: Finding| f.at_mail(mail_line).quoting(line.as_bytes());
            if key != "Fixes" {
                findings.push(at(Finding::warning(
                    "key-case",
                    format!("`{key}:` is written `Fixes:`"),
                )));
            }
            if i < last_paragraph {
                findings.push(at(Finding::warning(
                    "not-in-trailers",
                    "this Fixes: tag is not in the trailer block (the last paragraph)",
                )));
            }
            // A subject wrapped onto the next lines.
            let mut value = value.trim().to_string();
            let mut j = i + 1;
            while !value.ends_with("\")")
                && value.contains("(\"")
                && j < lines.len()
                && !lines[j].trim().is_empty()
                && !lines[j].contains(": ")
                && j < i + 4
            {
                value.push(' ');
                value.push_str(lines[j].trim());
                j += 1;
            }
            if j > i + 1 {
                findings.push(at(Finding::warning(
                    "wrapped",
                    "a Fixes: tag stays on one line, however long",
                )));
            }
            match parse_value(&value) {
                Err(why) => findings.push(at(Finding::error("bad-form", why))),
                Ok((id, subject)) => {
                    if id.len() < self.min_id {
                        findings.push(at(Finding::error(
                            "short-id",
                            format!(
                                "commit id `{id}` has {} hex digits: use at least {} (git log --abbrev=12 --format='%h (\"%s\")')",
                                id.len(),
                                self.min_id
                            ),
                        )));
                    }
                    if subject.is_none() {
                        findings.push(at(Finding::error(
                            "no-subject",
                            format!("add the subject of {id} as (\"subject\")"),
                        )));
                    }
                    tags.push(Tag {
                        mail_line,
                        text: line.to_string(),
                        id,
                        subject,
                    });
                }
            }
        }
        tags
    }
}

/// Looks `<id>^{commit}` up for every query; the ids that name no commit are asked again
/// bare, which tells an id matching several objects (ambiguous) from one matching none.
fn lookup(tree: &tree::Tree, queries: &[String], timeout: Duration) -> Result<Vec<Object>, String> {
    let mut answers = tree::cat_file(tree, queries, timeout)?;
    let missing: Vec<usize> = (0..answers.len())
        .filter(|&i| answers[i] == Object::Missing)
        .collect();
    if missing.is_empty() {
        return Ok(answers);
    }
    let bare: Vec<String> = missing
        .iter()
        .map(|&i| queries[i].trim_end_matches("^{commit}").to_string())
        .collect();
    let again = tree::cat_file(tree, &bare, timeout)?;
    for (i, answer) in missing.into_iter().zip(again) {
        answers[i] = match answer {
            Object::Found { kind, .. } => Object::Found {
                id: String::new(),
                kind,
                content: Vec::new(),
            },
            other => other,
        };
    }
    Ok(answers)
}

/// git's `%s`: the first paragraph of a commit message, lines joined by blanks.
fn commit_subject(object: &[u8]) -> String {
    let text = String::from_utf8_lossy(object);
    let message = text.split_once("\n\n").map_or("", |(_, m)| m);
    message
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

fn same_subject(quoted: &str, actual: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    norm(quoted) == norm(actual)
}

impl Check for FixesTag {
    fn run(&self, input: &Input<'_>, _rc: &RunContext<'_>) -> Ran {
        let mut per_patch: Vec<(Vec<Finding>, Vec<Tag>)> = input
            .patches
            .iter()
            .map(|p| {
                let mut findings = Vec::new();
                let tags = self.tags(p, &mut findings);
                (findings, tags)
            })
            .collect();
        let queries: Vec<String> = per_patch
            .iter()
            .flat_map(|(_, tags)| tags.iter())
            .filter(|t| t.id.len() >= 4)
            .map(|t| format!("{}^{{commit}}", t.id))
            .collect();
        // Look the ids up: `Ok(None)` when there is no tree to look in.
        let lookup: Result<Option<(Vec<Object>, String)>, String> = if queries.is_empty() {
            Ok(None)
        } else {
            match input.tree() {
                None => Ok(None),
                Some(Err(e)) => Err(e.to_string()),
                Some(Ok(t)) => lookup(t, &queries, self.timeout)
                    .map(|answers| Some((answers, t.revision.clone()))),
            }
        };
        let mut answers = match &lookup {
            Ok(Some((answers, _))) => answers.iter(),
            _ => [].iter(),
        };
        let raws = per_patch
            .iter_mut()
            .zip(&input.patches)
            .map(|((findings, tags), p)| {
                if p.mail().pull_url.is_some() {
                    return Raw::skipped(super::PULL_REQUEST);
                }
                if p.mail().commit.is_none() {
                    return Raw::skipped(super::NO_COMMIT);
                }
                if tags.is_empty() && findings.is_empty() {
                    return Raw::skipped("no Fixes: tag");
                }
                let mut findings = std::mem::take(findings);
                for tag in tags.iter().filter(|t| t.id.len() >= 4) {
                    let Some(answer) = answers.next() else {
                        continue;
                    };
                    let at = |f: Finding| f.at_mail(tag.mail_line).quoting(tag.text.as_bytes());
                    match answer {
                        Object::Missing => findings.push(at(Finding::error(
                            "unknown-commit",
                            format!(
                                "no commit {} in the tree: is it from another tree, or rebased?",
                                tag.id
                            ),
                        ))),
                        Object::Ambiguous => findings.push(at(Finding::error(
                            "ambiguous-id",
                            format!(
                                "{} names several objects of the tree and no one commit: give more hex digits",
                                tag.id
                            ),
                        ))),
                        Object::Found { kind, .. } if kind != "commit" => {
                            findings.push(at(Finding::error(
                                "unknown-commit",
                                format!("{} is a {kind} of the tree, not a commit", tag.id),
                            )));
                        }
                        Object::Found { id, content, .. } => {
                            let actual = commit_subject(content);
                            if let Some(quoted) = &tag.subject
                                && !same_subject(quoted, &actual)
                            {
                                findings.push(at(Finding::error(
                                    "wrong-subject",
                                    format!(
                                        "Fixes: {} quotes (\"{quoted}\") but commit {} is (\"{actual}\")",
                                        tag.id,
                                        &id[..id.len().min(12)]
                                    ),
                                )));
                            }
                        }
                    }
                }
                let n = super::plural(tags.len(), "Fixes: tag");
                match &lookup {
                    Ok(Some((_, revision))) => {
                        Raw::ran(format!("{n}, commits found in the tree at {revision}"), findings)
                    }
                    Ok(None) => Raw::ran(format!("{n}, well formed; no tree to look them up in"), findings),
                    Err(e) => Raw {
                        state: RawState::Failed(format!("cannot look the commits up: {e}")),
                        findings,
                        more: Vec::new(),
                    },
                }
            })
            .collect();
        Ran::Patches(raws)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(
            parse_value("0123456789ab (\"net: fix \\\"it\\\" (really)\")"),
            Ok((
                "0123456789ab".to_string(),
                Some("net: fix \\\"it\\\" (really)".to_string())
            ))
        );
        assert_eq!(
            parse_value("0123456789ab"),
            Ok(("0123456789ab".into(), None))
        );
        assert!(parse_value("commit 0123456789ab").is_err());
        assert!(parse_value("0123456789ab ('net: x')").is_err());
        assert!(parse_value("0123456789ab (net: x)").is_err());
        assert_eq!(
            commit_subject(b"tree 1\nauthor x\n\nnet: fix\n the thing\n\nbody\n"),
            "net: fix the thing"
        );
    }
}

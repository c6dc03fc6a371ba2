//! `signed-off-by`: the Developer's Certificate of Origin, as maintainers check it.
//!
//! * The **author** (git's reading: the in-body `From:` when there is one, else the mail's
//!   `From`) has a `Signed-off-by:`.
//! * The **sender**, when it is not the author (a forwarded patch), has one too.
//! * Sign-offs are well formed: `Signed-off-by: Name <address>`, spelled and capitalised so,
//!   in the trailer block (the last paragraph, where `git interpret-trailers` looks), each
//!   `Co-developed-by:` followed by the same person's `Signed-off-by:`, no one twice.
//!
//! People are compared as the crate's `names` module says: the same address (case-insensitive) is the
//! same person whatever the names; the same name with another address is accepted only when the
//! address differs in a known way (a mailing list's DMARC rewrite `Jane via list <list@…>`, a
//! `+tag` sub-address); otherwise it is reported as `author-address-mismatch`, an error
//! that a project can lower with `types: {author-address-mismatch: warning}`.

use gauntlet_mail::Person;
use gauntlet_verdict::Severity;

use super::{NO_COMMIT, each_patch, person};
use crate::finding::{Finding, Raw};
use crate::input::{Input, Prepared};
use crate::names::{self, Match, Who};
use crate::options::Options;
use crate::registry::{Check, CheckInfo, FindingType, Ran, RunContext, Scope};
use crate::text::header_line;

const TYPES: &[FindingType] = &[
    FindingType {
        name: "missing",
        severity: Severity::Error,
        help: "no Signed-off-by: at all",
    },
    FindingType {
        name: "author-missing",
        severity: Severity::Error,
        help: "no Signed-off-by: from the author",
    },
    FindingType {
        name: "author-address-mismatch",
        severity: Severity::Error,
        help: "the author's name signed off, with another address",
    },
    FindingType {
        name: "sender-missing",
        severity: Severity::Error,
        help: "a forwarded patch without the sender's Signed-off-by:",
    },
    FindingType {
        name: "malformed",
        severity: Severity::Error,
        help: "a Signed-off-by: that is misspelt, without colon, name or address",
    },
    FindingType {
        name: "malformed-trailer",
        severity: Severity::Warning,
        help: "another person trailer (Reviewed-by:, Acked-by:, …) that is malformed",
    },
    FindingType {
        name: "trailer-case",
        severity: Severity::Warning,
        help: "a trailer key not capitalised as usual (signed-off-by:)",
    },
    FindingType {
        name: "not-in-trailers",
        severity: Severity::Warning,
        help: "a Signed-off-by: outside the last paragraph, where git does not see it",
    },
    FindingType {
        name: "co-developed-by",
        severity: Severity::Error,
        help: "a Co-developed-by: not followed by the same person's Signed-off-by:",
    },
    FindingType {
        name: "duplicate",
        severity: Severity::Warning,
        help: "the same person signs off twice",
    },
    FindingType {
        name: "name-differs",
        severity: Severity::Info,
        help: "same address, another name (another script, a nickname)",
    },
];

pub static INFO: CheckInfo = CheckInfo {
    name: "signed-off-by",
    scope: Scope::Patch,
    summary: "the author (and the sender of a forwarded patch) signed off; sign-offs are well formed",
    options: &[],
    types: TYPES,
    external: false,
};

struct SignedOffBy;

pub(crate) fn configure(_options: &mut Options<'_>) -> Box<dyn Check> {
    Box::new(SignedOffBy)
}

impl Check for SignedOffBy {
    fn run(&self, input: &Input<'_>, _rc: &RunContext<'_>) -> Ran {
        each_patch(input, check_patch)
    }
}

/// Trailer keys that name a person.
const PERSON_KEYS: &[&str] = &[
    "signed-off-by",
    "reviewed-by",
    "acked-by",
    "tested-by",
    "reported-by",
    "suggested-by",
    "co-developed-by",
];

/// The usual spelling of a person trailer key.
fn canonical(key: &str) -> &'static str {
    match key {
        "signed-off-by" => "Signed-off-by",
        "reviewed-by" => "Reviewed-by",
        "acked-by" => "Acked-by",
        "tested-by" => "Tested-by",
        "reported-by" => "Reported-by",
        "suggested-by" => "Suggested-by",
        _ => "Co-developed-by",
    }
}

/// A person trailer line found anywhere in the message.
struct Line<'m> {
    /// Index in the message's lines.
    index: usize,
    text: &'m str,
    /// Lower-cased canonical key it is (or looks like).
    key: &'static str,
    value: &'m str,
    mail_line: Option<u32>,
}

fn who<'p>(p: &'p Person, rewritten: bool) -> Who<'p> {
    Who {
        name: p.name.as_deref(),
        address: Some(p.email.as_str()),
        rewritten,
    }
}

/// The mail's `From` was rewritten by a list (its address is the list's).
fn rewritten(mail: &gauntlet_mail::Mail, p: &Person) -> bool {
    mail.list_post
        .as_deref()
        .is_some_and(|list| list.eq_ignore_ascii_case(&p.email))
        || p.name.as_deref().is_some_and(|n| n.contains(" via "))
}

fn check_patch(p: &Prepared<'_>) -> Raw {
    let mail = p.mail();
    let Some(commit) = &mail.commit else {
        return Raw::skipped(NO_COMMIT);
    };
    let mut findings = Vec::new();
    let message = commit.message.as_str();
    let lines: Vec<&str> = message.lines().collect();
    let mut finder = p.message_lines();
    let found: Vec<(usize, Option<u32>)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                i,
                if l.trim().is_empty() {
                    None
                } else {
                    finder.find(l)
                },
            )
        })
        .collect();
    let last_paragraph = super::last_paragraph_start(&lines);

    // Every line that is, or looks like, a person trailer.
    let mut person_lines = Vec::new();
    for (index, text) in lines.iter().enumerate() {
        let mail_line = found[index].1;
        let Some((key, value, colon)) = trailer_like(text) else {
            continue;
        };
        let lower = key.to_ascii_lowercase();
        let Some(known) = PERSON_KEYS
            .iter()
            .find(|k| **k == lower || (crate::distance(&lower, k) <= 2 && lower.len() > 6))
        else {
            continue;
        };
        let is_sob = *known == "signed-off-by";
        let wanted = canonical(known);
        if lower != *known || !colon {
            let what = if colon {
                format!("`{key}:` looks like a misspelt `{wanted}:`")
            } else {
                format!("`{key}` is not followed by a colon: write `{wanted}: Name <address>`")
            };
            let kind = if is_sob {
                "malformed"
            } else {
                "malformed-trailer"
            };
            findings.push(
                Finding::new(
                    if is_sob {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                    kind,
                    what,
                )
                .at_mail(mail_line)
                .quoting(text.as_bytes()),
            );
            continue;
        }
        if key != wanted {
            findings.push(
                Finding::warning("trailer-case", format!("`{key}:` is written `{wanted}:`"))
                    .at_mail(mail_line)
                    .quoting(text.as_bytes()),
            );
        }
        person_lines.push(Line {
            index,
            text,
            key: known,
            value,
            mail_line,
        });
    }

    // Well-formed people, and where the sign-offs are.
    let mut sobs: Vec<(Person, &Line<'_>)> = Vec::new();
    for line in &person_lines {
        let is_sob = line.key == "signed-off-by";
        match gauntlet_mail::trailers::parse_person(line.value) {
            Some(who) if who.email.contains('@') && !who.email.contains(char::is_whitespace) => {
                if is_sob && who.name.is_none() {
                    findings.push(
                        Finding::warning(
                            "malformed",
                            "Signed-off-by: has an address but no name: write `Signed-off-by: Name <address>`",
                        )
                        .at_mail(line.mail_line)
                        .quoting(line.text.as_bytes()),
                    );
                }
                if let Some(gt) = line.value.rfind('>')
                    && !line.value[gt + 1..].trim().is_empty()
                    && is_sob
                {
                    findings.push(
                        Finding::warning(
                            "malformed",
                            format!("text after the address: `{}`", line.value[gt + 1..].trim()),
                        )
                        .at_mail(line.mail_line)
                        .quoting(line.text.as_bytes()),
                    );
                }
                if is_sob {
                    if line.index < last_paragraph {
                        findings.push(
                            Finding::warning(
                                "not-in-trailers",
                                "this Signed-off-by: is not in the last paragraph, where git and the tools look for trailers",
                            )
                            .at_mail(line.mail_line)
                            .quoting(line.text.as_bytes()),
                        );
                    }
                    sobs.push((who, line));
                }
            }
            _ => {
                let (severity, kind) = if is_sob {
                    (Severity::Error, "malformed")
                } else {
                    (Severity::Warning, "malformed-trailer")
                };
                findings.push(
                    Finding::new(
                        severity,
                        kind,
                        format!(
                            "`{}:` needs `Name <address>`, found `{}`",
                            canonical(line.key),
                            line.value
                        ),
                    )
                    .at_mail(line.mail_line)
                    .quoting(line.text.as_bytes()),
                );
            }
        }
    }

    // Co-developed-by: then the same person's Signed-off-by: on the next line.
    for line in person_lines.iter().filter(|l| l.key == "co-developed-by") {
        let Some(co) = gauntlet_mail::trailers::parse_person(line.value) else {
            continue;
        };
        let next = person_lines.iter().find(|l| l.index == line.index + 1);
        let ok = next.is_some_and(|n| {
            n.key == "signed-off-by"
                && gauntlet_mail::trailers::parse_person(n.value)
                    .is_some_and(|s| names::compare(&who(&co, false), &who(&s, false)).accepted())
        });
        if !ok {
            findings.push(
                Finding::error(
                    "co-developed-by",
                    format!(
                        "Co-developed-by: {} must be followed by their own Signed-off-by:",
                        person(&co)
                    ),
                )
                .at_mail(line.mail_line)
                .quoting(line.text.as_bytes()),
            );
        }
    }

    // The same person twice.
    for (i, (a, line)) in sobs.iter().enumerate() {
        if sobs[..i]
            .iter()
            .any(|(b, _)| names::address_key(&a.email) == names::address_key(&b.email))
        {
            findings.push(
                Finding::warning("duplicate", format!("{} signs off twice", person(a)))
                    .at_mail(line.mail_line)
                    .quoting(line.text.as_bytes()),
            );
        }
    }

    let separator = found
        .iter()
        .find(|(i, _)| lines[*i] == "---")
        .and_then(|(_, l)| *l)
        .or(p.diff.first_mail_line);
    if sobs.is_empty() {
        findings.push(
            Finding::error(
                "missing",
                format!(
                    "no Signed-off-by: at all; the author {} must certify the patch (Developer's Certificate of Origin)",
                    person(&commit.author)
                ),
            )
            .at_mail(separator.or_else(|| header_line(p.patch.raw, "From"))),
        );
        return Raw::ran("", findings);
    }

    // The author.
    let author_rewritten = rewritten(mail, &commit.author);
    let author = who(&commit.author, author_rewritten);
    let best = sobs
        .iter()
        .map(|(s, line)| (names::compare(&author, &who(s, false)), s, *line))
        .max_by_key(|(m, _, _)| *m);
    let mut summary = format!("signed off by the author {}", person(&commit.author));
    if let Some((m, sob, line)) = best {
        match m {
            Match::None => findings.push(
                Finding::error(
                    "author-missing",
                    format!("no Signed-off-by from the author {}", person(&commit.author)),
                )
                .at_mail(line.mail_line)
                .quoting(line.text.as_bytes()),
            ),
            Match::NameOnly => findings.push(
                Finding::error(
                    "author-address-mismatch",
                    format!(
                        "the author {} signed off as {}: another address; sign off with the author's address (or make the author match)",
                        person(&commit.author),
                        person(sob)
                    ),
                )
                .at_mail(line.mail_line)
                .quoting(line.text.as_bytes()),
            ),
            Match::Address | Match::SubAddress | Match::NameRewritten => {
                let names_differ = match (&commit.author.name, &sob.name) {
                    (Some(a), Some(b)) => !names::same_name(a, b),
                    _ => false,
                };
                if names_differ && m != Match::NameRewritten {
                    findings.push(
                        Finding::info(
                            "name-differs",
                            format!(
                                "the author is {} and signs off as {}: the same address",
                                person(&commit.author),
                                person(sob)
                            ),
                        )
                        .at_mail(line.mail_line)
                        .quoting(line.text.as_bytes()),
                    );
                }
            }
        }
    }

    // The sender, when someone else's patch is forwarded.
    if let Ok(sender) = &mail.submitter {
        let sender_who = who(sender, rewritten(mail, sender));
        let same_as_author = names::compare(&author, &sender_who).accepted();
        if !same_as_author {
            let signed = sobs
                .iter()
                .any(|(s, _)| names::compare(&sender_who, &who(s, false)).accepted());
            if signed {
                summary.push_str(&format!(" and by the sender {}", person(sender)));
            } else {
                let from_line = header_line(p.patch.raw, "From");
                findings.push(
                    Finding::error(
                        "sender-missing",
                        format!(
                            "{} sends a patch by {} without their own Signed-off-by",
                            person(sender),
                            person(&commit.author)
                        ),
                    )
                    .at_mail(from_line),
                );
            }
        }
    }
    Raw::ran(summary, findings)
}

/// `Key: value` (the key made of letters, `-` and blanks), or `Key value` for a known person
/// trailer written without its colon: the key, the value, and whether there was a colon.
fn trailer_like(line: &str) -> Option<(&str, &str, bool)> {
    let line = line.trim_end();
    if line.starts_with(char::is_whitespace) {
        return None;
    }
    let key_end = line
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '-' || c == ' '))
        .unwrap_or(line.len());
    if line[key_end..].starts_with(':') {
        let key = line[..key_end].trim_end();
        if key.is_empty() || key.len() > 30 {
            return None;
        }
        return Some((key, line[key_end + 1..].trim(), true));
    }
    let lower = line.to_ascii_lowercase();
    for key in PERSON_KEYS {
        for spelling in [key.to_string(), key.replace('-', " ")] {
            if lower.starts_with(&spelling) && line.contains('@') {
                let rest = line.get(spelling.len()..).unwrap_or("");
                return Some((&line[..spelling.len()], rest.trim(), false));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_like_lines() {
        assert_eq!(
            trailer_like("Signed-off-by: A <a@b.c>"),
            Some(("Signed-off-by", "A <a@b.c>", true))
        );
        assert_eq!(
            trailer_like("Signed off by: A <a@b.c>"),
            Some(("Signed off by", "A <a@b.c>", true))
        );
        assert_eq!(
            trailer_like("Signed-off-by A <a@b.c>"),
            Some(("Signed-off-by", "A <a@b.c>", false))
        );
        assert_eq!(trailer_like("  Signed-off-by: x"), None);
        assert_eq!(trailer_like("This fixes it"), None);
    }
}

//! Trailers (`Signed-off-by:`, `Fixes:`, …) and the tags that tie a posting to others
//! (`base-commit:`, `prerequisite-patch-id:`, `Depends-on:`, `Based-on:`, `Supersedes:`).
//!
//! The trailer block is found as `git interpret-trailers` finds it: the last paragraph of the
//! commit message, if all its lines are trailers (continuation lines allowed), or if at least a
//! quarter are and one of them is a trailer git itself writes (`Signed-off-by:`,
//! `(cherry picked from commit …)`).

use crate::Person;

/// What a trailer says, for the trailers gauntlet acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailerKind {
    SignedOffBy,
    ReviewedBy,
    AckedBy,
    TestedBy,
    ReportedBy,
    SuggestedBy,
    CoDevelopedBy,
    Cc,
    /// `Fixes: <sha> ("subject")`.
    Fixes,
    Link,
    Closes,
    Other,
}

/// One trailer line (continuations joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// The key as written (`Signed-off-by`).
    pub key: String,
    pub kind: TrailerKind,
    pub value: String,
    /// For person trailers: `Name <email>` split.
    pub person: Option<Person>,
}

impl Trailer {
    /// For `Fixes:`: the commit id and the quoted subject, when well formed enough to find them.
    pub fn fixes(&self) -> Option<(&str, Option<&str>)> {
        if self.kind != TrailerKind::Fixes {
            return None;
        }
        let v = self.value.trim();
        let end = v.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(v.len());
        if end == 0 {
            return None;
        }
        let rest = v[end..].trim();
        let subject = rest.strip_prefix("(\"").and_then(|s| s.strip_suffix("\")"));
        Some((&v[..end], subject))
    }
}

fn kind_of(key: &str) -> TrailerKind {
    match key.to_ascii_lowercase().as_str() {
        "signed-off-by" => TrailerKind::SignedOffBy,
        "reviewed-by" => TrailerKind::ReviewedBy,
        "acked-by" => TrailerKind::AckedBy,
        "tested-by" => TrailerKind::TestedBy,
        "reported-by" => TrailerKind::ReportedBy,
        "suggested-by" => TrailerKind::SuggestedBy,
        "co-developed-by" => TrailerKind::CoDevelopedBy,
        "cc" => TrailerKind::Cc,
        "fixes" => TrailerKind::Fixes,
        "link" => TrailerKind::Link,
        "closes" => TrailerKind::Closes,
        _ => TrailerKind::Other,
    }
}

fn is_person_kind(k: &TrailerKind) -> bool {
    matches!(
        k,
        TrailerKind::SignedOffBy
            | TrailerKind::ReviewedBy
            | TrailerKind::AckedBy
            | TrailerKind::TestedBy
            | TrailerKind::ReportedBy
            | TrailerKind::SuggestedBy
            | TrailerKind::CoDevelopedBy
            | TrailerKind::Cc
    )
}

/// `Name <email>` (quotes removed), or a bare address.
pub fn parse_person(value: &str) -> Option<Person> {
    let value = value.trim();
    if let Some(lt) = value.rfind('<')
        && let Some(gt) = value[lt..].find('>')
    {
        let email = value[lt + 1..lt + gt].trim();
        if email.is_empty() {
            return None;
        }
        let name = value[..lt].trim().trim_matches('"').trim();
        return Some(Person {
            name: (!name.is_empty()).then(|| name.to_string()),
            email: email.to_string(),
        });
    }
    let first = value.split_whitespace().next()?;
    first.contains('@').then(|| Person {
        name: None,
        email: first.to_string(),
    })
}

/// `Key: value` with a key of letters, digits and `-`: the key and value.
fn split_trailer(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let key = &line[..colon];
    if key.is_empty()
        || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        || key.starts_with('-')
    {
        return None;
    }
    Some((key, line[colon + 1..].trim()))
}

/// The trailers of a commit message.
pub fn parse(message: &str) -> Vec<Trailer> {
    let lines: Vec<&str> = message.lines().collect();
    let mut end = lines.len();
    while end > 0 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && !lines[start - 1].trim().is_empty() {
        start -= 1;
    }
    // The first paragraph is the subject: a message of one paragraph has no trailers.
    if start == 0 {
        return Vec::new();
    }
    let block = &lines[start..end];
    let mut trailers: Vec<Trailer> = Vec::new();
    let mut trailer_lines = 0usize;
    let mut other_lines = 0usize;
    let mut recognised = false;
    for line in block {
        if line.starts_with([' ', '\t']) {
            if let Some(t) = trailers.last_mut() {
                t.value.push(' ');
                t.value.push_str(line.trim());
            }
            continue;
        }
        if line.starts_with("(cherry picked from commit ") {
            recognised = true;
            other_lines += 1;
            continue;
        }
        match split_trailer(line) {
            Some((key, value)) => {
                trailer_lines += 1;
                let kind = kind_of(key);
                if kind == TrailerKind::SignedOffBy {
                    recognised = true;
                }
                trailers.push(Trailer {
                    key: key.to_string(),
                    kind,
                    value: value.to_string(),
                    person: None,
                });
            }
            None => other_lines += 1,
        }
    }
    let total = trailer_lines + other_lines;
    let is_block =
        trailer_lines > 0 && (other_lines == 0 || (recognised && trailer_lines * 4 >= total));
    if !is_block {
        return Vec::new();
    }
    for t in &mut trailers {
        if is_person_kind(&t.kind) {
            t.person = parse_person(&t.value);
        }
    }
    trailers
}

/// Tags that may stand anywhere in a mail's text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    pub base_commit: Option<String>,
    pub prerequisite_patch_ids: Vec<String>,
    pub depends_on: Vec<String>,
    pub based_on: Vec<String>,
    pub supersedes: Vec<String>,
}

impl Tags {
    /// Scans every line of `text` (case-insensitive keys at the start of a line).
    pub fn scan(text: &str) -> Tags {
        let mut tags = Tags::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let first = value.split_whitespace().next().unwrap_or(value);
            match key.to_ascii_lowercase().as_str() {
                "base-commit" if is_hex_id(first) => {
                    tags.base_commit.get_or_insert_with(|| first.to_string());
                }
                "prerequisite-patch-id" if is_hex_id(first) => {
                    tags.prerequisite_patch_ids.push(first.to_string())
                }
                "depends-on" => tags.depends_on.push(value.to_string()),
                "based-on" => tags.based_on.push(value.to_string()),
                "supersedes" => tags.supersedes.push(value.to_string()),
                _ => {}
            }
        }
        tags
    }
}

fn is_hex_id(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn trailer_block_is_the_last_paragraph() {
        let msg = "subject\n\nBody text: not a trailer.\n\nFixes: 0123456789ab (\"foo: bar\")\nReported-by: A <a@x.org>\nSigned-off-by: \"B, C\" <b@x.org>\nLink: https://lore.kernel.org/r/1\n  continued\n";
        let t = parse(msg);
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].fixes(), Some(("0123456789ab", Some("foo: bar"))));
        assert_eq!(t[2].person.as_ref().unwrap().name.as_deref(), Some("B, C"));
        assert_eq!(t[3].value, "https://lore.kernel.org/r/1 continued");
    }

    #[test]
    fn mixed_paragraph_needs_a_git_trailer() {
        assert!(parse("s\n\nSome words\nAcked-by: x <x@y.z>\n").is_empty());
        let t = parse("s\n\n[ v2: rebased ]\nSigned-off-by: x <x@y.z>\n");
        assert_eq!(t.len(), 1);
        assert!(parse("only a subject: here\n").is_empty());
    }

    #[test]
    fn tags_anywhere() {
        let t = Tags::scan(
            "cover\n\nDepends-on: <1@x>\nbased-on: <2@x>\nSupersedes: <3@x>\nbase-commit: 0123456789abcdef\nprerequisite-patch-id: abcdef0123\n",
        );
        assert_eq!(t.base_commit.as_deref(), Some("0123456789abcdef"));
        assert_eq!(t.depends_on, vec!["<1@x>"]);
        assert_eq!(t.based_on, vec!["<2@x>"]);
        assert_eq!(t.supersedes, vec!["<3@x>"]);
        assert_eq!(t.prerequisite_patch_ids, vec!["abcdef0123"]);
    }
}

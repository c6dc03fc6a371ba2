//! One raw mail in, everything gauntlet needs to know about it out.
//!
//! [`parse`] never fails and never panics: whatever the bytes, it returns a [`Mail`]. What makes a
//! mail unusable for Patchwork (no `From`, an unreadable subject, …) is recorded in
//! [`Mail::defect`] and [`Mail::submitter`], and it is the series tracker that decides what that
//! means, because some of it only matters for some kinds of mail (a reply with a broken `From` to
//! nothing we know is dropped, not an error).
//!
//! Two readings of the same mail live side by side:
//! * **Patchwork's** (modules [`rfc822`], [`header`], [`patchwork`], [`date`]): name, subject
//!   tags, references, submitter, the split into message and diff, and the diff's hash, exactly as
//!   Patchwork computes them, so that series group as Patchwork groups them;
//! * **git's** ([`Mail::commit`], from `gauntlet-mailinfo`): the author, subject and commit
//!   message that `git am` will record, from which the trailers are read.
//!
//! The crate does no I/O.

mod codec;
pub mod date;
pub mod header;
pub mod patchwork;
pub mod rfc822;
pub mod trailers;

use sha2::{Digest, Sha256};

pub use patchwork::Content;
pub use trailers::{Trailer, TrailerKind};

/// Settings that depend on the list a mail belongs to.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Subject prefixes removed like `PATCH` (Patchwork drops the project's link name).
    pub drop_prefixes: Vec<String>,
    /// The list's posting address, for undoing DMARC `From` rewriting. When unset, the mail's
    /// own `List-Post` address is used.
    pub list_email: Option<String>,
}

/// A person as Patchwork identifies one: by address (compared case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: Option<String>,
    pub email: String,
}

/// Why Patchwork would reject a mail outright, whatever it turns out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    MissingFrom,
    MissingSubject,
    InvalidSubject,
}

impl Defect {
    /// Patchwork's wording (`ValueError` message).
    pub fn message(self) -> &'static str {
        match self {
            Defect::MissingFrom => "Missing 'From' header",
            Defect::MissingSubject => "Missing 'Subject' header",
            Defect::InvalidSubject => "Invalid 'Subject' header",
        }
    }
}

/// What `git am` would commit from a mail (git's `mailinfo`, with in-body `From:`/`Subject:`
/// taken into account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub author: Person,
    /// The commit subject (`[PATCH …]` removed, as `git am` does).
    pub subject: String,
    /// The author date as written.
    pub date: String,
    /// The commit message body (git's `msg`), trailers included.
    pub message: String,
}

/// The submitter could not be read from `From`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFrom {
    /// The cleaned header, if there was one.
    pub header: Option<String>,
}

impl std::fmt::Display for InvalidFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Invalid 'From' header")
    }
}

/// Everything gauntlet derives from one mail.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `<id@host>` as Patchwork stores it (at most 255 characters).
    pub message_id: String,
    /// The mail had no usable Message-ID: `message_id` was made from its bytes.
    pub message_id_synthesized: bool,
    /// SHA-256 of the raw bytes, hex: the mail's identity in the store.
    pub sha256: String,
    pub defect: Option<Defect>,
    /// `X-Patchwork-Hint: ignore`.
    pub ignore_hint: bool,
    /// From `List-ID`, `X-Mailing-List` or `X-list`, as Patchwork finds it.
    pub list_id: Option<String>,
    /// The address of `List-Post: <mailto:…>`.
    pub list_post: Option<String>,
    /// The decoded, unfolded subject.
    pub subject: Option<String>,
    /// Patchwork's name: the subject without reply marker and `PATCH`, other tags kept as
    /// `[a,b] rest`.
    pub name: String,
    pub prefixes: Vec<String>,
    pub is_reply: bool,
    /// `(x, n)` of `[PATCH x/n]`.
    pub marker: Option<(u32, u32)>,
    pub version: u32,
    /// In-Reply-To then References (newest first), without repeats.
    pub refs: Vec<String>,
    /// Seconds since the epoch, UTC; `None` when missing or unreadable.
    pub date: Option<i64>,
    pub submitter: Result<Person, InvalidFrom>,
    pub to: Vec<Person>,
    pub cc: Vec<Person>,
    /// Diff and message as Patchwork splits them (for a reply: no diff).
    pub content: Content,
    pub pull_url: Option<String>,
    /// Patchwork's `hash_diff` of the diff.
    pub hash: Option<String>,
    /// For patches, pull requests and cover letters: what `git am` would record.
    pub commit: Option<Commit>,
    /// Trailers of the commit message (`Signed-off-by:`, `Fixes:`, …).
    pub trailers: Vec<Trailer>,
    /// `base-commit:` (git format-patch --base).
    pub base_commit: Option<String>,
    pub prerequisite_patch_ids: Vec<String>,
    /// `Depends-on:` values (Message-IDs or URLs).
    pub depends_on: Vec<String>,
    /// `Based-on:` values (Patchew's dependency tag).
    pub based_on: Vec<String>,
    /// `Supersedes:` values: the revision this mail replaces.
    pub supersedes: Vec<String>,
    /// `X-Patchwork-State`, `X-Patchwork-Delegate`.
    pub patchwork_state: Option<String>,
    pub patchwork_delegate: Option<String>,
}

impl Mail {
    /// The diff, when it is not empty.
    pub fn diff(&self) -> Option<&str> {
        self.content.diff.as_deref().filter(|d| !d.is_empty())
    }

    /// Has something Patchwork would keep (a diff or a message).
    pub fn has_content(&self) -> bool {
        self.diff().is_some() || !self.content.message.is_empty()
    }

    /// A patch (or pull request) in Patchwork's sense, submitter aside.
    pub fn is_patch(&self) -> bool {
        !self.is_reply && (self.diff().is_some() || self.pull_url.is_some())
    }

    /// The submitter's address, lower-cased (Patchwork's identity of a person).
    pub fn submitter_key(&self) -> Option<String> {
        self.submitter.as_ref().ok().map(|p| p.email.to_lowercase())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A stable Message-ID for a mail that has none: the same bytes always get the same one.
fn synthesized_id(sha256: &str) -> String {
    format!("<{}@gauntlet.invalid>", &sha256[..32])
}

/// `find_project`'s list id: `List-ID`, `X-Mailing-List`, `X-list` in that order; the text in
/// `<...>`, or the whole value when it has no blanks.
fn list_id(headers: &rfc822::Headers<'_>) -> Option<String> {
    for name in ["List-ID", "X-Mailing-List", "X-list"] {
        let Some(raw) = headers.get(name) else {
            continue;
        };
        let Some(h) = header::clean_header(raw).filter(|h| !h.is_empty()) else {
            continue;
        };
        if let Some(lt) = h.find('<')
            && let Some(gt) = h[lt + 1..].find('>')
            && gt > 0
        {
            return Some(h[lt + 1..lt + 1 + gt].to_string());
        }
        if !h.contains(header::py_isspace) {
            return Some(h);
        }
    }
    None
}

fn list_post(headers: &rfc822::Headers<'_>) -> Option<String> {
    let h = header::clean_header(headers.get("List-Post")?)?;
    let start = h.find("mailto:")? + "mailto:".len();
    let rest = &h[start..];
    let end = rest
        .find(|c: char| c == '>' || c == '?' || header::py_isspace(c))
        .unwrap_or(rest.len());
    let addr = &rest[..end];
    (!addr.is_empty()).then(|| addr.to_string())
}

/// `get_or_create_author`'s reading of `From`, with DMARC un-munging when the address is the
/// list's own.
fn submitter(
    headers: &rfc822::Headers<'_>,
    list_email: Option<&str>,
) -> Result<Person, InvalidFrom> {
    let cleaned = headers.get("From").and_then(header::clean_header);
    let Some(from) = cleaned.clone().filter(|f| !f.is_empty()) else {
        return Err(InvalidFrom { header: cleaned });
    };
    let (name, email) = patchwork::split_from(&from);
    let email = patchwork::truncate_chars(header::py_strip(&email), 255).to_string();
    let name = name.map(|n| patchwork::truncate_chars(header::py_strip(&n), 255).to_string());
    if email.is_empty() || !patchwork::valid_email(&email) {
        return Err(InvalidFrom { header: Some(from) });
    }
    if let Some(list) = list_email
        && email.eq_ignore_ascii_case(list)
        && let Some(original) = original_sender(headers, name.as_deref())
    {
        return Ok(original);
    }
    Ok(Person { name, email })
}

/// Patchwork's `get_original_sender`: the author hidden behind a list's rewritten `From`
/// (`Name via List <list@…>`), from `X-Original-From`, or from a `Reply-To`/`Cc` entry with the
/// same display name.
fn original_sender(headers: &rfc822::Headers<'_>, name: Option<&str>) -> Option<Person> {
    let name = name.unwrap_or("");
    let stripped = match name.rfind(" via ") {
        Some(i) => Some(&name[..i]),
        None => name.strip_suffix(" via"),
    }
    .map(|head| head.trim().trim_matches('\''));
    if let Some(original) = headers
        .get("X-Original-From")
        .and_then(header::clean_header)
        && !original.is_empty()
    {
        let (_, email) = patchwork::split_from(&original);
        let email = patchwork::truncate_chars(header::py_strip(&email), 255).to_string();
        return Some(Person {
            name: stripped.map(str::to_string),
            email,
        });
    }
    let stripped = stripped?;
    for raw in headers.get_all("Reply-To").chain(headers.get_all("Cc")) {
        let Some(h) = header::clean_header(raw) else {
            continue;
        };
        for addr in h.split(',') {
            let (n, e) = patchwork::split_from(addr);
            let n = n.map(|n| header::py_strip(&n).to_string());
            if n.as_deref() == Some(stripped) {
                return Some(Person {
                    name: Some(stripped.to_string()),
                    email: header::py_strip(&e).to_string(),
                });
            }
        }
    }
    None
}

/// `To`/`Cc` address lists, decoded (mail-parser's RFC 5322 address grammar: groups, comments,
/// quoted names, encoded words). Only those headers are handed to it: parsing every header
/// (`Received:` above all) was a fifth of the cost of a mail.
fn address_lists(headers: &rfc822::Headers<'_>) -> (Vec<Person>, Vec<Person>) {
    let mut block = Vec::new();
    for h in &headers.list {
        if h.name.eq_ignore_ascii_case(b"To") || h.name.eq_ignore_ascii_case(b"Cc") {
            block.extend_from_slice(h.name);
            block.extend_from_slice(b": ");
            block.extend_from_slice(h.value);
            block.push(b'\n');
        }
    }
    if block.is_empty() {
        return (Vec::new(), Vec::new());
    }
    block.push(b'\n');
    let parser = mail_parser::MessageParser::new();
    let Some(msg) = parser.parse_headers(&block) else {
        return (Vec::new(), Vec::new());
    };
    let convert = |a: Option<&mail_parser::Address<'_>>| -> Vec<Person> {
        a.map(|a| {
            a.iter()
                .filter_map(|addr| {
                    Some(Person {
                        name: addr.name.as_ref().map(|n| n.to_string()),
                        email: addr.address.as_ref()?.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
    };
    (convert(msg.to()), convert(msg.cc()))
}

/// git's reading of the mail; `None` when `git am` would refuse it.
fn commit(raw: &[u8]) -> Option<Commit> {
    let info = gauntlet_mailinfo::mailinfo(raw, &gauntlet_mailinfo::Options::default());
    if info.failed || info.empty {
        return None;
    }
    let name = (!info.author.is_empty()).then(|| info.author.clone());
    Some(Commit {
        author: Person {
            name,
            email: info.email,
        },
        subject: info.subject,
        date: info.date,
        message: String::from_utf8_lossy(&info.message).into_owned(),
    })
}

/// Parses one raw mail (without its mbox envelope line).
pub fn parse(raw: &[u8], options: &ParseOptions) -> Mail {
    let sha256 = hex(&Sha256::digest(raw));
    let root = rfc822::parse(raw);
    let h = &root.headers;

    let defect = if !h.contains("From") {
        Some(Defect::MissingFrom)
    } else if !h.contains("Subject") {
        Some(Defect::MissingSubject)
    } else {
        None
    };
    let ignore_hint = h
        .get("X-Patchwork-Hint")
        .and_then(header::clean_header)
        .is_some_and(|v| v.eq_ignore_ascii_case("ignore"));

    let (message_id, message_id_synthesized) =
        match h.get("Message-Id").and_then(patchwork::message_id) {
            Some(id) => (id, false),
            None => (synthesized_id(&sha256), true),
        };

    let subject = h.get("Subject").and_then(header::clean_header);
    let defect = defect.or_else(|| subject.is_none().then_some(Defect::InvalidSubject));
    let subject_text = subject.as_deref().unwrap_or("");
    let (name, prefixes) = patchwork::clean_subject(subject_text, &options.drop_prefixes);
    let name = patchwork::truncate_chars(&name, 255).to_string();
    let is_reply = patchwork::is_reply(subject_text);
    let marker = patchwork::series_marker(&prefixes);
    let version = patchwork::version(&name, &prefixes);
    let refs = patchwork::references(h.get_all("In-Reply-To"), h.get_all("References"));
    let date = h
        .get("Date")
        .and_then(header::clean_header)
        .and_then(|d| date::parse_date(&d));

    let parts = patchwork::text_parts(&root);
    let content = if is_reply {
        patchwork::comment_content(&parts)
    } else {
        patchwork::patch_content(&parts)
    };
    let pull_url = patchwork::pull_url(&content.message);
    let hash = content
        .diff
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(patchwork::hash_diff);

    let list_post = list_post(h);
    let list_email = options.list_email.as_deref().or(list_post.as_deref());
    let submitter = submitter(h, list_email);
    let (to, cc) = address_lists(h);

    let tags = trailers::Tags::scan(&content.message);
    let wants_commit =
        content.diff.is_some() || pull_url.is_some() || marker.is_some_and(|m| m.0 == 0);
    let commit = if wants_commit { commit(raw) } else { None };
    let trailers = commit
        .as_ref()
        .map(|c| trailers::parse(&c.message))
        .unwrap_or_default();

    Mail {
        message_id,
        message_id_synthesized,
        sha256,
        defect,
        ignore_hint,
        list_id: list_id(h),
        list_post,
        subject,
        name,
        prefixes,
        is_reply,
        marker,
        version,
        refs,
        date,
        submitter,
        to,
        cc,
        content,
        pull_url,
        hash,
        commit,
        trailers,
        base_commit: tags.base_commit,
        prerequisite_patch_ids: tags.prerequisite_patch_ids,
        depends_on: tags.depends_on,
        based_on: tags.based_on,
        supersedes: tags.supersedes,
        patchwork_state: h.get("X-Patchwork-State").and_then(header::clean_header),
        patchwork_delegate: h.get("X-Patchwork-Delegate").and_then(header::clean_header),
    }
}

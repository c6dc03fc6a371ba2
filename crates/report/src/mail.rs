//! The report as a reply mail, threaded under the series.

use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MessageBuilder};
use sha2::{Digest, Sha256};

use crate::Error;

/// A person a mail is from or to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressee {
    pub name: Option<String>,
    pub email: String,
}

impl Addressee {
    pub fn new(name: Option<&str>, email: &str) -> Addressee {
        Addressee {
            name: name.map(str::to_owned).filter(|n| !n.trim().is_empty()),
            email: email.to_owned(),
        }
    }

    fn mailbox(&self) -> Result<Mailbox, Error> {
        let address = self
            .email
            .parse()
            .map_err(|e| Error::Mail(format!("`{}` is not a mail address: {e}", self.email)))?;
        Ok(Mailbox::new(self.name.clone(), address))
    }
}

/// A reply to a series.
#[derive(Debug, Clone)]
pub struct Reply {
    pub from: Addressee,
    pub to: Vec<Addressee>,
    pub cc: Vec<Addressee>,
    /// The subject of the mail replied to (the cover letter, or the first patch).
    pub subject: String,
    /// The Message-ID replied to, with or without angle brackets.
    pub in_reply_to: String,
    /// The thread's references, oldest first (the replied-to id is added when missing).
    pub references: Vec<String>,
    /// The reply's own Message-ID (without brackets); stable ids make resends recognisable
    /// ([`stable_message_id`] makes one from a key).
    pub message_id: String,
    pub date: SystemTime,
    pub body: String,
    /// Extra headers (`X-Gauntlet-Run: 42`, …).
    pub headers: Vec<(String, String)>,
}

fn bracketed(id: &str) -> String {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    format!("<{id}>")
}

/// A Message-ID (without angle brackets) that depends on `key` and `domain` alone.
///
/// The caller names the report mail by something that does not change when the same mail is
/// sent again — the run and the series, say `run-42/series-7` — so that a re-send after a crash
/// between "sent" and "marked sent" carries the very same Message-ID: the receiving server, the
/// list archive and the submitter's mail reader can then see the second copy for what it is
/// and drop it. The id is a readable part of the key (letters, digits and `-` only) and a
/// SHA-256 digest of the whole key, so that two keys that read alike never share an id.
/// `domain` is the right-hand side (the sender's domain; an address is accepted and its domain
/// used); anything not allowed there is dropped, and `localhost` stands in for an empty one.
pub fn stable_message_id(key: &str, domain: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let mut readable = String::new();
    for c in key.chars() {
        if readable.len() >= 40 {
            break;
        }
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && (readable.is_empty() || readable.ends_with('-'))) {
            readable.push(c);
        }
    }
    let readable = readable.trim_end_matches('-');
    let domain: String = domain
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    let domain = domain.trim_matches('.');
    let domain = if domain.is_empty() {
        "localhost"
    } else {
        domain
    };
    if readable.is_empty() {
        format!("gauntlet.{hash}@{domain}")
    } else {
        format!("gauntlet.{readable}.{hash}@{domain}")
    }
}

/// `Re: ` + subject, once.
pub fn reply_subject(subject: &str) -> String {
    let subject = subject.trim();
    if subject.len() >= 3 && subject[..3].eq_ignore_ascii_case("re:") {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    }
}

/// The reply as RFC 5322 bytes (headers encoded as needed, body UTF-8 plain text).
pub fn compose_reply(reply: &Reply) -> Result<Vec<u8>, Error> {
    if reply.to.is_empty() {
        return Err(Error::Mail("a reply needs at least one recipient".into()));
    }
    let parent = bracketed(&reply.in_reply_to);
    let mut references: Vec<String> = reply.references.iter().map(|r| bracketed(r)).collect();
    if !references.contains(&parent) {
        references.push(parent.clone());
    }
    let mut builder: MessageBuilder = Message::builder()
        .from(reply.from.mailbox()?)
        .subject(reply_subject(&reply.subject))
        .in_reply_to(parent)
        .references(references.join(" "))
        .message_id(Some(bracketed(&reply.message_id)))
        .date(reply.date);
    for to in &reply.to {
        builder = builder.to(to.mailbox()?);
    }
    for cc in &reply.cc {
        if reply
            .to
            .iter()
            .any(|to| to.email.eq_ignore_ascii_case(&cc.email))
        {
            continue;
        }
        builder = builder.cc(cc.mailbox()?);
    }
    for (name, value) in &reply.headers {
        let name = HeaderName::new_from_ascii(name.clone())
            .map_err(|e| Error::Mail(format!("header `{name}`: {e}")))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(reply.body.clone())
        .map_err(|e| Error::Mail(e.to_string()))?;
    Ok(message.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply() -> Reply {
        Reply {
            from: Addressee::new(Some("LSE Team"), "ci@lse.example.org"),
            to: vec![Addressee::new(Some("Иван Петров"), "ivan@example.org")],
            cc: vec![
                Addressee::new(None, "course@lists.example.org"),
                Addressee::new(None, "IVAN@example.org"),
            ],
            subject: "[PATCH v9 0/3] syscall: add dummy system call".into(),
            in_reply_to: "<cover.1700000000.git.ivan@example.org>".into(),
            references: vec!["v8-cover@example.org".into()],
            message_id: "gauntlet.run-42@ci.example.org".into(),
            date: SystemTime::UNIX_EPOCH,
            body: "Hi Иван Петров,\n\nYou have passed 7 tests on 7.\n".into(),
            headers: vec![("X-Gauntlet-Run".into(), "42".into())],
        }
    }

    #[test]
    fn threads_under_the_series() {
        let bytes = compose_reply(&reply()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("Subject: Re: [PATCH v9 0/3] syscall: add dummy system call\r\n"),
            "{text}"
        );
        assert!(
            text.contains("In-Reply-To: <cover.1700000000.git.ivan@example.org>\r\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "References: <v8-cover@example.org> <cover.1700000000.git.ivan@example.org>"
            ),
            "{text}"
        );
        assert!(
            text.contains("Message-ID: <gauntlet.run-42@ci.example.org>\r\n"),
            "{text}"
        );
        assert!(text.contains("X-Gauntlet-Run: 42\r\n"), "{text}");
        // The submitter is not Cc'd a second time under another case.
        assert!(text.contains("Cc: course@lists.example.org\r\n"), "{text}");
        assert!(
            !text
                .to_lowercase()
                .contains("cc: course@lists.example.org, ivan"),
            "{text}"
        );
        // Non-ASCII names are encoded words, the body is UTF-8.
        assert!(text.contains("To: =?utf-8?b?"), "{text}");
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8"),
            "{text}"
        );
    }

    #[test]
    fn stable_ids_depend_on_the_key_alone() {
        let id = stable_message_id("run-42/series-7", "ci@lse.example.org");
        assert_eq!(id, stable_message_id("run-42/series-7", "lse.example.org"));
        assert!(id.starts_with("gauntlet.run-42-series-7."), "{id}");
        assert!(id.ends_with("@lse.example.org"), "{id}");
        // Keys that read alike still differ.
        assert_ne!(id, stable_message_id("run-42 series-7", "lse.example.org"));
        // Anything goes in a key; the id stays a valid msg-id.
        let odd = stable_message_id("<>@ \"é\"", "");
        assert!(
            odd.starts_with("gauntlet.") && odd.ends_with("@localhost"),
            "{odd}"
        );
        assert!(!odd.contains(['<', '>', ' ', '"']), "{odd}");
        let mut with_id = reply();
        with_id.message_id = id.clone();
        let bytes = compose_reply(&with_id).unwrap_or_default();
        assert!(
            String::from_utf8_lossy(&bytes).contains(&format!("Message-ID: <{id}>\r\n")),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }

    #[test]
    fn re_is_not_doubled_and_bad_addresses_are_errors() {
        assert_eq!(reply_subject("Re: [PATCH] x"), "Re: [PATCH] x");
        assert_eq!(reply_subject("RE: x"), "RE: x");
        assert_eq!(reply_subject("[PATCH] x"), "Re: [PATCH] x");
        let mut bad = reply();
        bad.to = vec![Addressee::new(None, "not an address")];
        assert!(compose_reply(&bad).is_err());
        bad.to.clear();
        assert!(compose_reply(&bad).is_err());
    }
}

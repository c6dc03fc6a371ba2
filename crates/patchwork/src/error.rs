//! What can go wrong talking to Patchwork. All of it is the infrastructure's (or the
//! configuration's) problem, never the patch's: a reporter that gets one of these retries
//! later or tells the operator, it does not fail the submission.

use std::collections::BTreeMap;

/// A Patchwork request that did not give an answer to use.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Patchwork did not accept who we are: HTTP 401, or 403 with an authentication failure
    /// (`Invalid token.`, `Authentication credentials were not provided.`), or a 403 to a
    /// request sent without a token. Patchwork answers 403, not 401, to all of these (its
    /// first authentication class is the session's, which has no challenge to offer).
    #[error("Patchwork at {server} did not accept the credentials (HTTP {status}): {message}")]
    Unauthorized {
        server: String,
        status: u16,
        message: String,
    },
    /// The token was accepted but its user may not do this: posting a check or changing a
    /// patch needs a maintainer of the patch's project (or its delegate or submitter).
    #[error("Patchwork at {server} refused {action}: {message}")]
    Forbidden {
        server: String,
        action: String,
        message: String,
    },
    /// 400 with Patchwork's field errors (`{"state": ["\"bogus\" is not a valid choice."]}`,
    /// `{"context": ["Enter a valid \"slug\" …"]}`).
    #[error("Patchwork refused {action}: {}", describe_fields(.fields))]
    Invalid {
        action: String,
        /// Field name (or `detail`) → Patchwork's messages.
        fields: BTreeMap<String, Vec<String>>,
    },
    /// No such object (or an unknown API version).
    #[error("Patchwork has no {what}")]
    NotFound { what: String },
    /// Nothing answered: connection refused, DNS, TLS, no answer in time, or a proxy saying
    /// the server behind it does not answer (502, 503, 504).
    #[error("Patchwork at {server} is unreachable: {why}")]
    Unreachable { server: String, why: String },
    /// Any other status, after the retries.
    #[error("Patchwork at {server} answered HTTP {status} to {path}: {detail}")]
    Http {
        server: String,
        path: String,
        status: u16,
        detail: String,
    },
    /// An answer that is not what Patchwork's API gives (garbage, a loop of pages, too big).
    #[error("unexpected answer from Patchwork to {path}: {why}")]
    Protocol { path: String, why: String },
    /// None of the API versions this client speaks (1.2 and later) is served.
    #[error(
        "Patchwork at {server} serves none of the API versions {tried} (version 2.2 or later is needed)"
    )]
    UnsupportedVersion { server: String, tried: String },
    /// A setting that cannot work (a URL that is not one…).
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// Whether the same request may work later (a reporter keeps its intent and tries again).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Http { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            _ => false,
        }
    }
}

fn describe_fields(fields: &BTreeMap<String, Vec<String>>) -> String {
    if fields.is_empty() {
        return "no reason given".to_owned();
    }
    fields
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_fields() {
        let mut fields = BTreeMap::new();
        fields.insert(
            "state".to_owned(),
            vec!["\"bogus\" is not a valid choice.".to_owned()],
        );
        let e = Error::Invalid {
            action: "a check on patch 1".into(),
            fields,
        };
        assert_eq!(
            e.to_string(),
            "Patchwork refused a check on patch 1: state: \"bogus\" is not a valid choice."
        );
        assert!(!e.is_transient());
        let e = Error::Http {
            server: "s".into(),
            path: "p".into(),
            status: 503,
            detail: String::new(),
        };
        assert!(e.is_transient());
    }
}

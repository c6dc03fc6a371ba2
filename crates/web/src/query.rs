//! Query strings: reading them leniently (an empty field is no field), writing them back for
//! links, and pages.

use std::collections::BTreeMap;

use crate::{Error, Result};

/// A query string's fields (the last value of a repeated one wins).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(pub(crate) BTreeMap<String, String>);

impl Params {
    pub(crate) fn from_map(map: std::collections::HashMap<String, String>) -> Params {
        Params(
            map.into_iter()
                .filter(|(_, v)| !v.trim().is_empty())
                .collect(),
        )
    }

    /// A text field, trimmed.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim().to_owned())
    }

    /// A number field; one that is not a number is the client's mistake.
    pub(crate) fn number(&self, name: &str) -> Result<Option<i64>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| Error::BadRequest(format!("{name} must be a number, not {v:?}"))),
        }
    }

    /// `per_page` (default `default`, at most `max`) and the 1-based `page`.
    pub(crate) fn page(&self, default: i64, max: i64) -> Result<Page> {
        let per_page = self.number("per_page")?.unwrap_or(default);
        let page = self.number("page")?.unwrap_or(1);
        if !(1..=max).contains(&per_page) {
            return Err(Error::BadRequest(format!(
                "per_page must be between 1 and {max}"
            )));
        }
        if page < 1 {
            return Err(Error::BadRequest("page starts at 1".into()));
        }
        Ok(Page { page, per_page })
    }

    /// These fields with one changed (or removed, with `None`), as a query string.
    pub(crate) fn with(&self, changes: &[(&str, Option<String>)]) -> String {
        let mut fields = self.0.clone();
        for (name, value) in changes {
            match value {
                Some(v) => {
                    fields.insert((*name).to_owned(), v.clone());
                }
                None => {
                    fields.remove(*name);
                }
            }
        }
        encode(&fields)
    }
}

/// `a=1&b=x%20y` (fields in order).
pub(crate) fn encode(fields: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        if !out.is_empty() {
            out.push('&');
        }
        escape_into(&mut out, name);
        out.push('=');
        escape_into(&mut out, value);
    }
    out
}

fn escape_into(out: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// A page by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) page: i64,
    pub(crate) per_page: i64,
}

impl Page {
    pub(crate) fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// One more than a page: whether there is a next one.
    pub(crate) fn fetch(&self) -> i64 {
        self.per_page + 1
    }

    /// The `Link` header (RFC 8288) of this page of `path`: first, prev, next.
    pub(crate) fn link(&self, path: &str, params: &Params, has_next: bool) -> String {
        let href = |page: i64| {
            format!(
                "<{path}?{}>",
                params.with(&[
                    ("page", Some(page.to_string())),
                    ("per_page", Some(self.per_page.to_string())),
                ])
            )
        };
        let mut links = vec![format!("{}; rel=\"first\"", href(1))];
        if self.page > 1 {
            links.push(format!("{}; rel=\"prev\"", href(self.page - 1)));
        }
        if has_next {
            links.push(format!("{}; rel=\"next\"", href(self.page + 1)));
        }
        links.join(", ")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn params(fields: &[(&str, &str)]) -> Params {
        Params::from_map(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn empty_fields_are_absent_and_links_keep_the_filters() {
        let p = params(&[("state", "rejected"), ("q", "a b&c"), ("project", " ")]);
        assert_eq!(p.text("project"), None);
        assert_eq!(
            p.with(&[("before", Some("7".into()))]),
            "before=7&q=a%20b%26c&state=rejected"
        );
        let page = p.page(50, 500).unwrap();
        assert_eq!(page.offset(), 0);
        assert_eq!(
            page.link("/api/v1/runs", &p, true),
            "</api/v1/runs?page=1&per_page=50&q=a%20b%26c&state=rejected>; rel=\"first\", \
             </api/v1/runs?page=2&per_page=50&q=a%20b%26c&state=rejected>; rel=\"next\""
        );
        assert!(params(&[("per_page", "0")]).page(50, 500).is_err());
        assert!(params(&[("page", "x")]).page(50, 500).is_err());
    }
}

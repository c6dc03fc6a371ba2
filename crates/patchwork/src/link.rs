//! The `Link` header (RFC 8288) that carries Patchwork's pagination: the body of a list is a
//! bare JSON array, and the only way to the next page is `<…>; rel="next"`.

/// The target of the first link with relation `rel` (relations compared case-insensitively; a
/// `rel` may list several, space-separated).
pub(crate) fn find(header: &str, rel: &str) -> Option<String> {
    links(header)
        .into_iter()
        .find(|(_, rels)| rels.iter().any(|r| r.eq_ignore_ascii_case(rel)))
        .map(|(target, _)| target)
}

/// Every `(target, relations)` of a header value. Targets are between `<` and `>` and may hold
/// commas and semicolons; parameters are `name=value` or `name="value"`.
pub(crate) fn links(header: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let target = after[..close].trim().to_owned();
        let mut params = &after[close + 1..];
        // The parameters run to the next link's `<` that follows a comma.
        let end = next_link_start(params);
        let (these, next) = params.split_at(end);
        params = these;
        let mut rels = Vec::new();
        for param in params.split(';') {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("rel") {
                let value = value.trim().trim_end_matches(',').trim().trim_matches('"');
                rels.extend(value.split_whitespace().map(str::to_owned));
            }
        }
        out.push((target, rels));
        rest = next;
    }
    out
}

/// Where the next `, <` begins in what follows a link's target (quoted strings skipped).
fn next_link_start(params: &str) -> usize {
    let mut quoted = false;
    let mut after_comma = false;
    for (i, c) in params.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => after_comma = true,
            '<' if !quoted && after_comma => return i,
            c if !c.is_whitespace() => after_comma = false,
            _ => {}
        }
    }
    params.len()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<http://127.0.0.1:8000/api/1.3/patches/?page=2&per_page=2&project=test>; rel="next", <http://127.0.0.1:8000/api/1.3/patches/?page=1&per_page=2&project=test>; rel="first", <http://127.0.0.1:8000/api/1.3/patches/?page=4&per_page=2&project=test>; rel="last""#;

    #[test]
    fn patchworks_header() {
        assert_eq!(
            find(SAMPLE, "next").as_deref(),
            Some("http://127.0.0.1:8000/api/1.3/patches/?page=2&per_page=2&project=test")
        );
        assert_eq!(
            find(SAMPLE, "last").as_deref(),
            Some("http://127.0.0.1:8000/api/1.3/patches/?page=4&per_page=2&project=test")
        );
        assert_eq!(find(SAMPLE, "prev"), None);
        assert_eq!(links(SAMPLE).len(), 3);
    }

    #[test]
    fn odd_but_valid_forms() {
        let h = r#"<https://x/a?b=1,2>; title="a, <b>"; REL=Next , <https://x/c>;rel="prev first""#;
        assert_eq!(find(h, "next").as_deref(), Some("https://x/a?b=1,2"));
        assert_eq!(find(h, "first").as_deref(), Some("https://x/c"));
        assert_eq!(find("", "next"), None);
        assert_eq!(find("<unterminated; rel=next", "next"), None);
    }
}

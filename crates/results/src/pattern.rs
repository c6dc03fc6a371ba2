//! A LAVA test definition's `parse:` section: a pattern with named groups and a `fixupdict`.
//!
//! LAVA compiles the pattern with `re.M` and runs it over the raw serial buffer, whose lines end
//! in `\r\r\n`; that is why patterns written for LAVA end in `\r*\n` (a `$` cannot match before
//! the `\r`, and `\r?\n` misses the doubled one). Here a pattern is matched line by line, against
//! the line's visible text followed by one `\n` and in multi-line mode, so that:
//!
//! * a pattern with no terminator matches;
//! * a pattern ending in `$`, `\n`, `\r?\n`, `\r*\n` or `[^\r\n]*` matches the same lines;
//! * a pattern that *requires* a carriage return (`\r\n`, `\r+\n`) never matches: carriage
//!   returns are not part of a line here;
//! * a pattern cannot span lines.
//!
//! Groups used, as in LAVA: `test_case_id` and `result` (both required), `measurement` and
//! `units` (optional). `result` goes through the `fixupdict` (exact key match), then must be a
//! LAVA result word (`pass`, `fail`, `skip`, `unknown`; see [`crate::lava_status`]). As LAVA
//! does, a `/` in the test case id becomes `_` and an id containing whitespace is dropped; a
//! measurement that is not decimal is dropped (the result is kept). Patterns use the syntax of
//! the `regex` crate, which accepts Python's `(?P<name>...)`; look-around and backreferences do
//! not exist there and are reported as invalid patterns.

use regex::{Regex, RegexBuilder};

use crate::error::Error;
use crate::lava::{PatternMatch, lava_status, parse_decimal};
use crate::model::Measurement;
use crate::text::clip;

/// A compiled `parse:` section.
#[derive(Debug, Clone)]
pub struct LavaPattern {
    regex: Regex,
    fixup: Vec<(String, String)>,
    haystack: String,
}

/// What a matching line gave.
#[derive(Debug, Clone, PartialEq)]
pub enum PatternOutcome {
    /// A result (with a note when part of the match was dropped, such as a bad measurement).
    Result(PatternMatch, Option<String>),
    /// The line matched but cannot give a result (why).
    Dropped(String),
}

impl LavaPattern {
    pub fn new<K, V>(
        pattern: &str,
        fixupdict: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, Error>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let regex = RegexBuilder::new(pattern)
            .multi_line(true)
            .build()
            .map_err(|source| Error::Pattern {
                pattern: pattern.to_owned(),
                source: Box::new(source),
            })?;
        for group in ["test_case_id", "result"] {
            if !regex.capture_names().any(|name| name == Some(group)) {
                return Err(Error::PatternGroup {
                    pattern: pattern.to_owned(),
                    group,
                });
            }
        }
        Ok(LavaPattern {
            regex,
            fixup: fixupdict
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            haystack: String::new(),
        })
    }

    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// Matches one line (its visible text, without terminator); `None` when it does not match.
    pub fn apply(&mut self, line: &str) -> Option<PatternOutcome> {
        self.haystack.clear();
        self.haystack.push_str(line);
        self.haystack.push('\n');
        let caps = self.regex.captures(&self.haystack)?;
        let group = |name: &str| caps.name(name).map(|m| m.as_str().trim());
        let id = group("test_case_id").unwrap_or_default();
        if id.is_empty() {
            return Some(PatternOutcome::Dropped("empty test_case_id".into()));
        }
        if id.chars().any(char::is_whitespace) {
            return Some(PatternOutcome::Dropped(format!(
                "test_case_id `{}` contains whitespace (LAVA drops these)",
                clip(id, 100)
            )));
        }
        let word = group("result").unwrap_or_default();
        let fixed = self
            .fixup
            .iter()
            .find(|(k, _)| k == word)
            .map_or(word, |(_, v)| v.as_str());
        let Some(status) = lava_status(fixed) else {
            return Some(PatternOutcome::Dropped(format!(
                "result `{}` (after fixupdict: `{}`) is not pass, fail, skip or unknown",
                clip(word, 50),
                clip(fixed, 50)
            )));
        };
        let mut note = None;
        let measurement = match group("measurement").filter(|m| !m.is_empty()) {
            Some(m) => match parse_decimal(m) {
                Some(value) => Some(Measurement {
                    value,
                    units: group("units").filter(|u| !u.is_empty()).map(str::to_owned),
                }),
                None => {
                    note = Some(format!(
                        "measurement `{}` is not decimal: dropped",
                        clip(m, 50)
                    ));
                    None
                }
            },
            None => None,
        };
        Some(PatternOutcome::Result(
            PatternMatch {
                test_case_id: id.replace('/', "_"),
                status,
                measurement,
            },
            note,
        ))
    }
}

#[cfg(test)]
mod tests {
    use gauntlet_verdict::Status;

    use super::*;

    const FIXUP: [(&str, &str); 2] = [("ok", "pass"), ("not ok", "fail")];

    fn ids(pattern: &str, lines: &[&str]) -> Vec<(String, Status)> {
        let mut p = LavaPattern::new(pattern, FIXUP).unwrap_or_else(|e| panic!("{e}"));
        lines
            .iter()
            .filter_map(|l| match p.apply(l) {
                Some(PatternOutcome::Result(m, _)) => Some((m.test_case_id, m.status)),
                _ => None,
            })
            .collect()
    }

    const LINES: [&str; 4] = [
        "ok 1 ktap_case_a",
        "not ok 2 ktap_case_b",
        "ok 3 ktap_case_c # SKIP no hw",
        "+ echo 'ok 4 traced'",
    ];

    #[test]
    fn lava_patterns_match_whatever_their_terminator() {
        let expected = vec![
            ("ktap_case_a".to_owned(), Status::Pass),
            ("ktap_case_b".to_owned(), Status::Fail),
            ("ktap_case_c".to_owned(), Status::Pass),
        ];
        for pattern in [
            r"^(?P<result>ok|not ok) \d+ (?P<test_case_id>[^\s#]+)[^\r\n]*\r*\n",
            r"^(?P<result>ok|not ok) \d+ (?P<test_case_id>[^\s#]+)[^\r\n]*\r?\n",
            r"^(?P<result>ok|not ok) \d+ (?P<test_case_id>[^\s#]+).*$",
            r"^(?P<result>ok|not ok) \d+ (?P<test_case_id>[^\s#]+)",
        ] {
            assert_eq!(ids(pattern, &LINES), expected, "{pattern}");
        }
        // A pattern that insists on a carriage return matches nothing here.
        assert!(
            ids(
                r"^(?P<result>ok|not ok) \d+ (?P<test_case_id>\S+).*\r\n",
                &LINES
            )
            .is_empty()
        );
    }

    #[test]
    fn fixups_measurements_and_dropped_matches() {
        let mut p = LavaPattern::new(
            r"^(?P<test_case_id>\S+): (?P<result>\w+)(?: (?P<measurement>\S+) (?P<units>\w+))?",
            [("PASSED", "pass")],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let Some(PatternOutcome::Result(m, None)) = p.apply("net/tcp: PASSED 12.5 ms") else {
            panic!("no match");
        };
        assert_eq!(m.test_case_id, "net_tcp");
        assert_eq!(m.status, Status::Pass);
        assert_eq!(
            m.measurement,
            Some(Measurement {
                value: 12.5,
                units: Some("ms".into())
            })
        );
        assert!(matches!(
            p.apply("x: PASSED many ms"),
            Some(PatternOutcome::Result(_, Some(_)))
        ));
        assert!(matches!(
            p.apply("x: weird"),
            Some(PatternOutcome::Dropped(_))
        ));
        assert_eq!(p.apply("no colon here"), None);
    }

    #[test]
    fn bad_patterns_are_clear_errors() {
        let err = LavaPattern::new(r"(?P<test_case_id>\S+) (?P<result>", FIXUP)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("invalid parse pattern"), "{err}");
        let err = LavaPattern::new(r"(?P<test_case_id>\S+)(?=x)(?P<result>\S+)", FIXUP)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("look-around"), "{err}");
        let err = LavaPattern::new(r"(?P<name>\S+)", FIXUP)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("no named group `test_case_id`"), "{err}");
    }
}

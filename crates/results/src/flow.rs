//! The YAML subset of a LAVA job log entry: one flow collection on one line.
//!
//! LAVA writes its log as a YAML list, one `- {"dt": …, "lvl": …, "msg": …}` per line. Most
//! lines are also JSON, but not all: LAVA tags some values (`"endtc": ! "604"`), and a YAML
//! double-quoted string has escapes JSON lacks (`\x1b`, `\e`, `\N`…). This reader takes flow
//! mappings and sequences, double- and single-quoted strings with all their escapes, plain
//! scalars, and tags (ignored); it refuses anchors, aliases and anything spanning lines.

/// A value of a flow collection. Scalars stay strings: the log's numbers are read where they
/// are used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flow {
    Str(String),
    Map(Vec<(String, Flow)>),
    Seq(Vec<Flow>),
    Null,
}

impl Flow {
    pub(crate) fn get(&self, key: &str) -> Option<&Flow> {
        match self {
            Flow::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Flow::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A short text form of any value (for reasons and messages).
    pub(crate) fn to_text(&self) -> String {
        match self {
            Flow::Str(s) => s.clone(),
            Flow::Null => "null".to_owned(),
            Flow::Seq(items) => {
                let items: Vec<String> = items.iter().map(Flow::to_text).collect();
                format!("[{}]", items.join(", "))
            }
            Flow::Map(entries) => {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.to_text()))
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
        }
    }
}

const MAX_DEPTH: usize = 64;

/// Parses one flow value that makes up the whole of `s` (surrounding spaces allowed).
pub(crate) fn parse(s: &str) -> Result<Flow, String> {
    let mut p = Parser {
        s: s.as_bytes(),
        text: s,
        i: 0,
    };
    let value = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at column {}", p.i + 1));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at column {}", c as char, self.i + 1))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Flow, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".to_owned());
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.map(depth),
            Some(b'[') => self.seq(depth),
            Some(b'"') => self.double().map(Flow::Str),
            Some(b'\'') => self.single().map(Flow::Str),
            Some(b'!') => {
                // A tag (`!`, `!!str`, `!foo`): skipped, the value is read as it is.
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, b' ' | b',' | b'}' | b']'))
                {
                    self.i += 1;
                }
                self.value(depth + 1)
            }
            Some(b'&' | b'*') => Err(format!(
                "anchors and aliases are not supported (column {})",
                self.i + 1
            )),
            _ => {
                let s = self.plain(false);
                Ok(match s.as_str() {
                    "" | "~" | "null" | "Null" | "NULL" => Flow::Null,
                    _ => Flow::Str(s),
                })
            }
        }
    }

    fn map(&mut self, depth: usize) -> Result<Flow, String> {
        self.i += 1;
        let mut entries = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(Flow::Map(entries));
            }
            let key = match self.peek() {
                Some(b'"') => self.double()?,
                Some(b'\'') => self.single()?,
                None => return Err("unterminated mapping".to_owned()),
                _ => self.plain(true),
            };
            self.expect(b':')?;
            let value = match self.peek_after_ws() {
                Some(b',' | b'}') => Flow::Null,
                _ => self.value(depth + 1)?,
            };
            entries.push((key, value));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected `,` or `}}` at column {}", self.i + 1)),
            }
        }
    }

    fn peek_after_ws(&mut self) -> Option<u8> {
        self.ws();
        self.peek()
    }

    fn seq(&mut self, depth: usize) -> Result<Flow, String> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            match self.peek() {
                Some(b']') => {
                    self.i += 1;
                    return Ok(Flow::Seq(items));
                }
                None => return Err("unterminated sequence".to_owned()),
                _ => {}
            }
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {}
                _ => return Err(format!("expected `,` or `]` at column {}", self.i + 1)),
            }
        }
    }

    /// A plain scalar in flow context: up to `,`, `}`, `]` (and `: ` for a key).
    fn plain(&mut self, key: bool) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b'}' | b']' | b'{' | b'[') {
                break;
            }
            if key && c == b':' && matches!(self.s.get(self.i + 1), None | Some(b' ' | b',' | b'}'))
            {
                break;
            }
            self.i += 1;
        }
        self.text[start..self.i].trim().to_owned()
    }

    fn single(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.i..];
            let Some(q) = rest.find('\'') else {
                return Err("unterminated single-quoted string".to_owned());
            };
            out.push_str(&rest[..q]);
            self.i += q + 1;
            if self.peek() == Some(b'\'') {
                out.push('\'');
                self.i += 1;
            } else {
                return Ok(out);
            }
        }
    }

    fn double(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.i..];
            let Some(stop) = rest.find(['"', '\\']) else {
                return Err("unterminated double-quoted string".to_owned());
            };
            out.push_str(&rest[..stop]);
            self.i += stop;
            if self.peek() == Some(b'"') {
                self.i += 1;
                return Ok(out);
            }
            self.i += 1;
            let Some(c) = self.peek() else {
                return Err("unterminated escape".to_owned());
            };
            self.i += 1;
            let simple = match c {
                b'0' => Some('\0'),
                b'a' => Some('\x07'),
                b'b' => Some('\x08'),
                b't' | b'\t' => Some('\t'),
                b'n' => Some('\n'),
                b'v' => Some('\x0b'),
                b'f' => Some('\x0c'),
                b'r' => Some('\r'),
                b'e' => Some('\x1b'),
                b' ' => Some(' '),
                b'"' => Some('"'),
                b'/' => Some('/'),
                b'\\' => Some('\\'),
                b'N' => Some('\u{85}'),
                b'_' => Some('\u{a0}'),
                b'L' => Some('\u{2028}'),
                b'P' => Some('\u{2029}'),
                _ => None,
            };
            if let Some(ch) = simple {
                out.push(ch);
                continue;
            }
            let digits = match c {
                b'x' => 2,
                b'u' => 4,
                b'U' => 8,
                _ => return Err(format!("unknown escape `\\{}`", c as char)),
            };
            let hex = self
                .text
                .get(self.i..self.i + digits)
                .ok_or("short hexadecimal escape")?;
            let code = u32::from_str_radix(hex, 16).map_err(|_| "bad hexadecimal escape")?;
            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            self.i += digits;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Flow {
        Flow::Str(v.to_owned())
    }

    #[test]
    fn lava_entries() {
        let v = parse(r#"{"dt": "2026", "lvl": "results", "msg": {"case": "uname", "endtc": ! "604", "extra": [], "x": null, "m": !!str 42}}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let msg = v.get("msg").unwrap_or(&Flow::Null);
        assert_eq!(msg.get("endtc"), Some(&s("604")));
        assert_eq!(msg.get("extra"), Some(&Flow::Seq(vec![])));
        assert_eq!(msg.get("x"), Some(&Flow::Null));
        assert_eq!(msg.get("m"), Some(&s("42")));
        assert_eq!(v.get("lvl").and_then(Flow::as_str), Some("results"));
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            parse(r#""a\"b\\c\n\x1b[0m\u00e9\e""#),
            Ok(s("a\"b\\c\n\x1b[0m\u{e9}\x1b"))
        );
        assert_eq!(parse("'it''s'"), Ok(s("it's")));
        assert_eq!(
            parse("{a: b c, 'd': [1, 'x']}"),
            Ok(Flow::Map(vec![
                ("a".into(), s("b c")),
                ("d".into(), Flow::Seq(vec![s("1"), s("x")])),
            ]))
        );
        assert_eq!(
            parse("{a: 1:7.2+dfsg}"),
            Ok(Flow::Map(vec![("a".into(), s("1:7.2+dfsg"))]))
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in [
            "{",
            "{\"a\": \"b",
            "[1, 2",
            "\"\\q\"",
            "\"\\u12\"",
            "{a b}",
            "*alias",
            "{a: 1} junk",
            "\"\\",
            "'open",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
    }
}

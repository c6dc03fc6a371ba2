//! A YAML loader that reads as Psych (Ruby's YAML, i.e. YAML 1.1 typing) reads, and a dumper.
//!
//! Built on `saphyr-parser`'s events, so that this module decides what Psych decides:
//! * scalar typing (`on`/`yes` booleans, `y`/`n` strings, `0x10`, `010`, `1_000`, `1:30`,
//!   `1e3` a string, `~`/empty nil, dates, `:symbols`);
//! * duplicate keys: the last value wins, at the position of the first;
//! * `<<` merge keys, applied where they stand (`merge!`), so keys written before `<<` are
//!   overwritten by the merged hash and keys written after it override it;
//! * anchors and aliases, with an expansion budget (a "billion laughs" fails fast), and a depth
//!   limit; every error has a `file:line:column`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::error::{Error, Location, Result};
use crate::source::SourceMap;
use crate::value::{Map, Template, Value, ruby_float};

/// Safety limits of the loader.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Nesting depth of collections.
    pub max_depth: usize,
    /// Nodes a stream may produce, counting every node an alias copies.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 128,
            max_nodes: 500_000,
        }
    }
}

/// One document of a stream: its value and where its top-level keys are.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub value: Value,
    pub key_locations: HashMap<String, Location>,
    /// Where the document starts.
    pub location: Location,
    /// Where the first top-level key that is not a String (or Symbol) is.
    pub non_string_key: Option<Location>,
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        map: Map,
        anchor: usize,
        /// The key read, waiting for its value; `true` when it is a `<<` merge key.
        key: Option<(Value, bool)>,
    },
}

struct Loader<'a> {
    map: &'a SourceMap,
    limits: Limits,
    nodes: usize,
    anchors: HashMap<usize, (Value, usize, usize)>,
    stack: Vec<Frame>,
    docs: Vec<Doc>,
    doc_start: Location,
    key_locations: HashMap<String, Location>,
    non_string_key: Option<Location>,
}

/// Parses every document of `text` (a `---` stream). An empty document is `Value::Nil`.
pub(crate) fn load_stream(text: &str, map: &SourceMap, limits: Limits) -> Result<Vec<Doc>> {
    let mut loader = Loader {
        map,
        limits,
        nodes: 0,
        anchors: HashMap::new(),
        stack: Vec::new(),
        docs: Vec::new(),
        doc_start: map.locate(1, 0),
        key_locations: HashMap::new(),
        non_string_key: None,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| Error::Yaml {
            location: map.locate(e.marker().line(), e.marker().col()),
            message: yaml_message(e.info()),
        })?;
        loader.event(event, span)?;
    }
    Ok(loader.docs)
}

/// Parses a text that must hold at most one document; `None` when it is empty.
pub(crate) fn load_one(text: &str, map: &SourceMap, limits: Limits) -> Result<Option<Doc>> {
    let mut docs = load_stream(text, map, limits)?;
    if docs.len() > 1 {
        return Err(Error::Yaml {
            location: docs[1].location.clone(),
            message: "expected a single YAML document here, found a second one".into(),
        });
    }
    Ok(docs.pop())
}

fn yaml_message(info: &str) -> String {
    format!("YAML syntax error: {info}")
}

impl Loader<'_> {
    fn location(&self, span: &Span) -> Location {
        self.map.locate(span.start.line(), span.start.col())
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<()> {
        match event {
            Event::DocumentStart(_) => {
                self.doc_start = self.location(&span);
                self.anchors.clear();
                self.key_locations.clear();
                self.non_string_key = None;
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, &span)?;
                let plain = style == ScalarStyle::Plain;
                let tag = tag.map(|t| t.suffix.clone());
                let is_merge = plain && tag.is_none() && text == "<<";
                let value = match tag.as_deref() {
                    Some("str") => Value::Str(text.into_owned()),
                    Some("int" | "float" | "bool" | "null") => resolve_plain(&text),
                    _ if plain => resolve_plain(&text),
                    _ => Value::Str(text.into_owned()),
                };
                let value = match value {
                    Value::Str(s) if s.contains("{{") => Value::Template(Arc::new(Template {
                        text: s,
                        location: self.location(&span),
                    })),
                    v => v,
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, (value.clone(), 1, 0));
                }
                self.add(value, is_merge, &span)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.push(&span)?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                });
            }
            Event::MappingStart(anchor, _) => {
                self.push(&span)?;
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    anchor,
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { items, anchor }) => (Value::Array(items), anchor),
                    Some(Frame::Map { map, anchor, .. }) => (Value::Hash(map), anchor),
                    None => return Ok(()),
                };
                if anchor > 0 {
                    let nodes = value.node_count();
                    let depth = value.depth();
                    self.anchors.insert(anchor, (value.clone(), nodes, depth));
                }
                self.add(value, false, &span)?;
            }
            Event::Alias(id) => {
                let Some((_, nodes, depth)) = self.anchors.get(&id) else {
                    return Err(Error::Yaml {
                        location: self.location(&span),
                        message: "unknown alias: no anchor of that name before it".into(),
                    });
                };
                let (nodes, depth) = (*nodes, *depth);
                if self.stack.len() + depth > self.limits.max_depth {
                    return Err(self.too_deep(&span));
                }
                self.count(nodes, &span)?;
                let value = self
                    .anchors
                    .get(&id)
                    .map(|a| a.0.clone())
                    .unwrap_or(Value::Nil);
                self.add(value, false, &span)?;
            }
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn count(&mut self, n: usize, span: &Span) -> Result<()> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(Error::Limit {
                location: self.location(span),
                message: format!(
                    "this YAML expands to more than {} nodes (aliases copy what they refer to): \
                     refusing it (\"billion laughs\"?)",
                    self.limits.max_nodes
                ),
            });
        }
        Ok(())
    }

    fn too_deep(&self, span: &Span) -> Error {
        Error::Limit {
            location: self.location(span),
            message: format!(
                "YAML nested more than {} levels deep",
                self.limits.max_depth
            ),
        }
    }

    fn push(&mut self, span: &Span) -> Result<()> {
        self.count(1, span)?;
        if self.stack.len() >= self.limits.max_depth {
            return Err(self.too_deep(span));
        }
        Ok(())
    }

    fn add(&mut self, value: Value, is_merge_key: bool, span: &Span) -> Result<()> {
        let top_level = self.stack.len() == 1;
        let location = if top_level {
            Some(self.location(span))
        } else {
            None
        };
        match self.stack.last_mut() {
            None => {
                self.docs.push(Doc {
                    value,
                    key_locations: std::mem::take(&mut self.key_locations),
                    location: self.doc_start.clone(),
                    non_string_key: self.non_string_key.take(),
                });
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, .. }) => match key.take() {
                None => {
                    if let Some(loc) = location {
                        match value.as_str() {
                            Some(k) => {
                                self.key_locations.entry(k.to_string()).or_insert(loc);
                            }
                            None if !matches!(value, Value::Symbol(_)) => {
                                self.non_string_key.get_or_insert(loc);
                            }
                            None => {}
                        }
                    }
                    *key = Some((value, is_merge_key));
                }
                Some((k, true)) => merge_key(map, k, value),
                Some((k, false)) => {
                    map.insert(k, value);
                }
            },
        }
        Ok(())
    }
}

/// Psych's `<<`: a hash (or an alias of one) is merged in place; a list of hashes is merged
/// with the earlier ones winning; anything else is kept as a plain `<<` key.
fn merge_key(map: &mut Map, key: Value, value: Value) {
    match value {
        Value::Hash(h) => {
            for (k, v) in h {
                map.insert(k, v);
            }
        }
        Value::Array(items) if items.iter().all(|v| matches!(v, Value::Hash(_))) => {
            let mut merged = Map::new();
            for item in items.into_iter().rev() {
                if let Value::Hash(h) = item {
                    for (k, v) in h {
                        merged.insert(k, v);
                    }
                }
            }
            for (k, v) in merged {
                map.insert(k, v);
            }
        }
        other => {
            map.insert(key, other);
        }
    }
}

macro_rules! re {
    ($name:ident, $re:expr) => {
        static $name: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new($re).ok());
    };
}

re!(
    STRING_LIKE,
    r"\A[^\d.:\-]?[\p{Alphabetic}_\s!@#$%^&*(){}<>|/\\~;=]+"
);
re!(
    TIME,
    r"\A-?\d{4}-\d{1,2}-\d{1,2}(?:[Tt]|\s+)\d{1,2}:\d\d:\d\d(?:\.\d*)?(?:\s*(?:Z|[-+]\d{1,2}:?(?:\d\d)?))?\z"
);
re!(DATE, r"\A\d{4}-(?:1[012]|0\d|\d)-(?:[12]\d|3[01]|0\d|\d)\z");
re!(SEXA_INT, r"\A[-+]?[0-9][0-9_]*(?::[0-5]?[0-9]){1,2}\z");
re!(
    SEXA_FLOAT,
    r"\A[-+]?[0-9][0-9_]*(?::[0-5]?[0-9]){1,2}\.[0-9_]*\z"
);
re!(
    FLOAT,
    r"\A(?:[-+]?(?:[0-9][0-9_,]*)?\.[0-9]*(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\z"
);
re!(
    INTEGER,
    r"\A(?:[-+]?0b[0-1_,]+|[-+]?0[0-7_,]+|[-+]?(?:0|[1-9][0-9_,]*)|[-+]?0x[0-9a-fA-F_,]+)\z"
);

fn is(re: &LazyLock<Option<Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(s))
}

/// The value Psych gives a plain (unquoted) scalar.
pub fn resolve_plain(s: &str) -> Value {
    if s.is_empty() {
        return Value::Nil;
    }
    if is(&STRING_LIKE, s) || s.contains('\n') {
        if s.chars().count() > 5 {
            return Value::str(s);
        }
        let lower = s.to_ascii_lowercase();
        return match lower.as_str() {
            "~" | "null" => Value::Nil,
            "yes" | "true" | "on" => Value::Bool(true),
            "no" | "false" | "off" => Value::Bool(false),
            _ => Value::str(s),
        };
    }
    if is(&TIME, s) {
        return Value::Date(s.to_string());
    }
    if is(&DATE, s) {
        return if valid_date(s) {
            Value::Date(s.to_string())
        } else {
            Value::str(s)
        };
    }
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        ".inf" | "+.inf" => return Value::Float(f64::INFINITY),
        "-.inf" => return Value::Float(f64::NEG_INFINITY),
        ".nan" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(rest) = s.strip_prefix(':')
        && !rest.is_empty()
    {
        for q in ['"', '\''] {
            if let Some(inner) = rest.strip_prefix(q)
                && let Some(end) = inner.rfind(q)
            {
                let name = &inner[..end];
                return Value::Symbol(name.strip_prefix(':').unwrap_or(name).to_string());
            }
        }
        return Value::Symbol(rest.to_string());
    }
    if is(&SEXA_INT, s) {
        let mut total: i64 = 0;
        let parts: Vec<&str> = s.split(':').collect();
        for (e, part) in parts.iter().enumerate() {
            let n = ruby_to_i(part);
            let power = 60i64.pow((e as i64 - 2).unsigned_abs() as u32);
            total = total.saturating_add(n.saturating_mul(power));
        }
        return Value::Int(total);
    }
    if is(&SEXA_FLOAT, s) {
        let mut total = 0.0;
        let parts: Vec<&str> = s.split(':').collect();
        for (e, part) in parts.iter().enumerate() {
            let n: f64 = part.replace('_', "").parse().unwrap_or(0.0);
            total += n * 60f64.powi((e as i32 - 2).abs());
        }
        return Value::Float(total);
    }
    if is(&FLOAT, s) {
        let t: String = s.chars().filter(|c| *c != ',' && *c != '_').collect();
        let bare = t.trim_start_matches(['-', '+']);
        if bare == "." {
            return Value::str(s);
        }
        return match t.parse::<f64>() {
            Ok(f) => Value::Float(f),
            Err(_) => Value::str(s),
        };
    }
    if is(&INTEGER, s) {
        return parse_int(s).map_or_else(|| Value::str(s), Value::Int);
    }
    Value::str(s)
}

fn valid_date(s: &str) -> bool {
    let mut parts = s.split('-').map(|p| p.parse::<u32>().unwrap_or(0));
    let (y, m, d) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    d >= 1 && d <= days
}

/// Ruby's `String#to_i` on a sexagesimal part (digits, underscores, a sign).
fn ruby_to_i(s: &str) -> i64 {
    let t: String = s.chars().filter(|c| *c != '_').collect();
    t.parse().unwrap_or(0)
}

/// Ruby's `Integer()` on a YAML integer: `0x`, `0b`, leading-zero octal, `_` and `,` ignored.
fn parse_int(s: &str) -> Option<i64> {
    let t: String = s.chars().filter(|c| *c != ',' && *c != '_').collect();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let (radix, body) = if let Some(h) = digits.strip_prefix("0x") {
        (16, h)
    } else if let Some(b) = digits.strip_prefix("0b") {
        (2, b)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() {
        return Some(0);
    }
    let n = i64::from_str_radix(body, radix).ok()?;
    Some(if neg { -n } else { n })
}

// ---------------------------------------------------------------------------------------------
// Dumping
// ---------------------------------------------------------------------------------------------

/// Writes `map` as a YAML document in Psych's block style. Symbol keys `:"# text"` / `:"#! x"`
/// with a nil value are written back as a blank line and the comment, as LKP's `Job#save` does.
pub fn dump_document(map: &Map) -> String {
    let mut out = String::from("---\n");
    dump_map_body(map, 0, &mut out);
    out
}

/// Writes one value in YAML flow-free block style (for `key: value` lines).
pub fn dump_value_inline(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Array(_) | Value::Hash(_) => {
            let mut s = String::new();
            dump_nested(v, 0, &mut s);
            out.push_str(s.trim_end_matches('\n'));
        }
        _ => out.push_str(&scalar(v, 0)),
    }
    out
}

/// One value on one line: scalars as in block style, collections in flow style.
pub(crate) fn dump_value_inline_flow(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Hash(_) => flow(v),
        Value::Str(s) if s.contains('\n') => double_quote(s),
        _ => scalar(v, 0),
    }
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn dump_map_body(map: &Map, level: usize, out: &mut String) {
    for (k, v) in map {
        if let (Value::Symbol(s), Value::Nil) = (k, v)
            && s.starts_with('#')
            && !s.contains('\n')
        {
            out.push('\n');
            indent(out, level);
            out.push_str(s);
            out.push('\n');
            continue;
        }
        indent(out, level);
        out.push_str(&key_text(k));
        out.push(':');
        dump_after_key(v, level, out);
    }
}

fn dump_after_key(v: &Value, level: usize, out: &mut String) {
    match v {
        Value::Hash(h) if !h.is_empty() => {
            out.push('\n');
            dump_map_body(h, level + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            dump_seq_body(a, level, out);
        }
        Value::Nil => out.push('\n'),
        other => {
            out.push(' ');
            out.push_str(&scalar(other, level + 2));
            out.push('\n');
        }
    }
}

fn dump_seq_body(items: &[Value], level: usize, out: &mut String) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            Value::Hash(h) if !h.is_empty() => {
                out.push(' ');
                let mut inner = String::new();
                dump_map_body(h, level + 2, &mut inner);
                out.push_str(inner.trim_start_matches(' '));
            }
            Value::Array(a) if !a.is_empty() => {
                out.push(' ');
                let mut inner = String::new();
                dump_seq_body(a, level + 2, &mut inner);
                out.push_str(inner.trim_start_matches(' '));
            }
            Value::Nil => out.push('\n'),
            other => {
                out.push(' ');
                out.push_str(&scalar(other, level + 2));
                out.push('\n');
            }
        }
    }
}

fn dump_nested(v: &Value, level: usize, out: &mut String) {
    match v {
        Value::Hash(h) if !h.is_empty() => dump_map_body(h, level, out),
        Value::Array(a) if !a.is_empty() => dump_seq_body(a, level, out),
        other => out.push_str(&scalar(other, level)),
    }
}

fn key_text(k: &Value) -> String {
    match k {
        Value::Str(s) => quote_if_needed(s, true),
        Value::Template(t) => quote_if_needed(&t.text, true),
        // A collection used as a key: the flow form fits on the key's line.
        Value::Array(_) | Value::Hash(_) => flow(k),
        Value::Nil => "~".into(),
        other => scalar(other, 0),
    }
}

fn flow(v: &Value) -> String {
    match v {
        Value::Array(a) => format!("[{}]", a.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Value::Hash(h) => format!(
            "{{{}}}",
            h.iter()
                .map(|(k, v)| format!("{}: {}", flow(k), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Str(s) => double_quote(s),
        Value::Template(t) => double_quote(&t.text),
        other => scalar(other, 0),
    }
}

fn scalar(v: &Value, level: usize) -> String {
    match v {
        Value::Nil => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_nan() => ".nan".into(),
        Value::Float(f) if f.is_infinite() => if *f > 0.0 { ".inf" } else { "-.inf" }.into(),
        Value::Float(f) => ruby_float(*f),
        Value::Str(s) => string_scalar(s, level),
        Value::Template(t) => string_scalar(&t.text, level),
        Value::Date(s) => s.clone(),
        Value::Symbol(s) => {
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                format!(":{s}")
            } else {
                format!(":{}", double_quote(s))
            }
        }
        Value::Array(_) => "[]".into(),
        Value::Hash(_) => "{}".into(),
    }
}

fn string_scalar(s: &str, level: usize) -> String {
    if s.contains('\n') && literal_ok(s) {
        let chomp = if s.ends_with("\n\n") {
            "+"
        } else if s.ends_with('\n') {
            ""
        } else {
            "-"
        };
        let body = s.strip_suffix('\n').unwrap_or(s);
        let mut out = format!("|{chomp}");
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(&mut out, level.max(2));
                out.push_str(line);
            }
        }
        return out;
    }
    quote_if_needed(s, false)
}

/// A literal block keeps the text exactly when no line would be misread.
fn literal_ok(s: &str) -> bool {
    !s.starts_with([' ', '\t', '\n'])
        && s.chars()
            .all(|c| c == '\n' || c == '\t' || (!c.is_control() && c != '\u{feff}'))
        && s.split('\n').all(|l| l.is_empty() || !l.trim().is_empty())
        && !s.ends_with(" \n")
}

fn quote_if_needed(s: &str, is_key: bool) -> String {
    if plain_ok(s, is_key) {
        s.to_string()
    } else {
        double_quote(s)
    }
}

fn plain_ok(s: &str, is_key: bool) -> bool {
    if s.is_empty() || s.len() > 1024 && is_key {
        return false;
    }
    if !matches!(resolve_plain(s), Value::Str(_)) || matches!(s, "y" | "Y" | "n" | "N" | "<<") {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`~ \t".contains(first) {
        return false;
    }
    if s.ends_with([' ', '\t', ':']) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains(":\t") || s.contains("\t#") {
        return false;
    }
    if is_key && s.contains(['{', '}', '[', ']', ',']) {
        return false;
    }
    s.chars()
        .all(|c| !c.is_control() && c != '\u{feff}' && c != '\u{85}')
}

fn double_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn load(text: &str) -> Value {
        let map = SourceMap::identity("t.yaml".into(), text);
        load_stream(text, &map, Limits::default())
            .unwrap()
            .remove(0)
            .value
    }

    #[test]
    fn psych_typing() {
        let cases: &[(&str, Value)] = &[
            ("on", Value::Bool(true)),
            ("yes", Value::Bool(true)),
            ("No", Value::Bool(false)),
            ("off", Value::Bool(false)),
            ("y", Value::str("y")),
            ("n", Value::str("n")),
            ("0x10", Value::Int(16)),
            ("010", Value::Int(8)),
            ("1_000", Value::Int(1000)),
            ("1:30", Value::Int(5400)),
            ("1e3", Value::str("1e3")),
            ("1.0e+3", Value::Float(1000.0)),
            ("100%", Value::str("100%")),
            ("1G", Value::str("1G")),
            ("10s", Value::str("10s")),
            ("0o17", Value::str("0o17")),
            ("08", Value::str("08")),
            ("~", Value::Nil),
            ("", Value::Nil),
            ("null", Value::Nil),
            ("2024-01-02", Value::Date("2024-01-02".into())),
            ("2024-02-30", Value::str("2024-02-30")),
            ("1.5", Value::Float(1.5)),
            ("-7", Value::Int(-7)),
            ("1.2.3", Value::str("1.2.3")),
            ("x86_64", Value::str("x86_64")),
            (":sym", Value::Symbol("sym".into())),
            (":# stats", Value::Symbol("# stats".into())),
            ("truely", Value::str("truely")),
            (".", Value::str(".")),
        ];
        for (text, want) in cases {
            assert_eq!(&resolve_plain(text), want, "{text:?}");
        }
        assert_eq!(load("a: 'on'"), load("a: !!str on"));
    }

    #[test]
    fn duplicate_keys_last_wins_first_position() {
        let v = load("a: 1\nb: 2\na: 3\n");
        let m = v.as_map().unwrap();
        let keys: Vec<_> = m.keys().map(|k| k.to_ruby_s()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(m[0], Value::Int(3));
    }

    #[test]
    fn merge_keys_depend_on_order() {
        let v = load("c: &c {mode: fast, size: 1G}\nm:\n  size: 9G\n  <<: *c\n  mode: slow\n");
        let m = v.as_map().unwrap()[1].as_map().unwrap();
        assert_eq!(m[0], Value::str("1G"));
        assert_eq!(m[1], Value::str("slow"));
        let v = load("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n");
        let c = v.as_map().unwrap()[2].as_map().unwrap();
        assert_eq!(c[0], Value::Int(1));
        assert_eq!(c[1], Value::Int(2));
        let v = load("a:\n  <<: base.yaml\n");
        assert_eq!(
            v.as_map().unwrap()[0].as_map().unwrap()[0],
            Value::str("base.yaml")
        );
    }

    #[test]
    fn billion_laughs_fails_fast() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let map = SourceMap::identity("bomb.yaml".into(), &text);
        let t = std::time::Instant::now();
        let err = load_stream(&text, &map, Limits::default()).unwrap_err();
        assert!(t.elapsed().as_secs() < 20);
        assert!(err.to_string().starts_with("bomb.yaml:"), "{err}");
        assert!(err.to_string().contains("billion laughs"), "{err}");
    }

    #[test]
    fn dump_round_trips() {
        let text = "[x, y]: seq key\n~: nil key\ntrue: bool key\na: \"n\"\nb: 'on'\nc: \"it's\\nok\"\nd: \"\"\ne: [1, 2.5, true, ~]\nf: {x: {y: z}}\ng: \"a: b\"\nh: \"#x\"\ni: \"1e3\"\nj: \"x\\ty\"\nk: \"line\\n  indented\\n\"\nl: [[1, 2], {m: 1}]\n\"1\": int-like key\n2: int key\n";
        let v = load(text);
        let dumped = dump_document(v.as_map().unwrap());
        assert_eq!(load(&dumped), v, "{dumped}");
        assert!(dumped.contains("a: \"n\"\n"), "{dumped}");
    }
}

//! The values of a job: what Psych (Ruby's YAML) gives LKP, as a Rust enum.
//!
//! Hashes keep their key order (it decides file names, matrix order and the order of job2sh's
//! output) and accept any value as a key, as Ruby hashes do: `{1: 2}` has the Integer key 1,
//! distinct from the String key "1". Two values are equal as Ruby's `eql?` says: 1 and 1.0 differ.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use indexmap::IndexMap;

use crate::error::Location;

/// An ordered hash: a later insert of an existing key replaces the value in place.
pub type Map = IndexMap<Value, Value>;

/// One YAML/Ruby value.
#[derive(Debug, Clone)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A Ruby Symbol (`:name`). LKP's preserved comments are Symbol keys `:"# text"`.
    Symbol(String),
    /// A YAML 1.1 date or timestamp (Psych's Date/Time), kept as written.
    Date(String),
    /// A string that contains `{{ }}`: evaluated during matrix expansion. It remembers where it
    /// was written so that evaluation errors can say so; otherwise it is a String.
    Template(Arc<Template>),
    Array(Vec<Value>),
    Hash(Map),
}

/// A `{{ }}` string and where it comes from.
#[derive(Debug)]
pub struct Template {
    pub text: String,
    pub location: Location,
}

impl Value {
    /// A String key or value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// The text of a String (or of a template string).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Template(t) => Some(&t.text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Hash(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// Ruby truthiness: only nil and false are false.
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    /// Nil, an empty string, an empty array or an empty hash.
    pub fn is_empty_value(&self) -> bool {
        match self {
            Value::Nil => true,
            Value::Str(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Hash(h) => h.is_empty(),
            _ => false,
        }
    }

    /// Ruby's class name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(true) => "true",
            Value::Bool(false) => "false",
            Value::Int(_) => "Integer",
            Value::Float(_) => "Float",
            Value::Str(_) | Value::Template(_) => "String",
            Value::Symbol(_) => "Symbol",
            Value::Date(_) => "Date",
            Value::Array(_) => "Array",
            Value::Hash(_) => "Hash",
        }
    }

    /// Ruby's `to_s`: strings as they are, arrays and hashes as `inspect`.
    pub fn to_ruby_s(&self) -> String {
        match self {
            Value::Nil => String::new(),
            Value::Str(s) | Value::Symbol(s) | Value::Date(s) => s.clone(),
            Value::Template(t) => t.text.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => ruby_float(*f),
            Value::Array(_) | Value::Hash(_) => self.inspect(),
        }
    }

    /// Ruby's `inspect` (Ruby 3.1 style: `{"a"=>1}`).
    pub fn inspect(&self) -> String {
        let mut out = String::new();
        self.inspect_into(&mut out);
        out
    }

    fn inspect_into(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("nil"),
            Value::Str(s) => inspect_str(s, out),
            Value::Template(t) => inspect_str(&t.text, out),
            Value::Symbol(s) => {
                out.push(':');
                if s.chars().all(|c| c.is_alphanumeric() || c == '_') && !s.is_empty() {
                    out.push_str(s);
                } else {
                    inspect_str(s, out);
                }
            }
            Value::Date(s) => out.push_str(s),
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.inspect_into(out);
                }
                out.push(']');
            }
            Value::Hash(h) => {
                out.push('{');
                for (i, (k, v)) in h.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.inspect_into(out);
                    out.push_str("=>");
                    v.inspect_into(out);
                }
                out.push('}');
            }
            other => out.push_str(&other.to_ruby_s()),
        }
    }

    /// Number of nodes (this one and everything inside), for the alias-expansion budget.
    pub fn node_count(&self) -> usize {
        match self {
            Value::Array(a) => 1 + a.iter().map(Value::node_count).sum::<usize>(),
            Value::Hash(h) => {
                1 + h
                    .iter()
                    .map(|(k, v)| k.node_count() + v.node_count())
                    .sum::<usize>()
            }
            _ => 1,
        }
    }

    /// Nesting depth (a scalar is 0).
    pub fn depth(&self) -> usize {
        match self {
            Value::Array(a) => 1 + a.iter().map(Value::depth).max().unwrap_or(0),
            Value::Hash(h) => 1 + h.values().map(Value::depth).max().unwrap_or(0),
            _ => 0,
        }
    }
}

/// Ruby's `Float#to_s`: `1.5`, `1000.0`, `1.0e+20`, `Infinity`, `NaN`.
pub fn ruby_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let s = format!("{f:e}");
        // Rust: 1e20, 1.5e-5; Ruby: 1.0e+20, 1.5e-05.
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    let s = format!("{f}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

fn inspect_str(s: &str, out: &mut String) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Symbol(a), Value::Symbol(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Hash(a), Value::Hash(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k) == Some(v))
            }
            (a, b) => match (a.as_str(), b.as_str()) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
        }
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Nil => state.write_u8(0),
            Value::Bool(b) => {
                state.write_u8(1);
                b.hash(state);
            }
            Value::Int(i) => {
                state.write_u8(2);
                i.hash(state);
            }
            Value::Float(f) => {
                state.write_u8(3);
                f.to_bits().hash(state);
            }
            Value::Str(s) => StrKey(s).hash(state),
            Value::Template(t) => StrKey(&t.text).hash(state),
            Value::Symbol(s) => {
                state.write_u8(5);
                s.hash(state);
            }
            Value::Date(s) => {
                state.write_u8(6);
                s.hash(state);
            }
            Value::Array(a) => {
                state.write_u8(7);
                a.hash(state);
            }
            Value::Hash(h) => {
                // Order-independent, as equality is.
                state.write_u8(8);
                state.write_usize(h.len());
            }
        }
    }
}

/// Looks a String key up without allocating: `map.get(&StrKey("suite"))`.
#[derive(Debug, Clone, Copy)]
pub struct StrKey<'a>(pub &'a str);

impl Hash for StrKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(4);
        self.0.hash(state);
    }
}

impl indexmap::Equivalent<Value> for StrKey<'_> {
    fn equivalent(&self, key: &Value) -> bool {
        key.as_str() == Some(self.0)
    }
}

/// Convenience lookups on a job hash by String key.
pub trait MapExt {
    fn get_str(&self, key: &str) -> Option<&Value>;
    fn get_str_mut(&mut self, key: &str) -> Option<&mut Value>;
    fn contains_str(&self, key: &str) -> bool;
}

impl MapExt for Map {
    fn get_str(&self, key: &str) -> Option<&Value> {
        self.get(&StrKey(key))
    }
    fn get_str_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.get_mut(&StrKey(key))
    }
    fn contains_str(&self, key: &str) -> bool {
        self.contains_key(&StrKey(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_formats() {
        assert_eq!(ruby_float(1.5), "1.5");
        assert_eq!(ruby_float(1000.0), "1000.0");
        assert_eq!(ruby_float(1e20), "1.0e+20");
        assert_eq!(ruby_float(1.5e-5), "1.5e-05");
        let v = Value::Array(vec![Value::str("a"), Value::Int(1), Value::Nil]);
        assert_eq!(v.to_ruby_s(), r#"["a", 1, nil]"#);
        let mut h = Map::new();
        h.insert(Value::str("XFS_DEBUG"), Value::str("n"));
        assert_eq!(Value::Hash(h).inspect(), r#"{"XFS_DEBUG"=>"n"}"#);
    }

    #[test]
    fn str_keys_find_strings_and_templates_only() {
        let mut h = Map::new();
        h.insert(Value::str("1"), Value::Int(1));
        h.insert(Value::Int(1), Value::Int(2));
        assert_eq!(h.get_str("1"), Some(&Value::Int(1)));
        assert_eq!(h.get(&Value::Int(1)), Some(&Value::Int(2)));
        assert_eq!(h.len(), 2);
    }
}

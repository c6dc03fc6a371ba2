//! Check options: what each check accepts, and reading a project's values against that.

use gauntlet_project::OptionValue;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// The type of an option's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionKind {
    Bool,
    /// A whole number in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    Str,
    /// A list of strings (a single string is a list of one).
    List,
}

impl OptionKind {
    fn describe(self) -> String {
        match self {
            OptionKind::Bool => "true or false".to_string(),
            OptionKind::Int { min, max } => format!("a whole number from {min} to {max}"),
            OptionKind::Str => "a string".to_string(),
            OptionKind::List => "a list of strings".to_string(),
        }
    }
}

/// One option a check accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionSpec {
    pub name: &'static str,
    pub kind: OptionKind,
    /// The default, as a project file would write it.
    pub default: &'static str,
    pub help: &'static str,
}

/// A check's option values, read against its specs. Unknown names and wrong types are
/// collected as messages; reading a value that was refused gives the default.
pub(crate) struct Options<'a> {
    values: &'a IndexMap<String, OptionValue>,
    specs: &'static [OptionSpec],
    pub(crate) errors: Vec<String>,
}

impl<'a> Options<'a> {
    pub(crate) fn new(
        values: &'a IndexMap<String, OptionValue>,
        specs: &'static [OptionSpec],
    ) -> Options<'a> {
        let mut errors = Vec::new();
        for (name, value) in values {
            match specs.iter().find(|s| s.name == name) {
                None => {
                    let known: Vec<&str> = specs.iter().map(|s| s.name).collect();
                    let mut message = format!("unknown option `{name}`");
                    if let Some(close) = crate::closest(name, &known) {
                        message.push_str(&format!(" (did you mean `{close}`?)"));
                    }
                    if known.is_empty() {
                        message.push_str(": this check has no options");
                    } else {
                        message.push_str(&format!("; options are {}", quoted_list(&known)));
                    }
                    errors.push(message);
                }
                Some(spec) => {
                    if let Err(e) = check_type(spec, value) {
                        errors.push(e);
                    }
                }
            }
        }
        Options {
            values,
            specs,
            errors,
        }
    }

    fn value(&self, name: &str) -> Option<&'a OptionValue> {
        let spec = self.specs.iter().find(|s| s.name == name)?;
        let value = self.values.get(name)?;
        check_type(spec, value).ok().map(|()| value)
    }

    pub(crate) fn bool(&self, name: &str, default: bool) -> bool {
        self.value(name)
            .and_then(OptionValue::as_bool)
            .unwrap_or(default)
    }

    pub(crate) fn int(&self, name: &str, default: i64) -> i64 {
        self.value(name)
            .and_then(OptionValue::as_int)
            .unwrap_or(default)
    }

    /// An int option as a `usize` (specs keep them non-negative).
    pub(crate) fn count(&self, name: &str, default: usize) -> usize {
        let fallback = i64::try_from(default).unwrap_or(i64::MAX);
        usize::try_from(self.int(name, fallback)).unwrap_or(default)
    }

    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.value(name)
            .and_then(OptionValue::as_str)
            .map(str::to_string)
    }

    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.value(name)
            .and_then(OptionValue::as_list)
            .unwrap_or_default()
    }

    /// Records a problem with a value that has the right type but is not acceptable.
    pub(crate) fn refuse(&mut self, message: String) {
        self.errors.push(message);
    }
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_type(spec: &OptionSpec, value: &OptionValue) -> Result<(), String> {
    let ok = match (spec.kind, value) {
        (OptionKind::Bool, OptionValue::Bool(_))
        | (OptionKind::Str, OptionValue::Str(_))
        | (OptionKind::List, OptionValue::List(_) | OptionValue::Str(_)) => true,
        (OptionKind::Int { min, max }, OptionValue::Int(i)) => {
            if *i < min || *i > max {
                return Err(format!(
                    "option `{}` is {i}: expected {}",
                    spec.name,
                    spec.kind.describe()
                ));
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "option `{}` is `{value}`: expected {}",
            spec.name,
            spec.kind.describe()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptionSpec] = &[
        OptionSpec {
            name: "max-length",
            kind: OptionKind::Int { min: 1, max: 500 },
            default: "75",
            help: "",
        },
        OptionSpec {
            name: "args",
            kind: OptionKind::List,
            default: "[]",
            help: "",
        },
    ];

    #[test]
    fn unknown_and_mistyped() {
        let mut values = IndexMap::new();
        values.insert("max-lenght".to_string(), OptionValue::Int(3));
        values.insert("args".to_string(), OptionValue::Bool(true));
        let o = Options::new(&values, SPECS);
        assert_eq!(o.errors.len(), 2);
        assert!(
            o.errors[0].contains("did you mean `max-length`"),
            "{}",
            o.errors[0]
        );
        assert!(
            o.errors[1].contains("expected a list of strings"),
            "{}",
            o.errors[1]
        );
        assert_eq!(o.int("max-length", 75), 75);
        let mut values = IndexMap::new();
        values.insert("max-length".to_string(), OptionValue::Int(0));
        values.insert("args".to_string(), OptionValue::Str("--strict".into()));
        let o = Options::new(&values, SPECS);
        assert_eq!(o.errors.len(), 1);
        assert!(o.errors[0].contains("from 1 to 500"));
        assert_eq!(o.list("args"), vec!["--strict".to_string()]);
    }
}

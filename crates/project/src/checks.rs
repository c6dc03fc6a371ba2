//! How a project tunes its checks.
//!
//! ```yaml
//! checks:
//!   signed-off-by: error           # shorthand: enabled, every finding at this severity
//!   maintainers: off               # disabled
//!   checkpatch:
//!     severity: warning            # every finding at most/at least this severity
//!     ignore: [FILE_PATH_CHANGES]  # finding types dropped
//!     types: {LONG_LINE: info}     # per-type severities
//!     options: {strict: true}      # check-specific options
//! ```
//!
//! Which names and options exist is the check registry's business (crate `gauntlet-checks`);
//! this module only reads what the file says, keeping where it said it.

use std::fmt;

use gauntlet_verdict::Severity;
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// A project's settings for one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSettings {
    pub enabled: bool,
    /// Every finding of the check is reported at this severity.
    pub severity: Option<Severity>,
    /// Finding types (e.g. checkpatch's `LONG_LINE`) that are dropped.
    pub ignore: Vec<String>,
    /// Per finding type severities.
    pub types: IndexMap<String, Severity>,
    /// Check-specific options; the check validates them.
    pub options: IndexMap<String, OptionValue>,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings {
            enabled: true,
            severity: None,
            ignore: Vec::new(),
            types: IndexMap::new(),
            options: IndexMap::new(),
        }
    }
}

impl CheckSettings {
    /// The severity a finding of `kind` with its own severity `found` ends up with, or `None`
    /// when it is ignored.
    pub fn severity_of(&self, kind: &str, found: Severity) -> Option<Severity> {
        if self
            .ignore
            .iter()
            .any(|ignored| ignored.eq_ignore_ascii_case(kind))
        {
            return None;
        }
        if let Some((_, severity)) = self
            .types
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(kind))
        {
            return Some(*severity);
        }
        Some(self.severity.unwrap_or(found))
    }
}

/// The value of a check option.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<String>),
}

impl OptionValue {
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            OptionValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            OptionValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            OptionValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A list, or a single string as a list of one.
    pub fn as_list(&self) -> Option<Vec<String>> {
        match self {
            OptionValue::List(items) => Some(items.clone()),
            OptionValue::Str(s) => Some(vec![s.clone()]),
            _ => None,
        }
    }
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Bool(b) => write!(f, "{b}"),
            OptionValue::Int(i) => write!(f, "{i}"),
            OptionValue::Float(x) => write!(f, "{x}"),
            OptionValue::Str(s) => write!(f, "{s}"),
            OptionValue::List(items) => write!(f, "[{}]", items.join(", ")),
        }
    }
}

impl<'de> Deserialize<'de> for OptionValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OptionValue, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OptionValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean, a number, a string or a list of strings")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<OptionValue, E> {
                Ok(OptionValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<OptionValue, E> {
                Ok(OptionValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OptionValue, E> {
                i64::try_from(v)
                    .map(OptionValue::Int)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<OptionValue, E> {
                Ok(OptionValue::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OptionValue, E> {
                Ok(OptionValue::Str(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OptionValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(OptionValue::List(items))
            }
        }
        deserializer.deserialize_any(V)
    }
}

const SHORTHANDS: &str = "`on`, `off`, `error`, `warning`, `info`, or a mapping with `enabled`, `severity`, `ignore`, `types`, `options`";

fn shorthand<E: de::Error>(word: &str) -> Result<CheckSettings, E> {
    let mut settings = CheckSettings::default();
    match word.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" | "enabled" => {}
        "off" | "no" | "false" | "disabled" => settings.enabled = false,
        other => match other.parse::<Severity>() {
            Ok(severity) => settings.severity = Some(severity),
            Err(_) => {
                return Err(E::custom(format!(
                    "`{word}` is not a check setting: expected {SHORTHANDS}"
                )));
            }
        },
    }
    Ok(settings)
}

/// A severity, or `off` to drop a finding type.
struct TypeSeverity(Option<Severity>);

impl<'de> Deserialize<'de> for TypeSeverity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TypeSeverity, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TypeSeverity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`error`, `warning`, `info` or `off`")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<TypeSeverity, E> {
                if v {
                    Err(E::custom("expected `error`, `warning`, `info` or `off`"))
                } else {
                    Ok(TypeSeverity(None))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TypeSeverity, E> {
                if v.eq_ignore_ascii_case("off") {
                    return Ok(TypeSeverity(None));
                }
                v.parse::<Severity>()
                    .map(|s| TypeSeverity(Some(s)))
                    .map_err(|e| E::custom(format!("{e}, or `off`")))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for CheckSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<CheckSettings, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CheckSettings;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SHORTHANDS)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<CheckSettings, E> {
                Ok(CheckSettings {
                    enabled: v,
                    ..CheckSettings::default()
                })
            }
            fn visit_unit<E: de::Error>(self) -> Result<CheckSettings, E> {
                Ok(CheckSettings::default())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CheckSettings, E> {
                shorthand(v)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckSettings, A::Error> {
                let mut settings = CheckSettings::default();
                let mut seen: Vec<String> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if seen.contains(&key) {
                        return Err(de::Error::custom(format!("duplicate key `{key}`")));
                    }
                    match key.as_str() {
                        "enabled" => settings.enabled = map.next_value()?,
                        "severity" => {
                            let word: String = map.next_value()?;
                            settings.severity =
                                Some(word.parse::<Severity>().map_err(de::Error::custom)?);
                        }
                        "ignore" => settings.ignore = map.next_value()?,
                        "types" => {
                            let types: IndexMap<String, TypeSeverity> = map.next_value()?;
                            for (name, severity) in types {
                                match severity.0 {
                                    Some(severity) => {
                                        settings.types.insert(name, severity);
                                    }
                                    None => settings.ignore.push(name),
                                }
                            }
                        }
                        "options" => settings.options = map.next_value()?,
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["enabled", "severity", "ignore", "types", "options"],
                            ));
                        }
                    }
                    seen.push(key);
                }
                Ok(settings)
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_overrides_and_ignores() {
        let mut settings = CheckSettings {
            severity: Some(Severity::Warning),
            ignore: vec!["FILE_PATH_CHANGES".into()],
            ..CheckSettings::default()
        };
        settings.types.insert("LONG_LINE".into(), Severity::Info);
        assert_eq!(
            settings.severity_of("file_path_changes", Severity::Error),
            None
        );
        assert_eq!(
            settings.severity_of("LONG_LINE", Severity::Error),
            Some(Severity::Info)
        );
        assert_eq!(
            settings.severity_of("SPACING", Severity::Error),
            Some(Severity::Warning)
        );
        let plain = CheckSettings::default();
        assert_eq!(
            plain.severity_of("SPACING", Severity::Error),
            Some(Severity::Error)
        );
    }
}

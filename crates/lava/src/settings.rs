//! Serde helpers for settings written by people (`30s`, `10m`, `1h 30m`).

/// A `Duration` as humantime text (`90s`, `10m`), read from text or a number of seconds.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*value).to_string())
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Seconds(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Written::deserialize(d)? {
            Written::Seconds(n) => Ok(Duration::from_secs(n)),
            Written::Text(text) => humantime::parse_duration(text.trim()).map_err(|e| {
                de::Error::custom(format!("`{text}` is not a duration like 30s or 10m: {e}"))
            }),
        }
    }
}

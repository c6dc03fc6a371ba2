//! The answers of LAVA's REST API v0.2 (2023.01) that gauntlet reads. Only the fields used are
//! named; everything else LAVA sends is ignored, and every field LAVA may leave out or send as
//! `null` has a default, so that a newer server still reads.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A job's `state` (`Submitted → Scheduling → Scheduled → Running → (Canceling) → Finished`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum JobState {
    Submitted,
    Scheduling,
    Scheduled,
    Running,
    Canceling,
    Finished,
    /// A word this client does not know (kept).
    Other(String),
}

/// A job's `health`, meaningful once it is `Finished`: `Complete` says the infrastructure did
/// its part (the tests may still have failed), `Incomplete` that it did not (or a test raised
/// an error), `Canceled` that someone stopped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum JobHealth {
    Unknown,
    Complete,
    Incomplete,
    Canceled,
    Other(String),
}

macro_rules! words {
    ($ty:ident { $($variant:ident),* }) => {
        impl $ty {
            pub fn parse(word: &str) -> $ty {
                match word {
                    $(stringify!($variant) => $ty::$variant,)*
                    other => $ty::Other(other.to_owned()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($ty::$variant => stringify!($variant),)*
                    $ty::Other(word) => word,
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let word = String::deserialize(d)?;
                Ok($ty::parse(&word))
            }
        }
    };
}

words!(JobState {
    Submitted,
    Scheduling,
    Scheduled,
    Running,
    Canceling,
    Finished
});
words!(JobHealth {
    Unknown,
    Complete,
    Incomplete,
    Canceled
});

/// `GET /api/v0.2/jobs/<id>/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobInfo {
    pub id: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    pub state: JobState,
    pub health: JobHealth,
    #[serde(default)]
    pub actual_device: Option<String>,
    #[serde(default)]
    pub submit_time: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    /// LAVA's own words about an Incomplete job (set by the scheduler or an admin).
    #[serde(default)]
    pub failure_comment: Option<String>,
}

impl JobInfo {
    pub fn is_finished(&self) -> bool {
        self.state == JobState::Finished
    }
}

/// `POST /api/v0.2/jobs/` → 201.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Submitted {
    #[serde(default)]
    pub job_ids: Vec<u64>,
}

/// Any `{"message": …}` answer (validate, cancel, 400s).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Message {
    #[serde(default)]
    pub message: Option<serde_json::Value>,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

impl Message {
    pub(crate) fn text(&self) -> Option<String> {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.message
            .as_ref()
            .or(self.detail.as_ref())
            .map(text)
            .filter(|s| !s.is_empty())
    }
}

/// A page of a list (`LimitOffsetPagination`): `count`, `next`, `results`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
}

/// One entry of `GET /api/v0.2/jobs/<id>/suites/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteInfo {
    pub id: u64,
    pub name: String,
}

/// One entry of `GET /api/v0.2/jobs/<id>/tests/` (LAVA's view of a result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    #[serde(default)]
    pub id: u64,
    pub name: String,
    /// `pass`, `fail`, `skip`, `unknown`.
    pub result: String,
    /// A decimal, as LAVA writes it.
    #[serde(default, deserialize_with = "text_or_number")]
    pub measurement: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub unit: String,
    /// The suite's id (see [`SuiteInfo`]); its name is filled in by
    /// [`crate::Client::tests`].
    #[serde(default)]
    pub suite: Option<u64>,
    #[serde(default, skip_deserializing)]
    pub suite_name: String,
    #[serde(default)]
    pub test_set: Option<serde_json::Value>,
    #[serde(default)]
    pub start_log_line: Option<u64>,
    #[serde(default)]
    pub end_log_line: Option<u64>,
    /// YAML text: for LAVA's own actions, `error_type`, `error_msg`, `extra`…
    #[serde(default)]
    pub metadata: Option<String>,
}

/// `GET /api/v0.2/system/version/`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Version {
    pub version: String,
}

/// `GET /api/v0.2/system/whoami/`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WhoAmI {
    #[serde(default)]
    pub user: Option<String>,
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.is_empty() || s == "None" => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

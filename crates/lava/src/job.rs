//! LAVA job definitions, typed.
//!
//! The shapes follow LAVA 2023.01's schema (`lava_common/schemas`): a job is a mapping with
//! `job_name`, `device_type`, `timeouts`, `visibility`, optional `priority`, `context`,
//! `metadata`, `tags`, and `actions`, a list of one-key mappings (`deploy`, `boot`, `test`,
//! `command`). Every mapping keeps the keys this module does not name in an `extra` map, so a
//! definition read from a file is written back with nothing lost; key order is kept.
//!
//! [`JobDefinition::to_yaml`] writes the YAML LAVA is given; [`JobDefinition::from_yaml`] reads
//! one (the samples of `lava-samples/` go through both in the tests).

use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Free-form values (`context`, `metadata`, the keys not named here).
pub type Map = IndexMap<String, Value>;

fn is_empty_map(map: &Map) -> bool {
    map.is_empty()
}

/// A whole job definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDefinition {
    pub job_name: String,
    /// Required for single-node jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    pub timeouts: Timeouts,
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Device-type template variables the job overrides (LAVA accepts only whitelisted keys:
    /// `arch`, `memory`, `extra_options`, `no_kvm`, `kernel_start_message`…).
    #[serde(default, skip_serializing_if = "is_empty_map")]
    pub context: Map,
    /// Free `{str: any}`: gauntlet puts the series, revision and build here.
    #[serde(default, skip_serializing_if = "is_empty_map")]
    pub metadata: Map,
    /// Device tags the device must have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub actions: Vec<Action>,
    #[serde(flatten)]
    pub extra: Map,
}

/// `timeouts:`: `job` is required; `action` and `connection` are defaults for every action and
/// connection; `actions` and `connections` override them per name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeouts {
    pub job: Timeout,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Timeout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Timeout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<Timeout>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub actions: IndexMap<String, Timeout>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub connections: IndexMap<String, Timeout>,
}

/// One timeout: exactly one of `days`, `hours`, `minutes`, `seconds` (LAVA's schema), and
/// `skip` for action timeouts that only end the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timeout {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<bool>,
}

impl Timeout {
    pub fn minutes(n: u64) -> Timeout {
        Timeout {
            minutes: Some(n),
            ..Timeout::default()
        }
    }

    pub fn seconds(n: u64) -> Timeout {
        Timeout {
            seconds: Some(n),
            ..Timeout::default()
        }
    }

    /// The shortest exact spelling of a duration (whole seconds, at least one).
    pub fn from_duration(duration: Duration) -> Timeout {
        let secs = duration.as_secs().max(1);
        if secs.is_multiple_of(3600) {
            Timeout {
                hours: Some(secs / 3600),
                ..Timeout::default()
            }
        } else if secs.is_multiple_of(60) {
            Timeout::minutes(secs / 60)
        } else {
            Timeout::seconds(secs)
        }
    }

    /// The duration written (the sum, if several units were given against the schema).
    pub fn duration(&self) -> Duration {
        let secs = self
            .days
            .unwrap_or(0)
            .saturating_mul(86_400)
            .saturating_add(self.hours.unwrap_or(0).saturating_mul(3600))
            .saturating_add(self.minutes.unwrap_or(0).saturating_mul(60))
            .saturating_add(self.seconds.unwrap_or(0));
        Duration::from_secs(secs)
    }
}

/// `visibility:` `public`, `personal`, or `{group: [names]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Visibility {
    Named(String),
    Group { group: Vec<String> },
}

impl Visibility {
    pub fn public() -> Visibility {
        Visibility::Named("public".to_owned())
    }
}

/// `priority:` `high`, `medium`, `low`, or 0–100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Priority {
    Number(u8),
    Named(String),
}

/// One action of the job's pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Deploy(Deploy),
    Boot(Boot),
    Test(Test),
    /// A `command` action (a lab-defined command on the worker), kept as written.
    Command(Map),
}

/// `deploy:` images downloaded by the dispatcher (`to: tmpfs` for QEMU).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deploy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    pub to: String,
    /// `kernel`, `initrd`, `modules`, `rootfs`, `dtb`… by label.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub images: IndexMap<String, Image>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(flatten)]
    pub extra: Map,
}

/// One image of a deploy action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// `http(s)://…` or `file://…` (a dispatcher on the same machine).
    pub url: String,
    /// For QEMU, the command-line arguments, with `{kernel}`, `{initrd}`… replaced by the
    /// downloaded file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_arg: Option<String>,
    /// `gz`, `xz`, `bz2`, `zstd`: the dispatcher decompresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256sum: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(flatten)]
    pub extra: Map,
}

impl Image {
    pub fn new(url: impl Into<String>, image_arg: Option<String>) -> Image {
        Image {
            url: url.into(),
            image_arg,
            compression: None,
            sha256sum: None,
            format: None,
            extra: Map::new(),
        }
    }
}

/// `boot:` how the device is started: `method: qemu` (with `media: tmpfs`), or a board's
/// method (`u-boot`, `grub`, `depthcharge`, `fastboot`…) with its own keys in `extra`
/// (`commands`, `type`…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<String>,
    /// Shell prompts to wait for; none for a `monitors` test (LAVA only starts the device).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_login: Option<Map>,
    #[serde(flatten)]
    pub extra: Map,
}

/// `test:` either Lava-Test-Shell `definitions`, or `monitors` that match the console of a
/// device that runs its tests by itself (or `interactive`, kept in `extra`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Test {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub definitions: Vec<DefinitionRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub monitors: Vec<Monitor>,
    #[serde(flatten)]
    pub extra: Map,
}

/// One entry of `definitions:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefinitionRef {
    /// `inline` or `git`.
    pub from: String,
    pub name: String,
    /// For `inline`, required and arbitrary; for `git`, the file in the repository.
    pub path: String,
    pub repository: Repository,
    /// Exported as shell variables, overriding the definition's `params`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub params: IndexMap<String, String>,
    #[serde(flatten)]
    pub extra: Map,
}

/// Where a definition comes from: a git URL, or the definition itself (`from: inline`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Repository {
    Url(String),
    Inline(Box<InlineDefinition>),
}

/// A Lava-Test Test Definition 1.0, embedded in the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineDefinition {
    pub metadata: DefinitionMetadata,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub params: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Map>,
    pub run: Run,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse: Option<Parse>,
    #[serde(flatten)]
    pub extra: Map,
}

/// `metadata:` of a definition (`format`, `name`, `description` are mandatory; `version` is for
/// definitions not in git).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefinitionMetadata {
    pub format: String,
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(flatten)]
    pub extra: Map,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub steps: Vec<String>,
}

/// `parse:` a pattern with `(?P<test_case_id>…)` and `(?P<result>…)`, and its `fixupdict`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parse {
    pub pattern: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub fixupdict: IndexMap<String, String>,
}

/// One entry of `monitors:`: between `start` and `end` on the console, every match of
/// `pattern` is a result (its `result` group through `fixupdict`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    pub name: String,
    pub start: String,
    pub end: String,
    pub pattern: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub fixupdict: IndexMap<String, String>,
}

/// A definition that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("cannot write the job definition as YAML: {0}")]
    Write(String),
    #[error("not a LAVA job definition: {0}")]
    Read(String),
}

impl JobDefinition {
    /// The YAML LAVA is given (block style, plain scalars where YAML 1.1 reads them back the
    /// same, no folded scalars).
    pub fn to_yaml(&self) -> Result<String, DefinitionError> {
        let mut options = serde_saphyr::SerializerOptions::default();
        options.prefer_block_scalars = false;
        serde_saphyr::to_string_with_options(self, options)
            .map_err(|e| DefinitionError::Write(e.to_string()))
    }

    /// Reads a job definition (as written by hand, or by [`JobDefinition::to_yaml`]).
    pub fn from_yaml(text: &str) -> Result<JobDefinition, DefinitionError> {
        serde_saphyr::from_str(text).map_err(|e| DefinitionError::Read(e.to_string()))
    }

    /// The test actions.
    pub fn tests(&self) -> impl Iterator<Item = &Test> {
        self.actions.iter().filter_map(|a| match a {
            Action::Test(t) => Some(t),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_take_the_shortest_exact_unit() {
        assert_eq!(
            Timeout::from_duration(Duration::from_secs(7200)).hours,
            Some(2)
        );
        assert_eq!(
            Timeout::from_duration(Duration::from_secs(180)).minutes,
            Some(3)
        );
        assert_eq!(
            Timeout::from_duration(Duration::from_secs(90)).seconds,
            Some(90)
        );
        assert_eq!(
            Timeout::from_duration(Duration::from_millis(10)).seconds,
            Some(1)
        );
        let t = Timeout {
            hours: Some(1),
            minutes: Some(2),
            ..Timeout::default()
        };
        assert_eq!(t.duration(), Duration::from_secs(3720));
    }
}

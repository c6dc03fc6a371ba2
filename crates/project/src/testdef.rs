//! LAVA test definitions (`Lava-Test Test Definition 1.0`).
//!
//! ```yaml
//! metadata:
//!   format: Lava-Test Test Definition 1.0
//!   name: smoke-tests-dummy
//!   description: "Smoke tests everyday"
//! params: {SIZE: "4"}
//! install:
//!   deps: [gcc]
//!   steps: [make]
//! run:
//!   steps:
//!     - ./epita/script_dummy.sh
//! parse:
//!   pattern: '^(?P<test_case_id>\S+): (?P<result>PASS|FAIL)'
//!   fixupdict: {PASS: pass, FAIL: fail}
//! ```
//!
//! Loading validates what LAVA would refuse (format, name, steps, pattern) and warns about what
//! LAVA accepts but rarely means (a ` #` that YAML reads as a comment in an unquoted step).
//! [`TestDefinition::script`] gives the shell script of the steps, which the local runner and the
//! QEMU lab run as LAVA's `run.sh` would be run (`set -e`, parameters as shell variables).

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_saphyr::Spanned;

use crate::error::{Error, Errors, Location};
use crate::yaml;

/// The only format LAVA's test shell runs.
pub const FORMAT: &str = "Lava-Test Test Definition 1.0";

/// The results a `parse` pattern's `fixupdict` may map to.
pub const RESULT_WORDS: [&str; 4] = ["pass", "fail", "skip", "unknown"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    metadata: RawMetadata,
    #[serde(default)]
    params: IndexMap<String, Scalar>,
    #[serde(default)]
    install: Option<RawInstall>,
    run: RawRun,
    #[serde(default)]
    parse: Option<RawParse>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetadata {
    format: Spanned<String>,
    name: Spanned<String>,
    description: String,
    #[serde(default)]
    version: Option<Scalar>,
    #[serde(default)]
    maintainer: Vec<String>,
    #[serde(default)]
    os: Vec<String>,
    #[serde(default)]
    scope: Vec<String>,
    #[serde(default)]
    devices: Vec<String>,
    #[serde(default)]
    environment: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstall {
    #[serde(default)]
    deps: Vec<String>,
    #[serde(default)]
    steps: Vec<Spanned<Step>>,
    #[serde(default, rename = "git-repos")]
    git_repos: Vec<GitRepo>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    steps: Vec<Spanned<Step>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParse {
    pattern: Spanned<String>,
    #[serde(default)]
    fixupdict: IndexMap<String, Spanned<String>>,
}

/// A repository LAVA's dispatcher clones before the run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum GitRepo {
    Url(String),
    Detailed {
        url: String,
        #[serde(default)]
        destination: Option<String>,
        #[serde(default)]
        branch: Option<String>,
        #[serde(default)]
        skip_by_default: Option<bool>,
    },
}

/// A scalar written as a string, a number or a boolean; kept as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Scalar, D::Error> {
        deserializer
            .deserialize_any(ScalarVisitor {
                what: "a string, a number or a boolean",
            })
            .map(Scalar)
    }
}

struct ScalarVisitor {
    what: &'static str,
}

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(de::Error::custom(
            "this step is a mapping, not a command: YAML reads an unquoted `: ` as `key: value`; \
             quote the whole step",
        ))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(de::Error::custom(
            "this step is a list, not a command: quote the whole step",
        ))
    }
}

/// One shell command of `install.steps` or `run.steps`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step(String);

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Step, D::Error> {
        deserializer
            .deserialize_any(ScalarVisitor {
                what: "a shell command (a string)",
            })
            .map(Step)
    }
}

/// A step, and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepAt {
    pub command: String,
    pub at: Location,
}

/// A `parse:` pattern, compiled.
#[derive(Debug, Clone)]
pub struct ParsePattern {
    /// As written (Python syntax, `(?P<name>…)` groups).
    pub pattern: String,
    pub regex: regex::Regex,
    /// Result words of the test output → LAVA's result words.
    pub fixupdict: IndexMap<String, String>,
}

/// Something LAVA accepts, that is probably not what the author meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub at: Location,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}", self.at, self.message)
    }
}

/// A loaded, validated LAVA test definition.
#[derive(Debug, Clone)]
pub struct TestDefinition {
    pub file: PathBuf,
    pub name: String,
    pub description: String,
    pub version: Option<String>,
    pub maintainer: Vec<String>,
    pub os: Vec<String>,
    pub scope: Vec<String>,
    pub devices: Vec<String>,
    pub environment: Vec<String>,
    /// Default parameters; a project may override them.
    pub params: IndexMap<String, String>,
    /// Packages the machine under test must have (gauntlet installs nothing: its machines under
    /// test are a busybox initramfs or the host's sandbox).
    pub deps: Vec<String>,
    pub install_steps: Vec<StepAt>,
    pub git_repos: Vec<GitRepo>,
    pub run_steps: Vec<StepAt>,
    pub parse: Option<ParsePattern>,
    pub warnings: Vec<Warning>,
}

/// Whether a parameter name can be a shell variable.
fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `value` in single quotes, safe for any content.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r#"'\''"#))
}

impl TestDefinition {
    pub fn load(path: &Path) -> Result<TestDefinition, Errors> {
        let text = yaml::read(path)?;
        TestDefinition::parse(path, &text)
    }

    /// Parses and validates `text`, read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<TestDefinition, Errors> {
        let raw: RawDefinition = yaml::parse(path, text)?;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();

        if raw.metadata.format.value != FORMAT {
            errors.push(Error::invalid(
                yaml::at(path, &raw.metadata.format),
                format!(
                    "metadata.format is `{}`; LAVA runs only `{FORMAT}`",
                    raw.metadata.format.value
                ),
            ));
        }
        let name = raw.metadata.name.value.clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            errors.push(Error::invalid(
                yaml::at(path, &raw.metadata.name),
                format!(
                    "metadata.name `{name}` must be letters, digits, `-`, `_` or `.` (it names the \
                     result suite)"
                ),
            ));
        }
        if raw.metadata.version.is_none() {
            warnings.push(Warning {
                at: Location::file(path),
                message: "metadata.version is missing: LAVA requires it for a definition that is \
                          not fetched from git (inline in a job)"
                    .into(),
            });
        }

        let mut params = IndexMap::new();
        for (key, value) in raw.params {
            if !is_shell_name(&key) {
                errors.push(Error::invalid(
                    Location::file(path),
                    format!("params: `{key}` is not a shell variable name"),
                ));
            }
            params.insert(key, value.0);
        }

        let install = raw.install.unwrap_or(RawInstall {
            deps: Vec::new(),
            steps: Vec::new(),
            git_repos: Vec::new(),
            sources: Vec::new(),
            keys: Vec::new(),
        });
        if !install.sources.is_empty() || !install.keys.is_empty() {
            warnings.push(Warning {
                at: Location::file(path),
                message: "install.sources and install.keys are ignored: gauntlet installs no \
                          packages on its machines under test"
                    .into(),
            });
        }
        let install_steps = steps(path, text, install.steps, &mut warnings);
        let run_steps = steps(path, text, raw.run.steps, &mut warnings);
        if run_steps.is_empty() {
            errors.push(Error::invalid(
                Location::file(path),
                "run.steps is empty: the definition runs nothing",
            ));
        }

        let parse = match raw.parse {
            None => None,
            Some(parse) => match compile_pattern(path, parse) {
                Ok(pattern) => Some(pattern),
                Err(mut e) => {
                    errors.append(&mut e);
                    None
                }
            },
        };

        if !errors.is_empty() {
            return Err(Errors(errors));
        }
        Ok(TestDefinition {
            file: path.to_path_buf(),
            name,
            description: raw.metadata.description,
            version: raw.metadata.version.map(|v| v.0),
            maintainer: raw.metadata.maintainer,
            os: raw.metadata.os,
            scope: raw.metadata.scope,
            devices: raw.metadata.devices,
            environment: raw.metadata.environment,
            params,
            deps: install.deps,
            install_steps,
            git_repos: install.git_repos,
            run_steps,
            parse,
            warnings,
        })
    }

    /// The shell script that runs the definition: its parameters (the defaults, overridden by
    /// `overrides`) as shell variables, then `install.steps`, then `run.steps`, under `set -e`
    /// as LAVA runs them. Values are single-quoted, so any content survives.
    pub fn script(&self, overrides: &IndexMap<String, String>) -> String {
        let mut script = String::from("#!/bin/sh\n");
        script.push_str(&format!(
            "# {} ({}), generated by gauntlet\n",
            self.name,
            self.file.display()
        ));
        script.push_str("set -e\n");
        let mut params = self.params.clone();
        for (key, value) in overrides {
            params.insert(key.clone(), value.clone());
        }
        for (key, value) in &params {
            if is_shell_name(key) {
                script.push_str(&format!("{key}={}\n", shell_quote(value)));
            }
        }
        for step in self.install_steps.iter().chain(&self.run_steps) {
            script.push_str(&step.command);
            if !step.command.ends_with('\n') {
                script.push('\n');
            }
        }
        script
    }

    /// The step that holds line `line` (1-based) of [`TestDefinition::script`] without
    /// overrides, for turning a shell error back into a place in the definition.
    pub fn step_at_script_line(&self, line: usize) -> Option<&StepAt> {
        // Header: shebang, comment, `set -e`, then one line per parameter.
        let mut current = 3 + self.params.keys().filter(|k| is_shell_name(k)).count();
        for step in self.install_steps.iter().chain(&self.run_steps) {
            let lines = step.command.trim_end_matches('\n').lines().count().max(1);
            if line > current && line <= current + lines {
                return Some(step);
            }
            current += lines;
        }
        None
    }
}

fn steps(
    path: &Path,
    text: &str,
    raw: Vec<Spanned<Step>>,
    warnings: &mut Vec<Warning>,
) -> Vec<StepAt> {
    raw.into_iter()
        .map(|step| {
            let at = yaml::at(path, &step);
            if let Some(comment) = swallowed_comment(text, &step) {
                warnings.push(Warning {
                    at: at.clone(),
                    message: format!(
                        "YAML reads `{comment}` after this step as a comment, so the step is only \
                         `{}`; quote the whole step if the `#` belongs to it",
                        step.value.0
                    ),
                });
            }
            StepAt {
                command: step.value.0,
                at,
            }
        })
        .collect()
}

/// The comment that follows a plain one-line step on its line, if any: the LAVA gotcha where
/// `- echo "ok 3 x # SKIP"` loses everything from ` #`.
fn swallowed_comment(text: &str, step: &Spanned<Step>) -> Option<String> {
    let line = usize::try_from(step.referenced.line()).ok()?;
    let column = usize::try_from(step.referenced.column()).ok()?;
    let raw = text.lines().nth(line.checked_sub(1)?)?;
    let start = raw.char_indices().nth(column.checked_sub(1)?)?.0;
    let rest = &raw[start..];
    if rest.starts_with(['"', '\'', '|', '>']) {
        return None;
    }
    let after = rest.strip_prefix(step.value.0.as_str())?;
    let comment = after.trim_start();
    (comment.starts_with('#') && after.starts_with([' ', '\t'])).then(|| comment.to_owned())
}

fn compile_pattern(path: &Path, parse: RawParse) -> Result<ParsePattern, Vec<Error>> {
    let mut errors = Vec::new();
    let at = yaml::at(path, &parse.pattern);
    let regex = match regex::Regex::new(&parse.pattern.value) {
        Ok(regex) => Some(regex),
        Err(e) => {
            errors.push(Error::invalid(
                at.clone(),
                format!("parse.pattern is not a valid regular expression: {e}"),
            ));
            None
        }
    };
    if let Some(regex) = &regex {
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        for required in ["test_case_id", "result"] {
            if !names.contains(&required) {
                errors.push(Error::invalid(
                    at.clone(),
                    format!("parse.pattern has no `(?P<{required}>…)` group"),
                ));
            }
        }
    }
    let mut fixupdict = IndexMap::new();
    for (word, result) in parse.fixupdict {
        if !RESULT_WORDS.contains(&result.value.as_str()) {
            errors.push(Error::invalid(
                yaml::at(path, &result),
                format!(
                    "fixupdict maps `{word}` to `{}`; results are {}",
                    result.value,
                    RESULT_WORDS.join(", ")
                ),
            ));
        }
        fixupdict.insert(word, result.value);
    }
    match regex {
        Some(regex) if errors.is_empty() => Ok(ParsePattern {
            pattern: parse.pattern.value,
            regex,
            fixupdict,
        }),
        _ => Err(errors),
    }
}

/// Checks the script's shell syntax with `sh -n`, and maps an error back to its step.
pub fn check_syntax(definition: &TestDefinition) -> Result<(), Error> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let script = definition.script(&IndexMap::new());
    let mut child = Command::new("sh")
        .arg("-n")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Read {
            path: PathBuf::from("sh"),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A write error means sh exited early; its status says why.
        let _ = stdin.write_all(script.as_bytes());
    }
    let output = child.wait_with_output().map_err(|source| Error::Read {
        path: PathBuf::from("sh"),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = stderr.trim().to_owned();
    let line = message
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| !part.is_empty())
        .and_then(|n| n.parse::<usize>().ok());
    let at = line
        .and_then(|line| definition.step_at_script_line(line))
        .map(|step| step.at.clone())
        .unwrap_or_else(|| Location::file(&definition.file));
    Err(Error::invalid(
        at,
        format!("the steps are not valid shell: {message}"),
    ))
}

//! The registry: which checks exist, how a project configures them, and running them.

use std::fmt;
use std::time::Instant;

use gauntlet_project::{CheckEntry, CheckSettings, Location as ProjectLocation};
use gauntlet_verdict::{Severity, Status};
use indexmap::IndexMap;
use serde::Serialize;

use crate::checks;
use crate::finding::{Raw, RawState};
use crate::input::{Context, Input, Series};
use crate::options::{OptionSpec, Options};
use crate::report::{CheckResult, PatchInfo, Report, SeriesInfo, Target};

/// Whether a check judges each patch or the series as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Patch,
    Series,
}

/// A type of finding a check reports, with its default severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FindingType {
    pub name: &'static str,
    pub severity: Severity,
    pub help: &'static str,
}

/// What the registry knows of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckInfo {
    /// Stable context name (a slug, as Patchwork checks need).
    pub name: &'static str,
    pub scope: Scope,
    pub summary: &'static str,
    pub options: &'static [OptionSpec],
    /// The finding types it reports. Empty for `checkpatch`, whose types are checkpatch's own
    /// (`LONG_LINE`, …).
    pub types: &'static [FindingType],
    /// Runs programs (git, perl): it gets a thread of its own while the others run.
    pub external: bool,
}

/// How one run of a check went, for the check itself to decide (internal).
pub(crate) enum Ran {
    Series(Raw),
    /// One per patch, in the series' order.
    Patches(Vec<Raw>),
}

/// What a check sees besides the input.
pub(crate) struct RunContext<'s> {
    pub(crate) settings: &'s CheckSettings,
    /// The project named the check (so a missing tool is an error, not a skip).
    pub(crate) explicit: bool,
}

/// A configured check.
pub(crate) trait Check: Send + Sync {
    fn run(&self, input: &Input<'_>, rc: &RunContext<'_>) -> Ran;
}

/// A built-in check: its description and how to configure it.
pub(crate) struct Builtin {
    pub(crate) info: &'static CheckInfo,
    pub(crate) configure: fn(&mut Options<'_>) -> Box<dyn Check>,
}

/// All the checks gauntlet knows.
pub struct Registry {
    builtins: Vec<Builtin>,
}

/// A mistake in a project's `checks:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the check's entry is in the project file.
    pub at: ProjectLocation,
    pub check: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: checks.{}: {}", self.at, self.check, self.message)
    }
}

impl std::error::Error for ConfigError {}

struct Entry {
    info: &'static CheckInfo,
    check: Box<dyn Check>,
    settings: CheckSettings,
    explicit: bool,
}

/// The checks of a project, ready to run.
pub struct Configured {
    entries: Vec<Entry>,
}

impl Registry {
    /// Every built-in check.
    pub fn builtin() -> Registry {
        Registry {
            builtins: checks::builtins(),
        }
    }

    /// The checks, in the order they run and report.
    pub fn checks(&self) -> impl Iterator<Item = &'static CheckInfo> + '_ {
        self.builtins.iter().map(|b| b.info)
    }

    pub fn get(&self, name: &str) -> Option<&'static CheckInfo> {
        self.checks().find(|c| c.name == name)
    }

    /// Every check with its default settings (what runs without a project file).
    pub fn defaults(&self) -> Configured {
        match self.configure(&IndexMap::new()) {
            Ok(configured) => configured,
            // Default options are valid by construction; an empty registry is the fallback.
            Err(_) => Configured {
                entries: Vec::new(),
            },
        }
    }

    /// Applies a project's `checks:` section: unknown checks, unknown options, options of the
    /// wrong type and unknown finding types are errors, all reported at once with the place of
    /// the entry. Checks the project does not name run with their defaults.
    pub fn configure(
        &self,
        entries: &IndexMap<String, CheckEntry>,
    ) -> Result<Configured, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let names: Vec<&str> = self.checks().map(|c| c.name).collect();
        for (name, entry) in entries {
            if self.get(name).is_none() {
                let mut message = format!("unknown check `{name}`");
                if let Some(close) = crate::closest(name, &names) {
                    message.push_str(&format!(" (did you mean `{close}`?)"));
                }
                message.push_str(&format!("; checks are {}", names.join(", ")));
                errors.push(ConfigError {
                    at: entry.at.clone(),
                    check: name.clone(),
                    message,
                });
            }
        }
        let mut configured = Vec::new();
        for builtin in &self.builtins {
            let info = builtin.info;
            let (settings, at) = match entries.get(info.name) {
                Some(entry) => (entry.settings.clone(), Some(&entry.at)),
                None => (CheckSettings::default(), None),
            };
            let mut options = Options::new(&settings.options, info.options);
            let check = (builtin.configure)(&mut options);
            let mut messages = options.errors;
            messages.extend(unknown_types(info, &settings));
            if let Some(at) = at {
                errors.extend(messages.into_iter().map(|message| ConfigError {
                    at: at.clone(),
                    check: info.name.to_string(),
                    message,
                }));
            }
            configured.push(Entry {
                info,
                check,
                settings,
                explicit: at.is_some(),
            });
        }
        if errors.is_empty() {
            Ok(Configured {
                entries: configured,
            })
        } else {
            Err(errors)
        }
    }
}

/// `ignore:` and `types:` naming a finding type the check does not have.
fn unknown_types(info: &CheckInfo, settings: &CheckSettings) -> Vec<String> {
    if info.types.is_empty() {
        return Vec::new();
    }
    let known: Vec<&str> = info.types.iter().map(|t| t.name).collect();
    settings
        .ignore
        .iter()
        .chain(settings.types.keys())
        .filter(|name| !known.iter().any(|k| k.eq_ignore_ascii_case(name)))
        .map(|name| {
            let mut message = format!("`{}` has no finding type `{name}`", info.name);
            if let Some(close) = crate::closest(name, &known) {
                message.push_str(&format!(" (did you mean `{close}`?)"));
            }
            message
        })
        .collect()
}

impl Configured {
    /// The names of the checks that run.
    pub fn enabled(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries
            .iter()
            .filter(|e| e.settings.enabled)
            .map(|e| e.info.name)
    }

    /// Runs every enabled check on the series. Checks that run programs get a thread each; the
    /// others run on this one. Checks never write anywhere but temporary directories.
    pub fn run(&self, series: &Series<'_>, context: &Context) -> Report {
        let started = Instant::now();
        let input = Input::new(series, context);
        let enabled: Vec<&Entry> = self.entries.iter().filter(|e| e.settings.enabled).collect();
        let mut outcomes: Vec<Option<(Ran, u64)>> = Vec::new();
        std::thread::scope(|scope| {
            let input = &input;
            let handles: Vec<_> = enabled
                .iter()
                .map(|entry| {
                    entry.info.external.then(|| {
                        scope.spawn(move || {
                            let _span =
                                tracing::debug_span!("check", name = entry.info.name).entered();
                            timed(|| entry.check.run(input, &run_context(entry)))
                        })
                    })
                })
                .collect();
            for (entry, handle) in enabled.iter().zip(&handles) {
                if handle.is_none() {
                    let _span = tracing::debug_span!("check", name = entry.info.name).entered();
                    outcomes.push(Some(timed(|| entry.check.run(input, &run_context(entry)))));
                } else {
                    outcomes.push(None);
                }
            }
            for (slot, handle) in outcomes.iter_mut().zip(handles) {
                if let Some(handle) = handle {
                    *slot = handle.join().ok();
                }
            }
        });
        let mut series_results = Vec::new();
        let mut patch_results: Vec<Vec<CheckResult>> = vec![Vec::new(); series.patches.len()];
        for (entry, outcome) in enabled.iter().zip(outcomes) {
            let name = entry.info.name;
            let Some((ran, ms)) = outcome else {
                let raw = Raw::failed("the check crashed");
                series_results.push(finalize(name, &entry.settings, raw, Target::Series, 0));
                continue;
            };
            match ran {
                Ran::Series(raw) => {
                    series_results.push(finalize(name, &entry.settings, raw, Target::Series, ms));
                }
                Ran::Patches(raws) => {
                    let per = ms / u64::try_from(raws.len().max(1)).unwrap_or(1);
                    for (i, raw) in raws.into_iter().enumerate().take(patch_results.len()) {
                        let target = Target::Patch { index: i };
                        patch_results[i].push(finalize(name, &entry.settings, raw, target, per));
                    }
                }
            }
        }
        let mut results = series_results;
        results.extend(patch_results.into_iter().flatten());
        tracing::debug!(
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "checks done"
        );
        Report::new(series_info(series), results)
    }
}

fn run_context(entry: &Entry) -> RunContext<'_> {
    RunContext {
        settings: &entry.settings,
        explicit: entry.explicit,
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let started = Instant::now();
    let value = f();
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    (value, ms)
}

fn series_info(series: &Series<'_>) -> SeriesInfo {
    SeriesInfo {
        name: series.name.clone(),
        version: series.version,
        total: series.total,
        cover: series.cover.and_then(|c| c.subject.clone()),
        patches: series
            .patches
            .iter()
            .enumerate()
            .map(|(index, p)| PatchInfo {
                index,
                number: p.number,
                label: p.label.clone(),
                subject: p.mail.subject.clone().unwrap_or_default(),
                message_id: p.mail.message_id.clone(),
            })
            .collect(),
    }
}

/// Findings kept per result; the others are counted.
pub const MAX_FINDINGS: usize = 200;
/// Longest summary, in characters.
const SUMMARY_MAX: usize = 250;

/// Applies the project's severities and turns a raw outcome into a result.
///
/// The rule: a check that could not run is ERROR, one that does not apply is SKIP; otherwise it
/// is FAIL when at least one finding has severity `error` after the project's overrides, and
/// PASS otherwise (warnings and infos alone do not fail a check; they are reported, and
/// [`CheckResult::patchwork_state`] shows them as a Patchwork `warning`).
fn finalize(
    check: &str,
    settings: &CheckSettings,
    raw: Raw,
    target: Target,
    duration_ms: u64,
) -> CheckResult {
    let mut findings = Vec::with_capacity(raw.findings.len().min(MAX_FINDINGS));
    let mut counts = [0usize; 3];
    let mut first: [Option<String>; 3] = [None, None, None];
    for mut finding in raw.findings {
        let Some(severity) = settings.severity_of(&finding.kind, finding.severity) else {
            continue;
        };
        finding.severity = severity;
        let slot = slot_of(severity);
        counts[slot] += 1;
        if first[slot].is_none() {
            first[slot] = Some(finding.message.clone());
        }
        if findings.len() < MAX_FINDINGS {
            findings.push(finding);
        }
    }
    let mut unlisted = 0;
    for (kind, severity, count) in raw.more {
        let Some(severity) = settings.severity_of(kind, severity) else {
            continue;
        };
        counts[slot_of(severity)] += count;
        unlisted += count;
    }
    let total: usize = counts.iter().sum();
    let omitted = total - findings.len();
    debug_assert!(omitted >= unlisted);
    let (status, summary) = match raw.state {
        RawState::Skipped(why) => (Status::Skip, why),
        RawState::Failed(why) => (Status::Error, format!("could not run: {why}")),
        RawState::Ran(ok) => {
            let status = if counts[0] > 0 {
                Status::Fail
            } else {
                Status::Pass
            };
            let summary = if counts[0] + counts[1] == 0 {
                ok
            } else {
                let lead = if counts[0] > 0 { &first[0] } else { &first[1] };
                format!(
                    "{}: {}",
                    tally(counts[0], counts[1]),
                    lead.as_deref().unwrap_or("")
                )
            };
            (status, summary)
        }
    };
    CheckResult {
        check: check.to_string(),
        target,
        status,
        summary: shorten(&summary, SUMMARY_MAX),
        findings,
        omitted,
        errors: counts[0],
        warnings: counts[1],
        duration_ms,
    }
}

fn slot_of(severity: Severity) -> usize {
    match severity {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}

fn tally(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, w) => plural(w, "warning"),
        (e, 0) => plural(e, "error"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

pub(crate) fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= max {
        return line.to_string();
    }
    let mut out: String = line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;

    fn one(settings: &CheckSettings, raw: Raw) -> CheckResult {
        finalize("x", settings, raw, Target::Series, 0)
    }

    #[test]
    fn status_rule() {
        let settings = CheckSettings::default();
        let both = || {
            Raw::ran(
                "fine",
                vec![
                    Finding::warning("w", "careful"),
                    Finding::error("e", "broken"),
                ],
            )
        };
        let r = one(
            &settings,
            Raw::ran("fine", vec![Finding::warning("w", "careful")]),
        );
        assert_eq!(
            (r.status, r.summary.as_str()),
            (Status::Pass, "1 warning: careful")
        );
        let r = one(&settings, both());
        assert_eq!(
            (r.status, r.summary.as_str()),
            (Status::Fail, "1 error, 1 warning: broken")
        );
        let mut lenient = CheckSettings::default();
        lenient.types.insert("e".into(), Severity::Warning);
        lenient.ignore.push("w".into());
        let r = one(&lenient, both());
        assert_eq!((r.status, r.findings.len()), (Status::Pass, 1));
        let r = one(&settings, Raw::failed("perl is missing"));
        assert_eq!(r.status, Status::Error);
        let r = one(&settings, Raw::skipped("no Fixes: tag"));
        assert_eq!(
            (r.status, r.summary.as_str()),
            (Status::Skip, "no Fixes: tag")
        );
        let mut counted = Raw::ran("", vec![Finding::error("e", "broken")]);
        counted.more.push(("e", Severity::Error, 41));
        let r = one(&settings, counted);
        assert_eq!((r.errors, r.omitted, r.findings.len()), (42, 41, 1));
    }

    #[test]
    fn findings_are_capped_but_counted() {
        let many: Vec<Finding> = (0..MAX_FINDINGS + 5)
            .map(|_| Finding::error("e", "bad"))
            .collect();
        let r = finalize(
            "x",
            &CheckSettings::default(),
            Raw::ran("", many),
            Target::Series,
            0,
        );
        assert_eq!(r.findings.len(), MAX_FINDINGS);
        assert_eq!((r.omitted, r.errors), (5, MAX_FINDINGS + 5));
    }
}

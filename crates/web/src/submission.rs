//! The submission page: a series at its revision and one run of it, with everything the run
//! recorded arranged to answer "why was my patch rejected?" at a glance.

use std::collections::HashMap;

use gauntlet_store::{Id, RunDetail, SeriesDetail, submission_state};
use serde::Serialize;
use serde_json::Value;

use crate::logs::{RunFile, run_files};
use crate::view::{Finding, Job, Patch, Run, Series, TestResult, diffstat, log_line_url};
use crate::{App, Result};

#[derive(Debug, Serialize)]
pub(crate) struct RevisionRow {
    series: Id,
    revision: u32,
    version: u32,
    name: Option<String>,
    date: i64,
    run: Option<Id>,
    state: Option<String>,
    /// `accepted → rejected` when the verdict differs from the revision before.
    change: Option<String>,
    current: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct Cell {
    status: String,
    summary: String,
    errors: u64,
    warnings: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct GridRow {
    label: String,
    cells: Vec<Option<Cell>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CheckGrid {
    checks: Vec<String>,
    rows: Vec<GridRow>,
}

#[derive(Debug, Serialize)]
pub(crate) struct FindingView {
    #[serde(flatten)]
    finding: Finding,
    target: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct BaseView {
    kind: String,
    name: String,
    commit: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AttemptView {
    base: Option<BaseView>,
    why: String,
    result: String,
    detail: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ApplyView {
    job: Job,
    outcome: Option<String>,
    base: Option<BaseView>,
    why: Option<String>,
    detail: Option<String>,
    tried: Vec<AttemptView>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Diagnostic {
    severity: String,
    headline: String,
    url: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct BuildView {
    job: Job,
    warnings: u64,
    errors: u64,
    config_reused: bool,
    diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SuiteView {
    suite: String,
    status: Option<String>,
    reason: Option<String>,
    passed: usize,
    total: usize,
    results: Vec<TestResult>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TestView {
    job: Job,
    suites: Vec<SuiteView>,
}

#[derive(Debug, Serialize)]
pub(crate) struct FileLink {
    name: String,
    size: u64,
    url: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SubmissionPage {
    title: String,
    run: Option<Run>,
    state: String,
    series: Option<Series>,
    cover: Option<Patch>,
    patches: Vec<Patch>,
    revisions: Vec<RevisionRow>,
    other_runs: Vec<Run>,
    checks: Option<CheckGrid>,
    checks_job: Option<Job>,
    findings: Vec<FindingView>,
    apply: Option<ApplyView>,
    builds: Vec<BuildView>,
    tests: Vec<TestView>,
    jobs: Vec<Job>,
    files: Vec<FileLink>,
    /// A run still going: the page reloads itself.
    refresh: bool,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn details(job: &gauntlet_store::JobRow) -> Value {
    job.details
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or(Value::Null)
}

/// A short account of a JSON value: its `reason` or `message`, else the value itself.
fn summarize(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => {
            for key in ["reason", "message", "earlier"] {
                if let Some(s) = map.get(key).and_then(Value::as_str) {
                    return Some(s.to_owned());
                }
            }
            let rest: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "result" | "outcome"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if rest.is_empty() {
                return None;
            }
            for v in rest.values() {
                if let Some(s) = summarize(v) {
                    return Some(s);
                }
            }
            None
        }
        other => {
            let mut s = other.to_string();
            if s.len() > 500 {
                let mut end = 500;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s.truncate(end);
                s.push('…');
            }
            Some(s)
        }
    }
}

fn base_view(v: &Value) -> Option<BaseView> {
    let base = v.get("base")?;
    Some(BaseView {
        kind: text(base, "kind").unwrap_or_default(),
        name: text(base, "name").unwrap_or_default(),
        commit: text(base, "commit"),
    })
}

fn check_grid(details: &Value, patches: &[Patch]) -> Option<CheckGrid> {
    let results = details.get("results")?.as_array()?;
    let mut checks: Vec<String> = Vec::new();
    // Row key: None for the series, Some(index) for a patch.
    let mut cells: HashMap<(Option<u64>, usize), Cell> = HashMap::new();
    let mut keys: Vec<Option<u64>> = Vec::new();
    for r in results {
        let check = text(r, "check").unwrap_or_default();
        let col = match checks.iter().position(|c| *c == check) {
            Some(i) => i,
            None => {
                checks.push(check);
                checks.len() - 1
            }
        };
        let target = r.get("target");
        let key = match target.and_then(|t| text(t, "scope")).as_deref() {
            Some("patch") => Some(target.map_or(0, |t| number(t, "index"))),
            _ => None,
        };
        if !keys.contains(&key) {
            keys.push(key);
        }
        cells.insert(
            (key, col),
            Cell {
                status: text(r, "status").unwrap_or_default(),
                summary: text(r, "summary").unwrap_or_default(),
                errors: number(r, "errors"),
                warnings: number(r, "warnings"),
            },
        );
    }
    keys.sort();
    let rows = keys
        .into_iter()
        .map(|key| GridRow {
            label: match key {
                None => "series".to_owned(),
                Some(i) => match patches.get(i as usize) {
                    Some(p) => format!(
                        "{}/{} {}",
                        p.number.unwrap_or(i as u32 + 1),
                        patches.len(),
                        p.name
                    ),
                    None => format!("patch {}", i + 1),
                },
            },
            cells: (0..checks.len())
                .map(|col| cells.remove(&(key, col)))
                .collect(),
        })
        .collect();
    Some(CheckGrid { checks, rows })
}

fn apply_view(job: &gauntlet_store::JobRow) -> ApplyView {
    let d = details(job);
    let outcome = d.get("outcome").cloned().unwrap_or(Value::Null);
    let tried = d
        .get("tried")
        .and_then(Value::as_array)
        .map(|tried| {
            tried
                .iter()
                .map(|a| {
                    let result = a.get("result").cloned().unwrap_or(Value::Null);
                    AttemptView {
                        base: base_view(a),
                        why: text(a, "why").unwrap_or_default(),
                        result: text(&result, "result").unwrap_or_default(),
                        detail: summarize(&result),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    ApplyView {
        job: Job::new(job, false),
        outcome: text(&outcome, "outcome"),
        base: base_view(&outcome),
        why: text(&outcome, "why"),
        detail: outcome.get("refusal").and_then(summarize),
        tried,
    }
}

fn build_view(job: &gauntlet_store::JobRow) -> BuildView {
    let d = details(job);
    let mut warnings = 0;
    let mut errors = 0;
    let mut diagnostics = Vec::new();
    for diag in d
        .get("diagnostics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let severity = text(diag, "severity").unwrap_or_default().to_lowercase();
        match severity.as_str() {
            "warning" => warnings += 1,
            "error" => errors += 1,
            _ => {}
        }
        if diagnostics.len() < 50 {
            let mut headline = String::new();
            if let Some(file) = text(diag, "file") {
                headline.push_str(&file);
                for key in ["line", "column"] {
                    if let Some(n) = diag.get(key).and_then(Value::as_u64) {
                        headline.push_str(&format!(":{n}"));
                    }
                }
                headline.push_str(": ");
            }
            headline.push_str(&format!(
                "{severity}: {}",
                text(diag, "message").unwrap_or_default()
            ));
            if let Some(flag) = text(diag, "flag") {
                headline.push_str(&format!(" [{flag}]"));
            }
            let line = diag.get("log_line").and_then(Value::as_u64);
            diagnostics.push(Diagnostic {
                severity,
                headline,
                url: log_line_url(job.id, line),
            });
        }
    }
    BuildView {
        job: Job::new(job, false),
        warnings,
        errors,
        config_reused: d
            .get("config_reused")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        diagnostics,
    }
}

fn test_view(job: &gauntlet_store::JobRow, results: Vec<TestResult>) -> TestView {
    let d = details(job);
    let mut suites: Vec<SuiteView> = d
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| SuiteView {
            suite: text(s, "suite").unwrap_or_default(),
            status: text(s, "status"),
            reason: text(s, "reason"),
            passed: 0,
            total: 0,
            results: Vec::new(),
        })
        .collect();
    for r in results {
        let index = match suites.iter().position(|s| s.suite == r.suite) {
            Some(i) => i,
            None => {
                suites.push(SuiteView {
                    suite: r.suite.clone(),
                    status: None,
                    reason: None,
                    passed: 0,
                    total: 0,
                    results: Vec::new(),
                });
                suites.len() - 1
            }
        };
        let suite = &mut suites[index];
        suite.total += 1;
        if r.status == "PASS" {
            suite.passed += 1;
        }
        suite.results.push(r);
    }
    TestView {
        job: Job::new(job, false),
        suites,
    }
}

/// The files each of these patches touches, read from their raw mails.
pub(crate) async fn patches(
    app: &App,
    patches: &[gauntlet_store::MessageSummary],
) -> Result<Vec<Patch>> {
    let mails: Vec<Id> = patches.iter().map(|p| p.mail).collect();
    let raw = app.store.raw_mails(&mails).await?;
    Ok(patches
        .iter()
        .map(|p| {
            let files = raw
                .get(&p.mail)
                .map(|bytes| {
                    let mail = gauntlet_mail::parse(bytes, &gauntlet_mail::ParseOptions::default());
                    mail.diff().map(diffstat).unwrap_or_default()
                })
                .unwrap_or_default();
            Patch::new(p, files)
        })
        .collect())
}

/// The page of `series` (when the store still has it) and of `detail`, one of its runs (none:
/// never tested).
pub(crate) async fn page(
    app: &App,
    series: Option<SeriesDetail>,
    detail: Option<RunDetail>,
) -> Result<SubmissionPage> {
    let patches = match &series {
        Some(s) => patches(app, &s.patches).await?,
        None => Vec::new(),
    };
    let cover = series
        .as_ref()
        .and_then(|s| s.cover.as_ref())
        .map(|c| Patch::new(c, Vec::new()));
    let current = series.as_ref().map(|s| s.summary.id);
    let mut revisions = Vec::new();
    if let Some(s) = &series {
        let ids: Vec<Id> = s.revisions.iter().map(|r| r.id).collect();
        let latest = app.store.latest_runs_of(&ids).await?;
        let mut previous: Option<String> = None;
        for r in &s.revisions {
            let run = latest.get(&r.id);
            let state = run.map(|run| submission_state(run).to_owned());
            let change = match (&previous, &state) {
                (Some(a), Some(b)) if a != b => Some(format!("{a} → {b}")),
                _ => None,
            };
            if state.is_some() {
                previous.clone_from(&state);
            }
            revisions.push(RevisionRow {
                series: r.id,
                revision: r.revision,
                version: r.version,
                name: r.name.clone(),
                date: r.date,
                run: run.map(|run| run.id),
                state,
                change,
                current: Some(r.id) == current,
            });
        }
    }
    let title = series
        .as_ref()
        .and_then(|s| s.summary.name.clone())
        .or_else(|| detail.as_ref().map(|d| d.run.series_key.clone()))
        .unwrap_or_default();
    let series_view = series.as_ref().map(|s| Series::from(&s.summary));
    let Some(detail) = detail else {
        return Ok(SubmissionPage {
            title,
            run: None,
            state: "untested".to_owned(),
            series: series_view,
            cover,
            patches,
            revisions,
            other_runs: Vec::new(),
            checks: None,
            checks_job: None,
            findings: Vec::new(),
            apply: None,
            builds: Vec::new(),
            tests: Vec::new(),
            jobs: Vec::new(),
            files: Vec::new(),
            refresh: false,
        });
    };
    let run = &detail.run;
    let other_runs = app
        .store
        .runs_of_series(run.series)
        .await?
        .iter()
        .filter(|r| r.id != run.id)
        .map(Run::from)
        .collect();
    let findings = app
        .store
        .findings_of_run(run.id)
        .await?
        .iter()
        .map(|f| {
            let finding = Finding::from(f);
            let target = match finding.number {
                Some(n) => format!("patch {n}"),
                None => "series".to_owned(),
            };
            FindingView { finding, target }
        })
        .collect();
    let results = app
        .store
        .results_page(&gauntlet_store::ResultFilter {
            run: Some(run.id),
            limit: 100_000,
            ..Default::default()
        })
        .await?;
    let mut by_job: HashMap<Id, Vec<TestResult>> = HashMap::new();
    for r in &results {
        by_job.entry(r.job).or_default().push(TestResult::from(r));
    }
    let mut checks = None;
    let mut checks_job = None;
    let mut apply = None;
    let mut builds = Vec::new();
    let mut tests = Vec::new();
    for job in &detail.jobs {
        match job.stage.as_str() {
            "checks" => {
                checks = check_grid(&details(job), &patches);
                checks_job = Some(Job::new(job, false));
            }
            "apply" => apply = Some(apply_view(job)),
            "build" => builds.push(build_view(job)),
            "test" => tests.push(test_view(job, by_job.remove(&job.id).unwrap_or_default())),
            _ => {}
        }
    }
    let artifacts = app.artifacts.clone();
    let id = run.id;
    let files: Vec<RunFile> = tokio::task::spawn_blocking(move || run_files(&artifacts, id))
        .await
        .unwrap_or_default();
    let state = submission_state(run).to_owned();
    Ok(SubmissionPage {
        title,
        refresh: matches!(run.state.as_str(), "queued" | "running"),
        run: Some(Run::from(run)),
        state,
        series: series_view,
        cover,
        patches,
        revisions,
        other_runs,
        checks,
        checks_job,
        findings,
        apply,
        builds,
        tests,
        jobs: detail.jobs.iter().map(|j| Job::new(j, false)).collect(),
        files: files
            .into_iter()
            .map(|f| FileLink {
                url: format!("/runs/{id}/files/{}", f.index),
                name: f.name,
                size: f.size,
            })
            .collect(),
    })
}

//! Turning what the stages found into rows for the store and words for the submitter.

use std::time::SystemTime;

use gauntlet_build::Diagnostic;
use gauntlet_checks::{Report as ChecksReport, Target};
use gauntlet_lab::SuiteRun;
use gauntlet_project::Project;
use gauntlet_report::{Addressee, Failure, Reply, Report, Verdict};
use gauntlet_store::{FindingRow, Id, ResultRow};
use gauntlet_tree::{ApplyReport, Outcome as ApplyOutcome};
use gauntlet_verdict::{Severity, Status};

use crate::JobSummary;
use crate::series::Loaded;

/// At most this many lines of one kind in a report: a mail is read by a person.
const MAX_LINES: usize = 12;
/// Lines of a log quoted under a failure.
const EXCERPT_LINES: usize = 12;

pub(crate) fn finding_rows(report: &ChecksReport) -> Vec<FindingRow> {
    let mut rows = Vec::new();
    for result in &report.results {
        let patch = match result.target {
            Target::Patch { index } => report.series.patches.get(index),
            Target::Series => None,
        };
        for finding in &result.findings {
            rows.push(FindingRow {
                check: result.check.clone(),
                number: patch.and_then(|p| p.number),
                msgid: patch.map(|p| p.message_id.clone()),
                severity: finding.severity.as_str().to_owned(),
                kind: Some(finding.kind.clone()),
                message: finding.message.clone(),
                mail_line: finding.location.patch_line,
                file: finding.location.file.clone(),
                line: finding.location.line,
                excerpt: finding.snippet.clone(),
            });
        }
    }
    rows
}

pub(crate) fn checks_reason(report: &ChecksReport) -> String {
    let failing: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.status == Status::Fail)
        .map(|r| format!("{}: {}", r.check, r.summary))
        .collect();
    if let Some(first) = failing.first() {
        return match failing.len() {
            1 => first.clone(),
            n => format!("{first} (and {} more failing checks)", n - 1),
        };
    }
    if let Some(error) = report.results.iter().find(|r| r.status == Status::Error) {
        return format!("{} could not run: {}", error.check, error.summary);
    }
    match report.warnings {
        0 => "every check passed".to_owned(),
        1 => "every check passed, 1 warning".to_owned(),
        n => format!("every check passed, {n} warnings"),
    }
}

pub(crate) fn apply_status(report: &ApplyReport) -> (Status, String) {
    match &report.outcome {
        ApplyOutcome::Applied { base, why, applied } => {
            let already = applied
                .patches
                .iter()
                .filter(|p| p.already_applied.is_some())
                .count();
            let mut reason = format!("applied on {base} ({why})");
            if already > 0 {
                reason.push_str(&format!(", {already} patch(es) already in the base"));
            }
            (Status::Pass, reason)
        }
        ApplyOutcome::AlreadyApplied { base, .. } => (
            Status::Fail,
            format!("every patch is already applied on {base}"),
        ),
        ApplyOutcome::DoesNotApply => {
            let detail = report
                .tried
                .iter()
                .map(|a| format!("{}: {}", a.base, a.result))
                .collect::<Vec<_>>()
                .join("; ");
            (Status::Fail, format!("does not apply ({detail})"))
        }
        ApplyOutcome::Refused { refusal } => (Status::Fail, format!("refused: {refusal}")),
    }
}

/// The commit the series was applied on.
pub(crate) fn applied_base(report: &ApplyReport) -> Option<String> {
    match &report.outcome {
        ApplyOutcome::Applied { applied, .. } => Some(applied.base.clone()),
        _ => None,
    }
}

pub(crate) fn result_rows(runs: &[SuiteRun]) -> Vec<ResultRow> {
    runs.iter()
        .flat_map(|run| {
            run.results.iter().map(move |r| ResultRow {
                suite: run.suite.clone(),
                name: r.path.to_string(),
                status: r.status.as_str().to_owned(),
                measurement: r.measurement.as_ref().map(|m| m.value.to_string()),
                units: r.measurement.as_ref().and_then(|m| m.units.clone()),
                reason: r.reason.clone(),
                log_first: r.excerpt.as_ref().map(|e| e.first_line),
                log_last: r.excerpt.as_ref().map(|e| e.last_line),
                excerpt: r
                    .excerpt
                    .as_ref()
                    .map(|e| e.text.clone())
                    .filter(|t| !t.is_empty()),
            })
        })
        .collect()
}

pub(crate) fn verdict_reason(verdict: Verdict, jobs: &[JobSummary]) -> String {
    let first = |status: Status| {
        jobs.iter()
            .filter(|j| j.stage != "report")
            .find(|j| j.status == status)
    };
    match verdict {
        Verdict::Accepted => {
            let tested = jobs
                .iter()
                .filter(|j| j.stage == "test" && j.status == Status::Pass)
                .count();
            let built = jobs
                .iter()
                .filter(|j| j.stage == "build" && j.status == Status::Pass)
                .count();
            format!("checks passed, applied, {built} build(s) and {tested} test run(s) passed")
        }
        Verdict::Rejected => first(Status::Fail)
            .map(job_line)
            .unwrap_or_else(|| "rejected".into()),
        Verdict::Error => first(Status::Error)
            .or_else(|| first(Status::Miss))
            .map(job_line)
            .unwrap_or_else(|| "error".into()),
    }
}

/// `build x86_64: reason`, or `checks: reason` when the job is named after its stage.
fn job_line(job: &JobSummary) -> String {
    if job.stage == job.name {
        format!("{}: {}", job.stage, job.reason)
    } else {
        format!("{} {}: {}", job.stage, job.name, job.reason)
    }
}

/// What [`data`] reads.
pub(crate) struct Inputs<'a> {
    pub(crate) project: &'a Project,
    pub(crate) loaded: &'a Loaded,
    pub(crate) verdict: Verdict,
    pub(crate) checks: &'a ChecksReport,
    pub(crate) apply: Option<&'a ApplyReport>,
    /// Per build: name, outcome, new warnings.
    pub(crate) built: &'a [(String, Option<gauntlet_build::Outcome>, Vec<Diagnostic>)],
    /// Per tested build: name, suite runs.
    pub(crate) suites: &'a [(String, Vec<SuiteRun>)],
    pub(crate) jobs: &'a [JobSummary],
    pub(crate) logs: Option<String>,
}

fn excerpt_of(text: &str) -> Option<String> {
    // The LAVA helpers' signals are for the machine, not for the student.
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("<LAVA_SIGNAL_"))
        .collect();
    if lines.is_empty() {
        return None;
    }
    let start = lines.len().saturating_sub(EXCERPT_LINES);
    Some(lines[start..].join("\n"))
}

/// The report's words, from the run.
pub(crate) fn data(inputs: Inputs<'_>) -> Report {
    let summary = &inputs.loaded.detail.summary;
    let submitter = &summary.submitter;
    let name = submitter
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| submitter.email.clone());
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let label = |target: &Target| match target {
        Target::Series => "the series".to_owned(),
        Target::Patch { index } => inputs
            .checks
            .series
            .patches
            .get(*index)
            .map(|p| match (p.number, inputs.checks.series.total) {
                (Some(n), Some(t)) => format!("patch {n}/{t}"),
                _ => p.label.clone(),
            })
            .unwrap_or_else(|| "a patch".into()),
    };

    for result in &inputs.checks.results {
        for finding in &result.findings {
            let line = format!(
                "{} ({}): {}",
                label(&result.target),
                result.check,
                finding.message
            );
            match finding.severity {
                Severity::Error if result.status == Status::Fail => {
                    if failures.len() < MAX_LINES {
                        failures.push(Failure {
                            stage: "checks".into(),
                            what: format!("{} of {}", result.check, label(&result.target)),
                            reason: finding.message.clone(),
                            excerpt: finding.snippet.clone(),
                            link: None,
                        });
                    }
                }
                Severity::Warning | Severity::Error => {
                    if warnings.len() < MAX_LINES {
                        warnings.push(line);
                    }
                }
                Severity::Info => {}
            }
        }
        if result.status == Status::Error {
            failures.push(Failure {
                stage: "checks".into(),
                what: result.check.clone(),
                reason: format!("could not run: {}", result.summary),
                excerpt: None,
                link: None,
            });
        }
    }

    for job in inputs.jobs {
        if !matches!(job.status, Status::Fail | Status::Error) {
            continue;
        }
        match job.stage.as_str() {
            "apply" => failures.push(Failure {
                stage: "apply".into(),
                what: "the series".into(),
                reason: job.reason.clone(),
                excerpt: inputs.apply.map(|r| r.to_string()).and_then(|t| {
                    // The first line repeats the reason: keep the bases tried.
                    let rest: Vec<&str> = t.lines().skip(1).collect();
                    (!rest.is_empty()).then(|| rest.join("\n"))
                }),
                link: None,
            }),
            "build" => {
                let outcome = inputs
                    .built
                    .iter()
                    .find(|(n, _, _)| *n == job.name)
                    .and_then(|(_, o, _)| o.as_ref());
                let excerpt = outcome.and_then(|o| {
                    let errors: Vec<String> = o
                        .errors()
                        .take(3)
                        .flat_map(|d| {
                            std::iter::once(d.headline()).chain(d.context.iter().cloned())
                        })
                        .collect();
                    if errors.is_empty() {
                        o.main_log()
                            .and_then(|log| std::fs::read_to_string(log).ok())
                            .and_then(|t| excerpt_of(&t))
                    } else {
                        Some(errors.join("\n"))
                    }
                });
                failures.push(Failure {
                    stage: "build".into(),
                    what: job.name.clone(),
                    reason: job.reason.clone(),
                    excerpt,
                    link: job.log.as_ref().map(|l| l.display().to_string()),
                });
            }
            "test" => {
                let runs = inputs
                    .suites
                    .iter()
                    .find(|(n, _)| *n == job.name)
                    .map(|(_, r)| r.as_slice())
                    .unwrap_or_default();
                let mut listed = false;
                for run in runs {
                    for result in run
                        .results
                        .iter()
                        .filter(|r| matches!(r.status, Status::Fail | Status::Error | Status::Miss))
                        .take(MAX_LINES)
                    {
                        listed = true;
                        failures.push(Failure {
                            stage: "test".into(),
                            what: format!("{} on {}", result.path, job.name),
                            reason: match &result.reason {
                                Some(reason) => format!("{} ({reason})", result.status),
                                None => result.status.to_string(),
                            },
                            excerpt: result.excerpt.as_ref().and_then(|e| excerpt_of(&e.text)),
                            link: Some(format!(
                                "{}{}",
                                run.log.display(),
                                result
                                    .excerpt
                                    .as_ref()
                                    .map(|e| format!("#L{}", e.first_line))
                                    .unwrap_or_default()
                            )),
                        });
                    }
                    if run.status != Status::Pass && !listed {
                        failures.push(Failure {
                            stage: "test".into(),
                            what: format!("{} on {}", run.suite, job.name),
                            reason: run.reason.clone(),
                            excerpt: std::fs::read_to_string(&run.log)
                                .ok()
                                .and_then(|t| excerpt_of(&t)),
                            link: Some(run.log.display().to_string()),
                        });
                        listed = true;
                    }
                }
                if !listed {
                    failures.push(Failure {
                        stage: "test".into(),
                        what: job.name.clone(),
                        reason: job.reason.clone(),
                        excerpt: None,
                        link: None,
                    });
                }
            }
            "checks" => {}
            _ => failures.push(Failure {
                stage: job.stage.clone(),
                what: job.name.clone(),
                reason: job.reason.clone(),
                excerpt: None,
                link: None,
            }),
        }
    }

    for (build, _, new) in inputs.built {
        for warning in new.iter().take(MAX_LINES) {
            warnings.push(format!("new warning on {build}: {}", warning.headline()));
        }
    }

    let mut suites: Vec<String> = Vec::new();
    for test in &inputs.project.tests {
        let name = match &test.suite {
            gauntlet_project::TestSuite::Lava(d) => d.name.clone(),
            gauntlet_project::TestSuite::LkpJob => test
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        if !suites.contains(&name) {
            suites.push(name);
        }
    }
    let runs: Vec<&SuiteRun> = inputs.suites.iter().flat_map(|(_, r)| r.iter()).collect();
    let (passed, total) = runs.iter().fold((0u64, 0u64), |(p, t), r| {
        let (rp, rt) = r.passed_of();
        (p + rp, t + rt)
    });
    Report {
        name,
        email: submitter.email.clone(),
        project: inputs.project.name.clone(),
        patch: inputs.loaded.title(),
        suites,
        verdict: inputs.verdict,
        tests_ran: !runs.is_empty(),
        passed: usize::try_from(passed).unwrap_or(usize::MAX),
        total: usize::try_from(total).unwrap_or(usize::MAX),
        failures,
        warnings,
        logs_url: inputs.logs,
        signature: inputs.project.report.signature.clone(),
    }
}

/// The report as a mail threaded under the series, and its recipients (To and Cc).
pub(crate) fn reply(
    project: &Project,
    loaded: &Loaded,
    run: Id,
    text: &str,
    from: &Addressee,
) -> Result<(Vec<u8>, Vec<String>), String> {
    let head = loaded.head().ok_or("the series has no mail to reply to")?;
    let submitter = &loaded.detail.summary.submitter;
    let settings = &project.report.mail;
    let mut to = Vec::new();
    let mut cc: Vec<Addressee> = settings
        .cc
        .iter()
        .map(|a| Addressee::new(None, a))
        .collect();
    if settings.to_submitter {
        to.push(Addressee::new(submitter.name.as_deref(), &submitter.email));
    } else {
        to.append(&mut cc);
    }
    if settings.cc_list
        && let Some(list) = &head.mail.list_post
    {
        cc.push(Addressee::new(None, list));
    }
    let references: Vec<String> = head.mail.refs.iter().rev().cloned().collect();
    let domain = from.email.rsplit('@').next().unwrap_or("localhost");
    let reply = Reply {
        from: from.clone(),
        to,
        cc,
        subject: head.mail.subject.clone().unwrap_or_else(|| loaded.title()),
        in_reply_to: head.msgid.clone(),
        references,
        message_id: format!("gauntlet.run-{run}.{}@{domain}", loaded.detail.summary.id),
        date: SystemTime::now(),
        body: text.to_owned(),
        headers: vec![
            ("X-Gauntlet-Run".into(), run.to_string()),
            ("X-Gauntlet-Project".into(), project.name.clone()),
        ],
    };
    let recipients = reply
        .to
        .iter()
        .chain(&reply.cc)
        .map(|a| a.email.clone())
        .collect();
    let bytes = gauntlet_report::compose_reply(&reply).map_err(|e| e.to_string())?;
    Ok((bytes, recipients))
}

//! The report printed like a compiler's diagnostics, grouped per patch.

use std::fmt::Write;

use gauntlet_verdict::{Severity, Status};

use crate::finding::Finding;
use crate::report::{CheckResult, Report};

struct Paint {
    color: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn severity(&self, severity: Severity) -> String {
        match severity {
            Severity::Error => self.wrap("1;31", "error"),
            Severity::Warning => self.wrap("1;33", "warning"),
            Severity::Info => self.wrap("1;36", "info"),
        }
    }

    fn status(&self, status: Status) -> String {
        let code = match status {
            Status::Pass | Status::Done => "32",
            Status::Fail => "1;31",
            Status::Error | Status::Miss => "35",
            Status::Skip => "2",
        };
        self.wrap(code, status.as_str())
    }

    fn blue(&self, text: &str) -> String {
        self.wrap("1;34", text)
    }

    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }
}

/// Renders the report for a terminal: for the series and then each patch, every finding as
/// `error[check]: message`, its place (`--> kernel/sys.c:123 (0002-foo.patch:42)`) and the line
/// quoted, then one line with each check's status; a last line sums up. `color` adds ANSI
/// colours (the caller decides whether the terminal wants them).
pub fn render_human(report: &Report, color: bool) -> String {
    let paint = Paint { color };
    let mut out = String::new();
    let series: Vec<&CheckResult> = report.series_results().collect();
    if !series.is_empty() {
        let title = report
            .series
            .cover
            .clone()
            .unwrap_or_else(|| report.series.name.clone());
        let _ = writeln!(out, "{} {}", paint.bold("series:"), title);
        block(&mut out, &paint, &series, None);
    }
    for patch in &report.series.patches {
        let results: Vec<&CheckResult> = report.patch_results(patch.index).collect();
        let _ = writeln!(
            out,
            "{} {}",
            paint.bold(&format!("{}:", patch.label)),
            patch.subject
        );
        block(&mut out, &paint, &results, Some(&patch.label));
    }
    let verdict = if report.rejected {
        let failed: Vec<&str> = report
            .results
            .iter()
            .filter(|r| r.status == Status::Fail)
            .map(|r| r.check.as_str())
            .fold(Vec::new(), |mut names, name| {
                if !names.contains(&name) {
                    names.push(name);
                }
                names
            });
        paint.wrap("1;31", &format!("rejected ({} failed)", failed.join(", ")))
    } else {
        paint.wrap("1;32", "accepted")
    };
    let patches = report.series.patches.len();
    let _ = writeln!(
        out,
        "{} patch{}: {} error{}, {} warning{}: {verdict}",
        patches,
        if patches == 1 { "" } else { "es" },
        report.errors,
        if report.errors == 1 { "" } else { "s" },
        report.warnings,
        if report.warnings == 1 { "" } else { "s" },
    );
    out
}

fn block(out: &mut String, paint: &Paint, results: &[&CheckResult], label: Option<&str>) {
    for result in results {
        for finding in &result.findings {
            finding_block(out, paint, &result.check, finding, label);
        }
        if result.omitted > 0 {
            let _ = writeln!(
                out,
                "{}[{}]: … and {} more finding{} not shown",
                paint.severity(Severity::Info),
                result.check,
                result.omitted,
                if result.omitted == 1 { "" } else { "s" }
            );
        }
        // Why a check could not run matters; why one did not apply is in the status line.
        if result.status == Status::Error && result.findings.is_empty() {
            let _ = writeln!(
                out,
                "{}[{}]: {}",
                paint.status(result.status).to_lowercase(),
                result.check,
                result.summary
            );
        }
    }
    let statuses: Vec<String> = results
        .iter()
        .map(|r| {
            let mut text = format!("{} {}", r.check, paint.status(r.status));
            if r.status == Status::Pass && r.warnings > 0 {
                let s = if r.warnings == 1 { "" } else { "s" };
                text.push_str(&format!(" ({} warning{s})", r.warnings));
            }
            text
        })
        .collect();
    let _ = writeln!(out, "  {} {}\n", paint.blue("="), statuses.join(", "));
}

fn finding_block(
    out: &mut String,
    paint: &Paint,
    check: &str,
    finding: &Finding,
    label: Option<&str>,
) {
    let _ = writeln!(
        out,
        "{}{}: {}",
        paint.severity(finding.severity),
        paint.bold(&format!("[{check}]")),
        finding.message
    );
    let loc = &finding.location;
    let mail = loc
        .patch_line
        .map(|line| format!("{}:{line}", label.unwrap_or("series")));
    let place = match (&loc.file, loc.line, &mail) {
        (Some(file), Some(line), Some(mail)) => Some(format!("{file}:{line} ({mail})")),
        (Some(file), Some(line), None) => Some(format!("{file}:{line}")),
        (Some(file), None, Some(mail)) => Some(format!("{file} ({mail})")),
        (Some(file), None, None) => Some(file.clone()),
        (None, _, Some(mail)) => Some(mail.clone()),
        (None, _, None) => None,
    };
    let number = loc.patch_line.or(loc.line).map(|n| n.to_string());
    let width = number.as_ref().map_or(1, String::len);
    let pad = " ".repeat(width);
    if let Some(place) = place {
        let _ = writeln!(out, "{pad}{} {place}", paint.blue("-->"));
    }
    if let Some(snippet) = &finding.snippet {
        let _ = writeln!(out, "{pad} {}", paint.blue("|"));
        let gutter = number.unwrap_or_else(|| pad.clone());
        let _ = writeln!(out, "{} {} {snippet}", paint.blue(&gutter), paint.blue("|"));
        let _ = writeln!(out, "{pad} {}", paint.blue("|"));
    }
    let _ = writeln!(out, "{pad} {} type: {}", paint.blue("="), finding.kind);
}

//! What pages and the API show, built from the store's rows: one shape for both, serialized
//! as the OpenAPI document describes it.

use gauntlet_store::{
    FindingEntry, Id, JobRow, LineageMember, MessageSummary, PersonSummary, ResultEntry,
    RunSummary, SeriesSummary, SubmissionRow, submission_state,
};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Person {
    pub(crate) name: Option<String>,
    pub(crate) email: String,
}

impl From<&PersonSummary> for Person {
    fn from(p: &PersonSummary) -> Person {
        Person {
            name: p.name.clone(),
            email: p.email.clone(),
        }
    }
}

/// A JSON column as JSON (`null` when absent, the text itself when it is not JSON).
fn json(text: Option<&str>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_owned())),
    }
}

/// A submission as listed: a run with its series.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Submission {
    pub(crate) id: Id,
    pub(crate) series: Id,
    pub(crate) revision: u32,
    pub(crate) version: Option<u32>,
    pub(crate) name: String,
    pub(crate) project: String,
    pub(crate) state: String,
    pub(crate) reason: Option<String>,
    pub(crate) submitter: Option<Person>,
    pub(crate) list_id: Option<String>,
    pub(crate) series_key: String,
    pub(crate) created_at: i64,
    pub(crate) started_at: Option<i64>,
    pub(crate) finished_at: Option<i64>,
    pub(crate) url: String,
}

impl From<&SubmissionRow> for Submission {
    fn from(row: &SubmissionRow) -> Submission {
        let r = &row.run;
        Submission {
            id: r.id,
            series: r.series,
            revision: r.revision,
            version: row.version,
            name: row
                .series_name
                .clone()
                .unwrap_or_else(|| r.series_key.clone()),
            project: r.project.clone(),
            state: row.state().to_owned(),
            reason: r.reason.clone(),
            submitter: row.submitter.as_ref().map(Person::from),
            list_id: row.list_id.clone(),
            series_key: r.series_key.clone(),
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            url: format!("/runs/{}", r.id),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Run {
    pub(crate) id: Id,
    pub(crate) series: Id,
    pub(crate) revision: u32,
    pub(crate) series_key: String,
    pub(crate) project: String,
    pub(crate) project_file: String,
    /// queued, running, done, cancelled.
    pub(crate) state: String,
    /// The state the submission is listed in.
    pub(crate) submission_state: String,
    pub(crate) verdict: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) started_at: Option<i64>,
    pub(crate) finished_at: Option<i64>,
    pub(crate) details: Value,
    pub(crate) url: String,
}

impl From<&RunSummary> for Run {
    fn from(r: &RunSummary) -> Run {
        Run {
            id: r.id,
            series: r.series,
            revision: r.revision,
            series_key: r.series_key.clone(),
            project: r.project.clone(),
            project_file: r.project_file.clone(),
            state: r.state.clone(),
            submission_state: submission_state(r).to_owned(),
            verdict: r.verdict.clone(),
            reason: r.reason.clone(),
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            details: json(r.details.as_deref()),
            url: format!("/runs/{}", r.id),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Job {
    pub(crate) id: Id,
    pub(crate) run: Id,
    pub(crate) stage: String,
    pub(crate) name: String,
    pub(crate) position: i64,
    pub(crate) state: String,
    pub(crate) status: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) attempts: i64,
    pub(crate) started_at: Option<i64>,
    pub(crate) finished_at: Option<i64>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) details: Value,
    /// The log viewer, when the job has a log.
    pub(crate) log_url: Option<String>,
    /// The log's lines as JSON.
    pub(crate) log_api_url: Option<String>,
}

impl Job {
    pub(crate) fn new(j: &JobRow, with_details: bool) -> Job {
        let has_log = j.log.is_some();
        Job {
            id: j.id,
            run: j.run,
            stage: j.stage.clone(),
            name: j.name.clone(),
            position: j.position,
            state: j.state.clone(),
            status: j.status.clone(),
            reason: j.reason.clone(),
            attempts: j.attempts,
            started_at: j.started_at,
            finished_at: j.finished_at,
            duration_ms: j.duration_ms,
            details: if with_details {
                json(j.details.as_deref())
            } else {
                Value::Null
            },
            log_url: has_log.then(|| format!("/jobs/{}/log", j.id)),
            log_api_url: has_log.then(|| format!("/api/v1/jobs/{}/log", j.id)),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TestResult {
    pub(crate) id: Id,
    pub(crate) run: Id,
    pub(crate) job: Id,
    pub(crate) suite: String,
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) measurement: Option<String>,
    pub(crate) units: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) log_first: Option<u64>,
    pub(crate) log_last: Option<u64>,
    pub(crate) excerpt: Option<String>,
    /// The job's log at the result's first line.
    pub(crate) log_url: String,
}

impl From<&ResultEntry> for TestResult {
    fn from(e: &ResultEntry) -> TestResult {
        let r = &e.result;
        TestResult {
            id: e.id,
            run: e.run,
            job: e.job,
            suite: r.suite.clone(),
            name: r.name.clone(),
            status: r.status.clone(),
            measurement: r.measurement.clone(),
            units: r.units.clone(),
            reason: r.reason.clone(),
            log_first: r.log_first,
            log_last: r.log_last,
            excerpt: r.excerpt.clone(),
            log_url: log_line_url(e.job, r.log_first),
        }
    }
}

/// The viewer of a job's log, at a line when one is known.
pub(crate) fn log_line_url(job: Id, line: Option<u64>) -> String {
    match line {
        Some(n) if n > 0 => format!("/jobs/{job}/log?line={n}#L{n}"),
        _ => format!("/jobs/{job}/log"),
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    pub(crate) id: Id,
    pub(crate) run: Id,
    pub(crate) job: Id,
    pub(crate) check: String,
    pub(crate) number: Option<u32>,
    pub(crate) msgid: Option<String>,
    pub(crate) severity: String,
    pub(crate) kind: Option<String>,
    pub(crate) message: String,
    pub(crate) mail_line: Option<u32>,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
    pub(crate) excerpt: Option<String>,
}

impl From<&FindingEntry> for Finding {
    fn from(e: &FindingEntry) -> Finding {
        let f = &e.finding;
        Finding {
            id: e.id,
            run: e.run,
            job: e.job,
            check: f.check.clone(),
            number: f.number,
            msgid: f.msgid.clone(),
            severity: f.severity.clone(),
            kind: f.kind.clone(),
            message: f.message.clone(),
            mail_line: f.mail_line,
            file: f.file.clone(),
            line: f.line,
            excerpt: f.excerpt.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Series {
    pub(crate) id: Id,
    pub(crate) list_id: String,
    pub(crate) name: Option<String>,
    pub(crate) version: u32,
    pub(crate) total: u32,
    pub(crate) received: u32,
    pub(crate) complete: bool,
    pub(crate) date: i64,
    pub(crate) submitter: Person,
    pub(crate) cover_msgid: Option<String>,
    pub(crate) revision: u32,
    pub(crate) revisions: u32,
    pub(crate) superseded_by: Option<Id>,
    pub(crate) url: String,
}

impl From<&SeriesSummary> for Series {
    fn from(s: &SeriesSummary) -> Series {
        Series {
            id: s.id,
            list_id: s.list_id.clone(),
            name: s.name.clone(),
            version: s.version,
            total: s.total,
            received: s.received,
            complete: s.complete,
            date: s.date,
            submitter: Person::from(&s.submitter),
            cover_msgid: s.cover_msgid.clone(),
            revision: s.revision,
            revisions: s.revisions,
            superseded_by: s.superseded_by,
            url: format!("/series/{}", s.id),
        }
    }
}

/// A file a patch touches, with its added and removed lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FileStat {
    pub(crate) path: String,
    pub(crate) added: u64,
    pub(crate) removed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Patch {
    pub(crate) id: Id,
    pub(crate) mail: Id,
    pub(crate) kind: String,
    pub(crate) msgid: String,
    pub(crate) name: String,
    pub(crate) date: i64,
    pub(crate) number: Option<u32>,
    pub(crate) hash: Option<String>,
    pub(crate) pull_url: Option<String>,
    pub(crate) submitter: Person,
    pub(crate) comments: u32,
    pub(crate) files: Vec<FileStat>,
}

impl Patch {
    pub(crate) fn new(m: &MessageSummary, files: Vec<FileStat>) -> Patch {
        Patch {
            id: m.id,
            mail: m.mail,
            kind: m.kind.clone(),
            msgid: m.msgid.clone(),
            name: m.name.clone(),
            date: m.date,
            number: m.number,
            hash: m.hash.clone(),
            pull_url: m.pull_url.clone(),
            submitter: Person::from(&m.submitter),
            comments: m.comments,
            files,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Revision {
    pub(crate) series: Id,
    pub(crate) revision: u32,
    pub(crate) version: u32,
    pub(crate) name: Option<String>,
    pub(crate) date: i64,
    pub(crate) received: u32,
    pub(crate) total: u32,
}

impl From<&LineageMember> for Revision {
    fn from(m: &LineageMember) -> Revision {
        Revision {
            series: m.id,
            revision: m.revision,
            version: m.version,
            name: m.name.clone(),
            date: m.date,
            received: m.received,
            total: m.total,
        }
    }
}

/// `"a/x\"y"` → `a/x"y` (git's quoting of unusual paths).
fn unquote(path: &str) -> String {
    let Some(inner) = path.strip_prefix('"').and_then(|p| p.strip_suffix('"')) else {
        return path.to_owned();
    };
    let mut bytes = Vec::with_capacity(inner.len());
    let mut it = inner.bytes().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match it.next() {
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    if let Some(&n @ b'0'..=b'7') = it.peek() {
                        v = v * 8 + u32::from(n - b'0');
                        it.next();
                    }
                }
                bytes.push(u8::try_from(v).unwrap_or(b'?'));
            }
            Some(other) => bytes.push(other),
            None => bytes.push(b'\\'),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The path of a `--- a/…` or `+++ b/…` line, without its prefix (`None` for `/dev/null`).
fn diff_path(rest: &str) -> Option<String> {
    let rest = rest.split('\t').next().unwrap_or(rest).trim_end();
    let path = unquote(rest);
    if path == "/dev/null" {
        return None;
    }
    Some(match path.split_once('/') {
        Some((_, p)) => p.to_owned(),
        None => path,
    })
}

/// `@@ -a,b +c,d @@` → `(b, d)`.
fn hunk_lengths(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    let len = |r: &str| match r.split_once(',') {
        Some((_, n)) => n.parse::<u64>().ok(),
        None => Some(1),
    };
    Some((len(old)?, len(new)?))
}

/// The files of a unified diff with their added and removed lines.
pub(crate) fn diffstat(diff: &str) -> Vec<FileStat> {
    let mut files: Vec<FileStat> = Vec::new();
    let mut old_path: Option<String> = None;
    let mut lines = diff.lines();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("--- ") {
            old_path = diff_path(rest);
        } else if let Some(rest) = line.strip_prefix("+++ ") {
            let path = diff_path(rest).or_else(|| old_path.take());
            files.push(FileStat {
                path: path.unwrap_or_default(),
                added: 0,
                removed: 0,
            });
        } else if let Some((mut old, mut new)) = hunk_lengths(line) {
            while old > 0 || new > 0 {
                let Some(l) = lines.next() else { break };
                let file = files.last_mut();
                match l.as_bytes().first() {
                    Some(b'+') => {
                        new = new.saturating_sub(1);
                        if let Some(f) = file {
                            f.added += 1;
                        }
                    }
                    Some(b'-') => {
                        old = old.saturating_sub(1);
                        if let Some(f) = file {
                            f.removed += 1;
                        }
                    }
                    Some(b'\\') => {}
                    _ => {
                        old = old.saturating_sub(1);
                        new = new.saturating_sub(1);
                    }
                }
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffstat_counts_hunks_and_reads_quoted_paths() {
        let diff = "diff --git \"a/x\\\" onerror=\\\"alert(1).c\" \"b/x\\\" onerror=\\\"alert(1).c\"\n\
            new file mode 100644\n\
            --- /dev/null\n\
            +++ \"b/x\\\" onerror=\\\"alert(1).c\"\n\
            @@ -0,0 +1,2 @@\n\
            +int x;\n\
            +--- not a header\n\
            diff --git a/greet.c b/greet.c\n\
            --- a/greet.c\n\
            +++ b/greet.c\n\
            @@ -1,3 +1,3 @@\n\
             a\n\
            -b\n\
            +c\n\
             d\n\
            diff --git a/gone.c b/gone.c\n\
            --- a/gone.c\n\
            +++ /dev/null\n\
            @@ -1 +0,0 @@\n\
            -x\n";
        assert_eq!(
            diffstat(diff),
            [
                FileStat {
                    path: "x\" onerror=\"alert(1).c".into(),
                    added: 2,
                    removed: 0
                },
                FileStat {
                    path: "greet.c".into(),
                    added: 1,
                    removed: 1
                },
                FileStat {
                    path: "gone.c".into(),
                    added: 0,
                    removed: 1
                },
            ]
        );
        assert_eq!(unquote("\"a/\\303\\251t\\303\\251\""), "a/été");
    }
}

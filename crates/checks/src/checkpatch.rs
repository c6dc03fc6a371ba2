//! `checkpatch`: the kernel's `scripts/checkpatch.pl`, run once per series, every finding
//! attributed to its patch, none lost.
//!
//! Starting Perl and compiling checkpatch costs most of a run, so the patches of a series go to
//! **one** process (`checkpatch.pl --terse --show-types --summary-file FILE…`). But checkpatch
//! keeps state from one file to the next, and a shared process does not report what separate
//! ones would:
//!
//! * `CORRUPTED_PATCH` is reported once per process (`$emitted_corrupt`): a later corrupt patch
//!   says nothing.
//! * `CAMELCASE` (under `--strict`, and always for `net/`, `drivers/net/`, `drivers/staging/`)
//!   is reported once per identifier per process, and the identifiers of the first file where a
//!   CamelCase word appears are remembered (`%camelcase`): a later patch using the same word, or
//!   a word of that earlier file, says nothing.
//! * `$check` (the `--strict` mode that those paths switch on) is not reset between files: the
//!   header and commit message of the patch after one that ended in `net/` are checked strictly,
//!   which adds `INVALID_UTF8` checks a separate run would not report.
//!
//! So the runner (1) reads each patch first and **groups** them: a group holds at most one patch
//! that could report CamelCase (added C lines, in strict mode, with a mixed-case identifier
//! outside strings and comments), and a patch whose header has invalid UTF-8 starts a group;
//! (2) runs one process per group (usually one for the series); (3) **verifies** each file's
//! findings against the `total:` line checkpatch prints for it; (4) when a file reports
//! `CORRUPTED_PATCH`, runs the files after it again in a new process; when a file's findings
//! do not add up, or the process crashed or timed out, runs the files concerned alone. The
//! comparison test (`tests/checkpatch.rs`) checks that this gives, on hundreds of real kernel
//! patches, exactly what one process per patch gives.
//!
//! Severities: `ERROR` → error, `WARNING` → warning, `CHECK` (`--strict`) → warning. Ignored
//! types are passed to checkpatch as `--ignore` and dropped.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gauntlet_verdict::Severity;
use serde::{Deserialize, Serialize};

use crate::diff::{self, Diff};
use crate::finding::{Finding, Location, Raw};
use crate::input::Input;
use crate::options::{OptionKind, OptionSpec, Options};
use crate::process;
use crate::registry::{Check, CheckInfo, Ran, RunContext, Scope};
use crate::text::{Segment, line_at, lines, strip_cr};
use crate::tree::{self, Scratch, StandIn};

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "path",
        kind: OptionKind::Str,
        default: "scripts/checkpatch.pl",
        help: "the script: absolute, or relative to the tree",
    },
    OptionSpec {
        name: "args",
        kind: OptionKind::List,
        default: "[]",
        help: "more arguments: --strict, --max-line-length=N, --codespell, …",
    },
    OptionSpec {
        name: "strict",
        kind: OptionKind::Bool,
        default: "false",
        help: "pass --strict (CHECK-level findings)",
    },
    OptionSpec {
        name: "max-line-length",
        kind: OptionKind::Int { min: 40, max: 1000 },
        default: "100",
        help: "pass --max-line-length=N",
    },
    OptionSpec {
        name: "timeout",
        kind: OptionKind::Int { min: 1, max: 7200 },
        default: "300",
        help: "seconds one checkpatch process may take",
    },
    OptionSpec {
        name: "max-bytes",
        kind: OptionKind::Int {
            min: 1,
            max: 1 << 40,
        },
        default: "4194304",
        help: "larger patches are not given to checkpatch (SKIP)",
    },
    OptionSpec {
        name: "max-files",
        kind: OptionKind::Int {
            min: 1,
            max: 10_000_000,
        },
        default: "500",
        help: "patches touching more files are not given to checkpatch (SKIP)",
    },
];

pub static INFO: CheckInfo = CheckInfo {
    name: "checkpatch",
    scope: Scope::Patch,
    summary: "the tree's scripts/checkpatch.pl, one process per series, findings per patch",
    options: OPTIONS,
    types: &[],
    external: true,
};

/// Arguments that change checkpatch's output or inputs: the runner sets those itself.
const REFUSED: &[&str] = &[
    "--terse",
    "--show-types",
    "--emacs",
    "--color",
    "--fix",
    "--fix-inplace",
    "--verbose",
    "-v",
    "--summary-file",
    "--no-summary",
    "--quiet",
    "-q",
    "--file",
    "-f",
    "--git",
    "-g",
    "--list-types",
    "--mailback",
    "--showfile",
    "--test-only",
    "-h",
    "--help",
    "--version",
];

struct Checkpatch {
    path: Option<String>,
    args: Vec<String>,
    timeout: Duration,
    max_bytes: usize,
    max_files: usize,
}

pub(crate) fn configure(options: &mut Options<'_>) -> Box<dyn Check> {
    let mut args = options.list("args");
    for arg in &args {
        let name = arg.split('=').next().unwrap_or(arg);
        if REFUSED.contains(&name) || name.starts_with("--color") || name.starts_with("--fix") {
            options.refuse(format!(
                "option `args`: `{arg}` is not allowed: gauntlet runs checkpatch with --terse --show-types and reads its output"
            ));
        }
    }
    if options.bool("strict", false) && !args.iter().any(|a| a == "--strict") {
        args.push("--strict".to_string());
    }
    let max_line = options.int("max-line-length", 0);
    if max_line > 0 {
        args.push(format!("--max-line-length={max_line}"));
    }
    Box::new(Checkpatch {
        path: options.string("path"),
        args,
        timeout: Duration::from_secs(u64::try_from(options.int("timeout", 300)).unwrap_or(300)),
        max_bytes: options.count("max-bytes", 4 << 20),
        max_files: options.count("max-files", 500),
    })
}

/// checkpatch's level of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Level {
    Error,
    Warning,
    Check,
}

impl Level {
    fn parse(word: &str) -> Option<Level> {
        match word {
            "ERROR" => Some(Level::Error),
            "WARNING" => Some(Level::Warning),
            "CHECK" => Some(Level::Check),
            _ => None,
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Level::Error => Severity::Error,
            Level::Warning | Level::Check => Severity::Warning,
        }
    }
}

/// One line of checkpatch's terse output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CpFinding {
    /// The line of the file checkpatch was given (`None` when it named none).
    pub line: Option<u32>,
    pub level: Level,
    /// checkpatch's type (`LONG_LINE`).
    pub kind: String,
    pub message: String,
}

/// checkpatch's `total:` line for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub errors: usize,
    pub warnings: usize,
    pub checks: usize,
    pub lines: usize,
}

/// What checkpatch said about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    pub findings: Vec<CpFinding>,
    /// `None` when checkpatch printed no `total:` line (a clean file, in terse mode).
    pub totals: Option<Totals>,
    /// Checked in a process of its own (a re-run, or a group of one).
    pub alone: bool,
}

impl FileReport {
    /// The findings add up to the totals.
    fn consistent(&self) -> bool {
        let count = |level| self.findings.iter().filter(|f| f.level == level).count();
        match self.totals {
            Some(t) => {
                count(Level::Error) == t.errors
                    && count(Level::Warning) == t.warnings
                    && count(Level::Check) == t.checks
            }
            None => self.findings.is_empty(),
        }
    }
}

/// Runs checkpatch on patch files, from a directory that is (or looks like) a kernel tree.
pub struct Runner {
    perl: PathBuf,
    script: PathBuf,
    cwd: PathBuf,
    git_dir: Option<PathBuf>,
    args: Vec<String>,
    timeout: Duration,
    /// Answers checkpatch's `get_maintainer.pl --status` questions (see `obsolete`).
    stand_in: Option<StandIn>,
    /// Keeps the scratch directory alive when the runner made it.
    _scratch: Option<Scratch>,
}

impl Runner {
    /// A runner for `script`, run with `perl` from `cwd`.
    pub fn new(perl: &Path, script: &Path, cwd: &Path) -> Runner {
        Runner {
            perl: perl.to_path_buf(),
            script: script.to_path_buf(),
            cwd: cwd.to_path_buf(),
            git_dir: None,
            args: Vec::new(),
            timeout: Duration::from_secs(300),
            stand_in: None,
            _scratch: None,
        }
    }

    /// A runner for the `scripts/checkpatch.pl` of a kernel tree (working copy or bare
    /// repository at `revision`), run from a scratch directory so that nothing is written into
    /// the tree.
    pub fn for_tree(
        tree: &Path,
        revision: &str,
        perl: &Path,
        git: &Path,
    ) -> Result<Runner, String> {
        let tree = tree::Tree::open(tree, revision, git)?;
        let scratch = tree::scratch(&tree, Duration::from_secs(60))?;
        if !scratch.has("scripts/checkpatch.pl") {
            return Err(format!(
                "{} has no scripts/checkpatch.pl",
                tree.path.display()
            ));
        }
        let mut runner = Runner::new(
            perl,
            &scratch.path().join("scripts/checkpatch.pl"),
            scratch.path(),
        );
        runner.git_dir.clone_from(&scratch.git_dir);
        runner.stand_in.clone_from(&scratch.stand_in);
        runner._scratch = Some(scratch);
        Ok(runner)
    }

    #[must_use]
    pub fn args(mut self, args: &[String]) -> Runner {
        self.args = args.to_vec();
        self
    }

    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Runner {
        self.timeout = timeout;
        self
    }

    fn strict(&self) -> bool {
        self.args
            .iter()
            .any(|a| a == "--strict" || a == "--subjective")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.perl);
        c.current_dir(&self.cwd);
        if let Some(git_dir) = &self.git_dir {
            c.env("GIT_DIR", git_dir);
        }
        c.arg(&self.script)
            .args(["--terse", "--show-types", "--summary-file", "--color=never"])
            .args(&self.args);
        c
    }

    /// One process over `files`, its output split per file. `Err` when the process could not
    /// be started; `Ok(None)` when it crashed or timed out.
    fn run_process(&self, files: &[&Path]) -> Result<Option<Vec<FileReport>>, String> {
        let mut command = self.command();
        command.args(files);
        let out = process::run(command, None, self.timeout, 16 << 20).map_err(|e| e.to_string())?;
        let code = out.status.and_then(|s| s.code());
        if !matches!(code, Some(0 | 1)) || out.truncated {
            tracing::warn!(
                files = files.len(),
                status = ?out.status,
                stderr = %out.stderr_tail(),
                "checkpatch did not finish normally"
            );
            if files.len() == 1 && code == Some(2) {
                // "Must be run from the top-level dir. of a kernel tree".
                return Err(String::from_utf8_lossy(&out.stdout).trim().to_string());
            }
            return Ok(None);
        }
        Ok(Some(split_output(&out.stdout, files)))
    }

    /// One process over all `files` and nothing more: what a shared process reports, state
    /// leaks included (for comparisons and benchmarks).
    pub fn check_one_process(&self, files: &[PathBuf]) -> Result<Vec<FileReport>, String> {
        self.prepare(files);
        let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        self.run_process(&paths)?
            .ok_or_else(|| "checkpatch crashed or timed out".to_string())
    }

    /// Reads the patches: what each risks in a shared process, and the files they touch, for
    /// the stand-in to answer about.
    fn prepare(&self, files: &[PathBuf]) -> Vec<Risk> {
        let mut touched: Vec<String> = vec!["dev/null".to_string()];
        let risks = files
            .iter()
            .map(|f| match std::fs::read(f) {
                Ok(bytes) => prescan(&bytes, self.strict(), &mut touched),
                Err(_) => Risk::default(),
            })
            .collect();
        if let Some(stand_in) = &self.stand_in
            && let Err(e) = stand_in.answer(touched.iter().map(String::as_str))
        {
            tracing::warn!("{e}");
        }
        risks
    }

    /// The reference: one process per file.
    pub fn check_each(&self, files: &[PathBuf]) -> Vec<Result<FileReport, String>> {
        self.prepare(files);
        files.iter().map(|f| self.alone(f)).collect()
    }

    fn alone(&self, file: &Path) -> Result<FileReport, String> {
        match self.run_process(&[file])? {
            Some(mut reports) => match reports.pop() {
                Some(mut report) => {
                    report.alone = true;
                    Ok(report)
                }
                None => Err("checkpatch said nothing".to_string()),
            },
            None => Err(format!(
                "checkpatch crashed or took more than {}s on {}",
                self.timeout.as_secs(),
                file.display()
            )),
        }
    }

    /// gauntlet's way: as few processes as the patches allow, every finding kept (see the
    /// module documentation).
    pub fn check(&self, files: &[PathBuf]) -> Vec<Result<FileReport, String>> {
        let risks = self.prepare(files);
        let mut queue: VecDeque<Range<usize>> = plan(&risks, self.strict()).into();
        let mut results: Vec<Option<Result<FileReport, String>>> = vec![None; files.len()];
        while let Some(range) = queue.pop_front() {
            if range.len() == 1 {
                results[range.start] = Some(self.alone(&files[range.start]));
                continue;
            }
            let group: Vec<&Path> = files[range.clone()].iter().map(PathBuf::as_path).collect();
            let reports = match self.run_process(&group) {
                Err(e) => {
                    for slot in &mut results[range] {
                        *slot = Some(Err(e.clone()));
                    }
                    continue;
                }
                Ok(None) => {
                    tracing::info!(
                        files = range.len(),
                        "checkpatch process failed: each file alone"
                    );
                    queue.extend(range.map(|i| i..i + 1));
                    continue;
                }
                Ok(Some(reports)) => reports,
            };
            for (offset, report) in reports.into_iter().enumerate() {
                let index = range.start + offset;
                let corrupt = report.findings.iter().any(|f| f.kind == "CORRUPTED_PATCH");
                if report.consistent() {
                    results[index] = Some(Ok(report));
                } else {
                    tracing::info!(file = %files[index].display(), "checkpatch findings do not add up: alone");
                    queue.push_back(index..index + 1);
                }
                if corrupt && index + 1 < range.end {
                    tracing::info!(
                        after = %files[index].display(),
                        "CORRUPTED_PATCH is reported once per process: the rest again"
                    );
                    queue.push_front(index + 1..range.end);
                    break;
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err("not checked".to_string())))
            .collect()
    }
}

/// Splits one process' output among its files, in order. A line without a file name belongs to
/// the next file that prints a `total:` line.
fn split_output(stdout: &[u8], files: &[&Path]) -> Vec<FileReport> {
    let names: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    let by_name: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut reports: Vec<FileReport> = (0..files.len())
        .map(|_| FileReport {
            findings: Vec::new(),
            totals: None,
            alone: files.len() == 1,
        })
        .collect();
    let mut pending: Vec<CpFinding> = Vec::new();
    for line in lines(stdout) {
        let text = String::from_utf8_lossy(strip_cr(line));
        let owner = owner_of(&text, &names, &by_name);
        match owner {
            Some((index, rest)) => {
                if let Some(totals) = rest.strip_prefix(" total: ").and_then(parse_totals) {
                    let report = &mut reports[index];
                    report.findings.append(&mut pending);
                    report.totals = Some(totals);
                } else if let Some(finding) = rest.strip_prefix(':').and_then(parse_located) {
                    reports[index].findings.push(finding);
                } else {
                    reports[index].findings.push(unparsed(rest));
                }
            }
            None => {
                if let Some(finding) = parse_finding(&text, None) {
                    pending.push(finding);
                } else if !text.trim().is_empty() {
                    pending.push(unparsed(&text));
                }
            }
        }
    }
    if !pending.is_empty() {
        // Findings no `total:` claimed: the last file's, most likely; the totals check will
        // send it to a run of its own.
        if let Some(last) = reports.last_mut() {
            last.findings.append(&mut pending);
        }
    }
    reports
}

/// The file a line starts with, and the rest of the line.
fn owner_of<'t>(
    text: &'t str,
    names: &[String],
    by_name: &HashMap<&str, usize>,
) -> Option<(usize, &'t str)> {
    // Names are ours (`…/0001.patch`): the longest one the line starts with.
    let candidates = names.iter().filter(|n| text.starts_with(n.as_str()));
    let name = candidates.max_by_key(|n| n.len())?;
    let rest = &text[name.len()..];
    if !(rest.starts_with(':') || rest.starts_with(" total: ")) {
        return None;
    }
    Some((*by_name.get(name.as_str())?, rest))
}

fn unparsed(text: &str) -> CpFinding {
    CpFinding {
        line: None,
        level: Level::Warning,
        kind: "UNPARSED".to_string(),
        message: text.trim().to_string(),
    }
}

/// `LINE: LEVEL:TYPE: message`.
fn parse_located(rest: &str) -> Option<CpFinding> {
    let (line, rest) = rest.split_once(": ")?;
    let line: u32 = line.trim().parse().ok()?;
    parse_finding(rest, Some(line))
}

/// `LEVEL:TYPE: message`.
fn parse_finding(text: &str, line: Option<u32>) -> Option<CpFinding> {
    let (level, rest) = text.split_once(':')?;
    let level = Level::parse(level.trim())?;
    let (kind, message) = rest.split_once(':')?;
    if kind.is_empty()
        || !kind
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    Some(CpFinding {
        line,
        level,
        kind: kind.to_string(),
        message: message.trim().to_string(),
    })
}

/// `E errors, W warnings, [C checks, ]N lines checked`.
fn parse_totals(text: &str) -> Option<Totals> {
    let mut totals = Totals {
        errors: 0,
        warnings: 0,
        checks: 0,
        lines: 0,
    };
    for part in text.split(", ") {
        let (n, word) = part.trim().split_once(' ')?;
        let n: usize = n.parse().ok()?;
        match word {
            "errors" => totals.errors = n,
            "warnings" => totals.warnings = n,
            "checks" => totals.checks = n,
            "lines checked" => totals.lines = n,
            _ => return None,
        }
    }
    Some(totals)
}

/// What a patch could carry over to, or suffer from, a shared process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Risk {
    /// It could report (and so remember) a CamelCase identifier.
    camel: bool,
    /// Its header or commit message has invalid UTF-8 (checked strictly after a `net/` patch).
    bad_utf8_header: bool,
}

/// The groups of files that may share a process (see the module documentation).
fn plan(risks: &[Risk], strict: bool) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    let mut camel = false;
    for (i, risk) in risks.iter().enumerate() {
        let cut = (risk.camel && camel) || (risk.bad_utf8_header && !strict && i > start);
        if cut {
            groups.push(start..i);
            start = i;
            camel = false;
        }
        camel |= risk.camel;
    }
    if start < risks.len() {
        groups.push(start..risks.len());
    }
    groups
}

fn prescan(bytes: &[u8], strict: bool, touched: &mut Vec<String>) -> Risk {
    let segment = Segment {
        bytes: std::borrow::Cow::Borrowed(bytes),
        first_line: Some(1),
        charset: None,
    };
    let segments = [segment];
    let diff = diff::parse(&segments);
    for file in &diff.files {
        touched.extend(file.old_path.iter().chain(&file.new_path).cloned());
    }
    let header_lines = diff.start.map_or(usize::MAX, |(_, line)| line + 1);
    let bad_utf8_header = lines(bytes)
        .take(header_lines)
        .any(|l| std::str::from_utf8(l).is_err());
    let camel = diff.added_lines.iter().any(|line| {
        let Some(file) = diff.files.get(line.file) else {
            return false;
        };
        let path = file.path();
        let c_file = path.ends_with(".c") || path.ends_with(".h");
        let checked = strict
            || ["drivers/net/", "net/", "drivers/staging/"]
                .iter()
                .any(|p| path.starts_with(p));
        c_file && checked && has_camel_identifier(&code_only(diff.text(&segments, line)))
    });
    Risk {
        camel,
        bad_utf8_header,
    }
}

/// The line with string literals, character literals and comments blanked, erring on the side
/// of keeping text: a quote that does not look like a literal stays code.
fn code_only(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        match b {
            b'/' if line.get(i + 1) == Some(&b'/') => break,
            b'/' if line.get(i + 1) == Some(&b'*') => {
                match find(line, i + 2, b"*/") {
                    Some(end) => i = end + 2,
                    None => break,
                }
                out.push(b' ');
            }
            b'"' => {
                let mut j = i + 1;
                while j < line.len() && line[j] != b'"' {
                    j += if line[j] == b'\\' { 2 } else { 1 };
                }
                i = j + 1;
                out.push(b' ');
            }
            b'\'' => {
                // 'a', '\n', '\x1f', '\012': a literal closes within a few bytes.
                let mut j = i + 1;
                let mut close = None;
                while j < line.len() && j <= i + 6 {
                    match line[j] {
                        b'\\' => j += 2,
                        b'\'' => {
                            if j > i + 1 {
                                close = Some(j);
                            }
                            break;
                        }
                        _ => j += 1,
                    }
                }
                match close {
                    Some(end) => {
                        i = end + 1;
                        out.push(b' ');
                    }
                    None => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// An identifier with a lower-case letter next to an upper-case one.
fn has_camel_identifier(code: &[u8]) -> bool {
    let mut i = 0;
    while i < code.len() {
        if code[i].is_ascii_alphabetic() || code[i] == b'_' {
            let start = i;
            while i < code.len() && (code[i].is_ascii_alphanumeric() || code[i] == b'_') {
                i += 1;
            }
            let word = &code[start..i];
            if word.windows(2).any(|w| {
                (w[0].is_ascii_uppercase() && w[1].is_ascii_lowercase())
                    || (w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
            }) {
                return true;
            }
        } else if code[i].is_ascii_digit() {
            // A number (0x1fULL): not an identifier.
            while i < code.len() && (code[i].is_ascii_alphanumeric() || code[i] == b'_') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    false
}

impl Checkpatch {
    /// The runner for this run, or why there is none (`Err(true, …)`: an error; `false`: skip).
    fn runner(&self, input: &Input<'_>, rc: &RunContext<'_>) -> Result<Runner, (bool, String)> {
        let perl = &input.context.perl;
        let configured_absolute = self.path.as_deref().filter(|p| p.starts_with('/'));
        let runner = match (input.scratch(Duration::from_secs(60)), configured_absolute) {
            (Some(Ok(scratch)), _) => {
                let relative = self.path.as_deref().unwrap_or("scripts/checkpatch.pl");
                let script = match configured_absolute {
                    Some(path) => PathBuf::from(path),
                    None => {
                        if relative == "scripts/checkpatch.pl" && !scratch.has(relative) {
                            return Err((
                                rc.explicit,
                                "the tree has no scripts/checkpatch.pl".into(),
                            ));
                        }
                        scratch.path().join(relative)
                    }
                };
                let mut runner = Runner::new(perl, &script, scratch.path());
                runner.git_dir.clone_from(&scratch.git_dir);
                runner.stand_in.clone_from(&scratch.stand_in);
                runner
            }
            (Some(Err(e)), _) => return Err((true, e)),
            (None, Some(path)) => {
                let mut runner = Runner::new(perl, Path::new(path), &std::env::temp_dir());
                runner.args.push("--no-tree".to_string());
                runner
            }
            (None, None) => {
                return Err((
                    rc.explicit,
                    "no tree to take scripts/checkpatch.pl from (and no absolute `path` configured)"
                        .to_string(),
                ));
            }
        };
        let mut args = runner.args.clone();
        args.extend(self.args.iter().cloned());
        if !rc.settings.ignore.is_empty() {
            args.push("--ignore".to_string());
            args.push(rc.settings.ignore.join(","));
        }
        Ok(runner.args(&args).timeout(self.timeout))
    }
}

impl Check for Checkpatch {
    fn run(&self, input: &Input<'_>, rc: &RunContext<'_>) -> Ran {
        let n = input.patches.len();
        let all = |raw: Raw| Ran::Patches(vec![raw; n]);
        let runner = match self.runner(input, rc) {
            Ok(r) => r,
            Err((true, why)) => return all(Raw::failed(why)),
            Err((false, why)) => return all(Raw::skipped(why)),
        };
        let files = match input.patch_files() {
            Ok(f) => f,
            Err(e) => return all(Raw::failed(e)),
        };
        // Patches too large for checkpatch are not given to it.
        let too_big: Vec<Option<String>> = input
            .patches
            .iter()
            .map(|p| {
                if p.mail().pull_url.is_some() {
                    Some(crate::checks::PULL_REQUEST.to_string())
                } else if p.patch.raw.len() > self.max_bytes {
                    Some(format!(
                        "not checked: the patch is {} bytes, more than max-bytes ({})",
                        p.patch.raw.len(),
                        self.max_bytes
                    ))
                } else if p.diff.files.len() > self.max_files {
                    Some(format!(
                        "not checked: the patch touches {} files, more than max-files ({})",
                        p.diff.files.len(),
                        self.max_files
                    ))
                } else {
                    None
                }
            })
            .collect();
        let chosen: Vec<usize> = (0..n).filter(|&i| too_big[i].is_none()).collect();
        let paths: Vec<PathBuf> = chosen.iter().map(|&i| files.files[i].0.clone()).collect();
        let mut reports = runner.check(&paths).into_iter();
        let raws = (0..n)
            .map(|i| {
                if let Some(why) = &too_big[i] {
                    return Raw::skipped(why.clone());
                }
                let (path, verbatim) = &files.files[i];
                match reports.next() {
                    None => Raw::failed("not checked"),
                    Some(Err(e)) => Raw::failed(e),
                    Some(Ok(report)) => {
                        let bytes = std::fs::read(path).unwrap_or_default();
                        to_raw(&report, &bytes, *verbatim)
                    }
                }
            })
            .collect();
        Ran::Patches(raws)
    }
}

/// checkpatch's findings on one file as gauntlet findings, located in the mail (when the file
/// was the raw mail) and in the source.
fn to_raw(report: &FileReport, bytes: &[u8], verbatim: bool) -> Raw {
    let segments = [Segment {
        bytes: std::borrow::Cow::Borrowed(bytes),
        first_line: Some(1),
        charset: None,
    }];
    let diff: Diff = diff::parse(&segments);
    let findings = report
        .findings
        .iter()
        .map(|f| {
            let mut finding = Finding::new(f.level.severity(), &f.kind, f.message.clone());
            if let Some(line) = f.line {
                let patch_line = verbatim.then_some(line);
                finding.location = match diff.source_of(line) {
                    Some((file, source_line)) => Location::source(patch_line, file, source_line),
                    None => Location::mail(patch_line),
                };
                if let Some(text) = line_at(bytes, line) {
                    finding = finding.quoting(text);
                }
            }
            finding
        })
        .collect();
    let checked = report.totals.map_or_else(
        || "clean".to_string(),
        |t| format!("clean ({} lines checked)", t.lines),
    );
    Raw::ran(checked, findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_split_per_file() {
        let a = Path::new("/tmp/x/0001.patch");
        let b = Path::new("/tmp/x/0002.patch");
        let c = Path::new("/tmp/x/0003.patch");
        let out =
            b"/tmp/x/0001.patch:12: WARNING:LONG_LINE: line length of 101 exceeds 100 columns\n\
/tmp/x/0001.patch:30: ERROR:TRAILING_WHITESPACE: trailing whitespace\n\
/tmp/x/0001.patch total: 1 errors, 1 warnings, 40 lines checked\n\
ERROR:NOT_UNIFIED_DIFF: Does not appear to be a unified-diff format patch\n\
/tmp/x/0003.patch total: 1 errors, 0 warnings, 0 checks, 0 lines checked\n";
        let reports = split_output(out, &[a, b, c]);
        assert_eq!(reports[0].findings.len(), 2);
        assert_eq!(reports[0].findings[0].line, Some(12));
        assert_eq!(reports[0].findings[1].kind, "TRAILING_WHITESPACE");
        assert!(reports[0].consistent());
        assert!(reports[1].findings.is_empty() && reports[1].totals.is_none());
        assert!(reports[1].consistent());
        assert_eq!(reports[2].findings[0].kind, "NOT_UNIFIED_DIFF");
        assert_eq!(reports[2].findings[0].line, None);
        assert!(reports[2].consistent());
    }

    #[test]
    fn totals_catch_lost_lines() {
        let a = Path::new("/t/0001.patch");
        let out = b"/t/0001.patch:3: ERROR:X: y\n/t/0001.patch total: 2 errors, 0 warnings, 9 lines checked\n";
        let reports = split_output(out, &[a]);
        assert!(!reports[0].consistent());
        assert_eq!(
            parse_totals("0 errors, 3 warnings, 2 checks, 120 lines checked"),
            Some(Totals {
                errors: 0,
                warnings: 3,
                checks: 2,
                lines: 120
            })
        );
    }

    #[test]
    fn groups() {
        let plain = Risk::default();
        let camel = Risk {
            camel: true,
            ..Risk::default()
        };
        let utf8 = Risk {
            bad_utf8_header: true,
            ..Risk::default()
        };
        assert_eq!(plan(&[plain; 5], false), vec![0..5]);
        assert_eq!(
            plan(&[plain, camel, plain, camel, plain], false),
            vec![0..3, 3..5]
        );
        assert_eq!(plan(&[plain, utf8, plain], false), vec![0..1, 1..3]);
        assert_eq!(plan(&[plain, utf8, plain], true), vec![0..3]);
        assert_eq!(plan(&[], false), Vec::<Range<usize>>::new());
    }

    #[test]
    fn camel_case_outside_strings_and_comments() {
        assert!(has_camel_identifier(&code_only(b"\tint fooBar = 1;")));
        assert!(!has_camel_identifier(&code_only(
            b"\tpr_info(\"Hello World\\n\");"
        )));
        assert!(!has_camel_identifier(&code_only(
            b"\tx = 1; /* Some Comment */"
        )));
        assert!(!has_camel_identifier(&code_only(
            b"\tx = 1; // Some Comment"
        )));
        assert!(!has_camel_identifier(&code_only(
            b"\tc = 'A'; y = 0x1fULL;"
        )));
        // An apostrophe that is no literal keeps what follows as code.
        assert!(has_camel_identifier(&code_only(
            b" * don't use FooBar here"
        )));
        assert!(!has_camel_identifier(&code_only(
            b"\tif (IS_ERR(ptr)) return -EINVAL;"
        )));
    }
}

//! `maintainers`: the people and lists the tree's `MAINTAINERS` names for the touched files
//! were sent the series.
//!
//! It runs the tree's `scripts/get_maintainer.pl --no-rolestats --roles --no-git
//! --no-git-fallback` once over all the patches of the series (one Perl process: it parses
//! `MAINTAINERS` once) and compares what it names with every address the series' mails were sent
//! to (`To`, `Cc` of the cover letter and the patches, and their senders), case-insensitively.
//! Everyone missing is a warning: a maintainer, reviewer or supporter (`missing-maintainer`), a
//! list (`missing-list`), the author of a commit a `Fixes:` tag blames (`missing-blamed`). The
//! check is SKIP when the tree has no `MAINTAINERS` or no `get_maintainer.pl`, or when the
//! series touches more than `max-files` files.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use gauntlet_verdict::Severity;

use super::plural;
use crate::finding::{Finding, Raw};
use crate::input::Input;
use crate::names::address_key;
use crate::options::{OptionKind, OptionSpec, Options};
use crate::process;
use crate::registry::{Check, CheckInfo, FindingType, Ran, RunContext, Scope};

const TYPES: &[FindingType] = &[
    FindingType {
        name: "missing-maintainer",
        severity: Severity::Warning,
        help: "a maintainer, reviewer or supporter of a touched file was not sent the series",
    },
    FindingType {
        name: "missing-list",
        severity: Severity::Warning,
        help: "a list of a touched file was not sent the series",
    },
    FindingType {
        name: "missing-blamed",
        severity: Severity::Warning,
        help: "the author of a commit named by Fixes: was not sent the series",
    },
    FindingType {
        name: "headers-only",
        severity: Severity::Info,
        help: "a patch over max-bytes was read by its file names only (no K: keywords)",
    },
];

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "script",
        kind: OptionKind::Str,
        default: "scripts/get_maintainer.pl",
        help: "the script, relative to the tree or absolute",
    },
    OptionSpec {
        name: "args",
        kind: OptionKind::List,
        default: "[]",
        help: "more arguments for the script",
    },
    OptionSpec {
        name: "ignore-addresses",
        kind: OptionKind::List,
        default: "[]",
        help: "addresses never required (e.g. linux-kernel@vger.kernel.org)",
    },
    OptionSpec {
        name: "lists",
        kind: OptionKind::Bool,
        default: "true",
        help: "require the lists too",
    },
    OptionSpec {
        name: "max-files",
        kind: OptionKind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "1000",
        help: "skip series touching more files than this",
    },
    OptionSpec {
        name: "timeout",
        kind: OptionKind::Int { min: 1, max: 3600 },
        default: "120",
        help: "seconds the script may take",
    },
    OptionSpec {
        name: "max-bytes",
        kind: OptionKind::Int {
            min: 1,
            max: 1 << 40,
        },
        default: "2097152",
        help: "a larger patch is given to the script as its file headers only (no K: keywords)",
    },
];

pub static INFO: CheckInfo = CheckInfo {
    name: "maintainers",
    scope: Scope::Series,
    summary: "the maintainers and lists of the touched files (get_maintainer.pl) were Cc'd",
    options: OPTIONS,
    types: TYPES,
    external: true,
};

struct Maintainers {
    script: String,
    args: Vec<String>,
    ignore: Vec<String>,
    lists: bool,
    max_files: usize,
    timeout: Duration,
    max_bytes: usize,
}

pub(crate) fn configure(options: &mut Options<'_>) -> Box<dyn Check> {
    Box::new(Maintainers {
        script: options
            .string("script")
            .unwrap_or_else(|| "scripts/get_maintainer.pl".to_string()),
        args: options.list("args"),
        ignore: options
            .list("ignore-addresses")
            .iter()
            .map(|a| address_key(a))
            .collect(),
        lists: options.bool("lists", true),
        max_files: options.count("max-files", 1000),
        timeout: Duration::from_secs(u64::try_from(options.int("timeout", 120)).unwrap_or(120)),
        max_bytes: options.count("max-bytes", 2 << 20),
    })
}

/// One line of get_maintainer.pl: `Name <addr> (role)` or `addr (role)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    display: String,
    address: String,
    role: String,
}

fn parse_line(line: &str) -> Option<Wanted> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let (who, role) = match matching_open(line) {
        Some(i) => (&line[..i], &line[i + 1..line.len() - 1]),
        None => (line, ""),
    };
    let address = match (who.rfind('<'), who.rfind('>')) {
        (Some(lt), Some(gt)) if lt < gt => &who[lt + 1..gt],
        _ => who.split_whitespace().next()?,
    };
    address.contains('@').then(|| Wanted {
        display: who.trim().to_string(),
        address: address_key(address),
        role: role.to_string(),
    })
}

/// The lines of a patch that name its files (what get_maintainer.pl needs of it besides
/// keywords).
fn headers_only(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in crate::text::lines(raw) {
        if line.starts_with(b"diff --git ")
            || line.starts_with(b"--- ")
            || line.starts_with(b"+++ ")
        {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    out
}

/// The `(` that the final `)` of `line` closes (section names have parentheses too).
fn matching_open(line: &str) -> Option<usize> {
    if !line.ends_with(')') {
        return None;
    }
    let mut depth = 0usize;
    for (i, c) in line.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn kind_of(role: &str) -> &'static str {
    let role = role.to_ascii_lowercase();
    if role.contains("list") {
        "missing-list"
    } else if role.starts_with("blamed") {
        "missing-blamed"
    } else {
        "missing-maintainer"
    }
}

impl Check for Maintainers {
    fn run(&self, input: &Input<'_>, rc: &RunContext<'_>) -> Ran {
        Ran::Series(self.check(input, rc))
    }
}

impl Maintainers {
    fn check(&self, input: &Input<'_>, rc: &RunContext<'_>) -> Raw {
        let unavailable = |why: String| {
            if rc.explicit {
                Raw::failed(why)
            } else {
                Raw::skipped(why)
            }
        };
        let with_diff: Vec<usize> = (0..input.patches.len())
            .filter(|&i| !input.patches[i].diff.is_empty())
            .collect();
        if with_diff.is_empty() {
            return Raw::skipped("no diff to find maintainers for");
        }
        let files: usize = with_diff
            .iter()
            .map(|&i| input.patches[i].diff.files.len())
            .sum();
        if files > self.max_files {
            return Raw::skipped(format!(
                "the series touches {files} files, more than max-files ({}): not checked",
                self.max_files
            ));
        }
        let scratch = match input.scratch(self.timeout) {
            None => return unavailable("no tree to read MAINTAINERS from".to_string()),
            Some(Err(e)) => return unavailable(e),
            Some(Ok(s)) => s,
        };
        let script = if self.script.starts_with('/') {
            PathBuf::from(&self.script)
        } else if self.script == "scripts/get_maintainer.pl" {
            match (&scratch.get_maintainer, scratch.has("MAINTAINERS")) {
                (Some(script), true) => script.clone(),
                _ => {
                    return Raw::skipped(
                        "the tree has no MAINTAINERS or no scripts/get_maintainer.pl",
                    );
                }
            }
        } else {
            scratch.path().join(&self.script)
        };
        let patch_files = match input.patch_files() {
            Ok(f) => f,
            Err(e) => return Raw::failed(e),
        };
        let mut command = scratch.command(&input.context.perl);
        command
            .arg(&script)
            .args(["--no-rolestats", "--roles", "--no-git", "--no-git-fallback"])
            .args(&self.args);
        // A huge patch costs get_maintainer.pl minutes (it matches every K: keyword against
        // every line): it gets the file headers only.
        let reduced = match tempfile::Builder::new()
            .prefix("gauntlet-maintainers-")
            .tempdir()
        {
            Ok(dir) => dir,
            Err(e) => return Raw::failed(format!("cannot make a temporary directory: {e}")),
        };
        let mut shortened = 0;
        for &i in &with_diff {
            let p = &input.patches[i];
            if p.patch.raw.len() <= self.max_bytes {
                command.arg(&patch_files.files[i].0);
                continue;
            }
            let headers = headers_only(p.patch.raw);
            let path = reduced.path().join(format!("{:04}.patch", i + 1));
            if let Err(e) = std::fs::write(&path, headers) {
                return Raw::failed(format!("cannot write {}: {e}", path.display()));
            }
            command.arg(&path);
            shortened += 1;
        }
        let out = match process::run(command, None, self.timeout, 4 << 20) {
            Ok(out) => out,
            Err(e) => return Raw::failed(e.to_string()),
        };
        if out.timed_out() {
            return Raw::failed(format!(
                "get_maintainer.pl did not finish within {}s",
                self.timeout.as_secs()
            ));
        }
        if !out.status.is_some_and(|s| s.success()) {
            return Raw::failed(format!("get_maintainer.pl failed: {}", out.stderr_tail()));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let wanted: Vec<Wanted> = stdout.lines().filter_map(parse_line).collect();
        let mut reached: BTreeSet<String> = BTreeSet::new();
        let mails = input
            .series
            .cover
            .into_iter()
            .chain(input.series.patches.iter().map(|p| p.mail));
        for mail in mails {
            for person in mail.to.iter().chain(&mail.cc) {
                reached.insert(address_key(&person.email));
            }
            if let Ok(sender) = &mail.submitter {
                reached.insert(address_key(&sender.email));
            }
            if let Some(commit) = &mail.commit {
                reached.insert(address_key(&commit.author.email));
            }
        }
        let mut findings = Vec::new();
        let mut seen = BTreeSet::new();
        for w in &wanted {
            let kind = kind_of(&w.role);
            if !seen.insert(w.address.clone())
                || reached.contains(&w.address)
                || self.ignore.contains(&w.address)
                || (kind == "missing-list" && !self.lists)
            {
                continue;
            }
            let role = if w.role.is_empty() {
                String::new()
            } else {
                format!(" ({})", w.role)
            };
            findings.push(Finding::warning(
                kind,
                format!("{}{role} was not sent the series", w.display),
            ));
        }
        if shortened > 0 {
            findings.push(Finding::info(
                "headers-only",
                format!(
                    "{} over max-bytes ({}) read by file names only: K: keywords not matched",
                    plural(shortened, "patch"),
                    self.max_bytes
                ),
            ));
        }
        Raw::ran(
            format!(
                "{} named by MAINTAINERS for {}, all sent the series",
                plural(seen.len(), "maintainer or list"),
                plural(files, "file")
            ),
            findings,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let w = parse_line("Jens Axboe <axboe@kernel.dk> (maintainer:IO_URING)")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(w.address, "axboe@kernel.dk");
        assert_eq!(w.role, "maintainer:IO_URING");
        assert_eq!(kind_of(&w.role), "missing-maintainer");
        let w = parse_line("io-uring@vger.kernel.org (open list:IO_URING)")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(w.address, "io-uring@vger.kernel.org");
        assert_eq!(kind_of(&w.role), "missing-list");
        let w = parse_line("\"Doe, John\" <John@Example.org> (reviewer:FOO (BAR))")
            .unwrap_or_else(|| unreachable!());
        assert_eq!(w.address, "john@example.org");
        assert_eq!(w.role, "reviewer:FOO (BAR)");
        assert_eq!(parse_line(""), None);
        assert_eq!(parse_line("no address here"), None);
    }
}

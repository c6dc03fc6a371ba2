//! Compiler, linker and make diagnostics read from a build log, and the warnings a patch adds.
//!
//! GCC and Clang print `FILE:LINE:COL: warning: MESSAGE [-Wflag]` (the column is optional),
//! followed by `note:` lines and the quoted source line with a caret; the linker prints
//! `…: undefined reference to …`; kbuild's modpost prints `WARNING: modpost: …` and `ERROR:
//! modpost: …`; make says `make[N]: *** […] Error 1`. Paths are made relative to the source
//! tree (kbuild prints absolute paths when it builds with `O=`).

use std::collections::HashMap;
use std::path::Path;

use gauntlet_verdict::Severity;
use serde::{Deserialize, Serialize};

/// One diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Relative to the source tree when it is inside it.
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
    /// The warning's option (`-Wunused-variable`).
    pub flag: Option<String>,
    /// The lines that came with it: the function it is in, notes, the quoted source.
    pub context: Vec<String>,
    /// Line of the log it was read from (1-based).
    pub log_line: usize,
}

impl Diagnostic {
    /// `file:line:col: severity: message [flag]`, as a compiler prints it.
    pub fn headline(&self) -> String {
        let mut s = String::new();
        if let Some(file) = &self.file {
            s.push_str(file);
            if let Some(line) = self.line {
                s.push_str(&format!(":{line}"));
                if let Some(col) = self.column {
                    s.push_str(&format!(":{col}"));
                }
            }
            s.push_str(": ");
        }
        s.push_str(self.severity.as_str());
        s.push_str(": ");
        s.push_str(&self.message);
        if let Some(flag) = &self.flag {
            s.push_str(&format!(" [{flag}]"));
        }
        s
    }

    /// What identifies a warning across versions of a file (line numbers move).
    fn key(&self) -> (Option<&str>, &str, Option<&str>) {
        (
            self.file.as_deref(),
            self.message.as_str(),
            self.flag.as_deref(),
        )
    }
}

/// At most this many diagnostics are kept from one log (a broken header can produce millions).
pub const MAX_DIAGNOSTICS: usize = 2_000;
/// Context lines kept per diagnostic.
const MAX_CONTEXT: usize = 12;

/// Reads the diagnostics of a build log. `roots` are the directories stripped from paths (the
/// source tree, then the build directory).
pub fn parse(log: &str, roots: &[&Path]) -> Vec<Diagnostic> {
    let prefixes: Vec<String> = roots
        .iter()
        .map(|r| {
            let mut s = r.display().to_string();
            if !s.ends_with('/') {
                s.push('/');
            }
            s
        })
        .collect();
    let relative = |path: &str| -> String {
        for prefix in &prefixes {
            if let Some(rest) = path.strip_prefix(prefix.as_str()) {
                return rest.to_owned();
            }
        }
        path.strip_prefix("./").unwrap_or(path).to_owned()
    };
    let mut out: Vec<Diagnostic> = Vec::new();
    // "In function …" lines come before the diagnostic they introduce.
    let mut pending_context: Vec<String> = Vec::new();
    for (index, raw) in log.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if out.len() >= MAX_DIAGNOSTICS {
            break;
        }
        if let Some(d) = compiler_line(line, index + 1, &relative) {
            if d.severity == Severity::Info {
                // A note belongs to the diagnostic before it.
                if let Some(last) = out.last_mut()
                    && last.context.len() < MAX_CONTEXT
                {
                    last.context.push(line.to_owned());
                }
                continue;
            }
            let mut d = d;
            d.context = std::mem::take(&mut pending_context);
            out.push(d);
            continue;
        }
        if is_in_function(line) {
            pending_context = vec![line.to_owned()];
            continue;
        }
        if is_source_quote(line) {
            if let Some(last) = out.last_mut()
                && last.context.len() < MAX_CONTEXT
            {
                last.context.push(line.to_owned());
            }
            continue;
        }
        if let Some(d) = other_line(line, index + 1, &relative) {
            pending_context.clear();
            out.push(d);
        }
    }
    out
}

/// `FILE:LINE[:COL]: (warning|error|fatal error|note): MESSAGE [FLAG]`
fn compiler_line(
    line: &str,
    log_line: usize,
    relative: &dyn Fn(&str) -> String,
) -> Option<Diagnostic> {
    for (marker, severity) in [
        (": fatal error: ", Severity::Error),
        (": error: ", Severity::Error),
        (": warning: ", Severity::Warning),
        (": note: ", Severity::Info),
    ] {
        let Some(at) = line.find(marker) else {
            continue;
        };
        let location = &line[..at];
        let message = &line[at + marker.len()..];
        let mut parts = location.rsplitn(3, ':');
        let last = parts.next()?;
        let (file, line_no, column) = match (last.parse::<u32>(), parts.next(), parts.next()) {
            (Ok(col), Some(l), Some(file)) if l.parse::<u32>().is_ok() => {
                (file, l.parse::<u32>().ok(), Some(col))
            }
            (Ok(l), Some(file_and_more), None) => (file_and_more, Some(l), None),
            (Ok(l), Some(mid), Some(head)) => {
                // `a:b:12` where `b` is not a number: the file has a colon in it.
                let file = &location[..head.len() + 1 + mid.len()];
                (file, Some(l), None)
            }
            _ => (location, None, None),
        };
        if file.is_empty() || file.contains(' ') && !file.contains('/') {
            return None;
        }
        let (message, flag) = split_flag(message);
        return Some(Diagnostic {
            severity,
            file: Some(relative(file)),
            line: line_no,
            column,
            message: message.to_owned(),
            flag,
            context: Vec::new(),
            log_line,
        });
    }
    None
}

/// `message [-Wflag]` → (`message`, `-Wflag`).
fn split_flag(message: &str) -> (&str, Option<String>) {
    let trimmed = message.trim_end();
    if trimmed.ends_with(']')
        && let Some(open) = trimmed.rfind(" [")
    {
        let flag = &trimmed[open + 2..trimmed.len() - 1];
        if flag.starts_with("-W") || flag.starts_with("-f") {
            return (&trimmed[..open], Some(flag.to_owned()));
        }
    }
    (trimmed, None)
}

fn is_in_function(line: &str) -> bool {
    (line.contains(": In function ")
        || line.contains(": In member function ")
        || line.contains(": At top level:")
        || line.contains(": In file included from "))
        && !line.starts_with(' ')
}

/// The quoted source and caret lines GCC prints: `  123 |   int x;` and `      |       ^`.
fn is_source_quote(line: &str) -> bool {
    let trimmed = line.trim_start();
    let Some(bar) = trimmed.find('|') else {
        return false;
    };
    line.starts_with(' ') && trimmed[..bar].trim().chars().all(|c| c.is_ascii_digit())
}

/// Linker, modpost and make failures.
fn other_line(
    line: &str,
    log_line: usize,
    relative: &dyn Fn(&str) -> String,
) -> Option<Diagnostic> {
    let diagnostic = |severity, file: Option<String>, message: &str| Diagnostic {
        severity,
        file,
        line: None,
        column: None,
        message: message.trim().to_owned(),
        flag: None,
        context: Vec::new(),
        log_line,
    };
    if let Some(rest) = line.strip_prefix("WARNING: modpost: ") {
        return Some(diagnostic(Severity::Warning, None, rest));
    }
    if let Some(rest) = line.strip_prefix("ERROR: modpost: ") {
        return Some(diagnostic(Severity::Error, None, rest));
    }
    if line.contains("undefined reference to") || line.contains("multiple definition of") {
        // `ld: kernel/sys.o: in function `f': sys.c:(.text+0x1): undefined reference to `g'`
        let file = line
            .split(": ")
            .nth(1)
            .filter(|f| f.ends_with(".o") || f.ends_with(".a"))
            .map(relative);
        let message = line
            .rfind("undefined reference to")
            .or_else(|| line.rfind("multiple definition of"))
            .map(|at| &line[at..])
            .unwrap_or(line);
        return Some(diagnostic(Severity::Error, file, message));
    }
    if (line.starts_with("make: *** ") || line.starts_with("make[")) && line.contains("*** ") {
        // make's own summary: kept as context of the failure, not as a new diagnostic, unless
        // nothing else explains the failure (the caller checks that).
        if line.contains("Error ") || line.contains("No rule to make target") {
            let message = line.split("*** ").nth(1).unwrap_or(line);
            return Some(Diagnostic {
                severity: Severity::Info,
                ..diagnostic(Severity::Info, None, message)
            });
        }
    }
    None
}

/// The warnings of `head` that `base` does not have (compared by file, message and flag, so a
/// warning that only moved is not new; a warning that appears more often is new that many
/// times).
pub fn new_warnings<'a>(head: &'a [Diagnostic], base: &[Diagnostic]) -> Vec<&'a Diagnostic> {
    let mut budget: HashMap<(Option<&str>, &str, Option<&str>), usize> = HashMap::new();
    for d in base.iter().filter(|d| d.severity == Severity::Warning) {
        *budget.entry(d.key()).or_default() += 1;
    }
    let mut out = Vec::new();
    for d in head.iter().filter(|d| d.severity == Severity::Warning) {
        match budget.get_mut(&d.key()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => out.push(d),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "  CC      kernel/sys.o
/w/slot0/kernel/sys.c: In function 'do_sys_foo':
/w/slot0/kernel/sys.c:123:13: warning: unused variable 'x' [-Wunused-variable]
  123 |         int x;
      |             ^
/w/slot0/kernel/sys.c:130:2: error: implicit declaration of function 'bar' [-Werror=implicit-function-declaration]
  130 |  bar();
      |  ^~~
/w/slot0/include/linux/foo.h:5:1: note: declared here
cc1: some warnings being treated as errors
make[3]: *** [/w/slot0/scripts/Makefile.build:250: kernel/sys.o] Error 1
ld: kernel/proctree.o: in function `sys_proctree': proctree.c:(.text+0x1f): undefined reference to `walk_tasks'
WARNING: modpost: vmlinux.o: section mismatch in reference: foo (section: .text) -> bar (section: .init.text)
drivers/x.c:7: warning: no column here
";

    #[test]
    fn reads_gcc_ld_modpost_and_make() {
        let ds = parse(LOG, &[Path::new("/w/slot0"), Path::new("/b/x86_64")]);
        let headlines: Vec<String> = ds.iter().map(Diagnostic::headline).collect();
        assert_eq!(
            headlines,
            [
                "kernel/sys.c:123:13: warning: unused variable 'x' [-Wunused-variable]",
                "kernel/sys.c:130:2: error: implicit declaration of function 'bar' [-Werror=implicit-function-declaration]",
                "info: [/w/slot0/scripts/Makefile.build:250: kernel/sys.o] Error 1",
                "kernel/proctree.o: error: undefined reference to `walk_tasks'",
                "warning: vmlinux.o: section mismatch in reference: foo (section: .text) -> bar (section: .init.text)",
                "drivers/x.c:7: warning: no column here",
            ]
        );
        assert_eq!(
            ds[0].context[0],
            "/w/slot0/kernel/sys.c: In function 'do_sys_foo':"
        );
        assert_eq!(ds[0].context[1], "  123 |         int x;");
        assert_eq!(
            ds[1].context.last().map(String::as_str),
            Some("/w/slot0/include/linux/foo.h:5:1: note: declared here")
        );
        assert_eq!(ds[0].log_line, 3);
    }

    #[test]
    fn new_warnings_ignore_moved_lines_and_count_repeats() {
        let head = parse(
            "a.c:10:1: warning: unused variable 'x' [-Wunused-variable]\n\
             a.c:20:1: warning: unused variable 'x' [-Wunused-variable]\n\
             b.c:3:1: warning: shadow [-Wshadow]\n",
            &[],
        );
        let base = parse(
            "a.c:8:1: warning: unused variable 'x' [-Wunused-variable]\n\
             c.c:1:1: warning: gone [-Wother]\n",
            &[],
        );
        let new: Vec<String> = new_warnings(&head, &base)
            .iter()
            .map(|d| d.headline())
            .collect();
        assert_eq!(
            new,
            [
                "a.c:20:1: warning: unused variable 'x' [-Wunused-variable]",
                "b.c:3:1: warning: shadow [-Wshadow]"
            ]
        );
    }

    #[test]
    fn junk_is_bounded() {
        let junk = "x.c:1:1: warning: w\n".repeat(MAX_DIAGNOSTICS * 3);
        assert_eq!(parse(&junk, &[]).len(), MAX_DIAGNOSTICS);
        assert!(parse("\u{0}\u{1}:::: warning: \n: error: \n", &[]).len() <= 2);
    }
}

//! Program trees: where setups, tests, monitors, daemons and stats parsers are found, with the
//! options their headers declare.
//!
//! A tree is gauntlet's own (embedded in the binary, written out with [`builtin_tree_write`])
//! or an LKP source tree (`--lkp-src DIR`), in either of LKP's layouts:
//! `programs/NAME/{setup,run,daemon,monitor,no-stdout-monitor,one-shot-monitor,plain-monitor,parse}`
//! or the older `setup/`, `tests/`, `monitors/{,no-stdout/,one-shot/,plain/}`, `daemon/`, `stats/`.
//! A tree is also LKP_SRC for include search, `hosts/`, `include/` and `etc/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

include!(concat!(env!("OUT_DIR"), "/builtin_files.rs"));

/// What kind of program a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Setup,
    Test,
    Daemon,
    Monitor,
    NoStdoutMonitor,
    OneShotMonitor,
    PlainMonitor,
    Stats,
}

impl Kind {
    pub fn is_monitor(self) -> bool {
        matches!(
            self,
            Kind::Monitor | Kind::NoStdoutMonitor | Kind::OneShotMonitor | Kind::PlainMonitor
        )
    }

    /// Setups, tests and daemons: LKP's "workload elements".
    pub fn is_workload(self) -> bool {
        matches!(self, Kind::Setup | Kind::Test | Kind::Daemon)
    }

    fn current_file(self) -> &'static str {
        match self {
            Kind::Setup => "setup",
            Kind::Test => "run",
            Kind::Daemon => "daemon",
            Kind::Monitor => "monitor",
            Kind::NoStdoutMonitor => "no-stdout-monitor",
            Kind::OneShotMonitor => "one-shot-monitor",
            Kind::PlainMonitor => "plain-monitor",
            Kind::Stats => "parse",
        }
    }

    const ALL: [Kind; 8] = [
        Kind::Setup,
        Kind::Test,
        Kind::Daemon,
        Kind::Monitor,
        Kind::NoStdoutMonitor,
        Kind::OneShotMonitor,
        Kind::PlainMonitor,
        Kind::Stats,
    ];
}

/// Where a program was found: it decides the command line job2sh emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `programs/NAME/…`, run through `bin/run-*`.
    Current,
    /// `setup/NAME`, `tests/NAME`, … run through the `wrapper` scripts.
    Old,
}

/// One declared option: `# - name` (a value in the file name) or `# = name` (`name=value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramOption {
    pub name: String,
    pub key_value: bool,
}

/// A program of one kind.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: String,
    pub kind: Kind,
    pub layout: Layout,
    /// Path inside the tree (`programs/mytest/run`, `tests/ftq`, `monitors/plain/watchdog`).
    pub path: String,
    pub options: Vec<ProgramOption>,
}

/// A file or directory path, on disk or inside the embedded tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum SrcPath {
    Fs(PathBuf),
    Builtin(String),
}

impl SrcPath {
    pub(crate) fn display(&self) -> String {
        match self {
            SrcPath::Fs(p) => p.display().to_string(),
            SrcPath::Builtin(p) if p.is_empty() => "<builtin>".into(),
            SrcPath::Builtin(p) => format!("<builtin>/{p}"),
        }
    }

    pub(crate) fn join(&self, rel: &str) -> SrcPath {
        match self {
            SrcPath::Fs(p) => SrcPath::Fs(p.join(rel)),
            SrcPath::Builtin(p) => SrcPath::Builtin(normalize(&if p.is_empty() {
                rel.to_string()
            } else {
                format!("{p}/{rel}")
            })),
        }
    }

    pub(crate) fn parent(&self) -> SrcPath {
        match self {
            SrcPath::Fs(p) => SrcPath::Fs(p.parent().map(Path::to_path_buf).unwrap_or_default()),
            SrcPath::Builtin(p) => SrcPath::Builtin(
                p.rsplit_once('/')
                    .map(|(d, _)| d.to_string())
                    .unwrap_or_default(),
            ),
        }
    }

    pub(crate) fn file_name(&self) -> String {
        match self {
            SrcPath::Fs(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            SrcPath::Builtin(p) => p.rsplit('/').next().unwrap_or_default().to_string(),
        }
    }

    pub(crate) fn is_file(&self) -> bool {
        match self {
            SrcPath::Fs(p) => p.is_file(),
            SrcPath::Builtin(p) => builtin_file(p).is_some(),
        }
    }

    pub(crate) fn is_dir(&self) -> bool {
        match self {
            SrcPath::Fs(p) => p.is_dir(),
            SrcPath::Builtin(p) => {
                let prefix = format!("{p}/");
                p.is_empty() || BUILTIN_FILES.iter().any(|(f, _, _)| f.starts_with(&prefix))
            }
        }
    }

    /// The canonical identity of a file (for include-cycle detection).
    pub(crate) fn canonical(&self) -> SrcPath {
        match self {
            SrcPath::Fs(p) => SrcPath::Fs(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())),
            b => b.clone(),
        }
    }

    pub(crate) fn read_bytes(&self) -> Result<Vec<u8>> {
        match self {
            SrcPath::Fs(p) => std::fs::read(p).map_err(|e| Error::io(p, e)),
            SrcPath::Builtin(p) => builtin_file(p)
                .map(|(_, c, _)| c.as_bytes().to_vec())
                .ok_or_else(|| {
                    Error::io(
                        self.display(),
                        std::io::Error::from(std::io::ErrorKind::NotFound),
                    )
                }),
        }
    }

    /// Every file under this directory whose path ends with `/name` (`Dir.glob(dir/**/name)`),
    /// sorted. Symbolic links to directories are not followed; the walk stops after
    /// `MAX_WALK` entries.
    pub(crate) fn glob_recursive(&self, name: &str) -> Vec<SrcPath> {
        const MAX_WALK: usize = 200_000;
        let suffix = format!("/{name}");
        let mut found = Vec::new();
        match self {
            SrcPath::Builtin(dir) => {
                let prefix = if dir.is_empty() {
                    String::new()
                } else {
                    format!("{dir}/")
                };
                for (f, _, _) in BUILTIN_FILES {
                    if let Some(rel) = f.strip_prefix(&prefix)
                        && (rel == name || rel.ends_with(&suffix))
                    {
                        found.push(SrcPath::Builtin((*f).to_string()));
                    }
                }
            }
            SrcPath::Fs(dir) => {
                let mut stack = vec![dir.clone()];
                let mut seen = 0;
                while let Some(d) = stack.pop() {
                    let Ok(entries) = std::fs::read_dir(&d) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        seen += 1;
                        if seen > MAX_WALK {
                            tracing::warn!(dir = %dir.display(), "include search stopped after {MAX_WALK} entries");
                            stack.clear();
                            break;
                        }
                        let path = entry.path();
                        let Ok(ft) = entry.file_type() else { continue };
                        if ft.is_dir() {
                            stack.push(path);
                        } else if let Ok(rel) = path.strip_prefix(dir) {
                            let rel = rel.to_string_lossy();
                            if rel == name || rel.ends_with(&suffix) {
                                found.push(SrcPath::Fs(path));
                            }
                        }
                    }
                }
            }
        }
        found.sort();
        found
    }
}

fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn builtin_file(path: &str) -> Option<&'static (&'static str, &'static str, bool)> {
    BUILTIN_FILES
        .binary_search_by(|(p, _, _)| (*p).cmp(path))
        .ok()
        .map(|i| &BUILTIN_FILES[i])
}

#[derive(Debug)]
struct Inner {
    root: SrcPath,
    /// Name → its programs (one per kind).
    programs: BTreeMap<String, Vec<Program>>,
    /// Options that `bin/run-test` and `bin/run-daemon` add to every test and daemon.
    runner_options: Vec<ProgramOption>,
    /// Files under `include/` and `programs/*/include`, for the auto-includes (defaults).
    include_files: std::collections::BTreeSet<String>,
}

/// A set of programs, and the tree they live in. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ProgramTree(Arc<Inner>);

/// Reads `# - name` / `# = name` lines up to the first empty line (LKP's `bin/program-options`).
pub fn parse_options(script: &str) -> Vec<ProgramOption> {
    let mut out = Vec::new();
    for line in script.lines() {
        if line.is_empty() {
            break;
        }
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let (key_value, name) = match (rest.strip_prefix("- "), rest.strip_prefix("= ")) {
            (Some(n), _) => (false, n),
            (_, Some(n)) => (true, n),
            _ => continue,
        };
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            && !out.iter().any(|o: &ProgramOption| o.name == name)
        {
            out.push(ProgramOption {
                name: name.to_string(),
                key_value,
            });
        }
    }
    out
}

/// The default options of LKP's `bin/run-test` and `bin/run-daemon`.
const RUNNER_OPTIONS: [&str; 3] = ["nr_instances", "cpu_node_bind", "mem_node_bind"];

impl ProgramTree {
    /// gauntlet's own tree, embedded in the binary.
    pub fn builtin() -> ProgramTree {
        let mut files: Vec<(String, bool, String)> = Vec::new();
        let mut includes = std::collections::BTreeSet::new();
        for (path, contents, exec) in BUILTIN_FILES {
            files.push(((*path).to_string(), *exec, (*contents).to_string()));
            if is_include_path(path) {
                includes.insert((*path).to_string());
            }
        }
        Self::from_listing(SrcPath::Builtin(String::new()), files, includes)
    }

    /// An LKP source tree on disk (either layout).
    pub fn lkp_src(dir: impl AsRef<Path>) -> Result<ProgramTree> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::Tree {
                path: dir.to_path_buf(),
                message: "not a directory (expected an LKP source tree)".into(),
            });
        }
        let mut files = Vec::new();
        let mut add = |rel: String, path: &Path| {
            let Ok(meta) = std::fs::metadata(path) else {
                return;
            };
            if !meta.is_file() || !is_executable(&meta) {
                return;
            }
            // Only the header matters: read at most 16 KiB.
            let header = read_head(path, 16 << 10);
            files.push((rel, true, header));
        };
        if let Ok(entries) = std::fs::read_dir(dir.join("programs")) {
            let mut names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
            names.sort();
            for name in names {
                let name = name.to_string_lossy().into_owned();
                for kind in Kind::ALL {
                    let rel = format!("programs/{name}/{}", kind.current_file());
                    add(rel.clone(), &dir.join(&rel));
                }
            }
        }
        for old in [
            "setup",
            "tests",
            "daemon",
            "monitors",
            "monitors/no-stdout",
            "monitors/one-shot",
            "monitors/plain",
            "stats",
        ] {
            let recursive = matches!(old, "setup" | "tests" | "daemon" | "stats");
            let mut stack = vec![String::from(old)];
            while let Some(d) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(dir.join(&d)) else {
                    continue;
                };
                let mut names: Vec<_> = entries.flatten().collect();
                names.sort_by_key(|e| e.file_name());
                for e in names {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let rel = format!("{d}/{n}");
                    if e.path().is_dir() {
                        if recursive {
                            stack.push(rel);
                        }
                        continue;
                    }
                    add(rel, &e.path());
                }
            }
        }
        for runner in ["bin/run-test", "bin/run-daemon"] {
            let path = dir.join(runner);
            if path.is_file() {
                files.push((runner.to_string(), false, read_head(&path, 16 << 10)));
            }
        }
        let mut includes = std::collections::BTreeSet::new();
        let mut stack = vec![(dir.join("include"), String::from("include"), 0)];
        if let Ok(entries) = std::fs::read_dir(dir.join("programs")) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                stack.push((
                    e.path().join("include"),
                    format!("programs/{name}/include"),
                    0,
                ));
            }
        }
        while let Some((path, rel, depth)) = stack.pop() {
            if path.is_file() {
                includes.insert(rel);
            } else if path.is_dir()
                && depth < 3
                && let Ok(entries) = std::fs::read_dir(&path)
            {
                for e in entries.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    stack.push((e.path(), format!("{rel}/{n}"), depth + 1));
                }
            }
        }
        Ok(Self::from_listing(
            SrcPath::Fs(dir.to_path_buf()),
            files,
            includes,
        ))
    }

    fn from_listing(
        root: SrcPath,
        files: Vec<(String, bool, String)>,
        include_files: std::collections::BTreeSet<String>,
    ) -> ProgramTree {
        let mut programs: BTreeMap<String, Vec<Program>> = BTreeMap::new();
        let mut runner_options = Vec::new();
        for (path, exec, contents) in &files {
            if path == "bin/run-test" || path == "bin/run-daemon" {
                for o in parse_options(contents) {
                    if !runner_options.contains(&o) {
                        runner_options.push(o);
                    }
                }
            }
            if !exec {
                continue;
            }
            let Some((name, kind, layout)) = classify(path) else {
                continue;
            };
            let options = if kind.is_workload() {
                parse_options(contents)
            } else {
                Vec::new()
            };
            let list = programs.entry(name.clone()).or_default();
            if !list.iter().any(|p| p.kind == kind) {
                list.push(Program {
                    name,
                    kind,
                    layout,
                    path: path.clone(),
                    options,
                });
            }
        }
        for name in RUNNER_OPTIONS {
            if !runner_options.iter().any(|o| o.name == name) {
                runner_options.push(ProgramOption {
                    name: name.into(),
                    key_value: false,
                });
            }
        }
        ProgramTree(Arc::new(Inner {
            root,
            programs,
            runner_options,
            include_files,
        }))
    }

    pub(crate) fn root(&self) -> &SrcPath {
        &self.0.root
    }

    /// The tree's directory, when it is on disk.
    pub fn dir(&self) -> Option<&Path> {
        match &self.0.root {
            SrcPath::Fs(p) => Some(p),
            SrcPath::Builtin(_) => None,
        }
    }

    /// Every program of `name`, one per kind.
    pub fn get(&self, name: &str) -> &[Program] {
        self.0.programs.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The program of `name` of that kind.
    pub fn find(&self, name: &str, kind: impl Fn(Kind) -> bool) -> Option<&Program> {
        self.get(name).iter().find(|p| kind(p.kind))
    }

    /// The workload program (setup, test or daemon) of that name; on a clash the later type in
    /// LKP's order (setup, tests, daemon) wins.
    pub fn workload(&self, name: &str) -> Option<&Program> {
        let list = self.get(name);
        [Kind::Daemon, Kind::Test, Kind::Setup]
            .into_iter()
            .find_map(|k| list.iter().find(|p| p.kind == k))
    }

    pub fn is_workload(&self, name: &str) -> bool {
        self.workload(name).is_some()
    }

    pub fn monitor(&self, name: &str) -> Option<&Program> {
        self.find(name, Kind::is_monitor)
    }

    pub fn stats(&self, name: &str) -> Option<&Program> {
        self.find(name, |k| k == Kind::Stats)
    }

    /// All program names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.programs.keys().map(String::as_str)
    }

    /// Options that every test and daemon accepts (`nr_instances`, `cpu_node_bind`, …).
    pub fn runner_options(&self) -> &[ProgramOption] {
        &self.0.runner_options
    }

    /// Is `rel` (`include/disk/nr_ssd`, `programs/fs/include`) an include file of the tree?
    pub(crate) fn has_include(&self, rel: &str) -> bool {
        self.0.include_files.contains(rel)
    }

    /// Is `rel` a directory of include files?
    pub(crate) fn has_include_dir(&self, rel: &str) -> bool {
        let prefix = format!("{rel}/");
        self.0
            .include_files
            .range(prefix.clone()..)
            .next()
            .is_some_and(|f| f.starts_with(&prefix))
    }

    /// The options a program declares (of all its workload kinds).
    pub fn options(&self, name: &str) -> impl Iterator<Item = &ProgramOption> {
        self.get(name)
            .iter()
            .filter(|p| p.kind.is_workload())
            .flat_map(|p| p.options.iter())
    }
}

fn is_include_path(path: &str) -> bool {
    path.starts_with("include/")
        || (path.starts_with("programs/") && path.split('/').nth(2) == Some("include"))
}

fn classify(path: &str) -> Option<(String, Kind, Layout)> {
    let parts: Vec<&str> = path.split('/').collect();
    let file = *parts.last()?;
    if file.ends_with(".yaml")
        || file
            .rsplit_once('.')
            .is_some_and(|(_, n)| n.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    match parts.as_slice() {
        ["programs", name, f] => Kind::ALL
            .into_iter()
            .find(|k| k.current_file() == *f)
            .map(|k| ((*name).to_string(), k, Layout::Current)),
        ["monitors", sub, name] => {
            let kind = match *sub {
                "no-stdout" => Kind::NoStdoutMonitor,
                "one-shot" => Kind::OneShotMonitor,
                "plain" => Kind::PlainMonitor,
                _ => return None,
            };
            (*name != "wrapper").then(|| ((*name).to_string(), kind, Layout::Old))
        }
        ["monitors", name] => {
            (*name != "wrapper").then(|| ((*name).to_string(), Kind::Monitor, Layout::Old))
        }
        [top, .., name] => {
            let kind = match *top {
                "setup" => Kind::Setup,
                "tests" => Kind::Test,
                "daemon" => Kind::Daemon,
                "stats" => Kind::Stats,
                _ => return None,
            };
            (*name != "wrapper").then(|| ((*name).to_string(), kind, Layout::Old))
        }
        _ => None,
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    true
}

fn read_head(path: &Path, max: usize) -> String {
    use std::io::Read;
    let mut buf = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(max as u64).read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The files of gauntlet's own tree: `(path, contents, executable)`.
pub fn builtin_files() -> impl Iterator<Item = (&'static str, &'static str, bool)> {
    BUILTIN_FILES.iter().copied()
}

/// Writes gauntlet's own tree into `dir` (created if needed), with executable bits: the
/// `LKP_SRC` a job2sh script runs with on the machine under test.
pub fn builtin_tree_write(dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    for (path, contents, exec) in BUILTIN_FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&target, contents).map_err(|e| Error::io(&target, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if *exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io(&target, e))?;
        }
        #[cfg(not(unix))]
        let _ = exec;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_stop_at_the_first_empty_line() {
        let o =
            parse_options("#!/bin/sh\n# - mode\n# - size\n# = flag\n# - nr_threads\n\n# - late\n");
        let names: Vec<_> = o.iter().map(|o| (o.name.as_str(), o.key_value)).collect();
        assert_eq!(
            names,
            [
                ("mode", false),
                ("size", false),
                ("flag", true),
                ("nr_threads", false)
            ]
        );
    }

    #[test]
    fn both_layouts_classify() {
        assert_eq!(
            classify("programs/hackbench/run"),
            Some(("hackbench".into(), Kind::Test, Layout::Current))
        );
        assert_eq!(
            classify("monitors/plain/watchdog"),
            Some(("watchdog".into(), Kind::PlainMonitor, Layout::Old))
        );
        assert_eq!(classify("tests/wrapper"), None);
        assert_eq!(classify("setup/x.yaml"), None);
        assert_eq!(
            classify("setup/fs/ext4"),
            Some(("ext4".into(), Kind::Setup, Layout::Old))
        );
    }
}

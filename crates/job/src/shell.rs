//! job2sh: an atomic job compiled to a POSIX shell script in LKP's structure.
//!
//! `export_top_env()` exports the top-level variables; `run_job()` runs, in each hash, five
//! passes in key order (exports, `script`/`function` definitions, setups, monitors, then tests,
//! daemons, `call`/`command`/`source` keys, `if`/`for`/`while`/`until` blocks and background
//! functions); `extract_stats()` runs the parsers. Every value is quoted so that the shell gets
//! exactly the value back (LKP's per-line quoting breaks on quotes and newlines).

use std::collections::HashMap;

use crate::error::{Error, Location, Result};
use crate::job::AtomicJob;
use crate::params::expand_params;
use crate::tree::{Kind, Layout, ProgramTree, SrcPath};
use crate::value::{Map, MapExt, Value};

/// Is `s` a shell variable name (LKP's `valid_shell_variable?`)?
pub fn is_shell_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Single-quotes a string for the shell: `it's` → `'it'\''s'`.
pub fn single_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A value as one shell word that expands to exactly the value (LKP's `shell_escape_expand`,
/// fixed): nil and `''` are empty, Integers bare, arrays joined with newlines, strings quoted.
pub fn shell_value(v: &Value) -> String {
    match v {
        Value::Nil => String::new(),
        Value::Int(n) => n.to_string(),
        Value::Array(items) => {
            let joined: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::Hash(_) => i.inspect(),
                    other => other.to_ruby_s(),
                })
                .collect();
            quote_text(&joined.join("\n"))
        }
        Value::Str(_) | Value::Template(_) => quote_text(v.as_str().unwrap_or("")),
        Value::Hash(_) => quote_text(&v.inspect()),
        other => {
            let s = other.to_ruby_s();
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.,:+=@%/-".contains(c))
            {
                s
            } else {
                quote_text(&s)
            }
        }
    }
}

fn quote_text(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        single_quote(s)
    }
}

/// LKP's `shell_encode_keyword`: every byte outside `[a-zA-Z0-9_]` becomes `_<byte>_`.
fn encode_keyword(k: &str) -> String {
    let mut out = String::new();
    for c in k.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("_{b}_"));
            }
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// Ruby's `Shellwords.shellsplit`.
fn shell_split(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(format!("unmatched quote in `{s}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err(format!("unmatched quote in `{s}`")),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(format!("unmatched quote in `{s}`")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// A program's environment: `(name, value)` pairs.
type Env = Vec<(String, Value)>;

#[derive(Clone, Copy, PartialEq)]
enum Pass {
    Export,
    NewScript,
    Setup,
    Monitors,
    Commands,
}

#[derive(Clone, Copy, PartialEq)]
enum Func {
    RunJob,
    Stats,
}

#[derive(Clone)]
enum Runner {
    Tree(Kind, Layout, String),
    /// A script the job itself wrote (`script tests/custom`): run by its path.
    Script(Kind, String),
}

struct Emitter<'a> {
    tree: &'a ProgramTree,
    lines: Vec<String>,
    time_lines: Vec<String>,
    scripts: HashMap<String, Runner>,
    func: Func,
    origin: String,
}

fn ends_block(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t == "{" || t == "then" || t == "do" || t.ends_with('{')
}

impl Emitter<'_> {
    fn out(&mut self, line: String) {
        self.lines.push(line);
    }

    fn blank(&mut self) {
        if self.lines.last().is_some_and(|l| !ends_block(l)) {
            self.lines.push(String::new());
        }
    }

    fn exec(&mut self, line: String) {
        if self.func == Func::RunJob {
            self.out(line);
        }
    }

    fn exec_blank(&mut self) {
        if self.func == Func::RunJob {
            self.blank();
        }
    }

    fn error(&self, message: String) -> Error {
        Error::Job {
            location: Location::new(self.origin.clone(), 1, 1),
            message,
        }
    }

    fn runner(&self, key: &str) -> Option<Runner> {
        if let Some(r) = self.scripts.get(key) {
            return Some(r.clone());
        }
        let list = self.tree.get(key);
        let pick = |pred: &dyn Fn(Kind) -> bool| {
            list.iter()
                .find(|p| pred(p.kind))
                .map(|p| Runner::Tree(p.kind, p.layout, p.path.clone()))
        };
        match self.func {
            Func::RunJob => pick(&|k| k == Kind::Setup)
                .or_else(|| pick(&|k| k == Kind::Daemon))
                .or_else(|| pick(&|k| k == Kind::Test))
                .or_else(|| pick(&Kind::is_monitor)),
            Func::Stats => pick(&|k| k == Kind::Stats),
        }
    }

    fn program_env(&self, v: &Value) -> Result<(Env, Vec<String>)> {
        let mut env = Vec::new();
        let mut args = Vec::new();
        match v {
            Value::Hash(h) => {
                for (k, vv) in h {
                    match vv {
                        Value::Hash(inner) => {
                            for (kk, vvv) in inner {
                                env.push((kk.to_ruby_s(), vvv.clone()));
                            }
                        }
                        other => env.push((k.to_ruby_s(), other.clone())),
                    }
                }
            }
            Value::Str(_) | Value::Template(_) => {
                let words = shell_split(v.as_str().unwrap_or("")).map_err(|e| self.error(e))?;
                args = words.iter().map(|w| single_quote(w)).collect();
            }
            Value::Int(_) | Value::Float(_) => args.push(shell_value(v)),
            _ => {}
        }
        Ok((env, args))
    }

    fn env_words(env: &[(String, Value)]) -> Vec<String> {
        env.iter()
            .map(|(k, v)| format!("{}={}", encode_keyword(k), shell_value(v)))
            .collect()
    }

    fn run_program(&mut self, tabs: &str, key: &str, runner: &Runner, v: &Value) -> Result<()> {
        let (env, args) = self.program_env(v)?;
        let kind = match runner {
            Runner::Tree(k, _, _) | Runner::Script(k, _) => *k,
        };
        if self.func == Func::Stats {
            let cmd = match runner {
                Runner::Tree(_, Layout::Old, _) => format!("\"$LKP_SRC\"/stats/wrapper {key}"),
                Runner::Script(_, path) => format!("\"$LKP_SRC\"/{path}"),
                Runner::Tree(..) => format!("\"$LKP_SRC\"/bin/run-stats {key}"),
            };
            let mut words = Vec::new();
            if !env.is_empty() {
                words.push("env".to_string());
                words.extend(Self::env_words(&env));
            }
            words.push(cmd);
            self.out(format!("\t{}", words.join(" ")));
            return Ok(());
        }
        if kind == Kind::Setup
            && env.is_empty()
            && args.is_empty()
            && matches!(key, "fs2" | "cpufreq_governor")
        {
            return Ok(());
        }
        let cmd = match runner {
            Runner::Script(_, path) => format!("\"$LKP_SRC\"/{path}"),
            Runner::Tree(kind, Layout::Current, _) => {
                let wrapper = match kind {
                    Kind::Setup => "run-setup",
                    Kind::Test => "run-test",
                    Kind::Daemon => "run-daemon",
                    Kind::Monitor => "run-monitor",
                    Kind::NoStdoutMonitor => "run-no-stdout-monitor",
                    Kind::OneShotMonitor => "run-one-shot-monitor",
                    Kind::PlainMonitor => "run-plain-monitor",
                    Kind::Stats => "run-stats",
                };
                format!("\"$LKP_SRC\"/bin/{wrapper} {key}")
            }
            Runner::Tree(kind, Layout::Old, path) => match kind {
                Kind::Setup | Kind::PlainMonitor => format!("\"$LKP_SRC\"/{path}"),
                Kind::Test => format!("\"$LKP_SRC\"/tests/wrapper {key}"),
                Kind::Daemon => format!("\"$LKP_SRC\"/daemon/wrapper {key}"),
                Kind::Monitor => format!("\"$LKP_SRC\"/monitors/wrapper {key}"),
                Kind::NoStdoutMonitor => format!("\"$LKP_SRC\"/monitors/no-stdout/wrapper {key}"),
                Kind::OneShotMonitor => format!("\"$LKP_SRC\"/monitors/one-shot/wrapper {key}"),
                Kind::Stats => format!("\"$LKP_SRC\"/stats/wrapper {key}"),
            },
        };
        let func = match kind {
            Kind::Setup => "run_setup",
            Kind::Test => "run_test",
            Kind::Daemon => "start_daemon",
            _ => "run_monitor",
        };
        if kind == Kind::Test {
            let time = match runner {
                Runner::Tree(_, Layout::Old, _) => {
                    format!("\t\"$LKP_SRC\"/stats/wrapper time {key}.time")
                }
                _ => format!("\t\"$LKP_SRC\"/bin/run-stats time {key}.time"),
            };
            self.time_lines.push(time);
        }
        let mut words = vec![func.to_string()];
        words.extend(Self::env_words(&env));
        words.push(cmd);
        words.extend(args);
        let consecutive_monitor = func == "run_monitor"
            && self
                .lines
                .last()
                .is_some_and(|l| l.trim_start().starts_with("run_monitor"));
        if !consecutive_monitor {
            self.exec_blank();
        }
        self.exec(format!("{tabs}{}", words.join(" ")));
        Ok(())
    }

    fn run_command(&mut self, tabs: &str, key: &str, v: &Value) -> Result<()> {
        let (env, args) = self.program_env(v)?;
        let name = if let Some(rest) = key.strip_prefix("source") {
            format!(".{rest}")
        } else if let Some(rest) = key.strip_prefix("call") {
            rest.trim_start().to_string()
        } else {
            key.to_string()
        };
        let mut words = Self::env_words(&env);
        words.push(name);
        words.extend(args);
        self.exec_blank();
        self.exec(format!("{tabs}{}", words.join(" ")));
        Ok(())
    }

    fn parse_hash(&mut self, depth: usize, hash: &Map) -> Result<()> {
        for pass in [
            Pass::Export,
            Pass::NewScript,
            Pass::Setup,
            Pass::Monitors,
            Pass::Commands,
        ] {
            for (k, v) in hash {
                let Some(key) = k.as_str() else { continue };
                self.parse_one(depth, key, v, pass)?;
            }
        }
        Ok(())
    }

    fn parse_one(&mut self, depth: usize, key: &str, v: &Value, pass: Pass) -> Result<bool> {
        let tabs = "\t".repeat(if self.func == Func::Stats { 1 } else { depth });
        let command_key = self.func == Func::RunJob
            && ["call", "command", "source"].iter().any(|w| {
                key.strip_prefix(w)
                    .is_some_and(|r| r.starts_with([' ', '\t']))
            });
        if let Some(runner) = self.runner(key) {
            let kind = match &runner {
                Runner::Tree(k, _, _) | Runner::Script(k, _) => *k,
            };
            let want = match kind {
                Kind::Setup => Pass::Setup,
                k if k.is_monitor() => Pass::Monitors,
                _ => Pass::Commands,
            };
            if pass == want {
                self.run_program(&tabs, key, &runner, v)?;
            }
            return Ok(true);
        }
        if command_key {
            if pass == Pass::Commands {
                self.run_command(&tabs, key, v)?;
            }
            return Ok(true);
        }
        if let Some(rest) = key.strip_prefix("script")
            && rest.starts_with([' ', '\t'])
            && let Some(body) = v.as_str()
        {
            let file = rest.trim();
            let valid = file.split_once('/').is_some_and(|(dir, name)| {
                matches!(dir, "monitors" | "setup" | "tests" | "daemon" | "stats")
                    && !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_/".contains(c))
                    && !name.split('/').any(|p| p.is_empty() || p == "..")
            });
            if !valid {
                tracing::warn!(key, "not a `script <dir>/<name>` key LKP accepts; skipped");
                return Ok(false);
            }
            if pass == Pass::NewScript {
                let dir = file.rsplit_once('/').map_or("tests", |(d, _)| d);
                let name = file.rsplit('/').next().unwrap_or(file).to_string();
                let kind = match dir.split('/').next().unwrap_or(dir) {
                    "setup" => Some(Kind::Setup),
                    "tests" => Some(Kind::Test),
                    "daemon" => Some(Kind::Daemon),
                    "monitors" => Some(Kind::Monitor),
                    _ => None,
                };
                if let Some(kind) = kind
                    && self.func == Func::RunJob
                {
                    self.scripts
                        .insert(name.clone(), Runner::Script(kind, file.to_string()));
                }
                if dir.starts_with("stats") && self.func == Func::Stats {
                    self.scripts
                        .insert(name, Runner::Script(Kind::Stats, file.to_string()));
                }
                let mut delim = String::from("EOF");
                let mut n = 0;
                while body.lines().any(|l| l == delim) {
                    n += 1;
                    delim = format!("EOF_{n}");
                }
                self.exec_blank();
                self.exec(format!("{tabs}mkdir -p \"$LKP_SRC\"/{dir}"));
                self.exec(format!("{tabs}cat > \"$LKP_SRC\"/{file} <<'{delim}'"));
                let body = body.strip_suffix('\n').unwrap_or(body);
                for l in body.split('\n') {
                    self.exec(l.to_string());
                }
                self.exec(delim);
                self.exec(format!("{tabs}chmod +x \"$LKP_SRC\"/{file}"));
                self.exec_blank();
            }
            return Ok(true);
        }
        if let Some(rest) = key.strip_prefix("function")
            && rest.starts_with([' ', '\t'])
            && is_shell_name(rest.trim())
            && let Some(body) = v.as_str()
        {
            if pass == Pass::NewScript {
                self.exec_blank();
                self.exec(format!("{tabs}{}()", rest.trim()));
                self.exec(format!("{tabs}{{"));
                let mut any = false;
                for l in body.lines() {
                    any |= !l.trim().is_empty();
                    self.exec(format!("\t{tabs}{l}"));
                }
                if !any {
                    self.exec(format!("\t{tabs}:"));
                }
                self.exec(format!("{tabs}}}"));
            }
            return Ok(true);
        }
        if let Value::Hash(h) = v {
            let block = ["if", "for", "while", "until"].into_iter().find(|w| {
                key.strip_prefix(w)
                    .is_some_and(|r| r.starts_with([' ', '\t']))
            });
            if pass != Pass::Commands {
                return Ok(true);
            }
            if let Some(word) = block {
                let (open, close) = if word == "if" {
                    ("then", "fi")
                } else {
                    ("do", "done")
                };
                self.exec_blank();
                self.exec(format!("{tabs}{key}"));
                self.exec(format!("{tabs}{open}"));
                let before = self.lines.len();
                self.parse_hash(depth + 1, h)?;
                if self.func == Func::RunJob && self.lines.len() == before {
                    self.exec(format!("\t{tabs}:"));
                }
                self.exec(format!("{tabs}{close}"));
                return Ok(true);
            }
            let mut name: String = key
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                name.insert(0, '_');
            }
            self.exec_blank();
            self.exec(format!("{tabs}{name}()"));
            self.exec(format!("{tabs}{{"));
            let before = self.lines.len();
            self.parse_hash(depth + 1, h)?;
            if self.func == Func::RunJob && self.lines.len() == before {
                self.exec(format!("\t{tabs}:"));
            }
            self.exec(format!("{tabs}}}"));
            self.exec(format!("{tabs}{name} &"));
            return Ok(true);
        }
        if is_shell_name(key) {
            if pass == Pass::Export {
                if let Some(s) = v.as_str()
                    && s.contains('\0')
                {
                    return Err(self.error(format!(
                        "the value of `{key}` contains a NUL byte, which no shell variable can hold"
                    )));
                }
                self.exec(format!("{tabs}export {key}={}", shell_value(v)));
            }
            return Ok(true);
        }
        if pass == Pass::Export && self.func == Func::RunJob {
            tracing::warn!(key, "not exported: not a shell variable name");
        }
        Ok(false)
    }
}

/// Compiles `job` (after the built-in param maps) to a shell script.
pub(crate) fn to_shell(job: &AtomicJob, tree: &ProgramTree) -> Result<String> {
    let origin = job.file_name().to_string();
    if !job.is_atomic() {
        return Err(Error::Job {
            location: Location::new(origin, 1, 1),
            message: "not an atomic job (it has no `arch`): expand it first \
                      (`gauntlet job expand`)"
                .into(),
        });
    }
    let map = expand_params(job.map(), tree);
    let mut e = Emitter {
        tree,
        lines: Vec::new(),
        time_lines: Vec::new(),
        scripts: HashMap::new(),
        func: Func::RunJob,
        origin,
    };
    e.out("#!/bin/sh".into());
    e.out(String::new());
    e.out("export_top_env()".into());
    e.out("{".into());
    let mut rest = Map::new();
    for (k, v) in &map {
        let exported = match k.as_str() {
            Some(key)
                if e.runner(key).is_none()
                    && !matches!(v, Value::Hash(_))
                    && is_shell_name(key) =>
            {
                e.parse_one(1, key, v, Pass::Export)?
            }
            _ => false,
        };
        if !exported {
            rest.insert(k.clone(), v.clone());
        }
    }
    e.blank();
    e.out("\t[ -n \"$LKP_SRC\" ] ||".into());
    e.out("\texport LKP_SRC=/lkp/${user:-lkp}/src".into());
    e.out("}".into());
    e.out(String::new());
    e.out("run_job()".into());
    e.out("{".into());
    e.out("\techo $$ > \"$TMP\"/run-job.pid".into());
    e.out(String::new());
    e.out("\t. \"$LKP_SRC\"/lib/http.sh".into());
    e.out("\t. \"$LKP_SRC\"/lib/job.sh".into());
    e.out("\t. \"$LKP_SRC\"/lib/env.sh".into());
    e.out(String::new());
    e.out("\texport_top_env".into());
    e.parse_hash(1, &rest)?;
    e.out("}".into());
    e.out(String::new());
    e.func = Func::Stats;
    e.out("extract_stats()".into());
    e.out("{".into());
    for k in ["stats_part_begin", "stats_part_end"] {
        let v = map.get_str(k).map(shell_value).unwrap_or_default();
        e.out(format!("\texport {k}={v}"));
    }
    e.out(String::new());
    e.parse_hash(1, &rest)?;
    if !e.time_lines.is_empty() {
        e.blank();
        let time = std::mem::take(&mut e.time_lines);
        e.lines.extend(time);
    }
    let defaults = tree.root().join("etc/default_stats.yaml");
    if defaults.is_file() {
        let names = default_stats(&defaults);
        for name in names {
            if tree.stats(&name).is_some() {
                e.out(format!("\t\"$LKP_SRC\"/bin/run-stats {name}"));
            }
        }
    }
    while e.lines.last().is_some_and(String::is_empty) {
        e.lines.pop();
    }
    e.out("}".into());
    e.out(String::new());
    e.out("\"$@\"".into());
    let mut script = e.lines.join("\n");
    script.push('\n');
    Ok(script)
}

fn default_stats(path: &SrcPath) -> Vec<String> {
    let Ok(text) = crate::template::read_text(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.starts_with([' ', '\t', '#', '-']))
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_value(&Value::str("it's\nok")), "'it'\\''s\nok'");
        assert_eq!(shell_value(&Value::str("")), "");
        assert_eq!(shell_value(&Value::Nil), "");
        assert_eq!(shell_value(&Value::Int(8)), "8");
        assert_eq!(shell_value(&Value::Float(1.5)), "1.5");
        assert_eq!(shell_value(&Value::Bool(true)), "true");
        assert_eq!(
            shell_value(&Value::Array(vec![Value::Int(1), Value::Int(2)])),
            "'1\n2'"
        );
        assert_eq!(encode_keyword("vm.a"), "vm_46_a");
        assert_eq!(
            shell_split("a 'b c' \"d\\\"e\" f\\ g").unwrap(),
            ["a", "b c", "d\"e", "f g"]
        );
        assert!(shell_split("'x").is_err());
    }
}

//! Matrix expansion (LKP's `each_job`) and atomic job names (`path_params`).
//!
//! Which arrays expand: those under a key that is one of EXPAND_DIMS, a workload program of the
//! job, an option a referenced program declares, a `bin/run-test`/`bin/run-daemon` option, or
//! `cluster`, at any depth. The first such array in depth-first key order is the outermost loop.
//! `{{ }}` strings are evaluated as the walk reaches them: earlier matrix keys hold this
//! combination's value, later ones are still arrays. A nil result drops the combination; an
//! empty array drops every combination under it.
//!
//! [`Matrix`] is a stack machine over one mutable job with an undo log: each atomic job costs
//! one walk from the changed position and one clone (the job handed out), never a copy of the
//! whole product.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::{Error, Location, Result};
use crate::expr::{self, Scope};
use crate::job::referenced_programs;
use crate::tree::ProgramTree;
use crate::value::{Map, MapExt, Template, Value};

/// LKP's EXPAND_DIMS.
pub const EXPAND_DIMS: [&str; 9] = [
    "kconfig",
    "commit",
    "rootfs",
    "ltp_commit",
    "nvml_commit",
    "blktests_commit",
    "qemu_commit",
    "perf_test_commit",
    "linux_commit",
];

/// What decides expansion and names for one part of a job.
#[derive(Debug)]
pub(crate) struct Naming {
    pub dims: Arc<HashSet<String>>,
    /// Workload programs of the tree (any, not only referenced).
    workloads: HashSet<String>,
    /// Options of referenced programs (and of the runners): `true` for `=` options.
    options: HashMap<String, bool>,
    monitors: HashSet<String>,
}

impl Naming {
    pub(crate) fn new(job: &Map, tree: &ProgramTree) -> Naming {
        let referenced = referenced_programs(job, tree);
        let mut dims: HashSet<String> = EXPAND_DIMS.iter().map(|s| s.to_string()).collect();
        dims.insert("cluster".into());
        let mut options = HashMap::new();
        for p in &referenced {
            dims.insert(p.clone());
            for o in tree.options(p) {
                dims.insert(o.name.clone());
                options.entry(o.name.clone()).or_insert(o.key_value);
            }
        }
        for o in tree.runner_options() {
            dims.insert(o.name.clone());
            options.entry(o.name.clone()).or_insert(o.key_value);
        }
        let mut workloads = HashSet::new();
        let mut monitors = HashSet::new();
        collect_program_keys(job, tree, &mut workloads, &mut monitors, 0);
        Naming {
            dims: Arc::new(dims),
            workloads,
            options,
            monitors,
        }
    }

    /// LKP's `path_params`.
    pub(crate) fn path_params(&self, job: &Map) -> String {
        let mut pairs: Vec<(String, &Value, bool)> = Vec::new();
        self.collect(job, &mut pairs, 0);
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut parts: Vec<String> = Vec::new();
        for (k, v, key_value) in pairs {
            if key_value {
                let s = v.to_ruby_s();
                if s.is_empty() {
                    parts.push(k);
                } else {
                    parts.push(format!("{k}={}", truncate(&s)));
                }
            } else if v.truthy() {
                parts.push(truncate(&v.to_ruby_s()));
            }
        }
        let joined = if parts.is_empty() {
            "defaults".to_string()
        } else {
            parts.join("-")
        };
        joined
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-+=:.%".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    fn collect<'j>(&self, m: &'j Map, out: &mut Vec<(String, &'j Value, bool)>, depth: usize) {
        for (k, v) in m {
            let Some(key) = k.as_str() else { continue };
            let option = self.options.get(key).copied();
            let is_param = self.workloads.contains(key) || option.is_some();
            match v {
                Value::Hash(h) if !self.monitors.contains(key) && depth < 256 => {
                    self.collect(h, out, depth + 1);
                }
                Value::Hash(_) => {}
                _ if is_param => out.push((key.to_string(), v, option.unwrap_or(false))),
                _ => {}
            }
        }
    }

    /// `<base>-<path_params>[-<commit>…][-<rootfs file>].yaml`.
    pub(crate) fn file_name(&self, base: &str, job: &Map) -> String {
        let mut name = format!("{base}-{}", self.path_params(job));
        // The commit dimensions, in EXPAND_DIMS order, then rootfs.
        for dim in EXPAND_DIMS.iter().filter(|d| d.ends_with("commit")) {
            if let Some(v) = job.get_str(dim)
                && v.truthy()
            {
                name.push('-');
                name.push_str(&v.to_ruby_s());
            }
        }
        if let Some(v) = job.get_str("rootfs")
            && v.truthy()
        {
            name.push('-');
            name.push_str(&rootfs_filename(&v.to_ruby_s()));
        }
        // A name never contains a path separator.
        let name = name.replace('/', "_");
        format!("{name}.yaml")
    }
}

fn collect_program_keys(
    m: &Map,
    tree: &ProgramTree,
    workloads: &mut HashSet<String>,
    monitors: &mut HashSet<String>,
    depth: usize,
) {
    for (k, v) in m {
        if let Some(s) = k.as_str() {
            if tree.is_workload(s) {
                workloads.insert(s.to_string());
            } else if tree.monitor(s).is_some() {
                monitors.insert(s.to_string());
            }
        }
        if let Value::Hash(h) = v
            && depth < 256
        {
            collect_program_keys(h, tree, workloads, monitors, depth + 1);
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(31).collect()
}

/// The last `[a-zA-Z0-9._-]+` component of a rootfs path.
pub fn rootfs_filename(rootfs: &str) -> String {
    let mut best = "";
    let mut start = None;
    for (i, c) in rootfs.char_indices() {
        let ok = c.is_ascii_alphanumeric() || "._-".contains(c);
        match (ok, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                best = &rootfs[s..i];
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        best = &rootfs[s..];
    }
    best.to_string()
}

/// Evaluates a `{{ }}` string against the job. `None` when an expression gives nil (the
/// combination is dropped). Several `{{ }}` are evaluated right-most first.
pub(crate) fn eval_template(t: &Template, job: &Map) -> Result<Option<Value>> {
    let mut rest = t.text.as_str();
    let mut parts: Vec<(&str, &str)> = Vec::new();
    while let Some(j) = rest.rfind("}}") {
        let Some(i) = rest[..j].rfind("{{") else {
            break;
        };
        parts.push((&rest[i + 2..j], &rest[j + 2..]));
        rest = &rest[..i];
    }
    if parts.is_empty() {
        return Ok(Some(Value::Str(t.text.clone())));
    }
    let head = rest.trim_start();
    let mut results = Vec::with_capacity(parts.len());
    for (src, _) in &parts {
        let v = eval_one(src, &t.location, job)?;
        if v.is_nil() {
            return Ok(None);
        }
        results.push(v);
    }
    if parts.len() == 1 && head.is_empty() && parts[0].1.trim().is_empty() {
        return Ok(results.pop());
    }
    let mut s = head.to_string();
    for (i, (_, tail)) in parts.iter().enumerate().rev() {
        s.push_str(&results[i].to_ruby_s());
        s.push_str(tail);
    }
    Ok(Some(Value::Str(s.trim_end().to_string())))
}

fn eval_one(src: &str, location: &Location, job: &Map) -> Result<Value> {
    let e = expr::parse(src).map_err(|e| Error::Template {
        location: location.clone(),
        message: format!(
            "in `{{{{{src}}}}}`: {} (outside the supported expression language)",
            e.0
        ),
    })?;
    expr::eval(&e, &Scope { job, locals: &[] }).map_err(|e| Error::Eval {
        location: location.clone(),
        message: format!("in `{{{{{src}}}}}`: {}", e.0),
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Site {
    Template,
    Array,
}

struct Frame {
    path: Vec<usize>,
    values: Vec<Value>,
    next: usize,
    undo_mark: usize,
}

enum State {
    Walk(Vec<usize>, bool),
    Backtrack,
    Done,
}

/// The matrix of one job part, as a stream of atomic job maps.
pub(crate) struct Matrix {
    job: Map,
    dims: Arc<HashSet<String>>,
    stack: Vec<Frame>,
    undo: Vec<(Vec<usize>, Value)>,
    state: State,
}

fn slot_mut<'m>(map: &'m mut Map, path: &[usize]) -> Option<&'m mut Value> {
    let (first, rest) = path.split_first()?;
    let mut v = map.get_index_mut(*first)?.1;
    for i in rest {
        match v {
            Value::Hash(h) => v = h.get_index_mut(*i)?.1,
            _ => return None,
        }
    }
    Some(v)
}

fn find_site(
    map: &Map,
    prefix: &mut Vec<usize>,
    from: Option<&[usize]>,
    inclusive: bool,
    dims: &HashSet<String>,
) -> Option<(Vec<usize>, Site)> {
    let start = from.and_then(|f| f.first().copied()).unwrap_or(0);
    for i in start..map.len() {
        let (k, v) = map.get_index(i)?;
        let on_path = from.and_then(|f| (f.first() == Some(&i)).then(|| &f[1..]));
        let equal = on_path.is_some_and(<[usize]>::is_empty);
        let ancestor = on_path.is_some_and(|r| !r.is_empty());
        if equal && !inclusive {
            continue;
        }
        prefix.push(i);
        if !ancestor {
            if matches!(v, Value::Template(_)) {
                return Some((prefix.clone(), Site::Template));
            }
            if matches!(v, Value::Array(_)) && k.as_str().is_some_and(|s| dims.contains(s)) {
                return Some((prefix.clone(), Site::Array));
            }
        }
        if let Value::Hash(h) = v
            && let Some(found) = find_site(
                h,
                prefix,
                if ancestor { on_path } else { None },
                inclusive,
                dims,
            )
        {
            return Some(found);
        }
        prefix.pop();
    }
    None
}

impl Matrix {
    pub(crate) fn new(job: Map, dims: Arc<HashSet<String>>) -> Matrix {
        Matrix {
            job,
            dims,
            stack: Vec::new(),
            undo: Vec::new(),
            state: State::Walk(Vec::new(), true),
        }
    }

    fn set(&mut self, path: &[usize], v: Value) -> Value {
        match slot_mut(&mut self.job, path) {
            Some(slot) => std::mem::replace(slot, v),
            None => Value::Nil,
        }
    }

    /// The next atomic job, `None` at the end; an error ends the matrix.
    pub(crate) fn next_job(&mut self) -> Option<Result<Map>> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return None,
                State::Walk(from, inclusive) => {
                    let from_opt = if from.is_empty() {
                        None
                    } else {
                        Some(from.as_slice())
                    };
                    let found =
                        find_site(&self.job, &mut Vec::new(), from_opt, inclusive, &self.dims);
                    match found {
                        None => {
                            self.state = State::Backtrack;
                            return Some(Ok(self.job.clone()));
                        }
                        Some((path, Site::Template)) => {
                            let Some(Value::Template(t)) =
                                slot_mut(&mut self.job, &path).map(|v| v.clone())
                            else {
                                self.state = State::Backtrack;
                                continue;
                            };
                            match eval_template(&t, &self.job) {
                                Err(e) => return Some(Err(e)),
                                Ok(None) => self.state = State::Backtrack,
                                Ok(Some(v)) => {
                                    let old = self.set(&path, v);
                                    self.undo.push((path.clone(), old));
                                    self.state = State::Walk(path, false);
                                }
                            }
                        }
                        Some((path, Site::Array)) => {
                            let Value::Array(values) = self.set(&path, Value::Nil) else {
                                self.state = State::Backtrack;
                                continue;
                            };
                            if values.is_empty() {
                                self.set(&path, Value::Array(values));
                                self.state = State::Backtrack;
                                continue;
                            }
                            let first = values[0].clone();
                            self.set(&path, first);
                            self.stack.push(Frame {
                                path: path.clone(),
                                values,
                                next: 0,
                                undo_mark: self.undo.len(),
                            });
                            self.state = State::Walk(path, true);
                        }
                    }
                }
                State::Backtrack => {
                    let top = self.stack.last()?;
                    let mark = top.undo_mark;
                    while self.undo.len() > mark {
                        if let Some((p, old)) = self.undo.pop() {
                            self.set(&p, old);
                        }
                    }
                    let top = self.stack.last_mut()?;
                    top.next += 1;
                    if top.next < top.values.len() {
                        let v = top.values[top.next].clone();
                        let path = top.path.clone();
                        self.set(&path, v);
                        self.state = State::Walk(path, true);
                    } else if let Some(f) = self.stack.pop() {
                        self.set(&f.path, Value::Array(f.values));
                        self.state = State::Backtrack;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_names() {
        assert_eq!(
            rootfs_filename("/osimage/debian/debian-12-x86_64-20240206.cgz"),
            "debian-12-x86_64-20240206.cgz"
        );
        assert_eq!(rootfs_filename("debian-x86_64.cgz"), "debian-x86_64.cgz");
    }
}

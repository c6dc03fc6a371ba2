//! Job files: loading (LKP's `split-job` path), multi-part merging, hosts, command-line
//! overrides, auto-includes, and the stream of atomic jobs.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Location, Result};
use crate::expand::{self, Matrix};
use crate::revise::revise_hash;
use crate::source::SourceMap;
use crate::template::{self, IncludeSearch};
use crate::tree::{ProgramTree, SrcPath};
use crate::value::{Map, MapExt, StrKey, Value};
use crate::yaml::{self, Doc, Limits};

/// How to load a job file.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Programs, and LKP_SRC for includes, `hosts/` and `include/`.
    pub tree: ProgramTree,
    pub limits: Limits,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            tree: ProgramTree::builtin(),
            limits: Limits::default(),
        }
    }
}

/// A command-line revision of the job, applied as `split-job` applies it (`revise_hash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Override {
    /// `-s 'key: value'` (YAML).
    Yaml(String),
    /// `key=value` (the first `=` becomes `: `, then YAML).
    Assign(String),
}

/// How to expand a job file into atomic jobs.
#[derive(Debug, Clone, Default)]
pub struct ExpandOptions {
    /// `-t TESTBOX`: sets `testbox`, `tbox_group`, and merges `hosts/<testbox>`.
    pub testbox: Option<String>,
    /// `arch` when the job has none (default: this machine's).
    pub arch: Option<String>,
    /// `-s 'k: v'` and `k=v`, in command-line order.
    pub overrides: Vec<Override>,
    /// `--no-defaults`: no hosts file, no auto-includes.
    pub no_defaults: bool,
}

/// A loaded job file: its documents after includes and ERB, ready to expand.
#[derive(Debug, Clone)]
pub struct JobFile {
    path: PathBuf,
    /// The path as LKP writes it in `#!` and `job_origin` (relative to LKP_SRC when inside it).
    origin: String,
    docs: Vec<Doc>,
    tree: ProgramTree,
    limits: Limits,
}

/// LKP's `tbox_group`: `vm-snb-12` → `vm-snb`, `lkp-hsw-4ex1-10` → `lkp-hsw-4ex1`.
pub fn tbox_group(testbox: &str) -> String {
    let mut s = testbox.to_string();
    if let Some(i) = s.rfind('-')
        && i + 1 < s.len()
        && s[i + 1..].chars().all(|c| c.is_ascii_digit())
    {
        s.truncate(i);
    }
    let bytes: Vec<char> = s.chars().collect();
    for start in 0..bytes.len() {
        if bytes[start] != '-' {
            continue;
        }
        let mut end = start + 1;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        if end > start + 1 && end < bytes.len() && bytes[end] == '-' {
            let mut out: String = bytes[..start].iter().collect();
            out.push('-');
            out.extend(&bytes[end + 1..]);
            return out;
        }
    }
    s
}

fn check_top_level(doc: &Doc) -> Result<Option<Map>> {
    match &doc.value {
        Value::Nil => Ok(None),
        Value::Hash(h) => {
            for (k, _) in h {
                match k {
                    Value::Str(_) | Value::Template(_) | Value::Symbol(_) => {}
                    other => {
                        return Err(Error::Yaml {
                            location: doc
                                .non_string_key
                                .clone()
                                .unwrap_or_else(|| doc.location.clone()),
                            message: format!(
                                "top-level job keys must be strings, found the {} {}: quote it \
                                 (\"{}\":) if it is meant as a name",
                                other.type_name(),
                                other.inspect(),
                                other.to_ruby_s()
                            ),
                        });
                    }
                }
            }
            Ok(Some(h.clone()))
        }
        other => Err(Error::Yaml {
            location: doc.location.clone(),
            message: format!(
                "a job document must be a mapping (`key: value` lines), found {} {}",
                if matches!(other, Value::Array(_)) {
                    "an"
                } else {
                    "a"
                },
                other.type_name()
            ),
        }),
    }
}

/// Loads YAML text the way `split-job` does: comments, includes, `{{ }}`, ERB, then the stream.
pub(crate) fn load_template_text(
    text: &str,
    display: Arc<str>,
    this: &SrcPath,
    tree: &ProgramTree,
    limits: Limits,
    erb_context: Option<&Map>,
    locals: &[(&str, Value)],
) -> Result<Vec<Doc>> {
    let map = SourceMap::identity(display, text);
    let (text, map) = template::preserve_comments(text, &map)?;
    let search = IncludeSearch {
        root: tree.root().clone(),
    };
    let (text, map) = template::expand_includes(&text, &map, this, &search)?;
    let (text, map) = template::literal_double_braces(&text, &map)?;
    let (text, map) = template::expand_erb(&text, &map, erb_context, locals)?;
    yaml::load_stream(&text, &map, limits)
}

impl JobFile {
    /// Reads and prepares a job file: includes, `{{ }}` protection and ERB are done here.
    pub fn load(path: impl AsRef<Path>, options: &LoadOptions) -> Result<JobFile> {
        let path = path.as_ref();
        let src = SrcPath::Fs(path.to_path_buf());
        let text = template::read_text(&src)?;
        Self::from_text(&text, path, options)
    }

    /// Prepares job text as if read from `path` (includes are searched relative to it).
    pub fn from_text(text: &str, path: impl AsRef<Path>, options: &LoadOptions) -> Result<JobFile> {
        let path = path.as_ref();
        let display: Arc<str> = path.display().to_string().into();
        let src = SrcPath::Fs(path.to_path_buf());
        let docs = load_template_text(
            text,
            display,
            &src,
            &options.tree,
            options.limits,
            None,
            &[],
        )?;
        for doc in &docs {
            check_top_level(doc)?;
        }
        let origin = match options.tree.dir() {
            Some(root) => path
                .strip_prefix(root)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| path.display().to_string()),
            None => path.display().to_string(),
        };
        Ok(JobFile {
            path: path.to_path_buf(),
            origin,
            docs,
            tree: options.tree.clone(),
            limits: options.limits,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file name without `.yaml`: the start of every atomic job's name.
    pub fn base_name(&self) -> String {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        name.strip_suffix(".yaml")
            .map(str::to_string)
            .unwrap_or(name)
    }

    /// The documents (hash_0, hash_1, …) as loaded; an empty document is an empty hash.
    pub fn documents(&self) -> Vec<Map> {
        self.docs
            .iter()
            .map(|d| match &d.value {
                Value::Hash(h) => h.clone(),
                _ => Map::new(),
            })
            .collect()
    }

    fn key_location(&self, doc: usize, key: &str) -> Location {
        self.docs
            .get(doc)
            .and_then(|d| d.key_locations.get(key).cloned())
            .or_else(|| {
                self.docs
                    .first()
                    .and_then(|d| d.key_locations.get(key).cloned())
            })
            .unwrap_or_else(|| Location::new(self.path.display().to_string(), 1, 1))
    }

    /// The atomic jobs of this file, streamed: parts in order, each part's matrix in LKP's
    /// cartesian order. A `{{ }}` error ends the stream after being yielded.
    pub fn expand(&self, options: &ExpandOptions) -> Expansion<'_> {
        Expansion {
            file: self,
            options: options.clone(),
            prepared: None,
            part: 0,
            current: None,
            done: false,
        }
    }

    fn prepare(&self, options: &ExpandOptions) -> Result<Prepared> {
        let mut base = Map::new();
        base.insert(Value::Symbol(format!("#! {}", self.origin)), Value::Nil);
        if let Some(Value::Hash(h0)) = self.docs.first().map(|d| &d.value) {
            for (k, v) in h0 {
                base.insert(k.clone(), v.clone());
            }
        }
        if !base.contains_str("job_origin") {
            base.insert(Value::str("job_origin"), Value::str(self.origin.clone()));
        }
        if let Some(tb) = &options.testbox {
            base.insert(Value::str("testbox"), Value::str(tb.clone()));
        }
        let testbox = base
            .get_str("testbox")
            .and_then(Value::as_str)
            .map(str::to_string);
        if !base.contains_str("arch") {
            let arch = options
                .arch
                .clone()
                .unwrap_or_else(|| std::env::consts::ARCH.to_string());
            base.insert(Value::str("arch"), Value::str(arch));
        }
        if let Some(tb) = &testbox {
            let group = tbox_group(tb);
            if !base.contains_str("tbox_group") || options.testbox.is_some() {
                base.insert(Value::str("tbox_group"), Value::str(group.clone()));
            }
            if base.get_str("cluster").is_some_and(|v| !v.is_nil()) {
                base.insert(Value::str("node_roles"), Value::str("server client"));
            }
            if !options.no_defaults {
                self.merge_hosts(&mut base, tb, &group, options.testbox.is_some())?;
            }
        }
        let mut overrides = Map::new();
        let mut override_locations = HashMap::new();
        let yaml_first = options
            .overrides
            .iter()
            .filter(|o| matches!(o, Override::Yaml(_)))
            .chain(
                options
                    .overrides
                    .iter()
                    .filter(|o| matches!(o, Override::Assign(_))),
            );
        for (i, o) in yaml_first.enumerate() {
            let (text, what) = match o {
                Override::Yaml(s) => (s.clone(), format!("-s argument {}", i + 1)),
                Override::Assign(s) => (s.replacen('=', ": ", 1), format!("argument `{s}`")),
            };
            let display: Arc<str> = format!("<{what}>").into();
            let map = SourceMap::identity(display.clone(), &text);
            let doc = yaml::load_one(&text, &map, self.limits)?;
            match doc.map(|d| d.value) {
                Some(Value::Hash(h)) => {
                    for (k, v) in h {
                        if let Some(s) = k.as_str() {
                            override_locations
                                .insert(s.to_string(), Location::new(display.clone(), 1, 1));
                        }
                        overrides.insert(k, v);
                    }
                }
                Some(Value::Nil) | None => {}
                Some(other) => {
                    return Err(Error::Job {
                        location: Location::new(display, 1, 1),
                        message: format!(
                            "a command-line revision must be `key: value`, found {} {}",
                            other.type_name(),
                            other.inspect()
                        ),
                    });
                }
            }
        }
        Ok(Prepared {
            base,
            overrides,
            override_locations,
        })
    }

    fn merge_hosts(
        &self,
        base: &mut Map,
        testbox: &str,
        group: &str,
        required: bool,
    ) -> Result<()> {
        let root = self.tree.root();
        let file = [testbox, group]
            .into_iter()
            .map(|n| (n, root.join(&format!("hosts/{n}"))))
            .find(|(_, p)| p.is_file());
        let Some((name, path)) = file else {
            if required {
                return Err(Error::Job {
                    location: Location::new(self.path.display().to_string(), 1, 1),
                    message: format!(
                        "no hosts file for testbox `{testbox}`: expected {} (or hosts/{group})",
                        root.join(&format!("hosts/{testbox}")).display()
                    ),
                });
            }
            tracing::warn!(testbox, "no hosts file for the job's testbox");
            return Ok(());
        };
        let _ = name;
        let text = template::read_text(&path)?;
        let docs = load_template_text(
            &text,
            path.display().into(),
            &path,
            &self.tree,
            self.limits,
            None,
            &[],
        )?;
        let hosts = match docs.first() {
            Some(doc) => check_top_level(doc)?.unwrap_or_default(),
            None => Map::new(),
        };
        base.insert(Value::Symbol(format!("#! hosts/{group}")), Value::Nil);
        for (k, v) in hosts {
            if !base.contains_key(&k) {
                base.insert(k, v);
            }
        }
        Ok(())
    }

    /// Builds the job of part `i` (hash_0 + defaults + hash_i + overrides), ready to expand.
    fn part_job(
        &self,
        prepared: &Prepared,
        i: usize,
        no_defaults: bool,
    ) -> Result<(Map, BTreeSet<String>)> {
        let part = if i == 0 {
            Map::new()
        } else {
            match self.docs.get(i).map(|d| &d.value) {
                Some(Value::Hash(h)) => h.clone(),
                _ => Map::new(),
            }
        };
        let mut job = prepared.base.clone();
        let locate0 = |k: &str| self.key_location(0, k);
        let mut loaded = BTreeSet::new();
        let defaults = if no_defaults {
            Map::new()
        } else {
            // What the includes see: the job as it will be, arrays aside.
            let mut view = job.clone();
            revise_hash(&mut view, part.clone(), true, &|k: &str| {
                self.key_location(i, k)
            })?;
            revise_hash(&mut view, prepared.overrides.clone(), true, &|k: &str| {
                prepared.location(k, self)
            })?;
            crate::defaults::collect(&view, &self.tree, self.limits, &mut loaded, true)?
        };
        revise_hash(&mut job, defaults, false, &locate0)?;
        revise_hash(&mut job, part, true, &|k: &str| self.key_location(i, k))?;
        if !prepared.overrides.is_empty() {
            job.insert(Value::Symbol("#! user overrides".into()), Value::Nil);
            revise_hash(&mut job, prepared.overrides.clone(), true, &|k: &str| {
                prepared.location(k, self)
            })?;
        }
        Ok((job, loaded))
    }

    /// The parts to expand: hash_0 alone, then hash_0 + hash_i for each later document that is
    /// not empty (LKP also expands a trailing empty `---` document, duplicating hash_0).
    fn parts(&self) -> Vec<usize> {
        let mut parts = vec![0];
        for (i, doc) in self.docs.iter().enumerate().skip(1) {
            if doc.value.is_nil() {
                tracing::debug!(document = i, "empty document skipped");
                continue;
            }
            parts.push(i);
        }
        parts
    }
}

struct Prepared {
    base: Map,
    overrides: Map,
    override_locations: HashMap<String, Location>,
}

impl Prepared {
    fn location(&self, key: &str, file: &JobFile) -> Location {
        self.override_locations
            .get(key)
            .cloned()
            .unwrap_or_else(|| Location::new(file.path.display().to_string(), 1, 1))
    }
}

/// The stream of atomic jobs of a job file.
pub struct Expansion<'a> {
    file: &'a JobFile,
    options: ExpandOptions,
    prepared: Option<Prepared>,
    part: usize,
    current: Option<(Matrix, usize, Arc<expand::Naming>, BTreeSet<String>)>,
    done: bool,
}

impl Iterator for Expansion<'_> {
    type Item = Result<AtomicJob>;

    fn next(&mut self) -> Option<Result<AtomicJob>> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(job)) => Some(Ok(job)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl Expansion<'_> {
    fn step(&mut self) -> Result<Option<AtomicJob>> {
        let file = self.file;
        if self.prepared.is_none() {
            self.prepared = Some(file.prepare(&self.options)?);
        }
        loop {
            if let Some((matrix, part, naming, loaded)) = &mut self.current {
                match matrix.next_job() {
                    Some(Ok(mut job)) => {
                        if !self.options.no_defaults {
                            let mut loaded2 = loaded.clone();
                            let more = crate::defaults::collect(
                                &job,
                                &file.tree,
                                file.limits,
                                &mut loaded2,
                                false,
                            )?;
                            if !more.is_empty() {
                                revise_hash(&mut job, more, false, &|k: &str| {
                                    file.key_location(*part, k)
                                })?;
                            }
                        }
                        job.shift_remove(&StrKey("no_defaults"));
                        let name = naming.file_name(&file.base_name(), &job);
                        return Ok(Some(AtomicJob {
                            job,
                            file_name: name,
                            part: *part,
                        }));
                    }
                    Some(Err(e)) => return Err(e),
                    None => self.current = None,
                }
            }
            let parts = file.parts();
            let Some(&i) = parts.get(self.part) else {
                return Ok(None);
            };
            self.part += 1;
            let Some(prepared) = self.prepared.as_ref() else {
                return Ok(None);
            };
            let (job, loaded) = file.part_job(prepared, i, self.options.no_defaults)?;
            let naming = Arc::new(expand::Naming::new(&job, &file.tree));
            let matrix = Matrix::new(job, naming.dims.clone());
            self.current = Some((matrix, i, naming, loaded));
        }
    }
}

/// One atomic job: every matrix value chosen, `{{ }}` evaluated.
#[derive(Debug, Clone)]
pub struct AtomicJob {
    job: Map,
    file_name: String,
    part: usize,
}

impl AtomicJob {
    /// The file name LKP gives it: `<job>-<path_params>[-<commit>…][-<rootfs>].yaml`.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The job's keys and values (with `#! …` section markers as Symbol keys).
    pub fn map(&self) -> &Map {
        &self.job
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.job.get_str(key)
    }

    /// Which document of the file it comes from (0 for hash_0 alone).
    pub fn part(&self) -> usize {
        self.part
    }

    /// The job as LKP saves it: `---`, `#!` section comments, keys in order.
    pub fn to_yaml(&self) -> String {
        yaml::dump_document(&self.job)
    }

    /// Reads a saved atomic job (no includes, no ERB, as `job2sh` reads it).
    pub fn from_yaml(text: &str, origin: &str) -> Result<AtomicJob> {
        let display: Arc<str> = origin.into();
        let map = SourceMap::identity(display.clone(), text);
        let (text, map) = template::preserve_comments(text, &map)?;
        let doc = yaml::load_one(&text, &map, Limits::default())?;
        let job = match &doc {
            Some(d) => check_top_level(d)?.unwrap_or_default(),
            None => Map::new(),
        };
        let name = Path::new(origin)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(AtomicJob {
            job,
            file_name: name,
            part: 0,
        })
    }

    /// Reads a saved atomic job file.
    pub fn load(path: impl AsRef<Path>) -> Result<AtomicJob> {
        let path = path.as_ref();
        let text = template::read_text(&SrcPath::Fs(path.to_path_buf()))?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// Is it an atomic job (LKP's test: it has an `arch`)?
    pub fn is_atomic(&self) -> bool {
        self.job.contains_str("arch")
    }

    /// Compiles the job to the shell script that runs it (LKP's job2sh).
    pub fn to_shell(&self, tree: &ProgramTree) -> Result<String> {
        crate::shell::to_shell(self, tree)
    }
}

/// Names of programs referenced anywhere in a job (keys at any depth, through hashes).
pub(crate) fn referenced_programs(job: &Map, tree: &ProgramTree) -> HashSet<String> {
    let mut out = HashSet::new();
    fn walk(m: &Map, tree: &ProgramTree, out: &mut HashSet<String>, depth: usize) {
        for (k, v) in m {
            if let Some(s) = k.as_str()
                && tree.is_workload(s)
            {
                out.insert(s.to_string());
            }
            if let Value::Hash(h) = v
                && depth < 256
            {
                walk(h, tree, out, depth + 1);
            }
        }
    }
    walk(job, tree, &mut out, 0);
    out
}

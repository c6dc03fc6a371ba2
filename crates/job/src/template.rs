//! Text rewrites done before YAML parsing, in LKP's order: comment preservation, `<< : FILE`
//! includes, `{{ }}` protection (`literal_double_braces`), then the ERB subset.

use std::sync::{Arc, LazyLock};

use regex::Regex;

use crate::error::{Error, Location, Result};
use crate::expr::{self, Scope};
use crate::source::{LineOrigin, SourceMap, TextBuilder};
use crate::tree::SrcPath;
use crate::value::{Map, Value};
use crate::yaml::{self, Limits};

/// Includes nested deeper than this are refused (a cycle is reported before that).
const MAX_INCLUDE_DEPTH: usize = 32;

/// The text after includes may not grow past this (a file included many times over).
const MAX_SPLICED_BYTES: usize = 4 << 20;

static COMMENT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?m)\n\n#([! ][-a-zA-Z0-9 !|/?@<>.,_+=%~]+)$").ok());
static INCLUDE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(.*)<< *: +([^*\[].*)$").ok());
static BRACES: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?m)^([^\n]*?[:-]\s+)(\{\{(?s:.*?)\}\})").ok());

fn regex(r: &LazyLock<Option<Regex>>) -> Result<&Regex> {
    r.as_ref().ok_or_else(|| Error::Template {
        location: Location::new("<internal>", 0, 0),
        message: "internal regex failed to compile".into(),
    })
}

/// Replaces the matches of `re` in `text`, keeping track of where lines come from.
fn rewrite(
    text: &str,
    map: &SourceMap,
    re: &Regex,
    mut replace: impl FnMut(&regex::Captures<'_>) -> String,
) -> (String, SourceMap) {
    if !re.is_match(text) {
        return (text.to_string(), map.clone());
    }
    let mut out = TextBuilder::new(map.default_file.clone());
    let mut line = 1;
    let mut last = 0;
    let push_plain = |out: &mut TextBuilder, s: &str, line: &mut usize| {
        for (i, piece) in s.split('\n').enumerate() {
            if i > 0 {
                out.push_text("\n", &map.origin(*line));
                *line += 1;
            }
            out.push_text(piece, &map.origin(*line));
        }
    };
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        push_plain(&mut out, &text[last..m.start()], &mut line);
        let origin = map.origin(line);
        out.push_text(&replace(&caps), &origin);
        line += m.as_str().matches('\n').count();
        last = m.end();
    }
    push_plain(&mut out, &text[last..], &mut line);
    out.finish()
}

/// LKP keeps a column-0 comment that follows a blank line as a Symbol key `:"# text"`.
pub(crate) fn preserve_comments(text: &str, map: &SourceMap) -> Result<(String, SourceMap)> {
    let re = regex(&COMMENT)?;
    Ok(rewrite(text, map, re, |c| {
        format!("\n\n:#{}: ", c.get(1).map_or("", |m| m.as_str()))
    }))
}

/// Protects `key: {{ expr }}` and `- {{ expr }}` (not valid YAML) as literal blocks.
pub(crate) fn literal_double_braces(text: &str, map: &SourceMap) -> Result<(String, SourceMap)> {
    let re = regex(&BRACES)?;
    Ok(rewrite(text, map, re, |c| {
        let head = c.get(1).map_or("", |m| m.as_str());
        let expr = c.get(2).map_or("", |m| m.as_str());
        let pad = " ".repeat(head.chars().count() + 1);
        let body: Vec<String> = expr.split('\n').map(|l| format!("{pad}{l}")).collect();
        format!("{head}|\n{}", body.join("\n"))
    }))
}

/// Where includes are searched.
#[derive(Debug, Clone)]
pub(crate) struct IncludeSearch {
    /// LKP_SRC: the program tree's root.
    pub root: SrcPath,
}

/// One include site's parsed content: the file and its options.
struct IncludeSpec {
    file: String,
    ignore: Vec<String>,
    overrides: Vec<(String, Value)>,
}

fn parse_include_content(content: &str, location: &Location) -> Result<Option<IncludeSpec>> {
    let content = content.trim_end();
    if content.starts_with('{') {
        let map = SourceMap::identity(location.file.clone(), content);
        let parsed =
            yaml::load_one(content, &map, Limits::default()).map_err(|e| Error::Include {
                location: location.clone(),
                message: format!("cannot read the include options `{content}`: {e}"),
            })?;
        let Some(Value::Hash(h)) = parsed.map(|d| d.value) else {
            return Ok(None);
        };
        let Some(file) = h
            .iter()
            .find(|(k, _)| k.as_str() == Some("file"))
            .map(|(_, v)| v)
        else {
            // An inline merge mapping (`<<: {a: 1}`): left to YAML (LKP takes it for a file).
            return Ok(None);
        };
        let file = file.to_ruby_s();
        let mut ignore = Vec::new();
        let mut overrides = Vec::new();
        for (k, v) in &h {
            match k.as_str() {
                Some("file") => {}
                Some("ignore") => match v {
                    Value::Array(a) => ignore.extend(a.iter().map(Value::to_ruby_s)),
                    Value::Nil => {}
                    other => ignore.push(other.to_ruby_s()),
                },
                _ => overrides.push((k.to_ruby_s(), v.clone())),
            }
        }
        return Ok(Some(IncludeSpec {
            file,
            ignore,
            overrides,
        }));
    }
    let mut file = content;
    for q in ['"', '\''] {
        if file.len() >= 2 && file.starts_with(q) && file.ends_with(q) {
            file = &file[1..file.len() - 1];
            break;
        }
    }
    Ok(Some(IncludeSpec {
        file: file.to_string(),
        ignore: Vec::new(),
        overrides: Vec::new(),
    }))
}

/// LKP's `search_file_in_paths`: absolute; `./` or `../` relative; flat (`relative_to`, then
/// LKP_SRC); then recursive (the nearest `jobs` ancestor, `relative_to`, LKP_SRC).
pub(crate) fn search_include(file: &str, relative_to: &SrcPath, root: &SrcPath) -> Option<SrcPath> {
    if file.starts_with('/') {
        let p = SrcPath::Fs(file.into());
        return p.is_file().then_some(p);
    }
    if file.starts_with("./") || file.starts_with("../") {
        let p = relative_to.join(file);
        return p.is_file().then_some(p);
    }
    for dir in [relative_to, root] {
        let p = dir.join(file);
        if p.is_file() {
            return Some(p);
        }
    }
    let mut dirs = Vec::new();
    if !file.starts_with("jobs/") {
        let mut d = relative_to.clone();
        for _ in 0..64 {
            if d.file_name() == "jobs" {
                dirs.push(d.clone());
                break;
            }
            let parent = d.parent();
            if parent == d {
                break;
            }
            d = parent;
        }
    }
    dirs.push(relative_to.clone());
    dirs.push(root.clone());
    for dir in dirs {
        if !dir.is_dir() {
            continue;
        }
        if let Some(found) = dir.glob_recursive(file).into_iter().next() {
            return Some(found);
        }
    }
    None
}

/// Reads a file as UTF-8, with the location of the first invalid byte on error.
pub(crate) fn read_text(path: &SrcPath) -> Result<String> {
    let bytes = path.read_bytes()?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = String::from_utf8_lossy(&bytes[..valid]);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Error::Utf8 {
            location: Location::new(path.display(), line, column),
            message: format!(
                "byte 0x{:02x} at offset {valid} is not UTF-8 (job files must be UTF-8)",
                bytes.get(valid).copied().unwrap_or(0)
            ),
        }
    })
}

/// Include sites already resolved: (directory, name) → (file, canonical file, text).
type IncludeCache = std::collections::HashMap<(SrcPath, String), (SrcPath, SrcPath, Arc<str>)>;

/// Splices `<< : FILE` includes into the text, recursively (LKP does one pass; see README).
pub(crate) fn expand_includes(
    text: &str,
    map: &SourceMap,
    this: &SrcPath,
    search: &IncludeSearch,
) -> Result<(String, SourceMap)> {
    let mut chain = vec![this.canonical()];
    let mut cache = IncludeCache::new();
    let mut out = TextBuilder::new(map.default_file.clone());
    splice(
        text,
        map,
        this,
        search,
        (&mut chain, &mut cache),
        &mut out,
        "",
    )?;
    Ok(out.finish())
}

fn splice(
    text: &str,
    map: &SourceMap,
    this: &SrcPath,
    search: &IncludeSearch,
    (chain, cache): (&mut Vec<SrcPath>, &mut IncludeCache),
    out: &mut TextBuilder,
    indent: &str,
) -> Result<()> {
    let re = regex(&INCLUDE)?;
    let lines: Vec<&str> = text.split('\n').collect();
    let last = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().enumerate() {
        let mut origin = map.origin(i + 1);
        origin.col_shift -= indent.len() as isize;
        let newline = i != last;
        let keep_col0 = line.starts_with('%') && line[1..].chars().all(|c| c == '!' || c == '%');
        let emit = |out: &mut TextBuilder, l: &str, origin: &LineOrigin, newline: bool| {
            let pad = if keep_col0 || l.is_empty() {
                ""
            } else {
                indent
            };
            out.push_text(&format!("{pad}{l}"), origin);
            if newline {
                out.push_text("\n", origin);
            }
        };
        let is_comment = line.trim_start().starts_with('#');
        let caps = if is_comment { None } else { re.captures(line) };
        let Some(caps) = caps else {
            emit(out, line, &origin, newline);
            continue;
        };
        let prefix = caps.get(1).map_or("", |m| m.as_str());
        let content = caps.get(2).map_or("", |m| m.as_str());
        let col = caps.get(2).map_or(0, |m| line[..m.start()].chars().count());
        let location = map.locate(i + 1, col);
        let Some(spec) = parse_include_content(content, &location)? else {
            emit(out, line, &origin, newline);
            continue;
        };
        let relative_to = this.parent();
        let key = (relative_to.clone(), spec.file.clone());
        let cached = match cache.get(&key) {
            Some(hit) => Some(hit.clone()),
            None => match search_include(&spec.file, &relative_to, &search.root) {
                Some(found) => {
                    let canonical = found.canonical();
                    let text: Arc<str> = read_text(&found)?.into();
                    let entry = (found, canonical, text);
                    cache.insert(key, entry.clone());
                    Some(entry)
                }
                None => None,
            },
        };
        let Some((found, canonical, text)) = cached else {
            return Err(Error::Include {
                location,
                message: format!(
                    "included file not found: `{}` (searched {}, {}, the nearest `jobs` directory, \
                     and below them)",
                    spec.file,
                    relative_to.display(),
                    search.root.display()
                ),
            });
        };
        if let Some(pos) = chain.iter().position(|c| *c == canonical) {
            let cycle: Vec<String> = chain[pos..]
                .iter()
                .chain(std::iter::once(&canonical))
                .map(SrcPath::display)
                .collect();
            return Err(Error::Include {
                location,
                message: format!("include cycle: {}", cycle.join(" -> ")),
            });
        }
        if chain.len() >= MAX_INCLUDE_DEPTH {
            return Err(Error::Limit {
                location,
                message: format!("includes nested more than {MAX_INCLUDE_DEPTH} deep"),
            });
        }
        if out.text.len() > MAX_SPLICED_BYTES {
            return Err(Error::Limit {
                location,
                message: format!(
                    "the job grows past {} MiB with its includes",
                    MAX_SPLICED_BYTES >> 20
                ),
            });
        }
        tracing::debug!(file = %found.display(), "include");
        let included = apply_include_options(&text, &spec);
        let display: Arc<str> = found.display().into();
        let inc_map = SourceMap::identity(display, &included);
        // The prefix stays on its own line; the file follows, indented to the prefix's width.
        emit(out, prefix, &origin, true);
        let inner_indent = format!("{indent}{}", " ".repeat(prefix.chars().count()));
        chain.push(canonical);
        let body = included.strip_suffix('\n').unwrap_or(&included);
        splice(
            body,
            &inc_map,
            &found,
            search,
            (chain, cache),
            out,
            &inner_indent,
        )?;
        chain.pop();
        if newline {
            out.push_text("\n", &origin);
        }
    }
    Ok(())
}

/// `ignore: [a, b]` drops the key lines of FILE; other keys replace (or are appended to) every
/// `---` document of FILE. A replaced key's indented block goes too (LKP leaves it behind).
fn apply_include_options(text: &str, spec: &IncludeSpec) -> String {
    if spec.ignore.is_empty() && spec.overrides.is_empty() {
        return text.to_string();
    }
    let key_of = |line: &str| -> Option<String> {
        let end = line.find(':')?;
        let key = line[..end].trim_end();
        if key.is_empty() || line.starts_with([' ', '\t', '-', '#']) {
            return None;
        }
        Some(key.to_string())
    };
    let mut docs: Vec<Vec<String>> = vec![Vec::new()];
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            docs.push(vec![line.to_string()]);
            continue;
        }
        if let Some(d) = docs.last_mut() {
            d.push(line.to_string());
        }
    }
    let mut out = String::new();
    for doc in docs {
        let mut lines: Vec<String> = Vec::new();
        let mut skipping_block = false;
        let mut seen = vec![false; spec.overrides.len()];
        for line in doc {
            if skipping_block {
                if line.starts_with([' ', '\t']) || line.trim().is_empty() {
                    continue;
                }
                skipping_block = false;
            }
            if let Some(key) = key_of(&line) {
                if spec.ignore.contains(&key) {
                    continue;
                }
                if let Some(i) = spec.overrides.iter().position(|(k, _)| *k == key) {
                    seen[i] = true;
                    let value = yaml::dump_value_inline_flow(&spec.overrides[i].1);
                    lines.push(format!("{key}: {value}"));
                    skipping_block = true;
                    continue;
                }
            }
            lines.push(line);
        }
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        for (i, (k, v)) in spec.overrides.iter().enumerate() {
            if !seen[i] {
                lines.push(format!("{k}: {}", yaml::dump_value_inline_flow(v)));
            }
        }
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// ERB subset
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
enum Piece {
    Text(String, usize),
    Output(String, usize, usize),
    Code(String, usize, usize),
}

/// Cuts a template into text, `<%= %>` outputs and code (`<% %>` and `%` lines).
fn scan_erb(text: &str) -> std::result::Result<Vec<Piece>, (usize, usize, String)> {
    struct Acc {
        pieces: Vec<Piece>,
        cur: String,
        cur_line: usize,
    }
    impl Acc {
        fn push(&mut self, s: &str, line: usize) {
            if self.cur.is_empty() {
                self.cur_line = line;
            }
            self.cur.push_str(s);
        }
        fn flush(&mut self) {
            if !self.cur.is_empty() {
                self.pieces
                    .push(Piece::Text(std::mem::take(&mut self.cur), self.cur_line));
            }
        }
    }
    let mut acc = Acc {
        pieces: Vec::new(),
        cur: String::new(),
        cur_line: 1,
    };
    let mut line = 1;
    let mut rest = text;
    let mut at_line_start = true;
    while !rest.is_empty() {
        if at_line_start && rest.starts_with('%') {
            let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            let full = &rest[..end];
            let body = full.trim_end_matches('\n');
            if let Some(lit) = body.strip_prefix("%%") {
                acc.push("%", line);
                acc.push(lit, line);
                if full.ends_with('\n') {
                    acc.push("\n", line);
                }
            } else {
                acc.flush();
                acc.pieces.push(Piece::Code(body[1..].to_string(), line, 1));
            }
            line += 1;
            rest = &rest[end..];
            continue;
        }
        let next_nl = rest.find('\n');
        let next_tag = rest.find("<%");
        match (next_tag, next_nl) {
            (Some(t), nl) if nl.is_none_or(|n| t < n) => {
                acc.push(&rest[..t], line);
                let line_start = text.len() - rest.len() + t;
                let col = text[..line_start]
                    .rsplit('\n')
                    .next()
                    .map_or(0, |l| l.chars().count())
                    + 1;
                let after = &rest[t + 2..];
                at_line_start = false;
                if let Some(r) = after.strip_prefix('%') {
                    acc.push("<%", line);
                    rest = r;
                    continue;
                }
                let Some(close) = after.find("%>") else {
                    return Err((line, col, "`<%` without a closing `%>`".into()));
                };
                let inner = &after[..close];
                acc.flush();
                if let Some(e) = inner.strip_prefix('=') {
                    acc.pieces.push(Piece::Output(e.to_string(), line, col));
                } else if !inner.starts_with('#') {
                    acc.pieces.push(Piece::Code(inner.to_string(), line, col));
                }
                line += inner.matches('\n').count();
                rest = &after[close + 2..];
            }
            (_, Some(n)) => {
                acc.push(&rest[..=n], line);
                rest = &rest[n + 1..];
                line += 1;
                at_line_start = true;
            }
            (_, None) => {
                acc.push(rest, line);
                rest = "";
            }
        }
    }
    acc.flush();
    Ok(acc.pieces)
}

/// Does the text use ERB at all (LKP's test: a line starting with `%`, or `<%`)?
pub(crate) fn has_erb(text: &str) -> bool {
    text.starts_with('%') || text.contains("\n%") || text.contains("<%")
}

/// The text with every ERB tag and `%` line removed, newlines kept (LKP's pre-parse).
fn strip_erb(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<%") {
        out.push_str(&rest[..start]);
        match rest[start..].find("%>") {
            Some(end) => {
                let tag = &rest[start..start + end + 2];
                out.extend(std::iter::repeat_n('\n', tag.matches('\n').count()));
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.split('\n')
        .map(|l| {
            if l.starts_with('%') && !l.starts_with("%>") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug)]
struct Cond {
    /// The enclosing branch is output.
    parent: bool,
    /// Some branch of this `if` was taken already.
    taken: bool,
    /// This branch is output.
    active: bool,
    line: usize,
}

enum Stmt<'a> {
    /// Empty code or a Ruby comment (`%`, `% # note`, `<% %>`).
    Nop,
    If(&'a str, bool),
    Elsif(&'a str),
    Else,
    End,
}

fn statement(code: &str) -> Option<Stmt<'_>> {
    let code = code.trim();
    if code.is_empty() || code.starts_with('#') {
        return Some(Stmt::Nop);
    }
    let word_rest = |w: &str| -> Option<&str> {
        code.strip_prefix(w)
            .filter(|r| r.starts_with([' ', '\t', '(', '!']))
            .map(|r| r.trim().trim_end_matches(" then").trim())
    };
    if let Some(c) = word_rest("if") {
        return Some(Stmt::If(c, false));
    }
    if let Some(c) = word_rest("unless") {
        return Some(Stmt::If(c, true));
    }
    if let Some(c) = word_rest("elsif") {
        return Some(Stmt::Elsif(c));
    }
    match code {
        "else" => Some(Stmt::Else),
        "end" => Some(Stmt::End),
        _ => None,
    }
}

/// Expands the ERB subset: `<%= expr %>`, `<%# %>`, `<%% %>`, `%%`, and conditionals
/// (`% if/elsif/else/end`, `<% if %>…<% end %>`, `unless`). Anything else is refused.
///
/// `context` is merged over the keys of the first document of the ERB-stripped text, as LKP
/// does; `locals` are names like `___`.
pub(crate) fn expand_erb(
    text: &str,
    map: &SourceMap,
    context: Option<&Map>,
    locals: &[(&str, Value)],
) -> Result<(String, SourceMap)> {
    if !has_erb(text) {
        return Ok((text.to_string(), map.clone()));
    }
    let pieces = scan_erb(text).map_err(|(l, c, m)| Error::Template {
        location: map.locate(l, c - 1),
        message: m,
    })?;
    let mut job: Option<Map> = None;
    let mut load_job = || -> Result<Map> {
        if let Some(j) = &job {
            return Ok(j.clone());
        }
        let stripped = strip_erb(text);
        let doc = yaml::load_stream(&stripped, map, Limits::default()).map_err(|e| {
            let (location, msg) = match &e {
                Error::Yaml { location, message } => (location.clone(), message.clone()),
                other => (map.locate(1, 0), other.to_string()),
            };
            Error::Template {
                location,
                message: format!(
                    "this ERB template is too complex: with its ERB tags removed the text is not \
                     valid YAML ({msg}); LKP reads the job's own keys from that text, so it \
                     refuses such templates too"
                ),
            }
        })?;
        let mut m = match doc.into_iter().next().map(|d| d.value) {
            Some(Value::Hash(h)) => h,
            _ => Map::new(),
        };
        if let Some(ctx) = context {
            for (k, v) in ctx {
                m.insert(k.clone(), v.clone());
            }
        }
        job = Some(m.clone());
        Ok(m)
    };
    let mut out = TextBuilder::new(map.default_file.clone());
    let mut conds: Vec<Cond> = Vec::new();
    let active = |conds: &[Cond]| conds.last().is_none_or(|c| c.active);
    let eval_at = |src: &str, l: usize, c: usize, job: &Map| -> Result<Value> {
        let location = map.locate(l, c - 1);
        let e = expr::parse(src).map_err(|e| Error::Template {
            location: location.clone(),
            message: format!(
                "`{}` is outside the supported ERB subset: {}",
                src.trim(),
                e.0
            ),
        })?;
        expr::eval(&e, &Scope { job, locals }).map_err(|e| Error::Eval {
            location,
            message: format!("in `{}`: {}", src.trim(), e.0),
        })
    };
    for piece in &pieces {
        match piece {
            Piece::Text(t, l) => {
                if active(&conds) {
                    for (i, piece) in t.split('\n').enumerate() {
                        if i > 0 {
                            out.push_text("\n", &map.origin(l + i - 1));
                        }
                        out.push_text(piece, &map.origin(l + i));
                    }
                }
            }
            Piece::Output(src, l, c) => {
                if active(&conds) {
                    let job = load_job()?;
                    let v = eval_at(src, *l, *c, &job)?;
                    out.push_text(&v.to_ruby_s(), &map.origin(*l));
                }
            }
            Piece::Code(code, l, c) => {
                let location = map.locate(*l, c - 1);
                let Some(stmt) = statement(code) else {
                    return Err(Error::Template {
                        location,
                        message: format!(
                            "ERB code `{}` is outside the supported subset (only `<%= expr %>`, \
                             `<%# comment %>` and `if`/`unless`/`elsif`/`else`/`end` \
                             conditionals are supported; complex templates are refused by design)",
                            code.trim()
                        ),
                    });
                };
                match stmt {
                    Stmt::Nop => {}
                    Stmt::If(cond, negate) => {
                        let parent = active(&conds);
                        let value = if parent {
                            let job = load_job()?;
                            eval_at(cond, *l, *c, &job)?.truthy() != negate
                        } else {
                            false
                        };
                        conds.push(Cond {
                            parent,
                            taken: value,
                            active: parent && value,
                            line: *l,
                        });
                    }
                    Stmt::Elsif(cond) => {
                        let Some(top) = conds.last() else {
                            return Err(Error::Template {
                                location,
                                message: "`elsif` without `if`".into(),
                            });
                        };
                        let (parent, taken) = (top.parent, top.taken);
                        let value = if parent && !taken {
                            let job = load_job()?;
                            eval_at(cond, *l, *c, &job)?.truthy()
                        } else {
                            false
                        };
                        if let Some(top) = conds.last_mut() {
                            top.active = parent && !taken && value;
                            top.taken = taken || value;
                        }
                    }
                    Stmt::Else => {
                        let Some(top) = conds.last_mut() else {
                            return Err(Error::Template {
                                location,
                                message: "`else` without `if`".into(),
                            });
                        };
                        top.active = top.parent && !top.taken;
                        top.taken = true;
                    }
                    Stmt::End => {
                        if conds.pop().is_none() {
                            return Err(Error::Template {
                                location,
                                message: "`end` without `if`".into(),
                            });
                        }
                    }
                }
            }
        }
    }
    if let Some(open) = conds.last() {
        return Err(Error::Template {
            location: map.locate(open.line, 0),
            message: "this `if` has no `end`".into(),
        });
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn erb(text: &str) -> Result<String> {
        let map = SourceMap::identity("t.yaml".into(), text);
        expand_erb(text, &map, None, &[]).map(|(t, _)| t)
    }

    #[test]
    fn erb_spec_vectors() {
        let cases: &[(&str, &str)] = &[
            ("- hello <%# ERB %> world\n", "- hello  world\n"),
            (
                "% if true\n- hello world\n% else\n- hello!\n% end\n",
                "- hello world\n",
            ),
            (
                "- hello <% if true %> world <% else %> ! <% end %>\n",
                "- hello  world \n",
            ),
            ("- hello <%= 'world' %>\n", "- hello world\n"),
            ("a: world\nb: <%= a %>\n", "a: world\nb: world\n"),
            ("A: WORLD\nb: <%= self.A %>\n", "A: WORLD\nb: WORLD\n"),
            (
                "to-a: new-world\nb: <%= self['to-a'] %>\n",
                "to-a: new-world\nb: new-world\n",
            ),
            (
                "path: {TO: {the: new world}}\nb: <%= path.TO.the %>\n",
                "path: {TO: {the: new world}}\nb: new world\n",
            ),
            (
                "array: [new, world]\nb: <%= array[1] %>\nc: <%= array.last %>\n",
                "array: [new, world]\nb: world\nc: world\n",
            ),
            ("a: <%= to_seconds('1d') %>\n", "a: 86400\n"),
            ("%% text\n", "% text\n"),
            ("a: <%%= x %%>\n", "a: <%= x %%>\n"),
            ("%\n% # a Ruby comment\na: <% %>1\n", "a: 1\n"),
        ];
        for (input, want) in cases {
            assert_eq!(erb(input).unwrap(), *want, "{input:?}");
        }
    }

    #[test]
    fn complex_erb_is_refused() {
        let e = erb("list: [<% [1,2].each do |i| %><%= i %>, <% end %>]\n").unwrap_err();
        assert!(e.to_string().contains("outside the supported"), "{e}");
        let e = erb("who: <%= job['suite'] %>-<%= self['testcase'] %>\n").unwrap_err();
        assert!(e.to_string().contains("too complex"), "{e}");
        let e = erb("% x = 1\na: 1\n").unwrap_err();
        assert!(e.to_string().starts_with("t.yaml:1:1:"), "{e}");
        let e = erb("a: 1\nv: <%= extra %>\n").unwrap_err();
        assert!(e.to_string().starts_with("t.yaml:2:4:"), "{e}");
        assert!(e.to_string().contains("unknown variable"), "{e}");
        let e = erb("a: 1\n% if a\nb: 1\n").unwrap_err();
        assert!(e.to_string().contains("no `end`"), "{e}");
    }

    #[test]
    fn braces_are_protected() {
        let text = "x: {{ y }}\n- {{ z }}\nq: \"{{ w }}\"\nr: a{{ v }}\n";
        let map = SourceMap::identity("t".into(), text);
        let (t, m) = literal_double_braces(text, &map).unwrap();
        assert_eq!(
            t,
            "x: |\n    {{ y }}\n- |\n   {{ z }}\nq: \"{{ w }}\"\nr: a{{ v }}\n"
        );
        assert_eq!(m.locate(4, 0).line, 2);
        assert_eq!(m.locate(5, 0).line, 3);
    }

    #[test]
    fn comments_become_symbol_keys() {
        let text = "memmap:\n\n# stats\nboot-memory: # x\n";
        let map = SourceMap::identity("t".into(), text);
        let (t, _) = preserve_comments(text, &map).unwrap();
        assert_eq!(t, "memmap:\n\n:# stats: \nboot-memory: # x\n");
    }
}

//! Auto-includes ("defaults", LKP's `load_defaults`): files under `include/<key>/…` and
//! `programs/<p>/include…` chosen by the job's own values.
//!
//! For a key with an include directory and a String value `v`: the files named after each
//! prefix of `v` cut at `-` or `:` (`vm`, `vm-lkp`, …), then `OTHERS` when no file is named
//! after the whole value, then `ALL`. A single file `include/<key>` is loaded as it is. A
//! referenced program `p` loads `programs/p/include` (a file), or else per option
//! (`programs/p/include/<option>`) for a hash value, or the prefix rule for a String value.
//! Include files may use ERB: they see the defaults so far, the job, and `___`, the value
//! that chose them; a file whose ERB names an unknown key is skipped.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::job::load_template_text;
use crate::revise::revise_hash;
use crate::template;
use crate::tree::ProgramTree;
use crate::value::{Map, Value};
use crate::yaml::Limits;

struct Collector<'a> {
    tree: &'a ProgramTree,
    limits: Limits,
    loaded: &'a mut BTreeSet<String>,
    defaults: Map,
    job: &'a Map,
}

/// The defaults a job's values choose, with a `#! <file>` marker before each file's keys.
/// `loaded` lists the files loaded so far (a file is loaded once per job).
pub(crate) fn collect(
    job: &Map,
    tree: &ProgramTree,
    limits: Limits,
    loaded: &mut BTreeSet<String>,
    first_time: bool,
) -> Result<Map> {
    let mut c = Collector {
        tree,
        limits,
        loaded,
        defaults: Map::new(),
        job,
    };
    let _ = first_time;
    c.walk(job, 0)?;
    Ok(c.defaults)
}

fn prefixes(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, c) in v.char_indices() {
        if (c == '-' || c == ':') && i > 0 {
            out.push(&v[..i]);
        }
    }
    out.push(v);
    out
}

impl Collector<'_> {
    fn walk(&mut self, m: &Map, depth: usize) -> Result<()> {
        if depth > 64 {
            return Ok(());
        }
        for (k, v) in m {
            let Some(key) = k.as_str() else { continue };
            let program_include = format!("programs/{key}/include");
            if self.tree.is_workload(key)
                && (self.tree.has_include(&program_include)
                    || self.tree.has_include_dir(&program_include))
            {
                self.program(key, v, &program_include)?;
            } else if let Some(s) = v.as_str()
                && self.tree.has_include_dir(&format!("include/{key}"))
            {
                self.prefix_rule(&format!("include/{key}"), s)?;
            } else if self.tree.has_include(&format!("include/{key}")) {
                self.load(&format!("include/{key}"), v)?;
            }
            if let Value::Hash(h) = v {
                self.walk(h, depth + 1)?;
            }
        }
        Ok(())
    }

    fn program(&mut self, name: &str, v: &Value, dir: &str) -> Result<()> {
        if self.tree.has_include(dir) {
            self.load(dir, v)?;
            return Ok(());
        }
        match v {
            Value::Hash(h) => {
                let options: Vec<String> =
                    self.tree.options(name).map(|o| o.name.clone()).collect();
                for (k, vv) in h {
                    if let Some(k) = k.as_str()
                        && options.iter().any(|o| o == k)
                    {
                        let rel = format!("{dir}/{k}");
                        if self.tree.has_include(&rel) {
                            self.load(&rel, vv)?;
                        }
                    }
                }
            }
            other => {
                if let Some(s) = other.as_str() {
                    self.prefix_rule(dir, s)?;
                }
            }
        }
        Ok(())
    }

    fn prefix_rule(&mut self, dir: &str, value: &str) -> Result<()> {
        let v = Value::str(value);
        let mut full = false;
        for p in prefixes(value) {
            if p.contains('/') || p.starts_with('.') {
                continue;
            }
            let rel = format!("{dir}/{p}");
            if self.tree.has_include(&rel) {
                if p == value {
                    full = true;
                }
                self.load(&rel, &v)?;
            }
        }
        if !full {
            self.load_if(&format!("{dir}/OTHERS"), &v)?;
        }
        self.load_if(&format!("{dir}/ALL"), &v)
    }

    fn load_if(&mut self, rel: &str, trigger: &Value) -> Result<()> {
        if self.tree.has_include(rel) {
            self.load(rel, trigger)?;
        }
        Ok(())
    }

    fn load(&mut self, rel: &str, trigger: &Value) -> Result<()> {
        if self.loaded.contains(rel) {
            return Ok(());
        }
        let path = self.tree.root().join(rel);
        let text = template::read_text(&path)?;
        let mut context = self.defaults.clone();
        for (k, v) in self.job {
            if !matches!(v, Value::Array(_)) {
                context.insert(k.clone(), v.clone());
            }
        }
        let display: Arc<str> = path.display().into();
        let docs = match load_template_text(
            &text,
            display,
            &path,
            self.tree,
            self.limits,
            Some(&context),
            &[("___", trigger.clone())],
        ) {
            Ok(d) => d,
            Err(Error::Eval { message, location }) if message.contains("unknown variable") => {
                tracing::debug!(%location, "include skipped: {message}");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        self.loaded.insert(rel.to_string());
        let Some(Value::Hash(h)) = docs.into_iter().next().map(|d| d.value) else {
            return Ok(());
        };
        if h.is_empty() {
            return Ok(());
        }
        tracing::debug!(file = rel, "auto-include");
        self.defaults
            .insert(Value::Symbol(format!("#! {rel}")), Value::Nil);
        let loc = path.display();
        revise_hash(&mut self.defaults, h, true, &|_k: &str| {
            crate::error::Location::new(loc.clone(), 1, 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::prefixes;

    #[test]
    fn value_prefixes() {
        assert_eq!(
            prefixes("vm-lkp-wsx01-4G"),
            ["vm", "vm-lkp", "vm-lkp-wsx01", "vm-lkp-wsx01-4G"]
        );
        assert_eq!(prefixes("foo"), ["foo"]);
    }
}

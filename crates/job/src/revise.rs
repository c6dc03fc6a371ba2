//! LKP's `revise_hash`: how one hash updates another.
//!
//! Plain keys are merged first (a revision replaces a top-level value, or keeps the old one when
//! `overwrite` is false, as for defaults); accumulative keys (`mail_to`, `mail_cc`,
//! `constraints`, `need_*` but `need_memory`/`need_cpu`/`need_modules`) and `+`/`-` keys are
//! combined with [`merge_accumulative`]. Then the special keys are applied in key order and
//! removed: `a.b.c: v` sets a nested value, `a[.b.c]+: v` adds (and de-duplicates), `a[.b.c]-:
//! v` removes.

use crate::error::{Error, Location, Result};
use crate::value::{Map, MapExt, Value};

/// Dotted paths longer than this are refused (each `.` is a level of nesting).
const MAX_PATH: usize = 64;

/// Is this top-level key accumulative?
pub fn accumulative_key(key: &str) -> bool {
    matches!(key, "mail_to" | "mail_cc" | "constraints")
        || (key.starts_with("need_") && !matches!(key, "need_memory" | "need_cpu" | "need_modules"))
}

/// LKP's `merge_accumulative(a, b)`; a nil `b` never clears.
pub fn merge_accumulative(a: Value, b: Value) -> Value {
    use Value::{Array, Hash, Nil};
    match (a, b) {
        (Nil, b) => b,
        (a, Nil) => a,
        (Array(mut x), Array(y)) => {
            x.extend(y);
            Array(x)
        }
        (Array(mut x), b) => {
            x.push(b);
            Array(x)
        }
        (Hash(mut x), Hash(y)) => {
            for (k, v) in y {
                x.insert(k, v);
            }
            Hash(x)
        }
        (Hash(mut x), Array(items)) => {
            // LKP makes the whole array one key; each element becoming a key is what is meant.
            for item in items {
                x.insert(item, Nil);
            }
            Hash(x)
        }
        (Hash(mut x), b) => {
            x.insert(b, Nil);
            Hash(x)
        }
        (a, Array(y)) => {
            let mut out = vec![a];
            out.extend(y);
            Array(out)
        }
        (a, Hash(mut y)) => {
            y.insert(a, Nil);
            Hash(y)
        }
        (a, b) => Array(vec![a, b]),
    }
}

fn dedup(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut out: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                if !out.contains(&item) {
                    out.push(item);
                }
            }
            Value::Array(out)
        }
        other => other,
    }
}

/// Where the keys of a revision were written, for error messages.
pub trait Locator {
    fn locate(&self, key: &str) -> Location;
}

impl<F: Fn(&str) -> Location> Locator for F {
    fn locate(&self, key: &str) -> Location {
        self(key)
    }
}

/// `revise_hash(original, revisions, overwrite_top_keys)`.
pub fn revise_hash(
    original: &mut Map,
    revisions: Map,
    overwrite: bool,
    locator: &dyn Locator,
) -> Result<()> {
    for (k, new) in revisions {
        let special = match k.as_str() {
            Some(s) => s.ends_with('+') || s.ends_with('-') || accumulative_key(s),
            None => false,
        };
        match original.get_index_of(&k) {
            Some(i) => {
                if special {
                    let old = std::mem::replace(&mut original[i], Value::Nil);
                    original[i] = merge_accumulative(old, new);
                } else if overwrite {
                    original[i] = new;
                }
            }
            None => {
                original.insert(k, new);
            }
        }
    }
    let keys: Vec<String> = original
        .keys()
        .filter_map(|k| match k {
            Value::Str(s)
                if s.len() > 1 && (s.ends_with('+') || s.ends_with('-') || s.contains('.')) =>
            {
                Some(s.clone())
            }
            _ => None,
        })
        .collect();
    for key in keys {
        let Some(value) = original.shift_remove(&crate::value::StrKey(&key)) else {
            continue;
        };
        if let Some(path) = key.strip_suffix('-') {
            minus(original, path, value, &key, locator)?;
        } else if let Some(path) = key.strip_suffix('+') {
            plus(original, path, value, &key, locator)?;
        } else {
            dotted(original, &key, value, overwrite, locator)?;
        }
    }
    Ok(())
}

fn split_path<'a>(path: &'a str, key: &str, locator: &dyn Locator) -> Result<Vec<&'a str>> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() > MAX_PATH {
        return Err(Error::Limit {
            location: locator.locate(key),
            message: format!("the key `{key}` has more than {MAX_PATH} dotted parts"),
        });
    }
    Ok(parts)
}

/// The hash that holds the last part of `parts`, creating missing hashes; a scalar in the way
/// is replaced by a hash when `replace_scalars` (LKP would write the value over the scalar).
fn parent_mut<'m>(map: &'m mut Map, parts: &[&str], replace_scalars: bool) -> Option<&'m mut Map> {
    let mut cur = map;
    for part in parts {
        let key = Value::str(*part);
        let slot = cur.entry(key).or_insert_with(|| Value::Hash(Map::new()));
        if !matches!(slot, Value::Hash(_)) {
            if !replace_scalars {
                return None;
            }
            *slot = Value::Hash(Map::new());
        }
        let Value::Hash(next) = slot else {
            return None;
        };
        cur = next;
    }
    Some(cur)
}

fn dotted(
    map: &mut Map,
    key: &str,
    value: Value,
    overwrite: bool,
    locator: &dyn Locator,
) -> Result<()> {
    let parts = split_path(key, key, locator)?;
    let (leaf, parents) = match parts.split_last() {
        Some(x) => x,
        None => return Ok(()),
    };
    // Defaults (no overwrite) never replace an existing top-level value.
    if !overwrite
        && let Some(first) = parents.first()
        && map
            .get_str(first)
            .is_some_and(|v| !matches!(v, Value::Hash(_) | Value::Nil))
    {
        return Ok(());
    }
    if let Some(parent) = parent_mut(map, parents, true) {
        parent.insert(Value::str(*leaf), value);
    }
    Ok(())
}

fn plus(map: &mut Map, path: &str, value: Value, key: &str, locator: &dyn Locator) -> Result<()> {
    let parts = split_path(path, key, locator)?;
    let Some((leaf, parents)) = parts.split_last() else {
        return Ok(());
    };
    if let Some(parent) = parent_mut(map, parents, true) {
        let k = Value::str(*leaf);
        let old = parent.get(&k).cloned().unwrap_or(Value::Nil);
        parent.insert(k, dedup(merge_accumulative(old, value)));
    }
    Ok(())
}

fn minus(map: &mut Map, path: &str, value: Value, key: &str, locator: &dyn Locator) -> Result<()> {
    let parts = split_path(path, key, locator)?;
    let Some((leaf, parents)) = parts.split_last() else {
        return Ok(());
    };
    // Walk without creating; a path through a scalar does not exist (LKP deletes the scalar).
    let mut chain: Vec<&str> = Vec::new();
    {
        let mut cur: &Map = map;
        for part in parents {
            match cur.get_str(part) {
                Some(Value::Hash(h)) => {
                    chain.push(part);
                    cur = h;
                }
                _ => return Ok(()),
            }
        }
        if !cur.contains_str(leaf) {
            return Ok(());
        }
    }
    let Some(parent) = get_path_mut(map, &chain) else {
        return Ok(());
    };
    if value.is_empty_value() {
        parent.shift_remove(&crate::value::StrKey(leaf));
        if parent.is_empty() && !chain.is_empty() {
            let (last, up) = chain
                .split_last()
                .map(|(l, u)| (*l, u.to_vec()))
                .unwrap_or_default();
            if let Some(grand) = get_path_mut(map, &up)
                && let Some(slot) = grand.get_str_mut(last)
            {
                *slot = Value::Nil;
            }
        }
        return Ok(());
    }
    let Some(slot) = parent.get_str_mut(leaf) else {
        return Ok(());
    };
    let remove: Vec<Value> = match value {
        Value::Array(a) => a,
        Value::Hash(h) => h.into_keys().collect(),
        v => vec![v],
    };
    match slot {
        Value::Array(items) => {
            items.retain(|v| !remove.contains(v));
            if items.is_empty() {
                *slot = Value::Nil;
            }
        }
        Value::Hash(h) => {
            for r in &remove {
                h.shift_remove(r);
            }
            if h.is_empty() {
                *slot = Value::Nil;
            }
        }
        Value::Str(_) | Value::Template(_) | Value::Nil => {
            tracing::warn!(key, "removing from a String or nil does nothing");
        }
        other => {
            return Err(Error::Revise {
                location: locator.locate(key),
                message: format!(
                    "`{key}` removes elements, but `{path}` is {} {}: only arrays and hashes \
                     have elements",
                    if matches!(other, Value::Int(_)) {
                        "the Integer"
                    } else {
                        "the value"
                    },
                    other.inspect()
                ),
            });
        }
    }
    Ok(())
}

fn get_path_mut<'m>(map: &'m mut Map, path: &[&str]) -> Option<&'m mut Map> {
    let mut cur = map;
    for part in path {
        match cur.get_str_mut(part) {
            Some(Value::Hash(h)) => cur = h,
            _ => return None,
        }
    }
    Some(cur)
}

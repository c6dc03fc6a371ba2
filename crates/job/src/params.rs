//! Built-in equivalents of LKP's param maps (`params/*`), applied by job2sh.
//!
//! LKP's param maps are Ruby expressions (`/REGEX/<tab>ruby-expr`) that gauntlet does not run.
//! These are the rules LKP's own maps implement for the keys jobs use:
//! * `runtime`: `300s`, `5m`, `2h`, `1d` → seconds (`to_seconds`);
//! * `nr_threads` (and its aliases `nr_task`, `nr_processes`): `50%` → `50 * nr_cpu / 100`,
//!   `8x` or `8` → 8;
//! * `iterations`: `100x` → 100;
//! * `size`: `1G` → 1073741824 (`to_byte`);
//! * `disk`: `1SSD` → `{nr_ssd: 1}`, `2HDD` → `{nr_hdd: 2}` (top level);
//! * `fs`: `ext4` → `{fs: ext4}` (top level).
//!
//! Other `params/*` files of an LKP tree are not applied (a warning names them).

use crate::expr::{to_byte, to_seconds};
use crate::tree::ProgramTree;
use crate::value::{Map, MapExt, Value};

fn leading_int(s: &str, suffix: &str) -> Option<i64> {
    let body = s.strip_suffix(suffix)?;
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    body.parse().ok()
}

fn map_value(key: &str, v: &Value, nr_cpu: Option<i64>, top: bool) -> Option<Value> {
    let s = v.as_str()?;
    match key {
        "runtime" => {
            let ok = s
                .trim_end_matches(['s', 'm', 'h', 'd', 'w', 'y'])
                .chars()
                .all(|c| c.is_ascii_digit())
                && !s.is_empty();
            ok.then(|| to_seconds(v).ok()).flatten()
        }
        "nr_threads" | "nr_task" | "nr_processes" => {
            if let Some(p) = leading_int(s, "%") {
                let cpus = nr_cpu?;
                return p.checked_mul(cpus).map(|n| Value::Int(n / 100));
            }
            leading_int(s, "x")
                .or_else(|| leading_int(s, ""))
                .map(Value::Int)
        }
        "iterations" => leading_int(s, "x")
            .or_else(|| leading_int(s, ""))
            .map(Value::Int),
        "size" => match to_byte(v) {
            Ok(Value::Int(n)) => Some(Value::Int(n)),
            _ => None,
        },
        "disk" if top => {
            for (suffix, name) in [("SSD", "nr_ssd"), ("HDD", "nr_hdd")] {
                if let Some(n) = leading_int(s, suffix) {
                    let mut m = Map::new();
                    m.insert(Value::str(name), Value::Int(n));
                    return Some(Value::Hash(m));
                }
            }
            None
        }
        "fs" if top => {
            let mut m = Map::new();
            m.insert(Value::str("fs"), v.clone());
            Some(Value::Hash(m))
        }
        _ => None,
    }
}

fn apply(m: &mut Map, nr_cpu: Option<i64>, top: bool, depth: usize) {
    for (k, v) in m.iter_mut() {
        let Some(key) = k.as_str() else { continue };
        if let Some(new) = map_value(key, v, nr_cpu, top) {
            *v = new;
        } else if let Value::Hash(h) = v
            && depth < 64
        {
            apply(h, nr_cpu, false, depth + 1);
        }
    }
}

/// The job with the built-in param maps applied.
pub fn expand_params(job: &Map, tree: &ProgramTree) -> Map {
    let mut out = job.clone();
    let nr_cpu = match job.get_str("nr_cpu") {
        Some(Value::Int(n)) => Some(*n),
        Some(v) => v.as_str().and_then(|s| s.parse().ok()),
        None => None,
    };
    apply(&mut out, nr_cpu, true, 0);
    if let Some(dir) = tree.dir() {
        for (k, _) in job {
            if let Some(key) = k.as_str()
                && !matches!(
                    key,
                    "runtime"
                        | "nr_threads"
                        | "nr_task"
                        | "nr_processes"
                        | "iterations"
                        | "size"
                        | "disk"
                        | "fs"
                )
                && dir.join("params").join(key).is_file()
            {
                tracing::warn!(key, "params/{key} (a Ruby param map) is not applied");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_maps() {
        let cpus = Some(8);
        let cases: &[(&str, &str, Value)] = &[
            ("runtime", "300s", Value::Int(300)),
            ("runtime", "1h", Value::Int(3600)),
            ("nr_threads", "50%", Value::Int(4)),
            ("nr_threads", "200%", Value::Int(16)),
            ("nr_threads", "1600%", Value::Int(128)),
            ("nr_threads", "8x", Value::Int(8)),
            ("iterations", "100x", Value::Int(100)),
            ("size", "1G", Value::Int(1 << 30)),
        ];
        for (k, v, want) in cases {
            assert_eq!(
                map_value(k, &Value::str(*v), cpus, true).as_ref(),
                Some(want),
                "{k}: {v}"
            );
        }
        assert_eq!(map_value("runtime", &Value::str("abc"), cpus, true), None);
        assert_eq!(
            map_value("nr_threads", &Value::str("50%"), None, true),
            None
        );
    }
}

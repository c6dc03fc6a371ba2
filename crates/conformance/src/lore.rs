//! Agreement with real Patchwork on a real archive: `corpus/lore/iouring-4k.mbox` (4,000 mails of
//! io-uring@vger.kernel.org) against `iouring-4k.patchwork.json`, the series real Patchwork made
//! of it (`parsearchive --list-id io-uring.vger.kernel.org`).
//!
//! A Patchwork series is reproduced when gauntlet has a series with the same cover letter and the
//! same patches (Message-IDs and numbers).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::{Backend, Error, Observed, Report, read_mails};

/// The list id Patchwork parsed the archive with.
pub const LIST_ID: &str = "io-uring.vger.kernel.org";

fn strip_brackets(id: &str) -> &str {
    id.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(id)
}

/// `(cover, sorted [(number, msgid)])`: what identifies a series here.
type Signature = (Option<String>, Vec<(u64, String)>);

fn expected_signature(s: &Value) -> Signature {
    let cover = s["cover"].as_str().map(str::to_string);
    let mut patches: Vec<(u64, String)> = s["patches"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p.get(0)?.as_u64()?, p.get(1)?.as_str()?.to_string())))
        .collect();
    patches.sort();
    (cover, patches)
}

/// The export shape (`gauntlet export --json`) of an observation.
pub fn export_json(got: &Observed) -> Value {
    let series: Vec<Value> = got
        .series
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "version": s.version,
                "total": s.total,
                "cover": s.cover.as_ref().map(|c| strip_brackets(&c.0).to_string()),
                "patches": s.patches.iter().map(|(n, _, id)| serde_json::json!([n, strip_brackets(id)])).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({ "series": series })
}

/// How many of Patchwork's series an export reproduces.
#[derive(Debug, Clone, Default)]
pub struct Agreement {
    pub expected: usize,
    pub reproduced: usize,
    /// Series with the same members whose name, version or total differ.
    pub metadata_differs: usize,
    /// Patchwork series not reproduced (their first Message-ID).
    pub missing: Vec<String>,
}

impl Agreement {
    pub fn percent(&self) -> f64 {
        if self.expected == 0 {
            return 100.0;
        }
        self.reproduced as f64 * 100.0 / self.expected as f64
    }
}

/// Compares two exports in `{"series": [...]}` shape.
pub fn agreement(expected: &Value, got: &Value) -> Agreement {
    let mut have: HashMap<Signature, Vec<&Value>> = HashMap::new();
    for s in got["series"].as_array().into_iter().flatten() {
        have.entry(expected_signature(s)).or_default().push(s);
    }
    let mut a = Agreement::default();
    for s in expected["series"].as_array().into_iter().flatten() {
        a.expected += 1;
        let sig = expected_signature(s);
        match have.get_mut(&sig).and_then(Vec::pop) {
            Some(g) => {
                a.reproduced += 1;
                if g["name"] != s["name"]
                    || g["version"] != s["version"]
                    || g["total"] != s["total"]
                {
                    a.metadata_differs += 1;
                }
            }
            None => a.missing.push(
                sig.0
                    .clone()
                    .or_else(|| sig.1.first().map(|p| p.1.clone()))
                    .unwrap_or_default(),
            ),
        }
    }
    a
}

/// Runs the archive through `backend` and compares with Patchwork.
pub fn check(corpus: &Path, backend: &mut dyn Backend) -> Result<(Report, Agreement), Error> {
    let dir = corpus.join("lore");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("iouring-4k.patchwork.json"))?)?;
    let mails = read_mails(&std::fs::read(dir.join("iouring-4k.mbox"))?, false);
    let got = backend.run(&mails, LIST_ID)?;
    let a = agreement(&expected, &export_json(&got));
    let mut report = Report::new(format!("lore iouring-4k ({})", backend.name()));
    report.passed = a.reproduced;
    report.failed = a.expected - a.reproduced;
    for m in &a.missing {
        report
            .failures
            .push(format!("Patchwork series not reproduced: {m}"));
    }
    Ok((report, a))
}

//! Shared helpers: a private copy of the mock LKP_SRC (Appendix A of lkp-jobs.md) per test.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use gauntlet_job::{
    AtomicJob, Error, ExpandOptions, JobFile, LoadOptions, Map, MapExt, Override, ProgramTree,
    Value,
};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A temporary copy of a fixture tree (`lkp` or `lkp-old`).
pub struct Mock {
    pub dir: tempfile::TempDir,
}

impl Mock {
    pub fn new() -> Mock {
        Self::of("lkp")
    }

    pub fn of(name: &str) -> Mock {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&fixtures().join(name), dir.path());
        Mock { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn tree(&self) -> ProgramTree {
        ProgramTree::lkp_src(self.root()).unwrap()
    }

    /// Writes `jobs/<name>` and returns its path.
    pub fn job(&self, name: &str, text: &str) -> PathBuf {
        let path = self.root().join("jobs").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn load(&self, name: &str, text: &str) -> Result<JobFile, Error> {
        let path = self.job(name, text);
        JobFile::load(
            &path,
            &LoadOptions {
                tree: self.tree(),
                ..LoadOptions::default()
            },
        )
    }

    /// `split-job -t tbox [--no-defaults] [-s …] [k=v…] jobs/<name>`.
    pub fn split_with(
        &self,
        name: &str,
        text: &str,
        no_defaults: bool,
        overrides: &[Override],
    ) -> Result<Vec<AtomicJob>, Error> {
        let file = self.load(name, text)?;
        let opts = ExpandOptions {
            testbox: Some("tbox".into()),
            arch: Some("x86_64".into()),
            overrides: overrides.to_vec(),
            no_defaults,
        };
        file.expand(&opts).collect()
    }

    pub fn split(&self, name: &str, text: &str) -> Vec<AtomicJob> {
        self.split_with(name, text, false, &[]).unwrap()
    }
}

pub fn names(jobs: &[AtomicJob]) -> Vec<String> {
    jobs.iter().map(|j| j.file_name().to_string()).collect()
}

/// A job's value at a dotted path, shown as Ruby's `inspect` (`nil` when missing).
pub fn at(job: &AtomicJob, path: &str) -> String {
    let mut cur: Option<&Value> = None;
    let mut map: &Map = job.map();
    for (i, part) in path.split('.').enumerate() {
        cur = map.get_str(part);
        if i + 1 < path.split('.').count() {
            match cur {
                Some(Value::Hash(h)) => map = h,
                _ => return "nil".into(),
            }
        }
    }
    cur.map(Value::inspect).unwrap_or_else(|| "nil".into())
}

/// The string keys of a job (markers and job2sh bookkeeping aside).
pub fn keys(job: &AtomicJob) -> Vec<String> {
    job.map()
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .filter(|k| {
            !matches!(
                k.as_str(),
                "job_origin" | "testbox" | "arch" | "tbox_group" | "nr_cpu" | "memory"
            )
        })
        .collect()
}

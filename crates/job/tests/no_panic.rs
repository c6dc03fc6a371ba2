//! Mangled job files never panic: every one loads, expands and compiles, or fails with an error
//! that has a location. (A cheap deterministic fuzzer; no new dependency.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Mock;
use gauntlet_job::{ExpandOptions, JobFile, LoadOptions};

const SEEDS: &[&str] = &[
    "suite: mytest\nmytest:\n  mode: [a, b]\n  size: {{ nr_cpu * 2 }}\nlabel: \"x-{{ mytest.mode }}\"\n",
    "<<: base.yaml\nmytest.size: 4G\nruntime-:\nmytest.mode+: [slow]\n---\nmail_cc: a\n---\na.b.c: 1\n",
    "a: &a {x: [1, 2]}\nb:\n  <<: *a\n  y: <%= 1 + 2 %>\n% if true\nc: 1\n% else\nd: 2\n% end\n",
    "\"if [ -n \\\"$x\\\" ]\":\n  foo: bar\n\"script tests/x\": |\n  echo hi\n\"function f\": |\n  echo f\nbg: {mytest: {mode: q}}\n",
    "need_kconfig+: [A]\nconstraints: {a: 1}\nconstraints+: [b]\nx-: 1\ny.z-: [1]\n",
    "v: {{ case mytest.mode when 'a' then 1 else nil end }}\nmytest: {mode: [a, b], flag: on}\n",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "{{", "}}", "<%", "%>", "<%=", "\n%", "\n---\n", ": ", "- ", "&a ", "*a", "<<: ", "[", "]",
    "{", "}", "'", "\"", "\\", "\n  ", "#", "+:", "-:", ".", "\t", "\u{0}", "é", "1/0", "nil",
];

fn mutate(rng: &mut Rng, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.below(6) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(4) {
            0 => {
                let p = PIECES[rng.below(PIECES.len())];
                bytes.splice(at..at, p.bytes());
            }
            1 if !bytes.is_empty() => {
                let end = (at + rng.below(8)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            2 => bytes.insert(at, (rng.next() & 0xff) as u8),
            _ => {
                let end = (at + rng.below(16)).min(bytes.len());
                let copy: Vec<u8> = bytes[at.min(end)..end].to_vec();
                bytes.splice(at..at, copy);
            }
        }
    }
    bytes
}

#[test]
fn mangled_jobs_never_panic() {
    let mock = Mock::new();
    let tree = mock.tree();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut errors = 0;
    let mut ok = 0;
    for round in 0..1500 {
        let seed = SEEDS[round % SEEDS.len()];
        let bytes = mutate(&mut rng, seed);
        let path = mock.root().join("jobs/fuzz.yaml");
        std::fs::write(&path, &bytes).unwrap();
        let file = match JobFile::load(
            &path,
            &LoadOptions {
                tree: tree.clone(),
                ..Default::default()
            },
        ) {
            Ok(f) => f,
            Err(e) => {
                assert!(
                    e.location().is_some() || matches!(e, gauntlet_job::Error::Io { .. }),
                    "{e}"
                );
                errors += 1;
                continue;
            }
        };
        let opts = ExpandOptions {
            testbox: Some("tbox".into()),
            ..Default::default()
        };
        for job in file.expand(&opts).take(50) {
            match job {
                Ok(job) => {
                    let _ = job.to_yaml();
                    if job.to_shell(&tree).is_ok() {
                        ok += 1;
                    }
                }
                Err(e) => {
                    assert!(e.location().is_some(), "{e}");
                    errors += 1;
                }
            }
        }
    }
    assert!(ok > 100 && errors > 100, "ok {ok}, errors {errors}");
}

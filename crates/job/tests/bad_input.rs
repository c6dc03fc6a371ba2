//! Bad input: each a clear error with `file:line:column`, never a hang or a crash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::Mock;
use gauntlet_job::{Error, JobFile, LoadOptions};

/// The error of splitting `text`, which must start with `jobs/<name>:<line>:<col>: `.
fn split_err(name: &str, text: &str, line_col: &str, needle: &str) -> Error {
    split_err_in(&Mock::new(), name, text, line_col, needle)
}

fn split_err_in(mock: &Mock, name: &str, text: &str, line_col: &str, needle: &str) -> Error {
    let start = Instant::now();
    let err = match mock.split_with(name, text, false, &[]) {
        Ok(jobs) => panic!("{name}: expected an error, got {} jobs", jobs.len()),
        Err(e) => e,
    };
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{name} took {:?}",
        start.elapsed()
    );
    let msg = err.to_string();
    let want = format!("jobs/{name}:{line_col}");
    assert!(
        msg.contains(&want),
        "{name}: {msg:?} should contain {want:?}"
    );
    assert!(
        msg.contains(needle),
        "{name}: {msg:?} should contain {needle:?}"
    );
    err
}

/// The error of loading an existing file of the mock tree.
fn load_err(mock: &Mock, path: &std::path::Path) -> String {
    JobFile::load(
        path,
        &LoadOptions {
            tree: mock.tree(),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn include_cycle() {
    let mock = Mock::new();
    let err = mock
        .split_with("loop.yaml", "a: 1\n<<: cycle_a.yaml\n", false, &[])
        .unwrap_err();
    // The cycle is reported where it closes, in the included file, with the chain.
    assert!(
        err.to_string()
            .contains("jobs/cycle_b.yaml:2:5: include cycle: "),
        "{err}"
    );
    let mock = Mock::new();
    let path = mock.root().join("jobs/cycle_a.yaml");
    let msg = load_err(&mock, &path);
    assert!(msg.contains("cycle_b.yaml:2:5: include cycle: "), "{msg}");
    assert!(
        msg.contains("cycle_a.yaml -> ") && msg.ends_with("cycle_a.yaml"),
        "{msg}"
    );
}

#[test]
fn missing_include() {
    split_err(
        "miss.yaml",
        "suite: x\n  \n<<: no-such-file.yaml\n",
        "3:5",
        "included file not found: `no-such-file.yaml`",
    );
}

#[test]
fn billion_laughs_of_one_megabyte() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        let refs = vec![format!("*a{p}"); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text.push_str("bomb:\n");
    while text.len() < 1 << 20 {
        text.push_str("  - *a9\n");
    }
    split_err("bomb.yaml", &text, "6:", "billion laughs");
}

#[test]
fn deep_nesting() {
    let text = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    split_err("deep.yaml", &text, "1:", "limit");
    let mut block = String::new();
    for i in 0..300 {
        block.push_str(&" ".repeat(i));
        block.push_str("k:\n");
    }
    split_err("deep2.yaml", &block, "129:129: ", "nested more than");
    // Deep dotted keys are refused too.
    let dotted = format!("{}: 1\n", vec!["a"; 200].join("."));
    split_err("deep3.yaml", &dotted, "1:1", "dotted parts");
}

#[test]
fn invalid_utf8() {
    let mock = Mock::new();
    let path = mock.root().join("jobs/bin.yaml");
    std::fs::write(&path, b"suite: x\nname: a\xffb\n").unwrap();
    let msg = load_err(&mock, &path);
    assert!(msg.contains("jobs/bin.yaml:2:8: invalid UTF-8"), "{msg}");
}

#[test]
fn non_string_top_level_keys() {
    split_err(
        "nk.yaml",
        "suite: x\n1: one\n",
        "2:1",
        "top-level job keys must be strings",
    );
    split_err("nk2.yaml", "- a\n- b\n", "1:1", "must be a mapping");
    // Nested non-string keys are fine (hash_spec uses them).
    let mock = Mock::new();
    assert_eq!(mock.split("nk3.yaml", "x: {1: 2}\n").len(), 1);
}

#[test]
fn expressions_that_fail() {
    split_err(
        "div.yaml",
        "suite: x\nv: {{ 1 / 0 }}\n",
        "2:",
        "divided by 0",
    );
    split_err(
        "unk.yaml",
        "suite: x\nv: \"a-{{ nonexistent_key }}\"\n",
        "2:4: ",
        "unknown variable `nonexistent_key`",
    );
    split_err(
        "typ.yaml",
        "suite: x\nv: {{ suite + 1 }}\n",
        "2:",
        "TypeError",
    );
    split_err(
        "code.yaml",
        "suite: x\nv: {{ system('rm -rf /') }}\n",
        "2:",
        "outside the supported",
    );
    split_err(
        "erbdiv.yaml",
        "n: 0\nv: <%= 1 / n %>\n",
        "2:4: ",
        "divided by 0",
    );
}

#[test]
fn erb_outside_the_subset() {
    split_err(
        "loop.yaml",
        "% [1, 2].each do |i|\nx: 1\n% end\n",
        "1:1",
        "outside the supported subset",
    );
    split_err(
        "assign.yaml",
        "<% x = 1 %>\na: 1\n",
        "1:1",
        "outside the supported subset",
    );
    split_err(
        "host.yaml",
        "v: <%= nr_cpu %>\n",
        "1:4",
        "unknown variable `nr_cpu`",
    );
    split_err(
        "cplx.yaml",
        "who: <%= 'a' %>-<%= 'b' %>\n",
        "1:",
        "too complex",
    );
}

#[test]
fn yaml_errors_point_into_included_files() {
    let mock = Mock::new();
    std::fs::write(mock.root().join("jobs/broken.yaml"), "a: 1\nb: [unclosed\n").unwrap();
    let path = mock.job("inc-broken.yaml", "suite: x\n<<: broken.yaml\n");
    let msg = load_err(&mock, &path);
    assert!(msg.contains("jobs/broken.yaml:"), "{msg}");
    assert!(msg.contains("YAML syntax error"), "{msg}");
}

#[test]
fn revise_errors() {
    split_err(
        "minus.yaml",
        "a: 5\na-: 5\n",
        "2:1: ",
        "only arrays and hashes",
    );
}

#[test]
fn include_bomb() {
    // Not a cycle, but 30^4 splices of one file: refused once the text passes 4 MiB.
    let mock = Mock::new();
    let jobs = mock.root().join("jobs");
    std::fs::write(jobs.join("l4.yaml"), format!("x: {}\n", "y".repeat(100))).unwrap();
    for level in (1..4).rev() {
        let text = format!("<<: l{}.yaml\n", level + 1).repeat(30);
        std::fs::write(jobs.join(format!("l{level}.yaml")), text).unwrap();
    }
    let start = Instant::now();
    let err = mock
        .split_with("lbomb.yaml", &"<<: l1.yaml\n".repeat(30), false, &[])
        .unwrap_err()
        .to_string();
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(
        err.contains("jobs/l3.yaml:") && err.contains("grows past 4 MiB"),
        "{err}"
    );
}

//! `gauntlet job expand|sh`, run as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn gauntlet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

const HACKBENCH: &str = "suite: hackbench
testcase: hackbench
nr_threads: [1, 2]
shell:
  command: [echo a, echo b]
";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn expand_lists_and_writes_atomic_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let job = write(dir.path(), "sh.yaml", HACKBENCH);
    let out = ok(&gauntlet(&["job", "expand", &job, "-t", "vm-x86_64"]));
    assert_eq!(out, "sh-echo_a.yaml\nsh-echo_b.yaml\n");
    // -s and k=v revise before expansion.
    let out = ok(&gauntlet(&[
        "job",
        "expand",
        &job,
        "-s",
        "shell.command: echo c",
        "x=1",
    ]));
    assert_eq!(out, "sh-echo_c.yaml\n");
    let outdir = dir.path().join("out");
    let out = ok(&gauntlet(&[
        "job",
        "expand",
        &job,
        "-t",
        "vm-x86_64",
        "-o",
        outdir.to_str().unwrap(),
    ]));
    assert!(out.contains("2 atomic jobs written"), "{out}");
    let saved = std::fs::read_to_string(outdir.join("sh-echo_a.yaml")).unwrap();
    assert!(saved.starts_with("---\n\n#! "), "{saved}");
    assert!(saved.contains("tbox_group: vm-x86_64"), "{saved}");
    assert!(
        saved.contains("\n#! hosts/vm-x86_64\nnr_cpu: 2\n"),
        "{saved}"
    );
    // A saved atomic job compiles to a script `sh -n` accepts.
    let script = ok(&gauntlet(&[
        "job",
        "sh",
        outdir.join("sh-echo_a.yaml").to_str().unwrap(),
    ]));
    assert!(
        script.contains("run_test command='echo a' \"$LKP_SRC\"/bin/run-test shell"),
        "{script}"
    );
    let path = write(dir.path(), "job.sh", &script);
    assert!(
        Command::new("sh")
            .arg("-n")
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn sh_of_a_job_that_expands_to_several_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let job = write(dir.path(), "sh.yaml", HACKBENCH);
    let out = gauntlet(&["job", "sh", &job]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expands to 2 atomic jobs"));
    let out = ok(&gauntlet(&["job", "sh", &job, "shell.command=echo x"]));
    assert!(out.contains("run_test command='echo x'"), "{out}");
}

#[test]
fn errors_exit_2_with_the_location() {
    let dir = tempfile::tempdir().unwrap();
    let job = write(dir.path(), "bad.yaml", "suite: x\nv: {{ 1 / 0 }}\n");
    let out = gauntlet(&["job", "expand", &job]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:2:"), "{err}");
    assert!(err.contains("divided by 0"), "{err}");
    let out = gauntlet(&["job", "expand", &job, "--lkp-src", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn lkp_src_trees_and_write_tree() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let out = ok(&gauntlet(&["job", "write-tree", tree.to_str().unwrap()]));
    assert!(out.contains("written"), "{out}");
    assert!(tree.join("lib/job.sh").is_file());
    // The written tree is an LKP tree in the current layout.
    let job = write(
        dir.path(),
        "k.yaml",
        "ktap:\n  tests: [\"a: true\", \"b: true\"]\n",
    );
    let out = ok(&gauntlet(&[
        "job",
        "expand",
        &job,
        "--lkp-src",
        tree.to_str().unwrap(),
    ]));
    assert_eq!(out, "k-a:_true.yaml\nk-b:_true.yaml\n");
}

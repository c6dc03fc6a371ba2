//! gauntlet's own program tree: written out, it runs a job2sh script end to end with `sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use gauntlet_job::{ExpandOptions, JobFile, LoadOptions, ProgramTree, builtin_tree_write};

const JOB: &str = r#"suite: e2e
testcase: e2e
message: "it's $HOME \"quoted\""
cpufreq_governor: performance
meminfo:
  interval: 1
shell:
  command: 'echo "suite=$suite message=$message"; echo done'
ktap:
  tests: "one: true\ntwo: false\nthree: exit 4"
"#;

#[test]
fn builtin_tree_runs_a_job() {
    let tree = ProgramTree::builtin();
    for p in [
        "shell",
        "ktap",
        "kselftests",
        "sleep",
        "cpufreq_governor",
        "meminfo",
    ] {
        assert!(!tree.get(p).is_empty(), "{p}");
    }
    assert!(tree.options("shell").any(|o| o.name == "command"));

    let dir = tempfile::tempdir().unwrap();
    let lkp = dir.path().join("lkp");
    builtin_tree_write(&lkp).unwrap();
    let job_path = dir.path().join("e2e.yaml");
    std::fs::write(&job_path, JOB).unwrap();
    let file = JobFile::load(&job_path, &LoadOptions::default()).unwrap();
    let jobs: Vec<_> = file
        .expand(&ExpandOptions {
            testbox: Some("vm-x86_64".into()),
            ..Default::default()
        })
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(jobs.len(), 1);
    let script = jobs[0].to_shell(&tree).unwrap();
    let sh = dir.path().join("job.sh");
    std::fs::write(&sh, &script).unwrap();
    let tmp = dir.path().join("tmp");
    let result = dir.path().join("result");
    let out = Command::new("sh")
        .arg(lkp.join("bin/run-local"))
        .arg(&sh)
        .env("LKP_SRC", &lkp)
        .env("TMP", &tmp)
        .env("RESULT_ROOT", &result)
        .output()
        .unwrap();
    let read = |name: &str| std::fs::read_to_string(result.join(name)).unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\n{}\n{script}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        read("shell"),
        "suite=e2e message=it's $HOME \"quoted\"\ndone\n",
        "{script}"
    );
    let ktap = read("ktap");
    assert!(ktap.starts_with("KTAP version 1\n1..3\n"), "{ktap}");
    assert!(
        ktap.contains("ok 1 one\n") && ktap.contains("not ok 2 two"),
        "{ktap}"
    );
    assert!(ktap.contains("ok 3 three # SKIP"), "{ktap}");
    let stats = read("ktap.json");
    assert!(stats.contains("\"ktap.pass\": [1]"), "{stats}");
    assert!(stats.contains("\"ktap.fail\": [1]"), "{stats}");
    assert!(stats.contains("\"ktap.skip\": [1]"), "{stats}");
    assert!(read("shell.time").contains("exit_status: 0"));
}

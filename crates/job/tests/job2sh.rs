//! job2sh (§6): LKP's structure and order, both layouts, and quoting that gives every value back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::Mock;
use gauntlet_job::{AtomicJob, Map, ProgramTree, Value};

const M2: &str = "suite: mytest
testcase: mytest
category: functional
runtime: 300s
mysetup: high
mymon:
  interval: 5
cpufreq_governor: performance
mytest:
  mode: fast
mydaemon:
  port: 8080
nfs_export: /export
";

/// LKP's m2 output, with the fixed quoting (`"$LKP_SRC"`, `"$TMP"`) and the mock include.
const M2_SH: &str = r#"#!/bin/sh

export_top_env()
{
	export suite='mytest'
	export testcase='mytest'
	export category='functional'
	export runtime=300
	export nfs_export='/export'
	export job_origin='jobs/m2.yaml'
	export testbox='tbox'
	export arch='x86_64'
	export tbox_group='tbox'
	export nr_cpu=8
	export memory='16G'

	[ -n "$LKP_SRC" ] ||
	export LKP_SRC=/lkp/${user:-lkp}/src
}

run_job()
{
	echo $$ > "$TMP"/run-job.pid

	. "$LKP_SRC"/lib/http.sh
	. "$LKP_SRC"/lib/job.sh
	. "$LKP_SRC"/lib/env.sh

	export_top_env

	run_setup "$LKP_SRC"/bin/run-setup mysetup 'high'

	run_setup "$LKP_SRC"/bin/run-setup cpufreq_governor 'performance'

	run_monitor interval=5 "$LKP_SRC"/bin/run-monitor mymon

	run_test mode='fast' "$LKP_SRC"/bin/run-test mytest

	start_daemon port=8080 "$LKP_SRC"/bin/run-daemon mydaemon
}

extract_stats()
{
	export stats_part_begin=
	export stats_part_end=

	env interval=5 "$LKP_SRC"/bin/run-stats mymon
	env mode='fast' "$LKP_SRC"/bin/run-stats mytest

	"$LKP_SRC"/bin/run-stats time mytest.time
}

"$@"
"#;

fn sh_n(script: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.sh");
    std::fs::write(&path, script).unwrap();
    for shell in ["sh", "dash", "busybox"] {
        let mut cmd = Command::new(shell);
        if shell == "busybox" {
            cmd.arg("sh");
        }
        let Ok(out) = cmd.arg("-n").arg(&path).output() else {
            continue;
        };
        assert!(
            out.status.success(),
            "{shell} -n failed: {}\n{script}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn compile(mock: &Mock, name: &str, text: &str) -> Vec<String> {
    let tree = mock.tree();
    let jobs = mock.split_with(name, text, false, &[]).unwrap();
    jobs.iter()
        .map(|j| {
            let s = j.to_shell(&tree).unwrap();
            sh_n(&s);
            s
        })
        .collect()
}

#[test]
fn m2_structure_and_order_s6_3() {
    let mock = Mock::new();
    // LKP's mock had no include for `category: functional` when m2 was run.
    std::fs::remove_file(mock.root().join("include/category/functional")).unwrap();
    let sh = compile(&mock, "m2.yaml", M2);
    assert_eq!(sh[0], M2_SH);
}

#[test]
fn m3_special_keys_s6_3() {
    let mock = Mock::new();
    let text = r#"float_v: 1.5
bool_v: true
str_q: "it's $HOME"
str_nl: "it's\nok"
str_sp: "a b"
empty_s: ""
nil_v:
my-key: 1
list_v: [1, 2]
bg_group:
  inner_var: 1
  mytest:
    mode: inbg
"if [ -n \"$x\" ]":
  foo: bar
  mysetup: in-if
"script tests/custom": |
  #!/bin/sh
  echo custom
"function myfunc": |
  echo hi
mytest:
  mode: fast
"#;
    let sh = &compile(&mock, "m3.yaml", text)[0];
    let export = "\texport float_v=1.5
\texport bool_v=true
\texport str_q='it'\\''s $HOME'
\texport str_nl='it'\\''s
ok'
\texport str_sp='a b'
\texport empty_s=
\texport nil_v=
\texport list_v='1
2'
";
    assert!(sh.contains(export), "{sh}");
    assert!(!sh.contains("my-key"), "{sh}");
    let run_job = "\tmkdir -p \"$LKP_SRC\"/tests
\tcat > \"$LKP_SRC\"/tests/custom <<'EOF'
#!/bin/sh
echo custom
EOF
\tchmod +x \"$LKP_SRC\"/tests/custom

\tmyfunc()
\t{
\t\techo hi
\t}

\tbg_group()
\t{
\t\texport inner_var=1

\t\trun_test mode='inbg' \"$LKP_SRC\"/bin/run-test mytest
\t}
\tbg_group &

\tif [ -n \"$x\" ]
\tthen
\t\texport foo='bar'

\t\trun_setup \"$LKP_SRC\"/bin/run-setup mysetup 'in-if'
\tfi

\trun_test mode='fast' \"$LKP_SRC\"/bin/run-test mytest
}
";
    assert!(sh.contains(run_job), "{sh}");
}

#[test]
fn old_layout_command_lines_s6_4() {
    let mock = Mock::of("lkp-old");
    let tree = mock.tree();
    assert!(tree.get("wrapper").is_empty());
    assert!(tree.get("README").is_empty());
    let sh = &compile(
        &mock,
        "ftq.yaml",
        "cpufreq_governor: performance\nsanity-check:\noom-killer:\nwatchdog:\nftq:\n  test: add\n  freq: 10000\nmydaemon: {port: 1}\n",
    )[0];
    let want = "\trun_setup \"$LKP_SRC\"/setup/cpufreq_governor 'performance'

\trun_setup \"$LKP_SRC\"/setup/sanity-check

\trun_monitor \"$LKP_SRC\"/monitors/wrapper oom-killer
\trun_monitor \"$LKP_SRC\"/monitors/plain/watchdog

\trun_test test='add' freq=10000 \"$LKP_SRC\"/tests/wrapper ftq

\tstart_daemon port=1 \"$LKP_SRC\"/daemon/wrapper mydaemon
";
    assert!(sh.contains(want), "{sh}");
    assert!(
        sh.contains("\tenv test='add' freq=10000 \"$LKP_SRC\"/stats/wrapper ftq\n"),
        "{sh}"
    );
    assert!(
        sh.contains("\t\"$LKP_SRC\"/stats/wrapper time ftq.time\n"),
        "{sh}"
    );
}

#[test]
fn params_and_program_values_s6_2_s6_5() {
    let mock = Mock::new();
    let sh = &compile(
        &mock,
        "e.yaml",
        "nr_threads: 200%\niterations: 100x\nebizzy:\n  duration: 10s\nmysetup: \"a 'b c'\"\ncpufreq_governor:\nmytest: {grp: {a: 1}, vm.x: 2}\n",
    )[0];
    for line in [
        "\texport nr_threads=16\n",
        "\texport iterations=100\n",
        "\trun_test duration='10s' \"$LKP_SRC\"/bin/run-test ebizzy\n",
        "\tenv duration='10s' \"$LKP_SRC\"/bin/run-stats ebizzy\n",
        "\trun_setup \"$LKP_SRC\"/bin/run-setup mysetup 'a' 'b c'\n",
        "\trun_test a=1 vm_46_x=2 \"$LKP_SRC\"/bin/run-test mytest\n",
    ] {
        assert!(sh.contains(line), "{line:?} in\n{sh}");
    }
    assert!(!sh.contains("cpufreq_governor"), "{sh}");
}

/// Values that break naive quoting: the script must export exactly these bytes.
#[test]
fn quoting_gives_every_value_back() {
    let values: &[(&str, &str)] = &[
        ("q1", "it's"),
        ("q2", "say \"hi\""),
        ("q3", "$HOME and ${x} and $(echo no) and `echo no`"),
        ("q4", "back\\slash\\n"),
        ("q5", "line1\nline2\n"),
        ("q6", ""),
        ("q7", "ünïcødé ✓"),
        ("q8", "'\n'"),
        ("q9", " lead and trail "),
        ("q10", "EOF"),
        ("q11", "a\tb;c|d&e*f?g[h]"),
        ("q12", "-n"),
    ];
    let mut job = Map::new();
    for (k, v) in values {
        job.insert(Value::str(*k), Value::str(*v));
    }
    job.insert(Value::str("arch"), Value::str("x86_64"));
    let yaml = gauntlet_job::yaml::dump_document(&job);
    let atomic = AtomicJob::from_yaml(&yaml, "q.yaml").unwrap();
    let sh = atomic.to_shell(&ProgramTree::builtin()).unwrap();
    sh_n(&sh);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.sh");
    std::fs::write(&path, &sh).unwrap();
    let names: Vec<&str> = values.iter().map(|(k, _)| *k).collect();
    let probe = format!(
        ". \"$0\"; export_top_env; for k in {}; do eval \"printf '%s\\\\0' \\\"\\$$k\\\"\"; done",
        names.join(" ")
    );
    for shell in ["sh", "busybox"] {
        let mut cmd = Command::new(shell);
        if shell == "busybox" {
            cmd.arg("sh");
        }
        let Ok(out) = cmd
            .arg("-c")
            .arg(&probe)
            .arg(&path)
            .env("LKP_SRC", "/x")
            .output()
        else {
            continue;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<String> = out
            .stdout
            .split(|b| *b == 0)
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect();
        for (i, (k, v)) in values.iter().enumerate() {
            assert_eq!(got[i], *v, "{shell}: {k}");
        }
    }
}

#[test]
fn not_atomic_is_refused() {
    let job = AtomicJob::from_yaml("suite: x\n", "x.yaml").unwrap();
    let err = job.to_shell(&ProgramTree::builtin()).unwrap_err();
    assert!(err.to_string().starts_with("x.yaml:1:1:"), "{err}");
    assert!(err.to_string().contains("no `arch`"), "{err}");
}

/// `sh -n` accepts the script of every atomic job of every fixture job file.
#[test]
fn every_fixture_compiles_and_passes_sh_n() {
    let mut count = 0;
    for tree_name in ["lkp", "lkp-old"] {
        let mock = Mock::of(tree_name);
        let tree = mock.tree();
        let jobs_dir = mock.root().join("jobs");
        let Ok(entries) = std::fs::read_dir(&jobs_dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "yaml")
                || path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("cycle"))
            {
                continue;
            }
            let file = gauntlet_job::JobFile::load(
                &path,
                &gauntlet_job::LoadOptions {
                    tree: tree.clone(),
                    ..Default::default()
                },
            )
            .unwrap();
            for job in file.expand(&gauntlet_job::ExpandOptions {
                testbox: Some("tbox".into()),
                ..Default::default()
            }) {
                let sh = job.unwrap().to_shell(&tree).unwrap();
                sh_n(&sh);
                count += 1;
            }
        }
    }
    assert!(count >= 3, "{count}");
}

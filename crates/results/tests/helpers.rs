//! The shipped LAVA helpers, run by real shells (dash as `sh`, and busybox when installed),
//! their output read back by the parser: the two must agree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gauntlet_results::{
    End, HELPERS, Measurement, StreamConfig, StreamParser, StreamReport, write_helpers,
};
use gauntlet_verdict::Status;

/// The shells to run the helpers with: `sh`, and `busybox sh` when busybox is there.
fn shells() -> Vec<Vec<String>> {
    let mut shells = vec![vec!["sh".to_owned()]];
    if Path::new("/bin/busybox").exists() {
        shells.push(vec!["/bin/busybox".to_owned(), "sh".to_owned()]);
    } else {
        eprintln!("NOTE: /bin/busybox is absent: the helpers are run with sh only");
    }
    shells
}

struct Helpers {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn helpers() -> Helpers {
    let dir = tempfile::tempdir().unwrap();
    let written = write_helpers(dir.path()).unwrap();
    assert_eq!(written.len(), HELPERS.len());
    for path in &written {
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "{}", path.display());
    }
    Helpers {
        path: dir.path().to_owned(),
        _dir: dir,
    }
}

fn run(shell: &[String], helpers: &Helpers, helper: &str, args: &[&str]) -> Output {
    Command::new(&shell[0])
        .args(&shell[1..])
        .arg(helpers.path.join(helper))
        .args(args)
        .output()
        .unwrap()
}

fn read_back(stdout: &[u8]) -> StreamReport {
    let mut parser = StreamParser::new(StreamConfig::host_process());
    parser.feed(stdout);
    parser.finish(End::Eof)
}

const ODD_NAMES: &[&str] = &[
    "plain",
    "dotted.name-1_2",
    "slash/and:colon",
    "equals=in=name",
    "RESULT=fail",
    "dollar$HOME",
    "quote'single",
    "quote\"double",
    "back\\slash\\n",
    "semi;colon&amp|pipe",
    "*glob?[x]",
    "-starts-with-dash",
    "%s%d%%",
    "caf\u{e9}-\u{65e5}\u{672c}",
    "$(echo)`echo`${x}",
];

#[test]
fn results_and_measurements_round_trip() {
    let helpers = helpers();
    for shell in shells() {
        let mut stdout = Vec::new();
        let mut expected = Vec::new();
        for (i, name) in ODD_NAMES.iter().enumerate() {
            let result = ["pass", "fail", "skip", "unknown"][i % 4];
            let status = [Status::Pass, Status::Fail, Status::Skip, Status::Miss][i % 4];
            let out = run(
                &shell,
                &helpers,
                "lava-test-case",
                &[name, "--result", result],
            );
            assert!(out.status.success(), "{shell:?} {name}: {out:?}");
            assert!(out.stderr.is_empty(), "{shell:?} {name}: {out:?}");
            stdout.extend_from_slice(&out.stdout);
            expected.push((name.to_string(), status, None));
        }
        let measured: &[(&str, &str, Option<&str>, f64)] = &[
            ("m1", "42", Some("ms"), 42.0),
            ("m2", "-1.5", Some("MB/s"), -1.5),
            ("m3", ".5", None, 0.5),
            ("m4", "2e-3", Some("s"), 0.002),
            ("m5", "+7.", Some("%"), 7.0),
        ];
        for (name, m, units, value) in measured {
            let mut args = vec![*name, "--result", "PASS", "--measurement", m];
            if let Some(u) = units {
                args.extend(["--units", u]);
            }
            let out = run(&shell, &helpers, "lava-test-case", &args);
            assert!(out.status.success(), "{shell:?} {name}: {out:?}");
            stdout.extend_from_slice(&out.stdout);
            let measurement = Measurement {
                value: *value,
                units: units.map(str::to_owned),
            };
            expected.push((name.to_string(), Status::Pass, Some(measurement)));
        }
        let report = read_back(&stdout);
        assert!(
            report.problems.is_empty(),
            "{shell:?}: {:?}",
            report.problems
        );
        let got: Vec<_> = report.lava[0]
            .results
            .iter()
            .map(|r| (r.path.case.clone(), r.status, r.measurement.clone()))
            .collect();
        assert_eq!(got, expected, "{shell:?}");
    }
}

#[test]
fn shell_cases_sets_and_raise_round_trip() {
    let helpers = helpers();
    for shell in shells() {
        let script = format!(
            r#"PATH="{dir}:$PATH"
lava-test-set start "odd.set/1"
lava-test-case good --shell 'echo "inside good"; true'
lava-test-case bad --shell 'echo inside bad; exit 3'
lava-test-set stop
lava-test-case piped --shell 'printf "%s\n" a b | grep -q b'
lava-test-raise 'setup failed: no <disk>
second line'
echo "raise exited $?"
"#,
            dir = helpers.path.display()
        );
        let out = Command::new(&shell[0])
            .args(&shell[1..])
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("raise exited 1"), "{shell:?}: {stdout}");
        let report = read_back(&out.stdout);
        let suite = &report.lava[0];
        let rows: Vec<String> = suite
            .results
            .iter()
            .map(|r| format!("{} {}", r.path, r.status))
            .collect();
        assert_eq!(
            rows,
            [
                "tests/odd.set/1/good PASS",
                "tests/odd.set/1/bad FAIL",
                "tests/piped PASS"
            ],
            "{shell:?}: {stdout}"
        );
        let bad = suite.results[1].excerpt.as_ref().unwrap();
        assert!(bad.text.contains("inside bad"), "{shell:?}: {bad:?}");
        assert_eq!(bad.last_line - bad.first_line, 2, "{shell:?}: {bad:?}");
        let outcome = suite.outcome.as_ref().unwrap();
        assert_eq!(outcome.status, Status::Error);
        assert_eq!(
            outcome.reason,
            "lava-test-raise: setup failed: no (disk) second line"
        );
        // The failing case still outweighs the raise, as everywhere in gauntlet.
        assert_eq!(suite.status(), Status::Fail);
    }
}

#[test]
fn invalid_use_prints_no_signal_and_exits_2() {
    let helpers = helpers();
    let mut bad: Vec<(&str, Vec<&str>)> = vec![
        ("lava-test-case", vec![]),
        ("lava-test-case", vec!["name"]),
        ("lava-test-case", vec!["name", "--measurement", "1"]),
        ("lava-test-case", vec!["name", "--result"]),
        ("lava-test-case", vec!["name", "--result", "passed"]),
        ("lava-test-case", vec!["name", "--result", ""]),
        (
            "lava-test-case",
            vec!["name", "--result", "pass", "--units", "ms"],
        ),
        (
            "lava-test-case",
            vec!["name", "--result", "pass", "--bogus"],
        ),
        ("lava-test-case", vec!["two words", "--result", "pass"]),
        ("lava-test-case", vec!["a>b", "--result", "pass"]),
        ("lava-test-case", vec!["tab\there", "--result", "pass"]),
        ("lava-test-case", vec!["", "--result", "pass"]),
        ("lava-test-case", vec!["name", "--shell"]),
        (
            "lava-test-case",
            vec!["name", "--result", "pass", "--shell", "true"],
        ),
        ("lava-test-set", vec![]),
        ("lava-test-set", vec!["begin", "x"]),
        ("lava-test-set", vec!["start"]),
        ("lava-test-set", vec!["start", "a b"]),
        ("lava-test-raise", vec![]),
        ("lava-test-raise", vec![""]),
    ];
    for m in ["1.2.3", "12ms", "nan", "inf", "1e", "", "0x10", "1,5", "--"] {
        bad.push((
            "lava-test-case",
            vec!["name", "--result", "pass", "--measurement", m],
        ));
    }
    bad.push((
        "lava-test-case",
        vec![
            "name",
            "--result",
            "pass",
            "--measurement",
            "1",
            "--units",
            "m s",
        ],
    ));
    for shell in shells() {
        for (helper, args) in &bad {
            let out = run(&shell, &helpers, helper, args);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{shell:?} {helper} {args:?}: {out:?}"
            );
            assert!(
                out.stdout.is_empty(),
                "{shell:?} {helper} {args:?}: {out:?}"
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.starts_with(&format!("{helper}: ")),
                "{shell:?} {helper} {args:?}: {stderr}"
            );
        }
    }
}

#[test]
fn the_signals_are_exactly_lavas() {
    let helpers = helpers();
    for shell in shells() {
        let out = run(
            &shell,
            &helpers,
            "lava-test-case",
            &[
                "measured",
                "--result",
                "pass",
                "--measurement",
                "42",
                "--units",
                "ms",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=measured RESULT=pass UNITS=ms MEASUREMENT=42>\n"
        );
        let out = run(
            &shell,
            &helpers,
            "lava-test-case",
            &["uname", "--shell", "true"],
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "<LAVA_SIGNAL_STARTTC uname>\n<LAVA_SIGNAL_ENDTC uname>\n<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=uname RESULT=pass>\n"
        );
        let out = run(&shell, &helpers, "lava-test-set", &["start", "basics"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "<LAVA_SIGNAL_TESTSET START basics>\n"
        );
        let out = run(&shell, &helpers, "lava-test-set", &["stop", "basics"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "<LAVA_SIGNAL_TESTSET STOP>\n"
        );
        let out = run(&shell, &helpers, "lava-test-raise", &["disk", "missing"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "<LAVA_SIGNAL_TESTRAISE disk missing>\n"
        );
    }
}

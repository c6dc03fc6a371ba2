//! Every before/after example of lkp-jobs.md (§1–§7) as data: job text in, atomic jobs out.
//! Rows that differ from LKP on purpose say so (see the README's departures).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Mock, at, keys, names};
use gauntlet_job::Override;

struct Case {
    name: &'static str,
    text: &'static str,
    /// Expected file names, in order.
    files: &'static [&'static str],
    /// `(job index, dotted path, inspect of the value)`.
    values: &'static [(usize, &'static str, &'static str)],
}

fn run(cases: &[Case], no_defaults: bool) {
    for case in cases {
        let mock = Mock::new();
        let jobs = mock
            .split_with(case.name, case.text, no_defaults, &[])
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(names(&jobs), case.files, "{}", case.name);
        for (i, path, want) in case.values {
            assert_eq!(&at(&jobs[*i], path), want, "{} job {i} {path}", case.name);
        }
    }
}

#[test]
fn includes_s1_1_to_1_3() {
    run(
        &[
            Case {
                name: "inc1.yaml",
                text: "<<: base.yaml\nruntime: 600s\n",
                files: &["inc1-fast-1G.yaml"],
                values: &[(0, "runtime", "\"600s\""), (0, "mytest.size", "\"1G\"")],
            },
            Case {
                name: "inc2.yaml",
                text: "runtime: 600s\n<<: base.yaml\n",
                files: &["inc2-fast-1G.yaml"],
                values: &[(0, "runtime", "\"300s\"")],
            },
            Case {
                name: "inc3.yaml",
                text: "suite: mytest\ntestcase: mytest\nmytest:\n  <<: ../frag.yaml\n  size: 2G\n",
                files: &["inc3-slow-2G.yaml"],
                values: &[(0, "mytest", r#"{"mode"=>"slow", "size"=>"2G"}"#)],
            },
            // Departure: includes nest (LKP splices one level and keeps `"<<" => "base.yaml"`).
            Case {
                name: "sub/nest.yaml",
                text: "<<: nest_a.yaml\n",
                files: &["nest-fast-1G.yaml"],
                values: &[(0, "a", "1"), (0, "b", "2"), (0, "suite", "\"mytest\"")],
            },
            Case {
                name: "inc4.yaml",
                text: "<<: {file: base.yaml, runtime: 900s, ignore: [suite]}\n",
                files: &["inc4-fast-1G.yaml"],
                values: &[
                    (0, "suite", "nil"),
                    (0, "runtime", "\"900s\""),
                    (0, "testcase", "\"mytest\""),
                ],
            },
            Case {
                name: "inc6.yaml",
                text: "<<: multi.yaml\nruntime: 10\n",
                files: &["inc6-fast.yaml", "inc6-slow.yaml"],
                values: &[(0, "runtime", "nil"), (1, "runtime", "10")],
            },
            Case {
                name: "inc7.yaml",
                text: "<<: {file: multi.yaml, runtime: 10}\n",
                files: &["inc7-fast.yaml", "inc7-slow.yaml"],
                values: &[(0, "runtime", "10"), (1, "runtime", "10")],
            },
            // The jobs-root fallback: `cgroup2.yaml` lives in jobs/, the job in jobs/deep/er/.
            Case {
                name: "deep/er/cg.yaml",
                text: "<<: cgroup2.yaml\n",
                files: &["cg-defaults.yaml"],
                values: &[(0, "cgroup2", r#"{"memory.high"=>"90%"}"#)],
            },
        ],
        true,
    );
}

#[test]
fn merge_keys_and_duplicates_s1_4() {
    run(
        &[
            Case {
                name: "al1.yaml",
                text: "common: &common\n  mode: fast\n  size: 1G\nmytest:\n  <<: *common\n  size: 2G\n",
                files: &["al1-fast-fast-1G-2G.yaml"],
                values: &[(0, "mytest", r#"{"mode"=>"fast", "size"=>"2G"}"#)],
            },
            Case {
                name: "dup.yaml",
                text: "a: 1\nb: 2\na: 3\n",
                files: &["dup-defaults.yaml"],
                values: &[(0, "a", "3")],
            },
            // Departure: an inline merge mapping is a merge, not an include of a file named `{…}`.
            Case {
                name: "inl.yaml",
                text: "mytest:\n  <<: {mode: fast, size: 1G}\n",
                files: &["inl-fast-1G.yaml"],
                values: &[],
            },
        ],
        true,
    );
}

#[test]
fn erb_example_s2_1() {
    let text = r#"suite: mytest
testcase: mytest
runtime: 300
timeout: <%= runtime * 2 %>
<%# a comment %>
% if runtime > 100
long: 1
% else
short: 1
% end
secs: <%= to_seconds('1h') %>
who: "<%= job['suite'] %>-<%= self['testcase'] %>"
pct: 100%% literal
mytest:
  mode: <% if runtime > 100 %>slow<% else %>fast<% end %>
  size: {{ nr_cpu * 1024 }}
label: "nr_cpu={{nr_cpu}} mode={{mytest.mode}}"
"#;
    run(
        &[Case {
            name: "erb1.yaml",
            text,
            files: &["erb1-slow-8192.yaml"],
            values: &[
                (0, "timeout", "600"),
                (0, "long", "1"),
                (0, "short", "nil"),
                (0, "secs", "3600"),
                (0, "who", "\"mytest-mytest\""),
                (0, "pct", "\"100%% literal\""),
                (0, "mytest", r#"{"mode"=>"slow", "size"=>8192}"#),
                (0, "label", "\"nr_cpu=8 mode=slow\""),
            ],
        }],
        false,
    );
}

#[test]
fn double_braces_s2_2() {
    run(
        &[
            Case {
                name: "b1.yaml",
                text: "mytest: {mode: [a, b]}\nlabel: x-{{ mytest.mode }}\n",
                files: &["b1-a.yaml", "b1-b.yaml"],
                values: &[(0, "label", "\"x-a\""), (1, "label", "\"x-b\"")],
            },
            Case {
                name: "b2.yaml",
                text: "label: x-{{ mytest.mode }}\nmytest: {mode: [a, b]}\n",
                files: &["b2-a.yaml", "b2-b.yaml"],
                values: &[
                    (0, "label", r#""x-[\"a\", \"b\"]""#),
                    (1, "label", r#""x-[\"a\", \"b\"]""#),
                ],
            },
            Case {
                name: "b3.yaml",
                text: "mytest:\n  size: {{ nr_cpu * 1024 }}\n",
                files: &["b3-8192.yaml"],
                values: &[(0, "mytest.size", "8192")],
            },
            Case {
                name: "br3.yaml",
                text: "mytest: {mode: [a, b, c], size: \"{{ mytest.mode == 'b' ? nil : 1 }}\"}\n",
                files: &["br3-a-1.yaml", "br3-c-1.yaml"],
                values: &[(0, "mytest.size", "1")],
            },
            Case {
                name: "fsm.yaml",
                text: "fsmark:\n  filesize: [9B, 8K, 16M]\n  test_size: {{ case fsmark.filesize when '9B' then '256M' when '8K' then '1G' when '16MB' then '16G' end }}\n",
                files: &["fsm-9B-256M.yaml", "fsm-8K-1G.yaml"],
                values: &[],
            },
            Case {
                name: "empty.yaml",
                text: "mytest: {mode: []}\n",
                files: &[],
                values: &[],
            },
        ],
        false,
    );
}

#[test]
fn multi_part_s3() {
    let text = "suite: mytest
testcase: mytest
mail_cc: base@x.org
need_memory: 1G
need_kconfig: [A]
sysctl:
  vm.a: 1
  vm.b: 2
mytest:
  mode: fast
  size: 1G
---
mytest:
  mode: slow
---
mytest.mode: medium
mail_cc: extra@x.org
need_memory: 4G
need_kconfig: B
sysctl.vm.c: 3
---
sysctl-:
mytest.size-:
need_kconfig+: [C, A]
";
    run(
        &[Case {
            name: "mp.yaml",
            text,
            files: &[
                "mp-fast-1G.yaml",
                "mp-slow.yaml",
                "mp-medium-1G.yaml",
                "mp-fast.yaml",
            ],
            values: &[
                (0, "mail_cc", "\"base@x.org\""),
                (0, "sysctl", r#"{"vm.a"=>1, "vm.b"=>2}"#),
                (1, "mytest", r#"{"mode"=>"slow"}"#),
                (2, "mail_cc", r#"["base@x.org", "extra@x.org"]"#),
                (2, "need_memory", "\"4G\""),
                (2, "need_kconfig", r#"["A", "B"]"#),
                (2, "sysctl", r#"{"vm.a"=>1, "vm.b"=>2, "vm"=>{"c"=>3}}"#),
                (2, "mytest", r#"{"mode"=>"medium", "size"=>"1G"}"#),
                (3, "sysctl", "nil"),
                (3, "mytest", r#"{"mode"=>"fast"}"#),
                (3, "need_kconfig", r#"["A", "C"]"#),
            ],
        }],
        true,
    );
}

#[test]
fn trailing_document_separator_does_not_duplicate() {
    // Departure: LKP expands the empty document after a trailing `---` as hash_0 again.
    run(
        &[Case {
            name: "tr.yaml",
            text: "mytest: {mode: fast}\n---\n",
            files: &["tr-fast.yaml"],
            values: &[],
        }],
        true,
    );
}

#[test]
fn incremental_keys_s4_3() {
    run(
        &[
            Case {
                name: "inc5.yaml",
                text: "<<: base.yaml\nmytest.size: 4G\nruntime-:\nmytest.mode+: [slow]\n",
                files: &["inc5-fast-4G.yaml", "inc5-slow-4G.yaml"],
                values: &[(0, "runtime", "nil")],
            },
            Case {
                name: "h0.yaml",
                text: "a.b.c: 1\nx+: 1\ny: [1, 2, 2, 3]\ny+: 4\nz-:\nz: 9\n",
                files: &["h0-defaults.yaml"],
                values: &[
                    (0, "a", r#"{"b"=>{"c"=>1}}"#),
                    (0, "x", "1"),
                    (0, "y", "[1, 2, 3, 4]"),
                    (0, "z", "nil"),
                ],
            },
        ],
        true,
    );
    let mock = Mock::new();
    let jobs = mock
        .split_with("h0.yaml", "a.b.c: 1\nx+: 1\ny: [1, 2]\n", true, &[])
        .unwrap();
    // Newly created keys move to the end of the key order.
    assert_eq!(keys(&jobs[0]), ["y", "a", "x"]);
}

#[test]
fn command_line_overrides_s4_5() {
    let mock = Mock::new();
    let jobs = mock
        .split_with(
            "sd.yaml",
            "suite: mytest\nmytest: {mode: [fast, slow]}\ny: [1, 2, 2, 3]\ny+: 4\n",
            true,
            &[
                Override::Yaml("mytest.size: 2G".into()),
                Override::Yaml("mail_cc: cli@x.org".into()),
                Override::Assign("mytest.mode=cli".into()),
                Override::Assign("y-=[2]".into()),
            ],
        )
        .unwrap();
    assert_eq!(names(&jobs), ["sd-cli-2G.yaml"]);
    assert_eq!(at(&jobs[0], "y"), "[1, 3, 4]");
    assert_eq!(at(&jobs[0], "mytest"), r#"{"mode"=>"cli", "size"=>"2G"}"#);
    let yaml = jobs[0].to_yaml();
    let section = yaml.split("#! user overrides").nth(1).unwrap();
    assert!(section.contains("mail_cc: cli@x.org"), "{yaml}");
}

#[test]
fn accumulative_order_s5_2() {
    let mock = Mock::new();
    let jobs = mock
        .split_with(
            "acc.yaml",
            "suite: mytest\ntestcase: mytest\ncategory: functional\nmail_cc: h0@x.org\nx_both: from-hash0\n---\nmail_cc: h1@x.org\nx_default: from-hash1\n",
            false,
            &[Override::Yaml("mail_cc: cli@x.org".into())],
        )
        .unwrap();
    assert_eq!(jobs.len(), 2);
    let j = &jobs[1];
    assert_eq!(
        at(j, "mail_cc"),
        r#"["h0@x.org", "inc@x.org", "h1@x.org", "cli@x.org"]"#
    );
    assert_eq!(at(j, "x_both"), "\"from-hash0\"");
    assert_eq!(at(j, "x_default"), "\"from-hash1\"");
    assert!(
        j.to_yaml().contains("\n#! include/category/functional\n"),
        "{}",
        j.to_yaml()
    );
}

#[test]
fn auto_include_prefixes_s5_3() {
    // (value, files loaded). Departure: `vm-lkp` does not load OTHERS (LKP's double load).
    for (value, loaded) in [
        ("vm-lkp-wsx01-4G", &["vm", "vm_lkp", "OTHERS", "ALL"][..]),
        ("foo", &["OTHERS", "ALL"][..]),
        ("vm-lkp", &["vm", "vm_lkp", "ALL"][..]),
    ] {
        let mock = Mock::new();
        let jobs = mock.split("mk.yaml", &format!("mykey: {value}\n"));
        let got: Vec<String> = keys(&jobs[0])
            .into_iter()
            .filter_map(|k| k.strip_prefix("loaded_").map(str::to_string))
            .collect();
        assert_eq!(got, loaded, "{value}");
    }
    // Hosts beat includes.
    let mock = Mock::new();
    std::fs::write(mock.root().join("include/mykey/ALL"), "nr_cpu: 99\n").unwrap();
    let jobs = mock.split("mk.yaml", "mykey: foo\n");
    assert_eq!(at(&jobs[0], "nr_cpu"), "8");
}

#[test]
fn matrix_order_and_names_s7() {
    run(
        &[
            Case {
                name: "m1.yaml",
                text: "nr_threads: [1, 2]\nmail_cc: [a@x.org, b@x.org]\nmytest:\n  mode:\n    - fast\n    - slow\n  size: 1G\n  flag:\n  other: [x, y]\n",
                files: &[
                    "m1-flag-fast-1-1G.yaml",
                    "m1-flag-slow-1-1G.yaml",
                    "m1-flag-fast-2-1G.yaml",
                    "m1-flag-slow-2-1G.yaml",
                ],
                values: &[
                    (0, "mail_cc", r#"["a@x.org", "b@x.org"]"#),
                    (0, "mytest.other", r#"["x", "y"]"#),
                ],
            },
            Case {
                name: "hackbench.yaml",
                text: "suite: hackbench\ntestcase: hackbench\ncategory: benchmark\nnr_threads:\n  - 100%\n  - 1600%\niterations: 8\nhackbench:\n  mode:\n    - process\n    - threads\n  ipc:\n    - pipe\n    - socket\n",
                files: &[
                    "hackbench-pipe-8-process-100%.yaml",
                    "hackbench-socket-8-process-100%.yaml",
                    "hackbench-pipe-8-threads-100%.yaml",
                    "hackbench-socket-8-threads-100%.yaml",
                    "hackbench-pipe-8-process-1600%.yaml",
                    "hackbench-socket-8-process-1600%.yaml",
                    "hackbench-pipe-8-threads-1600%.yaml",
                    "hackbench-socket-8-threads-1600%.yaml",
                ],
                values: &[
                    (0, "nr_threads", "\"100%\""),
                    (0, "hackbench", r#"{"mode"=>"process", "ipc"=>"pipe"}"#),
                ],
            },
            Case {
                name: "ebizzy.yaml",
                text: "suite: ebizzy\ntestcase: ebizzy\ncategory: benchmark\nnr_threads: 200%\niterations: 100x\nebizzy:\n  duration: 10s\n",
                files: &["ebizzy-10s-100x-200%.yaml"],
                values: &[],
            },
            Case {
                name: "m2.yaml",
                text: M2,
                files: &["m2-performance-fast-high-8080.yaml"],
                values: &[],
            },
            Case {
                name: "pre1.yaml",
                text: "suite: x\n",
                files: &["pre1-defaults.yaml"],
                values: &[],
            },
            Case {
                name: "kselftests.yaml",
                text: "need_memory: 2G\nkselftests:\n  group:\n    - acct\n    - x86/bugs\n---\nsysctl:\n  sc_nr_hugepages: 2\nkselftests:\n  group:\n    - mm\n---\nneed_memory: 12G\nkselftests:\n  group:\n    - kvm\n",
                files: &[
                    "kselftests-acct.yaml",
                    "kselftests-x86_bugs.yaml",
                    "kselftests-mm.yaml",
                    "kselftests-kvm.yaml",
                ],
                values: &[
                    (3, "need_memory", "\"12G\""),
                    (2, "sysctl", r#"{"sc_nr_hugepages"=>2}"#),
                ],
            },
            // A `=` option with a boolean value (LKP crashes on `true[0..30]`).
            Case {
                name: "flag.yaml",
                text: "mytest: {flag: on}\n",
                files: &["flag-flag=true.yaml"],
                values: &[],
            },
        ],
        true,
    );
    let mock = Mock::new();
    let jobs = mock
        .split_with(
            "ebizzy.yaml",
            "nr_threads: 200%\niterations: 100x\nebizzy:\n  duration: 10s\n",
            true,
            &[
                Override::Yaml("commit: 0123456789abcdef0123456789abcdef01234567".into()),
                Override::Yaml("rootfs: /osimage/debian/debian-12-x86_64-20240206.cgz".into()),
            ],
        )
        .unwrap();
    assert_eq!(
        names(&jobs),
        [
            "ebizzy-10s-100x-200%-0123456789abcdef0123456789abcdef01234567-debian-12-x86_64-20240206.cgz.yaml"
        ]
    );
}

pub const M2: &str = "suite: mytest
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

#[test]
fn saved_layout_s7_3() {
    let mock = Mock::new();
    let jobs = mock.split_with("m2.yaml", M2, false, &[]).unwrap();
    let yaml = jobs[0].to_yaml();
    assert!(
        yaml.starts_with("---\n\n#! jobs/m2.yaml\nsuite: mytest\n"),
        "{yaml}"
    );
    let order: Vec<&str> = [
        "nfs_export:",
        "job_origin: jobs/m2.yaml",
        "testbox: tbox",
        "arch: x86_64",
        "tbox_group: tbox",
        "\n#! hosts/tbox\nnr_cpu: 8\nmemory: 16G",
        "#! include/category/functional",
    ]
    .into_iter()
    .collect();
    let mut pos = 0;
    for needle in order {
        let at = yaml[pos..]
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} after {pos} in\n{yaml}"));
        pos += at;
    }
    // The saved job loads back to the same job.
    let again = gauntlet_job::AtomicJob::from_yaml(&yaml, "m2.yaml").unwrap();
    assert_eq!(again.map(), jobs[0].map());
}

#[test]
fn comments_are_kept_s1_5() {
    let mock = Mock::new();
    let jobs = mock
        .split_with(
            "c1.yaml",
            "memmap:\n\n# stats\nboot-memory: # depends on memmap\n",
            true,
            &[],
        )
        .unwrap();
    let yaml = jobs[0].to_yaml();
    assert!(
        yaml.contains("memmap:\n\n# stats\nboot-memory:\n"),
        "{yaml}"
    );
    assert!(yaml.contains("job_origin: jobs/c1.yaml"), "{yaml}");
}

#[test]
fn tbox_groups_s8_2() {
    for (host, group) in [
        ("vm-snb-12", "vm-snb"),
        ("vm-kbuild-1G-3", "vm-kbuild-1G"),
        ("lkp-hsw-4ex1-10", "lkp-hsw-4ex1"),
        ("lkp-skl-d01", "lkp-skl-d01"),
        ("lkp-ivb-2ep1", "lkp-ivb-2ep1"),
    ] {
        assert_eq!(gauntlet_job::tbox_group(host), group);
    }
    // -t vm-snb-12 loads hosts/vm-snb.
    let mock = Mock::new();
    let path = mock.job("t.yaml", "suite: x\n");
    let file = gauntlet_job::JobFile::load(
        &path,
        &gauntlet_job::LoadOptions {
            tree: mock.tree(),
            ..Default::default()
        },
    )
    .unwrap();
    let jobs: Vec<_> = file
        .expand(&gauntlet_job::ExpandOptions {
            testbox: Some("vm-snb-12".into()),
            ..Default::default()
        })
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(at(&jobs[0], "tbox_group"), "\"vm-snb\"");
    assert_eq!(at(&jobs[0], "nr_cpu"), "4");
    let err = file
        .expand(&gauntlet_job::ExpandOptions {
            testbox: Some("nosuchbox".into()),
            ..Default::default()
        })
        .next()
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("no hosts file"), "{err}");
}

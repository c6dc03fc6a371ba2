//! `revise_hash` golden vectors (§4.2: LKP's hash_spec plus the verified extra cases) and the
//! accumulative table of §5.2, as `(base, revision, overwrite, result)`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gauntlet_job::revise::{accumulative_key, revise_hash};
use gauntlet_job::{Location, Map, Value};

fn yaml(text: &str) -> Map {
    let t = if text.is_empty() {
        String::new()
    } else {
        text.replace("; ", "\n")
    };
    let doc = gauntlet_job::AtomicJob::from_yaml(&t, "t.yaml").unwrap();
    doc.map().clone()
}

fn revise(base: &str, rev: &str, overwrite: bool) -> String {
    let mut b = yaml(base);
    revise_hash(&mut b, Map::new(), overwrite, &|_: &str| {
        Location::new("t", 1, 1)
    })
    .unwrap();
    revise_hash(&mut b, yaml(rev), overwrite, &|_: &str| {
        Location::new("t", 1, 1)
    })
    .unwrap();
    Value::Hash(b).inspect()
}

#[test]
fn hash_spec_vectors() {
    let cases: &[(&str, &str, bool, &str)] = &[
        ("", "1.2.3: 4", true, r#"{"1"=>{"2"=>{"3"=>4}}}"#),
        (
            "a.b.c: 1",
            "a.b.c+: 2",
            true,
            r#"{"a"=>{"b"=>{"c"=>[1, 2]}}}"#,
        ),
        (
            "a.b.c: [1, 2]",
            "a.b.c+: 3",
            true,
            r#"{"a"=>{"b"=>{"c"=>[1, 2, 3]}}}"#,
        ),
        (
            "a.b.c: [1, 2]",
            "a.b.c+: 2",
            true,
            r#"{"a"=>{"b"=>{"c"=>[1, 2]}}}"#,
        ),
        (
            "a.b.c: {1: 2}",
            "a.b.c+: 3",
            true,
            r#"{"a"=>{"b"=>{"c"=>{1=>2, 3=>nil}}}}"#,
        ),
        (
            "a.b.c: [1, 2]",
            "a.b.c+: [3]",
            true,
            r#"{"a"=>{"b"=>{"c"=>[1, 2, 3]}}}"#,
        ),
        (
            "a.b.c: {1: 2}",
            "a.b.c+: {3: 4}",
            true,
            r#"{"a"=>{"b"=>{"c"=>{1=>2, 3=>4}}}}"#,
        ),
        (
            "a.b.c: 1",
            "a.b.c+: [2, 3]",
            true,
            r#"{"a"=>{"b"=>{"c"=>[1, 2, 3]}}}"#,
        ),
        (
            "a.b.c: 1",
            "a.b.c+: {2: 3}",
            true,
            r#"{"a"=>{"b"=>{"c"=>{2=>3, 1=>nil}}}}"#,
        ),
        (
            "a.b.c: [1, 2]",
            "a.b.c-: 1",
            true,
            r#"{"a"=>{"b"=>{"c"=>[2]}}}"#,
        ),
        (
            "a.b.c: [1, 2, 3]",
            "a.b.c-: [1, 2]",
            true,
            r#"{"a"=>{"b"=>{"c"=>[3]}}}"#,
        ),
        (
            "a.b.c: {1: 2, 3: 4}",
            "a.b.c-: 1",
            true,
            r#"{"a"=>{"b"=>{"c"=>{3=>4}}}}"#,
        ),
        (
            "a.b.c: {1: 2, 3: 4}",
            "a.b.c-: [1, 3]",
            true,
            r#"{"a"=>{"b"=>{"c"=>nil}}}"#,
        ),
        ("a.b.c: [1, 2]", "a.b.c-:", true, r#"{"a"=>{"b"=>nil}}"#),
        ("a.b.c: {1: 2}", "a.b-:", true, r#"{"a"=>nil}"#),
        ("a.b.c: {1: 2}", "a-:", true, "{}"),
        (
            "a: {b: 1}; c: 2",
            "a: {b: [3, 4]}; d: 5",
            true,
            r#"{"a"=>{"b"=>[3, 4]}, "c"=>2, "d"=>5}"#,
        ),
        ("a: {b: 1, c: 2}", "a: {b: 3}", true, r#"{"a"=>{"b"=>3}}"#),
        (
            "mail_cc: XXX",
            "mail_cc: YYY",
            true,
            r#"{"mail_cc"=>["XXX", "YYY"]}"#,
        ),
        ("a+: 1", "a+: [2, 3]", true, r#"{"a"=>[1, 2, 3]}"#),
        ("a+: 1", "a+: {2: 3}", true, r#"{"a"=>{2=>3, 1=>nil}}"#),
        ("a: [1, 2, 3]; a-: 1", "a-: [2]", true, r#"{"a"=>[3]}"#),
        (
            "a: {b: 1, c: 2, d: 3}; a-: b",
            "a-: [c]",
            true,
            r#"{"a"=>{"d"=>3}}"#,
        ),
        ("", "", true, "{}"),
        ("", "a.b.c: 1", true, r#"{"a"=>{"b"=>{"c"=>1}}}"#),
        ("a: [1, 1, 2]", "a+: 3", true, r#"{"a"=>[1, 2, 3]}"#),
        ("a: x", "a+: y", true, r#"{"a"=>["x", "y"]}"#),
        ("a: xyz", "a-: y", true, r#"{"a"=>"xyz"}"#),
        (
            "a: {x: 1, y: 2}",
            "a-: {x: whatever}",
            true,
            r#"{"a"=>{"y"=>2}}"#,
        ),
        ("a: [1, 2]", "a-: [1, 2]", true, r#"{"a"=>nil}"#),
        // Departures: a path through a scalar (LKP: {} / {a: 2, "a.b": 2} / kept "a.b" key).
        ("a: 1", "a.b-:", true, r#"{"a"=>1}"#),
        ("a: 1", "a.b: 2", true, r#"{"a"=>{"b"=>2}}"#),
        ("a: 1", "a.b: 2", false, r#"{"a"=>1}"#),
        ("a: {b: 1}", "a.b: 2", false, r#"{"a"=>{"b"=>2}}"#),
        ("mail_cc: a", "mail_cc+: a", true, r#"{"mail_cc"=>["a"]}"#),
        ("a: [0]; a+: [1]", "a+: [2]", true, r#"{"a"=>[0, 1, 2]}"#),
        // §4.1 rule 1: `a` and `a+` in one hash, in either order.
        ("a+: [2]; a: [1]", "", true, r#"{"a"=>[1, 2]}"#),
    ];
    for (base, rev, overwrite, want) in cases {
        assert_eq!(
            &revise(base, rev, *overwrite),
            want,
            "{base} + {rev} (overwrite {overwrite})"
        );
    }
}

#[test]
fn accumulative_vectors_s5() {
    let cases: &[(&str, &str, bool, &str)] = &[
        (
            "mail_to: a",
            "mail_to: b",
            true,
            r#"{"mail_to"=>["a", "b"]}"#,
        ),
        (
            "mail_to: [a, b]",
            "mail_to: a",
            true,
            r#"{"mail_to"=>["a", "b", "a"]}"#,
        ),
        (
            "mail_cc: a",
            "mail_cc: [b, c]",
            true,
            r#"{"mail_cc"=>["a", "b", "c"]}"#,
        ),
        ("mail_cc:", "mail_cc: b", true, r#"{"mail_cc"=>"b"}"#),
        ("mail_cc: a", "mail_cc:", true, r#"{"mail_cc"=>"a"}"#),
        (
            "need_kconfig: [A]",
            "need_kconfig: [B]",
            false,
            r#"{"need_kconfig"=>["A", "B"]}"#,
        ),
        (
            "need_kernel_version: \">= v5.0\"",
            "need_kernel_version: \"< v6.0\"",
            true,
            r#"{"need_kernel_version"=>[">= v5.0", "< v6.0"]}"#,
        ),
        (
            "need_memory: 1G",
            "need_memory: 2G",
            true,
            r#"{"need_memory"=>"2G"}"#,
        ),
        (
            "need_memory: 1G",
            "need_memory: 2G",
            false,
            r#"{"need_memory"=>"1G"}"#,
        ),
        ("need_cpu: 2", "need_cpu: 4", true, r#"{"need_cpu"=>4}"#),
        (
            "constraints: {a: 1}",
            "constraints: {b: 2}",
            true,
            r#"{"constraints"=>{"a"=>1, "b"=>2}}"#,
        ),
        // Departure: each element becomes a key (LKP: the whole array is one key).
        (
            "constraints: {a: 1}",
            "constraints: [x]",
            true,
            r#"{"constraints"=>{"a"=>1, "x"=>nil}}"#,
        ),
        (
            "x: {mail_cc: a}",
            "x: {mail_cc: b}",
            true,
            r#"{"x"=>{"mail_cc"=>"b"}}"#,
        ),
    ];
    for (base, rev, overwrite, want) in cases {
        assert_eq!(&revise(base, rev, *overwrite), want, "{base} + {rev}");
    }
    for k in [
        "mail_to",
        "mail_cc",
        "constraints",
        "need_kconfig",
        "need_x86_feature",
        "need_node",
    ] {
        assert!(accumulative_key(k), "{k}");
    }
    for k in ["need_memory", "need_cpu", "need_modules", "mail", "kconfig"] {
        assert!(!accumulative_key(k), "{k}");
    }
}

//! The `gauntlet` binary, run as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn gauntlet(db: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gauntlet"));
    cmd.arg("--db").arg(db).args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
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

fn db_in(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("g.db").display())
}

const PATCH: &[u8] = b"From: Ada Lovelace <ada@example.com>\nSubject: [PATCH] engine: add a note\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-Id: <note@example.com>\n\nAdd a note.\n\nSigned-off-by: Ada Lovelace <ada@example.com>\n---\ndiff --git a/n b/n\n--- a/n\n+++ b/n\n@@ -1 +1 @@\n-a\n+b\n";

#[test]
fn one_mail_on_stdin_like_an_mta() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(dir.path());
    let out = ok(&gauntlet(&db, &["ingest", "-"], Some(PATCH)));
    assert!(out.starts_with("Processed 1 mails: 1 patches"), "{out}");
    // Delivered again: nothing changes.
    let out = ok(&gauntlet(&db, &["ingest", "-"], Some(PATCH)));
    assert!(out.contains("1 already stored"), "{out}");
    let list: serde_json::Value =
        serde_json::from_str(&ok(&gauntlet(&db, &["series", "list", "--json"], None))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "engine: add a note");
    assert_eq!(list[0]["submitter"]["email"], "ada@example.com");
    assert_eq!(list[0]["submission"]["revision"], 1);
}

#[test]
fn demo_ingest_export_show_and_reindex() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&gauntlet(
        "sqlite::memory:",
        &["demo-ingest", "--dir", dir.path().to_str().unwrap()],
        None,
    ));
    assert!(out.contains("Processed 20 mails: 13 patches, 3 cover letters, 1 comments, 1 duplicates, 1 dropped, 1 errors"), "{out}");
    assert!(out.contains("[superseded by 3]"), "{out}");
    let db = db_in(dir.path()).replace("g.db", "gauntlet.db");

    let export: serde_json::Value =
        serde_json::from_str(&ok(&gauntlet(&db, &["export", "--json"], None))).unwrap();
    let series = export["series"].as_array().unwrap();
    assert_eq!(series.len(), 6);
    let keys: Vec<&String> = series[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["cover", "name", "patches", "total", "version"]);
    assert_eq!(
        series[0]["cover"],
        "20240301.proctree-v1-0@student.example.edu"
    );
    assert_eq!(
        series[0]["patches"][0],
        serde_json::json!([1, "20240301.proctree-v1-1@student.example.edu"])
    );

    let show: serde_json::Value = serde_json::from_str(&ok(&gauntlet(
        &db,
        &["series", "show", "2", "--json"],
        None,
    )))
    .unwrap();
    assert_eq!(show["series"]["version"], 2);
    assert_eq!(show["series"]["superseded_by"], 3);
    assert_eq!(show["revisions"].as_array().unwrap().len(), 3);
    assert_eq!(show["patches"][1]["comments"], 0);
    assert_eq!(
        show["base_commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(show["patches"][0]["author"]["name"], "Zoë Müller");
    assert_eq!(
        show["patches"][0]["commit_subject"],
        "proctree: add the system call"
    );
    assert_eq!(show["patches"][0]["trailers"][0]["key"], "Signed-off-by");
    let text = ok(&gauntlet(&db, &["series", "show", "1"], None));
    assert!(text.contains("1 replies"), "{text}");

    // Limits and the newest revision only.
    let list = |args: &[&str]| -> Vec<i64> {
        let v: serde_json::Value = serde_json::from_str(&ok(&gauntlet(&db, args, None))).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(list(&["series", "list", "--json"]), vec![6, 5, 4, 3, 2, 1]);
    assert_eq!(
        list(&["series", "list", "--json", "--limit", "2"]),
        vec![6, 5]
    );
    assert_eq!(
        list(&["series", "list", "--json", "--latest"]),
        vec![6, 5, 4, 3]
    );
    assert_eq!(
        list(&["series", "list", "--json", "--latest", "--limit", "4"]),
        vec![6, 5, 4, 3]
    );

    let out = ok(&gauntlet(&db, &["reindex"], None));
    assert!(out.contains("13 patches, 3 cover letters"), "{out}");
    let again: serde_json::Value =
        serde_json::from_str(&ok(&gauntlet(&db, &["export", "--json"], None))).unwrap();
    assert_eq!(again, export);
}

#[test]
fn directories_of_patches_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_in(dir.path());
    let patches = dir.path().join("outgoing");
    std::fs::create_dir(&patches).unwrap();
    std::fs::write(patches.join("0001-a.patch"), PATCH).unwrap();
    let out = ok(&gauntlet(
        &db,
        &["ingest", "--list-id", "local", patches.to_str().unwrap()],
        None,
    ));
    assert!(out.starts_with("Processed 1 mails"), "{out}");

    let missing = gauntlet(&db, &["ingest", "/nonexistent/archive.mbox"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/archive.mbox"));

    let none = gauntlet(&db, &["series", "show", "999"], None);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("there is no series 999"));

    let bad_db = gauntlet("mysql://nope", &["series", "list"], None);
    assert_eq!(bad_db.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_db.stderr).contains("unsupported database URL"));
}

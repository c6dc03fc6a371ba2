//! Published trees on a real bare remote in a temporary directory: publish, re-publish, read the
//! note the way a reviewer would, expire with a fake clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Fixture, fixture, git};
use gauntlet_tree::publish::{AgeSource, NOTES_REF, Publication, Publisher, expire, publish};
use gauntlet_tree::{Error, Mirror};

const DAY: u64 = 24 * 60 * 60;
/// 2025-01-01T00:00:00Z: the fake clock's start.
const T0: u64 = 1_735_689_600;
/// The committer date `common` gives every commit: 2024-01-01T00:00:00Z.
const COMMIT_DATE: u64 = 1_704_067_200;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// The fixture's project, its mirror (what gauntlet publishes from), an empty bare remote and
/// a publisher from the one to the other.
struct Setup {
    fx: Fixture,
    mirror: Mirror,
    remote: PathBuf,
    url: String,
    publisher: Publisher,
}

async fn setup() -> Setup {
    let fx = fixture();
    let mirror = fx.mirror().await;
    let remote = fx.tmp.path().join("published.git");
    std::fs::create_dir_all(&remote).unwrap();
    git(&remote, &["init", "-q", "--bare"]);
    let url = remote.to_str().unwrap().to_string();
    let publisher = Publisher::new(mirror.path(), &url);
    Setup {
        fx,
        mirror,
        remote,
        url,
        publisher,
    }
}

fn remote_branches(remote: &Path) -> Vec<(String, String)> {
    let out = git(
        remote,
        &[
            "for-each-ref",
            "--format=%(refname:short) %(objectname)",
            "refs/heads",
        ],
    );
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn publication(
    project: &str,
    series_id: i64,
    revision: u32,
    head: &str,
    base: &str,
) -> Publication {
    Publication {
        project: project.to_string(),
        series_id,
        revision,
        head: head.to_string(),
        base: base.to_string(),
    }
}

async fn has_record(publisher: &Publisher, branch: &str, head: &str) -> bool {
    publisher.record(branch, head).await.unwrap().is_some()
}

/// What a reviewer does: clone the remote, fetch the notes, show the note on the branch.
fn reviewer_reads_note(tmp: &Path, remote: &Path, branch: &str) -> String {
    let clone = tmp.join(format!("reviewer-{}", branch.replace('/', "-")));
    git(
        tmp,
        &[
            "clone",
            "-q",
            "--bare",
            remote.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    git(
        &clone,
        &["fetch", "-q", "origin", &format!("{NOTES_REF}:{NOTES_REF}")],
    );
    git(
        &clone,
        &[
            "notes",
            "--ref=gauntlet",
            "show",
            &format!("refs/heads/{branch}"),
        ],
    )
}

#[tokio::test]
async fn publish_pushes_the_branch_and_a_note_with_the_base() {
    let s = setup().await;
    let done = publish(
        s.mirror.path(),
        &s.url,
        &publication("Proctree Syscall", 12, 3, &s.fx.c4, &s.fx.c3),
        at(T0),
    )
    .await
    .unwrap();
    assert_eq!(done.branch, "gauntlet/proctree-syscall/12-v3");
    assert_eq!(done.published_at, T0);
    assert_eq!(
        remote_branches(&s.remote),
        vec![(done.branch.clone(), s.fx.c4.clone())]
    );

    let note = reviewer_reads_note(s.fx.tmp.path(), &s.remote, &done.branch);
    assert_eq!(
        note,
        format!(
            "branch: gauntlet/proctree-syscall/12-v3\nbase-commit: {}\nseries: 12\nrevision: 3\npublished-at: {T0}",
            s.fx.c3
        )
    );
    // Nothing of the publication stays behind in the local repository.
    let local_refs = git(
        s.mirror.path(),
        &[
            "for-each-ref",
            "--format=%(refname)",
            "refs/notes",
            "refs/gauntlet-scratch",
        ],
    );
    assert_eq!(local_refs, "");
}

#[tokio::test]
async fn republishing_moves_the_branch_and_keeps_one_record_per_branch() {
    let s = setup().await;
    let (fx, publisher) = (&s.fx, &s.publisher);
    let first = publisher
        .publish(&publication("course", 7, 1, &fx.c4, &fx.c3), at(T0))
        .await
        .unwrap();
    // A rerun on another base gives another commit: the branch is forced there.
    let again = publisher
        .publish(&publication("course", 7, 1, &fx.c3, &fx.c2), at(T0 + 60))
        .await
        .unwrap();
    assert_eq!(first.branch, again.branch);
    assert_eq!(
        remote_branches(&s.remote),
        vec![(again.branch.clone(), fx.c3.clone())]
    );
    let record = publisher
        .record(&again.branch, &fx.c3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record["base-commit"], fx.c2);
    assert_eq!(record["published-at"], (T0 + 60).to_string());

    // The same commit published for a second project: both records are on its note.
    let other = publisher
        .publish(
            &publication("Other Project", 3, 2, &fx.c3, &fx.c2),
            at(T0 + 120),
        )
        .await
        .unwrap();
    assert_eq!(other.branch, "gauntlet/other-project/3-v2");
    let mine = publisher
        .record(&again.branch, &fx.c3)
        .await
        .unwrap()
        .unwrap();
    let theirs = publisher
        .record(&other.branch, &fx.c3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mine["published-at"], (T0 + 60).to_string());
    assert_eq!(
        (theirs["series"].as_str(), theirs["revision"].as_str()),
        ("3", "2")
    );

    // Publishing the same thing again changes nothing but the time.
    publisher
        .publish(&publication("course", 7, 1, &fx.c3, &fx.c2), at(T0 + 180))
        .await
        .unwrap();
    let mine = publisher
        .record(&again.branch, &fx.c3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mine["published-at"], (T0 + 180).to_string());
    assert!(has_record(publisher, &other.branch, &fx.c3).await);
}

#[tokio::test]
async fn concurrent_publishers_both_land_their_notes() {
    let s = setup().await;
    // Two repositories (say, two workers) publishing to one remote at the same time: one of
    // them finds the notes ref moved and builds on the other's.
    let b = Publisher::new(&s.fx.source, &s.url);
    for round in 1..=3u32 {
        let pa = publication("p", 1, round, &s.fx.c4, &s.fx.c3);
        let pb = publication("p", 2, round, &s.fx.c2, &s.fx.c1);
        let (ra, rb) = tokio::join!(s.publisher.publish(&pa, at(T0)), b.publish(&pb, at(T0)));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert!(has_record(&s.publisher, &ra.branch, &s.fx.c4).await);
        assert!(has_record(&s.publisher, &rb.branch, &s.fx.c2).await);
    }
    assert_eq!(remote_branches(&s.remote).len(), 6);
}

#[tokio::test]
async fn expire_deletes_old_branches_by_note_or_commit_date() {
    let s = setup().await;
    let (fx, publisher) = (&s.fx, &s.publisher);
    let old = publisher
        .publish(&publication("course", 1, 1, &fx.c2, &fx.c1), at(T0))
        .await
        .unwrap();
    let recent = publisher
        .publish(
            &publication("course", 2, 1, &fx.c3, &fx.c2),
            at(T0 + 10 * DAY),
        )
        .await
        .unwrap();
    let elsewhere = publisher
        .publish(&publication("other", 1, 1, &fx.c2, &fx.c1), at(T0))
        .await
        .unwrap();
    // Pushed by hand, without a note: dated by its commit (2024-01-01).
    let push = |to: &str| {
        git(
            &fx.source,
            &["push", "-q", &s.url, &format!("{}:{to}", fx.c4)],
        )
    };
    push("refs/heads/gauntlet/course/99-v1");
    // Not a name gauntlet makes: never touched.
    push("refs/heads/gauntlet/course/keep-me");

    let listed = publisher.list("course").await.unwrap();
    let summary: Vec<(&str, u64, AgeSource)> = listed
        .iter()
        .map(|b| (b.branch.as_str(), b.published_at, b.age_from))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("gauntlet/course/1-v1", T0, AgeSource::Note),
            ("gauntlet/course/2-v1", T0 + 10 * DAY, AgeSource::Note),
            ("gauntlet/course/99-v1", COMMIT_DATE, AgeSource::CommitDate),
        ]
    );

    // Twelve days on, a week's age: 1-v1 and 99-v1 go; 2-v1, the other project and the
    // foreign branch stay.
    let week = Duration::from_secs(7 * DAY);
    let deleted = expire(s.mirror.path(), &s.url, "course", week, at(T0 + 12 * DAY))
        .await
        .unwrap();
    let names: Vec<&str> = deleted.iter().map(|b| b.branch.as_str()).collect();
    assert_eq!(names, vec![old.branch.as_str(), "gauntlet/course/99-v1"]);
    let left: Vec<String> = remote_branches(&s.remote)
        .into_iter()
        .map(|(b, _)| b)
        .collect();
    assert_eq!(
        left,
        vec![
            "gauntlet/course/2-v1".to_string(),
            "gauntlet/course/keep-me".to_string(),
            elsewhere.branch.clone(),
        ]
    );
    // The expired branch's record is pruned from the note; the other project's record on the
    // same commit stays.
    assert!(!has_record(publisher, &old.branch, &fx.c2).await);
    assert!(has_record(publisher, &elsewhere.branch, &fx.c2).await);
    assert!(has_record(publisher, &recent.branch, &fx.c3).await);

    // Nothing is old enough any more.
    let none = publisher
        .expire("course", week, at(T0 + 12 * DAY))
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn bad_names_and_unknown_commits_are_refused() {
    let s = setup().await;
    let (fx, publisher) = (&s.fx, &s.publisher);
    let refused = async |p: Publication| publisher.publish(&p, at(T0)).await.unwrap_err();

    let e = refused(publication("///", 1, 1, &fx.c2, &fx.c1)).await;
    assert!(matches!(e, Error::InvalidName { .. }), "{e}");

    let absent = "0123456789abcdef0123456789abcdef01234567";
    let e = refused(publication("course", 1, 1, absent, &fx.c1)).await;
    assert!(matches!(e, Error::Publish { .. }), "{e}");
    assert!(e.to_string().contains("has no commit"), "{e}");

    let e = refused(publication("course", 1, 1, "HEAD", &fx.c1)).await;
    assert!(e.to_string().contains("not a commit id"), "{e}");
    assert!(remote_branches(&s.remote).is_empty());

    // A remote that does not exist is git's error.
    let nowhere = fx.tmp.path().join("nowhere.git");
    let e = Publisher::new(s.mirror.path(), nowhere.to_str().unwrap())
        .publish(&publication("course", 1, 1, &fx.c2, &fx.c1), at(T0))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Git { .. }), "{e}");
}

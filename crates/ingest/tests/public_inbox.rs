//! public-inbox archives built with git in temporary directories, shaped as public-inbox writes
//! them: bare epochs `git/<N>.git` on `master`, one commit per mail with the mail as the blob
//! `m`, a removal as a commit whose tree holds `d`; and a v1 inbox with `ab/cdef…` paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gauntlet_ingest::Options;
use gauntlet_ingest::public_inbox::{
    Archive, ArchiveOptions, Cursors, Epoch, Error, Layout, Source,
};
use gauntlet_store::Store;
use gauntlet_store::testing::TestDb;

fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args(["-c", "init.defaultBranch=master"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "public-inbox")
        .env("GIT_COMMITTER_EMAIL", "public-inbox@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z");
    cmd
}

/// Runs git (with `input` on stdin); panics when it fails; returns stdout trimmed.
fn git_in(dir: &Path, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    let mut child = git_command(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "git {args:?}: {stderr}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn git(dir: &Path, args: &[&str]) -> String {
    git_in(dir, args, b"")
}

/// A bare epoch repository, as `public-inbox-init -V2` leaves it.
fn init_epoch(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "--bare"]);
}

fn head(dir: &Path) -> Option<String> {
    let out = git_command(dir, &["rev-parse", "--verify", "-q", "refs/heads/master"])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Adds a commit whose tree is the single blob `name` (`m`, or `d` for a removal) on top of
/// `parent` (default: the current master) and moves master to it.
fn commit_blob(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    subject: &str,
    parent: Option<&str>,
) -> String {
    let blob = git_in(dir, &["hash-object", "-w", "--stdin"], bytes);
    let tree = git_in(
        dir,
        &["mktree"],
        format!("100644 blob {blob}\t{name}\n").as_bytes(),
    );
    let parent = parent.map(str::to_string).or_else(|| head(dir));
    let mut args = vec!["commit-tree", tree.as_str(), "-m", subject];
    if let Some(p) = &parent {
        args.extend(["-p", p.as_str()]);
    }
    let commit = git(dir, &args);
    git(dir, &["update-ref", "refs/heads/master", &commit]);
    commit
}

fn add_mail(dir: &Path, mail: &[u8]) -> String {
    commit_blob(dir, "m", mail, "mail", None)
}

fn mail(n: usize) -> Vec<u8> {
    format!(
        "From: Ada Lovelace <ada@example.com>\nSubject: [PATCH {n}/9] change {n}\n\
         Date: Mon, 1 Jan 2024 10:00:{:02} +0000\nMessage-Id: <p{n}@example.com>\n\
         List-Id: <test.example.com>\n\nWords.\n\nSigned-off-by: Ada Lovelace <ada@example.com>\n\
         ---\ndiff --git a/f{n} b/f{n}\n--- a/f{n}\n+++ b/f{n}\n@@ -1 +1 @@\n-a\n+b\n",
        n % 60
    )
    .into_bytes()
}

struct Inbox {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    mirrors: PathBuf,
}

impl Inbox {
    fn new() -> Inbox {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("inbox");
        let mirrors = tmp.path().join("mirrors");
        init_epoch(&root.join("git/0.git"));
        Inbox {
            _tmp: tmp,
            root,
            mirrors,
        }
    }

    fn epoch_dir(&self, n: u32) -> PathBuf {
        self.root.join(format!("git/{n}.git"))
    }

    fn archive(&self, options: ArchiveOptions) -> Archive {
        Archive::new(Source::Local(self.root.clone()), &self.mirrors, options)
    }

    fn epoch(&self, n: u32, options: ArchiveOptions) -> Epoch {
        let epochs = self.archive(options).epochs().unwrap();
        let epoch = epochs.into_iter().find(|e| e.number == n).unwrap();
        epoch.fetch().unwrap();
        epoch
    }
}

fn bodies(mails: &[(String, Vec<u8>)]) -> Vec<Vec<u8>> {
    mails.iter().map(|(_, b)| b.clone()).collect()
}

/// The mails of `epoch` after `since`, without their commits.
fn after(epoch: &Epoch, since: &str) -> Vec<Vec<u8>> {
    bodies(&epoch.new_mails(Some(since)).unwrap())
}

#[test]
fn reads_every_mail_in_commit_order_and_skips_removals() {
    let inbox = Inbox::new();
    let dir = inbox.epoch_dir(0);
    let c1 = add_mail(&dir, &mail(1));
    let c2 = add_mail(&dir, &mail(2));
    // Mail 3 arrives, then is removed as spam: public-inbox commits the removed mail as `d`.
    add_mail(&dir, &mail(3));
    commit_blob(&dir, "d", &mail(3), "spam", None);
    let c5 = add_mail(&dir, &mail(4));

    let epoch = inbox.epoch(0, ArchiveOptions::default());
    let mails = epoch.new_mails(None).unwrap();
    let ids: Vec<&str> = mails.iter().map(|(c, _)| c.as_str()).collect();
    // The removal commit gives no mail; mail 3's own commit still does (it was received).
    assert_eq!(ids.len(), 4);
    assert_eq!(
        (ids[0], ids[1], ids[3]),
        (c1.as_str(), c2.as_str(), c5.as_str())
    );
    assert_eq!(bodies(&mails), vec![mail(1), mail(2), mail(3), mail(4)]);

    // Up to date: nothing new.
    assert!(epoch.new_mails(Some(&c5)).unwrap().is_empty());
    // From the middle.
    assert_eq!(after(&epoch, &c2), vec![mail(3), mail(4)]);
}

#[test]
fn an_empty_epoch_has_no_mails() {
    let inbox = Inbox::new();
    let epoch = inbox.epoch(0, ArchiveOptions::default());
    assert_eq!(epoch.head().unwrap(), None);
    assert!(epoch.new_mails(None).unwrap().is_empty());
}

#[test]
fn the_stream_ends_at_the_head_even_after_a_removal() {
    let inbox = Inbox::new();
    let dir = inbox.epoch_dir(0);
    add_mail(&dir, &mail(1));
    let removal = commit_blob(&dir, "d", &mail(1), "rm", None);
    let epoch = inbox.epoch(0, ArchiveOptions::default());
    let mut stream = epoch.read(None).unwrap();
    assert!(stream.next().unwrap().is_ok());
    assert!(stream.next().is_none());
    // The cursor is the removal commit, not the last mail's: it is not read again.
    assert_eq!(stream.position(), Some(removal.as_str()));
}

#[test]
fn fetch_then_read_only_the_new_commits() {
    let inbox = Inbox::new();
    let dir = inbox.epoch_dir(0);
    for n in 1..=3 {
        add_mail(&dir, &mail(n));
    }
    let epoch = inbox.epoch(0, ArchiveOptions::default());
    let first = epoch.new_mails(None).unwrap();
    let cursor = first.last().unwrap().0.clone();

    add_mail(&dir, &mail(4));
    add_mail(&dir, &mail(5));
    // Not fetched yet: the mirror does not have them.
    assert!(epoch.new_mails(Some(&cursor)).unwrap().is_empty());
    epoch.fetch().unwrap();
    let next = epoch.new_mails(Some(&cursor)).unwrap();
    assert_eq!(bodies(&next), vec![mail(4), mail(5)]);
    assert_eq!(next.last().map(|m| m.0.clone()), head(&dir));
}

#[test]
fn rewritten_history_restarts_from_a_bounded_look_back() {
    let inbox = Inbox::new();
    let dir = inbox.epoch_dir(0);
    let mut commits = Vec::new();
    for n in 1..=10 {
        commits.push(add_mail(&dir, &mail(n)));
    }
    let options = ArchiveOptions {
        lookback: 3,
        ..ArchiveOptions::default()
    };
    let epoch = inbox.epoch(0, options.clone());
    let cursor = epoch.new_mails(None).unwrap().last().unwrap().0.clone();
    assert_eq!(cursor, commits[9]);

    // public-inbox-purge of mail 2: every later commit is rewritten, then mail 11 arrives.
    let mut parent = commits[0].clone();
    for n in 3..=11 {
        parent = commit_blob(&dir, "m", &mail(n), "mail", Some(&parent));
    }
    epoch.fetch().unwrap();

    let again = epoch.new_mails(Some(&cursor)).unwrap();
    // The old cursor stood at commit 10 of the old history; the look-back of 3 re-reads what
    // follows position 7 of the new one (mails 9 to 11 since the purge), not from the start.
    assert_eq!(bodies(&again), vec![mail(9), mail(10), mail(11)]);
    assert_eq!(again.last().map(|m| m.0.clone()), head(&dir));

    // The shared history bounds the look-back: a rewrite after commit 9 re-reads only what
    // follows it.
    let cursor = again.last().unwrap().0.clone();
    let shared = git(&dir, &["rev-parse", "master~2"]);
    let mut parent = shared.clone();
    for n in [12, 13] {
        parent = commit_blob(&dir, "m", &mail(n), "mail", Some(&parent));
    }
    epoch.fetch().unwrap();
    let wide = Epoch::new(
        0,
        epoch.upstream.clone(),
        epoch.mirror.clone(),
        ArchiveOptions {
            lookback: 100,
            ..options
        },
    );
    assert_eq!(after(&wide, &cursor), vec![mail(12), mail(13)]);
}

#[test]
fn a_cursor_unknown_to_the_mirror_reads_the_look_back() {
    let inbox = Inbox::new();
    let dir = inbox.epoch_dir(0);
    for n in 1..=5 {
        add_mail(&dir, &mail(n));
    }
    let epoch = inbox.epoch(
        0,
        ArchiveOptions {
            lookback: 2,
            ..ArchiveOptions::default()
        },
    );
    let gone = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(after(&epoch, gone), vec![mail(4), mail(5)]);
}

#[test]
fn a_new_epoch_is_found_locally_and_remotely() {
    let inbox = Inbox::new();
    add_mail(&inbox.epoch_dir(0), &mail(1));
    let numbers =
        |a: &Archive| -> Vec<u32> { a.epochs().unwrap().iter().map(|e| e.number).collect() };
    let local = inbox.archive(ArchiveOptions::default());
    assert_eq!(numbers(&local), vec![0]);

    // The same inbox served like lore: epoch N at <url>/N.
    let served = inbox._tmp.path().join("lore/test");
    std::fs::create_dir_all(&served).unwrap();
    let serve = |n: u32| {
        std::os::unix::fs::symlink(inbox.epoch_dir(n), served.join(n.to_string())).unwrap();
    };
    serve(0);
    let url = format!("file://{}", served.display());
    let remote = Archive::new(
        Source::Remote(url.clone()),
        inbox._tmp.path().join("remote-mirrors"),
        ArchiveOptions::default(),
    );
    assert_eq!(numbers(&remote), vec![0]);

    init_epoch(&inbox.epoch_dir(1));
    add_mail(&inbox.epoch_dir(1), &mail(2));
    serve(1);
    assert_eq!(numbers(&local), vec![0, 1]);
    let epochs = remote.fetch().unwrap();
    assert_eq!(
        epochs
            .iter()
            .map(|e| e.upstream.clone())
            .collect::<Vec<_>>(),
        vec![format!("{url}/0"), format!("{url}/1")]
    );
    assert_eq!(bodies(&epochs[1].new_mails(None).unwrap()), vec![mail(2)]);

    // A configured epoch list is trusted, and what follows it is still probed.
    let configured = Archive::new(
        Source::Remote(url),
        inbox._tmp.path().join("configured-mirrors"),
        ArchiveOptions {
            epochs: vec![1],
            ..ArchiveOptions::default()
        },
    );
    assert_eq!(numbers(&configured), vec![1]);
}

#[test]
fn a_v1_inbox_is_read_as_epoch_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let v1 = tmp.path().join("v1.git");
    init_epoch(&v1);
    // v1 keeps every mail in the tree at the SHA-1 of its Message-ID; the tree is built in an
    // index of its own, as public-inbox's fast-import stream does.
    let index = tmp.path().join("v1.index");
    let path = |n: usize| format!("{:02x}/{:038x}", n, n);
    let update = |args: &[&str]| {
        let out = git_command(&v1, args)
            .env("GIT_INDEX_FILE", &index)
            .env("GIT_DIR", &v1)
            .env("GIT_WORK_TREE", tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let commit = || {
        let tree = update(&["write-tree"]);
        let mut args = vec!["commit-tree".to_string(), tree, "-m".into(), "m".into()];
        if let Some(p) = head(&v1) {
            args.extend(["-p".into(), p]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let c = git(&v1, &args);
        git(&v1, &["update-ref", "refs/heads/master", &c]);
        c
    };
    let add = |n: usize| {
        let blob = git_in(&v1, &["hash-object", "-w", "--stdin"], &mail(n));
        update(&[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("100644,{blob},{}", path(n)),
        ]);
        commit()
    };
    for n in 1..=3 {
        add(n);
    }
    // Mail 2 removed.
    update(&["update-index", "--force-remove", &path(2)]);
    commit();

    let archive = Archive::new(
        Source::Local(v1.clone()),
        tmp.path().join("mirrors"),
        ArchiveOptions::default(),
    );
    let epochs = archive.fetch().unwrap();
    assert_eq!(epochs.len(), 1);
    let mails = epochs[0].new_mails(None).unwrap();
    assert_eq!(bodies(&mails), vec![mail(1), mail(2), mail(3)]);
    add(4);
    epochs[0].fetch().unwrap();
    assert_eq!(
        bodies(&epochs[0].new_mails(Some(&mails[2].0)).unwrap()),
        vec![mail(4)]
    );
}

#[test]
fn oversized_mails_are_kept_truncated() {
    let inbox = Inbox::new();
    add_mail(&inbox.epoch_dir(0), &mail(1));
    add_mail(&inbox.epoch_dir(0), &mail(2));
    let epoch = inbox.epoch(
        0,
        ArchiveOptions {
            max_mail_size: 20,
            ..ArchiveOptions::default()
        },
    );
    let read: Vec<_> = epoch.read(None).unwrap().map(|m| m.unwrap()).collect();
    assert_eq!(read.len(), 2);
    assert!(read.iter().all(|m| m.truncated && m.bytes.len() == 20));
    assert_eq!(read[1].bytes, mail(2)[..20].to_vec());
}

#[test]
fn errors_name_what_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let nothing = Archive::new(
        Source::Local(tmp.path().join("nothing")),
        tmp.path().join("m"),
        ArchiveOptions::default(),
    );
    assert!(
        nothing
            .epochs()
            .unwrap_err()
            .to_string()
            .contains("not a public-inbox archive")
    );
    let missing = Archive::new(
        Source::Repository(tmp.path().join("absent.git").display().to_string()),
        tmp.path().join("m"),
        ArchiveOptions::default(),
    );
    let e = missing.fetch().unwrap_err().to_string();
    assert!(e.contains("clone --mirror"), "{e}");

    // A fetch that takes too long is killed.
    let inbox = Inbox::new();
    add_mail(&inbox.epoch_dir(0), &mail(1));
    let slow = inbox.archive(ArchiveOptions {
        fetch_timeout: std::time::Duration::ZERO,
        ..ArchiveOptions::default()
    });
    let e = slow.fetch().unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    // The interrupted clone is not taken for a mirror: the next fetch starts again.
    let epochs = inbox.archive(ArchiveOptions::default()).fetch().unwrap();
    assert_eq!(epochs[0].layout().unwrap(), Layout::V2);
    assert_eq!(bodies(&epochs[0].new_mails(None).unwrap()), vec![mail(1)]);
}

#[tokio::test]
async fn ingest_stores_new_mails_and_moves_the_cursors() {
    let inbox = Inbox::new();
    let dir = inbox.epoch_dir(0);
    for n in 1..=4 {
        add_mail(&dir, &mail(n));
    }
    commit_blob(&dir, "d", &mail(4), "spam", None);
    let db = TestDb::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    let archive = inbox.archive(ArchiveOptions::default());
    let options = Options {
        batch_mails: 3,
        ..Options::default()
    };
    let mut cursors = Cursors::new();
    let first = archive.poll(&store, &mut cursors, &options).await.unwrap();
    assert_eq!(first.tally.patches, 4);
    assert_eq!(cursors.get(&0), head(&dir).as_ref());
    assert_eq!(store.stats().await.unwrap().mails, 4);

    // Nothing new: nothing read.
    let idle = archive.poll(&store, &mut cursors, &options).await.unwrap();
    assert_eq!(idle.total(), 0);

    // A new mail and a new epoch.
    add_mail(&dir, &mail(5));
    init_epoch(&inbox.epoch_dir(1));
    add_mail(&inbox.epoch_dir(1), &mail(6));
    add_mail(&inbox.epoch_dir(1), &mail(7));
    let next = archive.poll(&store, &mut cursors, &options).await.unwrap();
    assert_eq!((next.tally.patches, next.already_stored), (3, 0));
    assert_eq!(cursors.get(&1), head(&inbox.epoch_dir(1)).as_ref());
    assert_eq!(store.stats().await.unwrap().mails, 7);

    // A lost cursor re-reads the epoch; nothing is stored twice.
    cursors.remove(&0);
    let again = archive.poll(&store, &mut cursors, &options).await.unwrap();
    assert_eq!((again.tally.total(), again.already_stored), (0, 5));
    assert_eq!(store.stats().await.unwrap().mails, 7);
    store.close().await;
}

/// The throughput figure of `bench/public-inbox.sh`, which builds the archive and sets
/// `GAUNTLET_BENCH_INBOX` (a v2 inbox directory).
#[tokio::test]
#[ignore = "benchmark: run by bench/public-inbox.sh"]
async fn bench_read_and_ingest() {
    let Some(root) = std::env::var_os("GAUNTLET_BENCH_INBOX") else {
        eprintln!("SKIPPED: GAUNTLET_BENCH_INBOX is not set (run bench/public-inbox.sh)");
        return;
    };
    let root = PathBuf::from(root);
    let runs: usize = std::env::var("GAUNTLET_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let tmp = tempfile::tempdir().unwrap();
    let archive = Archive::new(
        Source::Local(root),
        tmp.path().join("mirrors"),
        ArchiveOptions::default(),
    );
    let started = std::time::Instant::now();
    let epochs = archive.fetch().unwrap();
    println!(
        "mirror (clone --mirror, local): {:.3} s",
        started.elapsed().as_secs_f64()
    );

    let mut times = Vec::new();
    let mut count = 0;
    let mut bytes = 0;
    for _ in 0..runs {
        let started = std::time::Instant::now();
        count = 0;
        bytes = 0;
        for epoch in &epochs {
            for m in epoch.read(None).unwrap() {
                let m = m.unwrap();
                count += 1;
                bytes += m.bytes.len();
            }
        }
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "read: {count} mails, {:.1} MB, median of {runs}: {median:.3} s = {:.0} mails/s ({:.0} MB/s)",
        bytes as f64 / 1e6,
        count as f64 / median,
        bytes as f64 / 1e6 / median
    );

    let db = TestDb::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    let mut cursors = Cursors::new();
    let started = std::time::Instant::now();
    let summary = archive
        .ingest(&store, &mut cursors, &Options::default())
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "ingest into SQLite (read, parse, group, store): {} mails in {seconds:.3} s = {:.0} mails/s",
        summary.total(),
        summary.total() as f64 / seconds
    );
    println!("{}", summary.line());
    store.close().await;
}

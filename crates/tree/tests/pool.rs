//! The mirror and the pool of working copies: reuse, leaks after SIGKILL, concurrency.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, git, stamp};
use gauntlet_tree::{ApplyOptions, Mirror, Pool};

#[tokio::test]
async fn the_mirror_is_created_once_resolves_and_fetches() {
    let fx = fixture();
    let mirror = fx.mirror().await;
    assert!(mirror.path().starts_with(fx.cache.join("mirrors")));
    assert!(mirror.name().starts_with("source-"), "{}", mirror.name());
    assert_eq!(
        mirror.head().await.unwrap().as_deref(),
        Some(fx.c4.as_str())
    );
    assert_eq!(
        mirror.resolve_branch("stable").await.unwrap().as_deref(),
        Some(fx.c2.as_str())
    );
    assert_eq!(mirror.resolve_branch("nope").await.unwrap(), None);
    assert_eq!(
        mirror.resolve(&fx.c3[..10]).await.unwrap().as_deref(),
        Some(fx.c3.as_str())
    );
    assert!(mirror.has_commit(&fx.c1).await.unwrap());
    assert!(!mirror.has_commit(&"f".repeat(40)).await.unwrap());
    assert_eq!(mirror.resolve("--output=/tmp/x").await.unwrap(), None);

    // Opened again: the same mirror, not a new clone.
    let marker = mirror.path().join("gauntlet-test-marker");
    std::fs::write(&marker, "x").unwrap();
    let again = fx.mirror().await;
    assert_eq!(again.path(), mirror.path());
    assert!(marker.exists());

    // The source moves on; a fetch brings the new commit and the deleted branch goes.
    let c5 = fx.add_commit("more", &[("README", "more\n")]);
    git(&fx.source, &["branch", "-D", "stable"]);
    assert!(!mirror.has_commit(&c5).await.unwrap());
    mirror.fetch().await.unwrap();
    assert_eq!(mirror.head().await.unwrap().as_deref(), Some(c5.as_str()));
    assert_eq!(mirror.resolve_branch("stable").await.unwrap(), None);
}

#[tokio::test]
async fn two_fetches_at_once_take_turns() {
    let fx = fixture();
    let mirror = fx.mirror().await;
    let other = Mirror::open(&fx.cache, &fx.tree()).await.unwrap();
    let (a, b) = tokio::join!(mirror.fetch(), other.fetch());
    a.unwrap();
    b.unwrap();
}

/// Every file of a working copy (but `.git`), with its (inode, mtime).
fn stamps(root: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (u64, std::time::SystemTime)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.file_name().unwrap() == ".git" {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), stamp(&path));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[tokio::test]
async fn a_reused_slot_rewrites_only_the_files_that_differ() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let series = fx.series(
        &fx.c4,
        &[
            ("docs", &[("README", "Docs.\n")]),
            ("util", &[("src/util.c", "int only(void);\n")]),
        ],
    );
    let mut lease = pool.lease().await.unwrap();
    let path = lease.path().to_path_buf();
    let root_inode = stamp(&path).0;
    lease.reset(&fx.c4).await.unwrap();
    let before = stamps(&path);
    // Let mtimes move on, in case the file system's clock is coarse.
    std::thread::sleep(Duration::from_millis(20));
    lease
        .apply(&fx.c4, &series, &ApplyOptions::default())
        .await
        .unwrap();
    std::fs::write(path.join("build-output.o"), "junk").unwrap();
    drop(lease);

    // The next lease gets the same slot, and going back to the base rewrites only the files
    // the series changed.
    let mut lease = pool.lease().await.unwrap();
    assert_eq!(lease.slot(), 0);
    assert_eq!(lease.path(), path);
    assert_eq!(stamp(&path).0, root_inode, "the worktree was re-created");
    lease.reset(&fx.c4).await.unwrap();
    let after = stamps(&path);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the build output is cleaned away, nothing else appears"
    );
    let rewritten: Vec<&str> = before
        .iter()
        .filter(|(file, stamp)| after.get(*file) != Some(stamp))
        .map(|(file, _)| file.to_str().unwrap())
        .collect();
    assert_eq!(rewritten, ["README", "src/util.c"]);
    assert_eq!(git(&path, &["status", "--porcelain", "--ignored"]), "");
    // Still one worktree besides the mirror itself.
    let list = git(pool.mirror().path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 2, "{list}");
}

#[tokio::test]
async fn a_slot_held_by_a_killed_process_comes_back_clean() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let (path, lock_file, gitdir) = {
        let mut lease = pool.lease().await.unwrap();
        lease.reset(&fx.c4).await.unwrap();
        let gitdir = git(lease.path(), &["rev-parse", "--absolute-git-dir"]);
        let lock = pool.path().join(format!("slot-{}.lock", lease.slot()));
        (lease.path().to_path_buf(), lock, PathBuf::from(gitdir))
    };
    // Another process takes the slot's lock (as flock(1) would) and leaves a mess: an edited
    // file, an untracked file, an `am` in progress and a stale index.lock. Then it is killed.
    let ready = fx.tmp.path().join("ready");
    let script = format!(
        "exec 9>>'{lock}'; flock -x 9; echo mess >> '{wt}/README'; echo x > '{wt}/untracked.c'; \
         mkdir -p '{gd}/rebase-apply'; echo 1 > '{gd}/rebase-apply/next'; : > '{gd}/index.lock'; \
         : > '{ready}'; exec sleep 600",
        lock = lock_file.display(),
        wt = path.display(),
        gd = gitdir.display(),
        ready = ready.display(),
    );
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !ready.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the holder never got the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // While it lives, the slot is not ours.
    let waiting = tokio::time::timeout(Duration::from_millis(300), pool.lease()).await;
    assert!(waiting.is_err(), "leased a slot another process holds");

    holder.kill().unwrap();
    holder.wait().unwrap();
    let mut lease = tokio::time::timeout(Duration::from_secs(10), pool.lease())
        .await
        .expect("the lock died with its process")
        .unwrap();
    assert_eq!(lease.path(), path);
    let repairs = lease.recovered().join("; ");
    assert!(repairs.contains("index.lock"), "{repairs}");
    assert!(repairs.contains("rebase-apply"), "{repairs}");
    assert!(!gitdir.join("index.lock").exists());
    assert!(!gitdir.join("rebase-apply").exists());
    lease.reset(&fx.c4).await.unwrap();
    assert_eq!(git(&path, &["status", "--porcelain", "--ignored"]), "");
    assert_eq!(
        std::fs::read_to_string(path.join("README")).unwrap(),
        "A demo project.\n"
    );
    // And it works as before.
    let series = fx.series(&fx.c4, &[("docs", &[("README", "Docs.\n")])]);
    lease
        .apply(&fx.c4, &series, &ApplyOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lost_worktree_is_re_created() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let path = {
        let mut lease = pool.lease().await.unwrap();
        lease.reset(&fx.c4).await.unwrap();
        lease.path().to_path_buf()
    };
    std::fs::remove_dir_all(&path).unwrap();
    let mut lease = pool.lease().await.unwrap();
    assert_eq!(lease.path(), path);
    lease.reset(&fx.c2).await.unwrap();
    assert_eq!(git(&path, &["rev-parse", "HEAD"]), fx.c2);
    assert_eq!(git(&path, &["status", "--porcelain"]), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_leases_get_distinct_slots_and_wait_for_a_free_one() {
    let fx = fixture();
    let pool = fx.pool(2).await;
    let (a, b) = tokio::join!(pool.lease(), pool.lease());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.slot(), b.slot());
    assert_ne!(a.path(), b.path());

    // Both slots busy: a third lease waits until one is released, then gets that one.
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let lease = pool.lease().await.unwrap();
            (lease.slot(), Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished());
    let released_slot = b.slot();
    let released_at = Instant::now();
    drop(b);
    let (slot, got_at) = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(slot, released_slot);
    assert!(got_at >= released_at);
    drop(a);

    // Two tasks applying different series at once, each in its own working copy.
    let s1 = fx.series(&fx.c4, &[("one", &[("README", "one\n")])]);
    let s2 = fx.series(&fx.c2, &[("two", &[("README", "two\n")])]);
    let run = |series: Vec<gauntlet_tree::Patch>, base: String| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut lease = pool.lease().await.unwrap();
            lease
                .apply(&base, &series, &ApplyOptions::default())
                .await
                .unwrap();
            let readme = std::fs::read_to_string(lease.path().join("README")).unwrap();
            (lease.slot(), readme)
        })
    };
    let (r1, r2) = tokio::join!(run(s1, fx.c4.clone()), run(s2, fx.c2.clone()));
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!(r1.1, "one\n");
    assert_eq!(r2.1, "two\n");
}

#[tokio::test]
async fn prune_removes_slots_beyond_the_pool_size() {
    let fx = fixture();
    let big = fx.pool(3).await;
    let leases = vec![
        big.lease().await.unwrap(),
        big.lease().await.unwrap(),
        big.lease().await.unwrap(),
    ];
    let paths: Vec<PathBuf> = leases.iter().map(|l| l.path().to_path_buf()).collect();
    drop(leases);
    let small = Pool::new(fx.mirror().await, 1).unwrap();
    // A slot in use is left alone.
    let busy = big.lease().await.unwrap();
    assert_eq!(busy.slot(), 0);
    let held_2 = {
        let a = big.lease().await.unwrap();
        let b = big.lease().await.unwrap();
        drop(a);
        b
    };
    assert_eq!(held_2.slot(), 2);
    assert_eq!(small.prune().await.unwrap(), 1);
    assert!(paths[0].exists());
    assert!(!paths[1].exists());
    assert!(paths[2].exists());
    drop(held_2);
    assert_eq!(small.prune().await.unwrap(), 1);
    assert!(!paths[2].exists());
    let list = git(small.mirror().path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 2, "{list}");
    drop(busy);
}

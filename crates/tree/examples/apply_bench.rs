//! Times the apply stage on a real tree (the driver of `bench/apply.sh`).
//!
//! ```text
//! apply_bench TREE PATCH_DIR [RUNS]
//! ```
//!
//! `TREE` is a git repository (the kernel tree), `PATCH_DIR` holds the series as
//! `git format-patch` files, applied on `TREE`'s HEAD. In a fresh cache directory (under
//! `$TMPDIR`), it times:
//! * a cold apply: the first lease of a new pool slot (the worktree is created and checked out)
//!   and the series applied,
//! * warm applies: the same slot leased again, reset to the base and the series applied;
//!   `RUNS` times (default 7), median, minimum and maximum;
//! * plain `git am -3` on the warm slot, one per patch against one for the series (the reason
//!   the crate uses one for the series);
//! * last, the anchor: `git worktree add` of the tree (what a CI that makes a fresh working copy
//!   per series pays).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gauntlet_project::TreeSource;
use gauntlet_tree::{ApplyOptions, Mirror, Patch, Pool};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(tree), Some(patch_dir)) = (args.first(), args.get(1)) else {
        return Err("usage: apply_bench TREE PATCH_DIR [RUNS]".into());
    };
    let runs: usize = match args.get(2) {
        Some(n) => n.parse()?,
        None => 7,
    };
    let patches = read_series(Path::new(patch_dir))?;
    let cache = tempfile::Builder::new()
        .prefix("gauntlet-apply-bench-")
        .tempdir()?;

    let started = Instant::now();
    let mirror = Mirror::open(cache.path(), &TreeSource::Path(PathBuf::from(tree))).await?;
    let mirror_time = started.elapsed();
    let base = mirror.head().await?.ok_or("the tree has no HEAD")?;
    sync()?;

    let pool = Pool::new(mirror, 1)?;
    let options = ApplyOptions::default();
    let started = Instant::now();
    {
        let mut lease = pool.lease().await?;
        let applied = lease.apply(&base, &patches, &options).await?;
        if applied.patches.iter().any(|p| p.commit.is_none()) {
            return Err("a patch of the series made no commit".into());
        }
    }
    let cold = started.elapsed();

    let mut warm = Vec::with_capacity(runs);
    let mut resets = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut lease = pool.lease().await?;
        let applied = lease.apply(&base, &patches, &options).await?;
        warm.push(started.elapsed());
        if applied.patches.len() != patches.len() {
            return Err("the series did not apply whole".into());
        }
        // The reset alone (what a warm apply pays before `git am`).
        let started = Instant::now();
        lease.reset(&base).await?;
        resets.push(started.elapsed());
    }
    warm.sort();
    resets.sort();

    // The choice of one `git am` for the series, measured: plain `git am -3` on the warm slot,
    // once per patch against once for the series.
    let (per_patch, per_series) = {
        let mut lease = pool.lease().await?;
        let dir = cache.path().join("mails");
        std::fs::create_dir_all(&dir)?;
        let mut files = Vec::new();
        for patch in &patches {
            let file = dir.join(format!("{:04}.patch", patch.number));
            std::fs::write(&file, &patch.bytes)?;
            files.push(file);
        }
        lease.reset(&base).await?;
        let started = Instant::now();
        for file in &files {
            am(lease.path(), std::slice::from_ref(file))?;
        }
        let per_patch = started.elapsed();
        lease.reset(&base).await?;
        let started = Instant::now();
        am(lease.path(), &files)?;
        let per_series = started.elapsed();
        lease.reset(&base).await?;
        (per_patch, per_series)
    };

    // The anchor last, and nothing deleted before it: on a file system mounted with `discard`
    // (this one), deleting a kernel tree slows the writes that follow it for a minute.
    sync()?;
    let anchor = worktree_add(pool.mirror().path(), &cache.path().join("anchor"), &base)?;

    let s = |d: Duration| format!("{:.3}", d.as_secs_f64());
    println!(
        "tree:               {tree} ({} patches on {})",
        patches.len(),
        &base[..12]
    );
    println!("mirror (clone):     {} s", s(mirror_time));
    println!("anchor worktree add {} s", s(anchor));
    println!(
        "cold apply          {} s (new slot: worktree created and checked out)",
        s(cold)
    );
    println!(
        "warm apply          {} s median of {runs} (min {}, max {}); reset alone {} s median",
        s(median(&warm)),
        s(warm[0]),
        s(warm[warm.len() - 1]),
        s(median(&resets)),
    );
    println!(
        "git am alone        {} s one per patch, {} s one for the series",
        s(per_patch),
        s(per_series)
    );
    Ok(())
}

/// Plain `git am -3` of these mails, with the flags the crate uses.
fn am(worktree: &Path, mails: &[PathBuf]) -> Result<()> {
    let status = Command::new("git")
        .arg("-C")
        .arg(worktree)
        .args(["-c", "gc.auto=0", "-c", "maintenance.auto=false"])
        .args([
            "am",
            "-3",
            "--quiet",
            "--whitespace=nowarn",
            "--committer-date-is-author-date",
        ])
        .args(mails)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@localhost")
        .status()?;
    if !status.success() {
        return Err("git am failed".into());
    }
    Ok(())
}

fn sync() -> Result<()> {
    Command::new("sync").status()?;
    Ok(())
}

fn median(sorted: &[Duration]) -> Duration {
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// The anchor: a fresh worktree of the whole tree, as `git worktree add` makes it.
fn worktree_add(mirror: &Path, dir: &Path, base: &str) -> Result<Duration> {
    let started = Instant::now();
    let status = Command::new("git")
        .arg("-C")
        .arg(mirror)
        // Plain git: without the split index the mirror's worktrees use.
        .args([
            "-c",
            "core.splitIndex=false",
            "worktree",
            "add",
            "--quiet",
            "--detach",
        ])
        .arg(dir)
        .arg(base)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()?;
    let elapsed = started.elapsed();
    if !status.success() {
        return Err("git worktree add failed".into());
    }
    Ok(elapsed)
}

/// The `*.patch` files of a directory, in name order, as a series.
fn read_series(dir: &Path) -> Result<Vec<Patch>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "patch"))
        .collect();
    files.sort();
    let mut patches = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let bytes = std::fs::read(file)?;
        let subject = String::from_utf8_lossy(&bytes)
            .lines()
            .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
            .unwrap_or_default();
        patches.push(Patch::new(u32::try_from(i + 1)?, subject, bytes));
    }
    if patches.is_empty() {
        return Err(format!("no *.patch files in {}", dir.display()).into());
    }
    Ok(patches)
}

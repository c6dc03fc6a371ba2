//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gauntlet_sandbox::{Choice, Command, DetectOptions, Mechanism, Outcome, Sandbox};

/// The sandbox as detected here; `None` (after saying so) when bubblewrap does not work,
/// unless `GAUNTLET_REQUIRE_BWRAP=1`, which makes that a failure.
pub fn confined() -> Option<Sandbox> {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    let sandbox = SANDBOX.get_or_init(Sandbox::detect).clone();
    if sandbox.is_confined() {
        return Some(sandbox);
    }
    let why: Vec<String> = sandbox.warnings().iter().map(ToString::to_string).collect();
    if std::env::var_os("GAUNTLET_REQUIRE_BWRAP").is_some_and(|v| v == "1") {
        panic!(
            "bubblewrap is required (GAUNTLET_REQUIRE_BWRAP=1): {}",
            why.join("; ")
        );
    }
    eprintln!("SKIPPED: bubblewrap does not work here: {}", why.join("; "));
    None
}

/// A sandbox without bubblewrap, with or without a cgroup.
pub fn unconfined(cgroup: bool) -> Sandbox {
    static WITH: OnceLock<Sandbox> = OnceLock::new();
    static WITHOUT: OnceLock<Sandbox> = OnceLock::new();
    let (cell, choice) = if cgroup {
        (&WITH, Choice::Auto)
    } else {
        (&WITHOUT, Choice::Off)
    };
    cell.get_or_init(|| {
        Sandbox::detect_with(&DetectOptions {
            bubblewrap: Choice::Off,
            cgroup: choice,
        })
    })
    .clone()
}

/// Every kind of sandbox this machine can make, named.
pub fn all() -> Vec<(&'static str, Sandbox)> {
    let mut all = Vec::new();
    if let Some(s) = confined() {
        all.push(("bubblewrap", s));
    }
    let with = unconfined(true);
    if with.enforcement().processes != Mechanism::Unenforced
        && matches!(with.enforcement().memory, Mechanism::Cgroup(_))
    {
        all.push(("limits only, cgroup", with));
    }
    all.push(("limits only, no cgroup", unconfined(false)));
    all
}

/// A number no other process has in its command line: `sleep MARKER` is findable.
pub fn marker() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "1000.{}{:04}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Live processes whose command line contains `needle`, after giving killed ones `patience`
/// to disappear.
pub fn survivors(needle: &str, patience: Duration) -> Vec<i32> {
    let deadline = Instant::now() + patience;
    loop {
        let found = matching(needle);
        if found.is_empty() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fails when a process with `marker` in its command line is still alive after 3 s.
pub fn assert_no_survivors(marker: &str, context: &str) {
    let left = survivors(marker, Duration::from_secs(3));
    assert!(
        left.is_empty(),
        "{context}: processes {left:?} outlived their sandbox"
    );
}

/// The sandbox's error for a command that must not run.
pub async fn error_of(command: Command) -> gauntlet_sandbox::Error {
    match command.run().await {
        Ok(outcome) => panic!("it ran: {outcome:?}"),
        Err(e) => e,
    }
}

fn matching(needle: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie
            && cmdline
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

/// A scratch directory (the working copy) and a log path outside it.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub work: PathBuf,
    pub log: PathBuf,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        fs::create_dir(&work).unwrap();
        let log = dir.path().join("log");
        Scratch { dir, work, log }
    }

    /// A shell command working in the working copy, which is writable.
    pub fn sh(&self, sandbox: &Sandbox, script: &str) -> Command {
        sandbox
            .command("sh")
            .args(["-c", script])
            .current_dir(&self.work)
            .writable(&self.work)
            .log(&self.log)
    }

    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log).unwrap()).into_owned()
    }
}

/// Runs a command that must end within `bound`.
pub async fn run_within(bound: Duration, command: Command) -> Outcome {
    tokio::time::timeout(bound, command.run())
        .await
        .expect("the run did not end in time")
        .expect("the sandbox failed")
}

pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

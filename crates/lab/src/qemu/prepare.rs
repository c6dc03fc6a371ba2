//! `tests.prepare`: a command run on the host, in the sandbox, before the tests are packed for
//! the machine under test (typically: cross-compiling a static test program against the
//! patched tree's headers).
//!
//! It runs with `sh -c COMMAND` in the copy of the tests' directory (writable: what it builds
//! goes into the image), the working copy visible read-only as `$GAUNTLET_SOURCE`, and the
//! guest's toolchain in the environment: `ARCH` (the kernel's), `CROSS_COMPILE` (empty on the
//! host's architecture), `CC` (`<triplet>-gcc`, or `gcc`), `GAUNTLET_ARCH`, `GAUNTLET_BUILD`.
//! Its time limit is the test's timeout; its output is capped like the tests'.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_project::Arch;
use gauntlet_sandbox::{Sandbox, Termination};
use gauntlet_verdict::Status;
use tokio::sync::mpsc;

use super::boot::which;
use crate::Error;

/// How a prepare command went.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// PASS; FAIL (the command failed: the test program does not build against the patched
    /// tree, the patch's fault); ERROR (the guest's compiler is not installed).
    pub(crate) status: Status,
    pub(crate) reason: String,
    pub(crate) log: PathBuf,
    pub(crate) duration_ms: u128,
}

/// What one prepare needs.
pub(crate) struct Prepare<'a> {
    pub(crate) command: &'a str,
    pub(crate) arch: &'static Arch,
    pub(crate) build: &'a str,
    pub(crate) repo: &'a Path,
    pub(crate) source: &'a Path,
    pub(crate) log: PathBuf,
    pub(crate) timeout: Duration,
    pub(crate) memory: u64,
    pub(crate) log_size: u64,
    pub(crate) progress: Option<mpsc::Sender<Vec<u8>>>,
}

/// Runs `prepare`; `Err` only when the sandbox itself fails.
pub(crate) async fn run(sandbox: &Sandbox, prepare: Prepare<'_>) -> Result<Prepared, Error> {
    let cross = prepare.arch.cross_compile(std::env::consts::ARCH);
    let cc = format!("{}gcc", cross.as_deref().unwrap_or(""));
    if which(&cc).is_none() {
        let package = if cross.is_some() {
            prepare.arch.cross_gcc_package
        } else {
            "gcc"
        };
        return Ok(Prepared {
            status: Status::Error,
            reason: format!(
                "tests.prepare needs the compiler `{cc}` for {}, which is not installed (Debian package `{package}`)",
                prepare.arch.name
            ),
            log: prepare.log,
            duration_ms: 0,
        });
    }
    let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(256);
    let progress = prepare.progress.clone();
    let forward = async move {
        while let Some(line) = receiver.recv().await {
            if let Some(progress) = &progress {
                let _ = progress.try_send(line);
            }
        }
    };
    let command = sandbox
        .command("sh")
        .arg("-c")
        .arg(prepare.command)
        .current_dir(prepare.repo)
        .writable(prepare.repo)
        .read_only(prepare.source)
        .env("ARCH", prepare.arch.kernel_arch)
        .env("CROSS_COMPILE", cross.clone().unwrap_or_default())
        .env("CC", &cc)
        .env("GAUNTLET_SOURCE", prepare.source.as_os_str())
        .env("GAUNTLET_ARCH", prepare.arch.name)
        .env("GAUNTLET_BUILD", prepare.build)
        .log(&prepare.log)
        .limits(gauntlet_sandbox::Limits {
            time: prepare.timeout,
            memory: Some(prepare.memory),
            log_size: prepare.log_size,
            ..gauntlet_sandbox::Limits::default()
        })
        .stream_lines(sender);
    let (outcome, ()) = tokio::join!(command.run(), forward);
    let outcome = outcome?;
    let ms = outcome.wall_time.as_millis();
    let (status, reason) = match outcome.termination {
        Termination::Exited(_) if outcome.success() => (Status::Pass, "prepared".to_owned()),
        Termination::Exited(exit) => (
            Status::Fail,
            match last_line(&prepare.log) {
                Some(line) => format!("tests.prepare failed ({exit}): {line}"),
                None => format!("tests.prepare failed ({exit}) without a word"),
            },
        ),
        Termination::TimedOut => (
            Status::Fail,
            format!(
                "tests.prepare was killed at its timeout ({}s)",
                prepare.timeout.as_secs()
            ),
        ),
        Termination::OutputLimit => (
            Status::Fail,
            "tests.prepare was killed: it printed too much".to_owned(),
        ),
        Termination::OutOfMemory => (
            Status::Fail,
            "tests.prepare was killed: out of memory".to_owned(),
        ),
        Termination::Cancelled => (Status::Error, "tests.prepare was cancelled".to_owned()),
    };
    Ok(Prepared {
        status,
        reason,
        log: prepare.log,
        duration_ms: ms,
    })
}

/// The end of a log (at most `max` bytes, from a line start).
pub(crate) fn tail(log: &Path, max: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(log) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = file.take(max).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    match text.find('\n') {
        Some(i) if start > 0 => text[i + 1..].to_owned(),
        _ => text,
    }
}

/// The last line of a log that says something, clipped.
fn last_line(log: &Path) -> Option<String> {
    let text = tail(log, 4096);
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| gauntlet_results::clip(l, 300))
}

//! Running a program with a deadline and bounded output.
//!
//! The child gets its own process group, so that a timeout kills what it started too
//! (`checkpatch.pl` runs `git` and `get_maintainer.pl`). Output beyond the bound is read and
//! dropped, so a chatty child never blocks on a full pipe.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished (or killed) run produced.
#[derive(Debug)]
pub(crate) struct Output {
    /// `None` when the child was killed at the deadline.
    pub(crate) status: Option<ExitStatus>,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    /// More output than the bound was produced and dropped.
    pub(crate) truncated: bool,
}

impl Output {
    pub(crate) fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// The last lines of stderr, for an error message.
    pub(crate) fn stderr_tail(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = &lines[lines.len().saturating_sub(3)..];
        tail.join(" / ")
    }
}

/// Why a program could not be run at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{program}`: {source}")]
    Io {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

fn read_bounded(mut from: impl Read, max: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = max.saturating_sub(kept.len());
                if n > room {
                    truncated = true;
                }
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    (kept, truncated)
}

/// Runs `command` with `input` on its stdin, for at most `timeout`, keeping at most
/// `max_output` bytes of each of stdout and stderr.
pub(crate) fn run(
    mut command: Command,
    input: Option<Vec<u8>>,
    timeout: Duration,
    max_output: usize,
) -> Result<Output, RunError> {
    let program = command.get_program().to_string_lossy().into_owned();
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = command.spawn().map_err(|source| RunError::Spawn {
        program: program.clone(),
        source,
    })?;
    let io_error = |source| RunError::Io {
        program: program.clone(),
        source,
    };
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    thread::scope(|scope| {
        let writer = scope.spawn(move || {
            if let (Some(mut pipe), Some(bytes)) = (stdin, input) {
                // A child that exits early closes the pipe: not an error of ours.
                let _ = pipe.write_all(&bytes);
            }
        });
        let out = scope.spawn(move || {
            stdout
                .map(|s| read_bounded(s, max_output))
                .unwrap_or_default()
        });
        let err = scope.spawn(move || {
            stderr
                .map(|s| read_bounded(s, max_output))
                .unwrap_or_default()
        });
        let mut pause = Duration::from_micros(200);
        let status = loop {
            match child.try_wait().map_err(io_error)? {
                Some(status) => break Some(status),
                None if started.elapsed() >= timeout => {
                    kill_group(&mut child);
                    let _ = child.wait();
                    break None;
                }
                None => {
                    thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
            }
        };
        let _ = writer.join();
        let (stdout, t1) = out.join().unwrap_or_default();
        let (stderr, t2) = err.join().unwrap_or_default();
        Ok(Output {
            status,
            stdout,
            stderr,
            truncated: t1 || t2,
        })
    })
}

/// Kills the child's process group (it is its leader), or the child alone when that fails.
fn kill_group(child: &mut std::process::Child) {
    let pgid = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-KILL", "--", &pgid])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !killed {
        let _ = child.kill();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn output_input_and_bounds() {
        let mut c = Command::new("sh");
        c.args(["-c", "cat; echo err >&2; head -c 100000 /dev/zero"]);
        let out = run(c, Some(b"hello\n".to_vec()), Duration::from_secs(10), 1000).unwrap();
        assert!(out.status.unwrap().success());
        assert_eq!(&out.stdout[..6], b"hello\n");
        assert_eq!(out.stdout.len(), 1000);
        assert!(out.truncated);
        assert_eq!(out.stderr_tail(), "err");
    }

    #[test]
    fn deadline_kills_the_group() {
        let mut c = Command::new("sh");
        c.args(["-c", "sleep 30 & sleep 30"]);
        let started = Instant::now();
        let out = run(c, None, Duration::from_millis(200), 1000).unwrap();
        assert!(out.timed_out());
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn missing_program() {
        let c = Command::new("/nonexistent/gauntlet-no-such-program");
        let err = run(c, None, Duration::from_secs(1), 10).unwrap_err();
        assert!(err.to_string().contains("cannot run"), "{err}");
    }
}

//! Running the real `git`: always `-C dir`, a clean environment, a timeout, bounded output.
//!
//! Every invocation gets the same environment, so that nothing of the user's setup can change a
//! result: no system or global configuration (`GIT_CONFIG_NOSYSTEM=1`,
//! `GIT_CONFIG_GLOBAL=/dev/null`), `LC_ALL=C` so that messages can be parsed, no prompts, the
//! fixed committer [`COMMITTER_NAME`] <[`COMMITTER_EMAIL`]>, and the rest of the environment
//! cleared except what transports need (`PATH`, `HOME`, `TMPDIR`, the SSH agent and the proxy
//! variables). On the command line come `-c` settings that switch off hooks, automatic garbage
//! collection and maintenance, and filesystem monitors. A command is killed when its timeout
//! passes, and also when its future is dropped (a cancelled task leaves no git behind).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::error::{Error, Result};

/// The committer of every commit gauntlet makes (the author is the patch's).
pub const COMMITTER_NAME: &str = "gauntlet";
/// See [`COMMITTER_NAME`].
pub const COMMITTER_EMAIL: &str = "gauntlet@localhost";

/// The oldest git this crate is written against (`git am --quit`, `--end-of-options`, split
/// index; tested with 2.47).
const MIN_VERSION: (u32, u32) = (2, 31);

/// Environment variables passed through to git: what transports need, nothing that changes
/// how patches apply.
const PASS_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "SSH_AUTH_SOCK",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_SSL_CAINFO",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
];

/// Settings given with `-c` to every command: nothing runs behind our back, nothing asks.
const CONFIG: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.pager=cat",
    "gc.auto=0",
    "maintenance.auto=false",
    "credential.helper=",
];

/// How git is run.
#[derive(Debug, Clone)]
pub struct GitSettings {
    /// The git program (default `git`, found on `PATH`).
    pub program: PathBuf,
    /// The time limit of one local command (default 5 minutes).
    pub timeout: Duration,
    /// The time limit of a clone or a fetch (default 1 hour: a first clone of a kernel tree
    /// over a slow link takes long).
    pub fetch_timeout: Duration,
    /// At most this much of a command's standard output is kept (default 64 MiB); standard
    /// error keeps at most a sixteenth of it. The rest is read and dropped.
    pub max_output: usize,
}

impl Default for GitSettings {
    fn default() -> Self {
        GitSettings {
            program: PathBuf::from("git"),
            timeout: Duration::from_secs(5 * 60),
            fetch_timeout: Duration::from_secs(60 * 60),
            max_output: 64 << 20,
        }
    }
}

/// What a finished command printed.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

impl Output {
    pub(crate) fn success(&self) -> bool {
        self.status.success()
    }

    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The first line of standard output, trimmed (`rev-parse` and friends).
    pub(crate) fn first_line(&self) -> String {
        let text = String::from_utf8_lossy(&self.stdout);
        text.lines().next().unwrap_or("").trim().to_string()
    }
}

enum Input {
    Null,
    Bytes(Vec<u8>),
    File(File),
    Piped(Stdio),
}

/// One git command, built and then run.
pub(crate) struct Git<'a> {
    settings: &'a GitSettings,
    dir: PathBuf,
    args: Vec<OsString>,
    input: Input,
    timeout: Duration,
}

impl<'a> Git<'a> {
    pub(crate) fn new(settings: &'a GitSettings, dir: &Path) -> Git<'a> {
        Git {
            settings,
            dir: dir.to_path_buf(),
            args: Vec::new(),
            input: Input::Null,
            timeout: settings.timeout,
        }
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Feeds these bytes on standard input.
    pub(crate) fn stdin_bytes(mut self, bytes: Vec<u8>) -> Self {
        self.input = Input::Bytes(bytes);
        self
    }

    /// Gives this open file as standard input. Used with the lock file of a lease: the child
    /// then holds the lock too, so no git started for a lease outlives it unseen.
    pub(crate) fn stdin_file(mut self, file: File) -> Self {
        self.input = Input::File(file);
        self
    }

    pub(crate) fn fetch_timeout(mut self) -> Self {
        self.timeout = self.settings.fetch_timeout;
        self
    }

    /// `git …` as shown in errors and logs (without the `-C` and `-c` prefix).
    pub(crate) fn command_line(&self) -> String {
        let mut line = String::new();
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                line.push(' ');
            }
            line.push_str(&arg.to_string_lossy());
            if line.len() > 200 {
                line.truncate(200);
                line.push('…');
                break;
            }
        }
        line
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.settings.program);
        cmd.env_clear();
        for key in PASS_ENV {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        if std::env::var_os("GIT_SSH_COMMAND").is_none() && std::env::var_os("GIT_SSH").is_none() {
            cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
        }
        cmd.env("LC_ALL", "C")
            .env("LANG", "C")
            .env("LANGUAGE", "C")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_COMMITTER_NAME", COMMITTER_NAME)
            .env("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL)
            .env("GIT_PAGER", "cat");
        cmd.arg("-C").arg(&self.dir);
        for setting in CONFIG {
            cmd.arg("-c").arg(setting);
        }
        cmd.args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    fn spawn(&mut self) -> Result<(Child, Option<Vec<u8>>)> {
        let mut cmd = self.command();
        let mut bytes = None;
        match std::mem::replace(&mut self.input, Input::Null) {
            Input::Null => {
                cmd.stdin(Stdio::null());
            }
            Input::Bytes(b) => {
                cmd.stdin(Stdio::piped());
                bytes = Some(b);
            }
            Input::File(file) => {
                cmd.stdin(Stdio::from(file));
            }
            Input::Piped(stdio) => {
                cmd.stdin(stdio);
            }
        }
        tracing::debug!(dir = %self.dir.display(), command = %self.command_line(), "git");
        let child = cmd.spawn().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::GitMissing { source }
            } else {
                Error::io(&self.settings.program, source)
            }
        })?;
        Ok((child, bytes))
    }

    /// Runs the command; a non-zero exit is not an error here (the caller looks at it).
    pub(crate) async fn output(mut self) -> Result<Output> {
        let (child, bytes) = self.spawn()?;
        self.finish(child, bytes).await
    }

    /// Runs the command; a non-zero exit is an [`Error::Git`].
    pub(crate) async fn run(self) -> Result<Output> {
        let command = self.command_line();
        let dir = self.dir.clone();
        let out = self.output().await?;
        if out.success() {
            Ok(out)
        } else {
            Err(failed(&command, &dir, &out))
        }
    }

    /// Runs `self | next`: this command's standard output is the next one's standard input.
    /// Returns the next command's output; either failing is an error.
    pub(crate) async fn pipe(mut self, mut next: Git<'_>) -> Result<Output> {
        let (mut first, bytes) = self.spawn()?;
        let Some(stdout) = first.stdout.take() else {
            return Err(Error::unexpected(&self.dir, "no standard output to pipe"));
        };
        let stdio: Stdio = stdout
            .try_into()
            .map_err(|source| Error::io(&self.settings.program, source))?;
        next.input = Input::Piped(stdio);
        let first_line = self.command_line();
        let next_line = next.command_line();
        let dir = self.dir.clone();
        let second = next.spawn()?;
        let (a, b) = tokio::join!(self.finish(first, bytes), next.finish(second.0, second.1));
        let a = a?;
        let b = b?;
        if !a.success() {
            return Err(failed(&first_line, &dir, &a));
        }
        if !b.success() {
            return Err(failed(&next_line, &dir, &b));
        }
        Ok(b)
    }

    async fn finish(&self, mut child: Child, bytes: Option<Vec<u8>>) -> Result<Output> {
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let limit = self.settings.max_output.max(1 << 16);
        let work = async {
            let write = async {
                if let (Some(mut stdin), Some(bytes)) = (stdin, bytes) {
                    // git may exit without reading all of it (an early error): not our error.
                    let _ = stdin.write_all(&bytes).await;
                    let _ = stdin.shutdown().await;
                }
            };
            let (_, out, err) = tokio::join!(
                write,
                read_bounded(stdout, limit),
                read_bounded(stderr, limit / 16)
            );
            let status = child.wait().await;
            (out, err, status)
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok((out, err, status)) => {
                let status = status.map_err(|e| Error::io(&self.settings.program, e))?;
                let stdout = out.map_err(|e| Error::io(&self.settings.program, e))?;
                let stderr = err.map_err(|e| Error::io(&self.settings.program, e))?;
                Ok(Output {
                    status,
                    stdout,
                    stderr,
                })
            }
            Err(_) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                Err(Error::Timeout {
                    command: self.command_line(),
                    dir: self.dir.clone(),
                    timeout: self.timeout,
                })
            }
        }
    }
}

/// Reads everything, keeping at most `limit` bytes (the rest is drained so git never blocks).
async fn read_bounded<R: AsyncRead + Unpin>(
    reader: Option<R>,
    limit: usize,
) -> std::io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    let Some(mut reader) = reader else {
        return Ok(kept);
    };
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Ok(kept);
        }
        let room = limit.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
    }
}

/// The error for a command that failed where failure means the infrastructure failed.
pub(crate) fn failed(command: &str, dir: &Path, out: &Output) -> Error {
    Error::Git {
        command: command.to_string(),
        dir: dir.to_path_buf(),
        status: describe_status(out.status),
        message: message_of(out),
    }
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "unknown status".to_string(),
    }
}

/// git's message: standard error without `hint:` lines, else standard output; bounded.
pub(crate) fn message_of(out: &Output) -> String {
    let mut text = without_hints(&out.stderr_text());
    if text.trim().is_empty() {
        text = out.stdout_text();
    }
    bounded(text.trim(), 4000)
}

pub(crate) fn without_hints(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("hint:") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Cuts a text to at most `max` bytes (on a character boundary), saying so.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… {} more bytes]", &text[..end], text.len() - end)
}

/// Checks that `git` runs and is recent enough.
pub(crate) async fn check_version(settings: &GitSettings) -> Result<String> {
    let dir = std::env::temp_dir();
    let out = Git::new(settings, &dir).arg("version").run().await?;
    let line = out.first_line();
    let version = line
        .strip_prefix("git version ")
        .unwrap_or(&line)
        .to_string();
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if found < MIN_VERSION {
        return Err(Error::GitTooOld {
            found: version,
            needed: format!("{}.{}", MIN_VERSION.0, MIN_VERSION.1),
        });
    }
    Ok(version)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_on_char_boundaries() {
        assert_eq!(bounded("abc", 10), "abc");
        let cut = bounded("ééé", 3);
        assert!(cut.starts_with('é'));
        assert!(cut.contains("more bytes"));
    }

    #[test]
    fn hints_are_dropped() {
        assert_eq!(
            without_hints("error: x\nhint: y\nfatal: z"),
            "error: x\nfatal: z\n"
        );
    }
}

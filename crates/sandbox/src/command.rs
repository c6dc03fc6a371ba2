use std::ffi::{OsStr, OsString};
use std::fmt;
use std::future::Future;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::capture::Stream;
use crate::detect::Sandbox;
use crate::error::Error;
use crate::outcome::Outcome;
use crate::plan::{self, Bind};

/// What one command may use. Time and output are enforced by gauntlet itself everywhere; memory,
/// processes and CPUs by a cgroup when there is one (see [`Enforcement`](crate::Enforcement)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time, after which the whole process tree is killed.
    pub time: Duration,
    /// Bytes of memory (cgroup: the whole tree, swap excluded; rlimit: each process's data).
    pub memory: Option<u64>,
    /// Processes and threads at once (cgroup: the tree; rlimit: all of the user's processes).
    pub processes: Option<u64>,
    /// CPUs' worth of time per period (cgroup only). A hint: the caller still chooses `-j`.
    pub cpus: Option<u32>,
    /// Bytes of output kept in the log: its head and its tail.
    pub log_size: u64,
    /// Bytes of output after which the command is killed ([`Termination::OutputLimit`]);
    /// `None` lets it print forever, the log staying capped.
    ///
    /// [`Termination::OutputLimit`]: crate::Termination::OutputLimit
    pub output_kill: Option<u64>,
    /// Bytes of the private `/tmp` (a tmpfs) under bubblewrap.
    pub tmp_size: u64,
    /// How long a stopped command has between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: Duration::from_secs(60 * 60),
            memory: Some(4 << 30),
            processes: Some(4096),
            cpus: None,
            log_size: 64 << 20,
            output_kill: Some(1 << 30),
            tmp_size: 1 << 30,
            kill_grace: Duration::from_secs(5),
        }
    }
}

/// A command to run in a [`Sandbox`]: built like [`std::process::Command`], run with
/// [`Command::run`].
///
/// Nothing of the host's environment is passed on: the command gets `PATH` (`/usr/local/bin:
/// /usr/bin:/bin`), `HOME` and `TMPDIR` (the private `/tmp`), `LANG=C.UTF-8`, then whatever
/// [`Command::env`] adds or replaces (and `PWD`, which the shell that starts it sets).
pub struct Command {
    pub(crate) sandbox: Sandbox,
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) binds: Vec<Bind>,
    pub(crate) limits: Limits,
    pub(crate) log: Option<PathBuf>,
    pub(crate) stream: Option<Stream>,
    pub(crate) cancel: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field("env", &self.env)
            .field("binds", &self.binds)
            .field("limits", &self.limits)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl Command {
    pub(crate) fn new(sandbox: Sandbox, program: OsString) -> Command {
        Command {
            sandbox,
            program,
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            binds: Vec::new(),
            limits: Limits::default(),
            log: None,
            stream: None,
            cancel: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Command {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The working directory (absolute; it must be inside a bind). Without one, the command
    /// starts in its private `/tmp`.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Command {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets (or replaces) an environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Command {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    pub fn envs<I, K, V>(mut self, vars: I) -> Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Makes a host directory visible and writable at the same path (the working copy, the
    /// build directory, a ccache directory).
    pub fn writable(mut self, path: impl Into<PathBuf>) -> Command {
        self.binds.push(Bind::same(path, true));
        self
    }

    /// Makes a host file or directory visible, read-only, at the same path (a toolchain, a
    /// reference tree).
    pub fn read_only(mut self, path: impl Into<PathBuf>) -> Command {
        self.binds.push(Bind::same(path, false));
        self
    }

    pub fn limits(mut self, limits: Limits) -> Command {
        self.limits = limits;
        self
    }

    /// The file that receives stdout and stderr, capped at [`Limits::log_size`] (required).
    pub fn log(mut self, path: impl Into<PathBuf>) -> Command {
        self.log = Some(path.into());
        self
    }

    /// Sends the output, as it arrives, in chunks. The sender waits when the channel is full:
    /// a receiver that stops reading without being dropped stalls the command (until its time
    /// limit); a dropped receiver only ends the stream.
    pub fn stream_chunks(mut self, sender: mpsc::Sender<Vec<u8>>) -> Command {
        self.stream = Some(Stream::Chunks(sender));
        self
    }

    /// Sends the output, as it arrives, line by line (without the `\n`; lines longer than
    /// [`MAX_LINE`](crate::MAX_LINE) bytes come in pieces), with the same back-pressure as
    /// [`Command::stream_chunks`].
    pub fn stream_lines(mut self, sender: mpsc::Sender<Vec<u8>>) -> Command {
        self.stream = Some(Stream::Lines(sender));
        self
    }

    /// Stops the command (SIGTERM, then SIGKILL after [`Limits::kill_grace`]) when `signal`
    /// completes, for example `token.cancelled_owned()` of a `tokio_util` cancellation token;
    /// the outcome is then [`Termination::Cancelled`](crate::Termination::Cancelled). Dropping
    /// the future of [`Command::run`] cancels too, with SIGKILL at once.
    pub fn cancel_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Command {
        self.cancel = Some(Box::pin(signal));
        self
    }

    /// Runs the command to its end or to a limit.
    ///
    /// `Ok` whenever the command ran, whatever it did; `Err` only when the sandbox failed (see
    /// [`Error`]).
    pub async fn run(self) -> Result<Outcome, Error> {
        crate::run::run(self).await
    }
}

/// A command checked against the host, ready to plan.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) binds: Vec<Bind>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) env: Vec<(OsString, OsString)>,
}

impl Command {
    /// Checks everything that can be checked before starting: the sandbox's own failures are
    /// found here rather than mistaken for the command's.
    pub(crate) fn check(&self, tmp: &Path) -> Result<Checked, Error> {
        let confined = self.sandbox.is_confined();
        let mut binds = Vec::with_capacity(self.binds.len());
        for bind in &self.binds {
            let path = &bind.source;
            if !path.is_absolute() {
                return Err(Error::Invalid(format!(
                    "bind `{}` is not an absolute path",
                    path.display()
                )));
            }
            let real = path.canonicalize().map_err(|source| Error::MissingPath {
                what: "bind source",
                path: path.clone(),
                source,
            })?;
            if real == Path::new("/") {
                return Err(Error::Invalid(
                    "the root directory cannot be bound".to_owned(),
                ));
            }
            // Visible at its real path and, when a symlink leads to it, at the path given too.
            if *path != real {
                binds.push(Bind {
                    source: real.clone(),
                    dest: path.clone(),
                    writable: bind.writable,
                });
            }
            binds.push(Bind::same(real, bind.writable));
        }
        let cwd = match &self.cwd {
            None => None,
            Some(dir) => {
                let real = dir.canonicalize().map_err(|source| Error::MissingPath {
                    what: "working directory",
                    path: dir.clone(),
                    source,
                })?;
                if !real.is_dir() {
                    return Err(Error::MissingPath {
                        what: "working directory",
                        path: dir.clone(),
                        source: std::io::Error::from(std::io::ErrorKind::NotADirectory),
                    });
                }
                if confined && !visible(&real, &binds) {
                    return Err(Error::Invalid(format!(
                        "working directory `{}` is not visible in the sandbox: bind it",
                        dir.display()
                    )));
                }
                Some(real)
            }
        };

        let mut env: Vec<(OsString, OsString)> = vec![
            ("PATH".into(), plan::DEFAULT_PATH.into()),
            ("HOME".into(), tmp.into()),
            ("TMPDIR".into(), tmp.into()),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        for (key, value) in &self.env {
            let k = key.as_bytes();
            if k.is_empty() || k.contains(&b'=') || k.contains(&0) || value.as_bytes().contains(&0)
            {
                return Err(Error::Invalid(format!(
                    "bad environment variable `{}`",
                    key.to_string_lossy()
                )));
            }
            env.retain(|(k, _)| k != key);
            env.push((key.clone(), value.clone()));
        }
        let path_var = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let base = cwd.clone().unwrap_or_else(|| tmp.to_path_buf());
        // The program is executed by name (its `argv[0]` matters to ccache, busybox…); this only
        // checks that there is one to execute.
        resolve(&self.program, &path_var, &base)
            .filter(|p| !confined || visible(p, &binds))
            .ok_or_else(|| Error::ProgramNotFound {
                program: self.program.to_string_lossy().into_owned(),
                searched: if self.program.as_bytes().contains(&b'/') {
                    base.display().to_string()
                } else {
                    format!("PATH={}", path_var.to_string_lossy())
                },
            })?;
        Ok(Checked { binds, cwd, env })
    }
}

/// The executable `program` names, as `execvp` would find it.
fn resolve(program: &OsStr, path_var: &OsStr, base: &Path) -> Option<PathBuf> {
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.is_empty() {
        return None;
    }
    if program.as_bytes().contains(&b'/') {
        let path = base.join(program);
        return executable(&path)
            .then(|| path.canonicalize().ok())
            .flatten();
    }
    path_var
        .as_bytes()
        .split(|&b| b == b':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(OsStr::from_bytes(dir)).join(program))
        .find(|p| executable(p))
        .and_then(|p| p.canonicalize().ok())
}

/// Whether a host path is visible in the sandbox (system directories, the binds).
fn visible(path: &Path, binds: &[Bind]) -> bool {
    plan::visible_roots()
        .iter()
        .chain(binds.iter().map(|b| &b.source))
        .any(|root| path.starts_with(root))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn programs_resolve_like_execvp() {
        let sh = resolve(
            OsStr::new("sh"),
            OsStr::new("/nonexistent:/usr/bin:/bin"),
            Path::new("/"),
        );
        assert!(sh.is_some_and(|p| p.is_absolute()));
        assert_eq!(
            resolve(
                OsStr::new("no-such-program-x"),
                OsStr::new("/usr/bin"),
                Path::new("/")
            ),
            None
        );
        assert!(resolve(OsStr::new("/bin/sh"), OsStr::new(""), Path::new("/")).is_some());
        assert!(resolve(OsStr::new("./sh"), OsStr::new(""), Path::new("/bin")).is_some());
        // Not executable.
        assert_eq!(
            resolve(OsStr::new("/etc/passwd"), OsStr::new(""), Path::new("/")),
            None
        );
    }

    #[test]
    fn visibility() {
        let binds = [Bind::same("/work/tree", true)];
        assert!(visible(Path::new("/usr/bin/make"), &binds));
        assert!(visible(Path::new("/work/tree/scripts/x"), &binds));
        assert!(!visible(Path::new("/work/other"), &binds));
        assert!(!visible(Path::new("/root/.cargo/bin/cargo"), &binds));
    }
}

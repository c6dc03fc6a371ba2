//! Running untrusted code — every patch's build and tests — confined and bounded.
//!
//! [`Sandbox::detect`] finds out once what this machine can do: whether bubblewrap (`bwrap`,
//! Debian package `bubblewrap`) really makes sandboxes here (it runs `bwrap … /bin/true` with
//! the flags real runs use), and whether a cgroup can be made per run. What does not work is a
//! [`Warning`] the caller prints loudly; commands then still run, with the limits only.
//! [`Sandbox::command`] makes a [`Command`], built like `std::process::Command`, run with
//! [`Command::run`] (async, on tokio), which gives an [`Outcome`] or an [`Error`].
//!
//! ```no_run
//! # async fn build(worktree: &std::path::Path, build: &std::path::Path) -> Result<(), gauntlet_sandbox::Error> {
//! use gauntlet_sandbox::{Limits, Sandbox};
//! let sandbox = Sandbox::detect();
//! for warning in sandbox.warnings() {
//!     eprintln!("WARNING: {warning}");
//! }
//! let (lines, mut rx) = tokio::sync::mpsc::channel(256);
//! let run = sandbox
//!     .command("make")
//!     .args(["-j2", "O=/build/x86_64"])
//!     .current_dir(worktree)
//!     .writable(worktree)
//!     .writable(build)
//!     .env("ARCH", "x86_64")
//!     .limits(Limits { time: std::time::Duration::from_secs(3600), ..Limits::default() })
//!     .log(build.join("build.log"))
//!     .stream_lines(lines)
//!     .run();
//! # let _ = (run, rx.recv());
//! # Ok(()) }
//! ```
//!
//! # What a command sees under bubblewrap
//!
//! Paths inside are the host's paths (no renaming), so that paths in arguments, logs and
//! compiler messages mean the same thing on both sides.
//!
//! | what | in the sandbox |
//! |---|---|
//! | `/usr`, `/bin`, `/sbin`, `/lib`, `/lib32`, `/lib64`, `/libx32` | the host's, **read-only** (merged-`/usr` symlinks recreated) |
//! | `/etc` | only `alternatives`, `group`, `hosts`, `ld.so.cache`, `localtime`, `nsswitch.conf`, `os-release`, `passwd`, `ssl/openssl.cnf`, **read-only**; `mtab` → `/proc/self/mounts`. No `shadow`, no `ssh/`, no `ssl/private/` |
//! | [`Command::writable`] paths (working copy, build directory, ccache) | the host's, **writable** — the only host paths that are |
//! | [`Command::read_only`] paths (toolchains, reference trees) | the host's, read-only |
//! | `/tmp` | a private tmpfs of [`Limits::tmp_size`] bytes, gone with the sandbox; also `HOME` and `TMPDIR` |
//! | `/proc` | a new procfs of the sandbox's pid namespace: only its own processes |
//! | `/dev` | a minimal tmpfs: `null`, `zero`, `full`, `random`, `urandom`, `tty`, `pts/`, `shm/` |
//! | `/` | a read-only tmpfs holding the mount points; the host's `/home`, `/root`, `/var`, `/sys`, `/run`, `/work`… are absent |
//! | network | its own network namespace with only its own loopback `lo`: nothing on the host or beyond is reachable, the host's 127.0.0.1 included |
//! | processes, IPC, host name | own pid namespace (bubblewrap is pid 1), own IPC namespace, host name `gauntlet` |
//! | privileges | a user namespace, every capability dropped (also when gauntlet runs as root), `no_new_privs`, no nested user namespaces (bubblewrap ≥ 0.8), a new session (no terminal to inject keystrokes into) |
//! | environment | only `PATH=/usr/local/bin:/usr/bin:/bin`, `HOME=/tmp`, `TMPDIR=/tmp`, `LANG=C.UTF-8`, what the caller adds, and `PWD`; nothing of gauntlet's own environment |
//!
//! Without bubblewrap (missing, or unusable: [`Confinement::LimitsOnly`]) the command sees the
//! host as gauntlet's user does; it gets the same clean environment, a private host directory
//! as `HOME` and `TMPDIR`, a session of its own (`setsid`), and the limits below.
//!
//! # Limits
//!
//! | limit | enforced by | without a cgroup |
//! |---|---|---|
//! | wall-clock time ([`Limits::time`]) | gauntlet: SIGTERM to every process of the run, SIGKILL after [`Limits::kill_grace`] → [`Termination::TimedOut`] | the same |
//! | memory ([`Limits::memory`]) | the run's cgroup: `memory.max` (v2, swap off, `memory.oom.group`) or `memory.limit_in_bytes` (v1, with `memsw`); an OOM kill → [`Termination::OutOfMemory`] | `RLIMIT_DATA` per process (not `RLIMIT_AS`, which breaks programs that reserve address space); a process over it sees allocations fail, which looks like an ordinary failure |
//! | processes ([`Limits::processes`]) | the cgroup's `pids.max` | `RLIMIT_NPROC`, which the kernel counts per user (all of that user's processes, not only the run's) and never applies to root: as root there is no limit, and a [`Warning::ProcessesUnlimited`] |
//! | CPUs ([`Limits::cpus`]) | the cgroup's `cpu.max` / `cpu.cfs_quota_us` (a hint: `-j` is the caller's) | none |
//! | output ([`Limits::log_size`], [`Limits::output_kill`]) | gauntlet: the log keeps the first ¾ and the last ¼ of its size, with a marker line saying how many bytes were dropped between; past `output_kill` bytes the command is killed → [`Termination::OutputLimit`] | the same |
//! | core dumps | `RLIMIT_CORE` 0 | the same |
//!
//! Limits are set before the command starts, race-free and without `unsafe`: the sandbox's
//! first process is `/bin/sh -c 'echo $$ > …/cgroup.procs; ulimit …; exec "$@"'`, which joins
//! the run's cgroup and sets the rlimits for itself, then executes bubblewrap (or the command),
//! which inherit both. A cgroup is used when one can be made: cgroup v2 with the `memory` and
//! `pids` controllers enabled in this process's cgroup or in a delegated one named by
//! [`DetectOptions::cgroup`], else cgroup v1's `memory`, `pids`, `cpu` and `cpuacct`
//! hierarchies.
//!
//! # Invariants
//!
//! * **No process outlives its sandbox.** Under bubblewrap the command is in a pid namespace
//!   whose pid 1 dies with bubblewrap (`--die-with-parent`), and the kernel kills everything in
//!   a namespace whose pid 1 dies; the run's cgroup is emptied (`cgroup.kill`, or SIGKILL to its
//!   members) and removed before [`Command::run`] returns; what is left of the command's process
//!   group is killed as soon as its first process ends. Timeouts, cancellation and dropping the
//!   future of [`Command::run`] all go through this. (The one gap: without bubblewrap *and*
//!   without a cgroup, a daemon that starts a session of its own escapes.)
//! * **The sandbox's failure is never the command's.** Everything that can be checked before
//!   starting is (the program exists and is visible inside, the directories and binds exist, the
//!   log can be written): those are [`Error`]s. The sandbox prints a start marker just before it
//!   executes the command; if bubblewrap or the wrapper dies before that (a mount or a
//!   namespace that cannot be made), the run is an [`Error::Setup`] with what they said, whatever
//!   the exit code. Only what happens after the marker is an [`Outcome`], whose non-zero exit
//!   the caller may call FAIL; every `Error` is an ERROR.
//! * **Output never blocks the command, the memory or the disk.** One thread drains the shared
//!   stdout/stderr pipe as fast as it fills; memory holds at most the log's tail quarter.
//!
//! # Streaming
//!
//! [`Command::stream_lines`] and [`Command::stream_chunks`] send the output as it arrives on a
//! tokio channel, besides the log (all of it, also what the log drops). The sender waits when
//! the channel is full (back-pressure: the command then waits too); a dropped receiver only
//! ends the stream. Cancellation: [`Command::cancel_on`] (graceful, then
//! [`Termination::Cancelled`]) or dropping the future (SIGKILL at once).

mod capture;
mod cgroup;
mod command;
mod detect;
mod error;
mod outcome;
mod plan;
mod procs;
mod run;

pub use capture::{LogStats, MAX_LINE};
pub use cgroup::CgroupVersion;
pub use command::{Command, Limits};
pub use detect::{
    Choice, Confinement, ConfinementKind, DetectOptions, Enforcement, Mechanism, Sandbox, Warning,
};
pub use error::Error;
pub use outcome::{Exit, Outcome, Termination};
pub use plan::{DEFAULT_PATH, HOSTNAME};

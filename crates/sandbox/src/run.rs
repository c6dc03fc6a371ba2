//! Running one command: two threads per run (one spawns, waits for and reaps the sandbox's first
//! process; one drains the output pipe), coordinated by the async [`run`], which enforces the
//! time and output limits and cancellation.
//!
//! Processes are killed only while their parent has not reaped them, under the lock that reaping
//! takes, so that a pid is never signalled after it could have been reused.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{
    Pid, Resource, Signal, WaitId, WaitIdOptions, getrlimit, kill_process, kill_process_group,
    waitid,
};
use tokio::sync::oneshot;

use crate::capture::{self, Capper, Captured, Reader};
use crate::cgroup::{Group, GroupLimits};
use crate::command::Command;
use crate::detect::Confinement;
use crate::error::Error;
use crate::outcome::{Exit, Outcome, Termination};
use crate::plan::{self, Ulimit};
use crate::procs;

/// How long the output may go on arriving after the first process ended (a leftover that no
/// cgroup or namespace could kill may hold the pipe open).
const OUTPUT_AFTER_EXIT: Duration = Duration::from_secs(1);
/// How long the removal of a run's cgroup waits for its last processes to die.
const GROUP_REMOVAL: Duration = Duration::from_secs(2);

type Exited = (io::Result<ExitStatus>, Option<Duration>);

pub(crate) async fn run(mut cmd: Command) -> Result<Outcome, Error> {
    let start = Instant::now();
    let sandbox = cmd.sandbox.clone();
    let inner = &sandbox.inner;
    let limits = cmd.limits;
    let confined = sandbox.is_confined();
    let log_path = cmd
        .log
        .clone()
        .ok_or_else(|| Error::Invalid("no log file: call Command::log".to_owned()))?;

    // The private /tmp: a tmpfs inside bubblewrap, a fresh host directory otherwise.
    let host_tmp = if confined {
        None
    } else {
        Some(
            tempfile::Builder::new()
                .prefix("gauntlet-sandbox-")
                .tempdir()
                .map_err(Error::io("creating the private tmp"))?,
        )
    };
    let tmp = host_tmp
        .as_ref()
        .map_or_else(|| PathBuf::from("/tmp"), |d| d.path().to_path_buf());
    let checked = cmd.check(&tmp)?;
    let cwd = checked.cwd.clone().unwrap_or_else(|| tmp.clone());

    let log_file = File::create(&log_path).map_err(|source| Error::Log {
        path: log_path.clone(),
        source,
    })?;

    let group = inner.cgroups.as_ref().and_then(|cgroups| {
        let wanted = GroupLimits {
            memory: limits.memory,
            pids: limits.processes,
            cpus: limits.cpus,
        };
        Group::create(cgroups, wanted)
            .inspect_err(|e| {
                tracing::warn!(error = %e, "cannot create the run's cgroup: limits fall back to rlimits");
            })
            .ok()
    });
    let in_group = |controller: &str| {
        group.is_some() && inner.cgroups.as_ref().is_some_and(|c| c.has(controller))
    };
    let mut ulimits = vec![Ulimit {
        letter: 'c',
        value: 0,
    }];
    if let Some(bytes) = limits.memory.filter(|_| !in_group("memory")) {
        push_ulimit(&mut ulimits, 'd', Resource::Data, bytes, 1024);
    }
    if let Some(n) = limits
        .processes
        .filter(|_| !in_group("pids") && !inner.root)
    {
        push_ulimit(&mut ulimits, 'p', Resource::Nproc, n, 1);
    }
    let procs_files = group.as_ref().map(Group::procs_files).unwrap_or_default();

    let marker = capture::start_marker();
    let command_words = std::iter::once(cmd.program.clone()).chain(cmd.args.iter().cloned());
    let (program, args, own_group): (PathBuf, Vec<OsString>, bool) = match &inner.confinement {
        Confinement::Bubblewrap { program: bwrap, .. } => {
            let mut args: Vec<OsString> = vec![
                "-c".into(),
                plan::wrapper_script(&procs_files, &ulimits, false).into(),
                "gauntlet-sandbox".into(),
                bwrap.into(),
            ];
            args.extend(plan::bwrap_args(
                inner.bwrap,
                &checked.binds,
                limits.tmp_size,
                &cwd,
            ));
            args.extend([
                "/bin/sh".into(),
                "-c".into(),
                plan::announce_script().into(),
                marker.clone().into(),
            ]);
            args.extend(command_words);
            // Its own process group, so that a terminal's ^C reaches gauntlet, not the sandbox.
            (PathBuf::from("/bin/sh"), args, true)
        }
        Confinement::LimitsOnly => {
            let mut args: Vec<OsString> = Vec::new();
            let program = match &inner.setsid {
                // A session of its own: no controlling terminal to inject keystrokes into.
                Some(setsid) => {
                    args.push("/bin/sh".into());
                    setsid.clone()
                }
                None => PathBuf::from("/bin/sh"),
            };
            args.extend([
                "-c".into(),
                plan::wrapper_script(&procs_files, &ulimits, true).into(),
                marker.clone().into(),
            ]);
            args.extend(command_words);
            let own_group = inner.setsid.is_none();
            (program, args, own_group)
        }
    };

    let mut std_cmd = std::process::Command::new(&program);
    std_cmd
        .args(&args)
        .env_clear()
        .envs(checked.env.iter().map(|(k, v)| (k, v)))
        .current_dir(if confined { Path::new("/") } else { &cwd })
        .stdin(Stdio::null());
    if own_group {
        std_cmd.process_group(0);
    }
    let (pipe, writer) = io::pipe().map_err(Error::io("creating the output pipe"))?;
    std_cmd
        .stdout(
            writer
                .try_clone()
                .map_err(Error::io("creating the output pipe"))?,
        )
        .stderr(writer);
    tracing::debug!(program = ?cmd.program, args = ?cmd.args, cwd = %cwd.display(), confinement = %inner.confinement.kind(), "sandbox: starting");

    let shared = Arc::new(Shared {
        state: Mutex::new(ProcState::default()),
        group: Mutex::new(group),
        confined,
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (over_tx, mut over_rx) = oneshot::channel::<()>();
    let (captured_tx, mut captured_rx) = oneshot::channel::<Captured>();
    let reader = Reader {
        pipe,
        marker,
        capper: Capper::new(log_file, limits.log_size),
        log_path: log_path.clone(),
        stream: cmd.stream.take(),
        kill_at: limits.output_kill,
        over_limit: Some(over_tx),
        stop: stop.clone(),
    };
    // Started first: if the spawn fails, the pipe's writers are dropped and it ends at once.
    thread::Builder::new()
        .name("sandbox-output".to_owned())
        .spawn(move || {
            let _ = captured_tx.send(reader.run());
        })
        .map_err(Error::io("starting the output thread"))?;

    let (spawned_tx, spawned_rx) = oneshot::channel::<io::Result<i32>>();
    let (exited_tx, mut exited_rx) = oneshot::channel::<Exited>();
    let waiter = shared.clone();
    thread::Builder::new()
        .name("sandbox-wait".to_owned())
        .spawn(move || wait_for(std_cmd, &waiter, spawned_tx, exited_tx))
        .map_err(Error::io("starting the wait thread"))?;

    let mut guard = KillOnDrop {
        shared: shared.clone(),
        stop: stop.clone(),
        armed: true,
    };
    match spawned_rx.await {
        Ok(Ok(_pid)) => {}
        Ok(Err(source)) => {
            guard.armed = false;
            return Err(Error::Spawn {
                program: program.display().to_string(),
                source,
            });
        }
        Err(_) => return Err(lost("the wait thread")),
    }

    let cancel = cmd.cancel.take();
    let cancelled = async move {
        match cancel {
            Some(signal) => signal.await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(cancelled);
    let deadline = tokio::time::sleep(limits.time);
    tokio::pin!(deadline);
    let mut stopped_by: Option<Termination> = None;
    let ended = tokio::select! {
        ended = &mut exited_rx => Some(ended),
        () = &mut deadline => { stopped_by = Some(Termination::TimedOut); None }
        Ok(()) = &mut over_rx => { stopped_by = Some(Termination::OutputLimit); None }
        () = &mut cancelled => { stopped_by = Some(Termination::Cancelled); None }
    };
    let ended = match ended {
        Some(ended) => ended,
        None => {
            tracing::debug!(reason = ?stopped_by, "sandbox: stopping the command");
            shared.terminate();
            match tokio::time::timeout(limits.kill_grace, &mut exited_rx).await {
                Ok(ended) => ended,
                Err(_) => {
                    tracing::debug!("sandbox: the grace period is over, killing");
                    shared.kill();
                    exited_rx.await
                }
            }
        }
    };
    let (status, zombie_cpu) = ended.map_err(|_| lost("the wait thread"))?;
    let status = status.map_err(Error::io("waiting for the sandbox"))?;
    guard.armed = false;
    let wall_time = start.elapsed();

    // Whatever is left (daemons, without a pid namespace) dies with the run.
    let group = shared.take_group();
    if let Some(group) = &group {
        group.kill_all();
    }
    let captured = match tokio::time::timeout(OUTPUT_AFTER_EXIT, &mut captured_rx).await {
        Ok(captured) => captured,
        Err(_) => {
            tracing::warn!(
                "sandbox: a leftover process holds the output open; the log is closed without it"
            );
            stop.store(true, Ordering::Release);
            captured_rx.await
        }
    }
    .map_err(|_| lost("the output thread"))?;
    let stats = group.as_ref().map(Group::stats).unwrap_or_default();
    if let Some(mut group) = group {
        let _ = tokio::task::spawn_blocking(move || group.remove(GROUP_REMOVAL)).await;
    }
    drop(host_tmp);

    let exit = exit_of(status);
    if let Some((path, source)) = captured.error {
        return Err(Error::Log { path, source });
    }
    if !captured.started && stopped_by != Some(Termination::Cancelled) {
        return Err(Error::Setup {
            status: exit.to_string(),
            message: String::from_utf8_lossy(&captured.preamble)
                .trim()
                .to_owned(),
        });
    }
    let termination = match stopped_by {
        Some(reason) => reason,
        None if stats.oom_kills > 0 && exit != Exit::Code(0) => Termination::OutOfMemory,
        None => Termination::Exited(exit),
    };
    let outcome = Outcome {
        termination,
        exit,
        wall_time,
        // bubblewrap exits before it reaps its pid 1, whose CPU time is then lost to the
        // kernel's counts: without a cgroup, it is unknown.
        cpu_time: stats.cpu.or(zombie_cpu.filter(|_| !confined)),
        memory_peak: stats.memory_peak,
        oom_kills: stats.oom_kills,
        log: log_path,
        output: captured.stats,
        confinement: inner.confinement.kind(),
    };
    tracing::debug!(termination = %outcome.termination, wall = ?outcome.wall_time, "sandbox: done");
    Ok(outcome)
}

fn lost(what: &str) -> Error {
    Error::Io {
        context: "coordinating the run",
        source: io::Error::other(format!("{what} ended unexpectedly")),
    }
}

/// Adds `ulimit -letter` for `value` (in units of `unit` bytes), never above the hard limit
/// this process has (an unprivileged process cannot raise it).
fn push_ulimit(ulimits: &mut Vec<Ulimit>, letter: char, resource: Resource, value: u64, unit: u64) {
    let mut value = value.div_ceil(unit).max(1);
    if let Some(hard) = getrlimit(resource).maximum {
        value = value.min(hard / unit);
    }
    ulimits.push(Ulimit { letter, value });
}

fn exit_of(status: ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        (None, None) => Exit::Code(-1),
    }
}

/// Spawns the sandbox's first process and waits for it, on a thread of its own that lives as
/// long as the process: bubblewrap's `--die-with-parent` watches the thread that forked it.
fn wait_for(
    mut command: std::process::Command,
    shared: &Shared,
    spawned: oneshot::Sender<io::Result<i32>>,
    exited: oneshot::Sender<Exited>,
) {
    let spawn = command.spawn();
    // Closes this side's copies of the pipe's writing end.
    drop(command);
    let mut child = match spawn {
        Ok(child) => child,
        Err(e) => {
            let _ = spawned.send(Err(e));
            return;
        }
    };
    let pid = Pid::from_child(&child);
    shared.lock_state().pid = Some(pid);
    let _ = spawned.send(Ok(pid.as_raw_nonzero().get()));
    // Wait for the exit without reaping, so that the kernel's CPU counts can still be read and
    // the pid stays ours while what is left of its process group is killed.
    while let Err(rustix::io::Errno::INTR) = waitid(
        WaitId::Pid(pid),
        WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
    ) {}
    let cpu = procs::zombie_cpu(pid.as_raw_nonzero().get());
    let status = {
        let mut state = shared.lock_state();
        let _ = kill_process_group(pid, Signal::KILL);
        let status = child.wait();
        state.reaped = true;
        status
    };
    let _ = exited.send((status, cpu));
}

#[derive(Debug, Default)]
struct ProcState {
    pid: Option<Pid>,
    reaped: bool,
}

/// What the coordinator, the wait thread and a cancelled run's guard share.
struct Shared {
    state: Mutex<ProcState>,
    group: Mutex<Option<Group>>,
    /// The first process is bubblewrap (so the command runs in a pid namespace).
    confined: bool,
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, ProcState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_group(&self) -> MutexGuard<'_, Option<Group>> {
        self.group.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_group(&self) -> Option<Group> {
        self.lock_group().take()
    }

    /// Asks every process of the run to end (SIGTERM). Under bubblewrap, bubblewrap's own two
    /// processes are spared: the outer one would die at once and take the sandbox with it,
    /// leaving the command no grace.
    fn terminate(&self) {
        let state = self.lock_state();
        let Some(pid) = state.pid.filter(|_| !state.reaped) else {
            return;
        };
        let root = pid.as_raw_nonzero().get();
        let tree = procs::descendants(root);
        let spared: Vec<i32> = if self.confined {
            std::iter::once(root)
                .chain(
                    tree.iter()
                        .filter(|&&(_, depth)| depth == 1)
                        .map(|&(p, _)| p),
                )
                .collect()
        } else {
            Vec::new()
        };
        let mut targets: Vec<i32> = std::iter::once(root)
            .chain(tree.iter().map(|&(p, _)| p))
            .collect();
        if let Some(group) = self.lock_group().as_ref() {
            targets.extend(group.pids());
        }
        targets.sort_unstable();
        targets.dedup();
        targets.retain(|p| !spared.contains(p));
        for target in targets {
            if let Some(target) = Pid::from_raw(target) {
                let _ = kill_process(target, Signal::TERM);
            }
        }
        if !self.confined {
            let _ = kill_process_group(pid, Signal::TERM);
        }
    }

    /// Kills every process of the run (SIGKILL). Killing bubblewrap ends its pid namespace,
    /// which the kernel then empties.
    fn kill(&self) {
        {
            let state = self.lock_state();
            if let Some(pid) = state.pid.filter(|_| !state.reaped) {
                let _ = kill_process(pid, Signal::KILL);
                let _ = kill_process_group(pid, Signal::KILL);
            }
        }
        if let Some(group) = self.lock_group().as_ref() {
            group.kill_all();
        }
    }
}

/// Kills the run when its future is dropped before the end.
struct KillOnDrop {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    armed: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.armed {
            tracing::debug!("sandbox: run dropped, killing its processes");
            self.shared.kill();
            self.stop.store(true, Ordering::Release);
        }
    }
}

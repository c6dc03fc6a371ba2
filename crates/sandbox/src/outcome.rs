use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::capture::LogStats;
use crate::detect::ConfinementKind;

/// How the command's first process ended.
///
/// Under bubblewrap a command killed by signal `N` is reported as `Code(128 + N)`, as a shell
/// reports it: bubblewrap exits with that code rather than dying of the signal itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit code {code}"),
            Exit::Signal(sig) => write!(f, "killed by signal {sig}"),
        }
    }
}

/// Why the command stopped: it ended by itself, or the sandbox stopped it at a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// It ended by itself with this exit code or signal (0 is success; anything else is the
    /// command's failure, which the caller may call FAIL).
    Exited(Exit),
    /// It ran past its wall-clock limit and was killed, with its whole process tree.
    TimedOut,
    /// The kernel killed part of it for going over the memory limit (seen in the cgroup's
    /// `oom_kill` count; without a cgroup, running out of memory looks like an ordinary failure).
    OutOfMemory,
    /// It printed more than the hard output limit and was killed.
    OutputLimit,
    /// The caller cancelled it; it was killed.
    Cancelled,
}

impl Termination {
    /// Whether a limit of the sandbox stopped the command.
    pub fn is_limit(self) -> bool {
        matches!(
            self,
            Termination::TimedOut | Termination::OutOfMemory | Termination::OutputLimit
        )
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Termination::Exited(exit) => exit.fmt(f),
            Termination::TimedOut => f.write_str("timed out"),
            Termination::OutOfMemory => f.write_str("out of memory"),
            Termination::OutputLimit => f.write_str("output limit exceeded"),
            Termination::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// What happened to a command that the sandbox did run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub termination: Termination,
    /// The first process's own exit, also when the sandbox stopped it.
    pub exit: Exit,
    pub wall_time: Duration,
    /// User plus system time of the whole tree, when known: from the cgroup, else (without
    /// bubblewrap) from the kernel's counts of reaped children.
    pub cpu_time: Option<Duration>,
    /// The most memory the tree used at once (cgroup only).
    pub memory_peak: Option<u64>,
    /// Processes the kernel's OOM killer killed in the run's cgroup.
    pub oom_kills: u64,
    /// The log file: stdout and stderr, interleaved as written, capped.
    pub log: PathBuf,
    pub output: LogStats,
    pub confinement: ConfinementKind,
}

impl Outcome {
    /// It ended by itself with exit code 0.
    pub fn success(&self) -> bool {
        self.termination == Termination::Exited(Exit::Code(0))
    }

    /// Whether the log lost bytes to its size limit.
    pub fn output_capped(&self) -> bool {
        self.output.dropped_bytes > 0
    }
}

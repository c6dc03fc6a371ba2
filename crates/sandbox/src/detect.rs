//! Finding out, once, which confinement and which limits this machine can give.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::cgroup::{self, CgroupVersion, Cgroups};
use crate::command::Command;
use crate::plan;

/// What to use, when detecting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Choice {
    /// Find it and use it when it works.
    #[default]
    Auto,
    /// Use this one (a `bwrap` executable; a delegated cgroup v2 directory).
    Path(PathBuf),
    /// Do not use it (tests, and machines where it is known to misbehave).
    Off,
}

/// How [`Sandbox::detect_with`] chooses.
#[derive(Debug, Clone, Default)]
pub struct DetectOptions {
    pub bubblewrap: Choice,
    pub cgroup: Choice,
}

/// The confinement in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confinement {
    /// bubblewrap works here: commands run in their own user, mount, network, pid, IPC and UTS
    /// namespaces, see the crate documentation for what they see.
    Bubblewrap { program: PathBuf, version: String },
    /// No confinement: commands see the host as gauntlet does; only the limits apply.
    LimitsOnly,
}

impl Confinement {
    pub fn kind(&self) -> ConfinementKind {
        match self {
            Confinement::Bubblewrap { .. } => ConfinementKind::Bubblewrap,
            Confinement::LimitsOnly => ConfinementKind::LimitsOnly,
        }
    }
}

/// [`Confinement`] without its details, as outcomes record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfinementKind {
    Bubblewrap,
    LimitsOnly,
}

impl fmt::Display for ConfinementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfinementKind::Bubblewrap => "bubblewrap",
            ConfinementKind::LimitsOnly => "limits only (NOT confined)",
        })
    }
}

/// How a limit is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// For the whole process tree, by a cgroup.
    Cgroup(CgroupVersion),
    /// Per process (memory) or per user (processes), by `ulimit` in the sandbox's first
    /// process, inherited by all the others.
    Rlimit,
    /// Not enforced here.
    Unenforced,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::Cgroup(CgroupVersion::V2) => "cgroup v2",
            Mechanism::Cgroup(CgroupVersion::V1) => "cgroup v1",
            Mechanism::Rlimit => "rlimit",
            Mechanism::Unenforced => "not enforced",
        })
    }
}

/// How each limit is enforced here (time and output are always enforced by gauntlet itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enforcement {
    pub memory: Mechanism,
    pub processes: Mechanism,
    pub cpus: Mechanism,
}

/// Something the operator must know about the sandbox on this machine. `Display` gives the
/// sentence to print, loudly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// No `bwrap` was found.
    BubblewrapMissing,
    /// `bwrap` is there but cannot make a sandbox here (no user namespaces, a security module…).
    BubblewrapUnusable { program: PathBuf, reason: String },
    /// The caller turned bubblewrap off.
    BubblewrapDisabled,
    /// No cgroup can be made: memory is limited per process, processes per user.
    NoCgroup { reason: String },
    /// Running as root without a cgroup: the kernel does not apply process limits to root.
    ProcessesUnlimited,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNCONFINED: &str = "untrusted builds and tests will run WITHOUT confinement: they \
                                  can reach the network, read and write whatever this user can, \
                                  and see other processes; only the time, memory and output \
                                  limits apply";
        match self {
            Warning::BubblewrapMissing => write!(
                f,
                "bubblewrap (bwrap) is not installed: {UNCONFINED}. Install the Debian package \
                 `bubblewrap`."
            ),
            Warning::BubblewrapUnusable { program, reason } => write!(
                f,
                "bubblewrap ({}) cannot create a sandbox on this machine ({reason}): {UNCONFINED}. \
                 Check that user namespaces are allowed (sysctl kernel.unprivileged_userns_clone, \
                 user.max_user_namespaces, AppArmor's restrictions).",
                program.display()
            ),
            Warning::BubblewrapDisabled => {
                write!(f, "bubblewrap is turned off: {UNCONFINED}.")
            }
            Warning::NoCgroup { reason } => write!(
                f,
                "no cgroup is available for the sandbox ({reason}): memory is limited per \
                 process (RLIMIT_DATA) instead of for the whole build, processes per user \
                 (RLIMIT_NPROC), CPUs not at all, and running out of memory is not recognised."
            ),
            Warning::ProcessesUnlimited => f.write_str(
                "running as root without a cgroup: the number of processes is NOT limited (the \
                 kernel exempts root from RLIMIT_NPROC); a fork bomb is stopped only by the time \
                 limit.",
            ),
        }
    }
}

/// The sandbox of this machine: which confinement works, how limits are enforced, and the
/// warnings to show. Cheap to clone; make commands with [`Sandbox::command`].
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) confinement: Confinement,
    pub(crate) bwrap: plan::BwrapFlags,
    pub(crate) cgroups: Option<Cgroups>,
    pub(crate) enforcement: Enforcement,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) setsid: Option<PathBuf>,
    pub(crate) root: bool,
}

const BWRAP_PLACES: [&str; 3] = ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"];
const SETSID_PLACES: [&str; 2] = ["/usr/bin/setsid", "/bin/setsid"];
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

impl Sandbox {
    /// Finds bubblewrap and a cgroup, and checks that they work here. Never fails: what does not
    /// work is in [`Sandbox::warnings`], and commands run with what does.
    pub fn detect() -> Sandbox {
        Sandbox::detect_with(&DetectOptions::default())
    }

    pub fn detect_with(options: &DetectOptions) -> Sandbox {
        let mut warnings = Vec::new();
        let root = rustix::process::geteuid().is_root();

        let bwrap_program = match &options.bubblewrap {
            Choice::Auto => BWRAP_PLACES.iter().map(PathBuf::from).find(|p| p.is_file()),
            Choice::Path(p) => Some(p.clone()),
            Choice::Off => None,
        };
        let (confinement, bwrap) = match bwrap_program {
            None => {
                warnings.push(if options.bubblewrap == Choice::Off {
                    Warning::BubblewrapDisabled
                } else {
                    Warning::BubblewrapMissing
                });
                (Confinement::LimitsOnly, plan::BwrapFlags::default())
            }
            Some(program) => match probe_bwrap(&program) {
                Ok((version, flags)) => (Confinement::Bubblewrap { program, version }, flags),
                Err(reason) => {
                    warnings.push(Warning::BubblewrapUnusable { program, reason });
                    (Confinement::LimitsOnly, plan::BwrapFlags::default())
                }
            },
        };

        let cgroups = match &options.cgroup {
            Choice::Off => None,
            Choice::Auto | Choice::Path(_) => {
                let parent = match &options.cgroup {
                    Choice::Path(p) => Some(p.as_path()),
                    _ => None,
                };
                match cgroup::detect(parent) {
                    Ok(found) => Some(found),
                    Err(reason) => {
                        warnings.push(Warning::NoCgroup { reason });
                        None
                    }
                }
            }
        };
        if options.cgroup == Choice::Off {
            warnings.push(Warning::NoCgroup {
                reason: "turned off".to_owned(),
            });
        }
        let by_cgroup = |controller: &str| {
            cgroups
                .as_ref()
                .filter(|c| c.has(controller))
                .map(|c| Mechanism::Cgroup(c.version))
        };
        let enforcement = Enforcement {
            memory: by_cgroup("memory").unwrap_or(Mechanism::Rlimit),
            processes: by_cgroup("pids").unwrap_or(if root {
                Mechanism::Unenforced
            } else {
                Mechanism::Rlimit
            }),
            cpus: by_cgroup("cpu").unwrap_or(Mechanism::Unenforced),
        };
        if enforcement.processes == Mechanism::Unenforced {
            warnings.push(Warning::ProcessesUnlimited);
        }
        for warning in &warnings {
            tracing::warn!("{warning}");
        }
        let setsid = SETSID_PLACES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file());
        let sandbox = Sandbox {
            inner: Arc::new(Inner {
                confinement,
                bwrap,
                cgroups,
                enforcement,
                warnings,
                setsid,
                root,
            }),
        };
        tracing::info!(
            confinement = %sandbox.confinement().kind(),
            memory = %enforcement.memory,
            processes = %enforcement.processes,
            cpus = %enforcement.cpus,
            "sandbox detected"
        );
        sandbox
    }

    pub fn confinement(&self) -> &Confinement {
        &self.inner.confinement
    }

    pub fn enforcement(&self) -> Enforcement {
        self.inner.enforcement
    }

    /// What the operator must be told (empty when everything works).
    pub fn warnings(&self) -> &[Warning] {
        &self.inner.warnings
    }

    /// Whether commands run confined (bubblewrap works here).
    pub fn is_confined(&self) -> bool {
        self.inner.confinement.kind() == ConfinementKind::Bubblewrap
    }

    /// A command to run `program` in this sandbox.
    pub fn command(&self, program: impl Into<OsString>) -> Command {
        Command::new(self.clone(), program.into())
    }
}

/// One line for a status display: `bubblewrap 0.8.0 (/usr/bin/bwrap); memory: cgroup v2; …`.
impl fmt::Display for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.confinement {
            Confinement::Bubblewrap { program, version } => {
                write!(f, "{version} ({})", program.display())?;
            }
            Confinement::LimitsOnly => f.write_str("NOT confined (limits only)")?,
        }
        let e = self.inner.enforcement;
        write!(
            f,
            "; memory: {}; processes: {}; cpus: {}",
            e.memory, e.processes, e.cpus
        )
    }
}

/// Runs `bwrap --version` and a sandboxed `/bin/true` with the flags real runs use; falls back
/// to the flags older bubblewrap versions know.
fn probe_bwrap(program: &Path) -> Result<(String, plan::BwrapFlags), String> {
    let version = std::process::Command::new(program)
        .arg("--version")
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let mut last_error = String::new();
    for flags in [
        plan::BwrapFlags {
            disable_userns: true,
        },
        plan::BwrapFlags {
            disable_userns: false,
        },
    ] {
        let mut args = plan::bwrap_args(flags, &[], 1 << 20, Path::new("/"));
        args.push("/bin/true".into());
        match run_bounded(program, &args) {
            Ok(()) => return Ok((version, flags)),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// Runs a short command, failing when it fails, says something on stderr or does not end.
fn run_bounded(program: &Path, args: &[OsString]) -> Result<(), String> {
    let mut child = std::process::Command::new(program)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`bwrap … true` did not end within {PROBE_TIMEOUT:?}"
                ));
            }
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`bwrap … true` failed ({status}): {}",
            stderr.trim()
        ))
    }
}

//! One boot: QEMU in the sandbox, its serial console read as it streams, QEMU stopped as soon
//! as the console says so (or at the deadline, or after too long a silence).
//!
//! How QEMU ends, in every case:
//!
//! | what the console or the clock says | what the runner does | [`End`] |
//! |---|---|---|
//! | the done marker | stops QEMU at once (SIGTERM, SIGKILL after a grace) | `Stopped` |
//! | a kernel panic (or a report under `ReportPolicy::Stop`) | waits [`BootSpec::report_grace`] for the rest of the report (with `panic=-1 -no-reboot` QEMU usually exits by itself first), then stops it | `Stopped` |
//! | no output for [`BootSpec::silence`] | stops it | `Silence` |
//! | [`BootSpec::timeout`] since the start | stops it | `Timeout` |
//! | QEMU exits by itself | — | `Eof` |
//! | more output than [`BootSpec::output_kill`] | the sandbox kills it | `Stopped` (flooded) |
//!
//! QEMU exiting by itself with a non-zero status is QEMU refusing its arguments or the image
//! (before the kernel printed anything) or QEMU failing ([`super::Error::QemuFailed`]), unless the
//! console said what happened (a panic, the done marker); dying of a limit other than the
//! output (memory) is an infrastructure failure too. Everything else is a [`BootOutcome`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gauntlet_results::{
    Action, End, LineSplitter, SilenceWatch, StopReason, StreamConfig, StreamParser, StreamReport,
};
use gauntlet_sandbox::{Exit, Limits, Sandbox, Termination};
use gauntlet_verdict::Status;
use memchr::memmem;
use tokio::sync::{mpsc, oneshot};

use super::Error as QemuError;
use super::machine::{Accel, CommandLine, Machine};
use crate::{Error, io};

/// Sees every console line as it arrives (the lab's suite tracker; a benchmark's clock).
pub trait LineObserver: Send {
    /// Line `number` (1-based, the numbering of the results' excerpts), without its line end,
    /// `at` after QEMU was started.
    fn line(&mut self, number: u64, raw: &[u8], at: Duration);
}

/// Sees nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl LineObserver for NoObserver {
    fn line(&mut self, _number: u64, _raw: &[u8], _at: Duration) {}
}

/// What to boot and how long to wait.
#[derive(Debug, Clone)]
pub struct BootSpec<'a> {
    pub machine: &'static Machine,
    pub accel: Accel,
    pub kernel: &'a Path,
    pub initramfs: &'a Path,
    /// QEMU's working directory, the only directory it may write to.
    pub work_dir: &'a Path,
    /// The console log (capped at `log_size`).
    pub log: &'a Path,
    pub memory_mb: u32,
    pub cpus: u32,
    /// Words added to the kernel's command line.
    pub cmdline_extra: Vec<String>,
    /// From QEMU's start to the end of everything.
    pub timeout: Duration,
    /// No console output for this long: the machine is stopped as hung.
    pub silence: Duration,
    /// After a panic, how long the rest of its report may take before QEMU is stopped.
    pub report_grace: Duration,
    /// How the console is read (markers, reports, KTAP, LAVA signals, patterns).
    pub stream: StreamConfig,
    /// Bytes of console kept in the log file (its head and tail).
    pub log_size: u64,
    /// Bytes of console after which QEMU is killed as flooding.
    pub output_kill: Option<u64>,
    /// Every console line, for a progress display (dropped when the receiver is slow).
    pub progress: Option<mpsc::Sender<Vec<u8>>>,
}

impl<'a> BootSpec<'a> {
    /// A boot with the defaults: TCG, 256 MiB, one CPU, 5 minutes, 60 s of silence, gauntlet's
    /// markers, a 64 MiB log.
    pub fn new(
        machine: &'static Machine,
        kernel: &'a Path,
        initramfs: &'a Path,
        work_dir: &'a Path,
        log: &'a Path,
    ) -> BootSpec<'a> {
        BootSpec {
            machine,
            accel: Accel::Tcg,
            kernel,
            initramfs,
            work_dir,
            log,
            memory_mb: 256,
            cpus: 1,
            cmdline_extra: Vec::new(),
            timeout: Duration::from_secs(300),
            silence: Duration::from_secs(60),
            report_grace: Duration::from_millis(500),
            stream: StreamConfig::kernel_console(),
            log_size: 64 << 20,
            output_kill: Some(256 << 20),
            progress: None,
        }
    }
}

/// When things happened, after QEMU was started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Timings {
    pub first_output: Option<Duration>,
    /// `Linux version`.
    pub kernel: Option<Duration>,
    /// The userspace marker.
    pub userspace: Option<Duration>,
    /// The done marker.
    pub done: Option<Duration>,
    /// QEMU gone and the console parsed.
    pub total: Duration,
}

/// What one boot gave.
#[derive(Debug, Clone)]
pub struct BootOutcome {
    pub report: StreamReport,
    pub end: End,
    pub accel: Accel,
    /// The command that ran (program first).
    pub command: Vec<String>,
    pub log: PathBuf,
    /// Bytes QEMU printed, and bytes the log dropped from its middle.
    pub output_bytes: u64,
    pub log_dropped_bytes: u64,
    /// The sandbox killed QEMU for printing more than `output_kill` bytes.
    pub flooded: bool,
    pub timings: Timings,
    /// How QEMU ended, as the sandbox saw it (`cancelled` when the runner stopped it).
    pub termination: String,
}

impl BootOutcome {
    /// The console's verdict on the boot (`StreamReport::console.outcome`), with the flood
    /// said: a flood is FAIL (the guest printed without end), the log capped is noted.
    pub fn status(&self) -> Status {
        if self.flooded {
            return Status::Fail.combine(self.report.console.outcome.status);
        }
        self.report.console.outcome.status
    }

    pub fn reason(&self) -> String {
        let mut reason = self.report.console.outcome.reason.clone();
        if self.flooded {
            reason = format!(
                "the console was flooded: killed after {} bytes ({reason})",
                self.output_bytes
            );
        } else if self.log_dropped_bytes > 0 {
            reason.push_str(&format!(
                " (log capped: {} of {} bytes dropped)",
                self.log_dropped_bytes, self.output_bytes
            ));
        }
        reason
    }
}

/// How long the channel may stay open after the runner stopped QEMU (the sandbox's own kill
/// grace is shorter: this only guards against a stuck pipe).
const AFTER_CANCEL: Duration = Duration::from_secs(30);
/// The sandbox's time limit is a backstop beyond the runner's own deadline.
const BACKSTOP: Duration = Duration::from_secs(30);

/// Boots `spec` in `sandbox`; `observer` sees every line.
pub(crate) async fn boot(
    sandbox: &Sandbox,
    spec: &BootSpec<'_>,
    observer: &mut dyn LineObserver,
) -> Result<BootOutcome, Error> {
    let program = which(spec.machine.program).ok_or_else(|| QemuError::QemuMissing {
        program: spec.machine.program.to_owned(),
        package: spec.machine.package.to_owned(),
        arch: spec.machine.arch.to_owned(),
    })?;
    check_file(spec.kernel, "the kernel image")?;
    check_file(spec.initramfs, "the initramfs")?;
    std::fs::create_dir_all(spec.work_dir)
        .map_err(io(format!("creating {}", spec.work_dir.display())))?;
    // A fresh NVRAM for every boot (the guest writes to it).
    let nvram = spec.work_dir.join("nvram.bin");
    if spec.machine.nvram {
        std::fs::write(&nvram, super::machine::pseries_nvram())
            .map_err(io(format!("writing {}", nvram.display())))?;
    }
    let line = CommandLine {
        machine: spec.machine,
        accel: spec.accel,
        kernel: spec.kernel,
        initramfs: spec.initramfs,
        memory_mb: spec.memory_mb,
        cpus: spec.cpus,
        cmdline_extra: &spec.cmdline_extra,
        nvram: spec.machine.nvram.then_some(nvram.as_path()),
    };
    let args = line.args();
    let command: Vec<String> = std::iter::once(program.as_os_str().to_owned())
        .chain(args.iter().cloned())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    tracing::debug!(command = %command.join(" "), "qemu: starting");

    let (chunks, receiver) = mpsc::channel::<Vec<u8>>(64);
    let (cancel, cancelled) = oneshot::channel::<()>();
    let memory = (u64::from(spec.memory_mb) << 20) + (2 << 30);
    let mut run = sandbox
        .command(program.as_os_str())
        .args(args)
        .current_dir(spec.work_dir)
        .writable(spec.work_dir)
        .read_only(spec.kernel)
        .read_only(spec.initramfs)
        .log(spec.log)
        .limits(Limits {
            time: spec.timeout + BACKSTOP,
            memory: Some(memory),
            log_size: spec.log_size,
            output_kill: spec.output_kill,
            tmp_size: 16 << 20,
            kill_grace: Duration::from_secs(2),
            ..Limits::default()
        })
        .stream_chunks(chunks)
        .cancel_on(async move {
            // Dropped without a word: never cancel.
            if cancelled.await.is_err() {
                std::future::pending::<()>().await;
            }
        });
    if spec.accel == Accel::Kvm {
        run = run.writable("/dev/kvm");
    }
    let started = Instant::now();
    let reading = read_console(receiver, cancel, spec, observer, started);
    let (outcome, reading) = tokio::join!(run.run(), reading);
    let outcome = outcome?;
    let flooded = outcome.termination == Termination::OutputLimit;
    let end = reading.end.unwrap_or(match outcome.termination {
        Termination::TimedOut => End::Timeout,
        Termination::Exited(_) => End::Eof,
        _ => End::Stopped,
    });
    let report = reading.parser.finish(end);
    let mut timings = reading.timings;
    timings.total = started.elapsed();
    // A machine that says what happened to it (a panic, the done marker) is an outcome, whatever
    // QEMU's exit status (some boards exit non-zero on a guest panic).
    let console_said =
        report.console.done.is_some() || report.console.events.iter().any(|e| e.kind.is_fatal());
    match outcome.termination {
        Termination::Exited(exit) if exit != Exit::Code(0) && !console_said => {
            return Err(QemuError::QemuFailed {
                program: spec.machine.program.to_owned(),
                status: exit.to_string(),
                kernel_started: report.console.kernel_started.is_some(),
                message: log_excerpt(spec.log),
            }
            .into());
        }
        Termination::OutOfMemory => {
            return Err(QemuError::QemuFailed {
                program: spec.machine.program.to_owned(),
                status: "killed: out of memory".to_owned(),
                kernel_started: report.console.kernel_started.is_some(),
                message: log_excerpt(spec.log),
            }
            .into());
        }
        _ => {}
    }
    Ok(BootOutcome {
        report,
        end,
        accel: spec.accel,
        command,
        log: spec.log.to_path_buf(),
        output_bytes: outcome.output.total_bytes,
        log_dropped_bytes: outcome.output.dropped_bytes,
        flooded,
        timings,
        termination: outcome.termination.to_string(),
    })
}

struct Reading {
    parser: StreamParser,
    /// Set when the runner stopped QEMU (or decided to).
    end: Option<End>,
    timings: Timings,
}

/// Finds the milestones' times (the parser keeps line numbers, not times).
struct Clock {
    kernel: memmem::Finder<'static>,
    userspace: Option<memmem::Finder<'static>>,
    done: Option<memmem::Finder<'static>>,
}

impl Clock {
    fn new(config: &StreamConfig) -> Clock {
        let finder = |s: &Option<String>| {
            s.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| memmem::Finder::new(s.as_bytes()).into_owned())
        };
        Clock {
            kernel: memmem::Finder::new(b"Linux version ").into_owned(),
            userspace: finder(&config.console.userspace_marker),
            done: finder(&config.console.done_marker),
        }
    }

    fn line(&self, raw: &[u8], at: Duration, t: &mut Timings) {
        let seen = |finder: Option<&memmem::Finder<'_>>, slot: &mut Option<Duration>| {
            if slot.is_none() && finder.is_some_and(|f| f.find(raw).is_some()) {
                *slot = Some(at);
            }
        };
        seen(Some(&self.kernel), &mut t.kernel);
        seen(self.userspace.as_ref(), &mut t.userspace);
        seen(self.done.as_ref(), &mut t.done);
    }
}

async fn read_console(
    mut receiver: mpsc::Receiver<Vec<u8>>,
    cancel: oneshot::Sender<()>,
    spec: &BootSpec<'_>,
    observer: &mut dyn LineObserver,
    started: Instant,
) -> Reading {
    let mut parser = StreamParser::new(spec.stream.clone());
    let mut lines = LineSplitter::new(spec.stream.max_line);
    let clock = Clock::new(&spec.stream);
    let mut timings = Timings::default();
    let mut cancel = Some(cancel);
    let mut watch = SilenceWatch::new(spec.silence, started);
    let deadline = started + spec.timeout;
    let mut end: Option<End> = None;
    // After a panic: when to stop QEMU if it has not exited by itself.
    let mut stop_at: Option<Instant> = None;
    let mut cancelled_at: Option<Instant> = None;
    let progress = spec.progress.clone();
    loop {
        let wake = match (cancelled_at, stop_at) {
            (Some(at), _) => at + AFTER_CANCEL,
            (None, Some(at)) => at,
            (None, None) => deadline.min(watch.deadline()),
        };
        let received =
            tokio::time::timeout_at(tokio::time::Instant::from_std(wake), receiver.recv()).await;
        let now = Instant::now();
        match received {
            Ok(Some(chunk)) => {
                watch.output(now);
                let at = now.saturating_duration_since(started);
                timings.first_output.get_or_insert(at);
                lines.push(&chunk, |line| {
                    clock.line(line.bytes, at, &mut timings);
                    observer.line(line.number, line.bytes, at);
                    if let Some(progress) = &progress {
                        // A slow display must not stall the machine: lines are dropped instead.
                        let _ = progress.try_send(line.bytes.to_vec());
                    }
                });
                if let Action::Stop(reason) = parser.feed(&chunk)
                    && end.is_none()
                {
                    end = Some(End::Stopped);
                    match reason {
                        StopReason::Done { .. } => {
                            stop(&mut cancel, &mut cancelled_at, now);
                        }
                        StopReason::Fatal { .. } | StopReason::Report { .. } => {
                            stop_at = Some(now + spec.report_grace);
                        }
                    }
                }
            }
            // The output ended: QEMU is gone.
            Ok(None) => break,
            Err(_) if cancelled_at.is_some() => {
                tracing::warn!("qemu: the console did not close after QEMU was stopped");
                break;
            }
            Err(_) => {
                if stop_at.is_none() && end.is_none() {
                    end = Some(if now >= deadline {
                        End::Timeout
                    } else {
                        End::Silence
                    });
                    tracing::info!(
                        end = ?end,
                        after = ?now.saturating_duration_since(started),
                        "qemu: stopping the machine"
                    );
                }
                stop(&mut cancel, &mut cancelled_at, now);
            }
        }
    }
    let at = started.elapsed();
    lines.finish(|line| {
        clock.line(line.bytes, at, &mut timings);
        observer.line(line.number, line.bytes, at);
    });
    Reading {
        parser,
        end,
        timings,
    }
}

fn stop(
    cancel: &mut Option<oneshot::Sender<()>>,
    cancelled_at: &mut Option<Instant>,
    now: Instant,
) {
    if let Some(cancel) = cancel.take() {
        let _ = cancel.send(());
        *cancelled_at = Some(now);
    }
}

fn check_file(path: &Path, what: &'static str) -> Result<(), QemuError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() > 0 => Ok(()),
        Ok(meta) if meta.is_file() => Err(QemuError::ImageMissing {
            what,
            path: path.to_path_buf(),
            why: "it is empty".to_owned(),
        }),
        Ok(_) => Err(QemuError::ImageMissing {
            what,
            path: path.to_path_buf(),
            why: "it is not a file".to_owned(),
        }),
        Err(e) => Err(QemuError::ImageMissing {
            what,
            path: path.to_path_buf(),
            why: e.to_string(),
        }),
    }
}

/// The start of the log, for an error message: what QEMU said when it refused.
fn log_excerpt(log: &Path) -> String {
    use std::io::Read;
    let mut head = Vec::new();
    if let Ok(file) = std::fs::File::open(log) {
        let _ = file.take(2048).read_to_end(&mut head);
    }
    let text = String::from_utf8_lossy(&head);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(8)
        .collect();
    if lines.is_empty() {
        "(it printed nothing)".to_owned()
    } else {
        lines.join(" | ")
    }
}

/// The first `program` in the sandbox's `PATH` (`/usr/local/bin:/usr/bin:/bin`, the host's
/// system directories): what a sandboxed command will find.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    gauntlet_sandbox::DEFAULT_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

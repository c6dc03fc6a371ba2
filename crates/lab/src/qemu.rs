//! The QEMU backend: boot the built kernel with an initramfs gauntlet makes itself, run the
//! project's tests in it, read the serial console as it streams.
//!
//! # Modules
//!
//! | module | responsibility |
//! |---|---|
//! | `machine` | [`Machine`] per guest architecture (emulator, board, console, power off), [`CommandLine`] |
//! | `busybox` | [`BusyboxSearch`]: the guest's static busybox, checked by its ELF header |
//! | [`guest`] | the initramfs ([`guest::GuestImage`]) and its `/init`: the protocol on the console |
//! | `prepare` | `tests.prepare` on the host, in the sandbox, with the guest's toolchain |
//! | `kvm` | whether KVM really works ([`AccelDecision`]), probed once and cached |
//! | `boot` | one boot in the sandbox, read live, stopped deterministically ([`BootSpec`], [`BootOutcome`]) |
//! | `suites` | the console's results handed to the suites, and their statuses |
//!
//! # One run ([`QemuLab::run`])
//!
//! 1. Infrastructure checks: a machine for the build's architecture, its QEMU installed, the
//!    kernel image there, a busybox for the guest. Any of these missing is an [`Error`] that says
//!    what to install or run: ERROR, never FAIL.
//! 2. The tests' directory is copied; each test becomes one or more suites (a LAVA definition:
//!    one; an LKP job file: one per atomic job, compiled by job2sh). A definition that is not
//!    valid shell, a job that does not load or expand: that suite is ERROR (the test files are
//!    at fault, not the patch), decided without booting.
//! 3. `tests.prepare` runs in the copy, once per distinct command; its failure is the FAIL of
//!    the suites that need it (with the log's end as a result), a missing compiler their ERROR.
//! 4. The image is packed (a deterministic cpio, uncompressed unless
//!    [`QemuSettings::gzip_level`] says otherwise: a few milliseconds), KVM or TCG is chosen,
//!    and the machine boots; every suite runs one after the other in it.
//! 5. The console's results are attributed ([`suites`](self) module docs): one [`SuiteRun`]
//!    for the boot, then one per suite.
//!
//! Invariants: the guest has no network (`-nic none`, and QEMU itself runs in the sandbox
//! without one), QEMU may write only its work directory, every boot has a deadline, a silence
//! limit and an output limit, and QEMU is always stopped before `run` returns.

mod boot;
mod busybox;
pub mod guest;
mod kvm;
mod machine;
mod prepare;
mod suites;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gauntlet_job::{ExpandOptions, JobFile, LoadOptions, ProgramTree};
use gauntlet_project::{Arch, Build, Project, Test, TestDefinition, TestSuite};
use gauntlet_results::{Counts, Excerpt, LavaPattern, Origin, StreamConfig, TestPath, TestResult};
use gauntlet_sandbox::Sandbox;
use gauntlet_verdict::Status;
use serde::Serialize;
use tokio::sync::mpsc;

pub use boot::{BootOutcome, BootSpec, LineObserver, NoObserver, Timings};
pub use busybox::{BusyboxSearch, ElfKind, FileKind};
pub use kvm::AccelDecision;
pub use machine::{Accel, CommandLine, MACHINES, Machine, PowerOff, machine_for, pseries_nvram};

use guest::{GuestImage, GuestSuite};
use suites::{Planned, Tracker};

use crate::host::sanitize;
use crate::{SuiteRun, io, tree_copy};

/// Why the QEMU lab cannot boot (never the patch's fault).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the QEMU lab has no machine for {arch} (it boots {known})")]
    NoMachine { arch: String, known: String },
    #[error("build {build}: `{arch}` is not a kernel architecture the QEMU lab can boot")]
    NoArch { build: String, arch: String },
    #[error(
        "{program} is not installed: the QEMU lab cannot boot {arch} kernels (Debian package `{package}`)"
    )]
    QemuMissing {
        program: String,
        package: String,
        arch: String,
    },
    #[error("{what} {path} cannot be booted: {why}")]
    ImageMissing {
        what: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("guest busybox for {arch}: {message}")]
    Busybox { arch: String, message: String },
    #[error("{program} failed ({status}){}: {message}", if *kernel_started { " after the kernel started" } else { " before the kernel started: QEMU refused its arguments or the image" })]
    QemuFailed {
        program: String,
        status: String,
        kernel_started: bool,
        message: String,
    },
}

/// gauntlet's name of the host's architecture, when it is one the lab knows.
pub(crate) fn host_arch_name() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("x86_64"),
        "aarch64" => Some("arm64"),
        "powerpc64" if cfg!(target_endian = "little") => Some("powerpc64le"),
        "powerpc64" => Some("powerpc64"),
        _ => None,
    }
}

/// KVM or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccelChoice {
    /// KVM when the probe shows it works, else TCG.
    #[default]
    Auto,
    Tcg,
    /// KVM without a probe (it fails loudly if it does not work).
    Kvm,
}

/// The lab's settings.
#[derive(Debug, Clone)]
pub struct QemuSettings {
    pub busybox: BusyboxSearch,
    pub accel: AccelChoice,
    /// Guest memory (more when the image is large).
    pub memory_mb: u32,
    pub cpus: u32,
    /// No console output for this long: the machine is hung (suites print a heartbeat, so a
    /// silent test is not mistaken for a hang).
    pub silence: Duration,
    /// Time given to the boot itself, on top of the suites' timeouts.
    pub boot_time: Duration,
    pub heartbeat: Duration,
    /// Words added to the kernel's command line.
    pub cmdline_extra: Vec<String>,
    pub kvm_probe_timeout: Duration,
    /// gzip the initramfs at this level; `None` (the default) leaves it uncompressed: under TCG
    /// the guest's inflate costs more than QEMU's loading of the larger file (measured on the
    /// x86_64 tinyconfig kernel with a 2 MB image: 1.31 s to the done marker uncompressed,
    /// 1.40 s stored gzip, 1.49 s gzip -1), the image is made three times faster, and the kernel
    /// needs no `RD_GZIP`.
    pub gzip_level: Option<u8>,
    /// A kernel WARNING fails (as the results crate's default).
    pub warnings_fail: bool,
    /// Console bytes after which QEMU is killed as flooding (`None`: four times the project's
    /// log size, at least 64 MiB).
    pub output_kill: Option<u64>,
}

impl Default for QemuSettings {
    fn default() -> Self {
        QemuSettings {
            busybox: BusyboxSearch {
                host: Some(PathBuf::from("/bin/busybox")),
                ..BusyboxSearch::default()
            },
            accel: AccelChoice::Auto,
            memory_mb: 256,
            cpus: 1,
            silence: Duration::from_secs(60),
            boot_time: Duration::from_secs(120),
            heartbeat: Duration::from_secs(10),
            cmdline_extra: Vec::new(),
            kvm_probe_timeout: Duration::from_secs(15),
            gzip_level: None,
            warnings_fail: true,
            output_kill: None,
        }
    }
}

impl QemuSettings {
    /// The defaults, with busybox found as the environment says (`GAUNTLET_BUSYBOX`,
    /// `GAUNTLET_BUSYBOX_DIR`, `GAUNTLET_CACHE`, `HOME`), read through `lookup` (the binary
    /// passes `std::env::var_os`).
    pub fn from_env(lookup: impl Fn(&str) -> Option<OsString>) -> QemuSettings {
        QemuSettings {
            busybox: BusyboxSearch::from_env(lookup),
            ..QemuSettings::default()
        }
    }
}

/// What the test stage gives the lab for one build.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub project: &'a Project,
    pub build: &'a Build,
    /// The built kernel image (`bzImage`, `Image`, `vmlinux`).
    pub kernel: &'a Path,
    /// The working copy, built (visible read-only to `tests.prepare`).
    pub source: &'a Path,
    /// Scratch space for this build's tests (emptied first).
    pub work_dir: &'a Path,
    pub log_dir: &'a Path,
    /// Every line of console (and prepare) output, as it comes, for a progress display.
    pub progress: Option<mpsc::Sender<Vec<u8>>>,
}

/// A run's suites, and how the machine ran (for the job's details).
#[derive(Debug, Clone, Serialize)]
pub struct QemuRun {
    pub suites: Vec<SuiteRun>,
    pub details: Details,
}

/// How a run went on the machine's side.
#[derive(Debug, Clone, Serialize)]
pub struct Details {
    pub arch: String,
    pub accel: AccelDecision,
    pub command: Vec<String>,
    pub initramfs: PathBuf,
    pub initramfs_bytes: u64,
    pub initramfs_entries: usize,
    pub initramfs_ms: f64,
    pub timings: Timings,
    pub end: gauntlet_results::End,
    pub termination: String,
    /// The console's own verdict (the done marker's `rc` counts the suites that failed).
    pub console_status: Status,
    pub console_reason: String,
    pub log: PathBuf,
}

/// Runs tests in QEMU.
#[derive(Debug)]
pub struct QemuLab {
    sandbox: Sandbox,
    cache_dir: PathBuf,
    settings: QemuSettings,
    decisions: Mutex<HashMap<&'static str, AccelDecision>>,
}

/// The image [`QemuLab::lava_image`] made.
#[derive(Debug, Clone)]
pub struct LavaImage {
    pub path: PathBuf,
    /// Suites decided on the host (not in the image), in the project's order.
    pub decided: Vec<SuiteRun>,
}

/// A run's image, written, and what the boot needs to know of it.
struct Staged {
    arch: &'static Arch,
    machine: &'static Machine,
    image_path: PathBuf,
    image_bytes: u64,
    entries: usize,
    image_ms: f64,
    data_mb: u32,
    planned: Vec<Planned>,
    patterns: Vec<Option<LavaPattern>>,
    suites_time: Duration,
}

/// Atomic jobs one LKP job file may expand to.
const MAX_JOBS: usize = 64;

impl QemuLab {
    /// A lab using `sandbox`, keeping what it learns about the machine (the KVM probe) under
    /// `cache_dir`.
    pub fn new(
        sandbox: Sandbox,
        cache_dir: &Path,
        settings: QemuSettings,
    ) -> Result<QemuLab, crate::Error> {
        std::fs::create_dir_all(cache_dir)
            .map_err(io(format!("creating {}", cache_dir.display())))?;
        Ok(QemuLab {
            sandbox,
            cache_dir: cache_dir.to_path_buf(),
            settings,
            decisions: Mutex::new(HashMap::new()),
        })
    }

    pub fn settings(&self) -> &QemuSettings {
        &self.settings
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// KVM or TCG for `kernel` on `machine` (the probe runs once per machine and architecture;
    /// its answer is cached on disk), logged.
    pub async fn accel_for(&self, machine: &'static Machine, kernel: &Path) -> AccelDecision {
        let decision = match self.settings.accel {
            AccelChoice::Tcg => AccelDecision::tcg("TCG: chosen in the settings"),
            AccelChoice::Kvm => AccelDecision {
                accel: Accel::Kvm.as_str().to_owned(),
                reason: "KVM: chosen in the settings".to_owned(),
                cached: false,
            },
            AccelChoice::Auto => {
                let known = self
                    .decisions
                    .lock()
                    .ok()
                    .and_then(|d| d.get(machine.arch).cloned());
                match known {
                    Some(d) => d,
                    None => {
                        let d = kvm::decide(
                            &self.sandbox,
                            machine,
                            kernel,
                            &self.cache_dir,
                            self.settings.kvm_probe_timeout,
                        )
                        .await;
                        if let Ok(mut decisions) = self.decisions.lock() {
                            decisions.insert(machine.arch, d.clone());
                        }
                        d
                    }
                }
            }
        };
        tracing::info!(
            arch = machine.arch,
            accel = %decision.accel,
            reason = %decision.reason,
            cached = decision.cached,
            "qemu: accelerator"
        );
        decision
    }

    /// Boots `spec` (the lower level: the LAVA backend and the benchmarks use it).
    pub async fn boot(&self, spec: &BootSpec<'_>) -> Result<BootOutcome, crate::Error> {
        boot::boot(&self.sandbox, spec, &mut NoObserver).await
    }

    /// Boots `spec`; `observer` sees every console line as it arrives.
    pub async fn boot_observed(
        &self,
        spec: &BootSpec<'_>,
        observer: &mut dyn LineObserver,
    ) -> Result<BootOutcome, crate::Error> {
        boot::boot(&self.sandbox, spec, observer).await
    }

    /// Runs every test of the project against `request.build`'s kernel.
    pub async fn run(&self, request: &Request<'_>) -> Result<Vec<SuiteRun>, crate::Error> {
        Ok(self.run_detailed(request).await?.suites)
    }

    /// The image a LAVA lab boots for `request`: the same `/init`, suites and files as the QEMU
    /// backend's (`tests.prepare` run first), with the monitors' markers around each suite; and
    /// the suites decided without booting (a prepare that failed…), which the LAVA job does not
    /// run.
    pub async fn lava_image(&self, request: &Request<'_>) -> Result<LavaImage, crate::Error> {
        let staged = self.stage(request, true, false).await?;
        Ok(LavaImage {
            path: staged.image_path,
            decided: staged
                .planned
                .iter()
                .filter_map(|p| p.decided.clone())
                .collect(),
        })
    }

    /// Checks what a boot needs, runs `tests.prepare`, and writes the image.
    async fn stage(
        &self,
        request: &Request<'_>,
        monitors: bool,
        need_qemu: bool,
    ) -> Result<Staged, crate::Error> {
        let build = request.build;
        let arch = build.arch.ok_or_else(|| Error::NoArch {
            build: build.name.clone(),
            arch: build.arch_name.clone(),
        })?;
        let machine = machine_for(arch)?;
        if need_qemu && boot::which(machine.program).is_none() {
            return Err(Error::QemuMissing {
                program: machine.program.to_owned(),
                package: machine.package.to_owned(),
                arch: arch.name.to_owned(),
            }
            .into());
        }
        if !request.kernel.is_file() {
            return Err(Error::ImageMissing {
                what: "the kernel image",
                path: request.kernel.to_path_buf(),
                why: "it does not exist (did the build produce it?)".to_owned(),
            }
            .into());
        }
        let busybox = self.settings.busybox.find(machine)?;

        let _ = std::fs::remove_dir_all(request.work_dir);
        std::fs::create_dir_all(request.work_dir)
            .map_err(io(format!("creating {}", request.work_dir.display())))?;
        std::fs::create_dir_all(request.log_dir)
            .map_err(io(format!("creating {}", request.log_dir.display())))?;
        let repo = request.work_dir.join("repo");
        tree_copy::copy(request.project.dir(), &repo)?;

        let mut plans = self.plan(request, arch);
        self.prepare_all(request, arch, &repo, &mut plans).await?;

        // The guest's suites, in order.
        let mut guest_suites = Vec::new();
        let mut patterns = Vec::new();
        let mut planned = Vec::with_capacity(plans.len());
        let mut lkp = false;
        let mut suites_time = Duration::ZERO;
        for plan in plans {
            let mut p = plan.planned;
            if p.decided.is_none()
                && let Some(suite) = plan.guest
            {
                p.guest = Some(guest_suites.len());
                lkp |= plan.lkp;
                suites_time += p.timeout + Duration::from_secs(10);
                guest_suites.push(suite);
                patterns.push(plan.pattern);
            }
            planned.push(p);
        }

        let image_path = request.work_dir.join(match self.settings.gzip_level {
            Some(_) => "initramfs.cpio.gz",
            None => "initramfs.cpio",
        });
        let image_started = Instant::now();
        let image = GuestImage {
            busybox: &busybox,
            repo: Some(&repo),
            suites: &guest_suites,
            lkp,
            power_off: machine.power_off,
            heartbeat_secs: self.settings.heartbeat.as_secs().max(1),
            monitors,
            env: vec![
                ("GAUNTLET_ARCH".to_owned(), arch.name.to_owned()),
                ("GAUNTLET_BUILD".to_owned(), build.name.clone()),
            ],
        }
        .build();
        let entries = image.len();
        let data_mb = u32::try_from(image.data_bytes() >> 20).unwrap_or(u32::MAX);
        let bytes = match self.settings.gzip_level {
            Some(level) => image.to_gz(level)?,
            None => image.to_cpio()?,
        };
        std::fs::write(&image_path, &bytes)
            .map_err(io(format!("writing {}", image_path.display())))?;
        let image_ms = image_started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            bytes = bytes.len(),
            entries,
            ms = image_ms,
            "qemu: initramfs written"
        );

        Ok(Staged {
            arch,
            machine,
            image_path,
            image_bytes: bytes.len() as u64,
            entries,
            image_ms,
            data_mb,
            planned,
            patterns,
            suites_time,
        })
    }

    /// [`QemuLab::run`], with how the machine ran.
    pub async fn run_detailed(&self, request: &Request<'_>) -> Result<QemuRun, crate::Error> {
        let build = request.build;
        let Staged {
            arch,
            machine,
            image_path,
            image_bytes,
            entries,
            image_ms,
            data_mb,
            planned,
            patterns,
            suites_time,
        } = self.stage(request, false, true).await?;
        let decision = self.accel_for(machine, request.kernel).await;
        let log = request
            .log_dir
            .join(format!("{}-console.log", sanitize(&build.name)));
        let mut stream = StreamConfig::kernel_console();
        stream.console.warnings_fail = self.settings.warnings_fail;
        stream.lava.default_suite = "boot".to_owned();
        stream.log_head = 64 << 10;
        stream.log_tail = 256 << 10;
        let limits = &request.project.limits;
        let timeout =
            (self.settings.boot_time + suites_time).min(self.settings.boot_time + limits.test_time);
        let mut cmdline = self.settings.cmdline_extra.clone();
        cmdline.extend(guest::kernel_args());
        let qemu_dir = request.work_dir.join("qemu");
        let spec = BootSpec {
            accel: decision.accel(),
            memory_mb: self.settings.memory_mb.max(128 + 3 * data_mb),
            cpus: self.settings.cpus,
            cmdline_extra: cmdline,
            timeout,
            silence: self.settings.silence,
            stream,
            log_size: limits.log_size,
            output_kill: Some(
                self.settings
                    .output_kill
                    .unwrap_or_else(|| limits.log_size.saturating_mul(4).max(64 << 20)),
            ),
            progress: request.progress.clone(),
            ..BootSpec::new(machine, request.kernel, &image_path, &qemu_dir, &log)
        };
        let mut tracker = Tracker::new(patterns);
        let outcome = boot::boot(&self.sandbox, &spec, &mut tracker).await?;
        tracing::info!(
            status = %outcome.status(),
            reason = %outcome.reason(),
            total = ?outcome.timings.total,
            "qemu: boot ended"
        );
        let suites = suites::attribute(
            &planned,
            suites::Boot {
                outcome: &outcome,
                tracker,
                kernel: request.kernel,
                warnings_fail: self.settings.warnings_fail,
            },
        );
        let details = Details {
            arch: arch.name.to_owned(),
            accel: decision,
            command: outcome.command.clone(),
            initramfs: image_path,
            initramfs_bytes: image_bytes,
            initramfs_entries: entries,
            initramfs_ms: image_ms,
            timings: outcome.timings,
            end: outcome.end,
            termination: outcome.termination.clone(),
            console_status: outcome.status(),
            console_reason: outcome.reason(),
            log: outcome.log.clone(),
        };
        if let Ok(json) = serde_json::to_string_pretty(&details) {
            let path = request
                .log_dir
                .join(format!("{}-qemu.json", sanitize(&build.name)));
            let _ = std::fs::write(path, json);
        }
        Ok(QemuRun { suites, details })
    }

    /// Every test as suites: what runs in the guest, or what was decided already.
    fn plan(&self, request: &Request<'_>, arch: &'static Arch) -> Vec<Plan> {
        let mut plans = Vec::new();
        for (t, test) in request.project.tests.iter().enumerate() {
            match &test.suite {
                TestSuite::Lava(definition) => {
                    plans.push(plan_definition(plans.len(), t, test, definition))
                }
                TestSuite::LkpJob => plan_job(&mut plans, t, test, arch),
            }
        }
        plans
    }

    /// Runs each distinct `tests.prepare` once, in the order of the tests; decides the suites
    /// of a prepare that did not pass.
    async fn prepare_all(
        &self,
        request: &Request<'_>,
        arch: &'static Arch,
        repo: &Path,
        plans: &mut [Plan],
    ) -> Result<(), crate::Error> {
        let mut done: Vec<(String, prepare::Prepared)> = Vec::new();
        for (t, test) in request.project.tests.iter().enumerate() {
            let Some(command) = &test.prepare else {
                continue;
            };
            if !plans
                .iter()
                .any(|p| p.test == t && p.planned.decided.is_none())
            {
                continue;
            }
            let prepared = match done.iter().find(|(c, _)| c == command) {
                Some((_, prepared)) => prepared.clone(),
                None => {
                    let log = request.log_dir.join(format!(
                        "{}-prepare-{}.log",
                        sanitize(&request.build.name),
                        done.len() + 1
                    ));
                    let prepared = prepare::run(
                        &self.sandbox,
                        prepare::Prepare {
                            command,
                            arch,
                            build: &request.build.name,
                            repo,
                            source: request.source,
                            log,
                            timeout: test.timeout,
                            memory: request.project.limits.memory,
                            log_size: request.project.limits.log_size,
                            progress: request.progress.clone(),
                        },
                    )
                    .await?;
                    tracing::info!(status = %prepared.status, reason = %prepared.reason, "qemu: tests.prepare");
                    done.push((command.clone(), prepared.clone()));
                    prepared
                }
            };
            if prepared.status == Status::Pass {
                continue;
            }
            for plan in plans
                .iter_mut()
                .filter(|p| p.test == t && p.planned.decided.is_none())
            {
                let p = &plan.planned;
                let result = TestResult {
                    path: TestPath::new(p.run_name.clone(), None, "prepare".to_owned()),
                    status: prepared.status,
                    measurement: None,
                    reason: Some(prepared.reason.clone()),
                    excerpt: Some(Excerpt {
                        first_line: 0,
                        last_line: 0,
                        text: prepare::tail(&prepared.log, 4096),
                        dropped_bytes: 0,
                    }),
                    origin: Origin::LavaJob,
                };
                plan.planned.decided = Some(SuiteRun {
                    suite: p.name.clone(),
                    test_file: p.test_file.clone(),
                    status: prepared.status,
                    reason: prepared.reason.clone(),
                    counts: Counts::of([prepared.status]),
                    results: vec![result],
                    log: prepared.log.clone(),
                    duration_ms: prepared.duration_ms,
                });
            }
        }
        Ok(())
    }
}

/// One suite being planned.
struct Plan {
    planned: Planned,
    /// Index of its test in the project.
    test: usize,
    guest: Option<GuestSuite>,
    pattern: Option<LavaPattern>,
    lkp: bool,
}

fn decided(test: &Test, name: &str, status: Status, reason: String) -> SuiteRun {
    SuiteRun {
        suite: name.to_owned(),
        test_file: test.path.clone(),
        status,
        reason,
        results: Vec::new(),
        counts: Counts::default(),
        log: PathBuf::new(),
        duration_ms: 0,
    }
}

fn plan_definition(index: usize, t: usize, test: &Test, definition: &TestDefinition) -> Plan {
    let name = definition.name.clone();
    let run_name = guest::run_name(index, &name);
    let mut planned = Planned {
        name: name.clone(),
        run_name: run_name.clone(),
        test_file: test.path.clone(),
        timeout: test.timeout,
        decided: None,
        guest: None,
    };
    let mut pattern = None;
    if let Err(e) = gauntlet_project::check_syntax(definition) {
        planned.decided = Some(decided(test, &name, Status::Error, e.to_string()));
    } else if let Some(parse) = &definition.parse {
        match LavaPattern::new(
            &parse.pattern,
            parse.fixupdict.iter().map(|(k, v)| (k.clone(), v.clone())),
        ) {
            Ok(p) => pattern = Some(p),
            Err(e) => {
                planned.decided = Some(decided(
                    test,
                    &name,
                    Status::Error,
                    format!("{}: parse.pattern: {e}", definition.file.display()),
                ));
            }
        }
    }
    let guest = GuestSuite {
        run_name,
        timeout_secs: test.timeout.as_secs().max(1),
        script: definition.script(&test.params),
        files: Vec::new(),
    };
    Plan {
        planned,
        test: t,
        guest: Some(guest),
        pattern,
        lkp: false,
    }
}

/// LKP's name of a gauntlet architecture (its `arch` key, its `hosts/vm-<arch>` files).
fn lkp_arch(arch: &Arch) -> &'static str {
    match arch.name {
        "arm64" => "aarch64",
        "powerpc64le" => "ppc64le",
        other => other,
    }
}

fn plan_job(plans: &mut Vec<Plan>, t: usize, test: &Test, arch: &'static Arch) {
    let stem = test
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "job".to_owned());
    let fail = |plans: &mut Vec<Plan>, message: String| {
        let index = plans.len();
        plans.push(Plan {
            planned: Planned {
                name: stem.clone(),
                run_name: guest::run_name(index, &stem),
                test_file: test.path.clone(),
                timeout: test.timeout,
                decided: Some(decided(
                    test,
                    &stem,
                    Status::Error,
                    format!("LKP job {}: {message}", test.path.display()),
                )),
                guest: None,
            },
            test: t,
            guest: None,
            pattern: None,
            lkp: true,
        });
    };
    let file = match JobFile::load(&test.path, &LoadOptions::default()) {
        Ok(file) => file,
        Err(e) => return fail(plans, e.to_string()),
    };
    let tree = ProgramTree::builtin();
    let options = ExpandOptions {
        arch: Some(lkp_arch(arch).to_owned()),
        ..ExpandOptions::default()
    };
    let mut count = 0;
    for job in file.expand(&options) {
        count += 1;
        if count > MAX_JOBS {
            return fail(
                plans,
                format!("it expands to more than {MAX_JOBS} atomic jobs: split it"),
            );
        }
        let (job, shell) = match job.and_then(|j| j.to_shell(&tree).map(|s| (j, s))) {
            Ok(pair) => pair,
            Err(e) => return fail(plans, e.to_string()),
        };
        let name = job
            .file_name()
            .strip_suffix(".yaml")
            .unwrap_or(job.file_name())
            .to_owned();
        let index = plans.len();
        let run_name = guest::run_name(index, &name);
        plans.push(Plan {
            planned: Planned {
                name,
                run_name: run_name.clone(),
                test_file: test.path.clone(),
                timeout: test.timeout,
                decided: None,
                guest: None,
            },
            test: t,
            guest: Some(GuestSuite {
                run_name,
                timeout_secs: test.timeout.as_secs().max(1),
                script: LKP_RUNNER.replace("@INDEX@", &index.to_string()),
                files: vec![("job.sh".to_owned(), shell.into_bytes())],
            }),
            pattern: None,
            lkp: true,
        });
    }
    if count == 0 {
        fail(plans, "it expands to no atomic job".to_owned());
    }
}

/// An LKP job in the guest: `run-local` of gauntlet's program tree, then each test program's
/// output printed (KTAP in it is read as such) and its exit status as a LAVA test case.
const LKP_RUNNER: &str = r#"#!/bin/sh
# An LKP job (job.sh beside this file, made by job2sh) run by gauntlet's program tree.
export LKP_SRC=/gauntlet/lkp TMP=/tmp/lkp-@INDEX@ RESULT_ROOT=/tmp/lkp-@INDEX@/result
sh "$LKP_SRC/bin/run-local" "${0%/*}/job.sh"
status=$?
for t in "$RESULT_ROOT"/*.time; do
    [ -f "$t" ] || continue
    name=${t##*/}
    name=${name%.time}
    [ -f "$RESULT_ROOT/$name" ] && cat "$RESULT_ROOT/$name"
    case_name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.-' '_')
    if grep -qx 'exit_status: 0' "$t"; then result=pass; else result=fail; fi
    lava-test-case "$case_name" --result "$result"
done
exit $status
"#;

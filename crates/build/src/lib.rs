//! Building a patched tree, in the sandbox.
//!
//! Two recipes (`gauntlet_project::Recipe`):
//! * **kbuild**, the kernel's: `make O=<dir> ARCH=… CROSS_COMPILE=…` with the architecture's
//!   defconfig (or the project's base config), the build's configuration fragments merged by the
//!   tree's own `scripts/kconfig/merge_config.sh`, `make olddefconfig`, then the image target.
//!   The `O=` directory is kept between builds (one per working copy, build and configuration),
//!   so a one-file patch rebuilds one file; the configuration steps are skipped when nothing
//!   they read changed; `ccache` is used when it is installed. The source tree is read-only to
//!   the build: only the `O=` directory (and ccache's) is writable.
//! * **command**, for projects that are not kernels: a shell command in the working copy, which
//!   is then writable.
//!
//! A build that fails (a compiler error, a link error, a missing artifact, a limit reached) is
//! the patch's failure, an [`Outcome`] with status FAIL; a build that cannot run (no cross
//! compiler, the sandbox broken) is an [`Error`]: the pipeline reports ERROR, never FAIL.

pub mod diagnostics;
mod kconfig;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gauntlet_project::{Arch, BaseConfig, Build, Limits, Recipe};
use gauntlet_sandbox::{Sandbox, Termination};
use gauntlet_verdict::{Severity, Status};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub use diagnostics::{Diagnostic, new_warnings};

/// Why a build could not be run (never the patch's fault).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the cross compiler `{compiler}` for {arch} is not installed (Debian package `{package}`)"
    )]
    Toolchain {
        arch: String,
        compiler: String,
        package: String,
    },
    #[error("build {build}: the kbuild recipe needs a known architecture, not `{arch}`")]
    NoArch { build: String, arch: String },
    #[error("sandbox: {0}")]
    Sandbox(#[from] gauntlet_sandbox::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("git ls-files in {dir}: {message}")]
    Git { dir: String, message: String },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// One build to make.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub recipe: &'a Recipe,
    pub build: &'a Build,
    /// The working copy with the series applied.
    pub source: &'a Path,
    /// The kept `O=` directory (kbuild); created when missing.
    pub build_dir: &'a Path,
    /// Where the step logs go.
    pub log_dir: &'a Path,
    /// `make -j`.
    pub jobs: usize,
    pub limits: &'a Limits,
}

/// A step of a build (configure, merge fragments, make).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    /// The command, for the log and the report.
    pub command: String,
    pub status: Status,
    /// How it ended (`exit code 2`, `timed out`).
    pub ended: String,
    pub duration_ms: u128,
    pub log: PathBuf,
    pub log_capped: bool,
}

/// How a build went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// PASS, or FAIL (the patch's fault).
    pub status: Status,
    /// One line.
    pub reason: String,
    pub steps: Vec<Step>,
    /// What the compiler, linker and make said.
    pub diagnostics: Vec<Diagnostic>,
    /// The image (kbuild) or the working copy (command) the tests use.
    pub artifact: Option<PathBuf>,
    /// The configuration was kept from the previous build (nothing it depends on changed).
    pub config_reused: bool,
    pub duration_ms: u128,
}

impl Outcome {
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// The log of the step that failed, or of the last step.
    pub fn main_log(&self) -> Option<&Path> {
        self.steps
            .iter()
            .find(|s| s.status == Status::Fail)
            .or(self.steps.last())
            .map(|s| s.log.as_path())
    }
}

/// Runs builds in a sandbox.
#[derive(Debug, Clone)]
pub struct Builder {
    sandbox: Sandbox,
    /// `ccache` and its directory, when the host has it.
    ccache: Option<PathBuf>,
    /// Lines of output, as they come, for a progress display.
    progress: Option<mpsc::Sender<Vec<u8>>>,
}

impl Builder {
    /// A builder using `sandbox`; `ccache_dir` enables ccache (when installed) with that cache.
    pub fn new(sandbox: Sandbox, ccache_dir: Option<PathBuf>) -> Builder {
        let ccache = ccache_dir.filter(|_| which("ccache").is_some());
        Builder {
            sandbox,
            ccache,
            progress: None,
        }
    }

    /// Sends every line of build output to `sender` as well.
    pub fn with_progress(mut self, sender: mpsc::Sender<Vec<u8>>) -> Builder {
        self.progress = Some(sender);
        self
    }

    pub fn uses_ccache(&self) -> bool {
        self.ccache.is_some()
    }

    /// Builds `request`.
    pub async fn build(&self, request: &Request<'_>) -> Result<Outcome, Error> {
        std::fs::create_dir_all(request.log_dir)
            .map_err(io(format!("creating {}", request.log_dir.display())))?;
        match request.recipe {
            Recipe::Kbuild {
                base_config,
                image,
                make_args,
            } => {
                let arch = request.build.arch.ok_or_else(|| Error::NoArch {
                    build: request.build.name.clone(),
                    arch: request.build.arch_name.clone(),
                })?;
                let base = request.build.base_config.as_ref().or(base_config.as_ref());
                self.kbuild(request, arch, base, image.as_deref(), make_args)
                    .await
            }
            Recipe::Command {
                command,
                artifacts,
                env,
            } => self.command(request, command, artifacts, env).await,
        }
    }

    async fn kbuild(
        &self,
        request: &Request<'_>,
        arch: &'static Arch,
        base: Option<&BaseConfig>,
        image: Option<&str>,
        make_args: &[String],
    ) -> Result<Outcome, Error> {
        let started = Instant::now();
        let cross = arch.cross_compile(std::env::consts::ARCH);
        let compiler = format!("{}gcc", cross.as_deref().unwrap_or(""));
        if which(&compiler).is_none() {
            return Err(Error::Toolchain {
                arch: arch.name.into(),
                compiler,
                package: arch.cross_gcc_package.into(),
            });
        }
        std::fs::create_dir_all(request.build_dir)
            .map_err(io(format!("creating {}", request.build_dir.display())))?;
        let build_dir = request
            .build_dir
            .canonicalize()
            .map_err(io(format!("resolving {}", request.build_dir.display())))?;
        let source = request
            .source
            .canonicalize()
            .map_err(io(format!("resolving {}", request.source.display())))?;

        let mut make: Vec<String> = vec![
            "make".into(),
            "-C".into(),
            source.display().to_string(),
            format!("O={}", build_dir.display()),
            format!("ARCH={}", arch.kernel_arch),
        ];
        if let Some(cross) = &cross {
            make.push(format!("CROSS_COMPILE={cross}"));
        }
        let mut steps = Vec::new();
        let mut diagnostics = Vec::new();

        let key = kconfig::key(&source, arch, base, &request.build.config)?;
        let key_file = build_dir.join(".gauntlet-config-key");
        let config_reused = build_dir.join(".config").is_file()
            && std::fs::read_to_string(&key_file).is_ok_and(|k| k == key);
        if !config_reused {
            let _ = std::fs::remove_file(&key_file);
            let mut configure = make.clone();
            match base {
                Some(BaseConfig::File(file)) => {
                    std::fs::copy(file, build_dir.join(".config"))
                        .map_err(io(format!("copying {}", file.display())))?;
                    configure.push("olddefconfig".into());
                }
                Some(BaseConfig::Target(target)) => configure.push(target.clone()),
                None => configure.push(arch.defconfig.into()),
            }
            let step = self
                .step(request, &source, &build_dir, "configure", &configure, &[])
                .await?;
            let ok = step.0.status == Status::Pass;
            diagnostics.extend(step.1);
            steps.push(step.0);
            if ok && !request.build.config.is_empty() {
                let mut merge = vec![
                    "sh".into(),
                    source
                        .join("scripts/kconfig/merge_config.sh")
                        .display()
                        .to_string(),
                    "-m".into(),
                    "-O".into(),
                    build_dir.display().to_string(),
                    build_dir.join(".config").display().to_string(),
                ];
                merge.extend(request.build.config.iter().map(|f| f.display().to_string()));
                let env = kconfig::env(arch, cross.as_deref());
                let step = self
                    .step(
                        request,
                        &source,
                        &build_dir,
                        "merge fragments",
                        &merge,
                        &env,
                    )
                    .await?;
                let ok = step.0.status == Status::Pass;
                steps.push(step.0);
                if ok {
                    let mut olddefconfig = make.clone();
                    olddefconfig.push("olddefconfig".into());
                    let step = self
                        .step(
                            request,
                            &source,
                            &build_dir,
                            "olddefconfig",
                            &olddefconfig,
                            &[],
                        )
                        .await?;
                    diagnostics.extend(step.1);
                    steps.push(step.0);
                }
            }
            if steps.iter().all(|s| s.status == Status::Pass) {
                diagnostics.extend(kconfig::check_fragments(
                    &build_dir.join(".config"),
                    &request.build.config,
                ));
                std::fs::write(&key_file, &key)
                    .map_err(io(format!("writing {}", key_file.display())))?;
            }
        }

        if steps.iter().all(|s| s.status == Status::Pass) {
            let target = image.unwrap_or(arch.image_target);
            let mut build = make.clone();
            build.push(format!("-j{}", request.jobs.max(1)));
            if self.ccache.is_some() {
                build.push(format!("CC=ccache {compiler}"));
            }
            build.extend([
                "KBUILD_BUILD_USER=gauntlet".into(),
                "KBUILD_BUILD_HOST=gauntlet".into(),
                "KBUILD_BUILD_TIMESTAMP=1970-01-01".into(),
            ]);
            build.extend(make_args.iter().cloned());
            build.push(target.into());
            let step = self
                .step(request, &source, &build_dir, "make", &build, &[])
                .await?;
            diagnostics.extend(step.1);
            steps.push(step.0);
        }

        let image_path = build_dir.join(image_location(arch, image));
        let mut outcome = finish(steps, diagnostics, config_reused, started);
        if outcome.status == Status::Pass {
            if image_path.is_file() {
                outcome.artifact = Some(image_path);
            } else {
                outcome.status = Status::Fail;
                outcome.reason = format!(
                    "make succeeded but {} was not produced",
                    image_path.display()
                );
            }
        }
        Ok(outcome)
    }

    async fn command(
        &self,
        request: &Request<'_>,
        command: &str,
        artifacts: &[String],
        env: &indexmap::IndexMap<String, String>,
    ) -> Result<Outcome, Error> {
        let started = Instant::now();
        let source = request
            .source
            .canonicalize()
            .map_err(io(format!("resolving {}", request.source.display())))?;
        let mut vars: Vec<(String, String)> =
            env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        vars.push(("MAKEFLAGS".into(), format!("-j{}", request.jobs.max(1))));
        vars.push(("GAUNTLET_BUILD".into(), request.build.name.clone()));
        vars.push(("GAUNTLET_ARCH".into(), request.build.arch_name.clone()));
        let argv = vec!["sh".to_owned(), "-c".to_owned(), command.to_owned()];
        let (step, diagnostics) = self
            .step(request, &source, &source, "command", &argv, &vars)
            .await?;
        let mut outcome = finish(vec![step], diagnostics, false, started);
        if outcome.status == Status::Pass {
            let missing: Vec<&String> = artifacts
                .iter()
                .filter(|a| !source.join(a).exists())
                .collect();
            if missing.is_empty() {
                outcome.artifact = Some(source.clone());
            } else {
                outcome.status = Status::Fail;
                outcome.reason = format!(
                    "the build did not produce {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        Ok(outcome)
    }

    /// Runs one step in the sandbox: the source tree read-only unless it is also the writable
    /// directory, the build directory (and ccache's) writable.
    async fn step(
        &self,
        request: &Request<'_>,
        source: &Path,
        writable: &Path,
        name: &str,
        argv: &[String],
        env: &[(String, String)],
    ) -> Result<(Step, Vec<Diagnostic>), Error> {
        let log = request.log_dir.join(format!(
            "{}-{}.log",
            sanitize(&request.build.name),
            sanitize(name)
        ));
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::Io {
                context: format!("step {name}"),
                source: std::io::Error::other("empty command"),
            });
        };
        let mut command = self
            .sandbox
            .command(program)
            .args(args)
            .current_dir(writable)
            .writable(writable)
            .log(&log)
            // Compilers quote with ASCII in the C locale: logs parse the same everywhere.
            .env("LC_ALL", "C")
            .limits(gauntlet_sandbox::Limits {
                time: request.limits.build_time,
                memory: Some(request.limits.memory),
                log_size: request.limits.log_size,
                ..gauntlet_sandbox::Limits::default()
            });
        if source != writable {
            command = command.read_only(source);
        }
        for fragment in &request.build.config {
            command = command.read_only(fragment);
        }
        if let Some(dir) = &self.ccache {
            std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
            command = command
                .writable(dir)
                .env("CCACHE_DIR", dir)
                .env("CCACHE_BASEDIR", source)
                .env("CCACHE_NOHASHDIR", "1");
        }
        for (k, v) in env {
            command = command.env(k, v);
        }
        if let Some(progress) = &self.progress {
            command = command.stream_lines(progress.clone());
        }
        tracing::debug!(step = name, command = %argv.join(" "), "build step");
        let outcome = command.run().await?;
        let text = std::fs::read(&outcome.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let diagnostics = diagnostics::parse(&text, &[source, request.build_dir]);
        let status = if outcome.success() {
            Status::Pass
        } else {
            Status::Fail
        };
        let ended = match outcome.termination {
            Termination::TimedOut => format!(
                "cut at its time limit ({})",
                humanize(request.limits.build_time)
            ),
            Termination::OutputLimit => "cut at its output limit".to_owned(),
            Termination::OutOfMemory => "ran out of memory".to_owned(),
            other => other.to_string(),
        };
        Ok((
            Step {
                name: name.to_owned(),
                command: argv.join(" "),
                status,
                ended,
                duration_ms: outcome.wall_time.as_millis(),
                log: outcome.log.clone(),
                log_capped: outcome.output_capped(),
            },
            diagnostics,
        ))
    }
}

fn finish(
    steps: Vec<Step>,
    diagnostics: Vec<Diagnostic>,
    config_reused: bool,
    started: Instant,
) -> Outcome {
    let failed = steps.iter().find(|s| s.status != Status::Pass);
    let (status, reason) = match failed {
        None => {
            let warnings = diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .count();
            (
                Status::Pass,
                match warnings {
                    0 => "built".to_owned(),
                    1 => "built, 1 warning".to_owned(),
                    n => format!("built, {n} warnings"),
                },
            )
        }
        Some(step) => {
            let first_error = diagnostics
                .iter()
                .find(|d| d.severity == Severity::Error)
                .map(Diagnostic::headline);
            let reason = match first_error {
                Some(error) => format!("{} failed: {error}", step.name),
                None => format!("{} failed ({})", step.name, step.ended),
            };
            (Status::Fail, reason)
        }
    };
    Outcome {
        status,
        reason,
        steps,
        diagnostics,
        artifact: None,
        config_reused,
        duration_ms: started.elapsed().as_millis(),
    }
}

/// Where `make <target>` leaves the image, relative to the build directory.
fn image_location(arch: &Arch, target: Option<&str>) -> String {
    match target {
        None => arch.image_path.to_owned(),
        Some(t) if t == arch.image_target => arch.image_path.to_owned(),
        Some("vmlinux") => "vmlinux".to_owned(),
        Some(t) => {
            let dir = match arch.kernel_arch {
                "x86_64" | "i386" => "x86",
                other => other,
            };
            format!("arch/{dir}/boot/{t}")
        }
    }
}

fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(3600) && secs > 0 {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) && secs > 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The first `program` in `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

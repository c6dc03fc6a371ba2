//! The host backend: tests run in the host's sandbox.
//!
//! Each suite runs in a scratch directory holding a copy of the tests' directory (the one the
//! project file is in: LAVA runs a definition's steps from the root of its repository, so
//! `./epita/script_dummy.sh` resolves the same way), writable; the working copy with the build
//! is visible read-only at its own path. The environment gives:
//! `GAUNTLET_SOURCE` (the working copy), `GAUNTLET_ARTIFACT` (what the build produced),
//! `GAUNTLET_BUILD` and `GAUNTLET_ARCH`, and `PATH` starts with the LAVA helpers
//! (`lava-test-case`, `lava-test-set`, `lava-test-raise`).

use std::path::{Path, PathBuf};

use gauntlet_project::{Build, Project, Test, TestDefinition, TestSuite};
use gauntlet_results::{
    Counts, End, LavaOptions, LavaPattern, StreamConfig, StreamParser, StreamReport, TestResult,
};
use gauntlet_sandbox::{Sandbox, Termination};
use gauntlet_verdict::Status;
use tokio::sync::mpsc;

use crate::{Error, SuiteRun, io, tree_copy};

/// What the test stage gives the lab for one build.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub project: &'a Project,
    pub build: &'a Build,
    /// The working copy, built.
    pub source: &'a Path,
    /// What the build produced (for a command recipe, the working copy again).
    pub artifact: &'a Path,
    /// Scratch space for this build's tests (emptied first).
    pub work_dir: &'a Path,
    pub log_dir: &'a Path,
    /// Every line of output, as it comes, for a progress display.
    pub progress: Option<mpsc::Sender<Vec<u8>>>,
}

/// Runs tests in the host's sandbox.
#[derive(Debug, Clone)]
pub struct HostLab {
    sandbox: Sandbox,
    helpers: PathBuf,
}

impl HostLab {
    /// A lab using `sandbox`, with its helper scripts written under `scratch`.
    pub fn new(sandbox: Sandbox, scratch: &Path) -> Result<HostLab, Error> {
        let helpers = scratch.join("bin");
        std::fs::create_dir_all(&helpers).map_err(io(format!("creating {}", helpers.display())))?;
        gauntlet_results::write_helpers(&helpers)?;
        Ok(HostLab { sandbox, helpers })
    }

    /// Runs every test of the project against `request.build`.
    pub async fn run(&self, request: &Request<'_>) -> Result<Vec<SuiteRun>, Error> {
        let _ = std::fs::remove_dir_all(request.work_dir);
        std::fs::create_dir_all(request.work_dir)
            .map_err(io(format!("creating {}", request.work_dir.display())))?;
        std::fs::create_dir_all(request.log_dir)
            .map_err(io(format!("creating {}", request.log_dir.display())))?;
        let mut runs = Vec::new();
        for test in &request.project.tests {
            match &test.suite {
                TestSuite::Lava(definition) => {
                    runs.push(self.run_definition(request, test, definition).await?);
                }
                TestSuite::LkpJob => {
                    return Err(Error::Unsupported(format!(
                        "{}: LKP jobs run in the QEMU lab, not on the host",
                        test.path.display()
                    )));
                }
            }
        }
        Ok(runs)
    }

    async fn run_definition(
        &self,
        request: &Request<'_>,
        test: &Test,
        definition: &TestDefinition,
    ) -> Result<SuiteRun, Error> {
        let suite = definition.name.clone();
        let dir = request.work_dir.join(sanitize(&suite));
        let repo = dir.join("repo");
        tree_copy::copy(request.project.dir(), &repo)?;
        let script = dir.join("run.sh");
        std::fs::write(&script, definition.script(&test.params))
            .map_err(io(format!("writing {}", script.display())))?;
        let mut config = StreamConfig::host_process();
        config.lava = LavaOptions {
            default_suite: suite.clone(),
            ..LavaOptions::default()
        };
        if let Some(parse) = &definition.parse {
            config.patterns.push(LavaPattern::new(
                &parse.pattern,
                parse.fixupdict.iter().map(|(k, v)| (k.clone(), v.clone())),
            )?);
        }
        let log = request.log_dir.join(format!(
            "{}-{}.log",
            sanitize(&request.build.name),
            sanitize(&suite)
        ));
        let env = vec![
            (
                "GAUNTLET_SOURCE".to_owned(),
                request.source.display().to_string(),
            ),
            (
                "GAUNTLET_ARTIFACT".to_owned(),
                request.artifact.display().to_string(),
            ),
            ("GAUNTLET_BUILD".to_owned(), request.build.name.clone()),
            ("GAUNTLET_ARCH".to_owned(), request.build.arch_name.clone()),
            ("TESTRUN_ID".to_owned(), suite.clone()),
        ];
        let run = Script {
            script: &script,
            cwd: &repo,
            writable: &dir,
            env,
            log: &log,
            test,
        };
        let (outcome, report) = self.run_script(request, &run, config).await?;
        Ok(suite_run(suite, test, outcome, report, log))
    }

    async fn run_script(
        &self,
        request: &Request<'_>,
        run: &Script<'_>,
        config: StreamConfig,
    ) -> Result<(gauntlet_sandbox::Outcome, StreamReport), Error> {
        let path = format!(
            "{}:{}",
            self.helpers.display(),
            gauntlet_sandbox::DEFAULT_PATH
        );
        let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(256);
        let mut command = self
            .sandbox
            .command("sh")
            .arg(run.script)
            .current_dir(run.cwd)
            .writable(run.writable)
            .read_only(request.source)
            .read_only(&self.helpers)
            .env("PATH", path)
            .envs(run.env.iter().map(|(k, v)| (k.clone(), v.clone())))
            .log(run.log)
            .limits(gauntlet_sandbox::Limits {
                time: run.test.timeout,
                memory: Some(request.project.limits.memory),
                log_size: request.project.limits.log_size,
                ..gauntlet_sandbox::Limits::default()
            })
            .stream_lines(sender);
        if request.artifact != request.source {
            command = command.read_only(request.artifact);
        }
        let progress = request.progress.clone();
        let reader = tokio::spawn(async move {
            let mut parser = StreamParser::new(config);
            while let Some(line) = receiver.recv().await {
                parser.feed_line(&line);
                if let Some(progress) = &progress {
                    // A slow display must not stall the test: drop lines instead.
                    let _ = progress.try_send(line);
                }
            }
            parser
        });
        let outcome = command.run().await?;
        let parser = reader
            .await
            .map_err(|e| Error::Unsupported(format!("the output reader failed: {e}")))?;
        let end = match outcome.termination {
            Termination::TimedOut => End::Timeout,
            Termination::Exited(_) => End::Eof,
            _ => End::Stopped,
        };
        Ok((outcome, parser.finish(end)))
    }
}

/// One script to run.
struct Script<'a> {
    script: &'a Path,
    cwd: &'a Path,
    writable: &'a Path,
    env: Vec<(String, String)>,
    log: &'a Path,
    test: &'a Test,
}

/// The suite's status from what the stream said and how the script ended.
///
/// On the host, a test that runs past its timeout is the patch's failure (the program under test
/// hung); a definition whose steps stop with a non-zero status (`set -e`, as in LAVA) fails
/// too, as does one that reports no result at all.
fn suite_run(
    suite: String,
    test: &Test,
    outcome: gauntlet_sandbox::Outcome,
    report: StreamReport,
    log: PathBuf,
) -> SuiteRun {
    let results: Vec<TestResult> = report
        .suites()
        .into_iter()
        .flat_map(|s| s.results.into_iter())
        .collect();
    let counts: Counts = report.counts();
    let streamed = report.status();
    let (status, reason) = match outcome.termination {
        Termination::TimedOut => (
            Status::Fail,
            format!(
                "killed at its timeout ({}s) after {} result(s)",
                test.timeout.as_secs(),
                counts.total()
            ),
        ),
        Termination::OutputLimit => (Status::Fail, "killed: it printed too much".to_owned()),
        Termination::OutOfMemory => (Status::Fail, "killed: out of memory".to_owned()),
        Termination::Cancelled => (Status::Error, "cancelled".to_owned()),
        Termination::Exited(exit) => {
            let failed = counts.get(Status::Fail);
            if streamed == Status::Error {
                (
                    Status::Error,
                    first_reason(&report).unwrap_or("the tests raised an error".into()),
                )
            } else if counts.total() == 0 {
                (
                    Status::Fail,
                    if outcome.success() {
                        "the tests reported no result".to_owned()
                    } else {
                        format!("the steps stopped ({exit}) before reporting any result")
                    },
                )
            } else if !outcome.success() {
                (
                    Status::Fail,
                    format!(
                        "the steps stopped ({exit}) after {} result(s), {failed} failed",
                        counts.total()
                    ),
                )
            } else if failed > 0 || streamed == Status::Fail {
                (
                    Status::Fail,
                    format!("{failed} of {} failed", counts.total()),
                )
            } else {
                (
                    streamed.combine(Status::Pass),
                    format!("{} of {} passed", counts.get(Status::Pass), counts.total()),
                )
            }
        }
    };
    SuiteRun {
        suite,
        test_file: test.path.clone(),
        status,
        reason,
        results,
        counts,
        log,
        duration_ms: outcome.wall_time.as_millis(),
    }
}

fn first_reason(report: &StreamReport) -> Option<String> {
    report.suites().into_iter().find_map(|s| {
        s.outcome
            .filter(|o| o.status == Status::Error)
            .map(|o| o.reason)
    })
}

pub(crate) fn sanitize(name: &str) -> String {
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

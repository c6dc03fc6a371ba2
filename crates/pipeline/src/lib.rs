//! One submission through the whole pipeline, on one machine.
//!
//! ```text
//! series (store) ─► checks ─► apply ─► build × N ─► test × M ─► (base builds) ─► verdict ─► report
//!                    │reject    │FAIL     │FAIL        │FAIL        new warnings,
//!                    ▼          ▼         ▼            ▼            base broken?
//!                  the rest is MISS: nothing is built or tested after a rejection
//! ```
//!
//! Every stage is a job of the run, recorded in the store as it starts and ends, with its log in
//! the artifact directory (`runs/<run>/…`). A stage that cannot run for reasons that are not the
//! patch's (no cross compiler, git failing, the sandbox broken) ends ERROR, never FAIL; the
//! verdict is *rejected* when a job failed, *error* when one could not run, *accepted* otherwise.
//!
//! The pipeline does not decide what a check, a build or a test means: the stage crates do. It
//! orders them, keeps the working copy, records, and words the verdict.

mod report;
pub mod sample;
mod series;
mod stages;

pub use stages::{ENVELOPE, Envelope, Executed, build_capability, test_capability};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use gauntlet_build::{Builder, Diagnostic};
use gauntlet_checks::Registry;
use gauntlet_lab::lava::{LavaLab, LavaRequest, LavaSettings};
use gauntlet_lab::qemu::{QemuLab, QemuSettings};
use gauntlet_lab::{HostLab, SuiteRun};
use gauntlet_project::{Build, Project, Recipe};
use gauntlet_report::{Addressee, Outbox, Template, Verdict};
use gauntlet_sandbox::Sandbox;
use gauntlet_store::{FindingRow, Id, JobEnd, NewJob, NewRun, Store};
use gauntlet_tree::{ApplyOptions, ApplyReport, InspectLimits, Lease, Mirror, Pool};
use gauntlet_verdict::{Severity, Status};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::series::Loaded;

/// Why a run could not be made at all (the store failed, the series does not exist). Everything
/// that goes wrong inside a stage is recorded as that stage's ERROR instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("store: {0}")]
    Store(#[from] gauntlet_store::Error),
    #[error("there is no series {0} in the store")]
    NoSeries(Id),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the project's checks: {0}")]
    Config(String),
    /// The machine failed the job (git, a mirror, a lab, a disk): never the series' fault; a
    /// queued job is tried again.
    #[error("{0}")]
    Infrastructure(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// Where the pipeline keeps things, and how it reports.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Mirrors, working copies, build directories, ccache.
    pub cache_dir: PathBuf,
    /// Logs and reports of runs (`runs/<id>/…`).
    pub artifacts_dir: PathBuf,
    /// Report mails are delivered to this maildir (none: no mail).
    pub outbox: Option<PathBuf>,
    /// The sender of report mails.
    pub mail_from: Addressee,
    /// Cores to use (builds in parallel, `make -j`).
    pub jobs: usize,
    /// Working copies kept per tree.
    pub pool_size: usize,
    /// Where the logs of run `N` are published, as `<logs_url>/runs/N` (none: the artifact
    /// directory's path is shown).
    pub logs_url: Option<String>,
    /// How kernels are booted locally (the QEMU lab).
    pub qemu: QemuSettings,
    /// A LAVA lab that boots and tests the builds marked `lava: true` instead of the local
    /// QEMU (none: QEMU tests them). The image is the one the QEMU lab would boot.
    pub lava: Option<LavaSettings>,
    /// A git remote every applied submission is pushed to, as
    /// `gauntlet/<project>/<series>-v<revision>` (none: nothing is published).
    pub publish: Option<String>,
}

impl Settings {
    /// Defaults under `root` (a data directory): `cache/`, `artifacts/`, `outbox/`.
    pub fn under(root: &Path) -> Settings {
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        Settings {
            cache_dir: root.join("cache"),
            artifacts_dir: root.join("artifacts"),
            outbox: Some(root.join("outbox")),
            mail_from: Addressee::new(Some("gauntlet"), "gauntlet@localhost"),
            jobs,
            pool_size: jobs.clamp(1, 4),
            logs_url: None,
            qemu: QemuSettings::default(),
            lava: None,
            publish: None,
        }
    }
}

/// What happens, as it happens (for a progress display).
#[derive(Debug, Clone)]
pub enum Event {
    RunStarted {
        run: Id,
        series: Id,
        title: String,
        /// Every job of the run: id, stage, name.
        jobs: Vec<(Id, String, String)>,
    },
    JobStarted {
        run: Id,
        job: Id,
    },
    /// A line of a build's or a test's output.
    JobOutput {
        job: Id,
        line: String,
    },
    JobFinished {
        run: Id,
        job: Id,
        status: Status,
        reason: String,
        duration: Duration,
    },
    RunFinished {
        run: Id,
        verdict: Verdict,
        reason: String,
    },
}

/// One job as the run ended it.
#[derive(Debug, Clone, Serialize)]
pub struct JobSummary {
    pub id: Id,
    pub stage: String,
    pub name: String,
    pub status: Status,
    pub reason: String,
    pub log: Option<PathBuf>,
    pub duration_ms: u128,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub run: Id,
    pub series: Id,
    pub title: String,
    pub verdict: Verdict,
    pub reason: String,
    pub jobs: Vec<JobSummary>,
    /// The report, as text.
    pub report: String,
    /// The report mail, when one was delivered to the outbox.
    pub mail: Option<PathBuf>,
    /// Where the run's logs are.
    pub artifacts: PathBuf,
    /// The wall time of the run, and the part of it spent outside git, builds and tests (the
    /// checks, the store, the report: the pipeline's own overhead).
    pub wall_ms: u128,
    pub overhead_ms: u128,
}

/// Runs submissions through the pipeline.
pub struct Pipeline {
    store: Store,
    settings: Settings,
    sandbox: Sandbox,
    registry: Registry,
    events: Option<mpsc::UnboundedSender<Event>>,
}

/// A job being recorded.
struct Job {
    id: Id,
    stage: &'static str,
    name: String,
    started: Option<Instant>,
    summary: Option<JobSummary>,
}

/// What the build stage produced for one build.
struct Built {
    build: Build,
    job: usize,
    outcome: Option<gauntlet_build::Outcome>,
    /// Warnings that the base does not have (computed in the base phase).
    new_warnings: Vec<Diagnostic>,
}

impl Pipeline {
    pub fn new(store: Store, settings: Settings, sandbox: Sandbox) -> Pipeline {
        Pipeline {
            store,
            settings,
            sandbox,
            registry: Registry::builtin(),
            events: None,
        }
    }

    /// Sends [`Event`]s to `sender` as the run goes.
    pub fn with_events(mut self, sender: mpsc::UnboundedSender<Event>) -> Pipeline {
        self.events = Some(sender);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn emit(&self, event: Event) {
        if let Some(events) = &self.events {
            let _ = events.send(event);
        }
    }

    /// Runs the submission that is series `series` (at its revision) for `project`.
    pub async fn run(&self, project: &Project, series: Id) -> Result<RunOutcome, Error> {
        let started = Instant::now();
        let configured = self.registry.configure(&project.checks).map_err(|errors| {
            Error::Config(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let loaded = Loaded::load(&self.store, series).await?;
        let title = loaded.title();
        let run = self
            .store
            .create_run(&NewRun {
                series,
                revision: loaded.detail.summary.revision,
                series_key: loaded.key(),
                project: project.name.clone(),
                project_file: project.file.display().to_string(),
            })
            .await?;
        let dir = self
            .settings
            .artifacts_dir
            .join("runs")
            .join(run.to_string());
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;

        // Every job of the run, queued up front, so that a display (and the store) shows the
        // whole plan from the start.
        let mut jobs: Vec<Job> = Vec::new();
        let mut plan: Vec<(&'static str, String)> =
            vec![("checks", "checks".into()), ("apply", "apply".into())];
        for build in &project.builds {
            plan.push(("build", build.name.clone()));
        }
        for build in project.tested_builds() {
            plan.push(("test", build.name.clone()));
        }
        plan.push(("report", "report".into()));
        for (position, (stage, name)) in plan.into_iter().enumerate() {
            let id = self
                .store
                .add_job(
                    run,
                    &NewJob {
                        stage: stage.into(),
                        name: name.clone(),
                        position: position as i64,
                        requires: Vec::new(),
                    },
                )
                .await?;
            jobs.push(Job {
                id,
                stage,
                name,
                started: None,
                summary: None,
            });
        }
        self.emit(Event::RunStarted {
            run,
            series,
            title: title.clone(),
            jobs: jobs
                .iter()
                .map(|j| (j.id, j.stage.to_owned(), j.name.clone()))
                .collect(),
        });
        let mut external = Duration::ZERO;

        // Checks.
        let checks_job = 0;
        self.start(run, &mut jobs[checks_job]).await?;
        let check_series = loaded.for_checks();
        let mut context = gauntlet_checks::Context::default();
        let mirror_started = Instant::now();
        let mirror = match &project.tree {
            Some(tree) => Mirror::open(&self.settings.cache_dir, &tree.source)
                .await
                .ok(),
            None => None,
        };
        external += mirror_started.elapsed();
        if let Some(mirror) = &mirror {
            context.tree = Some(mirror.path().to_path_buf());
        }
        // The checks are the pipeline's own work: they count in its overhead.
        let checks = configured.run(&check_series, &context);
        let checks_text = gauntlet_checks::render_human(&checks, false);
        let checks_log = dir.join("checks.txt");
        std::fs::write(&checks_log, &checks_text)
            .map_err(io(format!("writing {}", checks_log.display())))?;
        let findings: Vec<FindingRow> = report::finding_rows(&checks);
        self.store
            .add_findings(run, jobs[checks_job].id, &findings)
            .await?;
        let rejected_by_checks = gauntlet_checks::must_reject(&checks);
        let checks_status = if rejected_by_checks {
            Status::Fail
        } else if checks.status == Status::Error {
            Status::Error
        } else {
            Status::Pass
        };
        let checks_reason = report::checks_reason(&checks);
        self.finish(
            run,
            &mut jobs[checks_job],
            checks_status,
            checks_reason,
            Some(&checks_log),
            Some(serde_json::to_string(&checks).unwrap_or_default()),
        )
        .await?;

        let mut apply_report: Option<ApplyReport> = None;
        let mut built: Vec<Built> = Vec::new();
        let mut suites: Vec<(String, Vec<SuiteRun>)> = Vec::new();
        let mut stop: Option<String> =
            rejected_by_checks.then(|| "not run: the series was rejected by the checks".to_owned());

        // Apply.
        let apply_job = 1;
        let mut lease: Option<Lease> = None;
        if stop.is_none() {
            self.start(run, &mut jobs[apply_job]).await?;
            let apply_started = Instant::now();
            let (status, reason, report_json) =
                match self.apply(project, mirror.as_ref(), &loaded).await {
                    Ok((report, leased)) => {
                        let (status, reason) = report::apply_status(&report);
                        let json = serde_json::to_string(&report).ok();
                        if status == Status::Pass {
                            lease = Some(leased);
                        }
                        apply_report = Some(report);
                        (status, reason, json)
                    }
                    Err(reason) => (Status::Error, reason, None),
                };
            external += apply_started.elapsed();
            let apply_log = dir.join("apply.txt");
            let text = match &apply_report {
                Some(r) => format!("{reason}\n\n{r}\n"),
                None => format!("{reason}\n"),
            };
            std::fs::write(&apply_log, text)
                .map_err(io(format!("writing {}", apply_log.display())))?;
            if status != Status::Pass {
                stop = Some(format!("not run: the apply stage ended {status}"));
            }
            self.finish(
                run,
                &mut jobs[apply_job],
                status,
                reason,
                Some(&apply_log),
                report_json,
            )
            .await?;
        }

        // Builds.
        if let (None, Some(lease)) = (&stop, &lease) {
            let build_started = Instant::now();
            built = self.build_all(run, project, lease, &dir, &mut jobs).await?;
            external += build_started.elapsed();
            if built.iter().any(|b| b.outcome.is_none()) {
                // An infrastructure error in some build: the others still count.
            }
        }

        // Tests.
        if stop.is_none() && lease.is_some() {
            for build in project.tested_builds() {
                let Some(index) = jobs
                    .iter()
                    .position(|j| j.stage == "test" && j.name == build.name)
                else {
                    continue;
                };
                let Some(b) = built.iter().find(|b| b.build.name == build.name) else {
                    continue;
                };
                let Some(outcome) = b.outcome.as_ref().filter(|o| o.status == Status::Pass) else {
                    self.finish(
                        run,
                        &mut jobs[index],
                        Status::Miss,
                        "not run: the build did not succeed".into(),
                        None,
                        None,
                    )
                    .await?;
                    continue;
                };
                self.start(run, &mut jobs[index]).await?;
                let test_started = Instant::now();
                let (status, reason, runs) = self
                    .test(
                        project,
                        build,
                        outcome,
                        lease.as_ref(),
                        &dir,
                        jobs[index].id,
                    )
                    .await;
                external += test_started.elapsed();
                let rows = report::result_rows(&runs);
                self.store.add_results(run, jobs[index].id, &rows).await?;
                let log = runs.first().map(|r| r.log.clone());
                let details = serde_json::to_string(&runs).ok();
                self.finish(
                    run,
                    &mut jobs[index],
                    status,
                    reason,
                    log.as_deref(),
                    details,
                )
                .await?;
                suites.push((build.name.clone(), runs));
            }
        }

        // The base: which warnings are new, and whether a failing build fails on the base too.
        if let Some(lease) = lease.as_mut()
            && let Some(base) = apply_report.as_ref().and_then(report::applied_base)
        {
            let base_started = Instant::now();
            self.compare_with_base(run, project, lease, &base, &dir, &mut built, &mut jobs)
                .await?;
            external += base_started.elapsed();
        }
        drop(lease);

        // Whatever did not run is MISS.
        let reason = stop.unwrap_or_else(|| "not run".to_owned());
        for job in jobs
            .iter_mut()
            .filter(|j| j.summary.is_none() && j.stage != "report")
        {
            self.finish(run, job, Status::Miss, reason.clone(), None, None)
                .await?;
        }

        // Verdict.
        let statuses: Vec<Status> = jobs
            .iter()
            .filter(|j| j.stage != "report")
            .filter_map(|j| j.summary.as_ref().map(|s| s.status))
            .collect();
        let verdict = if statuses.contains(&Status::Fail) {
            Verdict::Rejected
        } else if statuses
            .iter()
            .any(|s| matches!(s, Status::Error | Status::Miss))
        {
            Verdict::Error
        } else {
            Verdict::Accepted
        };
        let verdict_reason = report::verdict_reason(verdict, &jobs_view(&jobs));

        // Report.
        let report_job = jobs.len() - 1;
        self.start(run, &mut jobs[report_job]).await?;
        let data = report::data(report::Inputs {
            project,
            loaded: &loaded,
            verdict,
            checks: &checks,
            apply: apply_report.as_ref(),
            built: &built
                .iter()
                .map(|b| {
                    (
                        b.build.name.clone(),
                        b.outcome.clone(),
                        b.new_warnings.clone(),
                    )
                })
                .collect::<Vec<_>>(),
            suites: &suites,
            jobs: &jobs_view(&jobs),
            logs: self.logs_url(run, &dir),
        });
        let template = match &project.report.template {
            Some(path) => Template::from_file(path),
            None => Ok(Template::builtin()),
        };
        let rendered = template.and_then(|t| t.render(&data));
        let (report_status, report_reason, text, mail) = match rendered {
            Ok(text) => {
                let report_file = dir.join("report.txt");
                std::fs::write(&report_file, &text)
                    .map_err(io(format!("writing {}", report_file.display())))?;
                match self.mail(project, &loaded, run, verdict, &text).await {
                    Ok(Some(path)) => (
                        Status::Done,
                        format!("mailed to {} (outbox)", data.email),
                        text,
                        Some(path),
                    ),
                    Ok(None) => (Status::Done, "not mailed (policy)".into(), text, None),
                    Err(e) => (Status::Error, e, text, None),
                }
            }
            Err(e) => (Status::Error, e.to_string(), String::new(), None),
        };
        let report_log = dir.join("report.txt");
        self.finish(
            run,
            &mut jobs[report_job],
            report_status,
            report_reason,
            report_log.is_file().then_some(report_log.as_path()),
            None,
        )
        .await?;

        self.store
            .finish_run(
                run,
                verdict.as_str(),
                Some(&verdict_reason),
                apply_report
                    .as_ref()
                    .and_then(|r| serde_json::to_string(r).ok())
                    .as_deref(),
            )
            .await?;
        self.emit(Event::RunFinished {
            run,
            verdict,
            reason: verdict_reason.clone(),
        });
        let wall = started.elapsed();
        Ok(RunOutcome {
            run,
            series,
            title,
            verdict,
            reason: verdict_reason,
            jobs: jobs.into_iter().filter_map(|j| j.summary).collect(),
            report: text,
            mail,
            artifacts: dir,
            wall_ms: wall.as_millis(),
            overhead_ms: wall.saturating_sub(external).as_millis(),
        })
    }

    fn logs_url(&self, run: Id, dir: &Path) -> Option<String> {
        match &self.settings.logs_url {
            Some(url) => Some(format!("{}/runs/{run}", url.trim_end_matches('/'))),
            None => Some(dir.display().to_string()),
        }
    }

    async fn start(&self, run: Id, job: &mut Job) -> Result<(), Error> {
        self.store.start_job(job.id).await?;
        job.started = Some(Instant::now());
        self.emit(Event::JobStarted { run, job: job.id });
        Ok(())
    }

    async fn finish(
        &self,
        run: Id,
        job: &mut Job,
        status: Status,
        reason: String,
        log: Option<&Path>,
        details: Option<String>,
    ) -> Result<(), Error> {
        let duration = job.started.map(|s| s.elapsed()).unwrap_or_default();
        let relative = log.map(|l| {
            l.strip_prefix(&self.settings.artifacts_dir)
                .unwrap_or(l)
                .display()
                .to_string()
        });
        self.store
            .finish_job(
                job.id,
                &JobEnd {
                    status: status.as_str().to_owned(),
                    reason: Some(reason.clone()),
                    log: relative,
                    details,
                    duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
                },
            )
            .await?;
        self.emit(Event::JobFinished {
            run,
            job: job.id,
            status,
            reason: reason.clone(),
            duration,
        });
        job.summary = Some(JobSummary {
            id: job.id,
            stage: job.stage.to_owned(),
            name: job.name.clone(),
            status,
            reason,
            log: log.map(Path::to_path_buf),
            duration_ms: duration.as_millis(),
        });
        Ok(())
    }

    /// The apply stage: a working copy of the tree, the base cascade.
    async fn apply(
        &self,
        project: &Project,
        mirror: Option<&Mirror>,
        loaded: &Loaded,
    ) -> Result<(ApplyReport, Lease), String> {
        let tree = project
            .tree
            .as_ref()
            .ok_or("the project names no tree to apply the series to")?;
        let mirror = match mirror {
            Some(m) => m.clone(),
            None => Mirror::open(&self.settings.cache_dir, &tree.source)
                .await
                .map_err(|e| format!("the tree cannot be mirrored: {e}"))?,
        };
        mirror
            .fetch()
            .await
            .map_err(|e| format!("the tree cannot be fetched: {e}"))?;
        let pool = Pool::new(mirror, self.settings.pool_size)
            .map_err(|e| format!("no working copy: {e}"))?;
        let mut lease = pool
            .lease()
            .await
            .map_err(|e| format!("no working copy: {e}"))?;
        let options = ApplyOptions {
            limits: InspectLimits::from(&project.limits),
            ..ApplyOptions::default()
        };
        let report = gauntlet_tree::choose_base_and_apply(
            &mut lease,
            &loaded.for_apply(),
            loaded.base_commit().as_deref(),
            &tree.branches,
            &options,
        )
        .await
        .map_err(|e| format!("git failed: {e}"))?;
        Ok((report, lease))
    }

    fn build_dir(&self, lease: &Lease, build: &Build) -> PathBuf {
        self.settings
            .cache_dir
            .join("builds")
            .join(lease.mirror().name())
            .join(format!("slot{}", lease.slot()))
            .join(&build.name)
    }

    fn builder(&self) -> Builder {
        Builder::new(
            self.sandbox.clone(),
            Some(self.settings.cache_dir.join("ccache")),
        )
    }

    /// Builds every build of the project: in parallel for kbuild (the source is read-only to
    /// it), one after the other for a command (it builds in the working copy).
    async fn build_all(
        &self,
        run: Id,
        project: &Project,
        lease: &Lease,
        dir: &Path,
        jobs: &mut [Job],
    ) -> Result<Vec<Built>, Error> {
        let concurrency = if project.recipe.is_kbuild() {
            self.settings.jobs.clamp(1, project.builds.len().max(1))
        } else {
            1
        };
        let make_jobs = (self.settings.jobs / concurrency).max(1);
        let log_dir = dir.join("build");
        let mut indices = Vec::new();
        for build in &project.builds {
            let Some(index) = jobs
                .iter()
                .position(|j| j.stage == "build" && j.name == build.name)
            else {
                continue;
            };
            self.start(run, &mut jobs[index]).await?;
            indices.push((build.clone(), index, jobs[index].id));
        }
        let results: Vec<(Build, usize, Result<gauntlet_build::Outcome, String>)> =
            futures::stream::iter(indices.into_iter().map(|(build, index, job)| {
                let build_dir = self.build_dir(lease, &build);
                let log_dir = log_dir.clone();
                let source = lease.path().to_path_buf();
                let limits = project.limits;
                let recipe = project.recipe.clone();
                let builder = self.with_output(self.builder(), job);
                async move {
                    let request = gauntlet_build::Request {
                        recipe: &recipe,
                        build: &build,
                        source: &source,
                        build_dir: &build_dir,
                        log_dir: &log_dir,
                        jobs: make_jobs,
                        limits: &limits,
                    };
                    let outcome = builder.build(&request).await.map_err(|e| e.to_string());
                    (build, index, outcome)
                }
            }))
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut built = Vec::new();
        for (build, index, outcome) in results {
            match outcome {
                Ok(outcome) => {
                    let details = serde_json::to_string(&outcome).ok();
                    self.finish(
                        run,
                        &mut jobs[index],
                        outcome.status,
                        outcome.reason.clone(),
                        outcome.main_log(),
                        details,
                    )
                    .await?;
                    built.push(Built {
                        build,
                        job: index,
                        outcome: Some(outcome),
                        new_warnings: Vec::new(),
                    });
                }
                Err(reason) => {
                    self.finish(run, &mut jobs[index], Status::Error, reason, None, None)
                        .await?;
                    built.push(Built {
                        build,
                        job: index,
                        outcome: None,
                        new_warnings: Vec::new(),
                    });
                }
            }
        }
        built.sort_by_key(|b| b.job);
        Ok(built)
    }

    /// A channel whose lines become [`Event::JobOutput`]s of `job` (none without a listener).
    fn output_sender(&self, job: Id) -> Option<mpsc::Sender<Vec<u8>>> {
        let events = self.events.clone()?;
        let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(1024);
        tokio::spawn(async move {
            while let Some(line) = receiver.recv().await {
                let line = String::from_utf8_lossy(&line).into_owned();
                if events.send(Event::JobOutput { job, line }).is_err() {
                    break;
                }
            }
        });
        Some(sender)
    }

    /// A builder whose output lines become [`Event::JobOutput`]s of `job`.
    fn with_output(&self, builder: Builder, job: Id) -> Builder {
        match self.output_sender(job) {
            None => builder,
            Some(sender) => builder.with_progress(sender),
        }
    }

    /// The test stage for one build.
    async fn test(
        &self,
        project: &Project,
        build: &Build,
        outcome: &gauntlet_build::Outcome,
        lease: Option<&Lease>,
        dir: &Path,
        job: Id,
    ) -> (Status, String, Vec<SuiteRun>) {
        let Some(lease) = lease else {
            return (Status::Error, "no working copy".into(), Vec::new());
        };
        let work = self
            .settings
            .cache_dir
            .join("tests")
            .join(format!("slot{}", lease.slot()))
            .join(&build.name);
        let progress = self.output_sender(job);
        let log_dir = dir.join("test");
        let result = match project.recipe {
            Recipe::Kbuild { .. } => {
                let Some(kernel) = outcome.artifact.as_deref() else {
                    return (
                        Status::Error,
                        "the build left no kernel image".into(),
                        Vec::new(),
                    );
                };
                let lab = match QemuLab::new(
                    self.sandbox.clone(),
                    &self.settings.cache_dir.join("qemu"),
                    self.settings.qemu.clone(),
                ) {
                    Ok(lab) => lab,
                    Err(e) => return (Status::Error, e.to_string(), Vec::new()),
                };
                let request = gauntlet_lab::qemu::Request {
                    project,
                    build,
                    kernel,
                    source: lease.path(),
                    work_dir: &work,
                    log_dir: &log_dir,
                    progress,
                };
                match &self.settings.lava {
                    Some(lava) => self.test_on_lava(&lab, lava, &request, job).await,
                    _ => lab.run(&request).await,
                }
            }
            Recipe::Command { .. } => {
                let lab = match HostLab::new(
                    self.sandbox.clone(),
                    &self.settings.cache_dir.join("lab"),
                ) {
                    Ok(lab) => lab,
                    Err(e) => return (Status::Error, e.to_string(), Vec::new()),
                };
                let artifact = outcome
                    .artifact
                    .clone()
                    .unwrap_or_else(|| lease.path().to_path_buf());
                let request = gauntlet_lab::host::Request {
                    project,
                    build,
                    source: lease.path(),
                    artifact: &artifact,
                    work_dir: &work,
                    log_dir: &log_dir,
                    progress,
                };
                lab.run(&request).await
            }
        };
        match result {
            Ok(runs) => {
                let status = Status::summarize(runs.iter().map(|r| r.status));
                let (passed, total) = runs.iter().fold((0, 0), |(p, t), r| {
                    let (rp, rt) = r.passed_of();
                    (p + rp, t + rt)
                });
                let reason = match runs.iter().find(|r| r.status != Status::Pass) {
                    None => format!("passed {passed} tests on {total}"),
                    Some(r) => format!("{}: {}", r.suite, r.reason),
                };
                (status, reason, runs)
            }
            Err(e) => (Status::Error, e.to_string(), Vec::new()),
        }
    }

    /// A build's tests on the LAVA lab: the QEMU lab's image (prepared on this host), one LAVA
    /// job, its suites; the suites decided on the host (a prepare that failed) keep that
    /// decision.
    async fn test_on_lava(
        &self,
        qemu: &QemuLab,
        settings: &LavaSettings,
        request: &gauntlet_lab::qemu::Request<'_>,
        job: Id,
    ) -> Result<Vec<SuiteRun>, gauntlet_lab::Error> {
        let image = qemu.lava_image(request).await?;
        // The image's /init runs under busybox's shell, as the QEMU lab boots it.
        let mut settings = settings.clone();
        if !settings.kernel_args.contains("rdinit=") {
            for word in gauntlet_lab::qemu::guest::kernel_args() {
                settings.kernel_args.push(' ');
                settings.kernel_args.push_str(&word);
            }
        }
        let lab = LavaLab::new(settings).await?;
        let mut metadata = gauntlet_lava::Map::new();
        metadata.insert("gauntlet.job".into(), job.to_string().into());
        metadata.insert("gauntlet.build".into(), request.build.name.clone().into());
        let run = lab
            .run(&LavaRequest {
                project: request.project,
                build: request.build,
                kernel: request.kernel,
                initramfs: &image.path,
                modules: None,
                log_dir: request.log_dir,
                metadata,
                progress: request.progress.clone(),
                supersede: None,
            })
            .await?;
        tracing::info!(job_id = run.job_id, url = %run.job_url, latency = ?run.latency, "LAVA job done");
        let mut suites = run.suites;
        for decided in image.decided {
            match suites.iter_mut().find(|s| s.suite == decided.suite) {
                Some(suite) => *suite = decided,
                None => suites.push(decided),
            }
        }
        Ok(suites)
    }

    /// Builds the base again where it tells something: for builds with warnings (which of them
    /// are new?) and for failed builds (does the base fail too? then it is not the patch).
    #[allow(clippy::too_many_arguments)]
    async fn compare_with_base(
        &self,
        run: Id,
        project: &Project,
        lease: &mut Lease,
        base: &str,
        dir: &Path,
        built: &mut [Built],
        jobs: &mut [Job],
    ) -> Result<(), Error> {
        let wanted: Vec<usize> = built
            .iter()
            .enumerate()
            .filter(|(_, b)| {
                b.outcome
                    .as_ref()
                    .is_some_and(|o| o.status == Status::Fail || o.warnings().next().is_some())
            })
            .map(|(i, _)| i)
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        if let Err(e) = lease.reset(base).await {
            tracing::warn!("cannot reset the working copy to the base: {e}");
            return Ok(());
        }
        let log_dir = dir.join("build").join("base");
        let builder = self.builder();
        for index in wanted {
            let b = &mut built[index];
            let build_dir = self.build_dir(lease, &b.build);
            let request = gauntlet_build::Request {
                recipe: &project.recipe,
                build: &b.build,
                source: lease.path(),
                build_dir: &build_dir,
                log_dir: &log_dir,
                jobs: self.settings.jobs,
                limits: &project.limits,
            };
            let Ok(base_outcome) = builder.build(&request).await else {
                continue;
            };
            let Some(head) = b.outcome.as_ref() else {
                continue;
            };
            if head.status == Status::Fail && base_outcome.status == Status::Fail {
                let job = &mut jobs[b.job];
                let reason = format!(
                    "the base does not build either ({}): not the series' fault",
                    base_outcome.reason
                );
                self.store
                    .finish_job(
                        job.id,
                        &JobEnd {
                            status: Status::Error.as_str().into(),
                            reason: Some(reason.clone()),
                            log: job
                                .summary
                                .as_ref()
                                .and_then(|s| s.log.as_ref().map(|l| l.display().to_string())),
                            details: None,
                            duration_ms: job
                                .summary
                                .as_ref()
                                .map_or(0, |s| i64::try_from(s.duration_ms).unwrap_or(0)),
                        },
                    )
                    .await?;
                if let Some(summary) = job.summary.as_mut() {
                    summary.status = Status::Error;
                    summary.reason = reason;
                }
                continue;
            }
            let base_diagnostics = base_outcome.diagnostics;
            b.new_warnings = gauntlet_build::new_warnings(&head.diagnostics, &base_diagnostics)
                .into_iter()
                .cloned()
                .collect();
            let _ = run;
        }
        Ok(())
    }

    /// Delivers the report mail to the outbox, if the project's policy wants one.
    async fn mail(
        &self,
        project: &Project,
        loaded: &Loaded,
        run: Id,
        verdict: Verdict,
        text: &str,
    ) -> Result<Option<PathBuf>, String> {
        let Some(outbox) = &self.settings.outbox else {
            return Ok(None);
        };
        let settings = &project.report.mail;
        if !settings.enabled || !settings.to_submitter && settings.cc.is_empty() {
            return Ok(None);
        }
        let wanted = match settings.policy {
            gauntlet_project::MailPolicy::Always => true,
            gauntlet_project::MailPolicy::Failure => verdict != Verdict::Accepted,
            gauntlet_project::MailPolicy::Change => {
                self.previous_verdict(loaded).await != Some(verdict.as_str().to_owned())
            }
        };
        if !wanted {
            return Ok(None);
        }
        let (bytes, _) = report::reply(project, loaded, run, text, &self.settings.mail_from)?;
        let outbox = Outbox::open(outbox).map_err(|e| e.to_string())?;
        outbox.deliver(&bytes).map(Some).map_err(|e| e.to_string())
    }

    /// The verdict of the newest run of the previous revision.
    async fn previous_verdict(&self, loaded: &Loaded) -> Option<String> {
        let revision = loaded.detail.summary.revision;
        let previous = loaded
            .detail
            .revisions
            .iter()
            .find(|r| r.revision + 1 == revision)?;
        let runs = self.store.runs_of_series(previous.id).await.ok()?;
        runs.into_iter().find_map(|r| r.verdict)
    }
}

/// The jobs as the report sees them.
fn jobs_view(jobs: &[Job]) -> Vec<JobSummary> {
    jobs.iter().filter_map(|j| j.summary.clone()).collect()
}

/// The severity of findings that reject.
pub const REJECTING: Severity = Severity::Error;

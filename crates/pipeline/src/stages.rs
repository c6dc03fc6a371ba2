//! The pipeline as queued jobs, for `gauntlet serve` and `gauntlet worker`: a run is queued
//! with one job per stage and build ([`Pipeline::enqueue`]); any worker that can claims a job
//! and runs it alone ([`Pipeline::execute`]), from what the store holds and nothing else.
//!
//! Each job starts from scratch on whatever host claims it: the build and test jobs open the
//! tree's mirror in their own cache, lease a working copy and apply the series on the base the
//! apply job chose (recorded in its details); a build copies its kernel image into the
//! artifacts directory (shared by every host) for the test job; the report job reads what the
//! others recorded. A job that depends on one that did not pass ends MISS, as in
//! [`Pipeline::run`], so that a dead or cancelled stage never leaves the run waiting.
//!
//! Infrastructure failures are `Err`s: the caller gives the job back to the queue, which tries
//! it again after a backoff, and ERRORs it after the last attempt.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gauntlet_build::Diagnostic;
use gauntlet_project::{Build, Project, Recipe};
use gauntlet_report::{Template, Verdict};
use gauntlet_store::{Claimed, Id, JobEnd, JobRow, NewJob, NewRun, QueuedJob, RunDetail};
use gauntlet_tree::{ApplyOptions, ApplyReport, InspectLimits, Lease, Mirror, Pool};
use gauntlet_verdict::Status;
use serde::{Deserialize, Serialize};

use crate::series::Loaded;
use crate::{Error, JobSummary, Pipeline, io, report};

/// What the apply job records for the jobs after it.
#[derive(Debug, Serialize, Deserialize)]
struct Applied {
    /// The commit the series applies on (none: it did not apply).
    base: Option<String>,
    report: ApplyReport,
    /// The branch the applied series was pushed to.
    #[serde(default)]
    published: Option<String>,
}

/// What a build job records.
#[derive(Debug, Serialize, Deserialize)]
struct Built {
    outcome: gauntlet_build::Outcome,
    new_warnings: Vec<Diagnostic>,
    /// The image, copied under the artifacts directory (relative to it), for the test job.
    image: Option<PathBuf>,
}

/// The report mail's envelope, next to it (`report.eml`) in the run's directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub from: String,
    pub to: Vec<String>,
    /// The run's verdict (`accepted`, `rejected`, `error`): the mail policy's input.
    pub verdict: String,
}

/// The name of the [`Envelope`]'s file.
pub const ENVELOPE: &str = "report.envelope.json";

/// The capability a worker needs to build for `build`'s architecture.
pub fn build_capability(build: &Build) -> String {
    format!("build:{}", build.arch_name)
}

/// The capability a worker needs to boot `build`'s kernel: the local QEMU of its architecture,
/// or access to the LAVA lab.
pub fn test_capability(build: &Build, lava: bool) -> String {
    if lava {
        "lava".to_owned()
    } else {
        format!("qemu:{}", build.arch_name)
    }
}

/// How a claimed job ended, for the queue.
#[derive(Debug, Clone)]
pub struct Executed {
    pub end: JobEnd,
    /// The report job's verdict, recorded on the run.
    pub verdict: Option<Verdict>,
}

fn json<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_string(value).ok()
}

fn status_of(job: &JobRow) -> Option<Status> {
    job.status.as_deref().and_then(|s| s.parse().ok())
}

impl Pipeline {
    /// Queues a run of `project` over the submission that is `series`: checks, apply, one
    /// build per build, one test per tested build, the report; returns the run.
    pub async fn enqueue(&self, project: &Project, series: Id, now: i64) -> Result<Id, Error> {
        let loaded = Loaded::load(&self.store, series).await?;
        let run = NewRun {
            series,
            revision: loaded.detail.summary.revision,
            series_key: loaded.key(),
            project: project.name.clone(),
            project_file: project.file.display().to_string(),
        };
        let job = |stage: &str, name: &str, position: usize, requires: Vec<String>| NewJob {
            stage: stage.to_owned(),
            name: name.to_owned(),
            position: position as i64,
            requires,
        };
        let mut jobs = vec![
            QueuedJob {
                job: job("checks", "checks", 0, Vec::new()),
                spec: None,
                after: Vec::new(),
            },
            QueuedJob {
                job: job("apply", "apply", 1, Vec::new()),
                spec: None,
                after: vec![0],
            },
        ];
        let mut build_index = Vec::new();
        for build in &project.builds {
            build_index.push((build.name.clone(), jobs.len()));
            let position = jobs.len();
            jobs.push(QueuedJob {
                job: job(
                    "build",
                    &build.name,
                    position,
                    vec![build_capability(build)],
                ),
                spec: None,
                after: vec![1],
            });
        }
        let lava = self.settings.lava.is_some();
        for build in project.tested_builds() {
            let Some(&(_, after)) = build_index.iter().find(|(n, _)| *n == build.name) else {
                continue;
            };
            let requires = match project.recipe {
                Recipe::Kbuild { .. } => vec![test_capability(build, lava)],
                Recipe::Command { .. } => Vec::new(),
            };
            let position = jobs.len();
            jobs.push(QueuedJob {
                job: job("test", &build.name, position, requires),
                spec: None,
                after: vec![after],
            });
        }
        let position = jobs.len();
        jobs.push(QueuedJob {
            job: job("report", "report", position, Vec::new()),
            spec: None,
            after: (0..position).collect(),
        });
        let (run, _) = self.store.enqueue_run(&run, &jobs, now).await?;
        tracing::info!(run, series, project = %project.name, jobs = jobs.len(), "run queued");
        Ok(run)
    }

    /// Runs one claimed job of `project`.
    pub async fn execute(&self, project: &Project, claimed: &Claimed) -> Result<Executed, Error> {
        let started = Instant::now();
        let run = claimed.run;
        let detail = self
            .store
            .run_detail(run)
            .await?
            .ok_or_else(|| Error::Config(format!("run {run} is not in the store")))?;
        let loaded = Loaded::load(&self.store, detail.run.series).await?;
        let dir = self
            .settings
            .artifacts_dir
            .join("runs")
            .join(run.to_string());
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let job = claimed.job.clone();
        let mut verdict = None;
        let (status, reason, log, details) = match job.stage.as_str() {
            "checks" => {
                self.stage_checks(project, &loaded, run, claimed, &dir)
                    .await?
            }
            "apply" => match blocked(&detail, &["checks"], None) {
                Some(why) => (Status::Miss, why, None, None),
                None => self.stage_apply(project, &loaded, &dir).await?,
            },
            "build" => match blocked(&detail, &["checks", "apply"], None) {
                Some(why) => (Status::Miss, why, None, None),
                None => {
                    self.stage_build(project, &loaded, &detail, &job.name, &dir)
                        .await?
                }
            },
            "test" => match blocked(&detail, &["checks", "apply"], Some(&job.name)) {
                Some(why) => (Status::Miss, why, None, None),
                None => {
                    self.stage_test(project, &loaded, &detail, &job.name, claimed, &dir)
                        .await?
                }
            },
            "report" => {
                let (v, status, reason, log) =
                    self.stage_report(project, &loaded, &detail, &dir).await?;
                verdict = Some(v);
                (status, reason, log, None)
            }
            other => {
                return Err(Error::Config(format!("no stage is called {other:?}")));
            }
        };
        let relative = log.map(|l| {
            l.strip_prefix(&self.settings.artifacts_dir)
                .unwrap_or(&l)
                .display()
                .to_string()
        });
        Ok(Executed {
            end: JobEnd {
                status: status.as_str().to_owned(),
                reason: Some(reason),
                log: relative,
                details,
                duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            },
            verdict,
        })
    }

    async fn stage_checks(
        &self,
        project: &Project,
        loaded: &Loaded,
        run: Id,
        claimed: &Claimed,
        dir: &Path,
    ) -> Result<StageResult, Error> {
        let configured = self.registry.configure(&project.checks).map_err(|errors| {
            Error::Config(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let mut context = gauntlet_checks::Context::default();
        if let Some(tree) = &project.tree
            && let Ok(mirror) = Mirror::open(&self.settings.cache_dir, &tree.source).await
        {
            context.tree = Some(mirror.path().to_path_buf());
        }
        let checks = configured.run(&loaded.for_checks(), &context);
        let log = dir.join("checks.txt");
        std::fs::write(&log, gauntlet_checks::render_human(&checks, false))
            .map_err(io(format!("writing {}", log.display())))?;
        // A retried checks job replaces what an earlier attempt recorded.
        self.store.delete_findings(claimed.lease.job).await?;
        self.store
            .add_findings(run, claimed.lease.job, &report::finding_rows(&checks))
            .await?;
        let status = if gauntlet_checks::must_reject(&checks) {
            Status::Fail
        } else if checks.status == Status::Error {
            Status::Error
        } else {
            Status::Pass
        };
        Ok((
            status,
            report::checks_reason(&checks),
            Some(log),
            json(&checks),
        ))
    }

    async fn stage_apply(
        &self,
        project: &Project,
        loaded: &Loaded,
        dir: &Path,
    ) -> Result<StageResult, Error> {
        let (report, lease) = match self.apply(project, None, loaded).await {
            Ok(applied) => applied,
            // git or the mirror failed: the machine's fault, try again.
            Err(reason) => return Err(Error::Infrastructure(reason)),
        };
        let (status, mut reason) = report::apply_status(&report);
        // What was tested, for everyone to fetch.
        let mut published = None;
        if status == Status::Pass
            && let (Some(remote), Some(head), Some(base)) = (
                &self.settings.publish,
                lease.head(),
                report::applied_base(&report),
            )
        {
            let publication = gauntlet_tree::publish::Publication {
                project: project.name.clone(),
                series_id: loaded.detail.summary.id,
                revision: loaded.detail.summary.revision,
                head: head.to_owned(),
                base,
            };
            match gauntlet_tree::publish::publish(
                lease.path(),
                remote,
                &publication,
                std::time::SystemTime::now(),
            )
            .await
            {
                Ok(p) => {
                    reason.push_str(&format!("; published as {}", p.branch));
                    published = Some(p.branch);
                }
                // Publishing is a service to others: the submission is not at fault.
                Err(e) => tracing::warn!("not published: {e}"),
            }
        }
        let log = dir.join("apply.txt");
        std::fs::write(&log, format!("{reason}\n\n{report}\n"))
            .map_err(io(format!("writing {}", log.display())))?;
        let applied = Applied {
            base: (status == Status::Pass)
                .then(|| report::applied_base(&report))
                .flatten(),
            report,
            published,
        };
        Ok((status, reason, Some(log), json(&applied)))
    }

    /// A working copy with the series applied on the base the apply job chose.
    async fn applied_copy(
        &self,
        project: &Project,
        loaded: &Loaded,
        base: &str,
    ) -> Result<Lease, Error> {
        let tree = project
            .tree
            .as_ref()
            .ok_or_else(|| Error::Config("the project names no tree".into()))?;
        let infra = |what: &str| {
            let what = what.to_owned();
            move |e: gauntlet_tree::Error| Error::Infrastructure(format!("{what}: {e}"))
        };
        let mirror = Mirror::open(&self.settings.cache_dir, &tree.source)
            .await
            .map_err(infra("the tree cannot be mirrored"))?;
        mirror
            .fetch()
            .await
            .map_err(infra("the tree cannot be fetched"))?;
        let pool = Pool::new(mirror, self.settings.pool_size).map_err(infra("no working copy"))?;
        let mut lease = pool.lease().await.map_err(infra("no working copy"))?;
        let options = ApplyOptions {
            limits: InspectLimits::from(&project.limits),
            ..ApplyOptions::default()
        };
        let report = gauntlet_tree::choose_base_and_apply(
            &mut lease,
            &loaded.for_apply(),
            Some(base),
            &[],
            &options,
        )
        .await
        .map_err(infra("git failed"))?;
        if report::applied_base(&report).as_deref() != Some(base) {
            return Err(Error::Infrastructure(format!(
                "the series no longer applies on {base} here: {report}"
            )));
        }
        Ok(lease)
    }

    async fn stage_build(
        &self,
        project: &Project,
        loaded: &Loaded,
        detail: &RunDetail,
        name: &str,
        dir: &Path,
    ) -> Result<StageResult, Error> {
        let build = build_named(project, name)?;
        let applied = applied_of(detail)?;
        let Some(base) = applied.base else {
            return Ok((
                Status::Miss,
                "not run: the series did not apply".into(),
                None,
                None,
            ));
        };
        let mut lease = self.applied_copy(project, loaded, &base).await?;
        let build_dir = self.build_dir(&lease, build);
        let log_dir = dir.join("build");
        // Resetting the working copy to the base keeps its path.
        let source = lease.path().to_path_buf();
        let request = gauntlet_build::Request {
            recipe: &project.recipe,
            build,
            source: &source,
            build_dir: &build_dir,
            log_dir: &log_dir,
            jobs: self.settings.jobs,
            limits: &project.limits,
        };
        let mut outcome = self
            .builder()
            .build(&request)
            .await
            .map_err(|e| Error::Infrastructure(e.to_string()))?;
        // The image, where every host can read it.
        let image = match (&project.recipe, &outcome.artifact) {
            (Recipe::Kbuild { .. }, Some(artifact)) if outcome.status == Status::Pass => {
                let file = artifact
                    .file_name()
                    .map_or_else(|| PathBuf::from("image"), |f| PathBuf::from(f.to_owned()));
                let relative = Path::new("runs")
                    .join(detail.run.id.to_string())
                    .join("build")
                    .join(&build.name)
                    .join(file);
                let target = self.settings.artifacts_dir.join(&relative);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(io(format!("creating {}", parent.display())))?;
                }
                std::fs::copy(artifact, &target)
                    .map_err(io(format!("copying the image to {}", target.display())))?;
                Some(relative)
            }
            _ => None,
        };
        // The base, where it tells something: which warnings are new, does it fail too?
        let mut new_warnings = Vec::new();
        let mut status = outcome.status;
        let mut reason = outcome.reason.clone();
        if (outcome.status == Status::Fail || outcome.warnings().next().is_some())
            && lease.reset(&base).await.is_ok()
        {
            let base_log = log_dir.join("base");
            let request = gauntlet_build::Request {
                log_dir: &base_log,
                ..request
            };
            if let Ok(on_base) = self.builder().build(&request).await {
                if outcome.status == Status::Fail && on_base.status == Status::Fail {
                    status = Status::Error;
                    reason = format!(
                        "the base does not build either ({}): not the series' fault",
                        on_base.reason
                    );
                } else {
                    new_warnings =
                        gauntlet_build::new_warnings(&outcome.diagnostics, &on_base.diagnostics)
                            .into_iter()
                            .cloned()
                            .collect();
                }
            }
        }
        let log = outcome.main_log().map(Path::to_path_buf);
        if let Some(relative) = &image {
            outcome.artifact = Some(self.settings.artifacts_dir.join(relative));
        }
        let built = Built {
            outcome,
            new_warnings,
            image,
        };
        Ok((status, reason, log, json(&built)))
    }

    async fn stage_test(
        &self,
        project: &Project,
        loaded: &Loaded,
        detail: &RunDetail,
        name: &str,
        claimed: &Claimed,
        dir: &Path,
    ) -> Result<StageResult, Error> {
        let build = build_named(project, name)?;
        let built: Built = details_of(detail, "build", Some(name))
            .ok_or_else(|| Error::Infrastructure(format!("build {name} recorded nothing")))?;
        if built.outcome.status != Status::Pass {
            return Ok((
                Status::Miss,
                "not run: the build did not succeed".into(),
                None,
                None,
            ));
        }
        let applied = applied_of(detail)?;
        let base = applied
            .base
            .ok_or_else(|| Error::Infrastructure("the apply job recorded no base".into()))?;
        let lease = self.applied_copy(project, loaded, &base).await?;
        let mut outcome = built.outcome;
        if let Some(image) = &built.image {
            outcome.artifact = Some(self.settings.artifacts_dir.join(image));
        } else if matches!(project.recipe, Recipe::Command { .. }) {
            // A command builds in its working copy, which the tests use: this host's copy is
            // built again (incrementally when this host built it).
            let build_dir = self.build_dir(&lease, build);
            let request = gauntlet_build::Request {
                recipe: &project.recipe,
                build,
                source: lease.path(),
                build_dir: &build_dir,
                log_dir: &dir.join("test").join("build"),
                jobs: self.settings.jobs,
                limits: &project.limits,
            };
            let rebuilt = self
                .builder()
                .build(&request)
                .await
                .map_err(|e| Error::Infrastructure(e.to_string()))?;
            if rebuilt.status != Status::Pass {
                return Err(Error::Infrastructure(format!(
                    "the build passed, but not again on this host: {}",
                    rebuilt.reason
                )));
            }
            outcome.artifact = rebuilt.artifact;
        }
        let (status, reason, runs) = self
            .test(
                project,
                build,
                &outcome,
                Some(&lease),
                dir,
                claimed.lease.job,
            )
            .await;
        if runs.is_empty() && status == Status::Error {
            // Nothing ran: the lab or the machine failed.
            return Err(Error::Infrastructure(reason));
        }
        self.store.delete_results(claimed.lease.job).await?;
        self.store
            .add_results(claimed.run, claimed.lease.job, &report::result_rows(&runs))
            .await?;
        let log = runs.first().map(|r| r.log.clone());
        Ok((status, reason, log, json(&runs)))
    }

    async fn stage_report(
        &self,
        project: &Project,
        loaded: &Loaded,
        detail: &RunDetail,
        dir: &Path,
    ) -> Result<(Verdict, Status, String, Option<PathBuf>), Error> {
        let run = detail.run.id;
        let jobs: Vec<JobSummary> = detail
            .jobs
            .iter()
            .filter(|j| j.stage != "report")
            .map(|j| JobSummary {
                id: j.id,
                stage: j.stage.clone(),
                name: j.name.clone(),
                status: status_of(j).unwrap_or(Status::Miss),
                reason: j.reason.clone().unwrap_or_default(),
                log: j.log.as_ref().map(|l| self.settings.artifacts_dir.join(l)),
                duration_ms: u128::try_from(j.duration_ms.unwrap_or(0)).unwrap_or(0),
            })
            .collect();
        let statuses: Vec<Status> = jobs.iter().map(|j| j.status).collect();
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
        let verdict_reason = report::verdict_reason(verdict, &jobs);
        let checks: gauntlet_checks::Report = details_of(detail, "checks", None)
            .ok_or_else(|| Error::Infrastructure("the checks recorded nothing".into()))?;
        let applied: Option<Applied> = details_of(detail, "apply", None);
        let built: Vec<(String, Option<gauntlet_build::Outcome>, Vec<Diagnostic>)> = project
            .builds
            .iter()
            .map(|b| {
                let built: Option<Built> = details_of(detail, "build", Some(&b.name));
                match built {
                    Some(built) => (b.name.clone(), Some(built.outcome), built.new_warnings),
                    None => (b.name.clone(), None, Vec::new()),
                }
            })
            .collect();
        let suites: Vec<(String, Vec<gauntlet_lab::SuiteRun>)> = project
            .tested_builds()
            .filter_map(|b| {
                details_of::<Vec<gauntlet_lab::SuiteRun>>(detail, "test", Some(&b.name))
                    .map(|runs| (b.name.clone(), runs))
            })
            .collect();
        let data = report::data(report::Inputs {
            project,
            loaded,
            verdict,
            checks: &checks,
            apply: applied.as_ref().map(|a| &a.report),
            built: &built,
            suites: &suites,
            jobs: &jobs,
            logs: self.logs_url(run, dir),
        });
        let template = match &project.report.template {
            Some(path) => Template::from_file(path),
            None => Ok(Template::builtin()),
        };
        let text = template
            .and_then(|t| t.render(&data))
            .map_err(|e| Error::Config(format!("the report template: {e}")))?;
        let report_file = dir.join("report.txt");
        std::fs::write(&report_file, &text)
            .map_err(io(format!("writing {}", report_file.display())))?;
        // The mail, composed once: the service's reporter sends it exactly once.
        let (status, reason) =
            match report::reply(project, loaded, run, &text, &self.settings.mail_from) {
                Ok((bytes, recipients)) => {
                    let mail = dir.join("report.eml");
                    std::fs::write(&mail, bytes)
                        .map_err(io(format!("writing {}", mail.display())))?;
                    let envelope = Envelope {
                        from: self.settings.mail_from.email.clone(),
                        to: recipients,
                        verdict: verdict.as_str().to_owned(),
                    };
                    let file = dir.join(ENVELOPE);
                    std::fs::write(&file, json(&envelope).unwrap_or_default())
                        .map_err(io(format!("writing {}", file.display())))?;
                    (
                        Status::Done,
                        format!("{}: {verdict_reason}", verdict.as_str()),
                    )
                }
                Err(e) => (Status::Error, e),
            };
        self.store
            .set_run_verdict(
                run,
                verdict.as_str(),
                Some(&verdict_reason),
                applied
                    .as_ref()
                    .and_then(|a| serde_json::to_string(&a.report).ok())
                    .as_deref(),
            )
            .await?;
        Ok((verdict, status, reason, Some(report_file)))
    }
}

/// A stage's status, reason, log and details.
type StageResult = (Status, String, Option<PathBuf>, Option<String>);

/// Why a job must not run: one of the stages it follows did not pass (none: it may run). A
/// test also needs its own build.
fn blocked(detail: &RunDetail, stages: &[&str], build: Option<&str>) -> Option<String> {
    for job in &detail.jobs {
        let relevant = stages.contains(&job.stage.as_str())
            || (job.stage == "build" && build == Some(job.name.as_str()));
        if !relevant {
            continue;
        }
        let status = status_of(job);
        let fine = match job.stage.as_str() {
            // Checks that could not run do not stop the series; a rejection does.
            "checks" => status != Some(Status::Fail),
            _ => status == Some(Status::Pass),
        };
        if !fine {
            return Some(match job.stage.as_str() {
                "checks" => "not run: the series was rejected by the checks".to_owned(),
                stage => format!(
                    "not run: the {stage} stage ended {}",
                    job.status.as_deref().unwrap_or("without a status")
                ),
            });
        }
    }
    None
}

/// The project's build called `name`.
fn build_named<'p>(project: &'p Project, name: &str) -> Result<&'p Build, Error> {
    project
        .builds
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| Error::Config(format!("the project has no build {name:?}")))
}

/// What the run's apply job recorded.
fn applied_of(detail: &RunDetail) -> Result<Applied, Error> {
    details_of(detail, "apply", None)
        .ok_or_else(|| Error::Infrastructure("the apply job recorded no base".into()))
}

/// The details a job of `stage` (and `name`) recorded.
fn details_of<T: for<'de> Deserialize<'de>>(
    detail: &RunDetail,
    stage: &str,
    name: Option<&str>,
) -> Option<T> {
    let job = detail
        .jobs
        .iter()
        .find(|j| j.stage == stage && name.is_none_or(|n| j.name == n))?;
    match serde_json::from_str(job.details.as_deref()?) {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!(job = job.id, stage, "its details cannot be read back: {e}");
            None
        }
    }
}

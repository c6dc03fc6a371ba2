//! The LAVA backend: a build's kernel and initramfs booted and tested by a LAVA lab.
//!
//! [`LavaLab::run`] makes one job per build ([`LavaLab::job_definition`]): the device type and
//! context from [`LavaSettings`] for the build's architecture, a `deploy` of the kernel, the
//! initramfs (and modules) by URL, a `boot` (QEMU's, or the board's method), and a `test` that is
//! either
//! * [`TestMode::Monitors`] (the default): the initramfs' `/init` runs the tests itself and
//!   prints, for each project test, [`monitor_markers`] around its KTAP output; LAVA's
//!   monitors match the result lines, and gauntlet reads the console with its own KTAP parser
//!   (the authoritative view: LAVA's monitors cannot see `# SKIP`);
//! * [`TestMode::Definitions`]: the project's LAVA test definitions, inline (the guest needs a
//!   shell and LAVA's overlay; see the boot `prompts`).
//!
//! The artifacts are served by an [`ArtifactServer`] (or given as `file://` URLs when the
//! dispatcher is on this machine), the job is submitted, followed to its end, and its results
//! mapped to one [`SuiteRun`] per project test: an infrastructure failure (Incomplete, Canceled,
//! one of LAVA's own actions failed) makes every suite ERROR with LAVA's reason; a kernel that
//! broke makes them FAIL; otherwise each suite is its results (as on the host: none is FAIL).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gauntlet_lava::{
    Action, ArtifactServer, Boot, Canceller, Client, ClientConfig, DefinitionMetadata,
    DefinitionRef, Deploy, FollowOptions, Followed, Follower, Image, InlineDefinition,
    JobDefinition, Map, Monitor, Parse, Priority, Repository, Run, Test as LavaTest, Timeout,
    Timeouts, Verdict, Visibility, file_url, settings::duration,
};
use gauntlet_project::{Build, Project, Test, TestSuite};
use gauntlet_results::{Counts, StreamConfig, Suite};
use gauntlet_verdict::Status;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};

use crate::{Error, SuiteRun, io};

/// How the job's tests run on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestMode {
    /// The initramfs runs the tests and prints KTAP between [`monitor_markers`].
    #[default]
    Monitors,
    /// The project's test definitions, inline, run by LAVA's test shell.
    Definitions,
}

/// The `boot` action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootSettings {
    /// `qemu`, or the board's (`u-boot`, `grub`, `depthcharge`…).
    #[serde(default = "defaults::method")]
    pub method: String,
    #[serde(default)]
    pub media: Option<String>,
    /// Prompts for [`TestMode::Definitions`] (the guest's shell prompt).
    #[serde(default)]
    pub prompts: Vec<String>,
    /// Other keys of the boot action (`commands`, `type`…), as written.
    #[serde(default)]
    pub extra: Map,
}

impl Default for BootSettings {
    fn default() -> Self {
        BootSettings {
            method: defaults::method(),
            media: Some("tmpfs".to_owned()),
            prompts: Vec::new(),
            extra: Map::new(),
        }
    }
}

/// Where the dispatcher fetches the artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactSettings {
    /// Serve them over HTTP on this address (`0.0.0.0:8099`; port 0 picks one); none: `file://`
    /// URLs (the dispatcher runs on this machine).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// How the dispatcher reaches the server, when not `http://<listen>/`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Where each job's artifacts are put while it runs (default: a `lava-artifacts` directory
    /// in the system's temporary directory).
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

/// Timeouts of the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobTimeouts {
    /// The whole job (the tests' own timeouts are added).
    #[serde(default = "defaults::job", with = "duration")]
    pub job: Duration,
    #[serde(default = "defaults::action", with = "duration")]
    pub action: Duration,
    #[serde(default = "defaults::connection", with = "duration")]
    pub connection: Duration,
    #[serde(default = "defaults::deploy", with = "duration")]
    pub deploy: Duration,
    #[serde(default = "defaults::boot", with = "duration")]
    pub boot: Duration,
    /// Time allowed in the queue before the follower gives up and cancels.
    #[serde(default = "defaults::queue", with = "duration")]
    pub queue: Duration,
}

impl Default for JobTimeouts {
    fn default() -> Self {
        JobTimeouts {
            job: defaults::job(),
            action: defaults::action(),
            connection: defaults::connection(),
            deploy: defaults::deploy(),
            boot: defaults::boot(),
            queue: defaults::queue(),
        }
    }
}

mod defaults {
    use std::time::Duration;

    pub(super) fn method() -> String {
        "qemu".to_owned()
    }
    pub(super) fn job() -> Duration {
        Duration::from_secs(600)
    }
    pub(super) fn action() -> Duration {
        Duration::from_secs(300)
    }
    pub(super) fn connection() -> Duration {
        Duration::from_secs(120)
    }
    pub(super) fn deploy() -> Duration {
        Duration::from_secs(120)
    }
    pub(super) fn boot() -> Duration {
        Duration::from_secs(180)
    }
    pub(super) fn queue() -> Duration {
        Duration::from_secs(3600)
    }
    pub(super) fn kernel_args() -> String {
        "console=ttyS0,115200 panic=-1".to_owned()
    }
    pub(super) fn poll() -> Duration {
        Duration::from_secs(3)
    }
    pub(super) fn deploy_to() -> String {
        "tmpfs".to_owned()
    }
    pub(super) fn visibility() -> String {
        "public".to_owned()
    }
}

/// The LAVA backend's settings (the service configuration embeds them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LavaSettings {
    pub server: ClientConfig,
    /// The device type for each architecture (`x86_64: qemu`); a build whose architecture is
    /// not here cannot be tested by this lab.
    pub device_types: IndexMap<String, String>,
    /// `context:` per architecture, over gauntlet's (`arch` for QEMU, and `no_kvm`…).
    #[serde(default)]
    pub context: IndexMap<String, Map>,
    #[serde(default)]
    pub mode: TestMode,
    #[serde(default)]
    pub boot: BootSettings,
    /// `deploy: to:` (`tmpfs` for QEMU, `tftp` for a U-Boot board…).
    #[serde(default = "defaults::deploy_to")]
    pub deploy_to: String,
    /// The kernel command line (for QEMU, in the kernel's `image_arg`; never `quiet`, which
    /// hides the start message LAVA waits for).
    #[serde(default = "defaults::kernel_args")]
    pub kernel_args: String,
    #[serde(default)]
    pub timeouts: JobTimeouts,
    #[serde(default)]
    pub artifacts: ArtifactSettings,
    #[serde(default = "defaults::poll", with = "duration")]
    pub poll_interval: Duration,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default = "defaults::visibility")]
    pub visibility: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl LavaSettings {
    /// A QEMU lab at `url`: `x86_64` on device type `qemu`, everything else default.
    pub fn qemu(url: impl Into<String>, token: Option<String>) -> LavaSettings {
        LavaSettings {
            server: ClientConfig::new(url, token),
            device_types: [("x86_64".to_owned(), "qemu".to_owned())]
                .into_iter()
                .collect(),
            context: IndexMap::new(),
            mode: TestMode::default(),
            boot: BootSettings::default(),
            deploy_to: defaults::deploy_to(),
            kernel_args: defaults::kernel_args(),
            timeouts: JobTimeouts::default(),
            artifacts: ArtifactSettings::default(),
            poll_interval: defaults::poll(),
            priority: None,
            visibility: defaults::visibility(),
            tags: Vec::new(),
        }
    }
}

/// The lines the initramfs prints around a suite's KTAP output, for its LAVA monitor.
pub fn monitor_markers(suite: &str) -> (String, String) {
    (
        format!("GAUNTLET-SUITE-START {suite}"),
        format!("GAUNTLET-SUITE-END {suite}"),
    )
}

/// A KTAP result line, for LAVA's monitors (ends at the line's end: pexpect may see a line
/// half received).
pub const MONITOR_PATTERN: &str =
    r"(?P<result>ok|not ok) \d+ (?:- )?(?P<test_case_id>[^\s#]+)[^\r\n]*\r*\n";

/// LAVA's `context.arch` for a QEMU device of this architecture.
fn qemu_arch(arch: &str) -> &str {
    match arch {
        "powerpc64" => "ppc64",
        "powerpc64le" => "ppc64le",
        other => other,
    }
}

/// What the test stage gives the LAVA lab for one build.
#[derive(Debug)]
pub struct LavaRequest<'a> {
    pub project: &'a Project,
    pub build: &'a Build,
    pub kernel: &'a Path,
    pub initramfs: &'a Path,
    pub modules: Option<&'a Path>,
    pub log_dir: &'a Path,
    /// Put in the job's `metadata` (series, revision…).
    pub metadata: Map,
    /// Console lines as they come, for a progress display.
    pub progress: Option<mpsc::Sender<Vec<u8>>>,
    /// Set to a reason to cancel the job (a newer revision superseded the series).
    pub supersede: Option<watch::Receiver<Option<String>>>,
}

/// One LAVA job's outcome.
#[derive(Debug, Clone)]
pub struct LavaRun {
    pub job_id: u64,
    pub job_url: String,
    pub suites: Vec<SuiteRun>,
    pub verdict: Verdict,
    /// Submission to results read.
    pub latency: Duration,
    /// The job definition submitted.
    pub definition: String,
}

/// The URLs of one job's artifacts.
#[derive(Debug, Clone)]
pub struct ArtifactUrls {
    pub kernel: String,
    pub initramfs: String,
    pub modules: Option<String>,
}

/// A LAVA lab.
#[derive(Debug)]
pub struct LavaLab {
    client: Client,
    settings: LavaSettings,
    server: Option<ArtifactServer>,
    dir: PathBuf,
}

static JOBS: AtomicU64 = AtomicU64::new(0);

impl LavaLab {
    /// Connects nothing yet; starts the artifact server if one is configured.
    pub async fn new(settings: LavaSettings) -> Result<LavaLab, Error> {
        let client = Client::new(&settings.server)?;
        let dir = settings
            .artifacts
            .dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("gauntlet-lava-artifacts"));
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let server = match settings.artifacts.listen {
            Some(listen) => Some(
                ArtifactServer::start(&dir, listen, settings.artifacts.base_url.as_deref()).await?,
            ),
            None => None,
        };
        Ok(LavaLab {
            client,
            settings,
            server,
            dir,
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Asks the lab who we are: fails early and clearly when the lab is down or refuses the
    /// token. Gives LAVA's version and the user.
    pub async fn check(&self) -> Result<(String, String), Error> {
        let version = self.client.version().await?;
        let user = self.client.whoami().await?.ok_or_else(|| {
            Error::Lava(gauntlet_lava::Error::TokenRefused {
                server: self.client.server().to_owned(),
                status: 200,
                detail: "the lab sees this client as anonymous (no token, or not a user's)"
                    .to_owned(),
            })
        })?;
        Ok((version, user))
    }

    /// The device type for a build.
    fn device_type(&self, build: &Build) -> Result<&str, Error> {
        let arch = build.arch.map_or(build.arch_name.as_str(), |a| a.name);
        self.settings
            .device_types
            .get(arch)
            .map(String::as_str)
            .ok_or_else(|| {
                Error::Unsupported(format!(
                    "build {}: the LAVA lab has no device type for {arch} (settings: device_types)",
                    build.name
                ))
            })
    }

    /// The job definition for one build.
    pub fn job_definition(
        &self,
        request: &LavaRequest<'_>,
        urls: &ArtifactUrls,
    ) -> Result<JobDefinition, Error> {
        let s = &self.settings;
        let build = request.build;
        let arch = build.arch.map_or(build.arch_name.as_str(), |a| a.name);
        let qemu = s.boot.method == "qemu";
        let mut context = Map::new();
        if qemu {
            context.insert("arch".into(), qemu_arch(arch).into());
        }
        if let Some(extra) = s.context.get(arch) {
            context.extend(extra.clone());
        }
        let mut images = IndexMap::new();
        let (kernel_arg, initrd_arg) = if qemu {
            (
                Some(format!("-kernel {{kernel}} -append \"{}\"", s.kernel_args)),
                Some("-initrd {initrd}".to_owned()),
            )
        } else {
            (None, None)
        };
        images.insert("kernel".to_owned(), Image::new(&urls.kernel, kernel_arg));
        images.insert("initrd".to_owned(), Image::new(&urls.initramfs, initrd_arg));
        if let Some(modules) = &urls.modules {
            let mut image = Image::new(modules, None);
            image.compression = Some("gz".to_owned());
            images.insert("modules".to_owned(), image);
        }
        let tests = tested(request.project);
        let test_time: Duration = tests.iter().map(|t| t.timeout).sum();
        let mut test = LavaTest {
            timeout: Some(Timeout::from_duration(
                test_time.max(Duration::from_secs(60)),
            )),
            definitions: Vec::new(),
            monitors: Vec::new(),
            extra: Map::new(),
        };
        let mut boot = Boot {
            timeout: Some(Timeout::from_duration(s.timeouts.boot)),
            method: s.boot.method.clone(),
            media: s.boot.media.clone(),
            prompts: Vec::new(),
            auto_login: None,
            extra: s.boot.extra.clone(),
        };
        match s.mode {
            TestMode::Monitors => {
                for t in &tests {
                    let name = suite_name(t);
                    let (start, end) = monitor_markers(&name);
                    test.monitors.push(Monitor {
                        name,
                        start,
                        end,
                        pattern: MONITOR_PATTERN.to_owned(),
                        fixupdict: [("ok", "pass"), ("not ok", "fail")]
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect(),
                    });
                }
            }
            TestMode::Definitions => {
                boot.prompts = s.boot.prompts.clone();
                for t in &tests {
                    if let Some(reference) = inline_definition(t) {
                        test.definitions.push(reference);
                    }
                }
            }
        }
        let mut metadata = Map::new();
        metadata.insert(
            "gauntlet.project".into(),
            request.project.name.clone().into(),
        );
        metadata.insert("gauntlet.build".into(), build.name.clone().into());
        metadata.extend(request.metadata.clone());
        let mut actions = vec![
            Action::Deploy(Deploy {
                timeout: Some(Timeout::from_duration(s.timeouts.deploy)),
                to: s.deploy_to.clone(),
                images,
                os: None,
                extra: Map::new(),
            }),
            Action::Boot(boot),
        ];
        if !(test.monitors.is_empty() && test.definitions.is_empty()) {
            actions.push(Action::Test(test));
        }
        Ok(JobDefinition {
            job_name: clip_name(&format!("gauntlet {} {}", request.project.name, build.name)),
            device_type: Some(self.device_type(build)?.to_owned()),
            timeouts: Timeouts {
                job: Timeout::from_duration(s.timeouts.job + test_time),
                action: Some(Timeout::from_duration(s.timeouts.action)),
                connection: Some(Timeout::from_duration(s.timeouts.connection)),
                queue: None,
                actions: IndexMap::new(),
                connections: IndexMap::new(),
            },
            visibility: Visibility::Named(s.visibility.clone()),
            priority: s.priority.clone().map(Priority::Named),
            context,
            metadata,
            tags: s.tags.clone(),
            actions,
            extra: Map::new(),
        })
    }

    /// Puts the artifacts where the dispatcher can fetch them; the directory to remove after.
    fn publish(&self, request: &LavaRequest<'_>) -> Result<(ArtifactUrls, Option<PathBuf>), Error> {
        let Some(server) = &self.server else {
            return Ok((
                ArtifactUrls {
                    kernel: file_url(request.kernel)?,
                    initramfs: file_url(request.initramfs)?,
                    modules: request.modules.map(file_url).transpose()?,
                },
                None,
            ));
        };
        let key = format!(
            "{}-{}-{}",
            std::process::id(),
            JOBS.fetch_add(1, Ordering::Relaxed),
            sanitize(&request.build.name)
        );
        let dir = self.dir.join(key);
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        let put = |from: &Path, name: &str| -> Result<String, Error> {
            let to = dir.join(name);
            if std::fs::hard_link(from, &to).is_err() {
                std::fs::copy(from, &to).map_err(io(format!(
                    "copying {} to {}",
                    from.display(),
                    to.display()
                )))?;
            }
            Ok(server.url_for(&to)?)
        };
        let urls = ArtifactUrls {
            kernel: put(request.kernel, "kernel")?,
            initramfs: put(request.initramfs, "initramfs.cpio.gz")?,
            modules: request
                .modules
                .map(|m| put(m, "modules.tar.gz"))
                .transpose()?,
        };
        Ok((urls, Some(dir)))
    }

    /// Submits the build's job, follows it, and maps its results.
    pub async fn run(&self, request: &LavaRequest<'_>) -> Result<LavaRun, Error> {
        std::fs::create_dir_all(request.log_dir)
            .map_err(io(format!("creating {}", request.log_dir.display())))?;
        let (urls, published) = self.publish(request)?;
        let result = self.submit_and_follow(request, &urls).await;
        if let Some(dir) = published {
            let _ = std::fs::remove_dir_all(dir);
        }
        result
    }

    /// Like [`LavaLab::run`], with artifacts the caller has put where the dispatcher fetches
    /// them.
    pub async fn run_with_urls(
        &self,
        request: &LavaRequest<'_>,
        urls: &ArtifactUrls,
    ) -> Result<LavaRun, Error> {
        std::fs::create_dir_all(request.log_dir)
            .map_err(io(format!("creating {}", request.log_dir.display())))?;
        self.submit_and_follow(request, urls).await
    }

    async fn submit_and_follow(
        &self,
        request: &LavaRequest<'_>,
        urls: &ArtifactUrls,
    ) -> Result<LavaRun, Error> {
        let definition = self.job_definition(request, urls)?;
        let yaml = definition.to_yaml().map_err(gauntlet_lava::Error::from)?;
        let job_id = self.client.submit(&yaml).await?;
        tracing::info!(job_id, url = %self.client.job_url(job_id), "LAVA: job submitted");
        let log = request.log_dir.join(format!(
            "{}-lava-{job_id}.log.yaml",
            sanitize(&request.build.name)
        ));
        let mut console = StreamConfig::kernel_console();
        if self.settings.mode == TestMode::Definitions {
            console.console.userspace_marker = None;
            console.console.done_marker = None;
        }
        let options = FollowOptions {
            poll_interval: self.settings.poll_interval,
            deadline: self.settings.timeouts.queue
                + self.settings.timeouts.job
                + definition.timeouts.job.duration(),
            console,
            ..FollowOptions::default()
        };
        let mut follower = Follower::new(&self.client, job_id, options);
        if let Some(progress) = &request.progress {
            follower = follower.progress(progress.clone());
        }
        let watcher = request
            .supersede
            .clone()
            .map(|rx| tokio::spawn(forward_cancel(rx, follower.canceller())));
        let followed = follower.run(Some(&log)).await;
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        let followed = followed?;
        let tests = tested(request.project);
        let (suites, verdict) = map_suites(&followed, &tests, self.settings.mode, &log);
        Ok(LavaRun {
            job_id,
            job_url: self.client.job_url(job_id),
            suites,
            verdict,
            latency: followed.timings.finished_after,
            definition: yaml,
        })
    }
}

async fn forward_cancel(mut rx: watch::Receiver<Option<String>>, canceller: Canceller) {
    loop {
        if let Some(why) = rx.borrow_and_update().clone() {
            canceller.cancel(why);
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// The project's tests that a LAVA job runs (its LAVA definitions).
fn tested(project: &Project) -> Vec<&Test> {
    project
        .tests
        .iter()
        .filter(|t| matches!(t.suite, TestSuite::Lava(_)))
        .collect()
}

fn suite_name(test: &Test) -> String {
    match &test.suite {
        TestSuite::Lava(d) => sanitize(&d.name),
        TestSuite::LkpJob => sanitize(
            &test
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    }
}

fn inline_definition(test: &Test) -> Option<DefinitionRef> {
    let TestSuite::Lava(d) = &test.suite else {
        return None;
    };
    let name = sanitize(&d.name);
    Some(DefinitionRef {
        from: "inline".to_owned(),
        name: name.clone(),
        path: format!("inline/{name}.yaml"),
        repository: Repository::Inline(Box::new(InlineDefinition {
            metadata: DefinitionMetadata {
                format: gauntlet_project::testdef::FORMAT.to_owned(),
                name: d.name.clone(),
                description: d.description.clone(),
                version: Some(d.version.clone().unwrap_or_else(|| "1.0".to_owned())),
                extra: Map::new(),
            },
            params: d.params.clone(),
            install: None,
            run: Run {
                steps: d.run_steps.iter().map(|s| s.command.clone()).collect(),
            },
            parse: d.parse.as_ref().map(|p| Parse {
                pattern: p.pattern.clone(),
                fixupdict: p.fixupdict.clone(),
            }),
            extra: Map::new(),
        })),
        params: test.params.clone(),
        extra: Map::new(),
    })
}

/// The console lines (numbers) where a suite starts and ends.
fn suite_range(followed: &Followed, start: &str, end: &str) -> Option<(u64, u64)> {
    let mut first = None;
    let mut last = None;
    for (n, line) in followed.console.log.lines() {
        let text = String::from_utf8_lossy(line);
        if first.is_none() && text.contains(start) {
            first = Some(n);
        } else if first.is_some() && text.contains(end) {
            last = Some(n);
            break;
        }
    }
    Some((first?, last.unwrap_or(u64::MAX)))
}

/// One [`SuiteRun`] per project test, and the job's verdict.
fn map_suites(
    followed: &Followed,
    tests: &[&Test],
    mode: TestMode,
    log: &Path,
) -> (Vec<SuiteRun>, Verdict) {
    let ours = followed.console.suites();
    let documents = &followed.console.ktap.documents;
    let mut runs = Vec::new();
    let mut mapped: Vec<Suite> = Vec::new();
    for (index, test) in tests.iter().enumerate() {
        let name = suite_name(test);
        let range = match mode {
            TestMode::Monitors => {
                let (start, end) = monitor_markers(&name);
                suite_range(followed, &start, &end)
            }
            TestMode::Definitions => suite_range(
                followed,
                &format!("<LAVA_SIGNAL_STARTRUN {index}_{name} "),
                &format!("<LAVA_SIGNAL_ENDRUN {index}_{name} "),
            ),
        };
        let mut suite = Suite::new(name.clone());
        // KTAP documents inside the suite's lines (all of them when it is the only suite and
        // its markers are not in the kept log).
        for doc in documents {
            let inside = match range {
                Some((a, b)) => doc.first_line >= a && doc.first_line <= b,
                None => tests.len() == 1,
            };
            if inside {
                for mut r in doc.to_suite().results {
                    r.path.suite = name.clone();
                    suite.results.push(r);
                }
            }
        }
        // LAVA signals of the definition's run (`0_name`).
        let run_name = format!("{index}_{name}");
        for s in ours.iter().filter(|s| s.name == run_name || s.name == name) {
            if documents.iter().any(|d| d.name == s.name) {
                continue;
            }
            suite.outcome = s.outcome.clone();
            suite.results.extend(s.results.iter().cloned());
        }
        // Without a console reading (a board whose console LAVA did not log), LAVA's view.
        if suite.results.is_empty()
            && let Some(theirs) = followed
                .lava_suites()
                .into_iter()
                .find(|s| s.name == run_name || s.name == name)
        {
            suite.results = theirs.results;
        }
        mapped.push(suite);
    }
    let verdict = followed.verdict(&mapped);
    let any_own_failure = mapped.iter().any(|s| s.status() == Status::Fail);
    for (suite, test) in mapped.into_iter().zip(tests) {
        let counts = Counts::of(suite.results.iter().map(|r| r.status));
        let (status, reason) = if verdict.infrastructure {
            (Status::Error, verdict.reason.clone())
        } else if verdict.status == Status::Fail && !any_own_failure {
            (Status::Fail, verdict.reason.clone())
        } else {
            own_status(&suite, &counts)
        };
        runs.push(SuiteRun {
            suite: suite.name.clone(),
            test_file: test.path.clone(),
            status,
            reason,
            results: suite.results,
            counts,
            log: log.to_path_buf(),
            duration_ms: followed.timings.finished_after.as_millis(),
        });
    }
    (runs, verdict)
}

/// A suite's status from its own results (as on the host: no result is a failure).
fn own_status(suite: &Suite, counts: &Counts) -> (Status, String) {
    let failed = counts.get(Status::Fail);
    let total = counts.total();
    let status = suite.status();
    if total == 0 {
        (Status::Fail, "the tests reported no result".to_owned())
    } else if failed > 0 || status == Status::Fail {
        (Status::Fail, format!("{failed} of {total} failed"))
    } else {
        (
            status.combine(Status::Pass),
            format!("{} of {total} passed", counts.get(Status::Pass)),
        )
    }
}

fn clip_name(name: &str) -> String {
    name.chars().take(200).collect()
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

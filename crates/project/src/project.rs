//! Project files: what a project takes, and how it checks, builds, tests and reports.

use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::arch::{self, Arch};
use crate::checks::CheckSettings;
use crate::error::{Error, Errors, Location};
use crate::testdef::{self, TestDefinition};
use crate::units::{Size, Span};
use crate::yaml;

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tree: Option<RawTree>,
    #[serde(default)]
    accepts: RawAccepts,
    #[serde(default)]
    checks: IndexMap<String, Spanned<CheckSettings>>,
    #[serde(default)]
    recipe: Option<Spanned<RawRecipe>>,
    #[serde(default)]
    builds: Vec<Spanned<RawBuild>>,
    #[serde(default)]
    tests: Option<OneOrMany<RawTests>>,
    #[serde(default)]
    report: RawReport,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTree {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    branches: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAccepts {
    #[serde(default)]
    list_ids: Vec<String>,
    #[serde(default)]
    patchwork_projects: Vec<String>,
    #[serde(default)]
    subject_tags: Vec<String>,
    #[serde(default)]
    paths: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    base_config: Option<Spanned<String>>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    make_args: Vec<String>,
    #[serde(default)]
    artifacts: Vec<String>,
    #[serde(default)]
    env: IndexMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    arch: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    config: Vec<Spanned<String>>,
    #[serde(default)]
    base_config: Option<Spanned<String>>,
    /// The seed's name for "boot and test this build"; `test` is accepted too.
    #[serde(default, alias = "test")]
    lava: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTests {
    path: Spanned<OneOrMany<String>>,
    #[serde(default)]
    timeout: Option<Span>,
    #[serde(default)]
    params: IndexMap<String, String>,
    #[serde(default)]
    prepare: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawReport {
    #[serde(default)]
    template: Option<Spanned<String>>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    mail: RawMail,
    #[serde(default)]
    patchwork: RawPatchwork,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMail {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    policy: Option<MailPolicy>,
    #[serde(default)]
    to_submitter: Option<bool>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    cc_list: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPatchwork {
    #[serde(default)]
    checks_on: Option<ChecksOn>,
    #[serde(default)]
    accepted_state: Option<String>,
    #[serde(default)]
    rejected_state: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default)]
    build_time: Option<Span>,
    #[serde(default)]
    test_time: Option<Span>,
    #[serde(default)]
    memory: Option<Size>,
    #[serde(default)]
    log_size: Option<Size>,
    #[serde(default)]
    patch_size: Option<Size>,
}

/// One item or a list of them (`path: a.yaml` or `path: [a.yaml, b.yaml]`).
struct OneOrMany<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("one item or a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| OneOrMany(vec![t]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|t| OneOrMany(vec![t]))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

// ---------------------------------------------------------------------------------------------
// The project, resolved.

/// A loaded, validated project. Paths are absolute (resolved against the project file).
#[derive(Debug, Clone)]
pub struct Project {
    pub file: PathBuf,
    pub name: String,
    pub description: Option<String>,
    pub tree: Option<Tree>,
    pub accepts: Accepts,
    /// Check name → settings, as written; the check registry validates names and options.
    pub checks: IndexMap<String, CheckEntry>,
    pub recipe: Recipe,
    pub builds: Vec<Build>,
    pub tests: Vec<Test>,
    pub report: Report,
    pub limits: Limits,
}

/// A check's settings and where they were written.
#[derive(Debug, Clone)]
pub struct CheckEntry {
    pub settings: CheckSettings,
    pub at: Location,
}

/// The git tree that patches apply to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub source: TreeSource,
    /// Branches to try as bases, in order of preference (empty: the remote's default branch).
    pub branches: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeSource {
    /// A URL `git clone` understands.
    Url(String),
    /// A local repository.
    Path(PathBuf),
}

impl TreeSource {
    /// What `git clone`/`git fetch` is given.
    pub fn as_git_arg(&self) -> String {
        match self {
            TreeSource::Url(url) => url.clone(),
            TreeSource::Path(path) => path.display().to_string(),
        }
    }
}

/// Which submissions the project takes. Every criterion given must match; within one, any
/// value may. A project with no criteria takes everything.
#[derive(Debug, Clone, Default)]
pub struct Accepts {
    pub list_ids: Vec<String>,
    pub patchwork_projects: Vec<String>,
    pub subject_tags: Vec<String>,
    /// Globs (`drivers/net/**`): at least one file the series touches must match one.
    pub paths: Vec<String>,
    globs: Option<GlobSet>,
}

/// What is known about a submission when deciding which projects take it.
#[derive(Debug, Clone, Default)]
pub struct Candidate<'a> {
    pub list_id: Option<&'a str>,
    pub patchwork_project: Option<&'a str>,
    /// Subject prefixes (`net-next`, `RFC`, `v2`, …).
    pub subject_tags: &'a [String],
    /// Files the series touches.
    pub paths: &'a [String],
}

impl Accepts {
    /// `None` when the candidate is taken, or the first criterion it fails.
    pub fn rejects(&self, candidate: &Candidate<'_>) -> Option<String> {
        if !self.list_ids.is_empty() {
            let ok = candidate.list_id.is_some_and(|id| {
                let id = id.trim_matches(['<', '>']);
                self.list_ids
                    .iter()
                    .any(|want| want.trim_matches(['<', '>']).eq_ignore_ascii_case(id))
            });
            if !ok {
                return Some(format!(
                    "not posted to {} (list: {})",
                    self.list_ids.join(" or "),
                    candidate.list_id.unwrap_or("none")
                ));
            }
        }
        if !self.patchwork_projects.is_empty() {
            let ok = candidate
                .patchwork_project
                .is_some_and(|p| self.patchwork_projects.iter().any(|want| want == p));
            if !ok {
                return Some(format!(
                    "not in Patchwork project {}",
                    self.patchwork_projects.join(" or ")
                ));
            }
        }
        if !self.subject_tags.is_empty() {
            let ok = candidate.subject_tags.iter().any(|tag| {
                self.subject_tags
                    .iter()
                    .any(|want| want.eq_ignore_ascii_case(tag))
            });
            if !ok {
                return Some(format!(
                    "no subject tag {}",
                    self.subject_tags
                        .iter()
                        .map(|t| format!("[{t}]"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ));
            }
        }
        if let Some(globs) = &self.globs
            && !candidate.paths.iter().any(|path| globs.is_match(path))
        {
            return Some(format!("touches none of {}", self.paths.join(", ")));
        }
        None
    }
}

/// How a build is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipe {
    /// The kernel's build: defconfig (or `base_config`) + fragments, `olddefconfig`, the image.
    Kbuild {
        /// `defconfig` (the arch's), `tinyconfig`, `allnoconfig`, … or a config file.
        base_config: Option<BaseConfig>,
        /// Image target overriding the arch's (`bzImage`, `Image`, `vmlinux`).
        image: Option<String>,
        /// Extra `make` arguments (`W=1`, `C=1`, …).
        make_args: Vec<String>,
    },
    /// A project that is not a kernel: a shell command run in the working copy.
    Command {
        command: String,
        /// Files (relative to the working copy) that the tests need, kept after the build.
        artifacts: Vec<String>,
        env: IndexMap<String, String>,
    },
}

impl Recipe {
    pub fn is_kbuild(&self) -> bool {
        matches!(self, Recipe::Kbuild { .. })
    }
}

/// The configuration fragments are merged onto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseConfig {
    /// A `make` target: `defconfig`, `tinyconfig`, `allnoconfig`, `x86_64_defconfig`, …
    Target(String),
    /// A full `.config` file.
    File(PathBuf),
}

/// One build of the project: an architecture and configuration fragments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// Unique within the project: `x86_64`, or the name given.
    pub name: String,
    /// The architecture as written (for `command:` recipes, a free label).
    pub arch_name: String,
    /// The kernel architecture, for kbuild recipes.
    pub arch: Option<&'static Arch>,
    /// Fragments, absolute, in order.
    pub config: Vec<PathBuf>,
    pub base_config: Option<BaseConfig>,
    /// Boot and test this build (the seed's `lava: True`).
    pub test: bool,
    pub at: Location,
}

/// The tests of the project.
#[derive(Debug, Clone)]
pub struct Test {
    pub path: PathBuf,
    pub suite: TestSuite,
    pub timeout: Duration,
    /// Parameters overriding a LAVA definition's `params`.
    pub params: IndexMap<String, String>,
    /// A shell command run on the host, in the sandbox, in a copy of the tests' directory,
    /// before the tests are packed for the machine under test (e.g. cross-compiling a static
    /// test program with `$CC` against the patched tree's headers in `$GAUNTLET_SOURCE`).
    pub prepare: Option<String>,
    pub at: Location,
}

#[derive(Debug, Clone)]
pub enum TestSuite {
    /// A LAVA test definition, validated.
    Lava(Box<TestDefinition>),
    /// An LKP job file (expanded and compiled by `gauntlet-job`).
    LkpJob,
}

impl TestSuite {
    pub fn kind(&self) -> &'static str {
        match self {
            TestSuite::Lava(_) => "LAVA test definition",
            TestSuite::LkpJob => "LKP job",
        }
    }
}

/// When to mail the submitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailPolicy {
    /// After every run.
    Always,
    /// Only when the submission is rejected (or could not be tested).
    Failure,
    /// When the verdict differs from the previous revision's.
    Change,
}

/// Which patches carry a series-wide Patchwork check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksOn {
    EveryPatch,
    LastPatch,
}

#[derive(Debug, Clone)]
pub struct Report {
    /// A minijinja template replacing the built-in report.
    pub template: Option<PathBuf>,
    /// The name the report is signed with.
    pub signature: String,
    pub mail: MailSettings,
    pub patchwork: PatchworkSettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    pub enabled: bool,
    pub policy: MailPolicy,
    pub to_submitter: bool,
    pub cc: Vec<String>,
    /// Cc the list the series was posted to.
    pub cc_list: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchworkSettings {
    pub checks_on: ChecksOn,
    /// The Patchwork state given to an accepted submission's patches (e.g. `under-review`).
    pub accepted_state: Option<String>,
    /// … and to a rejected one's (e.g. `changes-requested`).
    pub rejected_state: Option<String>,
}

/// What untrusted code may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub build_time: Duration,
    pub test_time: Duration,
    pub memory: u64,
    pub log_size: u64,
    /// Larger series are refused before anything runs.
    pub patch_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            build_time: Duration::from_secs(60 * 60),
            test_time: Duration::from_secs(10 * 60),
            memory: 4 << 30,
            log_size: 64 << 20,
            patch_size: 16 << 20,
        }
    }
}

pub const DEFAULT_SIGNATURE: &str = "The gauntlet robot";

// ---------------------------------------------------------------------------------------------
// Loading.

impl Project {
    /// Loads and validates the project file at `path`, and every file it names (configuration
    /// fragments, test definitions, the report template). All problems are reported at once.
    pub fn load(path: &Path) -> Result<Project, Errors> {
        let file = absolute(path);
        let text = yaml::read(&file)?;
        Project::parse(&file, &text)
    }

    /// Like [`Project::load`] for a text already read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Project, Errors> {
        let file = absolute(path);
        let raw: RawProject = yaml::parse(&file, text)?;
        Resolver {
            file: &file,
            dir: file.parent().unwrap_or(Path::new("/")).to_path_buf(),
            errors: Vec::new(),
        }
        .resolve(raw)
    }

    /// The directory relative paths of the project file resolve against.
    pub fn dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("/"))
    }

    /// The builds whose tests run.
    pub fn tested_builds(&self) -> impl Iterator<Item = &Build> {
        self.builds.iter().filter(|b| b.test)
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

struct Resolver<'a> {
    file: &'a Path,
    dir: PathBuf,
    errors: Vec<Error>,
}

impl Resolver<'_> {
    fn at<T>(&self, spanned: &Spanned<T>) -> Location {
        yaml::at(self.file, spanned)
    }

    fn whole(&self) -> Location {
        Location::file(self.file)
    }

    fn error(&mut self, at: Location, message: impl Into<String>) {
        self.errors.push(Error::invalid(at, message));
    }

    /// `value` as a path relative to the project file, which must exist.
    fn existing(&mut self, value: &Spanned<String>, what: &str) -> Option<PathBuf> {
        let path = self.dir.join(&value.value);
        if path.exists() {
            Some(path)
        } else {
            let at = self.at(value);
            self.error(
                at,
                format!(
                    "{what} `{}` does not exist ({})",
                    value.value,
                    path.display()
                ),
            );
            None
        }
    }

    fn resolve(mut self, raw: RawProject) -> Result<Project, Errors> {
        if raw.name.trim().is_empty() {
            let at = self.whole();
            self.error(at, "`name` is empty");
        }
        let tree = raw.tree.and_then(|tree| self.tree(tree));
        let accepts = self.accepts(raw.accepts);
        let checks = raw
            .checks
            .into_iter()
            .map(|(name, settings)| {
                let at = self.at(&settings);
                (
                    name,
                    CheckEntry {
                        settings: settings.value,
                        at,
                    },
                )
            })
            .collect();
        let recipe = self.recipe(raw.recipe);
        let builds = self.builds(raw.builds, &recipe);
        let limits = self.limits(raw.limits);
        let tests = self.tests(raw.tests, limits.test_time);
        if builds.iter().any(|b| b.test) && tests.is_empty() {
            let at = self.whole();
            self.error(
                at,
                "a build says `lava: true` (boot and test it) but the project has no `tests`",
            );
        }
        let report = self.report(raw.report);
        if !self.errors.is_empty() {
            return Err(Errors(self.errors));
        }
        Ok(Project {
            file: self.file.to_path_buf(),
            name: raw.name,
            description: raw.description,
            tree,
            accepts,
            checks,
            recipe,
            builds,
            tests,
            report,
            limits,
        })
    }

    fn tree(&mut self, raw: RawTree) -> Option<Tree> {
        let source = match (raw.url, raw.path) {
            (Some(url), None) => TreeSource::Url(url),
            (None, Some(path)) => TreeSource::Path(self.existing(&path, "tree.path")?),
            (Some(_), Some(path)) => {
                let at = self.at(&path);
                self.error(at, "tree: give `url` or `path`, not both");
                return None;
            }
            (None, None) => {
                let at = self.whole();
                self.error(at, "tree: give the repository's `url` or `path`");
                return None;
            }
        };
        for branch in &raw.branches {
            if branch.is_empty() || branch.starts_with('-') || branch.contains("..") {
                let at = self.whole();
                self.error(
                    at,
                    format!("tree.branches: `{branch}` is not a branch name"),
                );
            }
        }
        Some(Tree {
            source,
            branches: raw.branches,
        })
    }

    fn accepts(&mut self, raw: RawAccepts) -> Accepts {
        let mut builder = GlobSetBuilder::new();
        let mut paths = Vec::new();
        for pattern in &raw.paths {
            match Glob::new(&pattern.value) {
                Ok(glob) => {
                    builder.add(glob);
                }
                Err(e) => {
                    let at = self.at(pattern);
                    self.error(at, format!("accepts.paths: {e}"));
                }
            }
            paths.push(pattern.value.clone());
        }
        let globs = if paths.is_empty() {
            None
        } else {
            builder.build().ok()
        };
        Accepts {
            list_ids: raw.list_ids,
            patchwork_projects: raw.patchwork_projects,
            subject_tags: raw.subject_tags,
            paths,
            globs,
        }
    }

    fn base_config(&mut self, raw: &Spanned<String>) -> Option<BaseConfig> {
        let value = raw.value.trim();
        if value.ends_with("config") && !value.contains('/') && !value.starts_with('.') {
            Some(BaseConfig::Target(value.to_owned()))
        } else {
            self.existing(raw, "base_config").map(BaseConfig::File)
        }
    }

    fn recipe(&mut self, raw: Option<Spanned<RawRecipe>>) -> Recipe {
        let Some(raw) = raw else {
            return Recipe::Kbuild {
                base_config: None,
                image: None,
                make_args: Vec::new(),
            };
        };
        let at = self.at(&raw);
        let recipe = raw.value;
        match recipe.command {
            Some(command) => {
                if recipe.base_config.is_some() || recipe.image.is_some() {
                    self.error(
                        at,
                        "recipe: `base_config` and `image` are kbuild settings; a `command` \
                         recipe builds with its command only",
                    );
                }
                if command.trim().is_empty() {
                    self.error(self.whole(), "recipe.command is empty");
                }
                Recipe::Command {
                    command,
                    artifacts: recipe.artifacts,
                    env: recipe.env,
                }
            }
            None => {
                if !recipe.artifacts.is_empty() || !recipe.env.is_empty() {
                    self.error(
                        at,
                        "recipe: `artifacts` and `env` belong to a `command` recipe",
                    );
                }
                let base_config = recipe
                    .base_config
                    .as_ref()
                    .and_then(|b| self.base_config(b));
                Recipe::Kbuild {
                    base_config,
                    image: recipe.image,
                    make_args: recipe.make_args,
                }
            }
        }
    }

    fn builds(&mut self, raw: Vec<Spanned<RawBuild>>, recipe: &Recipe) -> Vec<Build> {
        let mut builds: Vec<Build> = Vec::new();
        for spanned in raw {
            let at = self.at(&spanned);
            let build = spanned.value;
            let arch = arch::lookup(&build.arch.value);
            if recipe.is_kbuild() && arch.is_none() {
                let at = self.at(&build.arch);
                self.error(
                    at,
                    format!(
                        "unknown architecture `{}`: expected one of {}",
                        build.arch.value,
                        arch::names()
                    ),
                );
            }
            let config: Vec<PathBuf> = build
                .config
                .iter()
                .filter_map(|fragment| self.existing(fragment, "config fragment"))
                .collect();
            if !recipe.is_kbuild() && (!build.config.is_empty() || build.base_config.is_some()) {
                self.error(
                    at.clone(),
                    "config fragments and base_config need the kbuild recipe (this project's \
                     recipe is a command)",
                );
            }
            let base_config = build.base_config.as_ref().and_then(|b| self.base_config(b));
            let name = build.name.unwrap_or_else(|| {
                arch.map(|a| a.name.to_owned())
                    .unwrap_or_else(|| build.arch.value.clone())
            });
            if builds.iter().any(|b| b.name == name) {
                self.error(
                    at.clone(),
                    format!(
                        "two builds are called `{name}`: give them distinct `name`s (they name \
                         build directories and reports)"
                    ),
                );
            }
            builds.push(Build {
                name,
                arch_name: build.arch.value,
                arch,
                config,
                base_config,
                test: build.lava,
                at,
            });
        }
        builds
    }

    fn tests(&mut self, raw: Option<OneOrMany<RawTests>>, default_timeout: Duration) -> Vec<Test> {
        let mut tests = Vec::new();
        for entry in raw.map(|r| r.0).unwrap_or_default() {
            let timeout = entry.timeout.map(|t| t.0).unwrap_or(default_timeout);
            let at = self.at(&entry.path);
            for path in entry.path.value.0 {
                let spanned = Spanned::new(path, entry.path.referenced, entry.path.defined);
                let Some(file) = self.existing(&spanned, "test file") else {
                    continue;
                };
                let at = at.clone();
                let suite = match load_suite(&file) {
                    Ok(suite) => suite,
                    Err(errors) => {
                        self.errors.extend(errors.0);
                        continue;
                    }
                };
                if let TestSuite::Lava(definition) = &suite {
                    for key in entry.params.keys() {
                        if !definition.params.contains_key(key) {
                            self.error(
                                at.clone(),
                                format!(
                                    "tests.params: `{key}` is not a parameter of {} (it has: {})",
                                    definition.name,
                                    definition
                                        .params
                                        .keys()
                                        .cloned()
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            );
                        }
                    }
                }
                tests.push(Test {
                    path: file,
                    suite,
                    timeout,
                    params: entry.params.clone(),
                    prepare: entry.prepare.clone(),
                    at,
                });
            }
        }
        tests
    }

    fn report(&mut self, raw: RawReport) -> Report {
        let template = raw
            .template
            .as_ref()
            .and_then(|t| self.existing(t, "report.template"));
        Report {
            template,
            signature: raw
                .signature
                .unwrap_or_else(|| DEFAULT_SIGNATURE.to_owned()),
            mail: MailSettings {
                enabled: raw.mail.enabled.unwrap_or(true),
                policy: raw.mail.policy.unwrap_or(MailPolicy::Always),
                to_submitter: raw.mail.to_submitter.unwrap_or(true),
                cc: raw.mail.cc,
                cc_list: raw.mail.cc_list.unwrap_or(false),
            },
            patchwork: PatchworkSettings {
                checks_on: raw.patchwork.checks_on.unwrap_or(ChecksOn::EveryPatch),
                accepted_state: raw.patchwork.accepted_state,
                rejected_state: raw.patchwork.rejected_state,
            },
        }
    }

    fn limits(&mut self, raw: RawLimits) -> Limits {
        let defaults = Limits::default();
        Limits {
            build_time: raw.build_time.map(|s| s.0).unwrap_or(defaults.build_time),
            test_time: raw.test_time.map(|s| s.0).unwrap_or(defaults.test_time),
            memory: raw.memory.map(|s| s.0).unwrap_or(defaults.memory),
            log_size: raw.log_size.map(|s| s.0).unwrap_or(defaults.log_size),
            patch_size: raw.patch_size.map(|s| s.0).unwrap_or(defaults.patch_size),
        }
    }
}

/// Loads a test file: a LAVA test definition when its `metadata.format` says so, otherwise an
/// LKP job file (whose loading is `gauntlet-job`'s).
pub fn load_suite(path: &Path) -> Result<TestSuite, Errors> {
    let text = yaml::read(path)?;
    if looks_like_lava(&text) {
        Ok(TestSuite::Lava(Box::new(TestDefinition::parse(
            path, &text,
        )?)))
    } else {
        Ok(TestSuite::LkpJob)
    }
}

/// A LAVA definition has a top-level `metadata:` mapping with a `format:` key; an LKP job file
/// never does (and may not even be YAML before its templates are expanded).
fn looks_like_lava(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Peek {
        metadata: Option<PeekMetadata>,
    }
    #[derive(Deserialize)]
    struct PeekMetadata {
        format: Option<String>,
    }
    if let Ok(peek) = serde_saphyr::from_str::<Peek>(text) {
        return peek.metadata.is_some_and(|m| m.format.is_some());
    }
    text.lines().any(|line| line.starts_with("metadata:"))
        && text
            .lines()
            .any(|line| line.trim_start().starts_with("format:") && line.contains("Lava-Test"))
}

/// Re-exported for callers that check definitions' shell syntax.
pub use testdef::check_syntax;

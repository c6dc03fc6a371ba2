//! `gauntlet project check`: a project file validated as a whole, and what it will run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use gauntlet_job::{ExpandOptions, JobFile, LoadOptions};
use gauntlet_project::{BaseConfig, Project, Recipe, TestSuite, TreeSource};

#[derive(Subcommand)]
pub(crate) enum ProjectCommand {
    /// Validate project files and everything they name; print the builds and the tests
    Check {
        /// Project files
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub(crate) fn run(command: ProjectCommand) -> Result<ExitCode> {
    let ProjectCommand::Check { files } = command;
    let mut ok = true;
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            println!();
        }
        match check(file) {
            Ok(text) => print!("{text}"),
            Err(problems) => {
                ok = false;
                eprintln!("{problems}");
                eprintln!("{}: invalid", file.display());
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn relative<'a>(path: &'a Path, dir: &Path) -> std::borrow::Cow<'a, str> {
    match path.strip_prefix(dir) {
        Ok(p) => p.to_string_lossy(),
        Err(_) => path.to_string_lossy(),
    }
}

/// The project's summary, or every problem found.
fn check(file: &Path) -> Result<String, String> {
    let project = Project::load(file).map_err(|e| e.to_string())?;
    let dir = project.dir().to_path_buf();
    let mut problems: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    if let Err(errors) = gauntlet_checks::Registry::builtin().configure(&project.checks) {
        problems.extend(errors.iter().map(ToString::to_string));
    }
    if let Some(template) = &project.report.template
        && let Err(e) = gauntlet_report::Template::from_file(template)
    {
        problems.push(e.to_string());
    }
    let mut out = String::new();
    out.push_str(&format!("{} ({})\n", project.name, file.display()));
    match &project.tree {
        Some(tree) => {
            let source = match &tree.source {
                TreeSource::Url(url) => url.clone(),
                TreeSource::Path(path) => path.display().to_string(),
            };
            let branches = if tree.branches.is_empty() {
                "its default branch".to_owned()
            } else {
                tree.branches.join(", then ")
            };
            out.push_str(&format!(
                "  tree: {source} (bases: base-commit, then {branches})\n"
            ));
        }
        None => out.push_str("  tree: none: series are checked but not applied, built or tested\n"),
    }
    let accepts = &project.accepts;
    let mut takes = Vec::new();
    if !accepts.list_ids.is_empty() {
        takes.push(format!("lists {}", accepts.list_ids.join(", ")));
    }
    if !accepts.patchwork_projects.is_empty() {
        takes.push(format!(
            "Patchwork projects {}",
            accepts.patchwork_projects.join(", ")
        ));
    }
    if !accepts.subject_tags.is_empty() {
        takes.push(format!("subject tags {}", accepts.subject_tags.join(", ")));
    }
    if !accepts.paths.is_empty() {
        takes.push(format!("series touching {}", accepts.paths.join(", ")));
    }
    out.push_str(&format!(
        "  takes: {}\n",
        if takes.is_empty() {
            "every series".to_owned()
        } else {
            takes.join("; ")
        }
    ));
    let registry = gauntlet_checks::Registry::builtin();
    let enabled: Vec<&str> = registry
        .checks()
        .map(|c| c.name)
        .filter(|name| project.checks.get(*name).is_none_or(|e| e.settings.enabled))
        .collect();
    out.push_str(&format!("  checks: {}\n", enabled.join(", ")));
    match &project.recipe {
        Recipe::Kbuild { .. } => out.push_str("  recipe: kbuild\n"),
        Recipe::Command { command, .. } => {
            out.push_str(&format!("  recipe: command `{command}`\n"))
        }
    }
    out.push_str("  builds:\n");
    for build in &project.builds {
        let base = match (&build.base_config, &project.recipe, build.arch) {
            (Some(BaseConfig::Target(t)), _, _) => t.clone(),
            (Some(BaseConfig::File(f)), _, _) => relative(f, &dir).into_owned(),
            (
                None,
                Recipe::Kbuild {
                    base_config: Some(BaseConfig::Target(t)),
                    ..
                },
                _,
            ) => t.clone(),
            (
                None,
                Recipe::Kbuild {
                    base_config: Some(BaseConfig::File(f)),
                    ..
                },
                _,
            ) => relative(f, &dir).into_owned(),
            (None, Recipe::Kbuild { .. }, Some(arch)) => arch.defconfig.to_owned(),
            _ => String::new(),
        };
        let fragments: Vec<String> = build
            .config
            .iter()
            .map(|f| relative(f, &dir).into_owned())
            .collect();
        let config = match (base.is_empty(), fragments.is_empty()) {
            (true, true) => String::new(),
            (false, true) => base,
            (true, false) => fragments.join(" + "),
            (false, false) => format!("{base} + {}", fragments.join(" + ")),
        };
        let what = if build.test {
            "build, boot and test"
        } else {
            "build only"
        };
        let arch = match build.arch {
            Some(a) if a.name != build.name => format!(" ({})", a.name),
            _ => String::new(),
        };
        out.push_str(&format!(
            "    {:<14} {what:<22} {config}{arch}\n",
            build.name
        ));
    }
    out.push_str("  tests:\n");
    let mut suites: Vec<String> = Vec::new();
    for test in &project.tests {
        let path = relative(&test.path, &dir).into_owned();
        match &test.suite {
            TestSuite::Lava(definition) => {
                out.push_str(&format!(
                    "    {path}: LAVA test definition `{}`, {} step(s), timeout {}s\n",
                    definition.name,
                    definition.install_steps.len() + definition.run_steps.len(),
                    test.timeout.as_secs()
                ));
                for warning in &definition.warnings {
                    notes.push(warning.to_string());
                }
                if let Err(e) = gauntlet_project::check_syntax(definition) {
                    problems.push(e.to_string());
                }
                suites.push(definition.name.clone());
            }
            TestSuite::LkpJob => match JobFile::load(&test.path, &LoadOptions::default()) {
                Ok(job) => {
                    let mut names = Vec::new();
                    let mut failed = None;
                    for atomic in job.expand(&ExpandOptions::default()) {
                        match atomic {
                            Ok(atomic) => names.push(atomic.file_name().to_owned()),
                            Err(e) => {
                                failed = Some(e.to_string());
                                break;
                            }
                        }
                    }
                    if let Some(e) = failed {
                        problems.push(e);
                    }
                    out.push_str(&format!(
                        "    {path}: LKP job, {} atomic job(s){}, timeout {}s\n",
                        names.len(),
                        match names.first() {
                            Some(first) if names.len() == 1 => format!(" ({first})"),
                            Some(first) => format!(" ({first}, …)"),
                            None => String::new(),
                        },
                        test.timeout.as_secs()
                    ));
                    suites.extend(names);
                }
                Err(e) => problems.push(e.to_string()),
            },
        }
    }
    if project.tests.is_empty() {
        out.push_str("    none\n");
    }
    let tested: Vec<&str> = project.tested_builds().map(|b| b.name.as_str()).collect();
    if !tested.is_empty() && !suites.is_empty() {
        out.push_str(&format!(
            "  runs: {} build(s) × {} suite(s): {} × {}\n",
            tested.len(),
            suites.len(),
            tested.join(", "),
            suites.join(", ")
        ));
    }
    for note in &notes {
        out.push_str(&format!("  {note}\n"));
    }
    if problems.is_empty() {
        out.push_str("  valid\n");
        Ok(out)
    } else {
        Err(problems.join("\n"))
    }
}

//! `gauntlet check`: the checks alone, printed like a compiler's diagnostics.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use gauntlet_checks::{Context as CheckContext, Registry, Source};
use gauntlet_project::{Project, TreeSource};

use crate::input;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// The project whose check settings apply (default: every check with its defaults)
    #[arg(long, short = 'p')]
    project: Option<PathBuf>,
    /// The git tree the series applies to (default: the project's tree when it is a path);
    /// `fixes-tag`, `maintainers` and `checkpatch` use it
    #[arg(long)]
    tree: Option<PathBuf>,
    /// Print the reports as JSON
    #[arg(long)]
    json: bool,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// An mbox file, a maildir, a directory of patches, or `-` for standard input
    series: String,
}

pub(crate) fn check(args: CheckArgs) -> Result<ExitCode> {
    let project = match &args.project {
        Some(path) => Some(Project::load(path).map_err(|errors| anyhow::anyhow!("{errors}"))?),
        None => None,
    };
    let registry = Registry::builtin();
    let entries = project
        .as_ref()
        .map(|p| p.checks.clone())
        .unwrap_or_default();
    let configured = registry.configure(&entries).map_err(|errors| {
        anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    let tree = args.tree.clone().or_else(|| {
        project
            .as_ref()
            .and_then(|p| p.tree.as_ref())
            .and_then(|t| match &t.source {
                TreeSource::Path(path) => Some(path.clone()),
                TreeSource::Url(_) => None,
            })
    });
    let context = CheckContext {
        tree,
        ..CheckContext::default()
    };
    let raws = input::read_mails(&args.series)?;
    if raws.is_empty() {
        bail!("{} holds no mail", args.series);
    }
    let mails = input::parse_all(&raws);
    let postings = input::postings(&mails);
    if postings.is_empty() {
        bail!("{} holds no patch", args.series);
    }
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut reports = Vec::new();
    for posting in &postings {
        let sources: Vec<Source<'_>> = posting
            .mails
            .iter()
            .map(|&i| Source {
                mail: &mails[i],
                raw: &raws[i],
                file_name: None,
            })
            .collect();
        let series = gauntlet_checks::Series::assemble(&sources);
        reports.push(configured.run(&series, &context));
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).context("writing JSON")?
        );
    } else {
        for (i, report) in reports.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print!("{}", gauntlet_checks::render_human(report, color));
        }
    }
    Ok(if reports.iter().any(gauntlet_checks::must_reject) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

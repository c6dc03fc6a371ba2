//! `gauntlet job expand|sh`: LKP job files on the command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use gauntlet_job::{AtomicJob, ExpandOptions, JobFile, LoadOptions, Override, ProgramTree};

#[derive(clap::Subcommand)]
pub(crate) enum JobCommand {
    /// Expand a job file into atomic jobs: list their file names, or write them with -o
    Expand(ExpandArgs),
    /// Compile a job to the shell script that runs it (an atomic job, or a job that expands to one)
    Sh(ExpandArgs),
    /// Write gauntlet's own program tree (LKP_SRC for job scripts) into a directory
    WriteTree {
        /// Target directory (created if needed)
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
pub(crate) struct ExpandArgs {
    /// The job file (YAML)
    file: PathBuf,
    /// Testbox: sets testbox and tbox_group, and merges hosts/TESTBOX from the program tree
    #[arg(short = 't', long)]
    testbox: Option<String>,
    /// Revise the job with `KEY: VALUE` (YAML; may repeat), as split-job -s does
    #[arg(short = 's', long = "set", value_name = "KEY: VALUE")]
    set: Vec<String>,
    /// An LKP source tree to take programs, includes and hosts from (default: gauntlet's own)
    #[arg(long, value_name = "DIR")]
    lkp_src: Option<PathBuf>,
    /// Write the atomic jobs into this directory instead of listing their names
    #[arg(short = 'o', long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// The job's arch when it has none (default: this machine's)
    #[arg(long)]
    arch: Option<String>,
    /// No hosts file and no auto-includes
    #[arg(long)]
    no_defaults: bool,
    /// `key=value` revisions, applied after the -s ones
    #[arg(value_name = "KEY=VALUE")]
    assignments: Vec<String>,
}

impl ExpandArgs {
    fn tree(&self) -> Result<ProgramTree> {
        match &self.lkp_src {
            Some(dir) => ProgramTree::lkp_src(dir)
                .with_context(|| format!("reading the LKP tree {}", dir.display())),
            None => Ok(ProgramTree::builtin()),
        }
    }

    fn options(&self) -> Result<ExpandOptions> {
        let mut overrides: Vec<Override> = self.set.iter().cloned().map(Override::Yaml).collect();
        for a in &self.assignments {
            if !a.contains('=') {
                bail!("`{a}` is not a KEY=VALUE revision");
            }
            overrides.push(Override::Assign(a.clone()));
        }
        Ok(ExpandOptions {
            testbox: self.testbox.clone(),
            arch: self.arch.clone(),
            overrides,
            no_defaults: self.no_defaults,
        })
    }

    fn load(&self, tree: &ProgramTree) -> Result<JobFile> {
        Ok(JobFile::load(
            &self.file,
            &LoadOptions {
                tree: tree.clone(),
                ..LoadOptions::default()
            },
        )?)
    }
}

/// Writes the atomic jobs into `dir` as they are expanded (one in memory at a time). Returns
/// how many were written. (Writer threads were tried: waking one per file costs more than the
/// write.)
fn write_jobs(
    dir: &Path,
    jobs: impl Iterator<Item = gauntlet_job::Result<AtomicJob>>,
) -> Result<usize> {
    let mut count = 0usize;
    for job in jobs {
        let job = job?;
        let path = dir.join(job.file_name());
        std::fs::write(&path, job.to_yaml())
            .with_context(|| format!("writing {}", path.display()))?;
        count += 1;
    }
    Ok(count)
}

fn expand(args: &ExpandArgs) -> Result<()> {
    let tree = args.tree()?;
    let file = args.load(&tree)?;
    let options = args.options()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match &args.output {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let count = write_jobs(dir, file.expand(&options))?;
            writeln!(out, "{count} atomic jobs written to {}", dir.display())?;
        }
        None => {
            for job in file.expand(&options) {
                writeln!(out, "{}", job?.file_name())?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn sh(args: &ExpandArgs) -> Result<()> {
    let tree = args.tree()?;
    let text =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let direct = String::from_utf8(text)
        .ok()
        .and_then(|t| AtomicJob::from_yaml(&t, &args.file.display().to_string()).ok())
        .filter(|j| j.is_atomic() && args.set.is_empty() && args.assignments.is_empty());
    let job = match direct {
        Some(job) => job,
        None => {
            let file = args.load(&tree)?;
            let mut jobs = file.expand(&args.options()?);
            let Some(first) = jobs.next().transpose()? else {
                bail!("{} expands to no atomic job", args.file.display());
            };
            let rest = jobs.count();
            if rest > 0 {
                bail!(
                    "{} expands to {} atomic jobs: write them with `gauntlet job expand -o DIR` \
                     and compile one",
                    args.file.display(),
                    rest + 1
                );
            }
            first
        }
    };
    print!("{}", job.to_shell(&tree)?);
    Ok(())
}

pub(crate) fn run(cmd: JobCommand) -> Result<ExitCode> {
    match cmd {
        JobCommand::Expand(args) => expand(&args)?,
        JobCommand::Sh(args) => sh(&args)?,
        JobCommand::WriteTree { dir } => {
            gauntlet_job::builtin_tree_write(&dir)?;
            println!("gauntlet's program tree written to {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

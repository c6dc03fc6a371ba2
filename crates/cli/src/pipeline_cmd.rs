//! `gauntlet test` and `gauntlet demo`: submissions through the whole pipeline, with live
//! progress on a terminal and plain lines elsewhere.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use gauntlet_lab::lava::LavaSettings;
use gauntlet_lab::qemu::QemuSettings;
use gauntlet_pipeline::{Event, Pipeline, RunOutcome, Settings, sample};
use gauntlet_project::Project;
use gauntlet_report::Verdict;
use gauntlet_sandbox::Sandbox;
use gauntlet_store::{Id, Store};
use gauntlet_verdict::Status;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::input;

#[derive(Args)]
pub(crate) struct TestArgs {
    /// The project file
    #[arg(long, short = 'p')]
    project: PathBuf,
    /// Where logs, reports and the outbox go (default: $XDG_DATA_HOME/gauntlet)
    #[arg(long, env = "GAUNTLET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Mirrors, working copies, build directories and ccache (default: $XDG_CACHE_HOME/gauntlet)
    #[arg(long, env = "GAUNTLET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// The outbox maildir for report mails (default: DATA_DIR/outbox)
    #[arg(long)]
    outbox: Option<PathBuf>,
    /// Print the runs as JSON on standard output
    #[arg(long)]
    json: bool,
    /// Do not print the reports
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Boot and test the `lava: true` builds on this LAVA server (its QEMU device type for
    /// x86_64) instead of the local QEMU; the token is read from $LAVA_TOKEN
    #[arg(long, env = "GAUNTLET_LAVA_URL", conflicts_with = "lava_config")]
    lava: Option<String>,
    /// … or on the LAVA lab this YAML file describes (server, device types per arch, context,
    /// boot, timeouts; see `gauntlet_lab::lava::LavaSettings`)
    #[arg(long)]
    lava_config: Option<PathBuf>,
    /// An mbox file, a maildir, a directory of patches, `-` for standard input, or the id of a
    /// series already in the store
    series: String,
}

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Where to put the sample course, its database and its logs (default: a new temporary
    /// directory)
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The LAVA lab of `--lava URL` or `--lava-config FILE`.
fn lava_settings(url: Option<&str>, file: Option<&Path>) -> Result<Option<LavaSettings>> {
    let token = std::env::var("LAVA_TOKEN").ok().filter(|t| !t.is_empty());
    if let Some(url) = url {
        return Ok(Some(LavaSettings::qemu(url, token)));
    }
    let Some(file) = file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let mut settings: LavaSettings =
        serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if settings.server.token.is_none() {
        settings.server.token = token;
    }
    Ok(Some(settings))
}

fn xdg(var: &str, fallback: &str) -> Result<PathBuf> {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(d) => Ok(PathBuf::from(d).join("gauntlet")),
        None => {
            let home = std::env::var_os("HOME")
                .with_context(|| format!("neither {var} nor HOME is set"))?;
            Ok(PathBuf::from(home).join(fallback).join("gauntlet"))
        }
    }
}

/// The sandbox of this machine, its warnings printed loudly.
fn sandbox() -> Sandbox {
    let sandbox = Sandbox::detect();
    for warning in sandbox.warnings() {
        eprintln!("gauntlet: WARNING: {warning}");
    }
    sandbox
}

/// Runs every series of `arg` through `project`; returns the outcomes.
async fn test_series(
    store: &Store,
    settings: Settings,
    project: &Project,
    arg: &str,
    show: bool,
) -> Result<Vec<RunOutcome>> {
    let series: Vec<Id> = match input::series_id(arg) {
        Some(id) => vec![id],
        None => {
            let raws = input::read_mails(arg)?;
            if raws.is_empty() {
                bail!("{arg} holds no mail");
            }
            let options = gauntlet_ingest::Options::default();
            gauntlet_ingest::ingest_bytes(store, &raws, &options)
                .await
                .with_context(|| format!("storing the mails of {arg}"))?;
            let msgids: Vec<String> = input::parse_all(&raws)
                .into_iter()
                .map(|m| m.message_id)
                .collect();
            store.series_of_msgids(&msgids).await?
        }
    };
    if series.is_empty() {
        bail!("{arg} holds no patch");
    }
    let (sender, receiver) = mpsc::unbounded_channel();
    let display = tokio::spawn(render(receiver, show));
    let pipeline = Pipeline::new(store.clone(), settings, sandbox()).with_events(sender);
    let mut outcomes = Vec::new();
    for id in series {
        outcomes.push(
            pipeline
                .run(project, id)
                .await
                .with_context(|| format!("testing series {id}"))?,
        );
    }
    drop(pipeline);
    let _ = display.await;
    Ok(outcomes)
}

/// 0 when every submission is accepted, 1 when one is rejected, 2 when one could not be tested.
fn exit_code(outcomes: &[RunOutcome]) -> ExitCode {
    if outcomes.iter().any(|o| o.verdict == Verdict::Error) {
        ExitCode::from(2)
    } else if outcomes.iter().any(|o| o.verdict == Verdict::Rejected) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub(crate) async fn test(db: &Option<String>, args: TestArgs) -> Result<ExitCode> {
    let project = Project::load(&args.project).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let store = crate::open(db).await?;
    let data = match args.data_dir {
        Some(d) => d,
        None => xdg("XDG_DATA_HOME", ".local/share")?,
    };
    let mut settings = Settings::under(&data);
    settings.qemu = QemuSettings::from_env(|key| std::env::var_os(key));
    settings.cache_dir = match args.cache_dir {
        Some(d) => d,
        None => xdg("XDG_CACHE_HOME", ".cache")?,
    };
    if let Some(outbox) = args.outbox {
        settings.outbox = Some(outbox);
    }
    settings.lava = lava_settings(args.lava.as_deref(), args.lava_config.as_deref())?;
    let outcomes = test_series(&store, settings, &project, &args.series, !args.json).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        for outcome in &outcomes {
            print_outcome(outcome, !args.quiet);
        }
    }
    store.close().await;
    Ok(exit_code(&outcomes))
}

fn print_outcome(outcome: &RunOutcome, report: bool) {
    println!(
        "\n{} — {} ({})",
        outcome.title,
        outcome.verdict.as_str().to_uppercase(),
        outcome.reason
    );
    for job in &outcome.jobs {
        println!(
            "  {:<5} {:<7} {}: {}",
            job.status.as_str(),
            job.stage,
            job.name,
            job.reason
        );
    }
    println!("  logs: {}", outcome.artifacts.display());
    if let Some(mail) = &outcome.mail {
        println!("  mail: {}", mail.display());
    }
    if report && !outcome.report.is_empty() {
        println!();
        for line in outcome.report.lines() {
            println!("  | {line}");
        }
    }
}

pub(crate) async fn demo(args: DemoArgs) -> Result<ExitCode> {
    let dir = match args.dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("gauntlet-demo-{}", std::process::id())),
    };
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some())? {
        bail!(
            "{} is not empty: give the demo a new directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let started = std::time::Instant::now();
    let course = sample::write(&dir.join("course")).context("writing the sample course")?;
    println!("A sample course in {}:", dir.display());
    println!(
        "  the tree:    {} (a C program, git)",
        course.tree.display()
    );
    println!(
        "  the project: {} (build with make, test with a LAVA test definition)",
        course.project.display()
    );
    println!("  four students' series, as git format-patch mails them:");
    let labels = [
        "a good one",
        "one without Signed-off-by",
        "one that does not build",
        "one that builds but fails a test",
    ];
    for (path, label) in course.series.iter().zip(labels) {
        println!("    {}  ({label})", path.display());
    }
    let url = format!("sqlite://{}", dir.join("gauntlet.db").display());
    let store = Store::open(&url)
        .await
        .with_context(|| format!("opening {url}"))?;
    let project = Project::load(&course.project).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let mut settings = Settings::under(&dir.join("data"));
    settings.qemu = QemuSettings::from_env(|key| std::env::var_os(key));
    let mut all = Vec::new();
    for path in &course.series {
        let arg = path.display().to_string();
        println!(
            "\n$ gauntlet test --project {} {arg}",
            course.project.display()
        );
        let outcomes = test_series(&store, settings.clone(), &project, &arg, true).await?;
        for outcome in &outcomes {
            print_outcome(outcome, false);
        }
        all.extend(outcomes);
    }
    println!("\nThe four verdicts:");
    for (outcome, label) in all.iter().zip(labels) {
        println!(
            "  {:<8} {label}: {}",
            outcome.verdict.as_str(),
            outcome.reason
        );
    }
    if let Some(rejected) = all.iter().find(|o| o.verdict == Verdict::Rejected) {
        println!(
            "\nWhat a student whose series is rejected receives (the outbox holds every mail):\n"
        );
        for line in rejected.report.lines() {
            println!("  | {line}");
        }
    }
    println!(
        "\nDone in {:.1} s. Explore: gauntlet --db {url} series list; mails in {}",
        started.elapsed().as_secs_f64(),
        settings
            .outbox
            .as_deref()
            .map(Path::display)
            .map(|d| d.to_string())
            .unwrap_or_default()
    );
    store.close().await;
    let expected = [
        Verdict::Accepted,
        Verdict::Rejected,
        Verdict::Rejected,
        Verdict::Rejected,
    ];
    if all.iter().map(|o| o.verdict).eq(expected) {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("gauntlet: the demo did not give the four verdicts it should");
        Ok(ExitCode::from(2))
    }
}

/// Shows the runs as they go: a line per job that updates in place on a terminal, plain lines
/// when the output is not one.
async fn render(mut events: mpsc::UnboundedReceiver<Event>, show: bool) {
    let terminal = show && std::io::stderr().is_terminal();
    let multi = MultiProgress::new();
    let style = ProgressStyle::with_template("  {spinner} {prefix:<16} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut bars: HashMap<Id, ProgressBar> = HashMap::new();
    let mut names: HashMap<Id, String> = HashMap::new();
    while let Some(event) = events.recv().await {
        match event {
            Event::RunStarted {
                run, title, jobs, ..
            } => {
                if terminal {
                    let _ = multi.println(format!("run {run}: {title}"));
                    for (job, stage, name) in jobs {
                        let label = if stage == name {
                            stage
                        } else {
                            format!("{stage} {name}")
                        };
                        let bar = multi.add(ProgressBar::new_spinner());
                        bar.set_style(style.clone());
                        bar.set_prefix(label);
                        bar.set_message("queued");
                        bars.insert(job, bar);
                    }
                } else if show {
                    eprintln!("run {run}: {title}");
                    for (job, stage, name) in jobs {
                        names.insert(
                            job,
                            if stage == name {
                                stage
                            } else {
                                format!("{stage} {name}")
                            },
                        );
                    }
                }
            }
            Event::JobStarted { job, .. } => {
                if let Some(bar) = bars.get(&job) {
                    bar.set_message("running");
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
            }
            Event::JobOutput { job, line } => {
                if let Some(bar) = bars.get(&job) {
                    let line: String = line.chars().filter(|c| !c.is_control()).take(120).collect();
                    bar.set_message(line);
                }
            }
            Event::JobFinished {
                job,
                status,
                reason,
                duration,
                ..
            } => {
                let text = format!(
                    "{} {reason} ({:.1} s)",
                    status.as_str(),
                    duration.as_secs_f64()
                );
                if let Some(bar) = bars.remove(&job) {
                    let mark = match status {
                        Status::Pass | Status::Done => "✓",
                        Status::Fail => "✗",
                        Status::Error => "!",
                        _ => "-",
                    };
                    bar.set_style(
                        ProgressStyle::with_template(&format!(
                            "  {mark} {{prefix:<16}} {{wide_msg}}"
                        ))
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.finish_with_message(text);
                } else if let Some(name) = names.get(&job) {
                    eprintln!("  {name}: {text}");
                }
            }
            Event::RunFinished {
                run,
                verdict,
                reason,
            } => {
                let line = format!("run {run}: {} ({reason})", verdict.as_str());
                if terminal {
                    let _ = multi.println(line);
                    for (_, bar) in bars.drain() {
                        bar.finish_and_clear();
                    }
                } else if show {
                    eprintln!("{line}");
                }
            }
        }
    }
}

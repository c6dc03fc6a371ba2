//! `gauntlet`: the command line.
//!
//! The binary is thin: argument parsing, logging set-up, progress display and output formatting.
//! All the work is done by the library crates.

mod check_cmd;
mod demo;
mod input;
mod job_cmd;
mod output;
mod pipeline_cmd;
mod project_cmd;
mod service_cmd;
mod token_cmd;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use gauntlet_ingest::Options;
use gauntlet_mbox::{Input, Quoting};
use gauntlet_store::{SeriesFilter, Store};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser)]
#[command(name = "gauntlet", version, about = "Patch CI for mailing lists")]
struct Cli {
    /// Database: `sqlite:PATH` (the default, a file) or `postgres://user:pass@host/db`.
    /// Defaults to $XDG_DATA_HOME/gauntlet/gauntlet.db.
    #[arg(long, global = true, env = "GAUNTLET_DB")]
    db: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Store mails from mboxes, maildirs, directories of patches, or standard input (`-`)
    Ingest(IngestArgs),
    /// List or show series
    #[command(subcommand)]
    Series(SeriesCommand),
    /// Print every series as JSON: {"series":[{"name","version","total","cover","patches"}]}
    Export(ExportArgs),
    /// Rebuild series, messages and outcomes from the stored raw mails
    Reindex,
    /// Run a sample course through the whole pipeline: four series, four verdicts
    Demo(pipeline_cmd::DemoArgs),
    /// Generate a sample mailing list, ingest it and show what gauntlet made of it
    DemoIngest(DemoArgs),
    /// Check, apply, build and test series, and report the verdicts (exit 0: all accepted,
    /// 1: one rejected, 2: one could not be tested)
    Test(pipeline_cmd::TestArgs),
    /// Run the checks on series and print what they find, like a compiler (exit 1 on a failure)
    Check(check_cmd::CheckArgs),
    /// Validate project files
    #[command(subcommand)]
    Project(project_cmd::ProjectCommand),
    /// Run the service: poll the sources, queue new submissions, work, report (see
    /// examples/gauntlet.yaml)
    Serve(service_cmd::ServeArgs),
    /// Run workers for a `gauntlet serve` (on this host or another)
    Worker(service_cmd::WorkerArgs),
    /// The service's queue, workers, sources and recent errors
    Status(service_cmd::ServeArgs),
    /// Queue a run again
    Rerun(service_cmd::RunArgs),
    /// Cancel a run (its running jobs stop at their next lease renewal)
    Cancel(service_cmd::RunArgs),
    /// Set a patch's state as a maintainer (gauntlet never overrides it afterwards)
    State(service_cmd::StateArgs),
    /// Validate the service's configuration
    #[command(subcommand)]
    Config(service_cmd::ConfigCommand),
    /// Expand LKP job files into atomic jobs, or compile one to a shell script
    #[command(subcommand)]
    Job(job_cmd::JobCommand),
    /// Issue, list and revoke the web API's tokens (for rerun and cancel)
    #[command(subcommand)]
    Token(token_cmd::TokenCommand),
}

#[derive(Args)]
struct IngestArgs {
    /// File every mail under this list, whatever its List-Id header says
    #[arg(long)]
    list_id: Option<String>,
    /// `>From ` quoting of mboxes: auto (mboxrd for public-inbox archives), mboxo or mboxrd
    #[arg(long, default_value = "auto", value_parser = ["auto", "mboxo", "mboxrd"])]
    quoting: String,
    /// Mails per transaction
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Mbox files, maildirs, directories of mails, or `-` for standard input
    #[arg(required = true)]
    inputs: Vec<String>,
}

#[derive(Subcommand)]
enum SeriesCommand {
    /// Series, newest first
    List(ListArgs),
    /// One series: cover letter, patches, revisions
    Show(ShowArgs),
}

#[derive(Args)]
struct ListArgs {
    #[arg(long)]
    list_id: Option<String>,
    /// Only the newest revision of each piece of work
    #[arg(long)]
    latest: bool,
    /// At most this many series (0: all)
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ShowArgs {
    id: i64,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ExportArgs {
    /// JSON output (the only format)
    #[arg(long, default_value_t = true)]
    json: bool,
    #[arg(long)]
    list_id: Option<String>,
}

#[derive(Args)]
struct DemoArgs {
    /// Where to put the sample mailbox and database (default: a new temporary directory)
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn default_db() -> Result<String> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME")
                .context("neither XDG_DATA_HOME nor HOME is set: pass --db")?;
            PathBuf::from(home).join(".local/share")
        }
    };
    Ok(format!(
        "sqlite://{}",
        base.join("gauntlet/gauntlet.db").display()
    ))
}

pub(crate) async fn open(db: &Option<String>) -> Result<Store> {
    let url = match db {
        Some(u) => u.clone(),
        None => default_db()?,
    };
    Store::open(&url)
        .await
        .with_context(|| format!("opening the database {url}"))
}

fn progress_bar(total_bytes: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || total_bytes == 0 {
        return None;
    }
    let bar = ProgressBar::new(total_bytes);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

async fn ingest(db: &Option<String>, args: IngestArgs) -> Result<()> {
    let store = open(db).await?;
    let quoting = match args.quoting.as_str() {
        "mboxo" => Quoting::Mboxo,
        "mboxrd" => Quoting::Mboxrd,
        _ => Quoting::Auto,
    };
    let options = Options {
        list_id: args.list_id,
        batch_mails: args.batch.max(1),
        ..Options::default()
    };
    let mut total = gauntlet_ingest::Summary::default();
    for arg in &args.inputs {
        let input = Input::from_arg(arg)?;
        let size: u64 = input.files()?.iter().map(|f| f.1).sum();
        let mails = input.open(gauntlet_mbox::Options {
            quoting,
            ..gauntlet_mbox::Options::default()
        })?;
        let bar = progress_bar(size);
        let summary = gauntlet_ingest::ingest(&store, mails, &options, |n, bytes| {
            if let Some(b) = &bar {
                b.set_position(bytes);
                b.set_message(format!("{n} mails"));
            }
        })
        .await
        .with_context(|| format!("ingesting {arg}"))?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if args.inputs.len() > 1 {
            println!("{arg}: {}", summary.line());
        }
        total.tally.merge(&summary.tally);
        total.already_stored += summary.already_stored;
        total.truncated += summary.truncated;
        total.seconds += summary.seconds;
    }
    println!("{}", total.line());
    store.close().await;
    Ok(())
}

async fn series(db: &Option<String>, cmd: SeriesCommand) -> Result<()> {
    let store = open(db).await?;
    match cmd {
        SeriesCommand::List(args) => {
            let filter = SeriesFilter {
                list_id: args.list_id,
                newest_first: true,
                limit: (args.limit > 0).then_some(args.limit),
                latest_only: args.latest,
            };
            let list = store.series_list(&filter).await?;
            if args.json {
                println!("{}", output::series_list_json(&list));
            } else {
                print!("{}", output::series_table(&list));
            }
        }
        SeriesCommand::Show(args) => {
            let Some(detail) = store.series_detail(args.id).await? else {
                bail!("there is no series {}", args.id);
            };
            let ids: Vec<i64> = detail
                .cover
                .iter()
                .chain(&detail.patches)
                .map(|m| m.mail)
                .collect();
            let parsed: output::Parsed = store
                .raw_mails(&ids)
                .await?
                .into_iter()
                .map(|(id, raw)| {
                    (
                        id,
                        gauntlet_mail::parse(&raw, &gauntlet_mail::ParseOptions::default()),
                    )
                })
                .collect();
            if args.json {
                println!("{}", output::series_detail_json(&detail, &parsed));
            } else {
                print!("{}", output::series_detail_text(&detail, &parsed));
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn export(db: &Option<String>, args: ExportArgs) -> Result<()> {
    use std::io::Write;
    let store = open(db).await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write!(out, "{{\"series\":[")?;
    let mut after = 0;
    let mut first = true;
    loop {
        let page = store
            .export_page(after, 1000, args.list_id.as_deref())
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for s in &page {
            if !first {
                write!(out, ",")?;
            }
            first = false;
            write!(out, "{}", output::export_json(s))?;
        }
    }
    writeln!(out, "]}}")?;
    out.flush()?;
    store.close().await;
    Ok(())
}

async fn reindex(db: &Option<String>) -> Result<()> {
    let store = open(db).await?;
    let stats = store.stats().await?;
    let bar = progress_bar(u64::try_from(stats.mails).unwrap_or(0));
    let summary = gauntlet_ingest::reindex(&store, &Options::default(), |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    })
    .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    println!("Re-indexed: {}", summary.line());
    store.close().await;
    Ok(())
}

async fn demo(args: DemoArgs) -> Result<()> {
    let dir = match args.dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("gauntlet-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mbox = dir.join("kernel-course.mbox");
    std::fs::write(&mbox, demo::sample_mbox())
        .with_context(|| format!("writing {}", mbox.display()))?;
    let url = format!("sqlite://{}", dir.join("gauntlet.db").display());
    println!("Sample list archive: {}", mbox.display());
    println!("Database:            {url}\n");
    println!("$ gauntlet ingest {}", mbox.display());
    let db = Some(url.clone());
    ingest(
        &db,
        IngestArgs {
            list_id: None,
            quoting: "auto".to_string(),
            batch: 1000,
            inputs: vec![mbox.display().to_string()],
        },
    )
    .await?;
    println!("\n$ gauntlet series list");
    series(
        &db,
        SeriesCommand::List(ListArgs {
            list_id: None,
            latest: false,
            limit: 0,
            json: false,
        }),
    )
    .await?;
    let store = open(&db).await?;
    let newest = store
        .series_list(&SeriesFilter {
            newest_first: false,
            ..SeriesFilter::default()
        })
        .await?
        .into_iter()
        .filter(|s| s.revisions > 1 && s.superseded_by.is_none())
        .map(|s| s.id)
        .next();
    store.close().await;
    if let Some(id) = newest {
        println!("\n$ gauntlet series show {id}");
        series(&db, SeriesCommand::Show(ShowArgs { id, json: false })).await?;
    }
    println!("\nExplore it yourself: gauntlet --db {url} series list");
    Ok(())
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let done = |r: Result<()>| r.map(|()| ExitCode::SUCCESS);
    match cli.command {
        Command::Ingest(args) => done(ingest(&cli.db, args).await),
        Command::Series(cmd) => done(series(&cli.db, cmd).await),
        Command::Export(args) => done(export(&cli.db, args).await),
        Command::Reindex => done(reindex(&cli.db).await),
        Command::Demo(args) => pipeline_cmd::demo(args).await,
        Command::DemoIngest(args) => done(demo(args).await),
        Command::Test(args) => pipeline_cmd::test(&cli.db, args).await,
        Command::Check(args) => check_cmd::check(args),
        Command::Project(cmd) => project_cmd::run(cmd),
        Command::Job(cmd) => job_cmd::run(cmd),
        Command::Serve(args) => service_cmd::serve(args).await,
        Command::Worker(args) => service_cmd::worker(args).await,
        Command::Status(args) => service_cmd::status(args).await,
        Command::Rerun(args) => service_cmd::rerun(args).await,
        Command::Cancel(args) => service_cmd::cancel(args).await,
        Command::Config(cmd) => service_cmd::config(cmd),
        Command::State(args) => service_cmd::state(args).await,
        Command::Token(cmd) => done(token_cmd::run(&cli.db, cmd).await),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gauntlet: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gauntlet: {e:#}");
            ExitCode::from(2)
        }
    }
}

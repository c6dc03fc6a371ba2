//! `gauntlet serve`, `gauntlet worker`, `gauntlet status`, `gauntlet config check`,
//! `gauntlet rerun` and `gauntlet cancel`: the service, from its configuration file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gauntlet_service::{Config, Service, SourceKind, Transport};
use gauntlet_store::{Id, unix_now};
use tokio::sync::watch;

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The service's configuration (see examples/gauntlet.yaml)
    #[arg(long, short = 'c', env = "GAUNTLET_CONFIG")]
    config: PathBuf,
}

#[derive(Args)]
pub(crate) struct WorkerArgs {
    #[arg(long, short = 'c', env = "GAUNTLET_CONFIG")]
    config: PathBuf,
    /// This worker's name (default: host-pid)
    #[arg(long)]
    name: Option<String>,
    /// What it can run (`build:x86_64`, `qemu:arm64`, `lava`); default: what this machine has
    #[arg(long = "capability")]
    capabilities: Vec<String>,
}

#[derive(Subcommand)]
pub(crate) enum ConfigCommand {
    /// Read a configuration and every project file it names; say what the service would do
    Check { config: PathBuf },
}

#[derive(Args)]
pub(crate) struct RunArgs {
    #[arg(long, short = 'c', env = "GAUNTLET_CONFIG")]
    config: PathBuf,
    /// The run
    run: Id,
}

#[derive(Args)]
pub(crate) struct StateArgs {
    #[arg(long, short = 'c', env = "GAUNTLET_CONFIG")]
    config: PathBuf,
    /// Who decides (recorded; gauntlet never overrides a person's state)
    #[arg(long)]
    by: String,
    #[arg(long)]
    reason: Option<String>,
    /// The patch's Message-ID
    msgid: String,
    /// New, Under Review, Accepted, Rejected, Changes Requested, Superseded (or their slugs)
    state: String,
}

pub(crate) async fn state(args: StateArgs) -> Result<ExitCode> {
    let Some(state) = gauntlet_store::PatchState::parse(&args.state) else {
        anyhow::bail!(
            "{:?} is not a state: New, Under Review, Accepted, Rejected, Changes Requested, Superseded",
            args.state
        );
    };
    let config = load(&args.config)?;
    let service = Service::open(config).await?;
    let msgid = if args.msgid.starts_with('<') {
        args.msgid.clone()
    } else {
        format!("<{}>", args.msgid)
    };
    let updated = service
        .override_state(&msgid, state, &args.by, args.reason)
        .await?;
    println!(
        "{msgid}: {state} (by {}){}",
        args.by,
        if updated.is_empty() {
            String::new()
        } else {
            format!(", also on {}", updated.join(", "))
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn load(path: &std::path::Path) -> Result<Config> {
    Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Stops on SIGINT or SIGTERM: the workers finish the job they hold.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("no SIGTERM handler: {e}");
                    let _ = tokio::signal::ctrl_c().await;
                    let _ = tx.send(true);
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping: finishing the jobs in hand");
        let _ = tx.send(true);
    });
    rx
}

pub(crate) async fn serve(args: ServeArgs) -> Result<ExitCode> {
    let config = load(&args.config)?;
    let service = Arc::new(Service::open(config).await?);
    service.serve(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn worker(args: WorkerArgs) -> Result<ExitCode> {
    let config = load(&args.config)?;
    let service = Service::open(config).await?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    let name = args
        .name
        .unwrap_or_else(|| format!("{host}-{}", std::process::id()));
    let capabilities = (!args.capabilities.is_empty()).then_some(args.capabilities);
    let worker = service.worker(name, capabilities);
    worker.run(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn config(cmd: ConfigCommand) -> Result<ExitCode> {
    let ConfigCommand::Check { config } = cmd;
    let config = match Config::load(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    println!("database   {}", config.database);
    println!("data       {}", config.data_dir.display());
    println!("cache      {}", config.cache_dir.display());
    println!("listen     {}", config.listen);
    println!("workers    {} in `serve`", config.workers);
    for s in &config.sources {
        let what = match &s.kind {
            SourceKind::Patchwork {
                url,
                project,
                token,
                ..
            } => format!(
                "Patchwork {url} project {project}{}",
                if token.is_some() {
                    " (with a token)"
                } else {
                    " (no token: read only)"
                }
            ),
            SourceKind::PublicInbox { url, .. } => format!("public-inbox {url}"),
            SourceKind::Maildir { path } => format!("maildir {}", path.display()),
        };
        println!(
            "source     {}: {what}, every {}",
            s.name,
            humantime_short(s.poll)
        );
    }
    for p in &config.projects {
        println!(
            "project    {} ({}): {} build(s), {} test(s)",
            p.name,
            p.file.display(),
            p.builds.len(),
            p.tests.len()
        );
    }
    match config.mail.as_ref().map(|m| (&m.from, &m.transport)) {
        Some((from, Transport::Smtp(smtp))) => {
            println!("mail       from {from} by SMTP {}", smtp.server())
        }
        Some((from, Transport::Outbox(dir))) => {
            println!(
                "mail       from {from} into the outbox {} (dry run)",
                dir.display()
            )
        }
        None => println!("mail       none"),
    }
    if let Some(lava) = &config.lava {
        println!("lab        LAVA {}", lava.server.url);
    } else {
        println!("lab        local QEMU");
    }
    Ok(ExitCode::SUCCESS)
}

fn humantime_short(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs())
}

pub(crate) async fn status(args: ServeArgs) -> Result<ExitCode> {
    let config = load(&args.config)?;
    let store = gauntlet_store::Store::open(&config.database)
        .await
        .context("opening the database")?;
    let now = unix_now();
    let m = store.queue_metrics(now).await?;
    let runs: Vec<String> = m.runs.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("runs       {}", runs.join(", "));
    println!(
        "queue      {} ready, oldest waiting {}",
        m.ready_jobs,
        m.oldest_ready_age_s
            .map_or_else(|| "-".to_owned(), |s| format!("{s}s"))
    );
    for j in m.jobs.iter().filter(|j| j.state != "done") {
        println!("jobs       {} {}: {}", j.stage, j.state, j.count);
    }
    for w in store.workers().await? {
        let jobs: Vec<String> = w
            .jobs
            .iter()
            .map(|j| {
                format!(
                    "{} {} of run {} (lease {}s)",
                    j.stage,
                    j.name,
                    j.run,
                    j.lease_until.map_or(0, |t| t.saturating_sub(now))
                )
            })
            .collect();
        println!(
            "worker     {} on {} [{}] {} seen {}s ago {}",
            w.name,
            w.host,
            w.capabilities.join(" "),
            w.state,
            now.saturating_sub(w.heartbeat_at),
            jobs.join(", ")
        );
    }
    for s in store.source_states().await? {
        println!(
            "source     {}: last poll {}, last good {}{}",
            s.name,
            s.last_poll_at.map_or_else(
                || "never".into(),
                |t| format!("{}s ago", now.saturating_sub(t))
            ),
            s.last_ok_at.map_or_else(
                || "never".into(),
                |t| format!("{}s ago", now.saturating_sub(t))
            ),
            s.last_error
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default()
        );
    }
    for d in store.failed_deliveries(10).await? {
        println!(
            "error      {} to {}: {}",
            d.key,
            d.target,
            d.last_error.unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn cancel(args: RunArgs) -> Result<ExitCode> {
    let config = load(&args.config)?;
    let store = gauntlet_store::Store::open(&config.database).await?;
    let done = store
        .cancel_run(args.run, "cancelled from the command line", unix_now())
        .await?;
    println!(
        "run {}: {} queued job(s) cancelled, {} running job(s) asked to stop",
        args.run, done.cancelled_jobs, done.stopping_jobs
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn rerun(args: RunArgs) -> Result<ExitCode> {
    let config = load(&args.config)?;
    let service = Service::open(config).await?;
    let Some(detail) = service.store.run_detail(args.run).await? else {
        anyhow::bail!("there is no run {}", args.run);
    };
    let Some(project) = service
        .projects
        .iter()
        .find(|p| p.name == detail.run.project)
    else {
        anyhow::bail!("the configuration has no project {:?}", detail.run.project);
    };
    let run = service
        .pipeline
        .enqueue(project, detail.run.series, unix_now())
        .await?;
    println!("run {run} queued (a rerun of run {})", args.run);
    Ok(ExitCode::SUCCESS)
}

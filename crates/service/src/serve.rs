//! `gauntlet serve` and `gauntlet worker`: the loops, put together from a [`Config`].
//!
//! `serve` polls every source on its interval, queues what is new ([`dispatch`]), runs
//! `config.workers` workers in its own process, retries pending deliveries, and answers
//! `/metrics` on `config.listen`. `worker` runs workers only: any number of them, on any host
//! that reaches the database and the data directory.

use std::sync::Arc;
use std::time::Duration;

use gauntlet_patchwork::{Client, ClientConfig};
use gauntlet_pipeline::{Pipeline, Settings};
use gauntlet_report::{Addressee, Mailer, Outbox};
use gauntlet_sandbox::Sandbox;
use gauntlet_store::{RetryPolicy, Store, unix_now};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{Config, SourceKind, Transport};
use crate::dispatch::dispatch;
use crate::reporter::{PatchworkTarget, Reporter};
use crate::sources::Poller;
use crate::worker::{Worker, WorkerSettings, detect_capabilities};
use crate::{Error, metrics};

/// Everything the loops share.
pub struct Service {
    pub config: Config,
    pub store: Store,
    pub pipeline: Arc<Pipeline>,
    pub projects: Arc<Vec<gauntlet_project::Project>>,
    pub reporter: Arc<Reporter>,
    patchwork: Vec<(String, Arc<Client>)>,
    last_expiry: std::sync::Mutex<Option<std::time::Instant>>,
    /// One dispatcher at a time: two would both see a series without a run and queue it twice.
    dispatching: tokio::sync::Mutex<()>,
}

fn mail_from(text: &str) -> Addressee {
    match text.rsplit_once('<') {
        Some((name, rest)) => Addressee::new(
            Some(name.trim()).filter(|n| !n.is_empty()),
            rest.trim_end_matches('>').trim(),
        ),
        None => Addressee::new(None, text.trim()),
    }
}

impl Service {
    /// Opens the store (migrating it) and builds the pipeline, the clients and the reporter.
    pub async fn open(config: Config) -> Result<Service, Error> {
        let store = Store::open(&config.database).await?;
        let mut settings = Settings::under(&config.data_dir);
        settings.artifacts_dir = config.data_dir.join("artifacts");
        settings.cache_dir = config.cache_dir.clone();
        settings.outbox = None;
        settings.logs_url = config.public_url.clone();
        settings.lava = config.lava.clone();
        settings.publish = config.publish.as_ref().map(|p| p.remote.clone());
        settings.qemu = gauntlet_lab::qemu::QemuSettings::from_env(|k| std::env::var_os(k));
        if let Some(mail) = &config.mail {
            settings.mail_from = mail_from(&mail.from);
        }
        let artifacts = settings.artifacts_dir.clone();
        let pipeline = Arc::new(Pipeline::new(store.clone(), settings, Sandbox::detect()));
        let projects = Arc::new(config.projects.clone());
        let mut patchwork = Vec::new();
        let mut targets = Vec::new();
        for source in &config.sources {
            if let SourceKind::Patchwork {
                url,
                project,
                token,
                lookback,
            } = &source.kind
            {
                let mut client_config = ClientConfig::new(url.clone());
                client_config.token = token.clone();
                client_config.events_lookback = *lookback;
                let client = Arc::new(Client::new(&client_config)?);
                patchwork.push((source.name.clone(), client.clone()));
                targets.push(PatchworkTarget {
                    name: source.name.clone(),
                    client,
                    project: project.clone(),
                });
            }
        }
        let mailer = match config.mail.as_ref().map(|m| &m.transport) {
            None => None,
            Some(Transport::Smtp(smtp)) => {
                Some(Mailer::smtp(smtp).map_err(|e| Error::Report(e.to_string()))?)
            }
            Some(Transport::Outbox(dir)) => Some(Mailer::outbox(
                Outbox::open(dir).map_err(|e| Error::Report(e.to_string()))?,
            )),
        };
        let reporter = Arc::new(Reporter::new(
            store.clone(),
            artifacts,
            projects.clone(),
            mailer,
            targets,
            config.public_url.clone(),
        ));
        Ok(Service {
            config,
            store,
            pipeline,
            projects,
            reporter,
            patchwork,
            last_expiry: std::sync::Mutex::new(None),
            dispatching: tokio::sync::Mutex::new(()),
        })
    }

    fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.config.queue.max_attempts,
            backoff: self.config.queue.backoff,
            ..RetryPolicy::default()
        }
    }

    /// A worker of this service named `name` (capabilities detected on this machine unless
    /// given).
    pub fn worker(&self, name: String, capabilities: Option<Vec<String>>) -> Worker {
        let capabilities =
            capabilities.unwrap_or_else(|| detect_capabilities(self.config.lava.is_some()));
        Worker::new(
            self.store.clone(),
            self.pipeline.clone(),
            self.projects.clone(),
            WorkerSettings {
                name,
                capabilities,
                lease: self.config.queue.lease,
                retry: self.retry(),
                idle: Duration::from_millis(500),
            },
            Some(self.reporter.clone()),
        )
    }

    /// Queues what is new (one dispatcher at a time).
    pub async fn dispatch(&self) -> Result<Vec<gauntlet_store::Id>, Error> {
        let _one = self.dispatching.lock().await;
        dispatch(
            &self.store,
            &self.pipeline,
            &self.projects,
            Some(&self.reporter),
        )
        .await
    }

    /// One pass of every source, then of the dispatcher (for tests).
    pub async fn poll_all(&self) -> Result<usize, Error> {
        let mut mails = 0;
        for poller in self.pollers()? {
            mails += poller.poll(&self.store).await.unwrap_or(0);
        }
        self.dispatch().await?;
        Ok(mails)
    }

    fn pollers(&self) -> Result<Vec<Poller>, Error> {
        self.config
            .sources
            .iter()
            .map(|source| {
                let client = self
                    .patchwork
                    .iter()
                    .find(|(n, _)| *n == source.name)
                    .map(|(_, c)| c.clone());
                Poller::new(source.clone(), client)
            })
            .collect()
    }

    /// A maintainer's state for a patch: recorded as theirs (gauntlet never changes it after
    /// this) and set on every Patchwork that has the patch. Returns the Patchwork instances
    /// updated.
    pub async fn override_state(
        &self,
        msgid: &str,
        state: gauntlet_store::PatchState,
        by: &str,
        reason: Option<String>,
    ) -> Result<Vec<String>, Error> {
        let Some(&series) = self
            .store
            .series_of_msgids(&[msgid.to_owned()])
            .await?
            .first()
        else {
            return Err(Error::Report(format!("no patch {msgid} in the store")));
        };
        let detail = self.store.series_detail(series).await?;
        let revision = detail.as_ref().map_or(1, |d| d.summary.revision);
        let project = self
            .store
            .runs_of_series(series)
            .await?
            .first()
            .map(|r| r.project.clone())
            .unwrap_or_default();
        self.store
            .set_patch_state(
                &gauntlet_store::NewPatchState {
                    patch: msgid.to_owned(),
                    series,
                    revision,
                    project,
                    state,
                    set_by: gauntlet_store::SetBy::Maintainer(by.to_owned()),
                    reason,
                },
                unix_now(),
            )
            .await?;
        let mut updated = Vec::new();
        for source in &self.config.sources {
            let SourceKind::Patchwork { project, .. } = &source.kind else {
                continue;
            };
            let Some((_, client)) = self.patchwork.iter().find(|(n, _)| *n == source.name) else {
                continue;
            };
            if let Some(patch) = client.patch_by_msgid(project, msgid).await? {
                client.set_patch_state(patch.id, state.slug()).await?;
                updated.push(source.name.clone());
            }
        }
        Ok(updated)
    }

    /// Deletes the published branches older than `publish.max_age` (at most once an hour).
    async fn expire_published(&self) {
        let Some(publish) = &self.config.publish else {
            return;
        };
        let Some(max_age) = publish.max_age else {
            return;
        };
        {
            let Ok(mut last) = self.last_expiry.lock() else {
                return;
            };
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(3600)) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        for project in self.projects.iter() {
            let Some(tree) = &project.tree else {
                continue;
            };
            let Ok(mirror) =
                gauntlet_tree::Mirror::open(&self.config.cache_dir, &tree.source).await
            else {
                continue;
            };
            match gauntlet_tree::publish::expire(
                mirror.path(),
                &publish.remote,
                &project.name,
                max_age,
                std::time::SystemTime::now(),
            )
            .await
            {
                Ok(gone) if !gone.is_empty() => {
                    tracing::info!(project = %project.name, branches = gone.len(), "old published branches deleted")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(project = %project.name, "expiring published branches: {e}")
                }
            }
        }
    }

    /// Runs the whole service until `shutdown`.
    pub async fn serve(self: Arc<Self>, shutdown: watch::Receiver<bool>) -> Result<(), Error> {
        let mut tasks: JoinSet<Result<(), Error>> = JoinSet::new();
        for poller in self.pollers()? {
            let service = self.clone();
            let mut stop = shutdown.clone();
            tasks.spawn(async move {
                while !*stop.borrow() {
                    if poller.poll(&service.store).await.is_ok()
                        && let Err(e) = service.dispatch().await
                    {
                        tracing::warn!("dispatch: {e}");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(poller.source.poll) => {}
                        _ = stop.changed() => {}
                    }
                }
                Ok(())
            });
        }
        // Series that arrive by `gauntlet ingest` (an MTA pipe) are dispatched here too.
        {
            let service = self.clone();
            let mut stop = shutdown.clone();
            tasks.spawn(async move {
                while !*stop.borrow() {
                    if let Err(e) = service.dispatch().await {
                        tracing::warn!("dispatch: {e}");
                    }
                    if let Err(e) = service.reporter.retry_pending().await {
                        tracing::warn!("retrying deliveries: {e}");
                    }
                    service.expire_published().await;
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                        _ = stop.changed() => {}
                    }
                }
                Ok(())
            });
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        for i in 0..self.config.workers {
            let worker = self.worker(format!("{host}-{}-serve-{i}", std::process::id()), None);
            let stop = shutdown.clone();
            tasks.spawn(async move { worker.run(stop).await.map(|_| ()) });
        }
        {
            let mut web = gauntlet_web::WebState::new(
                self.store.clone(),
                self.config.data_dir.join("artifacts"),
            );
            web.actions = Some(Arc::new(metrics::ServiceActions {
                store: self.store.clone(),
                pipeline: self.pipeline.clone(),
                projects: self.projects.clone(),
            }));
            web.private_reads = self.config.web.private_reads;
            let listen = self.config.listen;
            let stop = shutdown.clone();
            tasks.spawn(async move { metrics::serve(web, listen, stop).await });
        }
        tracing::info!(
            sources = self.config.sources.len(),
            workers = self.config.workers,
            listen = %self.config.listen,
            "gauntlet serve started"
        );
        let mut first_error = None;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!("a service task failed: {e}");
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    tracing::error!("a service task panicked: {e}");
                }
            }
        }
        let _ = unix_now();
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

//! A worker: claims the queue's jobs it can run, holds their lease while it runs them, and
//! gives them back when it must stop.
//!
//! The lease is renewed every third of its length; when renewing says the run is being
//! cancelled (a newer revision arrived) the job is abandoned and released, and when it says
//! the lease is lost (this worker was too slow, another took the job) the result is dropped.
//! An infrastructure failure goes back to the queue, which tries the job again after a
//! backoff. A worker that dies simply stops renewing: after the lease, any worker takes the job
//! again (each worker expires stale leases as it polls). On shutdown a worker finishes the job
//! it holds, then unregisters.

use std::sync::Arc;
use std::time::Duration;

use gauntlet_pipeline::Pipeline;
use gauntlet_project::Project;
use gauntlet_store::{Claimed, NewWorker, Renewal, RetryPolicy, RunEnd, Settled, Store, unix_now};
use tokio::sync::watch;

use crate::Error;
use crate::reporter::Reporter;

/// Who a worker is and how it holds jobs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Unique among live workers.
    pub name: String,
    pub capabilities: Vec<String>,
    pub lease: Duration,
    pub retry: RetryPolicy,
    /// Sleep between polls of an empty queue.
    pub idle: Duration,
}

pub struct Worker {
    store: Store,
    pipeline: Arc<Pipeline>,
    projects: Arc<Vec<Project>>,
    settings: WorkerSettings,
    reporter: Option<Arc<Reporter>>,
}

impl Worker {
    pub fn new(
        store: Store,
        pipeline: Arc<Pipeline>,
        projects: Arc<Vec<Project>>,
        settings: WorkerSettings,
        reporter: Option<Arc<Reporter>>,
    ) -> Worker {
        Worker {
            store,
            pipeline,
            projects,
            settings,
            reporter,
        }
    }

    /// Works until `shutdown` says stop; returns the jobs it ran.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> Result<u64, Error> {
        let name = &self.settings.name;
        self.store
            .register_worker(
                &NewWorker {
                    name: name.clone(),
                    capabilities: self.settings.capabilities.clone(),
                    host: hostname(),
                    pid: i64::from(std::process::id()),
                },
                unix_now(),
            )
            .await?;
        tracing::info!(worker = %name, capabilities = ?self.settings.capabilities, "worker started");
        let mut ran = 0;
        while !*shutdown.borrow() {
            let now = unix_now();
            for settled in self.store.expire_leases(now, &self.settings.retry).await? {
                tracing::warn!(job = settled.job, fate = ?settled.fate, "a lease ran out: the job's worker is gone");
                self.settled(&settled).await;
            }
            let _ = self.store.heartbeat(name, "idle", now).await;
            let claimed = self
                .store
                .claim(name, &self.settings.capabilities, self.settings.lease, now)
                .await?;
            match claimed {
                Some(claimed) => {
                    let _ = self.store.heartbeat(name, "busy", now).await;
                    self.process(claimed).await?;
                    ran += 1;
                }
                None => {
                    tokio::select! {
                        _ = tokio::time::sleep(self.settings.idle) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
        self.store.unregister_worker(name).await?;
        tracing::info!(worker = %name, jobs = ran, "worker stopped");
        Ok(ran)
    }

    async fn process(&self, claimed: Claimed) -> Result<(), Error> {
        let lease = claimed.lease.clone();
        tracing::info!(
            run = claimed.run,
            job = lease.job,
            stage = %claimed.job.stage,
            name = %claimed.job.name,
            attempt = claimed.attempt,
            "job claimed"
        );
        let Some(project) = self
            .projects
            .iter()
            .find(|p| p.name == claimed.submission.project)
        else {
            let why = format!(
                "worker {} has no project {:?} in its configuration",
                self.settings.name, claimed.submission.project
            );
            let settled = self
                .store
                .fail_infrastructure(&lease, &why, &self.settings.retry, unix_now())
                .await?;
            self.settled(&settled).await;
            return Ok(());
        };

        if let Some(reporter) = &self.reporter
            && let Err(e) = reporter
                .stage_check(claimed.run, &claimed.job.stage, &claimed.job.name, None)
                .await
        {
            tracing::warn!(run = claimed.run, "pending check not posted: {e}");
        }
        let (stop_tx, mut stop_rx) = watch::channel(None::<Renewal>);
        let renewer = {
            let store = self.store.clone();
            let lease = lease.clone();
            let ttl = self.settings.lease;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(ttl / 3).await;
                    match store.renew(&lease, ttl, unix_now()).await {
                        Ok(Renewal::Held { .. }) => {}
                        Ok(other) => {
                            let _ = stop_tx.send(Some(other));
                            return;
                        }
                        Err(e) => tracing::warn!(job = lease.job, "cannot renew the lease: {e}"),
                    }
                }
            })
        };
        let result = tokio::select! {
            r = self.pipeline.execute(project, &claimed) => Some(r),
            _ = stop_rx.wait_for(Option::is_some) => None,
        };
        renewer.abort();
        let now = unix_now();
        let settled = match result {
            Some(Ok(executed)) => {
                // The report job reports before it completes: if this worker dies meanwhile,
                // the job is taken again and the ledger keeps anything from being told twice.
                if let Some(reporter) = &self.reporter {
                    let reported = if executed.verdict.is_some() {
                        reporter.report_run(claimed.run).await
                    } else {
                        reporter
                            .stage_check(
                                claimed.run,
                                &claimed.job.stage,
                                &claimed.job.name,
                                Some(&executed.end),
                            )
                            .await
                    };
                    if let Err(e) = reported {
                        tracing::warn!(run = claimed.run, "reporting failed: {e}");
                    }
                }
                self.store.complete(&lease, &executed.end, now).await?
            }
            Some(Err(e)) => {
                tracing::warn!(job = lease.job, "infrastructure failure: {e}");
                self.store
                    .fail_infrastructure(&lease, &e.to_string(), &self.settings.retry, now)
                    .await?
            }
            None => {
                let why = *stop_rx.borrow();
                match why {
                    Some(Renewal::CancelRequested) => {
                        tracing::info!(job = lease.job, "cancelled: a newer revision");
                        self.store.release(&lease, now).await?
                    }
                    _ => {
                        tracing::warn!(job = lease.job, "lease lost: the result is dropped");
                        return Ok(());
                    }
                }
            }
        };
        tracing::info!(job = lease.job, fate = ?settled.fate, "job settled");
        self.settled(&settled).await;
        Ok(())
    }

    /// After a transition: a run that ended is reported.
    async fn settled(&self, settled: &Settled) {
        if let Some(end) = &settled.run_end {
            self.run_ended(end).await;
        }
    }

    async fn run_ended(&self, end: &RunEnd) {
        tracing::info!(run = end.run, cancelled = end.cancelled, reason = ?end.reason, "run ended");
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// What this machine can run: `build:<arch>` for each architecture it has a compiler for,
/// `qemu:<arch>` where QEMU and the guest's busybox are there too, `lava` with a LAVA lab.
pub fn detect_capabilities(lava: bool) -> Vec<String> {
    let search = gauntlet_lab::qemu::BusyboxSearch::from_env(|k| std::env::var_os(k));
    let mut caps = Vec::new();
    for arch in gauntlet_project::ARCHES {
        let native = arch.host_arch == std::env::consts::ARCH;
        let compiler = if native {
            "gcc".to_owned()
        } else {
            format!("{}-gcc", arch.triplet)
        };
        if !on_path(&compiler) {
            continue;
        }
        caps.push(format!("build:{}", arch.name));
        if let Ok(machine) = gauntlet_lab::qemu::machine_for(arch)
            && on_path(machine.program)
            && search.find(machine).is_ok()
        {
            caps.push(format!("qemu:{}", arch.name));
        }
    }
    if lava {
        caps.push("lava".to_owned());
    }
    caps
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

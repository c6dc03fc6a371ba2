//! The service's durable side — the job queue, the runs' state machine, supersede, workers,
//! sources, the delivery ledger, patch states and metrics — on SQLite and, when
//! `GAUNTLET_TEST_POSTGRES_URL` is set, on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauntlet_store::testing::{TestDb, postgres_url};
use gauntlet_store::{
    DeliveryKind, DeliveryState, Error, Fate, JobEnd, Lease, NewJob, NewPatchState, NewRun,
    NewWorker, PatchState, QueuedJob, Renewal, RetryPolicy, SetBy, StateChange, Store,
    delivery_key,
};

const T0: i64 = 1_700_000_000;
const LEASE: Duration = Duration::from_secs(30);

/// The databases to run on, each named for the assertion messages.
async fn databases() -> Vec<(&'static str, TestDb)> {
    let mut out = vec![("sqlite", TestDb::sqlite())];
    if let Some(base) = postgres_url() {
        out.push(("postgres", TestDb::postgres(&base).await.unwrap()));
    } else if std::env::var_os("GAUNTLET_REQUIRE_POSTGRES").is_some() {
        panic!("GAUNTLET_REQUIRE_POSTGRES is set but GAUNTLET_TEST_POSTGRES_URL is not");
    } else {
        eprintln!("SKIPPED on PostgreSQL (set GAUNTLET_TEST_POSTGRES_URL to run there too)");
    }
    out
}

/// Drops a test database. `DROP DATABASE … WITH (FORCE)` fails while an autovacuum worker
/// (which the test's role may not terminate) happens to be in the database: wait and retry.
async fn drop_db(db: TestDb) {
    let url = db.url.clone();
    let Err(first) = db.cleanup().await else {
        return;
    };
    let base = postgres_url().expect("only PostgreSQL databases can fail to drop");
    let name = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&base)
            .await
            .unwrap();
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let dropped = sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(sql)).await;
        let _ = sqlx::Connection::close(conn).await;
        if dropped.is_ok() {
            return;
        }
    }
    panic!("cannot drop {name}: {first}");
}

fn submission(key: &str, revision: u32) -> NewRun {
    NewRun {
        series: 40 + i64::from(revision),
        revision,
        series_key: key.to_owned(),
        project: "Proctree".into(),
        project_file: "/p/proctree.yaml".into(),
    }
}

fn job(stage: &str, name: &str, position: i64, requires: &[&str], after: &[usize]) -> QueuedJob {
    QueuedJob {
        job: NewJob {
            stage: stage.into(),
            name: name.into(),
            position,
            requires: requires.iter().map(|r| (*r).to_owned()).collect(),
        },
        spec: Some(format!("{{\"name\":\"{name}\"}}")),
        after: after.to_vec(),
    }
}

fn caps(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| (*c).to_owned()).collect()
}

fn pass(ms: i64) -> JobEnd {
    JobEnd {
        status: "PASS".into(),
        duration_ms: ms,
        ..JobEnd::default()
    }
}

async fn job_state(store: &Store, run: i64, job: i64) -> (String, Option<String>, i64) {
    let detail = store.run_detail(run).await.unwrap().unwrap();
    let j = detail.jobs.iter().find(|j| j.id == job).unwrap();
    (j.state.clone(), j.status.clone(), j.attempts)
}

#[tokio::test]
async fn jobs_are_claimed_in_order_by_capability_after_their_dependencies() {
    for (db_name, db) in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        // checks → apply → two builds → a test after the x86_64 build → the report after all.
        let (run, ids) = store
            .enqueue_run(
                &submission("<v1@example.org>", 1),
                &[
                    job("checks", "checks", 0, &[], &[]),
                    job("apply", "apply", 1, &[], &[0]),
                    job("build", "x86_64", 2, &["arch:x86_64"], &[1]),
                    job("build", "arm64", 3, &["arch:arm64"], &[1]),
                    job("test", "x86_64/smoke", 4, &["arch:x86_64", "qemu"], &[2]),
                    job("report", "report", 5, &[], &[0, 1, 2, 3, 4]),
                ],
                T0,
            )
            .await
            .unwrap();
        // A later run, and a run of the local pipeline whose queued job no worker may take.
        let (later, later_ids) = store
            .enqueue_run(
                &submission("<other@example.org>", 1),
                &[job("checks", "checks", 0, &[], &[])],
                T0 + 5,
            )
            .await
            .unwrap();
        let local = store
            .create_run(&submission("<local@example.org>", 1))
            .await
            .unwrap();
        store
            .add_job(
                local,
                &NewJob {
                    stage: "checks".into(),
                    name: "checks".into(),
                    position: 0,
                    requires: vec![],
                },
            )
            .await
            .unwrap();
        assert_eq!(
            store.run_detail(run).await.unwrap().unwrap().run.state,
            "queued",
            "{db_name}"
        );

        let x86 = caps(&["arch:x86_64", "qemu"]);
        let arm = caps(&["arch:arm64"]);
        let mut now = T0 + 10;
        let mut claim = async |worker: &str, caps: &[String]| {
            now += 1;
            store.claim(worker, caps, LEASE, now).await.unwrap()
        };

        let c = claim("w1", &x86).await.unwrap();
        assert_eq!(
            (c.lease.job, c.run, c.attempt),
            (ids[0], run, 1),
            "{db_name}"
        );
        assert_eq!(c.spec.as_deref(), Some("{\"name\":\"checks\"}"));
        assert_eq!(c.submission.series_key, "<v1@example.org>");
        assert_eq!(c.submission.revision, 1);
        assert_eq!((c.job.stage.as_str(), c.job.position), ("checks", 0));
        assert_eq!(c.lease_until, T0 + 11 + 30);
        assert_eq!(
            store.run_detail(run).await.unwrap().unwrap().run.state,
            "running",
            "{db_name}"
        );
        // apply waits for checks: the later run's checks come next.
        let other = claim("w2", &arm).await.unwrap();
        assert_eq!(other.lease.job, later_ids[0], "{db_name}");
        assert!(
            claim("w2", &x86).await.is_none(),
            "{db_name}: nothing else is ready"
        );
        let done = store.complete(&c.lease, &pass(5), T0 + 20).await.unwrap();
        assert_eq!((done.fate, done.run_end), (Fate::Completed, None));
        let ended = store
            .complete(&other.lease, &pass(7), T0 + 20)
            .await
            .unwrap();
        assert_eq!(ended.run_end.unwrap().run, later, "{db_name}");

        let apply = claim("w2", &arm).await.unwrap();
        assert_eq!(apply.lease.job, ids[1]);
        // A dependency that FAILed is still done: what follows decides what to make of it.
        let failed = JobEnd {
            status: "FAIL".into(),
            ..pass(1)
        };
        store
            .complete(&apply.lease, &failed, T0 + 30)
            .await
            .unwrap();
        // The arm64 worker can take only the arm64 build, the x86_64 one only the other.
        let b_arm = claim("w2", &arm).await.unwrap();
        assert_eq!(b_arm.lease.job, ids[3], "{db_name}");
        assert!(claim("w2", &arm).await.is_none());
        let b_x86 = claim("w1", &x86).await.unwrap();
        assert_eq!(b_x86.lease.job, ids[2]);
        assert_eq!(b_x86.job.requires, caps(&["arch:x86_64"]));
        assert!(
            claim("w1", &x86).await.is_none(),
            "{db_name}: the test waits"
        );
        store
            .complete(&b_x86.lease, &pass(1), T0 + 40)
            .await
            .unwrap();
        let test = claim("w1", &x86).await.unwrap();
        assert_eq!(test.lease.job, ids[4]);
        // The test needs qemu, which the arm64 worker lacks; the report waits for both.
        assert!(claim("w2", &arm).await.is_none());
        store
            .complete(&test.lease, &pass(1), T0 + 50)
            .await
            .unwrap();
        assert!(
            claim("w2", &arm).await.is_none(),
            "{db_name}: arm64 still builds"
        );
        store
            .complete(&b_arm.lease, &pass(1), T0 + 50)
            .await
            .unwrap();
        let report = claim("w2", &[]).await.unwrap();
        assert_eq!(report.lease.job, ids[5]);
        let end = store
            .complete(&report.lease, &pass(1), T0 + 60)
            .await
            .unwrap();
        let end = end.run_end.expect("the last job ends the run");
        assert_eq!((end.run, end.cancelled), (run, false), "{db_name}");
        let detail = store.run_detail(run).await.unwrap().unwrap();
        assert_eq!(detail.run.state, "done");
        assert_eq!(detail.run.finished_at, Some(T0 + 60));
        // The local run's job is still queued: no worker took it.
        assert!(claim("w1", &x86).await.is_none());
        let local = store.run_detail(local).await.unwrap().unwrap();
        assert_eq!(local.jobs[0].state, "queued", "{db_name}");
        store.close().await;
        drop_db(db).await;
    }
}

#[tokio::test]
async fn a_dependency_outside_the_run_or_a_later_job_is_refused() {
    for (db_name, db) in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        let forward = store
            .enqueue_run(
                &submission("<a@example.org>", 1),
                &[
                    job("build", "a", 0, &[], &[1]),
                    job("build", "b", 1, &[], &[]),
                ],
                T0,
            )
            .await;
        assert!(matches!(forward, Err(Error::Invalid(_))), "{db_name}");
        assert!(matches!(
            store
                .enqueue_run(&submission("<a@example.org>", 1), &[], T0)
                .await,
            Err(Error::Invalid(_))
        ));
        let (r1, j1) = store
            .enqueue_run(
                &submission("<a@example.org>", 1),
                &[job("checks", "c", 0, &[], &[])],
                T0,
            )
            .await
            .unwrap();
        let (r2, _) = store
            .enqueue_run(
                &submission("<b@example.org>", 1),
                &[job("checks", "c", 0, &[], &[])],
                T0,
            )
            .await
            .unwrap();
        let build = &job("build", "x86_64", 1, &[], &[]).job;
        let across = store.enqueue_job(r2, build, None, &[j1[0]], T0).await;
        assert!(matches!(across, Err(Error::Invalid(_))), "{db_name}");
        // Within the run it works, and the new job waits for the one it comes after.
        let added = store
            .enqueue_job(r1, build, None, &[j1[0]], T0)
            .await
            .unwrap();
        let c = store.claim("w", &[], LEASE, T0).await.unwrap().unwrap();
        assert_eq!(c.lease.job, j1[0]);
        let c2 = store.claim("w", &[], LEASE, T0).await.unwrap().unwrap();
        assert_ne!(c2.lease.job, added, "{db_name}");
        store.cancel_run(r1, "by hand", T0).await.unwrap();
        assert!(matches!(
            store.enqueue_job(r1, build, None, &[], T0).await,
            Err(Error::Invalid(_))
        ));
        store.close().await;
        drop_db(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_on_separate_pools_claim_every_job_exactly_once() {
    for (db_name, db) in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        // 10 runs of 5 jobs — 50 jobs: in even runs four builds then a report after them, in
        // odd runs five independent builds, whose last completions race to end the run.
        let mut all = HashSet::new();
        for r in 0..10 {
            let last = if r % 2 == 0 {
                job("report", "report", 4, &[], &[0, 1, 2, 3])
            } else {
                job("build", "e", 4, &[], &[])
            };
            let (_, ids) = store
                .enqueue_run(
                    &submission(&format!("<s{r}@example.org>"), 1),
                    &[
                        job("build", "a", 0, &[], &[]),
                        job("build", "b", 1, &[], &[]),
                        job("build", "c", 2, &[], &[]),
                        job("build", "d", 3, &[], &[]),
                        last,
                    ],
                    T0 + r,
                )
                .await
                .unwrap();
            all.extend(ids);
        }
        assert_eq!(all.len(), 50);
        let claimed = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(Mutex::new(Vec::new()));
        let per_worker = Arc::new(Mutex::new([0; 3]));
        let mut tasks = Vec::new();
        for w in 0..3 {
            // Each worker has its own pool, as separate processes would.
            let store = Store::open(&db.url).await.unwrap();
            let claimed = claimed.clone();
            let ended = ended.clone();
            let per_worker = per_worker.clone();
            tasks.push(tokio::spawn(async move {
                let worker = format!("w{w}");
                let mut idle = 0;
                while idle < 50 {
                    match store.claim(&worker, &[], LEASE, T0 + 100).await.unwrap() {
                        Some(c) => {
                            idle = 0;
                            claimed.lock().unwrap().push(c.lease.job);
                            per_worker.lock().unwrap()[w] += 1;
                            let s = store.complete(&c.lease, &pass(2), T0 + 101).await.unwrap();
                            assert_eq!(s.fate, Fate::Completed);
                            if let Some(end) = s.run_end {
                                ended.lock().unwrap().push(end.run);
                            }
                        }
                        None => {
                            if claimed.lock().unwrap().len() == 50 {
                                break;
                            }
                            // A report waits for builds others are finishing.
                            idle += 1;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                store.close().await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let claimed = claimed.lock().unwrap().clone();
        let unique: HashSet<i64> = claimed.iter().copied().collect();
        let per_worker = *per_worker.lock().unwrap();
        eprintln!("{db_name}: jobs per worker {per_worker:?}");
        assert_eq!(claimed.len(), 50, "{db_name}: every job claimed once");
        assert_eq!(unique, all, "{db_name}");
        let ended = ended.lock().unwrap().clone();
        let ended_unique: HashSet<i64> = ended.iter().copied().collect();
        assert_eq!(
            (ended.len(), ended_unique.len()),
            (10, 10),
            "{db_name}: every run ended exactly once"
        );
        for run in ended {
            let d = store.run_detail(run).await.unwrap().unwrap();
            assert_eq!(d.run.state, "done");
            assert!(d.jobs.iter().all(|j| j.attempts == 1), "{db_name}");
        }
        store.close().await;
        drop_db(db).await;
    }
}

/// Workers claim, renew and complete while revisions keep superseding each other: no
/// transaction deadlocks, and every run ends exactly once, done or cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn supersede_races_with_workers_without_deadlock() {
    for (db_name, db) in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        let jobs: Vec<QueuedJob> = (0..4)
            .map(|i| job("build", &format!("b{i}"), i, &[], &[]))
            .collect();
        let mut runs = Vec::new();
        for rev in 1..=8 {
            let (run, _) = store
                .enqueue_run(
                    &submission(&format!("<r{rev}@example.org>"), rev),
                    &jobs,
                    T0,
                )
                .await
                .unwrap();
            runs.push(run);
        }
        let ended = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for w in 0..3 {
            let store = Store::open(&db.url).await.unwrap();
            let ended = ended.clone();
            tasks.push(tokio::spawn(async move {
                let worker = format!("w{w}");
                let mut idle = 0;
                while idle < 20 {
                    let Some(c) = store.claim(&worker, &[], LEASE, T0 + 1).await.unwrap() else {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    };
                    idle = 0;
                    let s = match store.renew(&c.lease, LEASE, T0 + 2).await.unwrap() {
                        Renewal::Held { .. } => {
                            store.complete(&c.lease, &pass(1), T0 + 3).await.unwrap()
                        }
                        Renewal::CancelRequested => store.release(&c.lease, T0 + 3).await.unwrap(),
                        Renewal::Lost => panic!("nobody else holds this lease"),
                    };
                    assert_ne!(s.fate, Fate::Refused);
                    if let Some(end) = s.run_end {
                        ended.lock().unwrap().push(end.run);
                    }
                }
                store.close().await;
            }));
        }
        let superseder = {
            let store = Store::open(&db.url).await.unwrap();
            let ended = ended.clone();
            tokio::spawn(async move {
                for newer in 2..=8 {
                    let lineage: Vec<String> =
                        (1..=8).map(|r| format!("<r{r}@example.org>")).collect();
                    let c = store
                        .supersede(&lineage, newer, &format!("superseded by v{newer}"), T0 + 2)
                        .await
                        .unwrap();
                    ended.lock().unwrap().extend(c.ended.iter().map(|e| e.run));
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                store.close().await;
            })
        };
        superseder.await.unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let mut ended = ended.lock().unwrap().clone();
        ended.sort_unstable();
        assert_eq!(ended, runs, "{db_name}: every run ended once");
        for run in &runs {
            let d = store.run_detail(*run).await.unwrap().unwrap();
            assert!(
                matches!(d.run.state.as_str(), "done" | "cancelled"),
                "{db_name}"
            );
            assert!(
                d.jobs
                    .iter()
                    .all(|j| j.state == "done" || j.state == "cancelled")
            );
        }
        // The newest revision is never superseded.
        let newest = store.run_detail(runs[7]).await.unwrap().unwrap();
        assert_eq!(newest.run.state, "done", "{db_name}");
        store.close().await;
        drop_db(db).await;
    }
}

#[tokio::test]
async fn an_expired_lease_is_taken_again_and_the_stale_owner_is_refused() {
    for (db_name, db) in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        let policy = RetryPolicy::default();
        let (run, ids) = store
            .enqueue_run(
                &submission("<l@example.org>", 1),
                &[job("build", "x", 0, &[], &[])],
                T0,
            )
            .await
            .unwrap();
        let first = store.claim("w1", &[], LEASE, T0).await.unwrap().unwrap();
        // Renewed in time: the lease holds past its first term.
        assert_eq!(
            store.renew(&first.lease, LEASE, T0 + 20).await.unwrap(),
            Renewal::Held { until: T0 + 50 }
        );
        assert!(
            store
                .expire_leases(T0 + 40, &policy)
                .await
                .unwrap()
                .is_empty()
        );
        // w1 goes silent; its lease runs out and w2 takes the job.
        let expired = store.expire_leases(T0 + 51, &policy).await.unwrap();
        assert_eq!(expired.len(), 1, "{db_name}");
        assert_eq!(expired[0].job, ids[0]);
        assert_eq!(expired[0].fate, Fate::Requeued { not_before: None });
        assert_eq!(expired[0].run_end, None);
        let second = store
            .claim("w2", &[], LEASE, T0 + 52)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.lease.job, ids[0]);
        assert_eq!(second.attempt, 2, "{db_name}: the lost attempt counts");
        assert_eq!(
            second.last_error.as_deref(),
            Some("the lease of worker w1 ran out")
        );
        // w1 wakes up: it can neither renew nor complete.
        assert_eq!(
            store.renew(&first.lease, LEASE, T0 + 53).await.unwrap(),
            Renewal::Lost
        );
        let stale = store
            .complete(&first.lease, &pass(1), T0 + 53)
            .await
            .unwrap();
        assert_eq!(stale.fate, Fate::Refused, "{db_name}");
        for s in [
            store.release(&first.lease, T0 + 53).await.unwrap(),
            store
                .fail_infrastructure(&first.lease, "disk", &policy, T0 + 53)
                .await
                .unwrap(),
        ] {
            assert_eq!(s.fate, Fate::Refused);
        }
        // Even a worker with the same name is fenced off by the claim number.
        let same_name = Lease {
            worker: "w2".into(),
            ..first.lease.clone()
        };
        assert_eq!(
            store
                .complete(&same_name, &pass(1), T0 + 53)
                .await
                .unwrap()
                .fate,
            Fate::Refused
        );
        let done = store
            .complete(&second.lease, &pass(9), T0 + 60)
            .await
            .unwrap();
        assert_eq!(done.fate, Fate::Completed);
        assert!(done.run_end.is_some());
        // Completing twice is harmless and ends nothing twice.
        let again = store
            .complete(&second.lease, &pass(9), T0 + 61)
            .await
            .unwrap();
        assert_eq!((again.fate, again.run_end), (Fate::AlreadyCompleted, None));
        assert_eq!(
            store.renew(&second.lease, LEASE, T0 + 61).await.unwrap(),
            Renewal::Lost
        );
        let (state, status, attempts) = job_state(&store, run, ids[0]).await;
        assert_eq!(
            (state.as_str(), status.as_deref(), attempts),
            ("done", Some("PASS"), 2)
        );
        store.close().await;
        drop_db(db).await;
    }
}

#[tokio::test]
async fn infrastructure_failures_back_off_then_give_up_with_error() {
    for (db_name, db) in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        let policy = RetryPolicy {
            max_attempts: 3,
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
        };
        assert_eq!(
            (policy.delay(1), policy.delay(2), policy.delay(3)),
            (10, 20, 40)
        );
        assert_eq!(policy.delay(80), 3600);
        let (run, ids) = store
            .enqueue_run(
                &submission("<f@example.org>", 1),
                &[job("test", "lava", 0, &[], &[])],
                T0,
            )
            .await
            .unwrap();
        let mut now = T0;
        for (attempt, wait) in [(1, 10), (2, 20)] {
            let c = store.claim("w", &[], LEASE, now).await.unwrap().unwrap();
            assert_eq!(c.attempt, attempt, "{db_name}");
            let s = store
                .fail_infrastructure(&c.lease, "lab unreachable", &policy, now)
                .await
                .unwrap();
            assert_eq!(
                s.fate,
                Fate::Requeued {
                    not_before: Some(now + wait)
                }
            );
            assert!(
                store
                    .claim("w", &[], LEASE, now + wait - 1)
                    .await
                    .unwrap()
                    .is_none()
            );
            now += wait;
        }
        let c = store.claim("w", &[], LEASE, now).await.unwrap().unwrap();
        assert_eq!(c.attempt, 3);
        assert_eq!(c.last_error.as_deref(), Some("lab unreachable"));
        let s = store
            .fail_infrastructure(&c.lease, "lab unreachable", &policy, now)
            .await
            .unwrap();
        assert_eq!(s.fate, Fate::GaveUp, "{db_name}");
        assert_eq!(s.run_end.unwrap().run, run);
        let (state, status, attempts) = job_state(&store, run, ids[0]).await;
        assert_eq!(
            (state.as_str(), status.as_deref(), attempts),
            ("done", Some("ERROR"), 3)
        );

        // A release gives the attempt back; a job that loses every lease gives up too.
        let (run, ids) = store
            .enqueue_run(
                &submission("<g@example.org>", 1),
                &[job("build", "oom", 0, &[], &[])],
                T0,
            )
            .await
            .unwrap();
        let c = store.claim("w", &[], LEASE, now).await.unwrap().unwrap();
        let s = store.release(&c.lease, now).await.unwrap();
        assert_eq!(s.fate, Fate::Requeued { not_before: None });
        assert_eq!(job_state(&store, run, ids[0]).await.2, 0, "{db_name}");
        for attempt in 1..=3 {
            let c = store.claim("w", &[], LEASE, now).await.unwrap().unwrap();
            assert_eq!(c.attempt, attempt);
            now += 31;
            let e = store.expire_leases(now, &policy).await.unwrap();
            assert_eq!(e.len(), 1);
            if attempt < 3 {
                assert_eq!(e[0].fate, Fate::Requeued { not_before: None });
            } else {
                assert_eq!(e[0].fate, Fate::GaveUp, "{db_name}");
                assert_eq!(e[0].run_end.as_ref().map(|r| r.run), Some(run));
                // The worker that lost it, late, cannot pass its result off as the job's.
                let late = store.complete(&c.lease, &pass(1), now).await.unwrap();
                assert_eq!(late.fate, Fate::Refused, "{db_name}");
                let (state, status, _) = job_state(&store, run, ids[0]).await;
                assert_eq!((state.as_str(), status.as_deref()), ("done", Some("ERROR")));
            }
        }
        store.close().await;
        drop_db(db).await;
    }
}

#[tokio::test]
async fn a_newer_revision_supersedes_the_older_ones_work() {
    for (db_name, db) in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        let three = [
            job("build", "a", 0, &[], &[]),
            job("build", "b", 1, &[], &[]),
            job("build", "c", 2, &[], &[]),
        ];
        let (v1, v1_jobs) = store
            .enqueue_run(&submission("<v1@example.org>", 1), &three, T0)
            .await
            .unwrap();
        // Another project's run of v1, with nothing running: it ends at once.
        let (v1_other, _) = store
            .enqueue_run(&submission("<v1@example.org>", 1), &three[..1], T0)
            .await
            .unwrap();
        let running = store
            .claim("w1", &[], LEASE, T0 + 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(running.lease.job, v1_jobs[0]);
        let (v2, v2_jobs) = store
            .enqueue_run(&submission("<v2@example.org>", 2), &three, T0 + 2)
            .await
            .unwrap();
        let lineage = vec!["<v1@example.org>".to_owned(), "<v2@example.org>".to_owned()];
        let c = store
            .supersede(&lineage, 2, "superseded by v2", T0 + 3)
            .await
            .unwrap();
        assert_eq!(c.runs, vec![v1, v1_other], "{db_name}");
        assert_eq!((c.cancelled_jobs, c.stopping_jobs), (3, 1));
        assert_eq!(c.ended.len(), 1);
        assert_eq!(c.ended[0].run, v1_other);
        assert!(c.ended[0].cancelled);
        // Superseding again finds nothing left to do; v2 is untouched.
        assert!(
            store
                .supersede(&lineage, 2, "again", T0 + 3)
                .await
                .unwrap()
                .runs
                .is_empty()
        );
        let next = store
            .claim("w2", &[], LEASE, T0 + 4)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            next.lease.job, v2_jobs[0],
            "{db_name}: v1's queued jobs are gone"
        );
        // The worker on v1 hears of it when it renews, and acknowledges with a release.
        assert_eq!(
            store.renew(&running.lease, LEASE, T0 + 5).await.unwrap(),
            Renewal::CancelRequested
        );
        assert_eq!(v1_jobs.len(), 3);
        let s = store.release(&running.lease, T0 + 6).await.unwrap();
        assert_eq!(s.fate, Fate::Cancelled, "{db_name}");
        let end = s.run_end.unwrap();
        assert_eq!(
            (end.run, end.cancelled, end.reason.as_deref()),
            (v1, true, Some("superseded by v2"))
        );
        let d = store.run_detail(v1).await.unwrap().unwrap();
        assert_eq!(d.run.state, "cancelled");
        assert_eq!(d.run.reason.as_deref(), Some("superseded by v2"));
        assert!(d.jobs.iter().all(|j| j.state == "cancelled"), "{db_name}");
        assert!(d.jobs.iter().all(|j| j.status.as_deref() == Some("MISS")));
        assert_eq!(
            store.run_detail(v2).await.unwrap().unwrap().run.state,
            "running"
        );

        // A job that finishes before its worker hears of the cancel still completes; its run
        // ends cancelled.
        let (v3, _) = store
            .enqueue_run(&submission("<v3@example.org>", 3), &three[..1], T0 + 7)
            .await
            .unwrap();
        // v2's remaining jobs go first (older run).
        let mut held = Vec::new();
        while let Some(c) = store.claim("w3", &[], LEASE, T0 + 8).await.unwrap() {
            held.push(c);
        }
        assert_eq!(held.len(), 3);
        let lineage = vec!["<v2@example.org>".to_owned(), "<v3@example.org>".to_owned()];
        let c = store
            .supersede(&lineage, 3, "superseded by v3", T0 + 9)
            .await
            .unwrap();
        assert_eq!((c.runs, c.stopping_jobs), (vec![v2], 3), "{db_name}");
        let mut ends = 0;
        let on_v2: Vec<_> = held.iter().filter(|h| h.run == v2).collect();
        let done = store
            .complete(&on_v2[0].lease, &pass(1), T0 + 10)
            .await
            .unwrap();
        assert_eq!(done.fate, Fate::Completed, "{db_name}");
        let policy = RetryPolicy::default();
        let failed = store
            .fail_infrastructure(&on_v2[1].lease, "x", &policy, T0 + 10)
            .await
            .unwrap();
        assert_eq!(failed.fate, Fate::Cancelled);
        let released = store.release(&next.lease, T0 + 10).await.unwrap();
        assert_eq!(released.fate, Fate::Cancelled);
        for s in [done, failed, released.clone()] {
            ends += usize::from(s.run_end.is_some());
        }
        assert!(
            released.run_end.is_some(),
            "{db_name}: the last one ends the run"
        );
        assert_eq!(ends, 1);
        assert_eq!(
            store.run_detail(v2).await.unwrap().unwrap().run.state,
            "cancelled"
        );
        let v3_job = held.iter().find(|h| h.run == v3).unwrap();
        assert_eq!(
            store.renew(&v3_job.lease, LEASE, T0 + 11).await.unwrap(),
            Renewal::Held { until: T0 + 41 }
        );
        store.close().await;
        drop_db(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ledger_records_each_delivery_once_even_under_concurrent_intents() {
    for (db_name, db) in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        let key = delivery_key(
            DeliveryKind::Check,
            &["1234", "gauntlet-build", "7", "fail"],
        );
        assert_eq!(key, "check:1234:gauntlet-build:7:fail");
        let mut tasks = Vec::new();
        for p in 0..3 {
            let store = Store::open(&db.url).await.unwrap();
            for t in 0..8 {
                let store = store.clone();
                let key = key.clone();
                tasks.push(tokio::spawn(async move {
                    let payload = format!("{{\"from\":\"{p}.{t}\"}}");
                    store
                        .intend(
                            &key,
                            DeliveryKind::Check,
                            "https://pw/api/patches/1234/checks/",
                            &payload,
                            T0,
                        )
                        .await
                        .unwrap()
                }));
            }
        }
        let mut new = 0;
        let mut ids = HashSet::new();
        let mut payloads = HashSet::new();
        for t in tasks {
            let (row, created) = t.await.unwrap();
            new += usize::from(created);
            ids.insert(row.id);
            payloads.insert(row.payload);
        }
        assert_eq!((new, ids.len(), payloads.len()), (1, 1, 1), "{db_name}");
        let id = *ids.iter().next().unwrap();

        let pending = store.pending_deliveries(3).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].state, DeliveryState::Intended);
        assert!(store.mark_sent(id, T0 + 1).await.unwrap());
        assert!(!store.mark_sent(id, T0 + 2).await.unwrap(), "{db_name}");
        assert!(!store.mark_failed(id, "late").await.unwrap());
        assert!(store.pending_deliveries(3).await.unwrap().is_empty());
        let (row, created) = store
            .intend(&key, DeliveryKind::Check, "elsewhere", "{}", T0 + 3)
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(
            (row.state, row.sent_at, row.attempts),
            (DeliveryState::Sent, Some(T0 + 1), 1)
        );

        // A refused mail is retried while attempts remain.
        let (mail, _) = store
            .intend(
                "mail:<v1@example.org>:7",
                DeliveryKind::Mail,
                "a@example.org",
                "{\"subject\":\"Re\"}",
                T0,
            )
            .await
            .unwrap();
        assert!(
            store
                .mark_failed(mail.id, "550 mailbox full")
                .await
                .unwrap()
        );
        let pending = store.pending_deliveries(2).await.unwrap();
        assert_eq!(pending.len(), 1, "{db_name}");
        assert_eq!(pending[0].last_error.as_deref(), Some("550 mailbox full"));
        assert!(
            store
                .mark_failed(mail.id, "550 mailbox full")
                .await
                .unwrap()
        );
        assert!(store.pending_deliveries(2).await.unwrap().is_empty());
        assert_eq!(store.failed_deliveries(10).await.unwrap().len(), 1);
        assert!(matches!(
            store
                .intend("push:x", DeliveryKind::Push, "origin", "not json", T0)
                .await,
            Err(Error::Invalid(_))
        ));
        store.close().await;
        drop_db(db).await;
    }
}

#[tokio::test]
async fn gauntlet_never_overrides_a_humans_patch_state() {
    for (db_name, db) in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        let change = |patch: &str, state, set_by| NewPatchState {
            patch: patch.to_owned(),
            series: 41,
            revision: 1,
            project: "Proctree".into(),
            state,
            set_by,
            reason: Some("test".into()),
        };
        let p1 = "<p1@example.org>";
        assert!(store.may_gauntlet_set(p1).await.unwrap());
        assert!(matches!(
            store
                .set_patch_state(&change(p1, PatchState::New, SetBy::Gauntlet), T0)
                .await
                .unwrap(),
            StateChange::Recorded(_)
        ));
        assert_eq!(
            store
                .set_patch_state(&change(p1, PatchState::New, SetBy::Gauntlet), T0)
                .await
                .unwrap(),
            StateChange::Unchanged
        );
        store
            .set_patch_state(
                &change(p1, PatchState::UnderReview, SetBy::Gauntlet),
                T0 + 1,
            )
            .await
            .unwrap();
        let jane = SetBy::Maintainer("Jane".into());
        store
            .set_patch_state(&change(p1, PatchState::Accepted, jane.clone()), T0 + 2)
            .await
            .unwrap();
        assert!(!store.may_gauntlet_set(p1).await.unwrap(), "{db_name}");
        assert_eq!(
            store
                .set_patch_state(&change(p1, PatchState::Superseded, SetBy::Gauntlet), T0 + 3)
                .await
                .unwrap(),
            StateChange::RefusedHuman {
                by: jane.clone(),
                state: PatchState::Accepted
            }
        );
        let current = store.patch_state(p1).await.unwrap().unwrap();
        assert_eq!(
            (current.change.state, current.change.set_by, current.at),
            (PatchState::Accepted, jane, T0 + 2)
        );
        let history: Vec<PatchState> = store
            .patch_state_history(p1)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.change.state)
            .collect();
        assert_eq!(
            history,
            [
                PatchState::New,
                PatchState::UnderReview,
                PatchState::Accepted
            ],
            "{db_name}"
        );
        // A Patchwork user is a human too; another patch is unaffected.
        let p2 = "<p2@example.org>";
        store
            .set_patch_state(&change(p2, PatchState::Rejected, SetBy::Gauntlet), T0)
            .await
            .unwrap();
        store
            .set_patch_state(
                &change(
                    p2,
                    PatchState::ChangesRequested,
                    SetBy::Patchwork("bob".into()),
                ),
                T0 + 1,
            )
            .await
            .unwrap();
        assert!(!store.may_gauntlet_set(p2).await.unwrap());
        let states: HashMap<String, PatchState> = store
            .submission_patch_states(41, 1)
            .await
            .unwrap()
            .into_iter()
            .map(|s| (s.change.patch, s.change.state))
            .collect();
        assert_eq!(states.len(), 2);
        assert_eq!(states[p2], PatchState::ChangesRequested, "{db_name}");
        assert!(
            store
                .patch_state("<none@example.org>")
                .await
                .unwrap()
                .is_none()
        );
        store.close().await;
        drop_db(db).await;
    }
}

#[tokio::test]
async fn workers_sources_and_metrics_describe_the_service() {
    for (db_name, db) in databases().await {
        let store = Store::open(&db.url).await.unwrap();
        for (name, cap) in [("host-a:1", "arch:x86_64"), ("host-b:2", "arch:arm64")] {
            store
                .register_worker(
                    &NewWorker {
                        name: name.into(),
                        capabilities: caps(&[cap, "qemu"]),
                        host: name.split(':').next().unwrap().into(),
                        pid: 1,
                    },
                    T0,
                )
                .await
                .unwrap();
        }
        let (run, ids) = store
            .enqueue_run(
                &submission("<m@example.org>", 1),
                &[
                    job("checks", "checks", 0, &[], &[]),
                    job("build", "x86_64", 1, &["arch:x86_64"], &[0]),
                    job("build", "arm64", 2, &["arch:arm64"], &[0]),
                ],
                T0,
            )
            .await
            .unwrap();
        let m = store.queue_metrics(T0 + 10).await.unwrap();
        assert_eq!(m.runs, vec![("queued".to_owned(), 1)], "{db_name}");
        assert_eq!((m.ready_jobs, m.oldest_ready_age_s), (1, Some(10)));
        let c = store
            .claim("host-a:1", &caps(&["arch:x86_64", "qemu"]), LEASE, T0 + 10)
            .await
            .unwrap()
            .unwrap();
        assert!(store.heartbeat("host-a:1", "busy", T0 + 11).await.unwrap());
        let workers = store.workers().await.unwrap();
        assert_eq!(workers.len(), 2);
        assert_eq!(workers[0].name, "host-a:1");
        assert_eq!(workers[0].state, "busy");
        assert_eq!(workers[0].heartbeat_at, T0 + 11);
        assert_eq!(workers[0].capabilities, caps(&["arch:x86_64", "qemu"]));
        assert_eq!(workers[0].jobs.len(), 1, "{db_name}");
        assert_eq!(
            (workers[0].jobs[0].job, workers[0].jobs[0].lease_until),
            (ids[0], Some(T0 + 40))
        );
        assert!(workers[1].jobs.is_empty());
        store
            .complete(&c.lease, &pass(1_500), T0 + 20)
            .await
            .unwrap();
        let m = store.queue_metrics(T0 + 25).await.unwrap();
        assert_eq!(m.runs, vec![("running".to_owned(), 1)]);
        // Both builds became ready when checks ended.
        assert_eq!(
            (m.ready_jobs, m.oldest_ready_age_s),
            (2, Some(5)),
            "{db_name}"
        );
        let checks = m.durations.iter().find(|d| d.stage == "checks").unwrap();
        assert_eq!((checks.count, checks.sum_ms), (1, 1_500));
        assert_eq!(checks.buckets[..2], [0, 1]);
        let queued: i64 = m
            .jobs
            .iter()
            .filter(|j| j.stage == "build" && j.state == "queued")
            .map(|j| j.count)
            .sum();
        assert_eq!(queued, 2);
        assert!(store.unregister_worker("host-a:1").await.unwrap());
        assert!(!store.heartbeat("host-a:1", "idle", T0 + 30).await.unwrap());
        assert_eq!(store.forget_silent_workers(T0 + 1).await.unwrap(), 1);
        assert!(store.workers().await.unwrap().is_empty());
        assert!(store.run_detail(run).await.unwrap().is_some());

        // Sources: a good poll moves the cursor, a failed one keeps it.
        assert!(store.source_state("pw").await.unwrap().is_none());
        store
            .source_polled("pw", Some("2024-01-01T00:00:00"), T0)
            .await
            .unwrap();
        store
            .source_failed("pw", "HTTP 502", T0 + 60)
            .await
            .unwrap();
        let s = store.source_state("pw").await.unwrap().unwrap();
        assert_eq!(
            s.cursor.as_deref(),
            Some("2024-01-01T00:00:00"),
            "{db_name}"
        );
        assert_eq!((s.last_poll_at, s.last_ok_at), (Some(T0 + 60), Some(T0)));
        assert_eq!(s.last_error.as_deref(), Some("HTTP 502"));
        store.source_polled("pw", None, T0 + 120).await.unwrap();
        store
            .source_failed("lore", "git fetch failed", T0)
            .await
            .unwrap();
        let all = store.source_states().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].name, "pw");
        assert_eq!(all[1].cursor.as_deref(), Some("2024-01-01T00:00:00"));
        assert_eq!(all[1].last_error, None);
        assert_eq!(all[0].cursor, None);
        let now = store.db_now().await.unwrap();
        assert!((now - gauntlet_store::unix_now()).abs() < 5, "{db_name}");
        store.close().await;
        drop_db(db).await;
    }
}

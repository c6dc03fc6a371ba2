//! Output as it arrives, and several runs at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Scratch, all, run_within};
use tokio::sync::mpsc;

const BOUND: Duration = Duration::from_secs(30);

#[tokio::test]
async fn lines_arrive_while_the_command_runs() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let (tx, mut rx) = mpsc::channel(64);
        let script = "echo 'lava-test-case boot --result pass'; sleep 2; \
                      echo 'lava-test-case net --result fail'";
        let cmd = s.sh(&sandbox, script).stream_lines(tx);
        let started = Instant::now();
        let run = tokio::spawn(cmd.run());
        let first = tokio::time::timeout(BOUND, rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first, b"lava-test-case boot --result pass");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{name}: not live"
        );
        assert!(!run.is_finished());
        let second = tokio::time::timeout(BOUND, rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second, b"lava-test-case net --result fail");
        assert!(started.elapsed() >= Duration::from_secs(2));
        assert_eq!(rx.recv().await, None);
        let out = run.await.unwrap().unwrap();
        assert!(out.success(), "{name}: {out:?}");
        assert_eq!(
            s.log_text(),
            "lava-test-case boot --result pass\nlava-test-case net --result fail\n"
        );
    }
}

#[tokio::test]
async fn chunks_add_up_to_the_log() {
    for (name, sandbox) in all() {
        let s = Scratch::new();
        let (tx, mut rx) = mpsc::channel(4);
        let collect = tokio::spawn(async move {
            let mut all = Vec::new();
            while let Some(chunk) = rx.recv().await {
                all.extend(chunk);
            }
            all
        });
        let out = run_within(BOUND, s.sh(&sandbox, "seq 1 200000").stream_chunks(tx)).await;
        assert!(out.success(), "{name}: {out:?}");
        let streamed = collect.await.unwrap();
        let expected: String = (1..=200_000).map(|i| format!("{i}\n")).collect();
        assert_eq!(streamed, expected.as_bytes(), "{name}");
        assert_eq!(s.log_text(), expected, "{name}");
        assert_eq!(out.output.total_bytes, expected.len() as u64);
    }
}

#[tokio::test]
async fn a_receiver_that_goes_away_only_ends_the_stream() {
    let (name, sandbox) = all().remove(0);
    let s = Scratch::new();
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let out = run_within(BOUND, s.sh(&sandbox, "seq 1 50000").stream_lines(tx)).await;
    assert!(out.success(), "{name}: {out:?}");
    assert_eq!(s.log_text().lines().count(), 50_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_commands_run_at_once() {
    for (name, sandbox) in all() {
        let scratches: Vec<Scratch> = (0..4).map(|_| Scratch::new()).collect();
        let started = Instant::now();
        let runs = scratches.iter().enumerate().map(|(i, s)| {
            let cmd = s.sh(&sandbox, &format!("sleep 1; echo run {i}"));
            tokio::spawn(cmd.run())
        });
        let runs: Vec<_> = runs.collect();
        for (i, run) in runs.into_iter().enumerate() {
            let out = run.await.unwrap().unwrap();
            assert!(out.success(), "{name}: {out:?}");
            assert_eq!(scratches[i].log_text(), format!("run {i}\n"));
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{name}: not concurrent"
        );
    }
}

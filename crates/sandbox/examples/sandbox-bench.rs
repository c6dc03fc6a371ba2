//! Measures what the sandbox costs: starting a trivial command in each kind of sandbox this
//! machine has versus starting it directly, and the throughput of output capture.
//!
//! `cargo run --release -p gauntlet-sandbox --example sandbox-bench -- [RUNS] [MIB]`
//! (bench/sandbox.sh runs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gauntlet_sandbox::{Choice, DetectOptions, Limits, Sandbox};
use tokio::sync::mpsc;

fn median_and_p90(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let mib: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2048);
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("log");

    let sandboxes = [
        ("bubblewrap + cgroup", DetectOptions::default()),
        (
            "bubblewrap, no cgroup",
            DetectOptions {
                cgroup: Choice::Off,
                ..DetectOptions::default()
            },
        ),
        (
            "limits only + cgroup",
            DetectOptions {
                bubblewrap: Choice::Off,
                ..DetectOptions::default()
            },
        ),
        (
            "limits only, no cgroup",
            DetectOptions {
                bubblewrap: Choice::Off,
                cgroup: Choice::Off,
            },
        ),
    ];
    let sandboxes: Vec<(&str, Sandbox)> = sandboxes
        .into_iter()
        .map(|(name, options)| (name, Sandbox::detect_with(&options)))
        .collect();
    for (name, sandbox) in &sandboxes {
        println!(
            "{name:24} confinement: {}, memory: {}, processes: {}",
            sandbox.confinement().kind(),
            sandbox.enforcement().memory,
            sandbox.enforcement().processes
        );
    }

    println!("\nstarting `true`, {runs} runs each: median, p90");
    let mut direct = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let status = std::process::Command::new("true").status().unwrap();
        assert!(status.success());
        direct.push(t.elapsed());
    }
    let (direct_median, direct_p90) = median_and_p90(direct);
    println!(
        "{:24} {:>10} {:>10}",
        "direct (std::process)",
        ms(direct_median),
        ms(direct_p90)
    );
    for (name, sandbox) in &sandboxes {
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let out = sandbox.command("true").log(&log).run().await.unwrap();
            assert!(out.success(), "{out:?}");
            samples.push(t.elapsed());
        }
        let (median, p90) = median_and_p90(samples);
        println!(
            "{name:24} {:>10} {:>10}   overhead {}",
            ms(median),
            ms(p90),
            ms(median.saturating_sub(direct_median))
        );
    }

    let bytes = mib << 20;
    println!("\ncapturing {mib} MiB of output (log capped at 4 MiB)");
    let t = Instant::now();
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("head -c {bytes} /dev/zero > /dev/null")])
        .status()
        .unwrap();
    assert!(status.success());
    let producer = t.elapsed();
    println!(
        "{:32} {:>8.0} MiB/s",
        "producer alone (to /dev/null)",
        mib as f64 / producer.as_secs_f64()
    );
    let limits = Limits {
        log_size: 4 << 20,
        output_kill: None,
        ..Limits::default()
    };
    for (name, sandbox) in &sandboxes {
        for streamed in [false, true] {
            let mut cmd = sandbox
                .command("head")
                .args(["-c", &bytes.to_string(), "/dev/zero"])
                .limits(limits)
                .log(&log);
            let consumer = if streamed {
                let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
                cmd = cmd.stream_chunks(tx);
                Some(tokio::spawn(async move {
                    let mut n = 0usize;
                    while let Some(chunk) = rx.recv().await {
                        n += chunk.len();
                    }
                    n
                }))
            } else {
                None
            };
            let t = Instant::now();
            let out = cmd.run().await.unwrap();
            let elapsed = t.elapsed();
            assert!(out.success(), "{out:?}");
            assert_eq!(out.output.total_bytes, bytes);
            if let Some(consumer) = consumer {
                assert_eq!(consumer.await.unwrap() as u64, bytes);
            }
            println!(
                "{:32} {:>8.0} MiB/s",
                format!("{name}{}", if streamed { " + stream" } else { "" }),
                mib as f64 / elapsed.as_secs_f64()
            );
        }
    }
}

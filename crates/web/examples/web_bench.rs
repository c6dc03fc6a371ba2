//! Server-side render times of the dashboard (driven by `bench/web.sh`):
//!
//! ```sh
//! bench --sample DIR                        # the sample course into DIR/gauntlet.db, then stop
//! bench --db URL --artifacts DIR [--iterations N] [--log-job ID] [--serve ADDR]
//! ```
//!
//! Each page is requested through the router in process (no network), a few times to warm up
//! and then `N` times; the median and the 90th percentile are printed in milliseconds. With
//! `--serve`, the router is then served on `ADDR` (for wrk) until the process is stopped.

use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gauntlet_store::{RunFilter, Store};
use gauntlet_web::{WebState, router};
use tower::ServiceExt;

#[path = "common/sample.rs"]
mod sample;

#[derive(Default)]
struct Args {
    sample: Option<std::path::PathBuf>,
    db: Option<String>,
    artifacts: Option<std::path::PathBuf>,
    iterations: usize,
    log_job: Option<i64>,
    serve: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        iterations: 50,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} wants a value"));
        match flag.as_str() {
            "--sample" => args.sample = Some(value()?.into()),
            "--db" => args.db = Some(value()?),
            "--artifacts" => args.artifacts = Some(value()?.into()),
            "--iterations" => args.iterations = value()?.parse().map_err(|e| format!("{e}"))?,
            "--log-job" => args.log_job = Some(value()?.parse().map_err(|e| format!("{e}"))?),
            "--serve" => args.serve = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// Milliseconds of one request, and its size.
async fn once(app: &axum::Router, uri: &str) -> Result<(f64, usize), String> {
    let started = Instant::now();
    let response = app
        .clone()
        .oneshot(
            Request::get(uri)
                .body(Body::empty())
                .map_err(|e| e.to_string())?,
        )
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 30)
        .await
        .map_err(|e| e.to_string())?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if status != StatusCode::OK {
        return Err(format!("{uri}: {status}"));
    }
    Ok((ms, body.len()))
}

async fn measure(app: &axum::Router, label: &str, uri: &str, n: usize) -> Result<(), String> {
    for _ in 0..3 {
        once(app, uri).await?;
    }
    let mut times = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n {
        let (ms, bytes) = once(app, uri).await?;
        times.push(ms);
        size = bytes;
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let p90 = times[(times.len() * 9 / 10).min(times.len() - 1)];
    println!(
        "{label:<34} median {median:7.2} ms   p90 {p90:7.2} ms   {:>7} bytes   {uri}",
        size
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = args()?;
    if let Some(dir) = &args.sample {
        let (store, artifacts) = sample::fill(dir).await?;
        store.close().await;
        println!("{}", artifacts.display());
        return Ok(());
    }
    let (Some(db), Some(artifacts)) = (&args.db, &args.artifacts) else {
        return Err("give --sample DIR, or --db URL --artifacts DIR".into());
    };
    let store = Store::open(db).await.map_err(|e| e.to_string())?;
    let app = router(WebState::new(store.clone(), artifacts.clone()));
    let newest = |state: &str| {
        let store = store.clone();
        let state = state.to_owned();
        async move {
            store
                .submissions(&RunFilter {
                    state: Some(state),
                    limit: 1,
                    ..RunFilter::default()
                })
                .await
                .map_err(|e| e.to_string())
                .map(|rows| rows.first().map(|r| r.run.id))
        }
    };
    let n = args.iterations;
    measure(&app, "list page (newest 50)", "/", n).await?;
    let deep = store
        .submissions(&RunFilter {
            offset: 50_000,
            limit: 1,
            ..RunFilter::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    if let Some(row) = deep.first() {
        let uri = format!("/?before={}", row.run.id);
        measure(&app, "list page (by key, half-way)", &uri, n).await?;
    }
    measure(&app, "list page (state=rejected)", "/?state=rejected", n).await?;
    measure(
        &app,
        "list page (submitter)",
        "/?submitter=jan.novak%40student.example.org",
        n,
    )
    .await?;
    measure(&app, "list page (subject search)", "/?q=greet+people", n).await?;
    measure(
        &app,
        "list page (search, no match)",
        "/?q=no+such+subject",
        n.min(10),
    )
    .await?;
    for state in ["rejected", "accepted"] {
        if let Some(run) = newest(state).await? {
            let label = format!("submission page ({state})");
            measure(&app, &label, &format!("/runs/{run}"), n).await?;
        }
    }
    measure(&app, "status page", "/status", n.min(10)).await?;
    measure(&app, "API submissions (50)", "/api/v1/submissions", n).await?;
    if let Some(job) = args.log_job {
        let first = Instant::now();
        once(&app, &format!("/jobs/{job}/log")).await?;
        println!(
            "{:<34} {:7.2} ms (the line index built)",
            "log viewer, first open",
            first.elapsed().as_secs_f64() * 1000.0
        );
        let uri = format!("/jobs/{job}/log?line=1000000");
        measure(&app, "log viewer (line 1,000,000)", &uri, n).await?;
        measure(
            &app,
            "log viewer (tail)",
            &format!("/jobs/{job}/log?tail=1"),
            n,
        )
        .await?;
    }
    if let Some(addr) = &args.serve {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        eprintln!("serving on http://{addr}/");
        axum::serve(listener, app)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

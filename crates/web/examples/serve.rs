//! Serves the dashboard and the API on 127.0.0.1, until interrupted (`gauntlet serve` mounts the
//! same router in the service):
//!
//! ```sh
//! cargo run -p gauntlet-web --example serve -- --db sqlite:PATH --artifacts DIR [--addr A:P]
//! cargo run -p gauntlet-web --example serve -- --sample DIR [--addr A:P]
//! ```
//!
//! `--sample DIR` first runs the demo's sample course through the real pipeline into a new
//! store under `DIR` (SQLite), then serves it.

use std::path::PathBuf;

use gauntlet_store::Store;
use gauntlet_web::{WebState, router};

#[path = "common/sample.rs"]
mod sample;

struct Args {
    db: Option<String>,
    artifacts: Option<PathBuf>,
    sample: Option<PathBuf>,
    addr: String,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        db: None,
        artifacts: None,
        sample: None,
        addr: "127.0.0.1:8080".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} wants a value"));
        match flag.as_str() {
            "--db" => args.db = Some(value()?),
            "--artifacts" => args.artifacts = Some(value()?.into()),
            "--sample" => args.sample = Some(value()?.into()),
            "--addr" => args.addr = value()?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = args()?;
    let (store, artifacts) = match (&args.sample, &args.db, &args.artifacts) {
        (Some(dir), _, _) => sample::fill(dir).await?,
        (None, Some(db), Some(artifacts)) => (
            Store::open(db).await.map_err(|e| e.to_string())?,
            artifacts.clone(),
        ),
        _ => return Err("give --db URL --artifacts DIR, or --sample DIR".into()),
    };
    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .map_err(|e| format!("{}: {e}", args.addr))?;
    eprintln!("serving on http://{}/", args.addr);
    axum::serve(listener, router(WebState::new(store, artifacts)))
        .await
        .map_err(|e| e.to_string())
}

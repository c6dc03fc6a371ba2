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

async fn sample(dir: &std::path::Path) -> Result<(Store, PathBuf), String> {
    use gauntlet_pipeline::{Pipeline, Settings, sample};
    let course = sample::write(&dir.join("sample")).map_err(|e| e.to_string())?;
    let project = gauntlet_project::Project::load(&course.project).map_err(|e| format!("{e:?}"))?;
    let store = Store::open(&format!("sqlite:{}", dir.join("gauntlet.db").display()))
        .await
        .map_err(|e| e.to_string())?;
    let settings = Settings::under(&dir.join("data"));
    let artifacts = settings.artifacts_dir.clone();
    let pipeline = Pipeline::new(store.clone(), settings, gauntlet_sandbox::Sandbox::detect());
    for mbox in &course.series {
        let bytes = std::fs::read(mbox).map_err(|e| e.to_string())?;
        let mails: Vec<Vec<u8>> = gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default())
            .into_iter()
            .map(|m| m.bytes)
            .collect();
        let (results, _) =
            gauntlet_ingest::ingest_bytes(&store, &mails, &gauntlet_ingest::Options::default())
                .await
                .map_err(|e| e.to_string())?;
        let series = results.iter().find_map(|r| match r.outcome {
            Some(gauntlet_series::Outcome::Patch {
                series: Some(s), ..
            })
            | Some(gauntlet_series::Outcome::Cover { series: s, .. }) => Some(s),
            _ => None,
        });
        if let Some(series) = series {
            let outcome = pipeline
                .run(&project, series)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("run {}: {}", outcome.run, outcome.verdict.as_str());
        }
    }
    Ok((store, artifacts))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = args()?;
    let (store, artifacts) = match (&args.sample, &args.db, &args.artifacts) {
        (Some(dir), _, _) => sample(dir).await?,
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

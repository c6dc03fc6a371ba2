//! `gauntlet-conformance`: prints how gauntlet agrees with Patchwork, git and a real archive.
//!
//! ```text
//! gauntlet-conformance [--corpus DIR] [--backend memory|sqlite|postgres] [--batch N]
//! gauntlet-conformance agreement PATCHWORK.json EXPORT.json
//! ```
//! Exit status 0 when everything passes (Patchwork's cases 100 % but for the documented
//! deviations, the lore archive at least 99 %), 1 otherwise, 2 on errors.

use std::path::PathBuf;
use std::process::ExitCode;

use gauntlet_conformance::{
    Backend, InMemory, Report, StoreBackend, default_corpus_dir, git_mailinfo, lore, patchwork,
};

const USAGE: &str = "usage: gauntlet-conformance [--corpus DIR] [--backend memory|sqlite|postgres] [--batch N]\n       gauntlet-conformance agreement PATCHWORK.json EXPORT.json";

fn print_report(r: &Report, verbose: bool) {
    println!("{}", r.summary());
    for d in &r.deviations {
        println!("    deviation: {d}");
    }
    let shown = if verbose { usize::MAX } else { 20 };
    for f in r.failures.iter().take(shown) {
        println!("    FAIL {f}");
    }
    if r.failures.len() > shown {
        println!("    … and {} more", r.failures.len() - shown);
    }
}

fn agreement(expected: &str, got: &str) -> Result<bool, gauntlet_conformance::Error> {
    let e: serde_json::Value = serde_json::from_slice(&std::fs::read(expected)?)?;
    let g: serde_json::Value = serde_json::from_slice(&std::fs::read(got)?)?;
    let a = lore::agreement(&e, &g);
    println!(
        "{} of Patchwork's {} series reproduced identically ({:.2} %); name, version or total differ on {}",
        a.reproduced,
        a.expected,
        a.percent(),
        a.metadata_differs
    );
    for m in a.missing.iter().take(20) {
        println!("    not reproduced: {m}");
    }
    Ok(a.percent() >= 99.0)
}

fn run(args: &[String]) -> Result<bool, gauntlet_conformance::Error> {
    if args.first().map(String::as_str) == Some("agreement") {
        let (Some(e), Some(g)) = (args.get(1), args.get(2)) else {
            return Err(USAGE.into());
        };
        return agreement(e, g);
    }
    let mut corpus: PathBuf = default_corpus_dir();
    let mut backend = "memory".to_string();
    let mut batch = 1000usize;
    let mut verbose = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--corpus" => corpus = it.next().ok_or(USAGE)?.into(),
            "--backend" => backend = it.next().ok_or(USAGE)?.clone(),
            "--batch" => batch = it.next().ok_or(USAGE)?.parse()?,
            "-v" | "--verbose" => verbose = true,
            _ => return Err(USAGE.into()),
        }
    }
    if !corpus.join("patchwork").is_dir() {
        return Err(format!(
            "the conformance corpus is not at {} (it lives outside the repository, in ../shared/corpus; set GAUNTLET_CORPUS or pass --corpus)",
            corpus.display()
        )
        .into());
    }
    let mut b: Box<dyn Backend> = match backend.as_str() {
        "memory" => Box::new(InMemory),
        "sqlite" => Box::new(StoreBackend::sqlite(batch)?),
        "postgres" => {
            let url = gauntlet_store::testing::postgres_url()
                .ok_or("--backend postgres needs GAUNTLET_TEST_POSTGRES_URL")?;
            Box::new(StoreBackend::postgres(&url, batch)?)
        }
        other => return Err(format!("unknown backend {other:?}\n{USAGE}").into()),
    };
    let mut ok = true;
    for r in patchwork::check(&corpus, b.as_mut())? {
        print_report(&r, verbose);
        ok &= r.failed == 0;
    }
    let r = git_mailinfo::check(&corpus)?;
    print_report(&r, verbose);
    ok &= r.failed == 0;
    let (r, a) = lore::check(&corpus, b.as_mut())?;
    println!(
        "{} — {:.2} % of Patchwork's series reproduced identically (name, version or total differ on {})",
        r.summary(),
        a.percent(),
        a.metadata_differs
    );
    ok &= a.percent() >= 99.0;
    Ok(ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("gauntlet-conformance: {e}");
            ExitCode::from(2)
        }
    }
}

//! Timings for `bench/checks.sh`.
//!
//! ```text
//! bench builtin DIR [RUNS]            the built-in checks on the series in DIR (*.patch)
//! bench show DIR                      their report, as `gauntlet check` prints it
//! bench checkpatch TREE DIR [RUNS]    checkpatch.pl: gauntlet's runner, one process, one per patch
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gauntlet_checks::checkpatch::Runner;
use gauntlet_checks::{Context, Registry, Series, Source};
use gauntlet_mail::{Mail, ParseOptions};
use gauntlet_project::{CheckEntry, CheckSettings, Location};
use indexmap::IndexMap;

fn patch_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("a directory of patches")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "patch"))
        .collect();
    files.sort();
    files
}

/// Median, fastest and slowest of `runs` timings of `f`, in milliseconds.
fn measure(runs: usize, mut f: impl FnMut()) -> (f64, f64, f64) {
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
    )
}

fn builtin(dir: &Path, runs: usize, show: bool) {
    let files = patch_files(dir);
    let raws: Vec<Vec<u8>> = files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).unwrap();
            // git format-patch files start with an mbox `From <sha>` line.
            gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default())
                .into_iter()
                .next()
                .map_or(bytes, |m| m.bytes)
        })
        .collect();
    let options = ParseOptions::default();
    let (parse_ms, _, _) = measure(runs.min(50), || {
        for raw in &raws {
            std::hint::black_box(gauntlet_mail::parse(raw, &options));
        }
    });
    let mails: Vec<Mail> = raws
        .iter()
        .map(|r| gauntlet_mail::parse(r, &options))
        .collect();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let sources: Vec<Source<'_>> = mails
        .iter()
        .zip(&raws)
        .zip(&names)
        .map(|((mail, raw), name)| Source {
            mail,
            raw,
            file_name: Some(name),
        })
        .collect();
    let series = Series::assemble(&sources);
    // The built-in (Rust) checks: everything but the two Perl scripts.
    let mut entries = IndexMap::new();
    for name in ["checkpatch", "maintainers"] {
        entries.insert(
            name.to_string(),
            CheckEntry {
                settings: CheckSettings {
                    enabled: false,
                    ..CheckSettings::default()
                },
                at: Location::file(Path::new("bench")),
            },
        );
    }
    let configured = Registry::builtin().configure(&entries).unwrap();
    let context = Context::new();
    let report = configured.run(&series, &context);
    if show {
        print!("{}", gauntlet_checks::render_human(&report, false));
        return;
    }
    let (median, min, max) = measure(runs, || {
        std::hint::black_box(configured.run(&series, &context));
    });
    println!(
        "builtin: {} patches, {} results, {} errors, {} warnings",
        series.patches.len(),
        report.results.len(),
        report.errors,
        report.warnings
    );
    println!("builtin checks: median {median:.2} ms (min {min:.2}, max {max:.2}) over {runs} runs");
    println!("mail parsing (gauntlet-mail, for reference): median {parse_ms:.2} ms for the series");
}

fn checkpatch(tree: &Path, dir: &Path, runs: usize) {
    let files: Vec<PathBuf> = patch_files(dir)
        .into_iter()
        .filter(|f| !f.to_string_lossy().contains("cover-letter"))
        .collect();
    let runner = Runner::for_tree(tree, "HEAD", Path::new("perl"), Path::new("git")).unwrap();
    // Warm the page cache and check that the three ways agree.
    let gauntlet = runner.check(&files);
    let each = runner.check_each(&files);
    let same = gauntlet
        .iter()
        .zip(&each)
        .all(|(a, b)| a.as_ref().ok().map(|r| &r.findings) == b.as_ref().ok().map(|r| &r.findings));
    let findings: usize = gauntlet
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.findings.len())
        .sum();
    let alone = gauntlet
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.alone))
        .count();
    println!(
        "checkpatch: {} patches, {findings} findings, {alone} checked alone; gauntlet's runner and separate processes agree: {same}",
        files.len()
    );
    // Interleaved, so that a busy machine slows the three ways alike.
    let mut times: [Vec<Duration>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        std::hint::black_box(runner.check(&files));
        times[0].push(started.elapsed());
        let started = Instant::now();
        std::hint::black_box(runner.check_one_process(&files).unwrap());
        times[1].push(started.elapsed());
        let started = Instant::now();
        std::hint::black_box(runner.check_each(&files));
        times[2].push(started.elapsed());
    }
    let stats = |t: &mut Vec<Duration>| {
        t.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        (ms(t[t.len() / 2]), ms(t[0]), ms(t[t.len() - 1]))
    };
    let (g, g_min, g_max) = stats(&mut times[0]);
    let (one, one_min, one_max) = stats(&mut times[1]);
    let (sep, sep_min, sep_max) = stats(&mut times[2]);
    println!("checkpatch, gauntlet's runner:    median {g:.0} ms (min {g_min:.0}, max {g_max:.0})");
    println!(
        "checkpatch, one process for all:  median {one:.0} ms (min {one_min:.0}, max {one_max:.0})"
    );
    println!(
        "checkpatch, one process per patch: median {sep:.0} ms (min {sep_min:.0}, max {sep_max:.0})"
    );
    println!(
        "gauntlet / one process = {:.2}x; separate / gauntlet = {:.1}x ({runs} runs each)",
        g / one,
        sep / g
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs =
        |i: usize, default: usize| args.get(i).and_then(|r| r.parse().ok()).unwrap_or(default);
    match args.get(1).map(String::as_str) {
        Some("builtin") if args.len() >= 3 => builtin(Path::new(&args[2]), runs(3, 200), false),
        Some("show") if args.len() >= 3 => builtin(Path::new(&args[2]), 1, true),
        Some("checkpatch") if args.len() >= 4 => {
            checkpatch(Path::new(&args[2]), Path::new(&args[3]), runs(4, 5));
        }
        _ => {
            eprintln!("usage: bench builtin DIR [RUNS] | bench checkpatch TREE DIR [RUNS]");
            std::process::exit(2);
        }
    }
}

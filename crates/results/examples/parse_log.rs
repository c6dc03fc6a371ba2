//! Reads logs and prints what gauntlet-results makes of them, with the time it took.
//!
//!   cargo run --release -p gauntlet-results --example parse_log -- [--host|--job-log] [--quiet] FILE...
//!
//! `--host`: the output of a host program (TAP without version lines). `--job-log`: a LAVA
//! job log (`job*.log.yaml`). Default: a kernel console whose init prints `BOOT-OK` and
//! `TEST-DONE rc=N` (the markers of the captured KUnit boots).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, Write as _};
use std::process::ExitCode;
use std::time::Instant;

use gauntlet_results::{End, StreamConfig, StreamReport, Suite, parse_stream, read_job_log};

fn main() -> ExitCode {
    let mut host = false;
    let mut job_log = false;
    let mut quiet = false;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--host" => host = true,
            "--job-log" => job_log = true,
            "--quiet" => quiet = true,
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        eprintln!("usage: parse_log [--host|--job-log] [--quiet] FILE...");
        return ExitCode::from(2);
    }
    for path in files {
        let file = match File::open(&path) {
            Ok(f) => BufReader::with_capacity(1 << 20, f),
            Err(e) => {
                eprintln!("parse_log: {path}: {e}");
                return ExitCode::from(2);
            }
        };
        let mut config = if host {
            StreamConfig::host_process()
        } else {
            StreamConfig::kernel_console()
        };
        if job_log {
            // A LAVA device prints no gauntlet markers.
            config.console.userspace_marker = None;
            config.console.done_marker = None;
        } else if !host {
            // The markers of the captured KUnit boots (lava-samples/kunit_*.log).
            config.console.userspace_marker = Some("BOOT-OK".to_owned());
            config.console.done_marker = Some("TEST-DONE".to_owned());
        }
        let start = Instant::now();
        let cpu_start = cpu_seconds();
        let (stream, lava_own) = if job_log {
            match read_job_log(file, config) {
                Ok(r) => (r.console, Some(r.lava)),
                Err(e) => {
                    eprintln!("parse_log: {path}: {e}");
                    return ExitCode::from(2);
                }
            }
        } else {
            match parse_stream(file, config, End::Eof) {
                Ok(r) => (r, None),
                Err(e) => {
                    eprintln!("parse_log: {path}: {e}");
                    return ExitCode::from(2);
                }
            }
        };
        let seconds = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
        print_report(&path, &stream, lava_own.as_deref(), (seconds, cpu), quiet);
    }
    ExitCode::SUCCESS
}

fn print_report(
    path: &str,
    r: &StreamReport,
    lava_own: Option<&[Suite]>,
    seconds: (f64, Option<f64>),
    quiet: bool,
) {
    let mut out = String::new();
    report_text(&mut out, path, r, lava_own, seconds, quiet);
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

fn report_text(
    out: &mut String,
    path: &str,
    r: &StreamReport,
    lava_own: Option<&[Suite]>,
    (seconds, cpu): (f64, Option<f64>),
    quiet: bool,
) {
    let mb = r.bytes as f64 / 1e6;
    let _ = writeln!(
        out,
        "{path}: {} lines, {:.1} MB in {:.3} s = {:.0} MB/s, {:.2} M lines/s",
        r.lines,
        mb,
        seconds,
        mb / seconds.max(1e-9),
        r.lines as f64 / 1e6 / seconds.max(1e-9)
    );
    if let Some(cpu) = cpu {
        let _ = writeln!(
            out,
            "  cpu: {cpu:.2} s = {:.0} MB/s of CPU time (the wall time includes waiting for the CPU on a loaded machine)",
            mb / cpu.max(0.01)
        );
    }
    let _ = writeln!(
        out,
        "  console: {} ({}); {} kernel report(s); log kept {} of {} bytes",
        r.console.outcome.status,
        r.console.outcome.reason,
        r.console.events.len() as u64 + r.console.dropped_events,
        r.log.head.len() + r.log.tail.len(),
        r.log.total_bytes
    );
    for suite in r.suites() {
        let _ = writeln!(
            out,
            "  suite {}: {} — {}",
            suite.name,
            suite.status(),
            suite.counts()
        );
        if let Some(outcome) = &suite.outcome {
            let _ = writeln!(out, "    outcome {}: {}", outcome.status, outcome.reason);
        }
        if !quiet {
            for result in suite
                .results
                .iter()
                .filter(|r| r.status != gauntlet_verdict::Status::Pass)
            {
                let _ = writeln!(
                    out,
                    "    {} {}{}",
                    result.path,
                    result.status,
                    result
                        .reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
        }
    }
    for suite in lava_own.unwrap_or_default() {
        let _ = writeln!(
            out,
            "  LAVA's own suite {}: {} — {}",
            suite.name,
            suite.status(),
            suite.counts()
        );
    }
    if !r.problems.is_empty() {
        let _ = writeln!(
            out,
            "  {} problem(s), first: {:?}",
            r.problems.list.len() as u64 + r.problems.dropped,
            r.problems.list.first()
        );
    }
}

/// User and system CPU time of this process so far (Linux: `/proc/self/stat`, in clock ticks
/// of 1/100 s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

//! Writes a large, realistic console log for the benchmark (bench/results-parse.sh).
//!
//!   cargo run --release -p gauntlet-results --example make_console -- KIND MB FILE
//!
//! KIND: `ktap` (a kernel console with printk timestamps: KUnit suites of 40 cases, 4-space
//! nesting, printk noise between the lines, a few skips and failures), `noise` (printk lines
//! only: what a long boot or a flood looks like), `lava` (test-shell output: LAVA signals,
//! `--shell` cases with output, plain TAP).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

const NOISE: &[&str] = &[
    "pci 0000:00:01.1: reg 0x20: [io  0xc040-0xc04f]",
    "ACPI: PCI Interrupt Link [LNKA] (IRQs 5 *10 11)",
    "random: crng init done",
    "EXT4-fs (vda): mounted filesystem with ordered data mode. Quota mode: none.",
    "audit: type=1400 audit(1700000000.123:42): apparmor=\"STATUS\" operation=\"profile_load\"",
    "virtio_net virtio0 eth0: renamed from enp0s3",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, mb, path] = args.as_slice() else {
        eprintln!("usage: make_console ktap|noise|lava MB FILE");
        return ExitCode::from(2);
    };
    let Ok(mb) = mb.parse::<u64>() else {
        eprintln!("make_console: MB must be a number");
        return ExitCode::from(2);
    };
    let file = match File::create(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("make_console: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let result = match kind.as_str() {
        "ktap" => ktap(&mut out, mb << 20),
        "noise" => noise(&mut out, mb << 20),
        "lava" => lava(&mut out, mb << 20),
        _ => {
            eprintln!("make_console: unknown kind {kind}");
            return ExitCode::from(2);
        }
    };
    match result.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("make_console: {path}: {e}");
            ExitCode::from(1)
        }
    }
}

struct Clock(u64);

impl Clock {
    fn stamp(&mut self) -> String {
        self.0 += 37;
        format!("[{:>5}.{:06}] ", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

fn ktap(out: &mut impl Write, bytes: u64) -> std::io::Result<()> {
    let mut clock = Clock(0);
    // About 2,100 bytes per suite of 40 cases.
    let suites = bytes / 2100 + 1;
    let line = |out: &mut dyn Write, text: &str, clock: &mut Clock| -> std::io::Result<()> {
        writeln!(out, "{}{text}", clock.stamp())
    };
    line(out, "Linux version 6.1.0 (gcc) #1 SMP", &mut clock)?;
    line(out, "KTAP version 1", &mut clock)?;
    line(out, &format!("1..{suites}"), &mut clock)?;
    for s in 1..=suites {
        line(out, "    KTAP version 1", &mut clock)?;
        line(out, &format!("    # Subtest: suite_{s}"), &mut clock)?;
        line(out, "    1..40", &mut clock)?;
        for c in 1..=40u64 {
            if c.is_multiple_of(8) {
                line(out, NOISE[(c as usize / 8) % NOISE.len()], &mut clock)?;
            }
            let text = match (s + c) % 97 {
                0 => format!("    not ok {c} case_{s}_{c}"),
                1 => format!("    ok {c} case_{s}_{c} # SKIP not here"),
                _ => format!("    ok {c} case_{s}_{c}"),
            };
            line(out, &text, &mut clock)?;
        }
        line(
            out,
            &format!("# suite_{s}: pass:38 fail:1 skip:1 total:40"),
            &mut clock,
        )?;
        line(out, &format!("ok {s} suite_{s}"), &mut clock)?;
    }
    Ok(())
}

fn noise(out: &mut impl Write, bytes: u64) -> std::io::Result<()> {
    let mut clock = Clock(0);
    let mut written = 0u64;
    let mut i = 0usize;
    while written < bytes {
        let stamp = clock.stamp();
        let text = NOISE[i % NOISE.len()];
        i += 1;
        written += (stamp.len() + text.len() + 1) as u64;
        writeln!(out, "{stamp}{text}")?;
    }
    Ok(())
}

fn lava(out: &mut impl Write, bytes: u64) -> std::io::Result<()> {
    let mut written = 0u64;
    let mut i = 0u64;
    writeln!(out, "<LAVA_SIGNAL_STARTRUN 0_bench 1_1.1>")?;
    while written < bytes {
        i += 1;
        let block = format!(
            "+ lava-test-case case_{i} --shell ./run-one {i}\n<LAVA_SIGNAL_STARTTC case_{i}>\nrunning case {i}\nresult: {} after 12 ms\n<LAVA_SIGNAL_ENDTC case_{i}>\n<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=case_{i} RESULT={}>\n<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=time_{i} RESULT=pass UNITS=ms MEASUREMENT=12.5>\n",
            if i.is_multiple_of(50) { "bad" } else { "good" },
            if i.is_multiple_of(50) { "fail" } else { "pass" },
        );
        written += block.len() as u64;
        out.write_all(block.as_bytes())?;
    }
    writeln!(out, "<LAVA_SIGNAL_ENDRUN 0_bench 1_1.1>")
}

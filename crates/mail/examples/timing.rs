//! Per-mail cost of reading mails, for `bench/parse.sh`: splitting an mbox, Patchwork's reading
//! (`gauntlet_mail::parse`, which includes git's `mailinfo` for patches) and git's `mailinfo`
//! alone.
//!
//! `cargo run --release -p gauntlet-mail --example timing -- ARCHIVE.mbox [ROUNDS]`

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: timing ARCHIVE.mbox [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: u32 = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mb = bytes.len() as f64 / 1e6;
    let best = |f: &dyn Fn() -> usize| -> (f64, usize) {
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            n = f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        (best, n)
    };
    let mails = gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default());
    let (split, n) =
        best(&|| gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default()).len());
    let (parse, _) = best(&|| {
        mails
            .iter()
            .map(|m| gauntlet_mail::parse(&m.bytes, &gauntlet_mail::ParseOptions::default()))
            .filter(|m| m.is_patch())
            .count()
    });
    let (info, _) = best(&|| {
        mails
            .iter()
            .map(|m| gauntlet_mailinfo::mailinfo(&m.bytes, &gauntlet_mailinfo::Options::default()))
            .filter(|i| !i.patch.is_empty())
            .count()
    });
    println!("{n} mails, {mb:.1} MB, best of {rounds}");
    for (what, secs) in [
        ("split (mbox)", split),
        ("parse (Patchwork + git reading)", parse),
        ("git mailinfo alone", info),
    ] {
        println!(
            "{what:<34} {:>7.1} ms  {:>6.1} µs/mail  {:>6.0} MB/s",
            secs * 1e3,
            secs * 1e6 / n as f64,
            mb / secs
        );
    }
}

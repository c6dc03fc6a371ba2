//! Every mail of the io_uring archive (4,000 real kernel mails) through the built-in checks:
//! nothing panics, and what they find is plausible. SKIPPED without the corpus.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use gauntlet_checks::{Context, Registry, Series, Source};
use gauntlet_mail::ParseOptions;
use gauntlet_verdict::Status;

#[test]
fn the_archive_goes_through() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/lore/iouring-4k.mbox");
    let Ok(bytes) = std::fs::read(&path) else {
        let why = format!(
            "SKIPPED the_archive_goes_through: no corpus at {}",
            path.display()
        );
        assert!(
            std::env::var_os("GAUNTLET_REQUIRE_CORPUS").is_none(),
            "{why}"
        );
        eprintln!("{why}");
        return;
    };
    let options = ParseOptions::default();
    let configured = Registry::builtin().defaults();
    let context = Context::new();
    let mut statuses: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    let mut patches = 0;
    let started = std::time::Instant::now();
    let mut checking = std::time::Duration::ZERO;
    for raw in gauntlet_mbox::split(&bytes, gauntlet_mbox::Options::default()) {
        let mail = gauntlet_mail::parse(&raw.bytes, &options);
        if !mail.is_patch() {
            continue;
        }
        patches += 1;
        let sources = [Source {
            mail: &mail,
            raw: &raw.bytes,
            file_name: None,
        }];
        let series = Series::assemble(&sources);
        let t = std::time::Instant::now();
        let report = configured.run(&series, &context);
        checking += t.elapsed();
        for r in &report.results {
            *statuses
                .entry((r.check.clone(), r.status.as_str()))
                .or_default() += 1;
        }
    }
    eprintln!(
        "{patches} patches in {:?} ({:?} in the checks): {statuses:?}",
        started.elapsed(),
        checking
    );
    assert!(patches > 300, "{patches}");
    let count = |check: &str, status: Status| {
        statuses
            .get(&(check.to_string(), status.as_str()))
            .copied()
            .unwrap_or(0)
    };
    // Real, applied kernel patches: nearly all are signed off and have a diff that parses.
    assert!(
        count("signed-off-by", Status::Pass) * 10 > patches * 9,
        "{statuses:?}"
    );
    assert!(
        count("diff-sanity", Status::Pass) * 10 > patches * 9,
        "{statuses:?}"
    );
    assert!(
        count("subject", Status::Pass) * 10 > patches * 8,
        "{statuses:?}"
    );
}

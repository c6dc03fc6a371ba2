//! The conformance corpus through every path a mail can take: the engine in memory, the store on
//! SQLite (with batches of several sizes), and PostgreSQL when `GAUNTLET_TEST_POSTGRES_URL` names
//! a server (required when `GAUNTLET_REQUIRE_POSTGRES=1`).
#![allow(clippy::unwrap_used)]

use gauntlet_conformance::{
    Backend, InMemory, StoreBackend, corpus_for_tests, git_mailinfo, lore, patchwork,
};

fn check_all(backend: &mut dyn Backend, with_lore: bool) {
    let Some(corpus) = corpus_for_tests() else {
        return;
    };
    let mut failures = Vec::new();
    for r in patchwork::check(&corpus, backend).unwrap() {
        eprintln!("{}", r.summary());
        failures.extend(r.failures);
    }
    if with_lore {
        let (r, a) = lore::check(&corpus, backend).unwrap();
        eprintln!("{} = {:.2} %", r.summary(), a.percent());
        assert!(a.percent() >= 99.0, "lore agreement {:.2} %", a.percent());
        assert_eq!(a.metadata_differs, 0);
    }
    for f in failures.iter().take(40) {
        eprintln!("  FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} conformance failures",
        failures.len()
    );
}

#[test]
fn in_memory_with_git_mailinfo() {
    check_all(&mut InMemory, true);
    if let Some(corpus) = corpus_for_tests() {
        let r = git_mailinfo::check(&corpus).unwrap();
        eprintln!("{}", r.summary());
        assert_eq!(r.failed, 0, "{:#?}", r.failures);
        assert!(r.passed >= 50);
    }
}

#[test]
fn sqlite_one_mail_per_batch() {
    check_all(&mut StoreBackend::sqlite(1).unwrap(), false);
}

#[test]
fn sqlite_large_batches_with_lore() {
    check_all(&mut StoreBackend::sqlite(1000).unwrap(), true);
}

#[test]
fn sqlite_small_batches_with_lore() {
    // Batches that cut series in the middle: grouping must not depend on batch boundaries.
    check_all(&mut StoreBackend::sqlite(7).unwrap(), true);
}

#[test]
fn postgres() {
    let Some(url) = gauntlet_store::testing::postgres_url() else {
        assert!(
            std::env::var_os("GAUNTLET_REQUIRE_POSTGRES").is_none(),
            "PostgreSQL required but GAUNTLET_TEST_POSTGRES_URL is not set"
        );
        eprintln!("SKIPPED: GAUNTLET_TEST_POSTGRES_URL is not set (no PostgreSQL to test against)");
        return;
    };
    check_all(&mut StoreBackend::postgres(&url, 1).unwrap(), false);
    check_all(&mut StoreBackend::postgres(&url, 500).unwrap(), true);
}

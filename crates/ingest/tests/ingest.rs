//! Ingestion through the real store: every test runs on SQLite, and on PostgreSQL when
//! `GAUNTLET_TEST_POSTGRES_URL` names a server (required when `GAUNTLET_REQUIRE_POSTGRES=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gauntlet_ingest::{Options, ingest, ingest_bytes, reindex};
use gauntlet_mbox::Input;
use gauntlet_store::testing::{TestDb, postgres_url};
use gauntlet_store::{SeriesFilter, Store};

async fn for_each_backend(f: impl AsyncFn(&Store)) {
    let sqlite = TestDb::sqlite();
    let store = Store::open(&sqlite.url).await.unwrap();
    f(&store).await;
    store.close().await;
    match postgres_url() {
        Some(base) => {
            let db = TestDb::postgres(&base).await.unwrap();
            let store = Store::open(&db.url).await.unwrap();
            f(&store).await;
            store.close().await;
            db.cleanup().await.unwrap();
        }
        None => {
            assert!(
                std::env::var_os("GAUNTLET_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL required but GAUNTLET_TEST_POSTGRES_URL is not set"
            );
            eprintln!("SKIPPED on PostgreSQL: GAUNTLET_TEST_POSTGRES_URL is not set");
        }
    }
}

fn mail(subject: &str, id: &str, reply_to: Option<&str>, date: &str, body: &str) -> Vec<u8> {
    let mut s = format!(
        "From: Ada Lovelace <ada@example.com>\nSubject: {subject}\nDate: {date}\nMessage-Id: <{id}>\n"
    );
    if let Some(r) = reply_to {
        s.push_str(&format!("In-Reply-To: <{r}>\nReferences: <{r}>\n"));
    }
    s.push('\n');
    s.push_str(body);
    s.into_bytes()
}

const DIFF: &str = "Words.\n\nSigned-off-by: Ada Lovelace <ada@example.com>\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n";

fn mbox(mails: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in mails {
        out.extend_from_slice(b"From x Mon Sep 17 00:00:00 2001\n");
        out.extend_from_slice(m);
        if !m.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    out
}

async fn export(store: &Store) -> Vec<gauntlet_store::ExportSeries> {
    store.export_page(0, 1_000_000, None).await.unwrap()
}

async fn mail_count(store: &Store) -> i64 {
    store.stats().await.unwrap().mails
}

fn series_mails() -> Vec<Vec<u8>> {
    vec![
        mail(
            "[PATCH 0/2] A series",
            "c@x",
            None,
            "Mon, 1 Jan 2024 10:00:00 +0000",
            "cover\n",
        ),
        mail(
            "[PATCH 1/2] one",
            "p1@x",
            Some("c@x"),
            "Mon, 1 Jan 2024 10:00:01 +0000",
            DIFF,
        ),
        mail(
            "[PATCH 2/2] two",
            "p2@x",
            Some("c@x"),
            "Mon, 1 Jan 2024 10:00:02 +0000",
            DIFF,
        ),
        mail(
            "Re: [PATCH 1/2] one",
            "r@x",
            Some("p1@x"),
            "Mon, 1 Jan 2024 11:00:00 +0000",
            "Reviewed-by: B <b@x.org>\n",
        ),
    ]
}

#[tokio::test]
async fn ingesting_twice_changes_nothing() {
    for_each_backend(async |store: &Store| {
        let mails = series_mails();
        let (_, first) = ingest_bytes(store, &mails, &Options::default())
            .await
            .unwrap();
        assert_eq!(
            (
                first.tally.patches,
                first.tally.covers,
                first.tally.comments
            ),
            (2, 1, 1)
        );
        let before = (export(store).await, store.stats().await.unwrap());
        let (results, again) = ingest_bytes(store, &mails, &Options::default())
            .await
            .unwrap();
        assert_eq!(again.already_stored, 4);
        assert_eq!(again.tally.total(), 0);
        assert!(results.iter().all(|r| r.mail.is_none()));
        assert_eq!((export(store).await, store.stats().await.unwrap()), before);
    })
    .await;
}

#[tokio::test]
async fn reindex_rebuilds_the_same_series() {
    for_each_backend(async |store: &Store| {
        let mut mails = series_mails();
        // v2 threaded under v1, and noise.
        mails.push(mail(
            "[PATCH v2 0/2] A series",
            "c2@x",
            Some("c@x"),
            "Tue, 2 Jan 2024 10:00:00 +0000",
            "cover v2\n",
        ));
        mails.push(mail(
            "[PATCH v2 1/2] one",
            "q1@x",
            Some("c2@x"),
            "Tue, 2 Jan 2024 10:00:01 +0000",
            DIFF,
        ));
        mails.push(b"\x00\x01binary junk\xff\xfe".to_vec());
        ingest_bytes(
            store,
            &mails,
            &Options {
                batch_mails: 2,
                ..Options::default()
            },
        )
        .await
        .unwrap();
        let before = export(store).await;
        let list_before = store.series_list(&SeriesFilter::default()).await.unwrap();
        let summary = reindex(store, &Options::default(), |_| {}).await.unwrap();
        assert_eq!(summary.tally.total(), 7);
        assert_eq!(export(store).await, before);
        assert_eq!(
            store.series_list(&SeriesFilter::default()).await.unwrap(),
            list_before
        );
        let v2 = list_before.iter().find(|s| s.version == 2).unwrap();
        assert_eq!((v2.revision, v2.revisions, v2.superseded_by), (2, 2, None));
    })
    .await;
}

#[tokio::test]
async fn a_series_over_days_out_of_order_in_separate_runs() {
    for_each_backend(async |store: &Store| {
        let all = series_mails();
        // Patch 2 first, the reply, then the cover days later, then patch 1: one run each.
        for i in [2, 3, 0, 1] {
            ingest_bytes(store, &all[i..=i], &Options::default())
                .await
                .unwrap();
        }
        let series = store.series_list(&SeriesFilter::default()).await.unwrap();
        assert_eq!(series.len(), 1, "{series:?}");
        let s = &series[0];
        assert_eq!((s.received, s.total, s.complete), (2, 2, true));
        assert_eq!(s.name.as_deref(), Some("A series"));
        let d = store.series_detail(s.id).await.unwrap().unwrap();
        assert!(d.cover.is_some());
        // The reply arrived before its patch: Patchwork drops it, and so does gauntlet, but the
        // mail is kept.
        assert_eq!(mail_count(store).await, 4);
        assert_eq!(d.patches.iter().map(|p| p.comments).sum::<u32>(), 0);
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_stored_with_its_reason() {
    for_each_backend(async |store: &Store| {
        let big_diff = {
            let mut d = String::from("Big.\n---\ndiff --git a/big b/big\n--- a/big\n+++ b/big\n@@ -0,0 +1,500000 @@\n");
            for i in 0..500_000 {
                d.push_str(&format!("+line {i} of a very large generated file\n"));
            }
            d
        };
        assert!(big_diff.len() > 20 << 20);
        let mails = vec![
            // Binary junk.
            vec![0u8, 159, 146, 150, 255, 10, 0, 1, 2],
            // Headers without a colon: the body starts there.
            b"From: Ada <ada@example.com>\nSubject: [PATCH] x\nMessage-Id: <nocolon@x>\nThis is not a header\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n".to_vec(),
            // Invalid charset and broken encoded words.
            b"From: =?x-unknown?q?Ad=E9?= <ada@example.com>\nSubject: =?utf-8?b?!!!?= [PATCH] y\nMessage-Id: <charset@x>\nContent-Type: text/plain; charset=bogus\n\nCaf\xe9.\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n".to_vec(),
            // Two mails with one Message-ID, and two with none.
            mail("[PATCH] dup", "same@x", None, "Mon, 1 Jan 2024 10:00:00 +0000", DIFF),
            mail("[PATCH] dup (resent)", "same@x", None, "Mon, 1 Jan 2024 10:05:00 +0000", DIFF),
            b"From: Ada <ada@example.com>\nSubject: [PATCH] no id 1\n\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+c\n".to_vec(),
            b"From: Ada <ada@example.com>\nSubject: [PATCH] no id 2\n\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+d\n".to_vec(),
            // A reply that carries a diff: a comment, as Patchwork decides.
            mail("Re: [PATCH] dup", "replydiff@x", Some("same@x"), "Mon, 1 Jan 2024 11:00:00 +0000", DIFF),
            // A 20 MB patch.
            mail("[PATCH] huge", "huge@x", None, "Mon, 1 Jan 2024 12:00:00 +0000", &big_diff),
            // A bad date and a future date.
            mail("[PATCH] when", "bad-date@x", None, "Caturday, 99 Foo 20240 25:61:61", DIFF),
            mail("[PATCH] later", "future@x", None, "Fri, 1 Jan 2100 00:00:00 +0000", DIFF),
        ];
        let (results, summary) = ingest_bytes(store, &mails, &Options::default()).await.unwrap();
        let kinds: Vec<&str> = results
            .iter()
            .map(|r| r.outcome.as_ref().map_or("stored", |o| o.kind()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                "error", "patch", "patch", "patch", "duplicate", "patch", "patch", "comment", "patch",
                "patch", "patch"
            ]
        );
        // Nothing is lost: every mail is stored, whatever it was.
        assert_eq!(mail_count(store).await, mails.len() as i64);
        assert_eq!(summary.tally.errors, 1);
        let page = store.mails_page(0, 100).await.unwrap();
        assert_eq!(page[0].outcome, "error");
        assert_eq!(page[0].reason.as_deref(), Some("Missing 'From' header"));
        assert_eq!(page[0].raw, mails[0]);
        let huge = page.iter().find(|m| m.raw.len() > 20 << 20).unwrap();
        assert_eq!(huge.outcome, "patch");
    })
    .await;
}

#[tokio::test]
async fn truncated_mbox_and_maildir_and_size_limit() {
    for_each_backend(async |store: &Store| {
        let dir = tempfile::tempdir().unwrap();
        let full = mbox(&series_mails());
        // Cut in the middle of the last mail.
        let cut = &full[..full.len() - 10];
        let path = dir.path().join("cut.mbox");
        std::fs::write(&path, cut).unwrap();
        let mails = Input::from_arg(path.to_str().unwrap())
            .unwrap()
            .open(gauntlet_mbox::Options::default())
            .unwrap();
        let s = ingest(store, mails, &Options::default(), |_, _| {})
            .await
            .unwrap();
        assert_eq!(s.tally.total(), 4);

        // A maildir with one oversized mail: stored truncated, as an error.
        let md = dir.path().join("md");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(md.join(sub)).unwrap();
        }
        std::fs::write(
            md.join("new/1"),
            mail(
                "[PATCH] big",
                "big@x",
                None,
                "Mon, 1 Jan 2024 10:00:00 +0000",
                &"x".repeat(5000),
            ),
        )
        .unwrap();
        let mails = Input::Dir(md)
            .open(gauntlet_mbox::Options {
                max_mail_size: 1000,
                ..gauntlet_mbox::Options::default()
            })
            .unwrap();
        let s = ingest(store, mails, &Options::default(), |_, _| {})
            .await
            .unwrap();
        assert_eq!((s.tally.errors, s.truncated), (1, 1));
        // Re-indexing keeps it an error (it is not grouped from its truncated bytes).
        let r = reindex(store, &Options::default(), |_| {}).await.unwrap();
        assert_eq!((r.tally.total(), r.tally.errors), (5, 1));
    })
    .await;
}

#[tokio::test]
async fn list_ids_scope_series() {
    for_each_backend(async |store: &Store| {
        let mails = series_mails();
        let one = Options {
            list_id: Some("one.example.com".into()),
            ..Options::default()
        };
        let two = Options {
            list_id: Some("two.example.com".into()),
            ..Options::default()
        };
        ingest_bytes(store, &mails[..2], &one).await.unwrap();
        // The same patch 2 on another list does not join list one's series.
        let (r, _) = ingest_bytes(store, &[mails[2].clone()], &two)
            .await
            .unwrap();
        assert_eq!(r[0].outcome.as_ref().unwrap().kind(), "patch");
        let filter = SeriesFilter {
            list_id: Some("one.example.com".into()),
            ..SeriesFilter::default()
        };
        let s = store.series_list(&filter).await.unwrap();
        assert_eq!((s.len(), s[0].received), (1, 1));
    })
    .await;
}

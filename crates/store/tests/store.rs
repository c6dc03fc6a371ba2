//! The store's own mechanics on SQLite and, when `GAUNTLET_TEST_POSTGRES_URL` is set, on
//! PostgreSQL: migrations, chunked statements, long `IN` lists, re-indexing support.
#![allow(clippy::unwrap_used)]

use gauntlet_series::{Changes, Keys, PersonRow};
use gauntlet_store::testing::{TestDb, postgres_url};
use gauntlet_store::{NewMail, Store};

async fn backends() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    match postgres_url() {
        Some(base) => dbs.push(TestDb::postgres(&base).await.unwrap()),
        None => {
            assert!(
                std::env::var_os("GAUNTLET_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL required but GAUNTLET_TEST_POSTGRES_URL is not set"
            );
            eprintln!("SKIPPED on PostgreSQL: GAUNTLET_TEST_POSTGRES_URL is not set");
        }
    }
    dbs
}

#[tokio::test]
async fn migrations_are_idempotent_and_big_batches_are_chunked() {
    for db in backends().await {
        let store = Store::open(&db.url).await.unwrap();
        store.close().await;
        // Opening again runs no migration twice.
        let store = Store::open(&db.url).await.unwrap();

        // 25,000 people: more rows than one statement may bind, more ids than one IN list.
        let people: Vec<PersonRow> = (1..=25_000)
            .map(|i| PersonRow {
                id: i,
                email: format!("Person{i}@Example.org"),
                name: Some(format!("Person {i}")),
            })
            .collect();
        let mut tx = store.begin_ingest().await.unwrap();
        tx.save_changes(Changes {
            people: people.clone(),
            ..Changes::default()
        })
        .await
        .unwrap();
        // Three 7 MB mails: more bytes than one statement carries.
        let lists = tx.lists(&["big.example.org".to_string()], 0).await.unwrap();
        let list = lists["big.example.org"];
        let mails: Vec<NewMail> = (0..3)
            .map(|i| NewMail {
                id: tx.allocate_mail_id(),
                sha256: format!("{i:064}"),
                raw: vec![b'x'; 7 << 20],
                envelope: None,
                origin: "test".to_string(),
                list,
                msgid: format!("<{i}@x>"),
                received_at: 0,
                outcome: "dropped".to_string(),
                reason: Some("test".to_string()),
                truncated: false,
            })
            .collect();
        tx.save_mails(mails).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin_ingest().await.unwrap();
        let keys = Keys {
            emails: people.iter().map(|p| p.email.to_lowercase()).collect(),
            ..Keys::default()
        };
        let index = tx.load_index(&keys).await.unwrap();
        assert!(index.person(25_000).is_some());
        assert_eq!(index.person(1).unwrap().email, "Person1@Example.org");
        let known = tx
            .known(&(0..3).map(|i| format!("{i:064}")).collect::<Vec<_>>())
            .await
            .unwrap();
        assert_eq!(known.len(), 3);
        // Ids continue after the stored mails.
        assert_eq!(tx.allocate_mail_id(), 4);
        tx.set_outcomes(vec![(2, "error".to_string(), Some("why".to_string()))])
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let page = store.mails_page(0, 10).await.unwrap();
        assert_eq!(page.len(), 3);
        assert_eq!(page[1].outcome, "error");
        assert_eq!(page[2].raw.len(), 7 << 20);

        store.reset_derived().await.unwrap();
        let stats = store.stats().await.unwrap();
        assert_eq!(stats.mails, 3);
        assert_eq!(stats.outcomes, vec![("pending".to_string(), 3)]);
        let mut tx = store.begin_ingest().await.unwrap();
        assert!(tx.load_index(&keys).await.unwrap().person(1).is_none());
        tx.commit().await.unwrap();
        store.close().await;
        db.cleanup().await.unwrap();
    }
}

#[tokio::test]
async fn bad_urls_are_explained() {
    let err = Store::open("mysql://x").await.unwrap_err();
    assert!(err.to_string().contains("unsupported database URL"));
}

//! Against a real Patchwork, opt-in (see the crate's README): runs only when
//! `GAUNTLET_PATCHWORK_URL` is set. Reads projects, the newest events, a series, its mbox, a
//! patch and its checks; posts a `pending` check only when `GAUNTLET_PATCHWORK_WRITE=1` (and a
//! token is given), then finds it among the patch's checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gauntlet_patchwork::{Category, CheckState, Client, ClientConfig, Cursor, NewCheck};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[tokio::test]
async fn a_real_patchwork() {
    let Some(url) = env("GAUNTLET_PATCHWORK_URL") else {
        eprintln!("SKIPPED: GAUNTLET_PATCHWORK_URL is not set (see crates/patchwork/README.md)");
        return;
    };
    run(
        url,
        env("GAUNTLET_PATCHWORK_TOKEN"),
        env("GAUNTLET_PATCHWORK_PROJECT"),
        env("GAUNTLET_PATCHWORK_WRITE").as_deref() == Some("1"),
    )
    .await;
}

/// The same steps against the fake, so that the opt-in test itself is known to work.
#[tokio::test]
async fn the_opt_in_steps_work_on_the_fake() {
    let fake = gauntlet_patchwork::fake::FakePatchwork::start()
        .await
        .unwrap();
    let project = fake.add_project("demo", "Demo", "demo.example.com");
    let bot = fake.add_user("bot", "bot@example.com");
    fake.add_maintainer(project, bot.id);
    fake.add_series(
        project,
        &gauntlet_patchwork::fake::SeriesSpec::numbered("a series", "a", 2),
    );
    run(fake.url(), Some(bot.token), Some("demo".into()), true).await;
    assert_eq!(fake.writes().len(), 1);
}

async fn run(url: String, token: Option<String>, project: Option<String>, write: bool) {
    let mut config = ClientConfig::new(url);
    config.token = token;
    // Be gentle with a public server: small pages, few of them.
    config.per_page = 50;
    config.max_pages = 4;
    config.request_timeout = Duration::from_secs(30);
    let client = Client::new(&config).unwrap();
    let version = client.api_version().await.unwrap().to_owned();
    eprintln!("{}: API {version}", client.server());

    let project = match project {
        Some(p) => client.project(&p).await.unwrap(),
        None => client
            .projects()
            .await
            .unwrap()
            .into_iter()
            .next()
            .expect("the server has a project"),
    };
    eprintln!("project {} ({})", project.link_name, project.name);

    // The newest series-completed event, then a poll from a day before it.
    let categories = [Category::SeriesCompleted];
    let end = client
        .events_cursor_at_end(Some(&project.link_name), &categories)
        .await
        .unwrap();
    let Some(newest) = end.since else {
        eprintln!(
            "no series-completed event in {}: nothing more to read",
            project.link_name
        );
        return;
    };
    let from = Cursor::since(newest.saturating_sub(Duration::from_secs(86_400)));
    let batch = client
        .events(Some(&project.link_name), &categories, &from)
        .await
        .unwrap();
    assert!(!batch.events.is_empty());
    assert!(batch.events.windows(2).all(|w| w[0].date <= w[1].date));
    let event = batch.events.last().unwrap();
    let series_id = event
        .series_id()
        .expect("series-completed names its series");
    let series = client.series(series_id).await.unwrap();
    eprintln!(
        "series {} v{} {:?}: {} of {} patches",
        series.id, series.version, series.name, series.received_total, series.total
    );
    let mbox = client.series_mbox(series_id).await.unwrap();
    assert!(mbox.starts_with(b"From "), "an mbox");
    let Some(first) = series.patches.first() else {
        return;
    };
    let patch = client.patch(first.id).await.unwrap();
    assert_eq!(patch.msgid, first.msgid);
    let checks = client.checks(patch.id).await.unwrap();
    eprintln!(
        "patch {} ({}): {} checks",
        patch.id,
        patch.state,
        checks.len()
    );

    if !write {
        eprintln!("not posting a check: GAUNTLET_PATCHWORK_WRITE is not 1");
        return;
    }
    assert!(
        client.has_token(),
        "GAUNTLET_PATCHWORK_WRITE=1 needs GAUNTLET_PATCHWORK_TOKEN"
    );
    let posted = client
        .post_check(
            patch.id,
            &NewCheck {
                state: CheckState::Pending,
                context: "gauntlet-selftest".into(),
                target_url: None,
                description: Some("gauntlet's client test (opt-in)".into()),
            },
        )
        .await
        .unwrap();
    let checks = client.checks(patch.id).await.unwrap();
    assert!(checks.iter().any(|c| c.id == posted.id));
}

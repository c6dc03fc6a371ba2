//! The client against the fake Patchwork: pagination, cursors and the look-back, series and
//! mboxes, checks and states with Patchwork's permission rules, retries and faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gauntlet_patchwork::fake::{FakePatchwork, FakeUser, Fault, PatchSpec, SeriesSpec};
use gauntlet_patchwork::{
    Category, CheckState, Client, ClientConfig, Cursor, Error, EventBatch, NewCheck, Timestamp,
};

struct World {
    fake: FakePatchwork,
    project: u64,
    maintainer: FakeUser,
    outsider: FakeUser,
}

async fn world() -> World {
    let fake = FakePatchwork::start().await.unwrap();
    let project = fake.add_project("test", "Test", "test.example.com");
    let maintainer = fake.add_user("ci-bot", "ci@example.com");
    let outsider = fake.add_user("someone", "someone@example.com");
    fake.add_maintainer(project, maintainer.id);
    World {
        fake,
        project,
        maintainer,
        outsider,
    }
}

fn config(fake: &FakePatchwork, token: Option<&str>) -> ClientConfig {
    let mut config = ClientConfig::new(fake.url());
    config.token = token.map(str::to_owned);
    config.backoff = Duration::from_millis(5);
    config.request_timeout = Duration::from_secs(5);
    config
}

fn client(fake: &FakePatchwork, token: Option<&str>) -> Client {
    Client::new(&config(fake, token)).unwrap()
}

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn requests_to(fake: &FakePatchwork, part: &str) -> Vec<String> {
    fake.requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.contains(part))
        .collect()
}

/// `count` one-patch series named `{prefix}{i}`, Patchwork's clock a second apart from `start`.
fn add_singles(w: &World, start: &str, prefix: &str, count: usize) {
    w.fake.set_clock(ts(start), Duration::from_secs(1));
    for i in 0..count {
        let name = format!("{prefix}{i}");
        w.fake
            .add_series(w.project, &SeriesSpec::numbered(&name, &name, 1));
    }
}

/// A client reading pages of `per_page`, at most `max_pages` a call.
fn paged(w: &World, per_page: u32, max_pages: u32) -> Client {
    let mut config = config(&w.fake, None);
    config.per_page = per_page;
    config.max_pages = max_pages;
    Client::new(&config).unwrap()
}

/// The `series-completed` events of project `test` after `cursor`.
async fn completed(client: &Client, cursor: &Cursor) -> EventBatch {
    client
        .events(Some("test"), &[Category::SeriesCompleted], cursor)
        .await
        .unwrap()
}

/// The names of the series of these events.
fn names(batch: &EventBatch) -> Vec<String> {
    batch
        .events
        .iter()
        .map(|e| e.payload.series.as_ref().unwrap().name.clone().unwrap())
        .collect()
}

#[tokio::test]
async fn events_are_read_across_three_pages_oldest_first() {
    let w = world().await;
    add_singles(&w, "2026-11-22T14:00:00", "series ", 5);
    let batch = completed(&paged(&w, 2, 100), &Cursor::from_start()).await;
    assert!(batch.complete);
    assert_eq!(
        names(&batch),
        ["series 0", "series 1", "series 2", "series 3", "series 4"]
    );
    assert!(batch.events.windows(2).all(|w| w[0].date < w[1].date));
    assert_eq!(batch.cursor.since, Some(batch.events[4].date));
    let pages = requests_to(&w.fake, "/events/");
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[1].contains("page=2") && pages[2].contains("page=3"));
    assert!(pages[0].contains("order=date"), "{}", pages[0]);
}

#[tokio::test]
async fn the_cursor_reads_only_what_is_new_and_sends_naive_dates() {
    let w = world().await;
    w.fake
        .set_clock(ts("2026-11-22T14:00:00.250000"), Duration::from_millis(10));
    w.fake
        .add_series(w.project, &SeriesSpec::numbered("first", "a", 2));
    let client = client(&w.fake, None);
    let first = completed(&client, &Cursor::from_start()).await;
    assert_eq!(names(&first), ["first"]);
    let again = completed(&client, &first.cursor).await;
    assert!(again.events.is_empty(), "nothing new: {:?}", again.events);
    w.fake
        .add_series(w.project, &SeriesSpec::numbered("second", "b", 3));
    let second = completed(&client, &again.cursor).await;
    assert_eq!(names(&second), ["second"]);
    let sent = requests_to(&w.fake, "since=");
    assert_eq!(sent.len(), 2);
    // 65 minutes before the cursor, naive, microseconds kept.
    let since = first.cursor.since.unwrap();
    let expected = since
        .saturating_sub(Duration::from_secs(65 * 60))
        .to_string();
    assert!(
        sent[0].contains(&format!("since={}", expected.replace(':', "%3A"))),
        "{sent:?} {expected}"
    );
    assert!(!sent.iter().any(|s| s.contains('Z') || s.contains("%2B")));
}

#[tokio::test]
async fn the_look_back_catches_late_commits_once_and_is_bounded() {
    let w = world().await;
    let mut config = config(&w.fake, None);
    config.events_lookback = Duration::from_secs(10 * 60);
    let client = Client::new(&config).unwrap();
    add_singles(&w, "2026-11-22T12:00:00", "on time ", 1);
    let first = completed(&client, &Cursor::from_start()).await;
    assert_eq!(first.events.len(), 1);
    // A series whose events were stamped five minutes before the cursor but became visible
    // only now (a slow commit, or the server's clock stepping back), and one stamped two hours
    // before: beyond the window.
    add_singles(&w, "2026-11-22T11:55:00", "late ", 1);
    add_singles(&w, "2026-11-22T10:00:00", "too late ", 1);
    let second = completed(&client, &first.cursor).await;
    assert_eq!(names(&second), ["late 0"]);
    assert_eq!(
        second.cursor.since, first.cursor.since,
        "the cursor never goes back"
    );
    let third = completed(&client, &second.cursor).await;
    assert!(third.events.is_empty(), "read once: {:?}", third.events);
}

#[tokio::test]
async fn a_backlog_larger_than_one_call_is_read_in_order_over_several() {
    let w = world().await;
    add_singles(&w, "2026-11-22T12:00:00", "s", 7);
    let client = paged(&w, 2, 1);
    let mut cursor = Cursor::from_start();
    let mut read = Vec::new();
    for _ in 0..10 {
        let batch = completed(&client, &cursor).await;
        read.extend(names(&batch));
        cursor = batch.cursor;
        if batch.complete {
            break;
        }
    }
    assert_eq!(read, ["s0", "s1", "s2", "s3", "s4", "s5", "s6"]);
}

#[tokio::test]
async fn a_cursor_at_the_end_starts_from_the_servers_now() {
    let w = world().await;
    add_singles(&w, "2026-11-22T12:00:00", "old ", 2);
    let client = client(&w.fake, None);
    let categories = [Category::SeriesCompleted];
    let cursor = client
        .events_cursor_at_end(Some("test"), &categories)
        .await
        .unwrap();
    assert!(cursor.since.is_some());
    w.fake
        .add_series(w.project, &SeriesSpec::numbered("new", "b", 1));
    assert_eq!(names(&completed(&client, &cursor).await), ["new"]);
    // An empty project: from the start.
    let empty = client
        .events_cursor_at_end(Some("nonexistent"), &categories)
        .await
        .unwrap();
    assert_eq!(empty, Cursor::from_start());
}

#[tokio::test]
async fn late_mail_completes_a_series_later() {
    let w = world().await;
    let mut spec = SeriesSpec::numbered("three", "t", 3);
    spec.patches.pop();
    spec.total = Some(3);
    let added = w.fake.add_series(w.project, &spec);
    let client = client(&w.fake, None);
    let batch = completed(&client, &Cursor::from_start()).await;
    assert!(batch.events.is_empty());
    let series = client.series(added.series).await.unwrap();
    assert!(!series.received_all);
    assert_eq!((series.total, series.received_total), (3, 2));
    w.fake
        .add_patch(
            added.series,
            &PatchSpec::new("[3/3] three part 3", "t.3@example.com"),
        )
        .unwrap();
    let batch = completed(&client, &batch.cursor).await;
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.events[0].series_id(), Some(added.series));
    assert!(client.series(added.series).await.unwrap().received_all);
}

/// One mail of Ada's series (`n` 0 is the cover letter), as `git format-patch` writes it.
fn mail(n: u32, subject: &str, body: &str, diff: &str) -> String {
    let mut mail = format!(
        "From git@z Thu Jan  1 00:00:00 1970\nFrom: Ada Lovelace <ada@example.org>\n\
         Subject: [PATCH v2 {n}/2] {subject}\nDate: Mon, 02 Nov 2026 10:00:0{n} +0100\n\
         Message-ID: <m{n}@example.org>\n"
    );
    if n > 0 {
        mail.push_str("In-Reply-To: <m0@example.org>\n");
    }
    mail.push_str(&format!("\n{body}\n"));
    if !diff.is_empty() {
        mail.push_str(&format!(
            "\nSigned-off-by: Ada Lovelace <ada@example.org>\n---\n engine.txt | 1 +\n\
             \x20 1 file changed, 1 insertion(+)\n\ndiff --git a/engine.txt b/engine.txt\n\
             --- a/engine.txt\n+++ b/engine.txt\n{diff}"
        ));
    }
    mail
}

fn mbox() -> String {
    [
        mail(0, "engine: add loops", "Two patches.", ""),
        mail(
            1,
            "engine: count",
            "Counting first.",
            "@@ -1 +1,2 @@\n engine\n+count\n",
        ),
        mail(
            2,
            "engine: loop",
            "Then loops.",
            "@@ -1,2 +1,3 @@\n engine\n count\n+loop\n",
        ),
    ]
    .join("")
}

#[tokio::test]
async fn a_series_and_its_mbox() {
    let w = world().await;
    let added = w
        .fake
        .add_series_mbox(w.project, mbox().as_bytes())
        .unwrap();
    assert_eq!(added.patches.len(), 2);
    let client = client(&w.fake, None);
    let series = client.series(added.series).await.unwrap();
    assert_eq!(series.name.as_deref(), Some("engine: add loops"));
    assert_eq!(series.version, 2);
    assert!(series.received_all);
    assert_eq!(series.submitter.email, "ada@example.org");
    assert_eq!(series.submitter.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(series.date, ts("2026-11-02T09:00:00"), "mail dates are UTC");
    let cover = series.cover_letter.as_ref().unwrap();
    assert_eq!(cover.msgid, "<m0@example.org>");
    assert_eq!(series.patch_ids(), added.patches);
    let msgids: Vec<_> = series.patches.iter().map(|p| p.msgid.as_str()).collect();
    assert_eq!(msgids, ["<m1@example.org>", "<m2@example.org>"]);
    assert_eq!(
        series.project.as_ref().map(|p| p.link_name.as_str()),
        Some("test")
    );

    let mbox = client.series_mbox(added.series).await.unwrap();
    let text = String::from_utf8(mbox.clone()).unwrap();
    assert!(
        text.starts_with("From patchwork Mon Nov  2 09:00:01 2026\n"),
        "{text}"
    );
    assert_eq!(text.matches("\nFrom patchwork ").count(), 1);
    assert!(text.contains(&format!("X-Patchwork-Id: {}\n", added.patches[0])));
    assert!(
        !text.contains("Two patches."),
        "no cover letter in a series mbox"
    );
    // gauntlet reads it back as the same two patches.
    let mails = gauntlet_mbox::split(&mbox, gauntlet_mbox::Options::default());
    let parsed: Vec<_> = mails
        .iter()
        .map(|m| gauntlet_mail::parse(&m.bytes, &Default::default()))
        .collect();
    assert_eq!(
        parsed.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["[v2,1/2] engine: count", "[v2,2/2] engine: loop"]
    );
    assert!(parsed[1].diff().unwrap().contains("+loop"));

    let patch = client.patch(added.patches[1]).await.unwrap();
    assert_eq!(patch.msgid, "<m2@example.org>");
    assert_eq!(patch.state, "new");
    assert_eq!(patch.series_id(), Some(added.series));
    assert_eq!(patch.delegate, None);
    assert_eq!(patch.check, Some(CheckState::Pending));
    assert_eq!(patch.prefixes, ["v2", "2/2"]);
    assert!(patch.diff.unwrap().contains("+loop"));
    assert!(
        patch
            .checks
            .unwrap()
            .ends_with(&format!("/api/patches/{}/checks/", added.patches[1]))
    );
    let found = client
        .patch_by_msgid("test", "m1@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, added.patches[0]);
    assert!(
        client
            .patch_by_msgid("test", "<nope@example.org>")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        client.series(999).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        client.series_mbox(999).await,
        Err(Error::NotFound { .. })
    ));
}

fn check(state: CheckState, context: &str) -> NewCheck {
    NewCheck {
        state,
        context: context.to_owned(),
        target_url: Some("https://ci.example.com/runs/1".to_owned()),
        description: Some("builds on x86_64".to_owned()),
    }
}

#[tokio::test]
async fn a_maintainer_posts_a_check_exactly_once() {
    let w = world().await;
    let added = w
        .fake
        .add_series(w.project, &SeriesSpec::numbered("x", "x", 1));
    let patch = added.patches[0];
    let client = client(&w.fake, Some(&w.maintainer.token));
    let posted = client
        .post_check(patch, &check(CheckState::Success, "gauntlet-build"))
        .await
        .unwrap();
    assert_eq!(posted.state, CheckState::Success);
    assert_eq!(posted.context, "gauntlet-build");
    assert_eq!(posted.user.as_ref().unwrap().username, "ci-bot");
    assert_eq!(
        posted.target_url.as_deref(),
        Some("https://ci.example.com/runs/1")
    );
    let writes = w.fake.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].status, 201);
    assert_eq!(writes[0].user.as_deref(), Some("ci-bot"));
    assert_eq!(writes[0].content_type.as_deref(), Some("application/json"));
    let listed = client.checks(patch).await.unwrap();
    assert_eq!(listed, vec![posted.clone()]);
    assert_eq!(
        client.patch(patch).await.unwrap().check,
        Some(CheckState::Success)
    );
    // The check-created event names its poster.
    let batch = client
        .events(
            Some("test"),
            &[Category::CheckCreated],
            &Cursor::from_start(),
        )
        .await
        .unwrap();
    assert_eq!(batch.events.len(), 1);
    assert_eq!(
        batch.events[0].actor.as_ref().map(|u| u.username.as_str()),
        Some("ci-bot")
    );
    assert_eq!(
        batch.events[0].payload.check.as_ref().map(|c| c.id),
        Some(posted.id)
    );
}

#[tokio::test]
async fn check_refusals_are_told_apart() {
    let w = world().await;
    let added = w
        .fake
        .add_series(w.project, &SeriesSpec::numbered("x", "x", 1));
    let patch = added.patches[0];
    let ok = check(CheckState::Fail, "gauntlet-build");

    match client(&w.fake, None).post_check(patch, &ok).await {
        Err(Error::Unauthorized {
            status, message, ..
        }) => {
            assert_eq!(status, 403);
            assert!(
                message.contains("You do not have permission to perform this action.")
                    && message.contains("no token is configured"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    match client(&w.fake, Some("0123456789abcdef0123456789abcdef01234567"))
        .post_check(patch, &ok)
        .await
    {
        Err(Error::Unauthorized { message, .. }) => assert_eq!(message, "Invalid token."),
        other => panic!("{other:?}"),
    }
    match client(&w.fake, Some(&w.outsider.token))
        .post_check(patch, &ok)
        .await
    {
        Err(Error::Forbidden {
            message, action, ..
        }) => {
            assert_eq!(
                message,
                "You do not have permission to perform this action."
            );
            assert!(action.contains("check"), "{action}");
        }
        other => panic!("{other:?}"),
    }
    let maintainer = client(&w.fake, Some(&w.maintainer.token));
    match maintainer
        .post_check(patch, &check(CheckState::Fail, "ci/build"))
        .await
    {
        Err(Error::Invalid { fields, .. }) => {
            assert_eq!(
                fields["context"],
                vec![
                    "Enter a valid \"slug\" consisting of letters, numbers, underscores or hyphens."
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    let mut long = check(CheckState::Fail, "gauntlet-build");
    long.target_url = Some(format!("https://ci.example.com/{}", "x".repeat(200)));
    match maintainer.post_check(patch, &long).await {
        Err(Error::Invalid { fields, .. }) => assert_eq!(
            fields["target_url"],
            vec!["Ensure this field has no more than 200 characters."]
        ),
        other => panic!("{other:?}"),
    }
    match maintainer.post_check(999, &ok).await {
        Err(Error::NotFound { what }) => assert_eq!(what, "patch 999"),
        other => panic!("{other:?}"),
    }
    // Every refusal was one request: writes are never retried once sent. (The wrong token
    // was refused already by the version discovery, a read: its check was never sent.)
    let statuses: Vec<u16> = w.fake.writes().iter().map(|w| w.status).collect();
    assert_eq!(statuses, [403, 403, 400, 400, 404]);
    assert!(w.fake.checks(patch).is_empty());
    // The submitter's own account may post too (Patchwork's is_editable).
    let author = w.fake.add_user("author", "author@example.com");
    client(&w.fake, Some(&author.token))
        .post_check(patch, &ok)
        .await
        .unwrap();
}

#[tokio::test]
async fn patch_states_are_set_with_the_same_rules() {
    let w = world().await;
    let added = w
        .fake
        .add_series(w.project, &SeriesSpec::numbered("x", "x", 2));
    let patch = added.patches[0];
    let maintainer = client(&w.fake, Some(&w.maintainer.token));
    let updated = maintainer
        .set_patch_state(patch, "changes-requested")
        .await
        .unwrap();
    assert_eq!(updated.state, "changes-requested");
    assert_eq!(
        w.fake.patch_state(patch).as_deref(),
        Some("changes-requested")
    );
    let batch = maintainer
        .events(
            Some("test"),
            &[Category::PatchStateChanged],
            &Cursor::from_start(),
        )
        .await
        .unwrap();
    assert_eq!(batch.events.len(), 1);
    let e = &batch.events[0];
    assert_eq!(e.actor.as_ref().unwrap().username, "ci-bot");
    assert_eq!(e.payload.previous_state.as_deref(), Some("new"));
    assert_eq!(
        e.payload.current_state.as_deref(),
        Some("changes-requested")
    );
    assert_eq!(e.patch_id(), Some(patch));

    match maintainer.set_patch_state(patch, "bogus").await {
        Err(Error::Invalid { fields, .. }) => {
            assert!(
                fields["state"][0].starts_with("Invalid state bogus."),
                "{fields:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    match client(&w.fake, Some(&w.outsider.token))
        .set_patch_state(patch, "accepted")
        .await
    {
        Err(Error::Forbidden { .. }) => {}
        other => panic!("{other:?}"),
    }
    match client(&w.fake, None)
        .set_patch_state(patch, "accepted")
        .await
    {
        Err(Error::Unauthorized { message, .. }) => assert!(
            message.starts_with("Authentication credentials were not provided."),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        w.fake.patch_state(patch).as_deref(),
        Some("changes-requested")
    );
    // A human's change is an event with the human as actor.
    let human = w.fake.add_user("maintainer", "m@example.com");
    assert!(
        w.fake
            .change_state(added.patches[1], "accepted", Some(human.id))
    );
    let batch = maintainer
        .events(Some("test"), &[Category::PatchStateChanged], &batch.cursor)
        .await
        .unwrap();
    assert_eq!(
        batch.events[0].actor.as_ref().map(|u| u.username.as_str()),
        Some("maintainer")
    );
}

#[tokio::test]
async fn reads_are_retried_writes_are_not() {
    let w = world().await;
    let added = w
        .fake
        .add_series(w.project, &SeriesSpec::numbered("x", "x", 1));
    let client = client(&w.fake, Some(&w.maintainer.token));
    client.api_version().await.unwrap();
    w.fake.push_fault("/api/", Fault::Status(500));
    w.fake.push_fault("/api/", Fault::Status(502));
    let series = client.series(added.series).await.unwrap();
    assert_eq!(series.id, added.series);
    assert_eq!(requests_to(&w.fake, "/series/").len(), 3);

    w.fake.push_fault("/api/", Fault::Status(500));
    match client
        .post_check(added.patches[0], &check(CheckState::Pending, "gauntlet"))
        .await
    {
        Err(e @ Error::Http { status: 500, .. }) => assert!(e.is_transient()),
        other => panic!("{other:?}"),
    }
    assert_eq!(requests_to(&w.fake, "/checks/").len(), 1, "posted once");

    for _ in 0..4 {
        w.fake.push_fault("/api/", Fault::Status(503));
    }
    match client.patch(added.patches[0]).await {
        Err(e @ Error::Unreachable { .. }) => assert!(e.is_transient()),
        other => panic!("{other:?}"),
    }
    w.fake.push_fault("/api/", Fault::Garbage);
    match client.patch(added.patches[0]).await {
        Err(Error::Protocol { why, .. }) => assert!(why.contains("Gateway says hello"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn timeouts_and_nothing_listening_are_unreachable() {
    let w = world().await;
    let mut config = config(&w.fake, None);
    config.request_timeout = Duration::from_millis(300);
    config.retries = 0;
    config.api_version = Some("1.3".into());
    let client = Client::new(&config).unwrap();
    w.fake
        .push_fault("/api/", Fault::Delay(Duration::from_secs(2)));
    match client.projects().await {
        Err(Error::Unreachable { why, .. }) => assert!(why.contains("no answer within"), "{why}"),
        other => panic!("{other:?}"),
    }
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = ClientConfig::new(format!("http://127.0.0.1:{port}/api/1.3/"));
    config.retries = 1;
    config.backoff = Duration::from_millis(1);
    match Client::new(&config).unwrap().projects().await {
        Err(e @ Error::Unreachable { .. }) => {
            assert!(e.is_transient());
            assert!(e.to_string().contains("cannot connect"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_api_version_is_found_or_configured() {
    let w = world().await;
    let found = client(&w.fake, None);
    assert_eq!(found.api_version().await.unwrap(), "1.4");
    let pinned = Client::new(&ClientConfig::new(w.fake.api_url("1.2"))).unwrap();
    assert_eq!(pinned.api_version().await.unwrap(), "1.2");
    let projects = pinned.projects().await.unwrap();
    assert_eq!(projects.len(), 1);
    assert_eq!(projects[0].link_name, "test");
    assert_eq!(projects[0].maintainers[0].username, "ci-bot");
    assert_eq!(pinned.project("test").await.unwrap().id, w.project);
    let mut config = ClientConfig::new(w.fake.url());
    config.api_version = Some("1.5".into());
    assert!(matches!(
        Client::new(&config).unwrap().projects().await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_restarted_reporter_sees_its_checks() {
    let w = world().await;
    let added = w
        .fake
        .add_series(w.project, &SeriesSpec::numbered("x", "x", 1));
    let patch = added.patches[0];
    let mut config = config(&w.fake, Some(&w.maintainer.token));
    config.per_page = 2;
    let client = Client::new(&config).unwrap();
    for state in [
        CheckState::Pending,
        CheckState::Warning,
        CheckState::Success,
    ] {
        client
            .post_check(patch, &check(state, "gauntlet-test"))
            .await
            .unwrap();
    }
    let checks = client.checks(patch).await.unwrap();
    assert_eq!(
        checks.iter().map(|c| c.state).collect::<Vec<_>>(),
        [
            CheckState::Pending,
            CheckState::Warning,
            CheckState::Success
        ]
    );
    assert_eq!(w.fake.writes().len(), 3);
}

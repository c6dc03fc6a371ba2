//! Applying series on real repositories: the cascade, failures, already-applied patches.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fixture, git, mail, util_c};
use gauntlet_tree::{
    ApplyFailure, ApplyOptions, AttemptResult, BaseKind, Error, FailureKind, Outcome, Patch,
    choose_base_and_apply,
};

/// A series based on `stable` (c2): patch 1 changes f21, next to the f20 that master's c4
/// changed (so it conflicts on master), patch 2 changes the README.
fn stable_series(fx: &common::Fixture) -> Vec<Patch> {
    let util = util_c(&[(21, "int f21(void) { return 21 * 2; }")]);
    fx.series(
        &fx.c2,
        &[
            ("util: double f21", &[("src/util.c", util.as_str())]),
            (
                "README: say more",
                &[("README", "A demo project.\nIt demos.\n")],
            ),
        ],
    )
}

fn branches(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The cascade with the default options; infrastructure errors fail the test.
async fn cascade(
    lease: &mut gauntlet_tree::Lease,
    series: &[Patch],
    base_commit: Option<&str>,
    names: &[&str],
) -> gauntlet_tree::ApplyReport {
    choose_base_and_apply(
        lease,
        series,
        base_commit,
        &branches(names),
        &ApplyOptions::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_present_base_commit_wins() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    let series = stable_series(&fx);
    let report = cascade(
        &mut lease,
        &series,
        Some(&fx.c2[..12]),
        &["master", "stable"],
    )
    .await;
    let Outcome::Applied { base, why, applied } = &report.outcome else {
        panic!("not applied: {report}");
    };
    assert_eq!(base.kind, BaseKind::BaseCommit);
    assert_eq!(base.commit.as_deref(), Some(fx.c2.as_str()));
    assert!(why.contains("base-commit"), "{why}");
    assert_eq!(report.tried.len(), 1);
    assert_eq!(applied.base, fx.c2);
    assert_eq!(applied.patches.len(), 2);
    let commits: Vec<String> = applied
        .commits()
        .into_iter()
        .map(|c| c.unwrap().to_string())
        .collect();
    // The working copy holds the series, one commit per patch, on the base.
    assert_eq!(lease.head(), Some(commits[1].as_str()));
    assert_eq!(
        git(
            lease.path(),
            &["rev-list", "--reverse", &format!("{}..HEAD", fx.c2)]
        ),
        commits.join("\n")
    );
    assert_eq!(
        git(
            lease.path(),
            &["log", "-1", "--format=%cn <%ce> %an", &commits[0]]
        ),
        "gauntlet <gauntlet@localhost> Test Author"
    );
    assert_eq!(
        std::fs::read_to_string(lease.path().join("README")).unwrap(),
        "A demo project.\nIt demos.\n"
    );
    // The report serialises for the store.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["outcome"]["outcome"], "applied");
    assert_eq!(json["tried"][0]["result"]["result"], "applied");
}

#[tokio::test]
async fn the_same_series_on_the_same_base_gives_the_same_commits() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let series = stable_series(&fx);
    let mut lease = pool.lease().await.unwrap();
    let first = lease
        .apply(&fx.c2, &series, &ApplyOptions::default())
        .await
        .unwrap();
    drop(lease);
    let mut lease = pool.lease().await.unwrap();
    let second = lease
        .apply(&fx.c2, &series, &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(first.commits(), second.commits());
}

#[tokio::test]
async fn without_base_commit_the_second_branch_wins_and_the_first_failure_is_named() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    let series = stable_series(&fx);
    let report = cascade(&mut lease, &series, None, &["master", "stable"]).await;
    let Outcome::Applied { base, why, .. } = &report.outcome else {
        panic!("not applied: {report}");
    };
    assert_eq!(
        (base.kind, base.name.as_str()),
        (BaseKind::Branch, "stable")
    );
    assert!(why.contains("branch 2 of 2"), "{why}");
    assert!(why.contains("branch master"), "{why}");
    assert_eq!(report.tried.len(), 2);
    let AttemptResult::DoesNotApply { failure } = &report.tried[0].result else {
        panic!("master: {:?}", report.tried[0].result);
    };
    assert_eq!(failure.patch.number, 1);
    assert_eq!(failure.patch.of, 2);
    assert_eq!(failure.kind, FailureKind::Conflict);
    assert_eq!(failure.files.len(), 1);
    assert_eq!(failure.files[0].path, "src/util.c");
    // The hunk starts three lines of context above f21.
    assert_eq!(failure.files[0].hunks, vec![18]);
    assert!(failure.message.contains("CONFLICT"), "{}", failure.message);
    let shown = report.to_string();
    assert!(shown.contains("src/util.c (hunk at line 18)"), "{shown}");
}

#[tokio::test]
async fn an_unknown_base_commit_is_recorded_as_missing() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    let series = stable_series(&fx);
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    let report = cascade(&mut lease, &series, Some(unknown), &["master", "stable"]).await;
    assert!(
        matches!(report.outcome, Outcome::Applied { .. }),
        "{report}"
    );
    let kinds: Vec<&str> = report
        .tried
        .iter()
        .map(|a| match &a.result {
            AttemptResult::Missing { .. } => "missing",
            AttemptResult::DoesNotApply { .. } => "does not apply",
            AttemptResult::Applied => "applied",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["missing", "does not apply", "applied"]);
    assert_eq!(report.tried[0].base.kind, BaseKind::BaseCommit);
    assert!(
        report.tried[0]
            .result
            .to_string()
            .contains("after fetching")
    );
    assert_eq!(report.tried[2].base.name, "stable");
}

#[tokio::test]
async fn a_base_commit_the_mirror_lacks_is_fetched() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    // The source moves on after the mirror was made; the series is based on the new commit.
    let c5 = fx.add_commit("docs: more", &[("README", "A demo project.\nMore.\n")]);
    assert!(!pool.mirror().has_commit(&c5).await.unwrap());
    let series = fx.series(&c5, &[("docs: even more", &[("README", "Even more.\n")])]);
    let mut lease = pool.lease().await.unwrap();
    let report = cascade(&mut lease, &series, Some(&c5), &["stable"]).await;
    let Outcome::Applied { base, .. } = &report.outcome else {
        panic!("{report}");
    };
    assert_eq!(base.commit.as_deref(), Some(c5.as_str()));
    assert!(pool.mirror().has_commit(&c5).await.unwrap());
}

#[tokio::test]
async fn no_branches_means_the_default_branch_and_a_missing_branch_is_named() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    let series = fx.series(&fx.c4, &[("docs", &[("README", "x\n")])]);
    let report = cascade(&mut lease, &series, None, &[]).await;
    let Outcome::Applied { base, .. } = &report.outcome else {
        panic!("{report}");
    };
    assert_eq!(base.kind, BaseKind::Head);
    assert_eq!(base.commit.as_deref(), Some(fx.c4.as_str()));

    let report = cascade(&mut lease, &series, Some("not-hex"), &["nope", "master"]).await;
    assert!(matches!(report.outcome, Outcome::Applied { .. }));
    assert!(
        report.tried[0]
            .result
            .to_string()
            .contains("not a commit id")
    );
    assert!(
        report.tried[1]
            .result
            .to_string()
            .contains("no branch nope")
    );
}

#[tokio::test]
async fn a_series_that_applies_nowhere_lists_every_base() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    // Patch 2 changes a file that exists on no branch.
    let mut series = fx.series(
        &fx.c4,
        &[
            ("docs", &[("README", "x\n")]),
            ("new file", &[("src/new.c", "int n;\n")]),
            ("edit new", &[("src/new.c", "int n = 1;\n")]),
        ],
    );
    series.remove(1);
    series[1].number = 2;
    let report = cascade(&mut lease, &series, Some(&fx.c3), &["master", "stable"]).await;
    assert!(matches!(report.outcome, Outcome::DoesNotApply), "{report}");
    assert_eq!(report.tried.len(), 3);
    for attempt in &report.tried {
        let AttemptResult::DoesNotApply { failure } = &attempt.result else {
            panic!("{:?}", attempt.result);
        };
        assert_eq!(failure.patch.number, 2);
        assert_eq!(failure.files[0].path, "src/new.c");
        assert!(!failure.files[0].problems.is_empty(), "{failure:?}");
    }
    // The working copy is back on the last base tried, with no am in progress.
    assert_eq!(git(lease.path(), &["status", "--porcelain"]), "");
    assert_eq!(lease.head(), Some(fx.c2.as_str()));
}

#[tokio::test]
async fn a_hunk_that_matches_no_blob_names_its_line() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    // Made against a util.c the tree never had: no three-way merge can help.
    let diff = "diff --git a/src/util.c b/src/util.c\n\
                index 1111111..2222222 100644\n\
                --- a/src/util.c\n+++ b/src/util.c\n\
                @@ -30,3 +30,3 @@\n int f30(void) { return 30; }\n\
                -int f31(void) { return 3100; }\n+int f31(void) { return 31; }\n\
                \x20int f32(void) { return 32; }\n";
    let series = vec![Patch::new(1, "util: fix f31", mail("util: fix f31", diff))];
    let failure = match lease.apply(&fx.c4, &series, &ApplyOptions::default()).await {
        Err(ApplyFailure::NotApplicable(f)) => f,
        other => panic!("{other:?}"),
    };
    assert_eq!(failure.kind, FailureKind::DoesNotApply, "{failure:?}");
    assert_eq!(failure.files[0].path, "src/util.c", "{failure:?}");
    assert_eq!(failure.files[0].hunks, vec![30]);
    assert!(
        failure.files[0]
            .problems
            .iter()
            .any(|p| p.contains("blob this tree does not have")),
        "{failure:?}"
    );
    assert!(failure.to_string().contains("patch 1/1"), "{failure}");
}

#[tokio::test]
async fn a_patch_already_in_the_base_is_already_applied_and_named() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    // c3's own patch, mailed again, onto master which has it.
    let again = fx.series(
        &fx.c2,
        &[(
            "main: print the version",
            &[(
                "src/main.c",
                "#include \"util.h\"\nint main(void) { return f1() + 1; }\n",
            )],
        )],
    );
    let report = cascade(&mut lease, &again, None, &["master"]).await;
    let Outcome::AlreadyApplied { applied, .. } = &report.outcome else {
        panic!("{report}");
    };
    let already = applied.patches[0].already_applied.as_ref().unwrap();
    assert_eq!(already.commit.as_deref(), Some(fx.c3.as_str()));
    assert!(already.patch_id.is_some());
    assert_eq!(applied.patches[0].commit, None);
    assert_eq!(applied.head, fx.c4);

    // With a new patch after it: applied, the first patch marked as already there.
    let mixed = fx.series(
        &fx.c2,
        &[
            (
                "main: print the version",
                &[(
                    "src/main.c",
                    "#include \"util.h\"\nint main(void) { return f1() + 1; }\n",
                )],
            ),
            ("docs", &[("README", "Docs.\n")]),
        ],
    );
    let applied = lease
        .apply(&fx.c4, &mixed, &ApplyOptions::default())
        .await
        .unwrap();
    assert!(!applied.all_already_applied());
    assert_eq!(
        applied.patches[0]
            .already_applied
            .as_ref()
            .unwrap()
            .commit
            .as_deref(),
        Some(fx.c3.as_str())
    );
    assert!(applied.patches[1].commit.is_some());
}

#[tokio::test]
async fn a_patch_that_conflicts_with_its_own_later_change_is_already_applied_by_patch_id() {
    let fx = fixture();
    // master: c4 changed f20; now f20 changes again, so c4's patch no longer merges cleanly.
    let c5 = fx.add_commit(
        "util: f20 returns 2000",
        &[(
            "src/util.c",
            &util_c(&[(20, "int f20(void) { return 2000; }")]),
        )],
    );
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    let c4_again = fx.series(
        &fx.c3,
        &[
            (
                "util: f20 returns 200",
                &[(
                    "src/util.c",
                    &util_c(&[(20, "int f20(void) { return 200; }")]),
                )],
            ),
            ("docs", &[("README", "Docs.\n")]),
        ],
    );
    let applied = lease
        .apply(&c5, &c4_again, &ApplyOptions::default())
        .await
        .unwrap();
    let already = applied.patches[0].already_applied.as_ref().unwrap();
    assert_eq!(already.commit.as_deref(), Some(fx.c4.as_str()));
    assert!(
        already.reason.contains("does not apply"),
        "{}",
        already.reason
    );
    assert!(applied.patches[1].commit.is_some());
    // A depth of 1 does not reach c4: the patch then does not apply.
    let shallow = ApplyOptions {
        patch_id_depth: 1,
        ..ApplyOptions::default()
    };
    assert!(matches!(
        lease.apply(&c5, &c4_again, &shallow).await,
        Err(ApplyFailure::NotApplicable(_))
    ));
}

#[tokio::test]
async fn an_empty_patch_fails_as_empty() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    let series = vec![Patch::new(
        1,
        "nothing",
        &b"From: A <a@example.com>\nSubject: [PATCH] nothing\n\nJust words.\n"[..],
    )];
    match lease.apply(&fx.c4, &series, &ApplyOptions::default()).await {
        Err(ApplyFailure::NotApplicable(f)) => assert_eq!(f.kind, FailureKind::Empty),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn whitespace_errors_are_reported_per_patch_not_fixed() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    let series = fx.series(
        &fx.c4,
        &[
            ("clean", &[("README", "Clean.\n")]),
            (
                "dirty",
                &[("include/util.h", "int f1(void);  \nint clamp(int x);\n")],
            ),
        ],
    );
    let applied = lease
        .apply(&fx.c4, &series, &ApplyOptions::default())
        .await
        .unwrap();
    assert!(applied.patches[0].whitespace.is_empty());
    assert_eq!(
        applied.patches[1].whitespace,
        vec!["include/util.h:1: trailing whitespace".to_string()]
    );
    // Not fixed: the file has the spaces.
    let header = std::fs::read_to_string(lease.path().join("include/util.h")).unwrap();
    assert!(header.starts_with("int f1(void);  \n"));
}

#[tokio::test]
async fn a_mail_with_from_lines_and_crlf_is_cut_and_applied_as_one_patch() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    let diff = "diff --git a/README b/README\n--- a/README\n+++ b/README\n\
                @@ -1 +1 @@\n-A demo project.\n+A better demo project.\n";
    let text = format!(
        "From: A <a@example.com>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\
         Subject: [PATCH] readme\n\nFrom Mon Sep 17 00:00:00 2001 on, it is better.\n\
         From the docs.\n---\n{diff}"
    )
    .replace('\n', "\r\n");
    let series = vec![Patch::new(1, "readme", text.into_bytes())];
    let applied = lease
        .apply(&fx.c4, &series, &ApplyOptions::default())
        .await
        .unwrap();
    let message = git(lease.path(), &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("From Mon Sep 17 00:00:00 2001 on"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(lease.path().join("README")).unwrap(),
        "A better demo project.\n"
    );
    assert_eq!(applied.patches.len(), 1);
}

#[tokio::test]
async fn a_link_through_the_trees_own_links_out_of_the_tree_is_refused_after_applying() {
    let fx = fixture();
    // The tree has a link to an absolute directory (a tree may: it is trusted).
    std::os::unix::fs::symlink("/tmp", fx.source.join("scratch")).unwrap();
    git(&fx.source, &["add", "scratch"]);
    git(&fx.source, &["commit", "-q", "-m", "scratch link"]);
    let base = git(&fx.source, &["rev-parse", "HEAD"]);
    // The patch's link looks inside (`scratch/x`), but leads to /tmp/x.
    let diff = "diff --git a/link b/link\nnew file mode 120000\nindex 0000000..1111111\n\
                --- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+scratch/x\n\\ No newline at end of file\n";
    let series = vec![Patch::new(1, "add a link", mail("add a link", diff))];
    gauntlet_tree::inspect(&series, &Default::default()).unwrap();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    let report = cascade(&mut lease, &series, Some(&base), &[]).await;
    let Outcome::Refused { refusal } = &report.outcome else {
        panic!("{report}");
    };
    assert_eq!(refusal.problems[0].path.as_deref(), Some("link"));
    assert_eq!(refusal.problems[0].patch.number, 1);
    // Nothing of it is left in the working copy.
    assert!(std::fs::symlink_metadata(lease.path().join("link")).is_err());
}

#[tokio::test]
async fn infrastructure_failures_are_errors_not_failures() {
    let fx = fixture();
    let pool = fx.pool(1).await;
    let mut lease = pool.lease().await.unwrap();
    let series = stable_series(&fx);
    // The object store disappears under the working copy.
    let objects = pool.mirror().path().join("objects");
    let moved = pool.mirror().path().join("objects.away");
    std::fs::rename(&objects, &moved).unwrap();
    let result = lease.apply(&fx.c2, &series, &ApplyOptions::default()).await;
    assert!(matches!(result, Err(ApplyFailure::Infra(_))), "{result:?}");
    let cascade = choose_base_and_apply(
        &mut lease,
        &series,
        None,
        &branches(&["master", "stable"]),
        &ApplyOptions::default(),
    )
    .await;
    assert!(cascade.is_err(), "{cascade:?}");
    std::fs::rename(&moved, &objects).unwrap();
    // The same lease works again once the machine is fixed.
    lease
        .apply(&fx.c2, &series, &ApplyOptions::default())
        .await
        .unwrap();

    // A git that does not exist.
    let settings = gauntlet_tree::GitSettings {
        program: "/nonexistent/git".into(),
        ..Default::default()
    };
    let missing = gauntlet_tree::Mirror::open_with(&fx.cache, &fx.tree(), settings).await;
    assert!(
        matches!(missing, Err(Error::GitMissing { .. })),
        "{missing:?}"
    );
}

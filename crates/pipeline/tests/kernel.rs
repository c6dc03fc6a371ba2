//! The pipeline on a real kernel: Debian's linux-source-6.1 as a git tree (made by
//! `.ci/linux-tree`, found through GAUNTLET_LINUX_TREE), an x86_64 tinyconfig build with a
//! fragment, a series that applies and builds, one that does not apply.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use gauntlet_pipeline::{Pipeline, Settings};
use gauntlet_project::Project;
use gauntlet_report::Verdict;
use gauntlet_sandbox::Sandbox;
use gauntlet_store::Store;
use gauntlet_store::testing::TestDb;
use gauntlet_verdict::Status;

/// The kernel tree, or `None` (the test says SKIPPED) when it is not there.
pub fn linux_tree() -> Option<PathBuf> {
    let tree = std::env::var_os("GAUNTLET_LINUX_TREE").map(PathBuf::from);
    match tree {
        Some(tree) if tree.join(".git").exists() => Some(tree),
        _ => {
            assert!(
                std::env::var_os("GAUNTLET_REQUIRE_LINUX_TREE").is_none(),
                "GAUNTLET_REQUIRE_LINUX_TREE is set but GAUNTLET_LINUX_TREE is not a git tree"
            );
            eprintln!("SKIPPED: GAUNTLET_LINUX_TREE is not set (run .ci/linux-tree)");
            None
        }
    }
}

fn git(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

const AUTHOR: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "Dmitrij Prokofjev"),
    ("GIT_AUTHOR_EMAIL", "dmitrij@student.example.org"),
    ("GIT_COMMITTER_NAME", "Dmitrij Prokofjev"),
    ("GIT_COMMITTER_EMAIL", "dmitrij@student.example.org"),
];

/// Commits `edits` (file, old text, new text) on top of `parent` in the bare scratch repository,
/// without checking anything out; returns the commit.
pub fn commit(repo: &Path, parent: &str, edits: &[(&str, &str, &str)], subject: &str) -> String {
    let index = repo.join("gauntlet-test-index");
    let _ = std::fs::remove_file(&index);
    let index_env = index.display().to_string();
    let env: Vec<(&str, &str)> = AUTHOR
        .iter()
        .copied()
        .chain([("GIT_INDEX_FILE", index_env.as_str())])
        .collect();
    git(repo, &["read-tree", parent], &env, None);
    for (file, old, new) in edits {
        let text = git(repo, &["show", &format!("{parent}:{file}")], &env, None) + "\n";
        assert!(text.contains(old), "{file} has no {old:?}");
        let changed = text.replacen(old, new, 1);
        let blob = git(
            repo,
            &["hash-object", "-w", "--stdin"],
            &env,
            Some(changed.as_bytes()),
        );
        git(
            repo,
            &[
                "update-index",
                "--cacheinfo",
                &format!("100644,{blob},{file}"),
            ],
            &env,
            None,
        );
    }
    let tree = git(repo, &["write-tree"], &env, None);
    let message = format!(
        "{subject}\n\nA change for the pipeline's kernel test.\n\nSigned-off-by: Dmitrij Prokofjev <dmitrij@student.example.org>\n"
    );
    git(
        repo,
        &["commit-tree", &tree, "-p", parent, "-m", &message],
        &env,
        None,
    )
}

/// A bare, shared clone of the tree to make commits in.
pub fn scratch_repo(tree: &Path, dir: &Path) -> PathBuf {
    let repo = dir.join("scratch.git");
    let out = Command::new("git")
        .args(["clone", "-q", "--bare", "--shared"])
        .arg(tree)
        .arg(&repo)
        .status()
        .unwrap();
    assert!(out.success());
    repo
}

/// `git format-patch` of `base..head` as one mbox.
pub fn mbox(repo: &Path, base: &str, head: &str, extra: &[&str], path: &Path) -> PathBuf {
    let mut args = vec!["format-patch", "--stdout", "--thread=shallow"];
    args.extend_from_slice(extra);
    let range = format!("{base}..{head}");
    args.push(&range);
    let text = git(repo, &args, &AUTHOR, None)
        .replace("*** SUBJECT HERE ***", "init: clearer boot messages")
        .replace(
            "*** BLURB HERE ***",
            "Two messages of init/main.c say more.",
        );
    std::fs::write(path, text + "\n").unwrap();
    path.to_path_buf()
}

/// The fragment that makes a tinyconfig kernel boot to a console (lava-qemu.md §6.4).
pub const TINY_BOOT: &str = "CONFIG_64BIT=y\nCONFIG_PRINTK=y\nCONFIG_EARLY_PRINTK=y\nCONFIG_TTY=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_BLK_DEV_INITRD=y\nCONFIG_RD_GZIP=y\nCONFIG_BINFMT_ELF=y\nCONFIG_BINFMT_SCRIPT=y\nCONFIG_PROC_FS=y\nCONFIG_SYSFS=y\nCONFIG_DEVTMPFS=y\nCONFIG_DEVTMPFS_MOUNT=y\n";

/// Where builds are cached between test runs (CI keeps it for the later kernel tests).
fn cache_dir(fallback: &Path) -> PathBuf {
    std::env::var_os("GAUNTLET_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| fallback.join("cache"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kernel_series_applies_and_builds_and_another_does_not_apply() {
    let Some(tree) = linux_tree() else { return };
    let dir = tempfile::tempdir().unwrap();
    let repo = scratch_repo(&tree, dir.path());
    let master = git(&repo, &["rev-parse", "master"], &[], None);
    let first = commit(
        &repo,
        &master,
        &[(
            "init/main.c",
            "pr_info(\"Run %s as init process\\n\"",
            "pr_info(\"Running %s as init process\\n\"",
        )],
        "init: say what runs as init in the progressive",
    );
    let second = commit(
        &repo,
        &first,
        &[(
            "init/main.c",
            "pr_notice(\"Kernel command line: %s\\n\"",
            "pr_notice(\"Kernel command line (%zu bytes): %s\\n\", strlen(saved_command_line)",
        )],
        "init: print the length of the command line",
    );
    let good = mbox(
        &repo,
        &master,
        &second,
        &["--cover-letter", "--base=master"],
        &dir.path().join("good.mbox"),
    );
    // A change made on a base the tree does not have: it does not apply on master.
    let elsewhere = commit(
        &repo,
        &master,
        &[(
            "init/main.c",
            "Run %s as init process",
            "Starting %s as init",
        )],
        "init: reword",
    );
    let conflicting = commit(
        &repo,
        &elsewhere,
        &[(
            "init/main.c",
            "Starting %s as init",
            "Now starting %s as init",
        )],
        "init: reword again",
    );
    let base_arg = format!("--base={elsewhere}");
    let bad = mbox(
        &repo,
        &elsewhere,
        &conflicting,
        &[base_arg.as_str()],
        &dir.path().join("bad.mbox"),
    );

    let project_dir = dir.path().join("project");
    std::fs::create_dir_all(&project_dir).unwrap();
    std::fs::write(project_dir.join("tiny-boot.config"), TINY_BOOT).unwrap();
    std::fs::write(
        project_dir.join("linux.yaml"),
        format!(
            "name: Linux tiny\ntree:\n  path: {}\n  branches: [master]\nrecipe:\n  base_config: tinyconfig\nbuilds:\n  - arch: x86_64\n    config: [tiny-boot.config]\nlimits:\n  build_time: 30m\n",
            tree.display()
        ),
    )
    .unwrap();
    let project = Project::load(&project_dir.join("linux.yaml")).unwrap();

    let db = TestDb::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    let mut settings = Settings::under(&dir.path().join("data"));
    settings.cache_dir = cache_dir(dir.path());
    let pipeline = Pipeline::new(store.clone(), settings, Sandbox::detect());

    let series = common::series_of(&store, &good).await;
    let first_run = pipeline.run(&project, series).await.unwrap();
    let jobs: Vec<(&str, Status, &str)> = first_run
        .jobs
        .iter()
        .map(|j| (j.stage.as_str(), j.status, j.reason.as_str()))
        .collect();
    assert_eq!(first_run.verdict, Verdict::Accepted, "{jobs:#?}");
    assert!(jobs[1].2.starts_with("applied on base-commit"), "{jobs:?}");
    let build = store.run_detail(first_run.run).await.unwrap().unwrap().jobs[2].clone();
    let details: serde_json::Value =
        serde_json::from_str(build.details.as_deref().unwrap()).unwrap();
    assert!(
        details["artifact"]
            .as_str()
            .unwrap()
            .ends_with("arch/x86/boot/bzImage")
    );

    // The same series again: the kept build directory rebuilds nothing but what changed, and the
    // configuration is not made again.
    let again = pipeline.run(&project, series).await.unwrap();
    assert_eq!(again.verdict, Verdict::Accepted);
    let build = store.run_detail(again.run).await.unwrap().unwrap().jobs[2].clone();
    let details: serde_json::Value =
        serde_json::from_str(build.details.as_deref().unwrap()).unwrap();
    assert_eq!(details["config_reused"], true, "{details}");

    // The one that does not apply: the patch, the file and the bases tried are named.
    let series = common::series_of(&store, &bad).await;
    let rejected = pipeline.run(&project, series).await.unwrap();
    assert_eq!(rejected.verdict, Verdict::Rejected);
    let apply = &rejected.jobs[1];
    assert_eq!(apply.status, Status::Fail);
    assert!(apply.reason.contains("init/main.c"), "{}", apply.reason);
    assert!(apply.reason.contains("branch master"), "{}", apply.reason);
    assert_eq!(rejected.jobs[2].status, Status::Miss);
    assert!(
        rejected.report.contains("apply: the series:"),
        "{}",
        rejected.report
    );
}

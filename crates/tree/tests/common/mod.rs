//! Real git repositories in temporary directories: a small C project with history.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use gauntlet_project::TreeSource;
use gauntlet_tree::{Mirror, Patch, Pool};

/// Runs git in `dir` with a clean configuration; panics when it fails; returns stdout trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir, args).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Test Author",
            "-c",
            "user.email=author@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=master",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z");
    cmd
}

/// `n` numbered lines of C, with some replaced (1-based line numbers).
pub fn lines(n: usize, replaced: &[(usize, &str)]) -> String {
    let mut out = String::new();
    for i in 1..=n {
        match replaced.iter().find(|(at, _)| *at == i) {
            Some((_, text)) => out.push_str(text),
            None => out.push_str(&format!("int f{i}(void) {{ return {i}; }}")),
        }
        out.push('\n');
    }
    out
}

/// `src/util.c` as of c2 (`clamp` on line 40), with more lines replaced.
pub fn util_c(replaced: &[(usize, &str)]) -> String {
    let mut all = vec![(40, "int clamp(int x) { return x < 0 ? 0 : x; }")];
    all.extend_from_slice(replaced);
    lines(40, &all)
}

pub fn write(dir: &Path, path: &str, content: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, content).unwrap();
}

pub fn commit(dir: &Path, message: &str, files: &[(&str, &str)]) -> String {
    for (path, content) in files {
        write(dir, path, content);
        git(dir, &["add", "--", path]);
    }
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

/// The source project:
///
/// ```text
/// c1 init ── c2 util: clamp ── c3 main: version ── c4 util: f20 changes   (master)
///                 └ stable
/// ```
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub source: PathBuf,
    pub cache: PathBuf,
    pub c1: String,
    pub c2: String,
    pub c3: String,
    pub c4: String,
}

pub fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");
    std::fs::create_dir_all(&source).unwrap();
    git(&source, &["init", "-q"]);
    let c1 = commit(
        &source,
        "init",
        &[
            ("Makefile", "all:\n\tcc -o demo src/*.c\n"),
            ("README", "A demo project.\n"),
            (
                "src/main.c",
                "#include \"util.h\"\nint main(void) { return f1(); }\n",
            ),
            ("src/util.c", &lines(40, &[])),
            ("include/util.h", "int f1(void);\n"),
        ],
    );
    let c2 = commit(
        &source,
        "util: add clamp",
        &[
            (
                "src/util.c",
                &lines(40, &[(40, "int clamp(int x) { return x < 0 ? 0 : x; }")]),
            ),
            ("include/util.h", "int f1(void);\nint clamp(int x);\n"),
        ],
    );
    git(&source, &["branch", "stable"]);
    let c3 = commit(
        &source,
        "main: print the version",
        &[(
            "src/main.c",
            "#include \"util.h\"\nint main(void) { return f1() + 1; }\n",
        )],
    );
    let c4 = commit(
        &source,
        "util: f20 returns 200",
        &[(
            "src/util.c",
            &util_c(&[(20, "int f20(void) { return 200; }")]),
        )],
    );
    let cache = tmp.path().join("cache");
    Fixture {
        tmp,
        source,
        cache,
        c1,
        c2,
        c3,
        c4,
    }
}

impl Fixture {
    pub fn tree(&self) -> TreeSource {
        TreeSource::Path(self.source.clone())
    }

    pub async fn mirror(&self) -> Mirror {
        Mirror::open(&self.cache, &self.tree()).await.unwrap()
    }

    pub async fn pool(&self, size: usize) -> Pool {
        Pool::new(self.mirror().await, size).unwrap()
    }

    /// A series made on top of `base` in a scratch clone: one commit per step, each step
    /// writing whole files; returned as the mails `git format-patch` makes.
    pub fn series(&self, base: &str, steps: &[(&str, &[(&str, &str)])]) -> Vec<Patch> {
        let scratch = tempfile::tempdir_in(self.tmp.path()).unwrap();
        let work = scratch.path().join("w");
        git(
            self.tmp.path(),
            &[
                "clone",
                "-q",
                self.source.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        git(&work, &["checkout", "-q", "--detach", base]);
        for (subject, files) in steps {
            commit(&work, subject, files);
        }
        let range = format!("{base}..HEAD");
        let out_dir = scratch.path().join("out");
        git(
            &work,
            &[
                "format-patch",
                "-q",
                "--binary",
                "-o",
                out_dir.to_str().unwrap(),
                &range,
            ],
        );
        let mut files: Vec<PathBuf> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .zip(steps)
            .enumerate()
            .map(|(i, (file, (subject, _)))| {
                Patch::new(i as u32 + 1, *subject, std::fs::read(file).unwrap())
            })
            .collect()
    }

    /// Adds a commit to the source repository (on master).
    pub fn add_commit(&self, message: &str, files: &[(&str, &str)]) -> String {
        git(&self.source, &["checkout", "-q", "master"]);
        commit(&self.source, message, files)
    }
}

/// The (inode, mtime) of a file: both change when git rewrites it.
pub fn stamp(path: &Path) -> (u64, std::time::SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.ino(), meta.modified().unwrap())
}

/// A mail around a diff, as an author would send it.
pub fn mail(subject: &str, diff: &str) -> Vec<u8> {
    format!(
        "From: A U Thor <author@example.com>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\
         Subject: [PATCH] {subject}\n\n{subject}\n\nSigned-off-by: A U Thor <author@example.com>\n\
         ---\n{diff}-- \n2.47.0\n"
    )
    .into_bytes()
}

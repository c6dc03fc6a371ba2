//! The commented example configuration loads, and mistakes in a configuration are all reported
//! with where they are.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use gauntlet_service::{Config, SourceKind, Transport};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// `examples/` copied with an empty directory standing for the course's kernel tree.
fn examples() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    std::fs::copy(
        examples.join("gauntlet.yaml"),
        dir.path().join("gauntlet.yaml"),
    )
    .unwrap();
    copy_dir(
        &examples.join("syscall-course"),
        &dir.path().join("syscall-course"),
    );
    std::fs::create_dir_all(dir.path().join("syscall-course/linux")).unwrap();
    let file = dir.path().join("gauntlet.yaml");
    (dir, file)
}

fn env(name: &str) -> Option<String> {
    match name {
        "PATCHWORK_TOKEN" => Some("pw-token".into()),
        "SMTP_PASSWORD" => Some("smtp-password".into()),
        _ => None,
    }
}

#[test]
fn the_example_configuration_loads() {
    let (dir, file) = examples();
    let config = Config::load_with(&file, &env).unwrap();
    assert_eq!(
        config.database,
        format!("sqlite:{}", dir.path().join("data/gauntlet.db").display())
    );
    assert_eq!(config.cache_dir, dir.path().join("cache"));
    assert_eq!(config.workers, 2);
    assert_eq!(config.queue.lease, Duration::from_secs(60));
    assert_eq!(config.projects.len(), 1);
    assert_eq!(config.projects[0].name, "Course Syscall");
    let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["course-patchwork", "course-lore", "course-mta"]);
    match &config.sources[0].kind {
        SourceKind::Patchwork {
            project,
            token,
            lookback,
            ..
        } => {
            assert_eq!(project, "os-course");
            assert_eq!(token.as_deref(), Some("pw-token"));
            assert_eq!(*lookback, Duration::from_secs(65 * 60));
        }
        other => panic!("{other:?}"),
    }
    match &config.sources[1].kind {
        SourceKind::PublicInbox { mirror, .. } => {
            assert_eq!(mirror, &dir.path().join("cache/public-inbox/course-lore"));
        }
        other => panic!("{other:?}"),
    }
    let mail = config.mail.as_ref().unwrap();
    match &mail.transport {
        Transport::Smtp(smtp) => {
            assert_eq!(smtp.host, "smtp.example.org");
            assert_eq!(
                smtp.auth.as_ref().map(|a| a.password.as_str()),
                Some("smtp-password")
            );
        }
        other => panic!("{other:?}"),
    }
    let publish = config.publish.as_ref().unwrap();
    assert_eq!(publish.max_age, Some(Duration::from_secs(30 * 86_400)));
}

#[test]
fn an_unset_secret_is_named_with_its_line() {
    let (_dir, file) = examples();
    let err = Config::load_with(&file, &|_| None).unwrap_err().to_string();
    assert!(err.contains("${PATCHWORK_TOKEN} is not set"), "{err}");
    assert!(err.contains("gauntlet.yaml:"), "{err}");
}

#[test]
fn every_mistake_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "database: mysql://x\ndata_dir: d\nlisten: nowhere\nqueue: {max_attempts: 0}\n\
         sources:\n  - name: a\n    maildir: m\n    patchwork: {url: ftp://x, project: p}\n  \
         - name: a b\n    maildir: m\nprojects: [missing.yaml]\nmail: {from: nobody}\n",
    )
    .unwrap();
    let err = Config::load_with(&file, &|_| None).unwrap_err().to_string();
    for words in [
        "neither `sqlite:PATH` nor `postgres://",
        "listen: \"nowhere\" is not an address",
        "max_attempts: must be at least 1",
        "exactly one of `patchwork`, `public_inbox`, `maildir` (found 2)",
        "name must be letters",
        "missing.yaml",
        "mail.from: \"nobody\" is not an address",
        "mail: exactly one of `smtp` and `outbox`",
    ] {
        assert!(err.contains(words), "{words:?} not in:\n{err}");
    }
}

#[test]
fn unknown_keys_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.yaml");
    std::fs::write(
        &file,
        "database: sqlite:x.db\ndata_dir: d\nprojects: []\nworkerz: 3\n",
    )
    .unwrap();
    let err = Config::load_with(&file, &|_| None).unwrap_err().to_string();
    assert!(err.contains("workerz"), "{err}");
}

//! What a command sees and may change under bubblewrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use common::{Scratch, confined, marker, run_within, unconfined};
use gauntlet_sandbox::ConfinementKind;

const BOUND: Duration = Duration::from_secs(30);

/// A shell snippet that tries to create `path` and prints `LABEL:written` or `LABEL:denied`.
fn try_write(label: &str, path: &str) -> String {
    format!(
        "if ( echo x > '{path}' ) 2>/dev/null; then echo {label}:written; else echo {label}:denied; fi; "
    )
}

#[tokio::test]
async fn writes_outside_the_writable_binds_fail_and_the_working_copy_is_shared() {
    let Some(sandbox) = confined() else { return };
    let s = Scratch::new();
    let host_tmp = format!("/tmp/gauntlet-sandbox-test-{}", marker());
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
    let home_file = format!("{home}/gauntlet-sandbox-test-{}", marker());
    let repo = env!("CARGO_MANIFEST_DIR");
    let repo_file = format!("{repo}/gauntlet-sandbox-test");
    let script = [
        try_write("tmp", &host_tmp),
        try_write("home", &home_file),
        try_write("repo", &repo_file),
        try_write("root", "/gauntlet-sandbox-test"),
        try_write("usr", "/usr/gauntlet-sandbox-test"),
        try_write("etc", "/etc/passwd"),
        try_write("dev", "/dev/gauntlet-sandbox-test/x"),
        try_write("work", "out.txt"),
        format!("cat '{repo}/Cargo.toml' > /dev/null && echo repo:readable"),
    ]
    .concat();
    let out = run_within(BOUND, s.sh(&sandbox, &script).read_only(repo)).await;
    let log = s.log_text();
    assert!(out.success(), "{out:?}\n{log}");
    assert_eq!(out.confinement, ConfinementKind::Bubblewrap);
    // The private /tmp takes the write; the host's /tmp does not see it.
    assert!(log.contains("tmp:written"), "{log}");
    assert!(
        !Path::new(&host_tmp).exists(),
        "the host's /tmp was written"
    );
    for denied in ["home", "repo", "root", "usr", "etc", "dev"] {
        assert!(log.contains(&format!("{denied}:denied")), "{denied}: {log}");
    }
    assert!(!Path::new(&home_file).exists());
    assert!(!Path::new(&repo_file).exists());
    assert!(log.contains("repo:readable"), "{log}");
    assert!(log.contains("work:written"), "{log}");
    assert_eq!(fs::read_to_string(s.work.join("out.txt")).unwrap(), "x\n");
}

#[tokio::test]
async fn the_network_is_unreachable() {
    let Some(sandbox) = confined() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "echo interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '); \
         if bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null; then echo tcp:connected; \
         else echo tcp:refused; fi"
    );

    let s = Scratch::new();
    let out = run_within(BOUND, s.sh(&sandbox, &script)).await;
    let log = s.log_text();
    assert!(out.success(), "{out:?}\n{log}");
    assert!(log.contains("interfaces: lo\n"), "{log}");
    assert!(log.contains("tcp:refused"), "{log}");

    // The same probe does reach the listener from outside a sandbox: the test can tell.
    let s = Scratch::new();
    let out = run_within(BOUND, s.sh(&unconfined(false), &script)).await;
    assert!(out.success());
    assert!(s.log_text().contains("tcp:connected"), "{}", s.log_text());
}

#[tokio::test]
async fn no_host_secrets_processes_or_privileges_are_visible() {
    let Some(sandbox) = confined() else { return };
    let s = Scratch::new();
    let script = "\
        test -e /etc/shadow && echo shadow:visible; \
        test -e /etc/ssh && echo ssh:visible; \
        test -e /root && echo root:visible; \
        test -e /home && echo home:visible; \
        test -e /var && echo var:visible; \
        test -e /sys/class && echo sys:visible; \
        echo processes: $(ls /proc | grep -c '^[0-9]'); \
        echo hostname: $(cat /proc/sys/kernel/hostname); \
        grep '^CapEff' /proc/self/status; \
        echo env:; env | sort";
    let out = run_within(
        BOUND,
        s.sh(&sandbox, script)
            .env("ARCH", "x86_64")
            .env("LANG", "C"),
    )
    .await;
    let log = s.log_text();
    assert!(out.success(), "{out:?}\n{log}");
    assert!(!log.contains(":visible"), "{log}");
    // bubblewrap's pid 1, the shell, `ls`, `grep` and the command substitution's subshell.
    let processes: u32 = log
        .lines()
        .find_map(|l| l.strip_prefix("processes: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(processes <= 6, "{log}");
    assert!(log.contains("hostname: gauntlet\n"), "{log}");
    assert!(log.contains("CapEff:\t0000000000000000"), "{log}");
    let env: Vec<&str> = log
        .split_once("env:\n")
        .unwrap()
        .1
        .lines()
        .map(|l| l.split_once('=').unwrap().0)
        .collect();
    assert_eq!(
        env,
        ["ARCH", "HOME", "LANG", "PATH", "PWD", "TMPDIR"],
        "{log}"
    );
    assert!(
        log.contains("LANG=C\n") && log.contains("HOME=/tmp\n"),
        "{log}"
    );
}

#[tokio::test]
async fn a_compiler_works_inside() {
    let Some(sandbox) = confined() else { return };
    if !Path::new("/usr/bin/cc").exists() {
        eprintln!("SKIPPED: no C compiler (/usr/bin/cc) on this machine");
        return;
    }
    let s = Scratch::new();
    fs::write(
        s.work.join("hello.c"),
        "#include <stdio.h>\nint main(void) { puts(\"hello from the sandbox\"); return 0; }\n",
    )
    .unwrap();
    let build = s.dir.path().join("build");
    fs::create_dir(&build).unwrap();
    let script = format!(
        "cc -O2 -o '{0}/hello' hello.c && '{0}/hello'",
        build.display()
    );
    let out = run_within(
        Duration::from_secs(60),
        s.sh(&sandbox, &script).writable(&build),
    )
    .await;
    assert!(out.success(), "{out:?}\n{}", s.log_text());
    assert_eq!(s.log_text(), "hello from the sandbox\n");
    assert!(build.join("hello").exists());
}
